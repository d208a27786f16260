/*
 * coil/ctx.h — layer 0: the context switch, usable on its own.
 *
 * A context is a suspended flow of control: a stack pointer whose stack holds
 * everything needed to continue.  This header and one assembly file per CPU
 * (asm/<arch>_<abi>.S) are the whole layer; nothing here allocates, talks to
 * sanitizers or knows about coroutines.  Include it alone, link libcoil, and
 * build any runtime you like on top (coil's own coroutines live in coil.h).
 *
 * ======================================================================
 * THE CONTRACT
 * ======================================================================
 *
 * 1. What survives a switch.  coil_ctx_switch() behaves like an ordinary
 *    function call to the code that suspended: when a context is resumed,
 *    every register the psABI calls callee-saved holds the value it had when
 *    that context called coil_ctx_switch().
 *
 *      x86_64 System V:  rbx, rbp, r12, r13, r14, r15, rsp;
 *                        MXCSR (control bits: rounding, FTZ/DAZ, exception
 *                        masks; the status flags travel along with them);
 *                        x87 control word (precision, rounding, masks).
 *                        No xmm register is callee-saved on this ABI.
 *      aarch64 AAPCS64:  x19-x28, x29 (fp), sp, and the low 64 bits of
 *                        v8-v15 (d8-d15) — all the ABI requires;
 *                        FPCR: see the policy below.
 *      riscv64 LP64D:    s0 (fp), s1-s11, sp, and all 64 bits of
 *                        fs0-fs11 (FLEN is 64 under the D ABI);
 *                        frm: see the policy below.
 *      ppc64le ELFv2:    r14-r31, r1 (sp), r2 (the TOC pointer: each
 *                        context gets its own back, so contexts suspended
 *                        in different modules mix), CR2-CR4, f14-f31,
 *                        all 128 bits of v20-v31;
 *                        FPSCR control: see the policy below.
 *
 *    Everything else (caller-saved registers, flags, the x87 stack and status
 *    word, FPSR, riscv64's fflags, the FPSCR's status bits and VSCR; ra on
 *    riscv64 and LR on ppc64le, which their ABIs do not preserve; gp and tp,
 *    r13 and VRSAVE (reserved for the system under ELFv2), which no switch
 *    touches) is clobbered, or left alone, exactly as by any call.
 *
 *    FPCR policy (aarch64).  AAPCS64 makes FPCR's rounding mode, FZ and DN
 *    bits "global": a routine may change them only if that is its purpose
 *    (fesetround), so they behave like per-thread state.  coil keeps them per
 *    context instead, to match x86_64 where the psABI makes MXCSR control
 *    callee-saved: coil_ctx_switch() saves FPCR and restores the resumed
 *    context's value, so fesetround() inside one coroutine never leaks into
 *    another.  coil_ctx_switch_nofp() leaves FPCR alone: with it, the control
 *    state is the thread's and flows across switches.  tests/ctx_test.c
 *    checks both halves of this policy.
 *
 *    frm policy (riscv64): the same as FPCR's.  The psABI gives fcsr
 *    thread storage duration (C11's floating-point environment), so it is
 *    not callee-saved; coil_ctx_switch() keeps frm, the rounding mode, per
 *    context all the same, and coil_ctx_switch_nofp() leaves it to the
 *    thread.  fflags, the accrued exception flags, are status: clobbered.
 *
 *    FPSCR policy (ppc64le): the same again.  ELFv2 calls the FPSCR's
 *    control fields "limited-access" (changed only by routines whose
 *    purpose that is), not nonvolatile; coil_ctx_switch() keeps its
 *    control byte per context — RN (rounding), NI, and the VE/OE/UE/ZE/XE
 *    enables, FPSCR bits 56-63 — and coil_ctx_switch_nofp() leaves it to
 *    the thread.  The status bits (FX, FEX, the sticky exception bits,
 *    FPRF, FR, FI) are clobbered; DRN, the decimal rounding mode, and the
 *    trap mode feenableexcept() sets in the MSR (prctl PR_SET_FPEXC) are
 *    the thread's.
 *
 * 2. The no-FP-control variant.  coil_ctx_switch_nofp() neither records nor
 *    restores the FP control state (MXCSR and x87 control word on x86_64, FPCR
 *    on aarch64, frm on riscv64, the FPSCR's control byte on ppc64le): with
 *    it the control state belongs to the
 *    thread and flows across switches.  Reading and writing those registers is
 *    most of what separates a switch from a bare register save.  A context it
 *    suspends is marked as having no FP state of its own, so the two variants
 *    mix safely: coil_ctx_switch() resuming such a context leaves the FP
 *    control state as it finds it.  Use the variant for code that never
 *    changes rounding modes or masks.
 *
 *    How the full switch restores the control state is a speed question
 *    only (both ways keep this contract): it writes the x87 control word,
 *    FPCR, frm and the FPSCR only when the resumed context's value differs;
 *    for MXCSR
 *    the cheaper way depends on the CPU, so coil picks one when it is loaded
 *    (write every time on AMD and Hygon, compare first elsewhere) and
 *    coil_ctx_fp_policy() below reads or overrides the choice.
 *
 * 3. A fresh context.  coil_ctx_make() lays out, at the top of the stack you
 *    give it, a frame that looks exactly like one saved by coil_ctx_switch():
 *    the callee-saved slots hold zero except those that carry the entry
 *    function, its data and the link context; the FP control slots hold the
 *    psABI defaults (MXCSR 0x1F80, x87 CW 0x037F; FPCR 0 = round to nearest,
 *    no flush-to-zero; frm 0 = round to nearest, ties to even; FPSCR
 *    control 0 = round to nearest, no enables, NI off); the resume
 *    address is coil's start routine.  The frame uses COIL_CTX_FRAME_SIZE
 *    bytes below the 16-byte-aligned top of the stack; nothing else of the
 *    stack is touched, so untouched pages of a lazily committed stack stay
 *    uncommitted.
 *
 * 4. Entry.  The first switch into a fresh context calls
 *        entry(data, arg)
 *    where data was given to coil_ctx_make() and arg to coil_ctx_switch().
 *    The entry function starts with the stack aligned as the ABI demands at a
 *    call (x86_64: rsp + 8 is a multiple of 16; aarch64, riscv64 and
 *    ppc64le: sp is a multiple of 16) and with a zero frame pointer (rbp /
 *    x29 / s0 / r31) above it.  On ppc64le the start routine's frame is the
 *    ABI's 32-byte minimum (back chain 0, so back-chain walkers stop too;
 *    CR, LR and TOC save words for entry and the linker's stubs), and r2
 *    is coil's TOC.
 *    The start routine's unwind info marks the return address undefined, so
 *    gdb, backtrace() and the C++ unwinder stop there, and frame-pointer
 *    walkers stop at the zero frame pointer.
 *
 * 5. Return from entry.  If entry returns a value v, the context switches to
 *    `link` (given to coil_ctx_make()) as if by coil_ctx_switch(dead, link, v):
 *    the switch into link returns v.  The returned-from context is finished:
 *    resuming it again is undefined.  If link is NULL, the process writes
 *    "coil: context entry function returned with no link context" to stderr
 *    and aborts: there is nowhere to go.
 *
 * 6. How control moves.  A switch stores the stack pointer in *from, loads
 *    to->sp, restores registers, and continues the resumed context with an
 *    indirect jump — never `ret`: after a stack swap a `ret` always
 *    mispredicts, because the return-stack buffer still holds the caller of
 *    the switch we came from.  (On riscv64 "indirect jump" is a matter of
 *    register choice: `jr` through ra or t0 is a return hint, so the switch
 *    jumps through t2; on ppc64le the switch jumps by bctr, which the count
 *    cache predicts, where blr would use the link stack.)  coil's own
 *    scheduler hands the CPU between tasks
 *    with hidden variants that do resume by `ret` (coil__ctx_handoff*,
 *    src/core/coro.h), where the return stack predicts it: the .S files explain.
 *
 *    On x86_64 with GCC or Clang, coil_ctx_switch(from, to, arg) and
 *    coil_ctx_switch_nofp(from, to, arg) are macros that expand to the
 *    switch itself, inline at the call site: each call site then has its
 *    own resuming jump, which the branch predictor learns separately (one
 *    jump shared by every switch has as many targets as there are
 *    suspended call sites, and costs a predictor bubble even when it is
 *    right), and no call is made.  The inline switch builds exactly the
 *    frame the out-of-line function builds, so the two mix freely; it first
 *    steps below the 128-byte red zone, which a leaf caller may be using,
 *    and tells the compiler that every caller-saved register (GPRs, vector,
 *    x87/MMX, AVX-512 mask) may change.  Taking a function's address,
 *    writing (coil_ctx_switch)(...), or defining COIL_CTX_NO_INLINE before
 *    including this header gives the out-of-line functions (the inline
 *    switch is written in AT&T syntax: code built with -masm=intel needs
 *    COIL_CTX_NO_INLINE).
 *
 * 7. Control-flow integrity.  x86_64: every entry point and the start routine
 *    begin with endbr64, and the object claims IBT in .note.gnu.property.
 *    The jump that resumes a suspended context lands on a compiler-made
 *    return address, which has no endbr64, so it carries the NOTRACK prefix
 *    (the same mechanism compilers use for switch jump tables).  Shadow
 *    stacks (SHSTK) are NOT claimed: a switch does not swap shadow stacks, so
 *    linking coil keeps glibc from enabling them — claiming SHSTK without
 *    switching them would crash on the first `ret` after a switch.
 *    aarch64: every entry point has a `bti c` landing pad and the start
 *    routine `bti jc`.  An indirect branch (BR) may not land on a C return
 *    address on BTI-guarded pages, so when coil is built with
 *    -mbranch-protection (the compiler defines __ARM_FEATURE_BTI_DEFAULT)
 *    the switch resumes with `ret` and the object claims BTI in its GNU
 *    property note; otherwise it resumes with `br` (the fast path) and makes
 *    no BTI claim, like every object built without branch protection.
 *    riscv64: no landing pads and no property note: the Zicfilp extension
 *    is beyond rv64gc and Debian 12's toolchain.  ppc64le: none either:
 *    Power has no indirect-branch landing pads to mark.
 *
 * 8. Stacks.  Any memory you own, at least COIL_CTX_MIN_STACK bytes.  The
 *    stack grows down from stack + size.  Overflow detection is not this
 *    layer's business (coil's stack allocator adds guard pages).
 *
 *    Nor does this layer tell tools about stack switches: a direct user of
 *    ctx.h registers its stacks with valgrind (VALGRIND_STACK_REGISTER) and
 *    brackets switches for ASan (__sanitizer_start/finish_switch_fiber)
 *    itself, as coil's coroutines do in src/core/coro.c.
 *
 * 9. Threads.  A context may be resumed on any thread, but code that caches
 *    thread-local addresses (errno, every compiler does) will then use the
 *    wrong thread's.  coil's higher layers never migrate contexts.
 *
 * 10. Backends.  Everything above is the native backend: coil's own
 *    assembly, one file per CPU (x86_64, aarch64, riscv64, ppc64le).  On any
 *    other
 *    CPU, or when built with -DCOIL_CTX_BACKEND=fcontext, the same API runs
 *    over Boost.Context's make_fcontext()/jump_fcontext() (asm/fcontext.c,
 *    linked with the system's libboost_context).  coil_ctx_backend() below
 *    names the backend at run time, COIL_CTX_FCONTEXT (coil/ctx_config.h,
 *    included here) at compile time; the CMake package sets
 *    COIL_CTX_BACKEND and coil.pc has ctx_backend=.  fcontext keeps points
 *    1, 4 (alignment, data and arg), 5, 8 and 9 on every CPU, and differs
 *    here:
 *
 *    FP control state.  coil_ctx_switch() keeps it per context, as in
 *    point 1: on x86_64 Boost's switch saves and restores MXCSR and the x87
 *    control word itself; elsewhere coil brackets the jump with
 *    fegetmode()/fesetmode().  coil_ctx_switch_nofp() is NOT point 2's
 *    variant on x86_64: Boost restores the resumed context's FP control
 *    state on every jump, so it, too, keeps it per context and costs what
 *    the full switch costs.  Elsewhere it leaves the FP control state to
 *    whatever Boost's assembly for the CPU does (unchecked: not promised).
 *    A fresh context starts with the FP control state in force when
 *    coil_ctx_make() ran (x86_64: Boost's make_fcontext() records it) or
 *    when it was first switched to (elsewhere), not the psABI defaults.
 *    coil_ctx_fp_policy() knows RELOAD only (Boost writes on every jump).
 *
 *    Frame.  coil_ctx_make() writes Boost's frame plus a 32-byte start
 *    record below the aligned top: COIL_CTX_FRAME_SIZE is an upper bound
 *    for it, not its exact size.
 *
 *    Entry (point 4).  entry is called by coil's start routine, which
 *    Boost's calls: the frame pointer above entry is not zero, so
 *    frame-pointer walkers go on into Boost's start code.  On x86_64,
 *    aarch64, riscv64, ppc64le and s390x coil's start routine marks its
 *    return address undefined, so DWARF unwinders stop there as with the
 *    native backend; on other CPUs they go on too.
 *
 *    Registers (point 1) on ppc64le.  Boost 1.74's switch there saves
 *    r14-r31, CR and LR but not the callee-saved f14-f31 and v20-v31;
 *    over fcontext coil's switch makes the compiler save them around the
 *    jump, out of line (no inline macro on that CPU), so point 1 holds
 *    there too.  The native port, ppc64le's default, saves them in its own
 *    frame.
 *
 *    How control moves (points 6, 7).  Boost's switch resumes by an
 *    indirect jump to the return address of the jump_fcontext() call, so
 *    with GCC or Clang coil_ctx_switch_nofp() (and on x86_64 also
 *    coil_ctx_switch()) is a macro that calls jump_fcontext() inline at
 *    the call site: a program using ctx.h then links libboost_context
 *    itself (coil's CMake package and coil.pc say so).  COIL_CTX_NO_INLINE
 *    and (coil_ctx_switch)(...) give the out-of-line functions, which cost
 *    a mispredicted return per switch; so does AddressSanitizer, whose
 *    fake stack must not hold what a switch hands the other side.  Debian 12's libboost_context
 *    carries no endbr64, BTI pads or property note, so linking it turns
 *    IBT/BTI off for the whole program.
 *
 *    tests/ctx_test.c checks each backend against what it promises here.
 * ======================================================================
 */
#ifndef COIL_CTX_H
#define COIL_CTX_H

#include <stddef.h>

#include <coil/ctx_config.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A suspended context: the saved stack pointer.  Treat as opaque. */
typedef struct coil_ctx {
    void *sp;
} coil_ctx;

/* The function a fresh context starts in; see contract points 4 and 5. */
typedef void *(*coil_ctx_entry)(void *data, void *arg);

/* Smallest stack coil_ctx_make() accepts, in bytes.  It only has to hold the
 * initial frame; your entry function will need far more. */
#define COIL_CTX_MIN_STACK 1024

/* Bytes of the initial frame coil_ctx_make() writes below the aligned top
 * (fcontext: an upper bound, point 10). */
#if COIL_CTX_FCONTEXT
#define COIL_CTX_FRAME_SIZE 512
#elif defined(__x86_64__)
#define COIL_CTX_FRAME_SIZE 80
#elif defined(__aarch64__)
#define COIL_CTX_FRAME_SIZE 192
#elif defined(__riscv) && __riscv_xlen == 64
#define COIL_CTX_FRAME_SIZE 224
#elif defined(__powerpc64__) && _CALL_ELF == 2 \
    && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define COIL_CTX_FRAME_SIZE 576
#else
#error "coil/ctx.h: no native port for this CPU: build coil with -DCOIL_CTX_BACKEND=fcontext"
#endif

/* Prepare *ctx to start running entry(data, arg) on the stack [stack,
 * stack + size) the first time it is switched to; when entry returns, switch
 * to link (NULL: abort).  Writes only the top COIL_CTX_FRAME_SIZE bytes.
 * Does not suspend.  Returns 0, or -1 with errno EINVAL when ctx, stack or
 * entry is NULL, size < COIL_CTX_MIN_STACK, or stack + size wraps around. */
int coil_ctx_make(coil_ctx *ctx, void *stack, size_t size,
                  coil_ctx_entry entry, void *data, coil_ctx *link);

/* Suspend the running flow into *from and resume *to, handing it arg: in the
 * resumed context, its own coil_ctx_switch() call returns arg (or, for a
 * fresh context, entry receives it).  Returns when something switches back
 * to *from, with the value that switch passed.  Restores the FP control
 * state of *to.  from and to must be valid and distinct; nothing is checked,
 * for speed — this is the one unchecked call in coil: it cannot fail and
 * sets no errno.  Suspends the calling flow, by definition. */
void *coil_ctx_switch(coil_ctx *from, const coil_ctx *to, void *arg);

/* As coil_ctx_switch(), but leaves the FP control state as it is (contract
 * point 2): the fast path for code that never changes rounding modes.
 * On x86_64 both switches are expanded inline (contract point 6).  Returns
 * as coil_ctx_switch() does; unchecked, it cannot fail.  Suspends the
 * calling flow. */
void *coil_ctx_switch_nofp(coil_ctx *from, const coil_ctx *to, void *arg);

/* How coil_ctx_switch() restores MXCSR on x86_64 (contract point 2). */
#define COIL_CTX_FP_QUERY   (-1)
#define COIL_CTX_FP_COMPARE 0   /* write only when the control bits differ */
#define COIL_CTX_FP_RELOAD  1   /* write on every switch */

/* Set the policy above for the whole process (COIL_CTX_FP_QUERY only reads
 * it) and return the policy in force before the call.  Both policies keep
 * the contract; they differ in speed only, so it is safe to change while
 * other threads switch.  coil chooses one for the CPU before main() runs.
 * aarch64 and riscv64 always compare (reading FPCR or frm is a register
 * move): QUERY and COMPARE return COMPARE, RELOAD fails with ENOTSUP.
 * The fcontext backend always reloads: QUERY and RELOAD return RELOAD,
 * COMPARE fails with ENOTSUP.
 * Returns -1 with errno EINVAL for any other value.  Does not suspend. */
int coil_ctx_fp_policy(int policy);

/* Which backend the library runs (contract point 10): "native" or
 * "fcontext", a static string.  Cannot fail, sets no errno, does not
 * suspend. */
const char *coil_ctx_backend(void);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(COIL_CTX_NO_INLINE) \
    && !COIL_CTX_FCONTEXT
/* The registers any call may change, which the resumed side may have
 * changed: the switch tells the compiler so, and saves the callee-saved
 * ones in the frame itself (the frame layout is asm/x86_64_sysv.S's). */
#ifdef __AVX512F__
#define COIL__CTX_CLOBBER_AVX512                                            \
    , "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",       \
    "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29",         \
    "xmm30", "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"
#else
#define COIL__CTX_CLOBBER_AVX512
#endif

#define COIL__CTX_CLOBBERS "r10", COIL__CTX_CLOBBERS_BUT_R10
#define COIL__CTX_CLOBBERS_BUT_R10                                          \
    "rcx", "r8", "r9", "r11", "memory", "cc",                               \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",         \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",   \
    "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",    \
    "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7"                  \
    COIL__CTX_CLOBBER_AVX512

/* Both inline switches build the frame of asm/x86_64_sysv.S: FP control
 * slot, r15, r14, r13, r12, rbx, rbp, resume address (label 1 below), all
 * 128 bytes below the caller's rsp (the red zone). */
#define COIL__CTX_SAVE COIL__CTX_BELOW_RED_ZONE COIL__CTX_PUSH
#define COIL__CTX_BELOW_RED_ZONE                                            \
    "leaq   -128(%%rsp), %%rsp\n\t"
#define COIL__CTX_PUSH                                                      \
    "leaq   1f(%%rip), %%rax\n\t"                                           \
    "pushq  %%rax\n\t"                                                      \
    "pushq  %%rbp\n\t"                                                      \
    "pushq  %%rbx\n\t"                                                      \
    "pushq  %%r12\n\t"                                                      \
    "pushq  %%r13\n\t"                                                      \
    "pushq  %%r14\n\t"                                                      \
    "pushq  %%r15\n\t"
#define COIL__CTX_RESUME                                                    \
    "addq   $8, %%rsp\n\t"                                                  \
    "popq   %%r15\n\t"                                                      \
    "popq   %%r14\n\t"                                                      \
    "popq   %%r13\n\t"                                                      \
    "popq   %%r12\n\t"                                                      \
    "popq   %%rbx\n\t"                                                      \
    "popq   %%rbp\n\t"                                                      \
    "movq   %%rdx, %%rax\n\t"                                               \
    "popq   %%rcx\n\t"                                                      \
    "notrack jmpq *%%rcx\n"
#define COIL__CTX_RESUMED_HERE                                              \
    "1:\n\t"                                                                \
    "leaq   128(%%rsp), %%rsp"

/* The MXCSR policy byte coil_ctx_fp_policy() sets; not API. */
extern unsigned char coil__ctx_fp_policy;

static inline __attribute__((always_inline)) void *
coil__ctx_switch_inline(coil_ctx *from, const coil_ctx *to, void *arg)
{
    void *result;
    /* The policy in r10, a register the switch changes anyway: as a memory
     * operand its address took a callee-saved register, which the caller
     * then had to save on every switch. */
    register unsigned policy __asm__("r10") = coil__ctx_fp_policy;
    /* MXCSR and the x87 control word are stored first, into the FP slot
     * the pushes end at (its place in the frame is unchanged), and the
     * word is read back only after the switch: stmxcsr and fnstcw are
     * microcoded, and a load of what they stored waits for them (AMD Zen:
     * storing them after the pushes and reading the word back at once
     * made a yield through the scheduler ~4% slower, measured). */
    __asm__ volatile(
        COIL__CTX_BELOW_RED_ZONE
        "stmxcsr -64(%%rsp)\n\t"
        "fnstcw -60(%%rsp)\n\t"
        COIL__CTX_PUSH
        "subq   $8, %%rsp\n\t"
        "movq   %%rsp, %%r8\n\t"         /* our frame, for the compares */
        "movq   %%rsp, (%%rdi)\n\t"
        "movq   (%%rsi), %%rsp\n\t"
        "testl  %%r10d, %%r10d\n\t"
        "jz     3f\n"
        "6:\n\t"
        "cmpl   $-1, (%%rsp)\n\t"        /* suspended by a nofp switch */
        "je     5f\n\t"
        "ldmxcsr (%%rsp)\n"
        "2:\n\t"
        "movzwl 4(%%r8), %%r9d\n\t"      /* the x87 control word we left */
        "cmpw   4(%%rsp), %%r9w\n\t"
        "jne    4f\n"
        "5:\n\t"
        COIL__CTX_RESUME
        "3:\n\t"                         /* COIL_CTX_FP_COMPARE */
        "movl   (%%r8), %%r10d\n\t"
        "xorl   (%%rsp), %%r10d\n\t"
        "testl  $0xffc0, %%r10d\n\t"     /* control bits, not status flags */
        "jz     2b\n\t"
        "jmp    6b\n"
        "4:\n\t"
        "cmpl   $-1, (%%rsp)\n\t"
        "je     5b\n\t"
        "fldcw  4(%%rsp)\n\t"
        "jmp    5b\n"
        COIL__CTX_RESUMED_HERE
        : "=&a"(result), "+D"(from), "+S"(to), "+d"(arg), "+r"(policy)
        :
        : COIL__CTX_CLOBBERS_BUT_R10);
    return result;
}

static inline __attribute__((always_inline)) void *
coil__ctx_switch_nofp_inline(coil_ctx *from, const coil_ctx *to, void *arg)
{
    void *result;
    __asm__ volatile(
        COIL__CTX_SAVE
        "pushq  $-1\n\t"                 /* FP slot: no FP state */
        "movq   %%rsp, (%%rdi)\n\t"
        "movq   (%%rsi), %%rsp\n\t"
        COIL__CTX_RESUME
        COIL__CTX_RESUMED_HERE
        : "=&a"(result), "+D"(from), "+S"(to), "+d"(arg)
        :
        : COIL__CTX_CLOBBERS);
    return result;
}

#define COIL__CTX_INLINE 1       /* the two macros below are in effect */
#define coil_ctx_switch(from, to, arg)                                      \
    coil__ctx_switch_inline((from), (to), (arg))
#define coil_ctx_switch_nofp(from, to, arg)                                 \
    coil__ctx_switch_nofp_inline((from), (to), (arg))
#endif

#if COIL_CTX_FCONTEXT || defined(COIL__CTX_WANT_FCONTEXT)
/* The fcontext backend's switch, inline at the call site (point 10): Boost
 * resumes by a jump to the return address of the jump_fcontext() call, so
 * a call site that calls it directly returns along predicted addresses,
 * while an out-of-line wrapper would end every switch in a `ret` that the
 * return-stack buffer mispredicts (measured: 2.6x Boost's switch instead
 * of 1.0x).  jump_fcontext() hands the suspended context to the side it
 * resumes, so each side passes the other a hop and, once resumed, stores
 * what it was given where the hop says (asm/fcontext.c).  Boost's C ABI,
 * under a name of coil's so as not to clash with Boost's own headers. */
typedef struct coil__fctx_transfer {
    void *fctx;
    void *data;
} coil__fctx_transfer;
typedef struct coil__fctx_hop {
    coil_ctx *from;
    const coil_ctx *to;
    void *arg;
} coil__fctx_hop;
coil__fctx_transfer coil__fctx_jump(void *to, void *vp)
    __asm__("jump_fcontext");

static inline __attribute__((always_inline)) void *
coil__fctx_switch_inline(coil_ctx *from, const coil_ctx *to, void *arg)
{
    coil__fctx_hop hop = {from, to, arg};
    coil__fctx_transfer t = coil__fctx_jump(to->sp, &hop);
    coil__fctx_hop *back = (coil__fctx_hop *)t.data;
    back->from->sp = t.fctx;
    return back->arg;
}
#endif

/* Under AddressSanitizer the hop would live on ASan's fake stack, which
 * __sanitizer_start_switch_fiber(NULL, ...) (a context that ends) frees
 * before the jump: the out-of-line switch keeps it on the real stack. */
#if defined(__SANITIZE_ADDRESS__)
#define COIL__CTX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COIL__CTX_ASAN 1
#endif
#endif

/* Boost 1.74's jump_fcontext() for 64-bit PowerPC (ELFv2) saves r14-r31,
 * CR and LR, but not f14-f31 and v20-v31, which the ABI makes callee-saved
 * too (tests/ctx_test.c sees them change across a switch).  There, over
 * fcontext, coil's out-of-line switch makes the compiler save them around
 * the jump (asm/fcontext.c), and no inline switch is offered.  Only the
 * fcontext backend reads this: the native port (asm/ppc64le_elfv2.S)
 * saves them itself. */
#if defined(__powerpc64__)
#define COIL__FCTX_SAVES_ALL 0
#else
#define COIL__FCTX_SAVES_ALL 1
#endif

#if COIL_CTX_FCONTEXT && COIL__FCTX_SAVES_ALL && defined(__GNUC__) \
    && !defined(COIL_CTX_NO_INLINE) && !defined(COIL__CTX_ASAN)

#define COIL__CTX_INLINE 1
#define coil_ctx_switch_nofp(from, to, arg)                                 \
    coil__fctx_switch_inline((from), (to), (arg))
#if defined(__x86_64__)
/* Boost keeps the FP control state on x86_64: the full switch is the same
 * jump.  Elsewhere it stays out of line (fegetmode() around the jump). */
#define coil_ctx_switch(from, to, arg)                                      \
    coil__fctx_switch_inline((from), (to), (arg))
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif /* COIL_CTX_H */
