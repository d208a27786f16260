/*
 * src/core/coro.h — what coroutines (layer 2) offer the scheduler, beyond
 * coil.h: resuming when the one that comes back may be another, and
 * handing the CPU from the running coroutine straight to a suspended one.
 */
#ifndef COIL_CORO_H
#define COIL_CORO_H

#include <stdint.h>

#include "coil.h"
#include "core/stack.h"

#if defined(__SANITIZE_ADDRESS__)
#define COIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COIL_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define COIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COIL_TSAN 1
#endif
#endif

/* For code that runs in a signal handler ThreadSanitizer did not install:
 * the hook layer's trampoline (src/hook/intr.c), which the kernel may call
 * at any instruction, even inside TSan's runtime, which is not reentrant.
 * Such code must not be instrumented (no access, no atomic, no function
 * entry reaches TSan) and must call nothing TSan intercepts. */
#ifdef COIL_TSAN
#define COIL_UNSEEN_BY_TSAN __attribute__((no_sanitize("thread"), noinline))
#else
#define COIL_UNSEEN_BY_TSAN
#endif

struct coil_coro {
    /* What a switch reads and writes, together at the head. */
    coil_ctx ctx;                /* this coroutine, while suspended */
    coil_ctx resumer_ctx;        /* whoever resumed it, while it runs */
    uint8_t state;               /* coil_coro_state */
    uint8_t nofp;
    coil__stack stack;
    coil_coro_fn fn;
    void *arg;
    const char *thread;          /* owning thread's token */
#ifdef COIL_ASAN
    void *fake_stack;            /* ASan's fake frames while suspended */
    const void *resumer_bottom;  /* the stack to name when switching back */
    size_t resumer_size;
#endif
#ifdef COIL_HAVE_VALGRIND
    unsigned valgrind_id;
#endif
#ifdef COIL_TSAN
    void *tsan_fiber;            /* ThreadSanitizer's view of this stack */
    void *tsan_resumer;          /* and of whoever resumed it */
#endif
    const char *label;           /* its name: name[], or its task's */
    char name[COIL_NAME_MAX];
};

/* An internal flag (coil__coro_init_task sets it, coil__coro_init clears
 * it): the coroutine's function returns, as a void *, the coroutine to end
 * into — coil__coro_exit(returned, NULL) — and that last switch is made
 * with no call of the coroutine's left pending (on x86_64 its start is a
 * jump, see coil__ctx_start_tail), so whoever it resumes returns along
 * predicted addresses.  Tasks use it. */
#define COIL__CORO_TAIL (1u << 30)


#pragma GCC visibility push(hidden)

/* coil_ctx_switch and coil_ctx_switch_nofp, resuming by ret instead of a
 * jump: for hand-offs between coroutines suspended at the same call site
 * (asm/x86_64_sysv.S explains). */
void *coil__ctx_handoff(coil_ctx *from, const coil_ctx *to, void *arg);
void *coil__ctx_handoff_nofp(coil_ctx *from, const coil_ctx *to, void *arg);
#if defined(__x86_64__) && !COIL_CTX_FCONTEXT
/* Where a COIL__CORO_TAIL coroutine's fresh frame resumes (the .S says). */
void coil__ctx_start_tail(void);
#endif

/* The coroutine running on this thread (NULL: the thread's own stack);
 * what coil_coro_current() returns, for the scheduler's hot paths. */
extern __thread coil_coro *coil__coro_running;

/* The cooperative budget's count (the task layer's: task.h says what it
 * counts).  Defined here because coil_coro_resume hides it: the coroutine
 * it resumes runs with 0, and the resumer finds its own count again when
 * that coroutine hands control back.  So the word is never nonzero outside
 * a task's own coroutine, and a fast path that finds budget left knows it
 * runs in a task without asking which coroutine is running. */
extern __thread uint64_t coil__budget_left
    __attribute__((tls_model("initial-exec")));

/* Set up a coroutine in memory the caller owns (a task embeds its own),
 * as coil_coro_create does.  Returns 0, or -1 with errno as it. */
int coil__coro_init(coil_coro *co, const coil_coro_attr *attr,
                    coil_coro_fn fn, void *arg);

/* coil__coro_init for a task's coroutine, without an attr to build and
 * read: label borrowed (it outlives the coroutine), the stack size given
 * (0: the default), pooled, COIL__CORO_TAIL, COIL_CORO_NOFP if nofp.
 * co->stack must be either empty (lo NULL) or a stack that
 * coil__coro_fini(co, 1) left there, of the size class stack_size asks
 * for: that one is used again, without a trip through the pool.  Returns
 * 0, or -1 with errno EINVAL (stack_size too big) or ENOMEM, co->stack
 * empty then. */
int coil__coro_init_task(coil_coro *co, const char *label, size_t stack_size,
                         int nofp, coil_coro_fn fn, void *arg);

/* Let go of what coil__coro_init took; not the memory.  The coroutine must
 * not be running.  With keep_stack, a stack it still has stays in
 * co->stack for a later coil__coro_init_task on the same memory (or for
 * coil__stack_free); else it goes back to the pool and co->stack.lo
 * becomes NULL. */
void coil__coro_fini(coil_coro *co, int keep_stack);

/* coil_coro_resume without its checks (the caller knows co is resumable
 * and on this thread).  Returns the coroutine that switched back: co, or
 * the last of the coroutines it handed off to with coil__coro_transfer.
 * A dead one still has its stack: the caller calls coil__coro_fini. */
coil_coro *coil__coro_resume_any(coil_coro *co, void *in, void **out);

/* Suspend the running coroutine and run `to` (suspended or never started,
 * on this thread, not the running one) in its place: `to` inherits the
 * resumer, so its next yield goes where the running one's would have.
 * Returns when something resumes or transfers back to the caller.  To end
 * the running coroutine instead, coil__coro_exit. */
void coil__coro_transfer(coil_coro *to);

/* End the running coroutine (it becomes DEAD) and run `to` in its place as
 * coil__coro_transfer does, or, if `to` is NULL, switch back to its
 * resumer with `result`, as returning from its function does.  The dead
 * coroutine's stack is not freed (it is still in use until the switch):
 * whoever runs next calls coil__coro_fini on it.  Does not return. */
__attribute__((noreturn)) void coil__coro_exit(coil_coro *to, void *result);

#pragma GCC visibility pop

#endif
