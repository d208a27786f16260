/*
 * src/core/coro.c — coroutines (layer 2): a stack + a context + an entry.
 *
 * This is the only file that tells tools about stack switches
 * (ThreadSanitizer too: a fiber per coroutine, switched with it):
 *   AddressSanitizer  needs __sanitizer_start_switch_fiber() right before
 *                     and __sanitizer_finish_switch_fiber() right after
 *                     every switch, or it takes the new stack for a wild
 *                     one; and stacks must be unpoisoned before reuse, or a
 *                     dead coroutine's redzones trip the next one.
 *   Valgrind          must know each stack's bounds, or it reads a switch
 *                     as a gigantic stack-pointer move.
 *
 * Resumes nest like calls: each coroutine remembers who resumed it and
 * yields back there.  The scheduler may also hand the CPU straight from one
 * suspended-to-be coroutine to another (coil__coro_transfer): the one it
 * hands to inherits the resumer, so a chain of hand-offs costs one switch
 * each and still ends back where it began.  State is per thread; a
 * coroutine never migrates.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"
#include "core/name.h"
#include "core/coro.h"
#include "core/stack.h"

#ifdef COIL_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef COIL_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef COIL_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

__thread coil_coro *coil__coro_running;
__thread uint64_t coil__budget_left;
#define current coil__coro_running
static __thread char thread_token;       /* its address names the thread */
#ifdef COIL_ASAN
/* Set by a transfer for the side it lands in: that side's resumer is the
 * one it inherited, not the stack it came from. */
static __thread uint8_t arrived_by_transfer;
#endif
static atomic_ulong next_id;

/* ------------------------------------------------------ tool annotations */

#ifdef COIL_HAVE_VALGRIND
/* Valgrind is there from the process's first instruction or not at all:
 * ask once, so that spawns outside it skip the client requests (a dozen
 * instructions each, on the spawn path). */
static int on_valgrind;

__attribute__((constructor)) static void detect_valgrind(void)
{
    on_valgrind = RUNNING_ON_VALGRIND != 0;
}
#endif

static void stack_acquired(coil_coro *co)
{
#ifdef COIL_HAVE_VALGRIND
    if (on_valgrind)
        co->valgrind_id = VALGRIND_STACK_REGISTER(
            co->stack.lo, co->stack.lo + co->stack.size);
#else
    (void)co;
#endif
}

/* Let go of the stack as this coroutine's: frames that never returned
 * (its entry, or everything of one destroyed while suspended) left ASan
 * redzones in the shadow; clear them so the stack's next owner starts
 * clean. */
static void unbind_stack(coil_coro *co)
{
#ifdef COIL_ASAN
    __asan_unpoison_memory_region(co->stack.lo, co->stack.size);
#endif
#ifdef COIL_HAVE_VALGRIND
    if (on_valgrind)
        VALGRIND_STACK_DEREGISTER(co->valgrind_id);
#else
    (void)co;
#endif
}

/* Hand the stack back. */
static void release_stack(coil_coro *co)
{
    if (!co->stack.lo)
        return;
    unbind_stack(co);
    coil__stack_free(&co->stack);
}

/* ThreadSanitizer keeps a happens-before clock per fiber: it must be told
 * which one runs, right before each switch, or it sees one thread's
 * accesses from many stacks as races.
 *
 * It also keeps a shadow call stack per fiber, pushed and popped at each
 * function's entry and exit.  So the helpers of a switch, from here to
 * switch_between, are always inline: one left out of line (sanitizer
 * builds inline less) would return after the fiber switch, popping the
 * other fiber's shadow stack, and only a matching imbalance on the other
 * side kept that from growing without end. */
static inline __attribute__((always_inline)) void tsan_enter(coil_coro *co)
{
#ifdef COIL_TSAN
    co->tsan_resumer = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#else
    (void)co;
#endif
}

static inline __attribute__((always_inline)) void tsan_leave(coil_coro *co)
{
#ifdef COIL_TSAN
    __tsan_switch_to_fiber(co->tsan_resumer, 0);
#else
    (void)co;
#endif
}

/* Switch from `from` to `to`, `to` being the stack [bottom, bottom+size).
 * fake_save receives ASan's fake stack of the side that leaves; NULL means
 * the leaving side is finished and its fake stack can go. */
static inline __attribute__((always_inline)) void *
switch_to(coil_coro *co, coil_ctx *from, coil_ctx *to, void *arg,
          void **fake_save, const void *bottom, size_t size)
{
#ifdef COIL_ASAN
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
    (void)fake_save, (void)bottom, (void)size;
#endif
    return co->nofp ? coil_ctx_switch_nofp(from, to, arg)
                    : coil_ctx_switch(from, to, arg);
}

/* Right after a switch, on the side that was suspended: tell ASan where we
 * are, and learn the stack we came from, which is whoever resumed us —
 * unless a transfer brought us, which set our resumer already. */
static inline __attribute__((always_inline)) void
landed(coil_coro *co, void *fake)
{
#ifdef COIL_ASAN
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(fake, &bottom, &size);
    if (!arrived_by_transfer) {
        co->resumer_bottom = bottom;
        co->resumer_size = size;
    }
    arrived_by_transfer = 0;
#else
    (void)co, (void)fake;
#endif
}

/* Hand over from the running coroutine to `to`: what a transfer does
 * before its switch.  fake_save as for switch_to. */
static inline __attribute__((always_inline)) void
hand_over(coil_coro *from, coil_coro *to, void **fake_save)
{
    to->state = COIL_CORO_RUNNING;
    to->resumer_ctx = from->resumer_ctx; /* the resumer stays suspended */
#ifdef COIL_ASAN
    to->resumer_bottom = from->resumer_bottom;
    to->resumer_size = from->resumer_size;
#endif
#ifdef COIL_TSAN
    to->tsan_resumer = from->tsan_resumer;
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    current = to;
    coil__stack_running = &to->stack;
#ifdef COIL_ASAN
    __sanitizer_start_switch_fiber(fake_save, to->stack.lo, to->stack.size);
    arrived_by_transfer = 1;
#else
    (void)fake_save;
#endif
}

/* The full switch unless both sides opted out of FP control state: either
 * side that keeps its own must find it again.
 *
 * Where ctx.h switches inline (x86_64), every hand-off goes through this
 * one copy of the switch, so all suspended coroutines share one resume
 * address: the indirect jump that resumes one is predicted, a fresh
 * coroutine's start included, and no call/ret pair is left unmatched on
 * the return-stack buffer (measured: spawn + await 92 -> 83 ns).  Elsewhere
 * the hand-off variants resume by ret, which the return-stack buffer
 * predicts for coroutines suspended at this same call site (the asm file
 * says why).  Always inline: GCC made an out-of-line copy for the ending
 * switches, and a call that never returns leaves its return address on
 * the return-stack buffer, so that every later ret of the side resumed
 * was mispredicted. */
static inline __attribute__((always_inline)) void
switch_between(coil_coro *from, coil_coro *to)
{
#ifdef COIL__CTX_INLINE
    if (from->nofp && to->nofp)
        coil_ctx_switch_nofp(&from->ctx, &to->ctx, NULL);
    else
        coil_ctx_switch(&from->ctx, &to->ctx, NULL);
#else
    if (from->nofp && to->nofp)
        coil__ctx_handoff_nofp(&from->ctx, &to->ctx, NULL);
    else
        coil__ctx_handoff(&from->ctx, &to->ctx, NULL);
#endif
}

/* x86_64's native switch, inline (coil/ctx.h): its frame is known here. */
#if defined(COIL__CTX_INLINE) && defined(__x86_64__) && !COIL_CTX_FCONTEXT
#define LEAVE_INLINE 1
#endif

#ifdef LEAVE_INLINE
/* The switch out of a coroutine that has ended, into `to`, handing it arg:
 * coil/ctx.h's switch without its first half, as nothing will resume what
 * is left behind.  Saving that frame was a third of the switch: seven
 * pushes, and stmxcsr, which on AMD Zen costs more than the rest of the
 * switch together (a spawn + await makes one such switch: ~41 -> ~38 ns).
 * The FP control state is the full switch's: to's own, unless both sides
 * opted out (nofp) or to was suspended by the nofp switch (its slot all
 * ones).  RELOAD writes MXCSR and the x87 control word unread; COMPARE
 * reads MXCSR first, as the full switch does, and writes only a changed
 * control part (the x87 word: written always, one write being what the
 * full switch's compare would cost here). */
static inline __attribute__((always_inline, noreturn)) void
leave_for(const coil_ctx *to, void *arg, int nofp)
{
    if (nofp) {
        __asm__ volatile(
            "movq   (%0), %%rsp\n\t"
            COIL__CTX_RESUME
            : : "S"(to), "d"(arg) : "memory");
    } else {
        register unsigned policy __asm__("r10") = coil__ctx_fp_policy;
        __asm__ volatile(
            "testl  %%r10d, %%r10d\n\t"
            "jnz    1f\n\t"
            "stmxcsr -8(%%rsp)\n\t"       /* COMPARE: ours, in the red zone */
            "movl   -8(%%rsp), %%r10d\n\t"
            "movq   (%0), %%rsp\n\t"
            "cmpl   $-1, (%%rsp)\n\t"      /* suspended by a nofp switch */
            "je     3f\n\t"
            "xorl   (%%rsp), %%r10d\n\t"
            "testl  $0xffc0, %%r10d\n\t"   /* control bits, not status flags */
            "jz     2f\n\t"
            "ldmxcsr (%%rsp)\n\t"
            "jmp    2f\n"
            "1:\n\t"                       /* RELOAD */
            "movq   (%0), %%rsp\n\t"
            "cmpl   $-1, (%%rsp)\n\t"
            "je     3f\n\t"
            "ldmxcsr (%%rsp)\n"
            "2:\n\t"
            "fldcw  4(%%rsp)\n"
            "3:\n\t"
            COIL__CTX_RESUME
            : : "S"(to), "d"(arg), "r"(policy) : "memory");
    }
    __builtin_unreachable();
}
#endif

/* Every suspension by hand-off switches from the one copy of this in
 * coil__coro_transfer, so a suspended coroutine's resume address is the
 * same for all (the jump to it is predicted, and with coil__ctx_handoff
 * the return-stack buffer's top is it).  Ends make their own copies (in
 * coil__coro_exit, coro_main, coro_main_tail), and on x86_64 switch by
 * leave_for, saving nothing: nothing resumes there. */
static inline __attribute__((always_inline)) void transfer(coil_coro *to)
{
    coil_coro *from = current;
    coil__guard_check(&from->stack);
    from->state = COIL_CORO_SUSPENDED;
#ifdef COIL_ASAN
    hand_over(from, to, &from->fake_stack);
#else
    hand_over(from, to, NULL);
#endif
    switch_between(from, to);
#ifdef COIL_ASAN
    landed(from, from->fake_stack);
#endif
}

void coil__coro_transfer(coil_coro *to)
{
    transfer(to);
}

static inline __attribute__((always_inline, noreturn)) void
exit_to(coil_coro *to, void *result)
{
    coil_coro *co = current;
    coil__guard_check(&co->stack);
    co->state = COIL_CORO_DEAD;
    if (to) {
        hand_over(co, to, NULL);         /* NULL: its fake stack can go */
#ifdef LEAVE_INLINE
        leave_for(&to->ctx, NULL, co->nofp && to->nofp);
#else
        switch_between(co, to);
#endif
    } else {
        tsan_leave(co);
#ifdef LEAVE_INLINE
#ifdef COIL_ASAN
        __sanitizer_start_switch_fiber(NULL, co->resumer_bottom,
                                       co->resumer_size);
#endif
        leave_for(&co->resumer_ctx, result, co->nofp);
#elif defined(COIL_ASAN)
        switch_to(co, &co->ctx, &co->resumer_ctx, result, NULL,
                  co->resumer_bottom, co->resumer_size);
#else
        switch_to(co, &co->ctx, &co->resumer_ctx, result, NULL, NULL, 0);
#endif
    }
    abort();                             /* a dead coroutine is never resumed */
}

void coil__coro_exit(coil_coro *to, void *result)
{
    exit_to(to, result);
}

/* ------------------------------------------------------------- the entry */

/* The entry of a coroutine: its function's result goes to its resumer.
 * The end switch is made here, inline, not by a call to coil__coro_exit:
 * a call that never returns would leave its return address on the
 * return-stack buffer (see switch_between). */
static void *coro_main(void *data, void *arg)
{
    coil_coro *co = data;
    (void)arg;                           /* the first resume passes NULL */
    landed(co, NULL);
    exit_to(NULL, co->fn(co->arg));
}

/* The entry of a COIL__CORO_TAIL coroutine: its function says whom to end
 * into, and the switch is made right here, every call returned. */
static void *coro_main_tail(void *data, void *arg)
{
    coil_coro *co = data;
    (void)arg;
    landed(co, NULL);
    exit_to(co->fn(co->arg), NULL);
}

/* ------------------------------------------------------------------- API */

/* How far below its top a coroutine's stack starts: 0 to 1,984 bytes in
 * cache-line steps, fixed per stack (the pool numbers its slots as it
 * carves them).  Stacks are carved at a fixed stride, so their tops share
 * their low address bits, and the few cache sets those map to cannot hold
 * the tops of hundreds of stacks: a task switch then misses the cache
 * (measured: 80% of a switch among 1,000 tasks).  Staggered tops spread
 * over 32 times as many sets, and stay in the stack's first page, so a
 * small coroutine still commits one page.  Per stack rather than per
 * coroutine, so that a stack reused from the pool (a spawn after an
 * await) finds its frames' lines where it left them. */
static size_t stack_color(const coil__stack *st)
{
    return (size_t)st->color * 64u;
}

#if defined(__x86_64__) && !COIL_CTX_FCONTEXT
/* coil_ctx_make's fresh frame (asm/x86_64_sysv.S: FRAME_*, FRESH_SIZE) for
 * a stack ending at top, resuming in coil__ctx_start_tail: written here,
 * as the inline switch of coil/ctx.h knows the frame too, to spare a call
 * and its argument checks on every spawn. */
static inline void make_tail_frame(coil_ctx *ctx, char *top,
                                   coil_ctx_entry entry, void *data)
{
    enum { FRESH_WORDS = 10 };
    uint64_t *f = (uint64_t *)(((uintptr_t)top & ~(uintptr_t)15) -
                               FRESH_WORDS * sizeof(uint64_t));
    f[0] = 0x1f80u | (uint64_t)0x037fu << 32; /* default MXCSR, x87 CW */
    f[1] = 0;                                 /* r15 */
    f[2] = 0;                                 /* r14: no link */
    f[3] = (uint64_t)(uintptr_t)data;         /* r13 */
    f[4] = (uint64_t)(uintptr_t)entry;        /* r12 */
    f[5] = 0;                                 /* rbx */
    f[6] = 0;                                 /* rbp: ends frame chains */
    f[7] = (uint64_t)(uintptr_t)coil__ctx_start_tail;  /* resume address */
    f[8] = f[9] = 0;
    ctx->sp = f;
}
#endif

/* What every coroutine's set-up shares once its name is settled: the
 * stack (co->stack's own if `reuse` and it has one), the fields, the fresh
 * frame.  Inlined into both callers below. */
static inline __attribute__((always_inline)) int
init_core(coil_coro *co, size_t stack_size, unsigned flags, coil_coro_fn fn,
          void *arg, int reuse)
{
    /* Field by field rather than memset: this is on the spawn path. */
    co->resumer_ctx.sp = NULL;
#ifdef COIL_ASAN
    co->fake_stack = NULL;
    co->resumer_bottom = NULL;
    co->resumer_size = 0;
#endif
#ifdef COIL_TSAN
    co->tsan_resumer = NULL;
#endif
    if (!(reuse && co->stack.lo) &&
        coil__stack_alloc(&co->stack, stack_size,
                          !(flags & COIL_CORO_UNPOOLED)) != 0)
        return -1;
    co->stack.owner = co->label;
    co->fn = fn;
    co->arg = arg;
    co->thread = &thread_token;
    co->state = COIL_CORO_CREATED;
    co->nofp = (flags & COIL_CORO_NOFP) != 0;
    size_t size = co->stack.size - stack_color(&co->stack);
#if defined(__x86_64__) && !COIL_CTX_FCONTEXT
    if (flags & COIL__CORO_TAIL)
        make_tail_frame(&co->ctx, co->stack.lo + size, coro_main_tail, co);
    else
#endif
        coil_ctx_make(&co->ctx, co->stack.lo, size,
                      flags & COIL__CORO_TAIL ? coro_main_tail : coro_main,
                      co, NULL);
    stack_acquired(co);
#ifdef COIL_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
    return 0;
}

int coil__coro_init(coil_coro *co, const coil_coro_attr *attr,
                    coil_coro_fn fn, void *arg)
{
    static const coil_coro_attr defaults;
    if (!attr)
        attr = &defaults;
    const unsigned known = COIL_CORO_NOFP | COIL_CORO_UNPOOLED;
    if (!fn || attr->stack_size > COIL_STACK_MAX_SIZE ||
        (attr->flags & ~known)) {
        errno = EINVAL;
        return -1;
    }
    coil__set_name(co->name, sizeof co->name, attr->name, "coro-",
                   atomic_fetch_add_explicit(&next_id, 1,
                                             memory_order_relaxed) + 1);
    co->label = co->name;
    return init_core(co, attr->stack_size, attr->flags & ~COIL__CORO_TAIL, fn,
                     arg, 0);
}

int coil__coro_init_task(coil_coro *co, const char *label, size_t stack_size,
                         int nofp, coil_coro_fn fn, void *arg)
{
    if (stack_size > COIL_STACK_MAX_SIZE) {
        coil__stack_free(&co->stack);
        errno = EINVAL;
        return -1;
    }
    co->label = label;
    co->name[0] = '\0';
    return init_core(co, stack_size,
                     COIL__CORO_TAIL | (nofp ? COIL_CORO_NOFP : 0u), fn, arg,
                     1);
}

void coil__coro_fini(coil_coro *co, int keep_stack)
{
    if (keep_stack && co->stack.lo)
        unbind_stack(co);
    else
        release_stack(co);
#ifdef COIL_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
}

coil_coro *coil_coro_create(const coil_coro_attr *attr, coil_coro_fn fn,
                            void *arg)
{
    coil_coro *co = malloc(sizeof *co);
    if (!co) {
        errno = ENOMEM;
        return NULL;
    }
    if (coil__coro_init(co, attr, fn, arg) != 0) {
        int e = errno;
        free(co);
        errno = e;
        return NULL;
    }
    return co;
}

/* The checks every call on a coroutine handle starts with. */
static int check_owned(const coil_coro *co)
{
    if (!co) {
        errno = EINVAL;
        return -1;
    }
    if (co->thread != &thread_token) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

static int check_resumable(const coil_coro *co, const void *in)
{
    if (check_owned(co) != 0)
        return -1;
    switch (co->state) {
    case COIL_CORO_DEAD:
        errno = EINVAL;
        return -1;
    case COIL_CORO_RUNNING:
    case COIL_CORO_NORMAL:
        errno = EBUSY;
        return -1;
    case COIL_CORO_CREATED:
        if (in) {
            errno = EINVAL;
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

coil_coro *coil__coro_resume_any(coil_coro *co, void *in, void **out)
{
    coil_coro *self = current;
    co->state = COIL_CORO_RUNNING;
    if (self)
        self->state = COIL_CORO_NORMAL;
    current = co;
    coil__stack_running = &co->stack;

    void *fake = NULL;
    tsan_enter(co);
    void *value = switch_to(co, &co->resumer_ctx, &co->ctx, in, &fake,
                            co->stack.lo, co->stack.size);
#ifdef COIL_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif

    coil_coro *back = current;           /* co, or one it handed off to */
    current = self;
    coil__stack_running = self ? &self->stack : NULL;
    if (self)
        self->state = COIL_CORO_RUNNING;
    if (out)
        *out = value;
    return back;
}

int coil_coro_resume(coil_coro *co, void *in, void **out)
{
    if (check_resumable(co, in) != 0)
        return -1;
    uint64_t budget = coil__budget_left;  /* co is no task: coro.h */
    coil__budget_left = 0;
    coil_coro *back = coil__coro_resume_any(co, in, out);
    coil__budget_left = budget;
    if (back->state == COIL_CORO_DEAD)
        release_stack(back);             /* back to the pool right away */
    return 0;
}

int coil_coro_yield(void *out, void **in)
{
    coil_coro *co = current;
    if (!co) {
        errno = EPERM;
        return -1;
    }
    coil__guard_check(&co->stack);
    co->state = COIL_CORO_SUSPENDED;
    tsan_leave(co);
#ifdef COIL_ASAN
    void *value = switch_to(co, &co->ctx, &co->resumer_ctx, out,
                            &co->fake_stack, co->resumer_bottom,
                            co->resumer_size);
    landed(co, co->fake_stack);
#else
    void *value = switch_to(co, &co->ctx, &co->resumer_ctx, out, NULL,
                            NULL, 0);
#endif
    if (in)
        *in = value;
    return 0;
}

int coil_coro_destroy(coil_coro *co)
{
    if (check_owned(co) != 0)
        return -1;
    if (co->state == COIL_CORO_RUNNING || co->state == COIL_CORO_NORMAL) {
        errno = EBUSY;
        return -1;
    }
    coil__coro_fini(co, 0);
    free(co);
    return 0;
}

coil_coro *coil_coro_current(void)
{
    return current;
}

const char *coil_coro_name(const coil_coro *co)
{
    return co ? co->label : "";
}

int coil_coro_state(const coil_coro *co)
{
    if (!co) {
        errno = EINVAL;
        return -1;
    }
    return co->state;
}

size_t coil_coro_stack_size(const coil_coro *co)
{
    return co ? co->stack.size : 0;
}
