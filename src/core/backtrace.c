/*
 * src/core/backtrace.c — the call stack of a suspended coroutine.
 *
 * A suspended coroutine is a saved frame on its own stack (asm/<cpu>.S
 * draws it).  Rather than teach an unwinder that frame, the asm file gives
 * coil__ctx_unwind_from: it calls a function on the caller's stack inside
 * a frame whose CFI names the saved frame as its caller.  The unwinder
 * that every gcc-built program already has (libgcc's _Unwind_Backtrace,
 * reading .eh_frame) then walks from the walker through that frame into
 * the coroutine's stack, down to the entry routine whose return address
 * is marked undefined.  Why not the other ways:
 *   - frame pointers: release builds (-O2) omit them, in coil and in the
 *     program; a dump must work there;
 *   - libunwind: a run-time dependency for what libgcc already does, and
 *     not installed for the cross targets the tests run under qemu.
 * Nothing is written to the suspended stack.
 */
#include <stdint.h>
#include <string.h>
#include <unwind.h>

#include "core/backtrace.h"
#include "core/coro.h"

void coil__ctx_unwind_from(const coil_ctx *ctx, void *resumed_sp,
                           void (*fn)(void *), void *arg);

typedef struct walk {
    void **pcs;
    int max, n;
    int skip;                 /* frames still to skip */
    uintptr_t from;           /* skip up to and including this address */
} walk;

static _Unwind_Reason_Code on_frame(struct _Unwind_Context *ctx, void *arg)
{
    walk *w = arg;
    uintptr_t ip = _Unwind_GetIP(ctx);
    if (w->from) {
        if (ip == w->from)
            w->from = 0;          /* the bridge: its caller is next */
        return _URC_NO_REASON;
    }
    if (w->skip > 0) {
        w->skip--;
        return _URC_NO_REASON;
    }
    if (ip == 0 || w->n == w->max)
        return _URC_END_OF_STACK;
    w->pcs[w->n++] = (void *)ip;
    return _URC_NO_REASON;
}

/* Runs inside coil__ctx_unwind_from: its own return address is the bridge
 * frame, everything after that is the coroutine. */
static __attribute__((noinline, unused)) void walk_here(void *arg)
{
    walk *w = arg;
    w->from = (uintptr_t)__builtin_return_address(0);
    _Unwind_Backtrace(on_frame, w);
}

/* The stack pointer at co's resume address. */
static __attribute__((unused)) void *resumed_sp(const coil_coro *co)
{
    char *sp = co->ctx.sp;
#if defined(__x86_64__)
    /* ctx.h's inline switch resumes at "leaq 128(%rsp), %rsp": it stepped
     * below the red zone, and the function's own rsp is 128 bytes up. */
    static const unsigned char red_zone_back[] = {0x48, 0x8d, 0xa4, 0x24,
                                                  0x80, 0x00, 0x00, 0x00};
    const void *resume = *(void *const *)(sp + 56);
    if (memcmp(resume, red_zone_back, sizeof red_zone_back) == 0)
        return sp + 64 + 128;
    return sp + 64;
#else
    (void)sp;
    return NULL;              /* unused: no switch is inlined, sp is the CFA */
#endif
}

int coil__coro_backtrace(const coil_coro *co, void **pcs, int max)
{
    if (!co || co->state != COIL_CORO_SUSPENDED || max <= 0)
        return 0;
#if COIL_CTX_FCONTEXT
    /* The saved frame is Boost's, and the bridge is the native asm's
     * (asm/fcontext.c has none): no walk. */
    (void)pcs;
    return 0;
#else
    walk w = {pcs, max, 0, 0, 0};
    coil__ctx_unwind_from(&co->ctx, resumed_sp(co), walk_here, &w);
    return w.n;
#endif
}

int coil__here_backtrace(void **pcs, int max, int skip)
{
    walk w = {pcs, max, 0, skip + 1, 0};      /* + this function */
    if (max > 0)
        _Unwind_Backtrace(on_frame, &w);
    return w.n;
}
