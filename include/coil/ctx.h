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
 *
 *    Everything else (caller-saved registers, flags, the x87 stack and status
 *    word, FPSR) is clobbered, exactly as by any call.
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
 * 2. The no-FP-control variant.  coil_ctx_switch_nofp() neither records nor
 *    restores the FP control state (MXCSR and x87 control word on x86_64,
 *    FPCR on aarch64): with it the control state belongs to the thread and
 *    flows across switches.  Reading and writing those registers is most of
 *    what separates a switch from a bare register save.  A context it
 *    suspends is marked as having no FP state of its own, so the two
 *    variants mix safely: coil_ctx_switch() resuming such a context leaves
 *    the FP control state as it finds it.  The full switch also writes a
 *    control register only when the resumed context's value differs.  Use
 *    the variant for code that never changes rounding modes or masks.
 *
 * 3. A fresh context.  coil_ctx_make() lays out, at the top of the stack you
 *    give it, a frame that looks exactly like one saved by coil_ctx_switch():
 *    the callee-saved slots hold zero except those that carry the entry
 *    function, its data and the link context; the FP control slots hold the
 *    psABI defaults (MXCSR 0x1F80, x87 CW 0x037F; FPCR 0 = round to nearest,
 *    no flush-to-zero); the resume address is coil's start routine.  The
 *    frame uses COIL_CTX_FRAME_SIZE bytes below the 16-byte-aligned top of
 *    the stack; nothing else of the stack is touched, so untouched pages of a
 *    lazily committed stack stay uncommitted.
 *
 * 4. Entry.  The first switch into a fresh context calls
 *        entry(data, arg)
 *    where data was given to coil_ctx_make() and arg to coil_ctx_switch().
 *    The entry function starts with the stack aligned as the ABI demands at a
 *    call (x86_64: rsp + 8 is a multiple of 16; aarch64: sp is a multiple of
 *    16) and with a zero frame pointer (rbp / x29) above it.  The start
 *    routine's unwind info marks the return address undefined, so gdb,
 *    backtrace() and the C++ unwinder stop there, and frame-pointer walkers
 *    stop at the zero frame pointer.
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
 *    the switch we came from.
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
 *
 * 8. Stacks.  Any memory you own, at least COIL_CTX_MIN_STACK bytes.  The
 *    stack grows down from stack + size.  Overflow detection is not this
 *    layer's business (coil's stack allocator adds guard pages).
 *
 *    Nor does this layer tell tools about stack switches: a direct user of
 *    ctx.h registers its stacks with valgrind (VALGRIND_STACK_REGISTER) and
 *    brackets switches for ASan (__sanitizer_start/finish_switch_fiber)
 *    itself, as coil's coroutines do in src/coro.c.
 *
 * 9. Threads.  A context may be resumed on any thread, but code that caches
 *    thread-local addresses (errno, every compiler does) will then use the
 *    wrong thread's.  coil's higher layers never migrate contexts.
 * ======================================================================
 */
#ifndef COIL_CTX_H
#define COIL_CTX_H

#include <stddef.h>

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

/* Bytes of the initial frame coil_ctx_make() writes below the aligned top. */
#if defined(__x86_64__)
#define COIL_CTX_FRAME_SIZE 80
#elif defined(__aarch64__)
#define COIL_CTX_FRAME_SIZE 192
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
 * for speed — this is the one unchecked call in coil. */
void *coil_ctx_switch(coil_ctx *from, const coil_ctx *to, void *arg);

/* As coil_ctx_switch(), but leaves the FP control state as it is (contract
 * point 2): the fast path for code that never changes rounding modes. */
void *coil_ctx_switch_nofp(coil_ctx *from, const coil_ctx *to, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* COIL_CTX_H */
