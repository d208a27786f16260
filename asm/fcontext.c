/*
 * asm/fcontext.c — the fcontext backend of layer 0: coil/ctx.h over
 * Boost.Context's make_fcontext() and jump_fcontext(), for a CPU without a
 * coil port, or anywhere with -DCOIL_CTX_BACKEND=fcontext.
 *
 * Boost's assembly does the register work; it is linked from the system's
 * libboost_context (Debian: libboost-context-dev), not copied.  Only its C
 * ABI is used, declared below, so no Boost header and no C++ is needed.
 * What this backend keeps of ctx.h's contract, and what it cannot, is said
 * there per backend ("The fcontext backend").
 *
 * The two APIs differ in who learns the suspended context.  coil's switch
 * stores it in *from before leaving; jump_fcontext() instead returns it to
 * the side it resumes.  So every switch hands the resumed side a `hop` (on
 * the switching side's stack, alive while that side is suspended), and the
 * resumed side, first thing, stores what it was given into hop->from.
 * That switch is inline in coil/ctx.h (point 10 says why); this file has
 * the out-of-line functions, the fresh context and the rest of the API.
 */
#define COIL_CTX_NO_INLINE 1       /* this file defines the functions */
#include <coil/ctx.h>

#include <errno.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Boost's C ABI: jump_fcontext() is declared in coil/ctx.h, whose inline
 * switch calls it too (coil__fctx_jump), with the hop both sides agree
 * on: where to store the suspended side, the resumed one (a fresh context
 * finds its start record from it), and the argument. */
typedef coil__fctx_transfer transfer_t;
typedef coil__fctx_hop hop;
void *make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

/* What coil_ctx_make() leaves at the aligned top of a fresh stack, right
 * above Boost's frame.  Boost's start routine hands the entry only the
 * transfer, so the record is found at a fixed distance from the fresh
 * context (see record_offset). */
typedef struct start_record {
    coil_ctx_entry entry;
    void *data;
    coil_ctx *link;
    void *unused;                    /* keeps the size a multiple of 16 */
} start_record;

/* make_fcontext(sp) puts its frame at a fixed distance below sp, the same
 * for every context (it is Boost's frame layout), so the record sits at
 * fresh context + record_offset.  Measured once, before main(). */
static size_t record_offset;

/* x86_64: Boost's switch saves and restores MXCSR and the x87 control word
 * itself, on every jump.  Elsewhere the full switch keeps the FP control
 * modes per context here, in C (ctx.h: the fcontext backend). */
#if defined(__x86_64__)
#define BOOST_KEEPS_FP_CONTROL 1
#else
#define BOOST_KEEPS_FP_CONTROL 0
#endif

/* The switch below is coil/ctx.h's inline one (the same hop), but never
 * instrumented by AddressSanitizer: its fake stack would hold the hop,
 * and __sanitizer_start_switch_fiber(NULL, ...) for a context that ends
 * frees that stack before the other side has read it. */
#if defined(__SANITIZE_ADDRESS__) || defined(COIL__CTX_ASAN)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

/* Right after a jump, on the resumed side: record where the side that
 * jumped is suspended, and take its argument. */
static inline NO_ASAN void *land(transfer_t t)
{
    hop *h = t.data;
    h->from->sp = t.fctx;
    return h->arg;
}

/* Callee-saved registers that Boost's switch for the CPU does not save
 * (ctx.h point 10): declared clobbered right after the jump, they make the
 * compiler save them in this function's prologue, on the stack of the
 * side that jumps, and restore them in its epilogue once that side is
 * resumed.  That holds only if nothing of the caller's is kept in them
 * across the jump inside this function, hence noinline: it holds no values
 * of its own there. */
#if defined(__powerpc64__)
#define UNSAVED_BY_BOOST                                                    \
    "fr14", "fr15", "fr16", "fr17", "fr18", "fr19", "fr20", "fr21",         \
    "fr22", "fr23", "fr24", "fr25", "fr26", "fr27", "fr28", "fr29",         \
    "fr30", "fr31", "v20", "v21", "v22", "v23", "v24", "v25", "v26",        \
    "v27", "v28", "v29", "v30", "v31"
#define JUMP_INLINE __attribute__((noinline))
#else
#define JUMP_INLINE inline
#endif

static JUMP_INLINE NO_ASAN void *jump(coil_ctx *from, const coil_ctx *to,
                                      void *arg)
{
    hop h = {from, to, arg};
    transfer_t t = coil__fctx_jump(to->sp, &h);
#ifdef UNSAVED_BY_BOOST
    __asm__ volatile("" ::: UNSAVED_BY_BOOST);
#endif
    return land(t);
}

NO_ASAN void *coil_ctx_switch_nofp(coil_ctx *from, const coil_ctx *to,
                                   void *arg)
{
    return jump(from, to, arg);
}

NO_ASAN void *coil_ctx_switch(coil_ctx *from, const coil_ctx *to, void *arg)
{
#if BOOST_KEEPS_FP_CONTROL
    return jump(from, to, arg);
#else
    /* Our modes, restored when we are resumed: whatever ran meanwhile
     * changed only its own (femode_t is the control modes, not the
     * exception flags, which any call may clobber). */
    femode_t mine;
    fegetmode(&mine);
    void *value = jump(from, to, arg);
    fesetmode(&mine);
    return value;
#endif
}

/* The scheduler's hand-offs (declared in src/core/coro.h, hidden like
 * there).  How Boost resumes is Boost's business, so there is no
 * ret-resuming variant to offer: these are the switches themselves. */
#pragma GCC visibility push(hidden)
void *coil__ctx_handoff(coil_ctx *from, const coil_ctx *to, void *arg);
void *coil__ctx_handoff_nofp(coil_ctx *from, const coil_ctx *to, void *arg);
#pragma GCC visibility pop

NO_ASAN void *coil__ctx_handoff(coil_ctx *from, const coil_ctx *to,
                               void *arg)
{
    return coil_ctx_switch(from, to, arg);
}

NO_ASAN void *coil__ctx_handoff_nofp(coil_ctx *from, const coil_ctx *to,
                                    void *arg)
{
    return jump(from, to, arg);
}

/* Boost's switch writes the FP control state on every jump (x86_64), and
 * fesetmode() does too: RELOAD is the only policy there is. */
int coil_ctx_fp_policy(int policy)
{
    if (policy == COIL_CTX_FP_QUERY || policy == COIL_CTX_FP_RELOAD)
        return COIL_CTX_FP_RELOAD;
    errno = policy == COIL_CTX_FP_COMPARE ? ENOTSUP : EINVAL;
    return -1;
}

const char *coil_ctx_backend(void)
{
    return "fcontext";
}

/* Where tools/gdb/coil-gdb.py learns that a suspended context's sp points
 * at Boost's saved frame, not coil's (the script has Boost's layout per
 * CPU): a symbol it can find in a live process and in a core alike.
 * Never read by coil. */
__attribute__((visibility("default"), used)) const unsigned char
    coil__gdb_fcontext = 1;

/* ----------------------------------------------------- a fresh context */

static __attribute__((noreturn)) void no_link(void)
{
    static const char msg[] =
        "coil: context entry function returned with no link context\n";
    /* A raw write: stdio may be in any state. */
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    abort();
}

/* This frame is the outermost of the context: mark its return address
 * undefined, so that gdb, backtrace() and the C++ unwinder stop here
 * instead of walking on into Boost's start code and the stack above it
 * (ctx.h point 4).  The directive applies from here to the function's end,
 * the call to entry included.  CPUs not named here: unwinders go on. */
#if defined(__x86_64__)
#define END_UNWINDING() __asm__ volatile(".cfi_undefined rip")
#elif defined(__aarch64__)
#define END_UNWINDING() __asm__ volatile(".cfi_undefined x30")
#elif defined(__riscv)
#define END_UNWINDING() __asm__ volatile(".cfi_undefined ra")
#elif defined(__powerpc64__)
#define END_UNWINDING() __asm__ volatile(".cfi_undefined lr")
#elif defined(__s390x__)
#define END_UNWINDING() __asm__ volatile(".cfi_undefined r14")
#else
#define END_UNWINDING() ((void)0)
#endif

/* Where every fresh context begins (Boost's start routine calls it with
 * the first jump's transfer): take the record before anything else can
 * change the context it is found from, land, run the entry, and go to
 * link with what it returns.  Named like the native start routine, for
 * whoever reads a backtrace. */
static __attribute__((noreturn)) void coil_ctx_start(transfer_t t)
{
    END_UNWINDING();
    const hop *h = t.data;
    const start_record *rec =
        (const start_record *)((char *)h->to->sp + record_offset);
    coil_ctx_entry entry = rec->entry;
    void *data = rec->data;
    coil_ctx *link = rec->link;
    void *value = entry(data, land(t));
    if (!link)
        no_link();
    coil_ctx dead;
    coil_ctx_switch(&dead, link, value);
    abort();                         /* a finished context is never resumed */
}

int coil_ctx_make(coil_ctx *ctx, void *stack, size_t size,
                  coil_ctx_entry entry, void *data, coil_ctx *link)
{
    uintptr_t lo = (uintptr_t)stack;
    if (!ctx || !stack || !entry || size < COIL_CTX_MIN_STACK ||
        lo + size < lo) {
        errno = EINVAL;
        return -1;
    }
    uintptr_t top = (lo + size) & ~(uintptr_t)15;
    start_record *rec = (start_record *)(top - sizeof *rec);
    rec->entry = entry;
    rec->data = data;
    rec->link = link;
    rec->unused = NULL;
    ctx->sp = make_fcontext(rec, (uintptr_t)rec - lo, coil_ctx_start);
    return 0;
}

/* Learn record_offset from one context made on a scratch stack. */
__attribute__((constructor)) static void measure_boost_frame(void)
{
    static _Alignas(16) char scratch[COIL_CTX_MIN_STACK];
    char *top = scratch + sizeof scratch;
    void *fresh = make_fcontext(top, sizeof scratch, coil_ctx_start);
    record_offset = (size_t)(top - (char *)fresh);
}
