/*
 * coil.h — stackful green threads for Linux.  The whole public API.
 *
 * Start here.  Most programs need a handful of calls, all in layer 4 and
 * the IO section of layer 5 (search for the name):
 *   coil_run(main_fn, arg, &result)   a fresh loop runs main_fn as its
 *                                     first task, then shuts down (Ctrl-C
 *                                     cancels it)
 *   coil_spawn(fn, arg)               start a task; coil_task_release
 *                                     drops the handle
 *   coil_await(coil_task_future(t), &out)
 *                                     wait for a task (or any future)
 *   coil_sleep(COIL_MSEC(10))         suspend the calling task
 *   coil_read / coil_write            POSIX-like fd IO that suspends the
 *                                     task instead of blocking the thread;
 *                                     coil_tcp_listen / coil_tcp_dial /
 *                                     coil_accept for sockets
 *   coil_task_cancel(t)               ask a task to stop: it unwinds at its
 *                                     next suspension, running what it
 *                                     pushed with coil_cleanup_push
 *   coil_wait_for, coil_gather        a deadline on a wait; many at once
 * README.md's example shows the shape of a program with them;
 * docs/api.md (or man coil_run) has every function.
 *
 * Layers, bottom up (sections below, in this order of dependency):
 *   0  context switch   coil/ctx.h (usable alone)
 *   1  stacks           mmap'd, guarded, pooled
 *   2  coroutines       a stack + a context + an entry trampoline
 *   3  event loop       ready queue, timers, epoll, signals
 *   4  futures, tasks   awaiting, cancellation, scopes, combinators,
 *                       coil_run
 *   5  services         synchronisation for tasks, cross-thread
 *                       submission and thread-safe futures, executor,
 *                       fd IO with deadlines, sockets, subprocesses,
 *                       files, one loop per core (runtime),
 *                       buffered streams
 *
 * Conventions, throughout:
 *   - A function returning int returns 0 (or a documented non-negative
 *     value) on success and -1 with errno set on failure.
 *   - A function returning a pointer returns NULL with errno set on failure.
 *   - Bad arguments give EINVAL; nothing in coil crashes on a NULL handle.
 *   - "May suspend" means the call can switch away from the calling
 *     coroutine; every other call returns without switching.  The fd and
 *     stream calls may also switch when they need not wait: a forced
 *     yield once the task's cooperative budget is spent (coil_budget_set).
 *   - Objects belong to the thread that created them: using one from
 *     another thread gives EPERM (coroutines never migrate: compilers cache
 *     the address of thread-locals such as errno across calls).
 *   - A NULL loop means the loop running on this thread, else the
 *     thread's default loop; only the calls that run or free a loop
 *     (run_forever, close) and those made from other threads (*_threadsafe,
 *     set_inbox_limit) need it named.
 *   - Deadlines (the *_until calls) are absolute loop times, negative for
 *     none; timeouts are relative, negative for none.  coil_deadline_in()
 *     turns one into the other; both saturate instead of wrapping.
 */
#ifndef COIL_H
#define COIL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <coil/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COIL_VERSION_MAJOR 0
#define COIL_VERSION_MINOR 1
#define COIL_VERSION_PATCH 0

/* ======================================================================
 * Stacks (layer 1)
 *
 * Every coroutine runs on its own mmap'd stack.  Pages are committed by the
 * kernel only when touched, so a 64 KiB stack that never goes deeper than a
 * few frames costs one 4 KiB page of memory.  Below every stack lies a guard
 * region; running into it is reported as a stack overflow naming the
 * coroutine (see docs/stacks.md), then the process aborts.
 *
 * How the guard is made is chosen once per process, at the first stack:
 *   COIL_GUARD_MADVISE   madvise(MADV_GUARD_INSTALL), Linux >= 6.13: guards
 *                        inside one large mapping, no extra VMA per stack,
 *                        so a million guarded stacks fit under the stock
 *                        vm.max_map_count of 65530.
 *   COIL_GUARD_MPROTECT  a PROT_NONE page per stack (older kernels).  Each
 *                        splits its mapping, costing a VMA; when half of
 *                        vm.max_map_count is used, new stacks fall back to:
 *   COIL_GUARD_CANARY    no guard page; a canary at the stack's low end is
 *                        checked whenever its coroutine switches away.
 * The madvise guard is trusted only after a probe shows it works (an
 * emulator such as qemu-user may accept the call and ignore it): a write()
 * from a guarded page must fail with EFAULT.  The environment variable
 * COIL_STACK_GUARD=madvise|mprotect|canary forces a mode (for tests).
 * ====================================================================== */

/* Default usable stack size: 64 KiB.  Lazily committed, so its price is
 * address space, not memory; deep enough for printf, qsort and a few
 * kilobytes of locals with room to spare, small enough that a million
 * coroutines take 64 GiB of the 128 TiB address space.  Override per
 * coroutine with coil_coro_attr.stack_size or for the process with the
 * environment variable COIL_STACK_SIZE (bytes; K and M suffixes allowed). */
#define COIL_STACK_DEFAULT_SIZE (64u * 1024u)

/* Largest accepted stack size (1 GiB); larger requests are EINVAL. */
#define COIL_STACK_MAX_SIZE (1024u * 1024u * 1024u)

typedef enum coil_guard_mode {
    COIL_GUARD_MADVISE = 1,
    COIL_GUARD_MPROTECT = 2,
    COIL_GUARD_CANARY = 3
} coil_guard_mode;

/* The guard mode new stacks get, probing on first use.  Does not suspend;
 * cannot fail. */
coil_guard_mode coil_stack_guard_mode(void);

/* The default usable stack size in bytes (COIL_STACK_DEFAULT_SIZE unless
 * COIL_STACK_SIZE says otherwise).  Does not suspend; cannot fail. */
size_t coil_stack_default_size(void);

/* Idle stacks the calling thread's pool keeps committed for reuse for good
 * (default 64).  Stacks idle beyond that stay committed too until they have
 * been idle for a whole trim period (a second; docs/stacks.md), then their
 * memory is handed back to the kernel (MADV_DONTNEED) and only the address
 * range kept for reuse.  0 keeps none for good.  Besides these, up to 8
 * stacks of ended tasks stay with the tasks' cached memory for the next
 * spawns.  Does not suspend.  Returns 0, or -1 with errno ENOMEM if the
 * pool could not be created. */
int coil_stack_pool_set_max_idle(size_t max_idle);

/* ======================================================================
 * Coroutines (layer 2)
 *
 * A coroutine runs fn(arg) on its own stack.  coil_coro_resume() runs it
 * until it calls coil_coro_yield() or fn returns; the two exchange one
 * void * each way.  Coroutines may resume other coroutines (they nest like
 * calls: a yield returns to whoever resumed).
 *
 * A task may drive a raw coroutine (a generator, say), but that coroutine
 * is not the task: the calls that act for "the calling task" (coil_sleep,
 * coil_read, coil_await, locks, queues, cancellation scopes...) refuse it
 * with EPERM, as they refuse code outside any task, and
 * coil_task_current() is NULL there.  Only the task's own stack suspends.
 * ====================================================================== */

typedef struct coil_coro coil_coro;

/* The body of a coroutine.  Its return value is handed to the resumer. */
typedef void *(*coil_coro_fn)(void *arg);

/* Flags for coil_coro_attr.flags. */
enum {
    /* Switch without saving and restoring the FP control state (MXCSR and
     * x87 control word / FPCR): faster, for code that never changes
     * rounding modes or exception masks.  See coil/ctx.h, point 2; over
     * the fcontext backend (point 10) it changes nothing on x86_64. */
    COIL_CORO_NOFP = 1u << 0,
    /* Map a fresh stack instead of taking one from the thread's pool, and
     * unmap it when the coroutine finishes.  For measuring; rarely useful
     * otherwise. */
    COIL_CORO_UNPOOLED = 1u << 1
};

/* Creation attributes.  Zero-initialise, then set what you need; a NULL
 * attr means all defaults. */
typedef struct coil_coro_attr {
    const char *name;   /* copied (up to COIL_NAME_MAX - 1 bytes); NULL or
                           "" gives "coro-<id>" */
    size_t stack_size;  /* usable bytes, rounded up to whole pages;
                           0 = coil_stack_default_size() */
    unsigned flags;     /* COIL_CORO_* */
} coil_coro_attr;

#define COIL_NAME_MAX 48

/* Values of coil_coro_state(). */
enum coil_coro_state {
    COIL_CORO_CREATED = 0,   /* never resumed yet */
    COIL_CORO_RUNNING = 1,   /* the coroutine executing now */
    COIL_CORO_NORMAL = 2,    /* active, but has resumed another coroutine */
    COIL_CORO_SUSPENDED = 3, /* inside coil_coro_yield() */
    COIL_CORO_DEAD = 4       /* fn returned */
};

/* Create a coroutine that will run fn(arg); it does not start until the
 * first coil_coro_resume().  Does not suspend.  Returns the coroutine, or
 * NULL with errno:
 *   EINVAL  fn is NULL, stack_size exceeds COIL_STACK_MAX_SIZE, or flags
 *           has a bit that is no COIL_CORO_* flag;
 *   ENOMEM  no memory or address space for the stack or the coroutine
 *           (mmap or madvise failed, or vm.max_map_count was reached). */
coil_coro *coil_coro_create(const coil_coro_attr *attr, coil_coro_fn fn,
                            void *arg);

/* Run co until it yields or finishes.  `in` is what its pending
 * coil_coro_yield() receives; the first resume must pass NULL (fn already
 * has its arg, and a value would be lost).  On return, *out (if out is not
 * NULL) holds what co yielded or, if it finished, fn's return value: tell
 * them apart with coil_coro_state().  A finished coroutine's stack goes back
 * to the pool at once; the coroutine itself stays until destroyed.
 * Suspends the caller (if it is a coroutine) while co runs.
 * Returns 0, or -1 with errno:
 *   EINVAL  co is NULL, co is dead, or `in` is not NULL on the first resume;
 *   EBUSY   co is running, or is one of the coroutines that resumed the
 *           caller (a coroutine cannot resume its own ancestors);
 *   EPERM   co belongs to another thread. */
int coil_coro_resume(coil_coro *co, void *in, void **out);

/* Suspend the calling coroutine, handing `out` to its resumer; returns when
 * it is resumed again, storing the resumer's `in` in *in (if in is not
 * NULL).  Suspends, by definition.  Returns 0, or -1 with errno EPERM when
 * called outside any coroutine (the thread's own stack cannot yield). */
int coil_coro_yield(void *out, void **in);

/* Free co and its stack.  A suspended or never-started coroutine is freed
 * without running any more of its code: whatever it holds leaks unless you
 * arrange otherwise (tasks, in a later layer, unwind on cancellation).
 * Does not suspend.  Returns 0, or -1 with errno:
 *   EINVAL  co is NULL;
 *   EBUSY   co is running or has resumed another coroutine (it is on the
 *           current chain of resumes);
 *   EPERM   co belongs to another thread. */
int coil_coro_destroy(coil_coro *co);

/* The coroutine executing now on this thread, or NULL on the thread's own
 * stack.  Does not suspend; cannot fail. */
coil_coro *coil_coro_current(void);

/* co's name ("" for NULL).  The string lives as long as co.  Does not
 * suspend; cannot fail. */
const char *coil_coro_name(const coil_coro *co);

/* co's state, or -1 with errno EINVAL for NULL.  Does not suspend. */
int coil_coro_state(const coil_coro *co);

/* co's usable stack size in bytes, or 0 for NULL.  Does not suspend;
 * cannot fail. */
size_t coil_coro_stack_size(const coil_coro *co);

/* ======================================================================
 * Time
 *
 * coil measures time in nanoseconds of CLOCK_MONOTONIC (coil_time).  A loop
 * reads the clock once per iteration and every callback of that iteration
 * sees the same "now" (coil_loop_time).
 * ====================================================================== */

typedef long long coil_time;

#define COIL_USEC(n) ((coil_time)(n) * 1000LL)
#define COIL_MSEC(n) ((coil_time)(n) * 1000000LL)
#define COIL_SEC(n)  ((coil_time)(n) * 1000000000LL)

/* The monotonic clock, read now.  Does not suspend; cannot fail. */
coil_time coil_clock(void);

/* ======================================================================
 * Event loop (layer 3)
 *
 * One loop runs on one thread at a time.  Each thread has a default loop,
 * made on first use; more can be made with coil_loop_new().  An iteration
 * runs the callbacks that were ready when it began, in FIFO order (so a
 * callback that schedules another cannot starve IO), then waits in epoll
 * for IO or the next timer — sleeping, not spinning, when idle.  Timers are
 * precise below a millisecond (epoll_pwait2, or a timerfd on kernels
 * without it).
 * ====================================================================== */

typedef struct coil_loop coil_loop;

/* A scheduled callback (coil_call_soon/later/at), for cancelling it. */
typedef struct coil_handle coil_handle;

typedef void (*coil_callback)(void *arg);

/* Make a new loop.  Does not suspend.  Returns it, or NULL with errno
 * ENOMEM, EMFILE or ENFILE (it needs an epoll fd and an eventfd).
 * Where the loop times its waits with epoll_pwait2 (the usual case), the
 * calling thread's timer slack is set to 1 ns (prctl PR_SET_TIMERSLACK):
 * the kernel's default lets a timed wait end up to 50 us late, which was
 * most of a 1 ms sleep's overshoot.  COIL_TIMER_SLACK=<ns> in the
 * environment sets another value; "keep" (or 0) leaves the thread's own.
 * The same holds for the default loop below. */
coil_loop *coil_loop_new(void);

/* The calling thread's default loop, made on first call.  Does not
 * suspend.  Returns NULL with errno as coil_loop_new() on failure. */
coil_loop *coil_loop_default(void);

/* The loop running on this thread right now (inside coil_loop_run_forever
 * or an await that runs the loop), or NULL.  Does not suspend; cannot
 * fail. */
coil_loop *coil_loop_current(void);

/* Run the loop until coil_loop_stop().  Must be called on the loop's own
 * thread (the one that made it).  Does not suspend: it blocks the calling
 * thread, running the loop's callbacks and tasks, until stopped.
 * Returns 0, or -1 with errno EINVAL (NULL),
 * EBUSY (already running: a loop does not nest in itself), EPERM (another
 * thread's loop), or the errno of a failed epoll wait. */
int coil_loop_run_forever(coil_loop *loop);

/* Make run_forever return once the current iteration ends; a stop requested
 * while the loop is not running makes the next run_forever do one iteration
 * and return.  Safe from any thread (it wakes the loop), also racing with
 * the loop's close: a loop already closed is never touched.  NULL means
 * the loop running on this thread (from one of its callbacks or tasks).
 * Does not suspend.  Returns 0, or -1 with errno EINVAL (NULL with no loop
 * running here) or ESHUTDOWN (no such live loop: closed, or never made). */
int coil_loop_stop(coil_loop *loop);

/* Whether the loop is running now: 1 or 0 (-1 with errno EINVAL).  NULL
 * asks whether any loop runs on this thread now.  Does not suspend. */
int coil_loop_is_running(const coil_loop *loop);

/* Free the loop.  Callbacks still scheduled are dropped (their handles
 * report them cancelled); the done-callbacks of futures that have already
 * completed still run, here (they release what they hold and may wake
 * other threads), and what they schedule is dropped.  Returns 0, or -1
 * with errno EINVAL, EBUSY while it runs, or EPERM (another thread's
 * loop).  Closing the default loop
 * makes the next coil_loop_default() make a fresh one.  Does not suspend. */
int coil_loop_close(coil_loop *loop);

/* Debug mode for loop (also on for every new loop when the environment
 * says COIL_DEBUG=1).  It reports, on stderr and naming the task or
 * callback: a step that held the loop longer than slow_threshold ns (0:
 * the default, COIL_DEBUG_SLOW_MS from the environment in milliseconds,
 * else 100 ms — a blocking call in a task, asyncio's time.sleep() trap),
 * with where it was: the syscall it was blocked in, its fd and the code
 * that called it, or the backtrace of the code running (a watcher thread
 * looks once the threshold passes; a running step gets signal SIGRTMAX-3,
 * with SA_RESTART, and never while in a syscall);
 * a task that ended with an error nobody read; tasks still pending when
 * the loop is closed; suspending calls made outside any task.  loop NULL
 * means the current loop, else the thread's default, as for
 * coil_call_soon.  Does not suspend.  Returns 0, or -1 with errno EINVAL
 * (slow_threshold negative) or as coil_loop_default. */
int coil_loop_set_debug(coil_loop *loop, int enabled, coil_time slow_threshold);

/* Whether debug mode is on for loop (NULL: as COIL_DEBUG says).  Returns
 * 1 or 0.  Does not suspend; cannot fail. */
int coil_loop_get_debug(const coil_loop *loop);

/* The loop's time: the clock as read at the start of this iteration (or
 * now, outside run_forever).  NULL means the current loop, as it does for
 * every call that takes a loop; with no current loop, the clock now
 * (coil_clock()).  Does not suspend.  Cannot fail. */
coil_time coil_loop_time(coil_loop *loop);

/* The absolute deadline `delay` ns from now on the current loop's clock,
 * for the *_until calls: coil_read_until(fd, b, n, coil_deadline_in(
 * COIL_SEC(2))).  Saturates at LLONG_MAX (in effect never) instead of
 * wrapping; a negative delay gives -1, "no deadline", so a timeout
 * variable with coil's usual "negative: no limit" passes straight
 * through.  Does not suspend.  Cannot fail. */
coil_time coil_deadline_in(coil_time delay);

/* Schedule fn(arg) to run on the loop: at the next iteration, after `delay`
 * ns, or at loop time `when`.  loop NULL means the current loop, else the
 * thread's default.  Negative delays count as 0.  Callbacks due at the same
 * time run in the order they were scheduled.  Does not suspend.
 * If handle is not NULL, *handle receives a reference for
 * coil_handle_cancel(); release it with coil_handle_release().
 * Returns 0, or -1 with errno EINVAL (fn NULL), ENOMEM, EPERM (another
 * thread's loop: see coil_call_soon_threadsafe), or
 * EMFILE/ENFILE when loop is NULL and the default loop had to be made.
 * coil_call_later counts from the clock read now, so the callback never
 * runs earlier than `delay` after the call; coil_call_at uses loop time. */
int coil_call_soon(coil_loop *loop, coil_callback fn, void *arg,
                   coil_handle **handle);
int coil_call_later(coil_loop *loop, coil_time delay, coil_callback fn,
                    void *arg, coil_handle **handle);
int coil_call_at(coil_loop *loop, coil_time when, coil_callback fn, void *arg,
                 coil_handle **handle);

/* Stop h's callback from running.  Returns 1 if it will now never run, 0 if
 * it already ran, was already cancelled, or its loop was closed; -1 with
 * errno EINVAL for NULL or EPERM from another thread than the loop's.
 * Does not suspend. */
int coil_handle_cancel(coil_handle *h);

/* Drop the reference coil_call_* gave out (does not cancel).  Safe from
 * any thread.  NULL is ignored.  Does not suspend.  Returns 0; releasing
 * one reference too many is a bug that Debug builds report and abort on,
 * and release builds, where they can still tell (the memory not yet
 * reused), refuse with -1 and errno EINVAL instead of freeing twice. */
int coil_handle_release(coil_handle *h);


/* Run fn(arg) as a loop callback each time signal signo arrives
 * (signalfd).  The signal is blocked in the calling thread, so that it is
 * delivered through the loop rather than by interrupting code; in a program
 * with other threads, block it in them too.  Replaces this loop's previous
 * handler for signo.  Does not suspend.  Returns 0, or -1 with errno
 * EINVAL (NULL, no such signal, SIGKILL, SIGSTOP), EPERM (another thread's
 * loop), EMFILE or ENOMEM. */
int coil_loop_add_signal_handler(coil_loop *loop, int signo, coil_callback fn,
                                 void *arg);

/* Stop handling signo on loop, restoring the thread's mask for it (a copy
 * that arrived meanwhile is consumed, not delivered).  This also ends the
 * routing that coil_wait_signal started for signo (once the tasks waiting
 * for it now have left).  Returns 1 if a handler was removed, 0 if there
 * was none, -1 with errno EINVAL or EPERM.  Does not suspend. */
int coil_loop_remove_signal_handler(coil_loop *loop, int signo);

/* Suspend the calling task until one of the n signals in `signals`
 * arrives, through the same signalfd as the handlers above, and return
 * its number.  The deadline is absolute loop time, negative for none.
 *   - Waiters come first: a signal that arrives while tasks wait for it
 *     wakes every one of them and the loop's handler for it (if any) does
 *     not run; with no task waiting, the handler runs as usual.
 *   - A wait routes its signals through the loop (blocked in the calling
 *     thread, as coil_loop_add_signal_handler does) and they stay routed
 *     after it, until coil_loop_remove_signal_handler() or the loop's
 *     close: a copy that arrives while no task waits and no handler is set
 *     is kept (one per signal, like the kernel's own pending set) and the
 *     next wait for it returns it at once, so a loop of waits loses
 *     nothing and a SIGTERM between two waits does not kill the process.
 *   - A task unwound by cancellation leaves no waiter or timer behind (a
 *     signal already handed to it is kept for the next wait, as above).
 * May suspend.  Returns the signal number, or -1 with errno ETIMEDOUT,
 * ECANCELED (COIL_TASK_CANCEL_AS_ERROR tasks), EPERM (outside a task),
 * EINVAL (signals NULL, n 0, no such signal, SIGKILL, SIGSTOP), EMFILE or
 * ENOMEM. */
int coil_wait_signal(const int *signals, size_t n, coil_time deadline);

/* ======================================================================
 * Futures (layer 4)
 *
 * A future is a value that will be known later: PENDING until someone sets
 * a result (a void *) or an error (an errno value) or cancels it, then DONE
 * or CANCELLED for good.  Done-callbacks run on the future's loop, in the
 * order they were added, after the state changed — also when added to a
 * future that is already done.  Futures are reference-counted: whoever
 * makes or is handed one holds a reference and releases it.
 * ====================================================================== */

typedef struct coil_future coil_future;

/* Values of coil_future_state(). */
enum coil_future_state {
    COIL_PENDING = 0,
    COIL_RUNNING = 1,     /* tasks only: its function is executing */
    COIL_DONE = 2,        /* has a result or an error */
    COIL_CANCELLED = 3
};

/* A done-callback: gets the (done) future and the argument it was added
 * with — the C stand-in for functools.partial. */
typedef void (*coil_done_fn)(coil_future *f, void *arg);

/* Make a pending future bound to loop (NULL: the current loop, else the
 * thread's default).  The caller holds the one reference.  Does not
 * suspend.  NULL with errno ENOMEM (or as coil_loop_default) on failure. */
coil_future *coil_future_new(coil_loop *loop);

/* Take another reference / drop one (the last frees the future; a future
 * with callbacks still to run stays alive until they ran).  NULL ignored.
 * Retain returns f, release returns 0.  Do not suspend; cannot fail
 * (dropping one reference too many is a bug, which Debug builds report
 * and abort on). */
coil_future *coil_future_retain(coil_future *f);
int coil_future_release(coil_future *f);

/* f's state, or -1 with errno EINVAL for NULL.  Does not suspend. */
int coil_future_state(const coil_future *f);

/* 1 if f is DONE or CANCELLED, 0 if not, -1 with errno EINVAL for NULL.
 * Does not suspend. */
int coil_future_done(const coil_future *f);

/* Complete f with a result, or with an error (err > 0, an errno value).
 * Schedules its done-callbacks.  Does not suspend.  Returns 0, or -1 with
 * errno EINVAL (NULL, err <= 0, or f is a task: tasks complete themselves),
 * EPERM (another thread: see coil_call_soon_threadsafe) or EALREADY (f is
 * already done or cancelled).  Cannot fail for lack of
 * memory: queueing the callbacks allocates nothing. */
int coil_future_set_result(coil_future *f, void *result);
int coil_future_set_error(coil_future *f, int err);

/* Cancel f: if pending, it becomes CANCELLED and its callbacks are
 * scheduled.  For a task, see coil_task_cancel.  Returns 1 if f was
 * cancelled by this call, 0 if it was already done (nothing changes), -1
 * with errno EINVAL for NULL or EPERM from another thread.  Does not
 * suspend. */
int coil_future_cancel(coil_future *f);

/* Read f's outcome without waiting.  Returns 0 and stores the result in
 * *out (if out is not NULL), or -1 with errno: EAGAIN if f is not done yet
 * (never garbage), ECANCELED if it was cancelled, the error it was
 * completed with, EINVAL for NULL, or EPERM from another thread.  Reading
 * an error counts as handling it (debug mode reports errors nobody read).
 * Does not suspend. */
int coil_future_result(coil_future *f, void **out);

/* Add fn(f, arg) to run on the loop once f is done (soon, if it already
 * is).  Does not suspend.  Returns 0, or -1 with errno EINVAL, EPERM
 * (another thread) or ENOMEM. */
int coil_future_add_done_callback(coil_future *f, coil_done_fn fn, void *arg);

/* Remove every not-yet-run callback equal to (fn, arg).  Returns how many
 * were removed (0 or more), or -1 with errno EINVAL for NULL or EPERM
 * from another thread.  Does not suspend. */
int coil_future_remove_done_callback(coil_future *f, coil_done_fn fn,
                                     void *arg);

/* Wait for f and read its outcome as coil_future_result() does.  Inside a
 * task this suspends the task (other tasks run); outside any task it runs
 * f's loop until f is done and its done-callbacks have run (as asyncio's
 * run_until_complete).  May suspend.  Extra errors: EDEADLK when a
 * task would wait for itself (directly or through a chain of tasks
 * waiting for each other); EBUSY outside a task while the loop is already
 * running (a plain callback cannot block); EPERM when f's loop belongs to
 * another thread (the combinators say the same) or when called from a raw
 * coroutine inside a task.  A task cancelled while waiting
 * does not return from here in the default mode (see "Cancellation"); with
 * COIL_TASK_CANCEL_AS_ERROR it returns -1 with errno ECANCELED. */
int coil_await(coil_future *f, void **out);

/* ======================================================================
 * Tasks (layer 4)
 *
 * A task runs a function in a coroutine of its own, driven by a loop, and
 * is a future for that function's outcome: coil_task_future() gives the
 * future, with the task's own state (PENDING before it first runs, RUNNING
 * while it may still execute, then DONE or CANCELLED).
 *
 * Ownership: coil_spawn() hands you a reference; the task keeps running
 * whether you keep it or not, and holds itself alive until it ends.
 * Release your reference with coil_task_release() when done with the
 * handle; the memory goes when the task has ended and nobody holds one.
 * ====================================================================== */

typedef struct coil_task coil_task;

/* A task's body.  Return its result; to fail, return coil_task_error(e). */
typedef void *(*coil_task_fn)(void *arg);

enum {
    /* Cancellation arrives as an error (-1, ECANCELED) from the suspending
     * call instead of unwinding the task (see "Cancellation"). */
    COIL_TASK_CANCEL_AS_ERROR = 1u << 0,
    /* Run on a coroutine that does not switch FP control state. */
    COIL_TASK_NOFP = 1u << 1
};

typedef struct coil_task_attr {
    const char *name;   /* copied; NULL: "Task-<n>" */
    size_t stack_size;  /* 0: coil_stack_default_size() */
    unsigned flags;     /* COIL_TASK_* */
    coil_loop *loop;    /* NULL: the current loop, else the default */
} coil_task_attr;

/* Spawn fn(arg) as a task; it first runs on the loop's next iteration.
 * fn_name is for descriptions (the coil_spawn macros pass the function's
 * name).  Does not suspend.  Returns a reference to the task, or NULL with
 * errno EINVAL (fn NULL, bad attr: a flags bit that is no COIL_TASK_*
 * flag, a stack size over COIL_STACK_MAX_SIZE), EPERM (another thread's
 * loop) or ENOMEM. */
coil_task *coil_task_spawn(const coil_task_attr *attr, coil_task_fn fn,
                           void *arg, const char *fn_name);
#define coil_spawn(fn, arg) coil_task_spawn(NULL, (fn), (arg), #fn)
#define coil_spawn_attr(attr, fn, arg) coil_task_spawn((attr), (fn), (arg), #fn)

/* Take another reference to t, for a second owner of the handle (each
 * releases its own).  NULL is ignored.  Does not suspend.  Returns t;
 * cannot fail. */
coil_task *coil_task_retain(coil_task *t);

/* Drop your reference to t.  NULL is ignored.  Does not suspend.
 * Returns 0; cannot fail (dropping one reference too many is a bug,
 * which Debug builds report and abort on). */
int coil_task_release(coil_task *t);

/* t as a future (borrowed: valid as long as your task reference), or NULL
 * for NULL.  Await it, read its result, add done-callbacks to it.  A task
 * begins with its future, so this is a cast: the macro spares a call (the
 * function remains, for pointers and other languages).  Does not
 * suspend; cannot fail. */
coil_future *coil_task_future(coil_task *t);
#define coil_task_future(t) ((coil_future *)(void *)(coil_task *)(t))

/* The task running now, or NULL outside any task (and in a raw coroutine
 * that a task resumed: see "Coroutines").  Does not suspend; cannot
 * fail. */
coil_task *coil_task_current(void);

/* t's name ("" for NULL), living as long as t.  Does not suspend; cannot
 * fail. */
const char *coil_task_name(const coil_task *t);

/* Describe t like asyncio: "<Task pending name='worker-1' fn=work>",
 * "<Task done name='w' fn=work result=0x2a>",
 * "<Task done name='w' fn=work error=ETIMEDOUT>",
 * "<Task cancelled name='w' fn=work>".  Writes at most size bytes,
 * NUL-terminated; returns the length the whole description needs (as
 * snprintf), or -1 with errno EINVAL.  Does not suspend. */
int coil_task_describe(const coil_task *t, char *buf, size_t size);

/* The live (not yet ended) tasks of loop (NULL: current/default), in
 * spawn order: stores up to max of them in out and returns how many there
 * are in all.  The pointers are borrowed.  -1 with errno EINVAL.  Does
 * not suspend. */
int coil_loop_tasks(coil_loop *loop, coil_task **out, size_t max);

/* Flags of coil_loop_dump_tasks. */
#define COIL_DUMP_NO_BACKTRACE 0x1u  /* one line per task, no stacks */
#define COIL_DUMP_NO_LINES     0x2u  /* stacks without file:line (libdw) */

/* Print every live task of loop (NULL: current/default) to out, in spawn
 * order: its id, name and function, its state and for how long, what it
 * waits on in words ("fd 7 readable, deadline in 1.20 s", "lock held by
 * task 4 'writer'", "task 9 'fetch'"), its cancellation state, and the
 * backtrace of its suspended stack, innermost first.  Backtraces are
 * unwound from each task's saved context with the program's DWARF unwind
 * tables (no frame pointers needed: release builds work) and named with
 * libdw when it is installed (static functions, file:line where there is
 * debug info), else with dladdr (exported symbols: link the program with
 * -rdynamic to see its own functions).  Call it on the loop's own thread:
 * from a task, a callback, or outside the loop; COIL_DUMP_SIGNAL makes
 * coil_run's loops do it on a signal (docs/debugging.md).  Does not
 * suspend.  Returns the number of tasks, or -1 with errno EINVAL (bad
 * flags, no out), EPERM (another thread's loop) or ENOMEM. */
int coil_loop_dump_tasks(coil_loop *loop, FILE *out, unsigned flags);

/* coil_loop_dump_tasks(NULL, out, flags): the calling thread's loop.
 * Does not suspend.  Returns the number of tasks, or -1 with errno as
 * coil_loop_dump_tasks. */
int coil_dump_tasks(FILE *out, unsigned flags);

/* Mark the calling task as failed with err (> 0); return the result from
 * the task function: `return coil_task_error(EIO);`.  An err that is not
 * a positive errno value fails the task with EINVAL instead (it must not
 * pass for success).  Outside a task it only sets errno.  Does not
 * suspend.  Returns NULL. */
void *coil_task_error(int err);

/* Let every other ready task and callback run, then continue (asyncio's
 * sleep(0), Go's Gosched).  May suspend.  Returns 0, or -1 with errno
 * EPERM outside a task, or ECANCELED (COIL_TASK_CANCEL_AS_ERROR tasks). */
int coil_yield(void);

/* Suspend the calling task for `delay` ns, or until loop time `when`.
 * May suspend.  Returns 0, or -1 with errno EPERM outside a task, or
 * ECANCELED (COIL_TASK_CANCEL_AS_ERROR tasks only). */
int coil_sleep(coil_time delay);
int coil_sleep_until(coil_time when);

/* The cooperative budget (Tokio's coop budget): a task that has completed
 * `ops` counted calls without suspending yields at its next counted call,
 * so that a task whose input never runs dry (a client flooding its
 * socket) cannot keep every other task from running.  The budget is full
 * again whenever the task is resumed after any suspension.
 *
 * Counted: the fd calls of "IO" and "Sockets" below (coil_read, coil_write
 * and their kin, coil_accept, coil_connect, coil_wait_fd, coil_recvfrom,
 * coil_sendto; coil_read_full and coil_write_all count each syscall;
 * calls with MSG_DONTWAIT in flags are not counted), the hook layer's
 * calls built on them, and each stream read call (coil_stream_read_some,
 * read_line, read_until, read_exactly, peek: one each, plus the fd reads
 * it makes; drain, flush and write_eof count their fd writes).  These are
 * the calls whose input comes from outside the loop, so a run of them that
 * never waits need never end.  Not counted: calls documented not to
 * suspend (never: coil_stream_write, coil_close, try_* calls), the
 * synchronisation objects, select and coil_await of a done future — what
 * they find ready was made ready by the loop's own tasks and callbacks,
 * which cannot run while the task does not suspend, so such a run ends by
 * itself; and "Synchronisation" promises that a call which need not wait
 * does not suspend.
 *
 * The yield comes first, before the call looks at its fd or stream, and
 * is a plain coil_yield(): the task stays ready, behind everything ready
 * now.  So the call then runs as if it were made just after a
 * coil_yield(): its result is the same, and a cancellation delivered by
 * the yield (where the call may suspend anyway) finds nothing consumed —
 * in error mode the call returns ECANCELED having read or written
 * nothing.  A task in a shield is not cancelled there, as ever.
 *
 * coil_budget_set sets ops for every task of the process, from any thread
 * (a task running now counts from the new setting at once if it is
 * lower; others from their next resumption); 0 turns the budget off.
 * The default is 128, or COIL_BUDGET=<ops> from the environment (read as
 * the library loads; an unparsable value gives the default): a forced
 * yield costs one task switch, under 1% of 128 of the cheapest counted
 * calls (a line out of a stream's buffer), while 128 calls that each
 * make a syscall hold the loop for a few hundred microseconds at most.
 * Neither call suspends; they cannot fail.  coil_budget_set returns the
 * previous setting, coil_budget the current one (0: off). */
unsigned coil_budget_set(unsigned ops);
unsigned coil_budget(void);

/* Task-local storage: a value per task and key (pthread_setspecific for
 * tasks, Boost.Fiber's fiber_specific_ptr, asyncio's contextvars).  Keys
 * are process-wide (any thread's tasks may use one); values belong to one
 * task.  A spawned task starts with no values: children do not inherit
 * their spawner's (pass what they need in arg).  When a task ends — its
 * function returned, it failed, or cancellation unwound it — each key's
 * destructor runs once for each non-NULL value the task holds under it,
 * on the task's own stack, after its cleanup handlers and before its
 * future completes; coil_task_current() is still the task there.  A
 * destructor must not suspend.  If destructors set values again, the
 * rounds repeat, four at most (as pthread does). */
typedef unsigned coil_task_key;

/* Make a key; destructor (may be NULL) gets each value left under it by
 * a task that ends.  At most 256 keys live at once.  Works outside a
 * task.  Does not suspend.  Returns 0 and stores the key in *key, or -1
 * with errno EINVAL (key NULL) or EAGAIN (no key left). */
int coil_task_key_new(coil_task_key *key, void (*destructor)(void *value));

/* Free key: values still held under it are not destroyed (their owner's
 * job, as with pthread_key_delete) and are no longer visible.  Does not
 * suspend.  Returns 0, or -1 with errno EINVAL (not a live key). */
int coil_task_key_free(coil_task_key key);

/* Set the calling task's value for key (NULL clears it).  A value it
 * replaces is not destroyed.  Does not suspend.  Returns 0, or -1 with
 * errno EPERM (outside a task), EINVAL (not a live key) or ENOMEM. */
int coil_task_local_set(coil_task_key key, void *value);

/* The calling task's value for key, or NULL when it has none.  Does not
 * suspend.  Cannot fail otherwise, but outside a task it returns NULL
 * with errno EPERM. */
void *coil_task_local_get(coil_task_key key);

/* ======================================================================
 * Cancellation
 *
 * coil_task_cancel() is a request, delivered at the task's next suspension
 * point (at once if it is suspended now; before it ever runs if it has not
 * started — then it never runs).  Requests are counted, not flags.
 *
 * Default mode: delivery unwinds.  The suspending call does not return;
 * the cleanup handlers the task pushed run, newest first, on the task's own
 * stack — they may suspend (asynchronous clean-up) and a second cancel does
 * not interrupt them — and the task ends CANCELLED.  Awaiting it gives
 * ECANCELED.
 *
 * COIL_TASK_CANCEL_AS_ERROR: the suspending call returns -1 with errno
 * ECANCELED, once per request, and the task decides what to do.
 *
 * A shielded region (coil_shield_begin/end) defers delivery to its end.
 * Cancelling a task that is waiting for another task cancels that one too.
 * ====================================================================== */

/* Request cancellation of t.  Does not suspend.  Returns 1 if the request
 * was recorded (t had not ended), 0 if t has already ended (nothing
 * changes), -1 with errno EINVAL (NULL) or EPERM (another thread). */
int coil_task_cancel(coil_task *t);

/* Cancellation requests t has received and not yet had delivered or
 * withdrawn: 0 or more, -1 with errno EINVAL.  Does not suspend. */
int coil_task_cancelling(const coil_task *t);

/* Withdraw one pending cancellation request from the calling task, for
 * code that caught ECANCELED and decided to go on.  Returns the requests
 * left, or -1 with errno EPERM outside a task.  Does not suspend. */
int coil_task_uncancel(void);

/* A cleanup handler, for coil_cleanup_push/pop; lives in the caller's
 * frame.  Treat as opaque. */
typedef struct coil_cleanup {
    void (*fn)(void *arg);
    void *arg;
    struct coil_cleanup *prev;
    int open;                     /* pushed and not yet popped */
} coil_cleanup;

void coil__cleanup_push(coil_cleanup *c);
void coil__cleanup_pop(coil_cleanup *c, int execute);
void coil__cleanup_remove(coil_cleanup *c);   /* unlink wherever it is */
__attribute__((noreturn)) void coil__cleanup_left_open(coil_cleanup *c);
/* Runs when the block of a coil_cleanup_push is left by return, break or
 * goto (never by cancellation's unwinding, which does not return). */
static inline void coil__cleanup_leave(coil_cleanup *c)
{
    if (c->open)
        coil__cleanup_left_open(c);
}

/* Push fn(arg) to run if the calling task is unwound by cancellation; pop
 * it (running it if execute is nonzero).  Like pthread_cleanup_push/pop:
 * the two are macros that open and close a block, so they must pair up in
 * one scope (nested pairs are fine).  Outside a task they still pair up;
 * the handler then only runs through pop(1).  A NULL fn is allowed and
 * does nothing.  Neither suspends (but pop(1) runs the handler, which
 * may).  Leaving the block without its pop (return, break, goto) would
 * leave a handler in a dead frame: it is reported on stderr, naming the
 * task, and the process aborts. */
#define coil_cleanup_push(fn, arg)                                          \
    {                                                                       \
        _Pragma("GCC diagnostic push")                                      \
        _Pragma("GCC diagnostic ignored \"-Wshadow\"")                      \
        coil_cleanup coil__cleanup_                                         \
            __attribute__((cleanup(coil__cleanup_leave))) =                 \
                {(fn), (arg), NULL, 0};                                     \
        _Pragma("GCC diagnostic pop")                                       \
        coil__cleanup_push(&coil__cleanup_);
#define coil_cleanup_pop(execute)                                           \
        coil__cleanup_pop(&coil__cleanup_, (execute));                      \
    }

/* Open / close a region of the calling task in which cancellation is not
 * delivered (regions nest).  A request that arrived meanwhile is delivered
 * at the end of the outermost region: there coil_shield_end() unwinds, or
 * in error mode returns -1 with errno ECANCELED.  Otherwise returns 0; -1
 * with errno EPERM outside a task, EINVAL for an end without a begin.
 * Neither call suspends, but the unwinding that coil_shield_end may start
 * runs cleanup handlers, which may suspend. */
int coil_shield_begin(void);
int coil_shield_end(void);

/* ======================================================================
 * Structured concurrency (layer 4)
 * ====================================================================== */

/* A timeout scope (asyncio.timeout()): one deadline over a region of
 * blocking-style code in the calling task.
 *
 *     coil_timeout scope;
 *     if (coil_timeout_begin(&scope, COIL_MSEC(200)) == 0) {
 *         ... any number of suspending calls, however deep ...
 *     }
 *     if (coil_timeout_end(&scope) != 0 && errno == ETIMEDOUT) ...
 *
 * When the deadline passes, the task is cancelled (one request).  In the
 * default mode the unwinding stops at the scope — cleanup handlers pushed
 * inside it run — and coil_timeout_begin "returns" a second time, nonzero,
 * so the region is skipped and coil_timeout_end reports ETIMEDOUT.  If
 * other cancellation requests are pending too (an outer scope that fired at
 * the same time, an explicit coil_task_cancel), the scope does not swallow
 * the cancellation: it keeps unwinding to where those belong, and each
 * scope that fired is reported where it ends.  In COIL_TASK_CANCEL_AS_ERROR
 * mode the suspending call inside returns ECANCELED instead, the code
 * returns to the scope's end on its own, and coil_timeout_end reports
 * ETIMEDOUT (withdrawing the request if it was never delivered).
 *
 * The two calls must pair up in one function, in a task; scopes nest.  As
 * with setjmp, a local variable of that function that the region changes
 * and the code after it reads must be volatile.
 * coil_timeout_begin is a macro (it has to set a jump point in the caller's
 * frame): 0 when entering, nonzero when the deadline unwound to it, or -1
 * with errno EPERM outside a task, EINVAL (scope NULL) or ENOMEM.
 * coil_timeout_end returns 0, or -1 with errno ETIMEDOUT if the deadline
 * fired, EINVAL for a scope that is not the innermost open one (or used
 * outside its task).  Neither call suspends.
 *
 * The function that begins a scope must end it before it returns (as
 * with coil_cleanup_push/pop): the scope lives in its frame.  A task
 * whose function returns with such a scope still open is reported by
 * name on stderr when it ends, and the process aborts; if the task goes
 * on and the scope's deadline fires first, the unwinding jumps into the
 * dead frame — undefined behaviour that no cheap check can catch. */
typedef struct coil_timeout {
    jmp_buf jump;                 /* where the unwinding resumes */
    coil_cleanup catcher;         /* its place in the cleanup chain */
    coil_handle *timer;
    coil_task *task;
    int state;                    /* private */
    int delivered_at_fire;        /* private */
} coil_timeout;

int coil__timeout_arm(coil_timeout *scope, coil_time delay);
#define coil_timeout_begin(scope, delay)                                    \
    (coil__timeout_arm((scope), (delay)) != 0 ? -1 : setjmp((scope)->jump))
int coil_timeout_end(coil_timeout *scope);

/* A task group (asyncio.TaskGroup, libdill's bundle) owns the tasks spawned
 * into it.  coil_group_wait ends its scope: it waits for all of them, and
 * the first one to fail makes the group cancel the rest; the failure is
 * what wait reports.  If the task that made the group is unwound by
 * cancellation before it reaches wait, the group cancels its tasks and
 * waits for their cleanup as part of that unwinding (it sits in the
 * cleanup chain).  Make and wait for a group in one task. */
typedef struct coil_group coil_group;

/* Make an empty group (in a task: bound to its unwinding; outside any
 * task, to the current/default loop).  Does not suspend.  Returns the
 * group, or NULL with errno ENOMEM (or as coil_loop_default). */
coil_group *coil_group_new(void);

/* Spawn fn(arg) into g, as coil_task_spawn; the group keeps the task (do
 * not release it: the pointer is borrowed, valid until wait returns).
 * Does not suspend.  Returns NULL with errno as coil_task_spawn, or
 * ECANCELED if the group is already cancelling after a failure. */
coil_task *coil_group_spawn(coil_group *g, const coil_task_attr *attr,
                            coil_task_fn fn, void *arg, const char *fn_name);
#define coil_group_go(g, fn, arg) coil_group_spawn((g), NULL, (fn), (arg), #fn)

/* Wait for every task of g, then free g.  May suspend.  Returns 0 if all
 * succeeded, or -1 with errno: the first failure's error (ECANCELED if the
 * first to fail was cancelled from outside the group), EINVAL for NULL, or
 * as coil_await for the caller (in error mode, ECANCELED: then g's tasks
 * are cancelled and waited for before it returns). */
int coil_group_wait(coil_group *g);

/* Cancel g as a unit: request cancellation of every task in it (a task
 * of the group calling this cancels itself too, at its next suspension
 * point), and refuse later spawns into it with ECANCELED.  These
 * cancellations are not failures; coil_group_wait still waits for every
 * task's cleanup and then reports ECANCELED, or the error of a task that
 * had failed before the cancel.  Idempotent.  Call it from g's loop
 * thread, from any task or callback (not only the one that made g).
 * Does not suspend.  Returns 0, or -1 with errno EINVAL for NULL. */
int coil_group_cancel(coil_group *g);

/* ======================================================================
 * Generators (layer 4)
 *
 * A generator is a function that produces a sequence of values for the
 * task driving it, one per request, and may wait for anything in between
 * (IO, timers, queues): asyncio's async generators, neco's neco_gen.
 *
 *     static void *lines(coil_gen *g, void *arg) {
 *         char buf[256];
 *         while (coil_stream_read_line(arg, buf, sizeof buf, -1) > 0)
 *             coil_gen_yield(g, strdup(buf));
 *         return NULL;                        ... end of the sequence
 *     }
 *     coil_gen *g = coil_gen_new(NULL, lines, stream);
 *     void *line;
 *     while (coil_gen_next(g, &line, -1) == 1) ...
 *     coil_gen_close(g);
 *
 * The function runs in a task of its own, which first runs at the first
 * coil_gen_next and is suspended in coil_gen_yield from a value until the
 * next request: it never runs ahead by more than the value asked for.
 *
 * End and errors: when the function returns, the sequence ends (next
 * returns 0); when it fails (returns coil_task_error(e)), next returns -1
 * with errno e; when its task is cancelled, with ECANCELED.  Both stay:
 * every later next says the same.
 *
 * Cancellation of the driver: a next that is cancelled or times out
 * loses nothing; a value the generator produces meanwhile is kept for the
 * next call.  Early exit: coil_gen_close cancels a generator that has not
 * ended (it unwinds from its coil_gen_yield or whatever it waits in; its
 * cleanup handlers run, as Python's aclose() raises GeneratorExit), waits
 * for it and frees it.  Every generator is closed exactly once.
 * ====================================================================== */

typedef struct coil_gen coil_gen;

/* A generator's body: yield values with coil_gen_yield(g, v), return to
 * end the sequence (the return value is dropped), or return
 * coil_task_error(e) to end it with an error. */
typedef void *(*coil_gen_fn)(coil_gen *g, void *arg);

/* Make a generator running fn(g, arg) in a task spawned with attr (as
 * coil_task_spawn; attr may be NULL) on the caller's loop.  Does not
 * suspend.  Returns the generator, or NULL with errno as coil_task_spawn
 * (EINVAL for fn NULL) or ENOMEM. */
coil_gen *coil_gen_new(const coil_task_attr *attr, coil_gen_fn fn,
                       void *arg);

/* From inside the generator's function: hand value to the driver and
 * wait until it asks for the next one.  May suspend.  Returns 0, or -1
 * with errno EINVAL (g NULL), EPERM (not g's own task) or ECANCELED (the
 * generator is being closed, in a COIL_TASK_CANCEL_AS_ERROR generator:
 * return from the function; in the default mode it unwinds instead). */
int coil_gen_yield(coil_gen *g, void *value);

/* Ask g for its next value and wait for it until deadline (absolute loop
 * time, negative for none).  Must run in a task; one task at a time per
 * generator.  May suspend.  Returns 1 with the value in *out (out may be
 * NULL), 0 when the sequence has ended, or -1 with errno: the error the
 * generator ended with, ECANCELED (its task was cancelled, or the caller
 * in COIL_TASK_CANCEL_AS_ERROR mode), ETIMEDOUT, EBUSY (another task is
 * inside coil_gen_next on g), EINVAL (g NULL) or EPERM (outside a task,
 * or g belongs to another thread). */
int coil_gen_next(coil_gen *g, void **out, coil_time deadline);

/* g's task, to name, describe or cancel it (the driver's next then fails
 * with ECANCELED).  Does not suspend.  Returns the task (borrowed: valid
 * until coil_gen_close), or NULL for NULL; cannot fail otherwise. */
coil_task *coil_gen_task(coil_gen *g);

/* End g: cancel its task if it has not ended, wait for its cleanup, and
 * free g (values it yielded and nobody took are the caller's loss: a
 * generator that owns them frees them in a cleanup handler).  The wait
 * is shielded: a cancellation of the caller that arrives meanwhile is
 * delivered after g is freed.  Outside a task it runs the loop, as
 * coil_await does.  May suspend.  Returns 0 (g is freed), or -1 with
 * errno EINVAL (NULL, or called by g's own task), EBUSY (a task is inside
 * coil_gen_next on g: cancel it first; or, outside any task, the loop is
 * already running, as for coil_await; nothing freed then) or EPERM
 * (another thread). */
int coil_gen_close(coil_gen *g);

/* ======================================================================
 * Combinators (layer 4)
 *
 * All of these may suspend: inside a task they suspend it, outside any task
 * they run the loop (like coil_await).  None takes over the caller's
 * references to the futures passed in.  A task unwound by cancellation
 * while inside one leaves no callback behind on the futures it watched.
 * ====================================================================== */

/* Error policies for coil_gather(). */
enum {
    /* The first future to fail (error or cancelled) makes gather cancel
     * the rest and return that error at once. */
    COIL_GATHER_FIRST_ERROR = 0,
    /* Wait for all and report each one's error in errors[] (asyncio's
     * return_exceptions=True); gather itself then returns 0. */
    COIL_GATHER_COLLECT_ERRORS = 1
};

/* Wait for all n futures; results[i] (if results is not NULL) gets the
 * i-th result in input order (NULL for a failed one) and errors[i] (if not
 * NULL) 0 or its errno (ECANCELED if cancelled; EAGAIN for an input that
 * a COIL_GATHER_FIRST_ERROR gather left behind, being cancelled).  Returns
 * 0, or -1 with errno: the first failure's error (COIL_GATHER_FIRST_ERROR),
 * EINVAL (fs NULL with n > 0, a NULL entry, bad policy), EDEADLK (the
 * calling task's own future is among them), ENOMEM, or as coil_await for
 * the caller itself.  If the calling task is cancelled while waiting,
 * the futures that are tasks are cancelled too.  May suspend. */
int coil_gather(coil_future *const *fs, size_t n, void **results, int *errors,
                int policy);

/* Modes for coil_wait(). */
enum coil_wait_mode {
    COIL_ALL_COMPLETED = 0,
    COIL_FIRST_COMPLETED = 1,
    COIL_FIRST_EXCEPTION = 2   /* first failure (an error or a
                                  cancellation), else all */
};

/* Wait until mode is satisfied or `timeout` ns pass (negative: no limit).
 * Sorts the futures into done[] and pending[] (each may be NULL; each must
 * have room for n), in input order, storing the counts in *ndone and
 * *npending.  A timeout is not an error: the pending set says what is
 * left; nothing is cancelled.  May suspend.  Returns 0, or -1 with errno
 * EINVAL, ENOMEM or as coil_await for the caller. */
int coil_wait(coil_future *const *fs, size_t n, int mode, coil_time timeout,
              coil_future **done, size_t *ndone, coil_future **pending,
              size_t *npending);

/* Iterate futures in the order they complete.  new: NULL with errno
 * EINVAL / ENOMEM.  next: waits for the next one to complete and stores it
 * in *out (borrowed), returns 0; -1 with errno ENOENT when all have been
 * returned, ETIMEDOUT when `timeout` ns (negative: no limit) since new()
 * have passed, or as coil_await for the caller.  free: NULL ignored.
 * Only next may suspend; new and free do not suspend. */
typedef struct coil_as_completed coil_as_completed;
coil_as_completed *coil_as_completed_new(coil_future *const *fs, size_t n,
                                         coil_time timeout);
int coil_as_completed_next(coil_as_completed *ac, coil_future **out);
void coil_as_completed_free(coil_as_completed *ac);

/* Await f for at most `timeout` ns (negative: no limit).  On time-out,
 * cancel f, wait for its cancellation to finish (a task's cleanup
 * handlers included), and return -1 with errno ETIMEDOUT — unless f, a
 * task, catches that cancellation (COIL_TASK_CANCEL_AS_ERROR) and
 * completes anyway: then, as asyncio's wait_for, its outcome is returned
 * (0 and its result, or its error).  Otherwise as coil_await.  If the
 * calling task is cancelled meanwhile, f is cancelled too.  May suspend. */
int coil_wait_for(coil_future *f, coil_time timeout, void **out);

/* A new future that completes as f does, but whose cancellation does not
 * reach f (asyncio.shield).  The caller holds its one reference.  Does not
 * suspend.  NULL with errno EINVAL or ENOMEM. */
coil_future *coil_shield(coil_future *f);

/* asyncio.run: make a fresh loop, run fn(arg) as the main task until it
 * ends, then cancel every task still alive, let their cleanup finish, and
 * close the loop.  *result (if not NULL) gets main's result.  May not be
 * called from a running loop.  SIGINT during the run cancels the main task
 * (and so, through shutdown, every task); coil_run then returns -1 with
 * errno EINTR.  Returns 0, or -1 with errno: main's error, ECANCELED if
 * main was cancelled, EINTR, EBUSY if a loop is running on this thread, or
 * as coil_loop_new.  Does not suspend: it blocks the calling thread, running
 * the fresh loop, until the main task and the shutdown are done. */
int coil_run(coil_task_fn fn, void *arg, void **result);

/* ======================================================================
 * Synchronisation (layer 5)
 *
 * Lock, event, semaphore, condition, barrier and queue for the tasks of
 * one loop (one thread: they make no attempt to be thread-safe, and a call
 * from another thread than the one that made the object is EPERM).
 *
 * Common to all of them:
 *   - Objects are made with coil_<noun>_new() and freed with
 *     coil_<noun>_free().  Freeing one while a task waits on it (or has
 *     been handed something by it and not yet run), or a lock while it is
 *     held, fails with EBUSY and changes nothing.  free(NULL) is EINVAL.
 *   - Waiters are served in FIFO order: whoever waited longest gets the
 *     lock, the permit, the item, the notification.  Nothing overtakes a
 *     waiter: a try_* call fails with EAGAIN while others wait.
 *   - Every suspending call must run inside a task (outside one: EPERM)
 *     and has an *_until form taking an absolute loop-time deadline
 *     (negative: none), after which it fails with ETIMEDOUT.  A deadline
 *     already past still lets the call succeed if it need not wait.  A
 *     COIL_TASK_CANCEL_AS_ERROR task that is cancelled while waiting gets
 *     ECANCELED; in the default mode it unwinds out of the call.  Calls
 *     that do not need to wait return without suspending: they do not
 *     count against the cooperative budget (coil_budget_set) either.
 *   - Cancellation (or a deadline) never leaves an object inconsistent.
 *     A waiter that is cancelled after it was handed something but before
 *     it ran gives it back: the lock passes to the next waiter, a permit
 *     to the next acquirer (or the count), a condition notification to
 *     the next waiter, a queue item back to the front of the queue (or to
 *     the next getter).  Nothing is lost and no lock stays with a task
 *     that never saw it; in error mode the call then reports ECANCELED.
 * ====================================================================== */

/* A lock (mutex) owned by a task.  Not recursive.  A task that may be
 * unwound while it holds one should push coil_lock_cleanup. */
typedef struct coil_lock coil_lock;

/* Make an unlocked lock.  Does not suspend.  NULL with errno ENOMEM. */
coil_lock *coil_lock_new(void);

/* Free l.  Does not suspend.  Returns 0, or -1 with errno EINVAL, EPERM
 * (another thread), EBUSY (held, or tasks wait for it). */
int coil_lock_free(coil_lock *l);

/* Take l, waiting (FIFO) while another task holds it.  May suspend.
 * Returns 0 with l held by the calling task, or -1 with errno EINVAL,
 * EDEADLK (the caller holds it already), ETIMEDOUT, ECANCELED, EPERM
 * (outside a task, another thread) or ENOMEM (arming the deadline). */
int coil_lock_acquire(coil_lock *l);
int coil_lock_acquire_until(coil_lock *l, coil_time deadline);

/* Take l only if nobody holds it.  Does not suspend.  Returns 0, or -1
 * with errno EAGAIN (held), EDEADLK (by the caller), EINVAL, EPERM
 * (outside a task: a lock is held by a task; another thread). */
int coil_lock_try_acquire(coil_lock *l);

/* Release l, handing it straight to the task that waited longest, if
 * any (FIFO: a task that releases and re-acquires goes behind them).
 * Does not suspend.  Returns 0, or -1 with errno EINVAL, or EPERM if the
 * calling task does not hold l (outside a task, too). */
int coil_lock_release(coil_lock *l);

/* Whether l is held: 1 or 0 (-1 with errno EINVAL).  Does not suspend. */
int coil_lock_locked(const coil_lock *l);

/* coil_lock_release(l) as a cleanup handler:
 * coil_cleanup_push(coil_lock_cleanup, l).  Returns nothing; does not
 * suspend; an error of coil_lock_release is left in errno. */
void coil_lock_cleanup(void *l);

/* An event: a flag that tasks wait for (asyncio.Event). */
typedef struct coil_event coil_event;

/* Make a clear event.  Does not suspend.  NULL with errno ENOMEM. */
coil_event *coil_event_new(void);

/* Free e.  Does not suspend.  Returns 0, or -1 with errno EINVAL, EPERM,
 * EBUSY (tasks wait for it). */
int coil_event_free(coil_event *e);

/* Set e and wake every task waiting for it (each returns 0 even if e is
 * cleared again before it runs).  Works outside a task.  Does not
 * suspend.  Returns 0, or -1 with errno EINVAL or EPERM (another thread). */
int coil_event_set(coil_event *e);

/* Clear e.  Does not suspend.  Returns 0, or -1 with errno EINVAL, EPERM. */
int coil_event_clear(coil_event *e);

/* Whether e is set: 1 or 0 (-1 with errno EINVAL).  Does not suspend. */
int coil_event_is_set(const coil_event *e);

/* Wait until e is set (at once if it is).  May suspend.  Returns 0, or -1
 * with errno EINVAL, ETIMEDOUT, ECANCELED, EPERM or ENOMEM. */
int coil_event_wait(coil_event *e);
int coil_event_wait_until(coil_event *e, coil_time deadline);

/* A counting semaphore.  A bounded one (BoundedSemaphore) refuses a
 * release that would raise its count above the initial value. */
typedef struct coil_sem coil_sem;

/* Make a semaphore with `value` permits; a bounded one never holds more
 * than `value` (which must then be > 0).  Does not suspend.  NULL with
 * errno EINVAL (bounded, value 0) or ENOMEM. */
coil_sem *coil_sem_new(unsigned value);
coil_sem *coil_sem_new_bounded(unsigned value);

/* Free s.  Does not suspend.  Returns 0, or -1 with errno EINVAL, EPERM,
 * EBUSY (tasks wait). */
int coil_sem_free(coil_sem *s);

/* Take a permit, waiting (FIFO) while there is none.  May suspend.
 * Returns 0, or -1 with errno EINVAL, ETIMEDOUT, ECANCELED, EPERM or
 * ENOMEM. */
int coil_sem_acquire(coil_sem *s);
int coil_sem_acquire_until(coil_sem *s, coil_time deadline);

/* Take a permit if one is free.  Works outside a task.  Does not suspend.
 * Returns 0, or -1 with errno EAGAIN, EINVAL, EPERM (another thread). */
int coil_sem_try_acquire(coil_sem *s);

/* Give a permit back: to the task that waited longest, else to the count.
 * Works outside a task; the caller need not have acquired.  Does not
 * suspend.  Returns 0, or -1 with errno EINVAL, EPERM (another thread), or
 * EOVERFLOW: the count would exceed a bounded semaphore's initial value
 * (or UINT_MAX) — a release without an acquire, a bug the bound catches;
 * the count is unchanged. */
int coil_sem_release(coil_sem *s);

/* The permits free now (INT_MAX at most), or -1 with errno EINVAL.  Does
 * not suspend. */
int coil_sem_value(const coil_sem *s);

/* A condition variable, used with a coil_lock (pthread style: the lock is
 * passed to each wait, and may differ between waits). */
typedef struct coil_cond coil_cond;

/* Make a condition.  Does not suspend.  NULL with errno ENOMEM. */
coil_cond *coil_cond_new(void);

/* Free c.  Does not suspend.  Returns 0, or -1 with errno EINVAL, EPERM,
 * EBUSY (tasks wait). */
int coil_cond_free(coil_cond *c);

/* Release l (which the calling task must hold), wait for a notification,
 * then take l back: on every way out — success, ETIMEDOUT, ECANCELED,
 * and in unwind mode before the task's own cleanup handlers run, as
 * pthread_cond_wait does — the task holds l again.  Taking l back is not
 * interrupted by cancellation; a request that arrives meanwhile is
 * delivered once l is held.  Wake-ups are not spurious, but the condition
 * may have changed again before the task runs: re-check it in a loop.
 * A notified waiter that is cancelled passes its notification on to the
 * next waiter.  A deadline already past returns ETIMEDOUT at once, l
 * still held.  May suspend.  Returns 0, or -1 with errno EINVAL, EPERM
 * (l not held by the caller, outside a task, another thread), ETIMEDOUT,
 * ECANCELED or ENOMEM. */
int coil_cond_wait(coil_cond *c, coil_lock *l);
int coil_cond_wait_until(coil_cond *c, coil_lock *l, coil_time deadline);

/* Wake up to n waiters (oldest first) / all of them.  The caller need not
 * hold the lock; works outside a task.  Does not suspend.  Returns 0, or
 * -1 with errno EINVAL or EPERM (another thread). */
int coil_cond_notify(coil_cond *c, size_t n);
int coil_cond_notify_all(coil_cond *c);

/* A barrier for n parties: each waits until n have arrived, then all go
 * on and the barrier is ready for the next round.  It has no "broken"
 * state: a party that times out or is cancelled before the barrier trips
 * takes its arrival back (the others keep waiting for a replacement). */
typedef struct coil_barrier coil_barrier;

/* Make a barrier for `parties` (> 0) tasks.  Does not suspend.  NULL with
 * errno EINVAL or ENOMEM. */
coil_barrier *coil_barrier_new(unsigned parties);

/* Free b.  Does not suspend.  Returns 0, or -1 with errno EINVAL, EPERM,
 * EBUSY (tasks wait). */
int coil_barrier_free(coil_barrier *b);

/* Arrive and wait for the other parties.  May suspend (the last to
 * arrive does not).  Returns 1 for the last party to arrive (like
 * PTHREAD_BARRIER_SERIAL_THREAD), 0 for the others, or -1 with errno
 * EINVAL, ETIMEDOUT, ECANCELED, EPERM or ENOMEM. */
int coil_barrier_wait(coil_barrier *b);
int coil_barrier_wait_until(coil_barrier *b, coil_time deadline);

/* The parties waiting now, or -1 with errno EINVAL.  Does not suspend. */
int coil_barrier_waiting(const coil_barrier *b);

/* A queue of void * items (asyncio.Queue, LifoQueue, PriorityQueue).  The
 * items are the caller's: the queue never frees or dereferences them
 * (except through cmp). */
typedef struct coil_queue coil_queue;

/* Kinds of queue. */
enum {
    COIL_QUEUE_FIFO = 0,     /* oldest item first */
    COIL_QUEUE_LIFO = 1,     /* newest item first */
    COIL_QUEUE_PRIORITY = 2  /* smallest by cmp first; equal ones FIFO */
};

/* Make a queue of `kind` holding at most maxsize items (0: unbounded).
 * cmp(a, b), for COIL_QUEUE_PRIORITY only (NULL for the others), compares
 * two items as qsort's does (negative: a comes out first).  Does not
 * suspend.  NULL with errno EINVAL (unknown kind, cmp missing or
 * superfluous) or ENOMEM. */
coil_queue *coil_queue_new(int kind, size_t maxsize,
                           int (*cmp)(const void *a, const void *b));

/* Free q; items still in it are dropped (they are the caller's).  Does
 * not suspend.  Returns 0, or -1 with errno EINVAL, EPERM, EBUSY (tasks
 * wait on it). */
int coil_queue_free(coil_queue *q);

/* Put item, waiting (FIFO among putters) while a bounded queue is full.
 * An item is handed straight to a waiting getter.  May suspend.  Returns
 * 0, or -1 with errno EINVAL, ESHUTDOWN (q was shut down, before or while
 * waiting: the item was not put), ETIMEDOUT, ECANCELED, EPERM or ENOMEM. */
int coil_queue_put(coil_queue *q, void *item);
int coil_queue_put_until(coil_queue *q, void *item, coil_time deadline);

/* Put item only if there is room now (and no putter waits).  Works
 * outside a task.  Does not suspend.  Returns 0, or -1 with errno EAGAIN,
 * ESHUTDOWN, EINVAL, EPERM (another thread) or ENOMEM. */
int coil_queue_try_put(coil_queue *q, void *item);

/* Take the next item into *out (out may be NULL), waiting (FIFO among
 * getters) while q is empty.  After coil_queue_shutdown the items left
 * are still handed out; then it fails with ESHUTDOWN.  An item handed to
 * a getter that is cancelled before it runs goes back to the front of
 * the queue (or to the next getter), so a bounded queue may briefly hold
 * more than maxsize.  May suspend.  Returns 0, or -1 with errno EINVAL,
 * ESHUTDOWN, ETIMEDOUT, ECANCELED, EPERM or ENOMEM. */
int coil_queue_get(coil_queue *q, void **out);
int coil_queue_get_until(coil_queue *q, void **out, coil_time deadline);

/* Take the next item if there is one.  Works outside a task.  Does not
 * suspend.  Returns 0, or -1 with errno EAGAIN (empty), ESHUTDOWN (empty
 * and shut down), EINVAL, EPERM (another thread). */
int coil_queue_try_get(coil_queue *q, void **out);

/* The items in q now (INT_MAX at most), or -1 with errno EINVAL.  Does
 * not suspend. */
int coil_queue_size(const coil_queue *q);

/* Say that an item got from q has been dealt with.  Every successful put
 * counts one unfinished item; when task_done has been called for all,
 * the joiners wake.  Does not suspend.  Returns 0, or -1 with errno
 * EINVAL (more task_done calls than puts, or NULL), EPERM. */
int coil_queue_task_done(coil_queue *q);

/* Wait until every item put has been marked done (at once if so).
 * Shutdown does not wake joiners: they wait for the task_done calls of
 * the items drained after it.  May suspend.  Returns 0, or -1 with errno
 * EINVAL, ETIMEDOUT, ECANCELED, EPERM or ENOMEM. */
int coil_queue_join(coil_queue *q);
int coil_queue_join_until(coil_queue *q, coil_time deadline);

/* Shut q down: every waiting putter wakes with ESHUTDOWN, and so does
 * every waiting getter (they wait only on an empty queue); from now on
 * puts fail with ESHUTDOWN and gets drain the items left, then fail with
 * ESHUTDOWN.  Idempotent.  Works outside a task.  Does not suspend.
 * Returns 0, or -1 with errno EINVAL or EPERM (another thread). */
int coil_queue_shutdown(coil_queue *q);

/* ======================================================================
 * Select (layer 5)
 *
 * Go's select over coil's queues, events and futures: wait until the
 * first of several operations can be done, do exactly that one, and say
 * which.  A case is a get from or a put into a queue, a wait for an event
 * to be set, or a wait for a future to be done.
 *
 *     coil_select_case c[] = {
 *         {.op = COIL_SELECT_GET, .queue = jobs},
 *         {.op = COIL_SELECT_PUT, .queue = results, .item = r},
 *         {.op = COIL_SELECT_EVENT, .event = quit},
 *     };
 *     switch (coil_select(c, 3, coil_deadline_in(COIL_SEC(1)))) {
 *     case 0: work(c[0].item); break;           ... c[0].error first
 *
 * Fairness: when several cases are ready on entry, one of them is chosen
 * uniformly at random (as Go does), so a busy case cannot starve the
 * others.  When none is, the task waits in the waiter list of every case
 * at once, in each object's FIFO order; the first object to serve it wins
 * and the task is taken off all the other lists in the same step, before
 * anything else can run, so no second case is ever served.
 *
 * Exactly one: a get removes one item, a put adds one, an event or a
 * future case consumes nothing.  A task cancelled while selecting (or
 * whose deadline passes) has performed none of the cases: an item or a
 * slot that was already handed to it goes back exactly as for a
 * cancelled coil_queue_get or coil_queue_put.
 *
 * A queue that is shut down makes its cases ready, as a closed channel
 * does in Go: a put at once, a get once the items left are drained.  The
 * case fires with its `error` set to ESHUTDOWN and nothing performed.
 *
 * The objects must outlive the call.  A queue or event with a selecting
 * task on it is busy (its free fails with EBUSY); a future is held by a
 * reference of its own while the task waits.
 * ====================================================================== */

enum {
    COIL_SELECT_GET = 1,     /* .queue: take an item into .item */
    COIL_SELECT_PUT = 2,     /* .queue: put .item */
    COIL_SELECT_EVENT = 3,   /* .event: wait until it is set */
    COIL_SELECT_FUTURE = 4   /* .future: wait until it is done */
};

typedef struct coil_select_case {
    int op;                  /* COIL_SELECT_* */
    coil_queue *queue;       /* GET, PUT */
    coil_event *event;       /* EVENT */
    coil_future *future;     /* FUTURE: read its outcome yourself */
    void *item;              /* PUT: the item; GET: set to the item got */
    int error;               /* set for the case that fired: 0, or
                                ESHUTDOWN (its queue is shut down) */
} coil_select_case;

/* Wait until one of the n cases can be done, do it, and return its index.
 * Must run in a task.  May suspend (not if a case is ready on entry).
 * Returns the index, or -1 with errno EINVAL (cases NULL, n == 0, an
 * unknown op, or the object its op needs is NULL), EPERM (outside a
 * task, or an object of another thread), ETIMEDOUT (the deadline —
 * absolute loop time, negative for none — passed first: at once if it
 * already had and no case is ready), ECANCELED (COIL_TASK_CANCEL_AS_ERROR
 * tasks; in the default mode cancellation unwinds) or ENOMEM; on every
 * failure no case was performed. */
int coil_select(coil_select_case *cases, size_t n, coil_time deadline);

/* The non-blocking form (Go's select with a default case): do one ready
 * case, chosen as coil_select does, and return its index, or -1 with
 * errno EAGAIN if none is ready.  Works outside a task.  Does not
 * suspend.  Other errors: EINVAL, EPERM (another thread), ENOMEM. */
int coil_select_try(coil_select_case *cases, size_t n);

/* ======================================================================
 * Threads (layer 5)
 *
 * A loop and its tasks belong to one thread, but other threads may hand
 * it work: a callback (coil_call_soon_threadsafe, asyncio's
 * call_soon_threadsafe) or a task (coil_spawn_threadsafe, asyncio's
 * run_coroutine_threadsafe), whose outcome comes back in a thread-safe
 * future.  coil_loop_stop() also works from any thread: the usual way to
 * end a loop that runs forever in a background thread is
 *
 *     coil_loop_stop(loop);          // from main: wakes it, run returns
 *     pthread_join(thread, NULL);    // its thread then closes the loop
 *
 * A loop is reached from other threads through a registry of live loops,
 * never by touching a loop that may be gone: submitting to a loop that has
 * been closed (or to a pointer that never was a loop) fails with
 * ESHUTDOWN, safely, even while the owner is closing it.  Caveat: once a
 * loop is freed its address may be reused by a new loop, which then gets
 * what was meant for the old one — stop submitting to a loop before
 * closing it, as you would with any handle.
 * ====================================================================== */

/* Run fn(arg) on loop's thread, as a callback of its next iteration, from
 * any thread (the loop's own included).  A loop asleep in epoll is woken
 * (eventfd; wake-ups are coalesced).  Callbacks from one thread run in the
 * order submitted; those of different threads interleave in the order
 * they took the inbox's lock.  A flood of them does not hold the loop's
 * tasks back: at most 1,024 run before the tasks that became ready
 * meanwhile get a turn.  Callbacks still undelivered when loop is
 * closed are dropped without running (as coil_call_soon's are).  Does not
 * suspend or block (beyond a short internal lock).  Returns 0, or -1 with
 * errno EINVAL (loop or fn NULL), ESHUTDOWN (loop is closed, or is not a
 * loop), EAGAIN (the loop is behind: as many callbacks and threadsafe
 * spawns as its inbox limit were submitted and have not run yet; back
 * off and retry) or ENOMEM. */
int coil_call_soon_threadsafe(coil_loop *loop, coil_callback fn, void *arg);

/* Bound the callbacks (coil_call_soon_threadsafe) and tasks
 * (coil_spawn_threadsafe) that other threads may have submitted to loop
 * and that have not run yet: past it those calls fail with EAGAIN, so a
 * loop that cannot keep up applies back-pressure instead of growing
 * without bound.  0 means no limit.  The default is 1,048,576 (about
 * 27 MiB of queued submissions).  coil's own cross-thread deliveries
 * (results of thread futures, the executor) are never refused.  From any
 * thread; does not suspend.  Returns 0, or -1 with errno EINVAL (loop
 * NULL) or ESHUTDOWN (no such live loop). */
int coil_loop_set_inbox_limit(coil_loop *loop, size_t limit);

/* Spinning before sleeping.  A loop about to wait in epoll with nothing
 * due within the window, an executor thread about to wait for a job, and
 * a plain thread in coil_tfuture_wait, first watch for a hand-off from another thread in user space, with CPU
 * pause hints (and sched_yield() in the window's second half).  A
 * submitter that finds the other side spinning skips the eventfd or futex
 * wake-up, which costs about 10 us on a VM: a cross-thread round trip pays
 * two.  The window adapts per loop and per waiting thread: it starts at
 * zero; when the thread was woken from the kernel by a hand-off that came
 * within the ceiling, it grows to at least twice the time that hand-off
 * took; it halves whenever a spin finds nothing or a hand-off took longer
 * than the ceiling.  So a thread with no cross-thread traffic never spins
 * and an idle one spins at most once, for the window, before it sleeps at
 * no CPU cost.  A spinning loop
 * still looks at its fds (with a zero-timeout epoll) every 16 us.
 *
 * coil_spin_set_window sets the ceiling of every window, process-wide, in
 * ns: 0 turns spinning off, at most 10 ms.  The default is 50 us, or
 * COIL_SPIN_USEC=<us> from the environment (read at first use; an
 * unparsable or out-of-range value gives the default).  From any thread;
 * does not suspend.  Returns 0, or -1 with errno EINVAL (negative or over
 * 10 ms).  coil_spin_window returns the ceiling; it cannot fail. */
int coil_spin_set_window(coil_time ns);
coil_time coil_spin_window(void);

/* A thread-safe future: the outcome of a task spawned from another thread.
 * Unlike a coil_future it may be waited for, read, cancelled, retained and
 * released from any thread.  States: pending, then done with a result or
 * an error, or cancelled (reported as the error ECANCELED). */
typedef struct coil_tfuture coil_tfuture;

/* Spawn fn(arg) as a task on loop (running in another thread, or this
 * one), from any thread; the task is made on loop's thread at its next
 * iteration.  fn_name (the macro passes #fn) must be a string that lives
 * for ever.  Returns a thread-safe future holding the task's outcome; the
 * caller holds its one reference (coil_tfuture_release).  If loop is
 * closed before the task was made, the future completes with ESHUTDOWN;
 * if loop is closed while the task is still pending, the task is
 * abandoned with it and the future never completes (wait with a timeout,
 * or stop submitting before closing).  Does not suspend.  NULL with errno
 * EINVAL (loop or fn NULL), ESHUTDOWN (loop is closed), EAGAIN (over the
 * loop's inbox limit: coil_loop_set_inbox_limit) or ENOMEM; a
 * failure to make the task on loop (ENOMEM, ...) is the future's error. */
coil_tfuture *coil_task_spawn_threadsafe(coil_loop *loop, coil_task_fn fn,
                                         void *arg, const char *fn_name);
#define coil_spawn_threadsafe(loop, fn, arg)                                \
    coil_task_spawn_threadsafe((loop), (fn), (arg), #fn)

/* Wait for f for at most `timeout` ns (negative: no limit) and read its
 * outcome.  In a plain thread (no task running) this blocks the thread:
 * it first watches f for a short adaptive window (the spin of
 * coil_spin_set_window: a reply that lands in it costs neither thread a
 * kernel wake-up), then sleeps on a condition variable.  Inside a task — on any loop — it
 * suspends the task instead, and its loop runs on: the completing loop
 * tells the waiting loop through its inbox.  Returns 0 and stores the
 * result in *out (if out is not NULL), or -1 with errno: the task's error,
 * ECANCELED (the task was cancelled), ESHUTDOWN (its loop closed before it
 * started), ETIMEDOUT (f still pending after timeout), EINVAL (NULL),
 * EDEADLK (outside a task, on the thread that owns f's loop while f is
 * pending: nothing would run the loop), or, in a task, as coil_await (a
 * cancelled task unwinds, leaving nothing registered on f; error mode
 * gives ECANCELED) or ENOMEM.  May suspend (in a task) or block. */
int coil_tfuture_wait(coil_tfuture *f, coil_time timeout, void **out);

/* Read f's outcome without waiting, as coil_tfuture_wait does once f is
 * done; -1 with errno EAGAIN while pending.  Returns 0 and the result in
 * *out as coil_tfuture_wait would.  Any thread.  Does not suspend or block
 * beyond a short lock. */
int coil_tfuture_result(coil_tfuture *f, void **out);

/* 1 if f is done or cancelled, 0 if pending, -1 with errno EINVAL.  Any
 * thread; does not suspend. */
int coil_tfuture_done(coil_tfuture *f);

/* Ask for the task to be cancelled: the request is forwarded to its loop
 * (coil_call_soon_threadsafe) and delivered there as coil_task_cancel
 * would (a task not yet started never runs); the future then reports
 * ECANCELED — unless the task ended first, or caught the cancellation and
 * returned something else.  Repeated requests are one request.  Any
 * thread; does not suspend.  Returns 1 if a request is (or already was)
 * on its way, 0 if f is already done, -1 with errno EINVAL (NULL),
 * ESHUTDOWN (the task's loop is closed) or ENOMEM. */
int coil_tfuture_cancel(coil_tfuture *f);

/* Take another reference to f / drop one (the last frees it; the pending
 * task keeps its own until it ends).  Any thread; NULL ignored.  Retain
 * returns f; release returns 0.  Do not suspend; cannot fail. */
coil_tfuture *coil_tfuture_retain(coil_tfuture *f);
int coil_tfuture_release(coil_tfuture *f);

/* ======================================================================
 * Executor (layer 5)
 *
 * A bounded pool of threads that runs blocking functions for tasks
 * (asyncio's to_thread / run_in_executor): name resolution, file IO, a
 * library that blocks.  One pool per process, shared by the tasks of every
 * loop on every thread; its threads start at the first coil_to_thread,
 * have every signal blocked, and live as long as the process.  Like any
 * thread they inherit the CPU affinity of the thread that makes them,
 * the one whose call first uses the pool (coil_to_thread, coil_file_open,
 * ...): if it is pinned to one CPU, so is the whole pool, and blocking
 * work shares that CPU with the loop.  A program that pins its loops'
 * threads can start the pool before it pins (a coil_run whose task makes
 * one coil_to_thread call) or pin after the first call.  Its queue of
 * jobs not yet started is bounded: a task that finds it full suspends
 * (its loop runs on) until a slot frees, served in FIFO order — back-
 * pressure, never unbounded growth.
 * ====================================================================== */

/* Size the pool (threads, default 4) and its queue (jobs waiting for a
 * thread, default 256).  Only before the pool's first use.  Do not
 * suspend.  Return 0, or -1 with errno EINVAL (0, or more than 1024
 * threads / 1M jobs) or EBUSY (the pool has started). */
int coil_executor_set_threads(size_t n);
int coil_executor_set_queue_size(size_t n);

/* Run fn(arg) on a pool thread; the calling task suspends (its loop runs
 * on) until fn returns, and *result (if not NULL) gets fn's return value.
 * The completion comes back through the caller's loop's inbox
 * (coil_call_soon_threadsafe).  fn runs outside any task and loop: it
 * must not call coil's suspending functions.  A task cancelled while it
 * waits — for a queue slot or for fn — returns at once (unwinds, or in
 * error mode gets ECANCELED): a job still queued is withdrawn and fn never
 * runs; a running fn is left to finish and its late result is discarded.
 * So arg must stay valid until fn returns even if the caller has gone:
 * for that, coil_to_thread_ex takes abandon(arg, result), called exactly
 * once whenever the call does not return 0 (failure or unwinding) — on a
 * pool thread or the caller's, once fn has finished with arg (result is
 * fn's, or NULL if fn never ran) — to free what arg and a late result
 * own.  If the caller's loop is closed while fn runs, the result is
 * dropped (the waiting task is abandoned with its loop).
 * May suspend; must run in a task.  Returns 0, or -1 with errno EINVAL
 * (fn NULL), EPERM (outside a task), ENOMEM, EAGAIN (no pool thread could
 * be started), ECANCELED (COIL_TASK_CANCEL_AS_ERROR tasks). */
int coil_to_thread(void *(*fn)(void *), void *arg, void **result);
int coil_to_thread_ex(void *(*fn)(void *), void *arg, void **result,
                      void (*abandon)(void *arg, void *result));

/* ======================================================================
 * IO (layer 5)
 *
 * Blocking-style fd IO for tasks.  Each call behaves like its POSIX
 * namesake (-1 and errno) and tries the syscall first: it suspends the
 * calling task only when the syscall says EAGAIN, then retries once the
 * loop's epoll reports the fd ready, while other tasks run.  Every call
 * has an *_until form taking an absolute loop-time deadline
 * (coil_loop_time(coil_loop_current()) + COIL_MSEC(500), say, or
 * coil_clock() + ...: the same clock; negative: none): once it
 * passes while the call waits, the call fails with ETIMEDOUT.  A deadline
 * already past still lets the first syscall try.
 *
 * Common to all of them:
 *   - They may suspend, and must run inside a task: outside one they fail
 *     with EPERM (coil_close excepted: it never suspends).
 *   - Sockets and pipes are left as they are: every read and write of a
 *     socket passes MSG_DONTWAIT, and a pipe is read and written with
 *     preadv2/pwritev2 and RWF_NOWAIT where the kernel takes that flag on
 *     pipes (Linux 5.x and later; not in a ThreadSanitizer build, whose
 *     runtime does not see those calls), so the program's own stdio on
 *     the fd still blocks as it expects.  A listening socket is made O_NONBLOCK
 *     at its first coil_accept; coil_connect sets the flag around its
 *     connect(2) only.  Any other fd (a named FIFO, a terminal, an
 *     eventfd; a pipe where the kernel refuses RWF_NOWAIT) is switched to
 *     O_NONBLOCK before its first read or write, for good (waiting for
 *     it with coil_wait_fd does not switch it).  That flag belongs to the open
 *     file description, so it is shared with dup()s of the fd and with
 *     other processes holding it (a terminal inherited from a shell!).
 *   - Close an fd used with coil with coil_close() (or through the hook
 *     layer, docs/hooks.md): coil keeps a record per fd number (per loop)
 *     that a plain close() leaves stale.  A stale record is found out
 *     before it can do harm: sockets are read and written with
 *     MSG_DONTWAIT, pipes with RWF_NOWAIT, other fds are checked for
 *     O_NONBLOCK before each syscall, and a wait that lasts 50 to 100 ms checks the file's
 *     identity (st_dev, st_ino) once; the record is then made afresh for
 *     the new fd and the wait goes on.  So an fd that inherits a stale
 *     record's number costs at most a few extra syscalls and that delay,
 *     never a blocking call on the loop's thread nor a wait that cannot
 *     wake (docs/hooks.md, "Stale records").  Another task waiting on the
 *     old fd wakes with EBADF when that happens.
 *   - At most one task waits to read, and one to write, an fd at a time:
 *     a second that would have to wait fails with EBUSY (two readers of
 *     one stream would get its bytes interleaved; give each fd one reader
 *     task and one writer).  coil_wait_fd fails so at once.
 *   - Errors besides the syscall's own: ETIMEDOUT (deadline passed), EBADF
 *     (bad fd, or closed with coil_close while the call waited), EBUSY (as
 *     above), ECANCELED (cancelled, COIL_TASK_CANCEL_AS_ERROR tasks; in the
 *     default mode a cancelled task unwinds out of the call, which leaves
 *     no waiter or timer behind), ENOMEM, EPERM (outside a task).
 *   - A peer that closes gives EOF (0) on reads; writes then fail with
 *     EPIPE (or ECONNRESET), never with SIGPIPE killing the process:
 *     sockets are written with send(MSG_NOSIGNAL); pipes and other fds
 *     with SIGPIPE blocked in the calling thread around the write, the one
 *     it raised consumed with sigtimedwait (a thread that blocks SIGPIPE
 *     itself keeps it pending, as it arranged).
 *   - Fairness: a task whose fd always has data would never wait in these
 *     calls.  They count against the task's cooperative budget
 *     (coil_budget_set): after coil_budget() of them (128 by default)
 *     without a suspension, the next one yields before it does anything,
 *     then goes on as it would have.
 *     So "may suspend" includes that yield, even when the fd is ready;
 *     no coil_yield() of your own is needed in a read loop.
 * ====================================================================== */

/* Events for coil_wait_fd. */
#define COIL_READABLE 0x1u
#define COIL_WRITABLE 0x2u

/* Wait until fd is readable or writable (events: COIL_READABLE,
 * COIL_WRITABLE, or both for "either"), for anything the IO calls below do
 * not cover.  "Readable" includes EOF, hang-up and a pending error, as
 * with poll(2); a regular file is always ready.  Readiness that arrived
 * while nobody waited counts, and a readiness coil remembers is checked
 * with poll(2) first, so draining the fd with plain syscalls in between is
 * fine.  The deadline is absolute loop time, negative for none.  May
 * suspend.  Never switches fd to O_NONBLOCK: the fd's mode is as the
 * caller left it.  Returns 0 when ready (with both events, try both
 * operations), or -1 with errno ETIMEDOUT, EBADF, EBUSY (another task
 * already waits for that direction on fd), EINVAL (events 0 or unknown
 * bits), ECANCELED, ENOMEM or EPERM, as above. */
int coil_wait_fd(int fd, unsigned events, coil_time deadline);

/* read(2), readv(2), recv(2).  Return the bytes read, 0 at EOF (or for
 * n == 0), or -1 with errno as the syscall or as above.  recv with
 * MSG_DONTWAIT in flags returns EAGAIN instead of waiting.  May suspend. */
ssize_t coil_read(int fd, void *buf, size_t n);
ssize_t coil_read_until(int fd, void *buf, size_t n, coil_time deadline);
ssize_t coil_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t coil_readv_until(int fd, const struct iovec *iov, int iovcnt,
                         coil_time deadline);
ssize_t coil_recv(int fd, void *buf, size_t n, int flags);
ssize_t coil_recv_until(int fd, void *buf, size_t n, int flags,
                        coil_time deadline);

/* write(2), writev(2), send(2) (MSG_NOSIGNAL is always added).  Return
 * the bytes written — possibly fewer than asked, as POSIX allows; see
 * coil_write_all — or -1 with errno as the syscall (EPIPE, ECONNRESET
 * when the peer is gone) or as above.  May suspend. */
ssize_t coil_write(int fd, const void *buf, size_t n);
ssize_t coil_write_until(int fd, const void *buf, size_t n,
                         coil_time deadline);
ssize_t coil_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t coil_writev_until(int fd, const struct iovec *iov, int iovcnt,
                          coil_time deadline);
ssize_t coil_send(int fd, const void *buf, size_t n, int flags);
ssize_t coil_send_until(int fd, const void *buf, size_t n, int flags,
                        coil_time deadline);

/* recvmsg(2) and sendmsg(2), for scatter/gather with addresses and
 * ancillary data (SCM_RIGHTS fd passing over Unix sockets, say).  msg is
 * the caller's and is used as the syscall uses it (recvmsg fills in
 * msg_namelen, msg_controllen and msg_flags).  recvmsg always adds
 * MSG_CMSG_CLOEXEC, so fds received are close-on-exec like every fd coil
 * makes (clear FD_CLOEXEC to hand one to a child); sendmsg always adds
 * MSG_NOSIGNAL.  MSG_DONTWAIT in flags returns EAGAIN instead of waiting.
 * A receiver whose msg_control is too small for the fds sent gets
 * MSG_CTRUNC in msg_flags and the kernel closes the ones that did not
 * fit.  Return the
 * bytes received (0 at EOF) or sent, or -1 with errno as the syscall or as
 * above.  May suspend. */
ssize_t coil_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t coil_recvmsg_until(int fd, struct msghdr *msg, int flags,
                           coil_time deadline);
ssize_t coil_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t coil_sendmsg_until(int fd, const struct msghdr *msg, int flags,
                           coil_time deadline);

/* Read exactly n bytes, looping over short reads, or until EOF.  Returns
 * n, or fewer (0 to n - 1) if EOF came first, or -1 with errno as
 * coil_read; the deadline covers the whole transfer.  Whatever happens,
 * *done (if done is not NULL) holds the bytes read into buf, so the
 * progress before an error is not lost.  EINVAL if n > SSIZE_MAX.  May
 * suspend. */
ssize_t coil_read_full(int fd, void *buf, size_t n, size_t *done);
ssize_t coil_read_full_until(int fd, void *buf, size_t n, size_t *done,
                             coil_time deadline);

/* Write all n bytes, looping over short writes.  Returns n, or -1 with
 * errno as coil_write; *done (if not NULL) holds the bytes written before
 * the error (they are gone: the peer may have them).  The deadline covers
 * the whole transfer.  EINVAL if n > SSIZE_MAX.  May suspend. */
ssize_t coil_write_all(int fd, const void *buf, size_t n, size_t *done);
ssize_t coil_write_all_until(int fd, const void *buf, size_t n, size_t *done,
                             coil_time deadline);

/* accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK: waits for a connection on
 * the listening socket fd.  addr and addrlen as accept(2) (both may be
 * NULL).  Returns the new fd, or -1 with errno as accept4 (ECONNABORTED,
 * EMFILE, ...) or as above.  May suspend.  EMFILE and its kin return at
 * once, the connection still queued: back off before retrying (see
 * "Sockets" below). */
int coil_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int coil_accept_until(int fd, struct sockaddr *addr, socklen_t *addrlen,
                      coil_time deadline);

/* connect(2) without blocking the loop: starts the connection, waits until
 * the socket is writable, then reads SO_ERROR.  Returns 0 once connected,
 * or -1 with errno as connect(2) (ECONNREFUSED, ENETUNREACH, EAGAIN for a
 * full Unix-socket backlog, ...) or as above.  After ETIMEDOUT or
 * ECANCELED the attempt may still be under way: close the socket.  May
 * suspend. */
int coil_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
int coil_connect_until(int fd, const struct sockaddr *addr, socklen_t addrlen,
                       coil_time deadline);

/* Close fd: tasks of this thread's loop waiting on it wake with EBADF, it
 * leaves the loop's epoll and coil's records, then close(2).  Does not
 * suspend; works outside a task too (it then acts on the running loop, or
 * the thread's default loop if one exists).  Returns as close(2): 0, or -1
 * with errno EBADF, EIO, ... (on Linux the fd is released even then). */
int coil_close(int fd);

/* ======================================================================
 * Sockets (layer 5)
 *
 * Helpers that make, bind, listen and connect sockets, on top of the IO
 * calls above; what they return is an ordinary fd, read and written with
 * coil_read/coil_write/..., accepted from with coil_accept, and closed
 * with coil_close.  Every socket they make is SOCK_CLOEXEC | SOCK_NONBLOCK.
 *
 * Addresses are numeric: an IPv4 dotted quad ("127.0.0.1") or an IPv6
 * address ("::1", no brackets, no "%scope").  Only coil_tcp_dial also
 * takes a host name, resolved with getaddrinfo on the executor (it blocks
 * in libc).  Ports are host-order ints.
 *
 * Running out of fds while accepting.  coil_accept fails with EMFILE
 * (ENFILE, ENOBUFS, ENOMEM) at once and leaves the connection queued in
 * the listener's backlog, so the listener stays readable: a loop that
 * calls coil_accept again straight away spins on the CPU until an fd is
 * freed.  coil does not hide this (dropping the connection, libuv's
 * reserve-fd trick, or retrying behind the caller's back are policies a
 * server should choose); the loop itself never spins on it (epoll is
 * edge-triggered), and coil_accept lets the loop run once (a yield, where
 * a cancellation is delivered) before it reports the error, so even a
 * server that retries at once keeps serving its other tasks, timers and
 * signals — SIGTERM still stops it.  A server backs off and retries, for
 * example
 *
 *     for (coil_time pause = COIL_MSEC(1);;) {
 *         int c = coil_accept(lfd, NULL, NULL);
 *         if (c >= 0) { pause = COIL_MSEC(1); ...spawn a handler...; }
 *         else if (errno == EMFILE || errno == ENFILE ||
 *                  errno == ENOBUFS || errno == ENOMEM) {
 *             coil_sleep(pause);               // starved: no busy loop
 *             if (pause < COIL_MSEC(100)) pause *= 2;
 *         } else if (errno != ECONNABORTED && errno != EINTR) break;
 *     }
 *
 * and accepts again as soon as a retry finds an fd free (examples/
 * 12_echo_server.c; tests/net_test.c checks the CPU it uses meanwhile).
 * ====================================================================== */

/* Flags for coil_tcp_listen. */
#define COIL_REUSEPORT 0x1u   /* SO_REUSEPORT: several listeners (one per
                                 loop/thread) share the port */

/* A TCP socket bound to addr:port and listening, with SO_REUSEADDR always
 * set (a restarted server can bind while old connections are in
 * TIME_WAIT).  addr NULL or "" means every IPv4 interface (0.0.0.0); "::"
 * means every IPv6 interface (and IPv4 too, unless the system sets
 * net.ipv6.bindv6only).  port 0 asks the kernel for a free port:
 * coil_socket_port() tells which.  backlog goes to listen(2) as is
 * (the kernel caps it at net.core.somaxconn).  flags: 0 or COIL_REUSEPORT.
 * Does not suspend; works outside a task.  Returns the listening fd, or -1
 * with errno EINVAL (address not numeric, port outside 0..65535, backlog
 * < 0, unknown flags), or as socket/bind/listen (EADDRINUSE, EACCES,
 * EADDRNOTAVAIL, EAFNOSUPPORT where IPv6 is off, EMFILE, ...). */
int coil_tcp_listen(const char *addr, int port, int backlog, unsigned flags);

/* Connect a TCP socket to addr:port (port 1..65535) by the absolute
 * loop-time deadline (negative: none; the kernel's own SYN retries give up
 * after about two minutes).  A numeric IPv4 or IPv6 addr is used as is;
 * otherwise a host name (letters, digits, '-' and '.', not only digits
 * and dots: those are malformed numeric addresses) is resolved by
 * getaddrinfo on the executor (coil_to_thread) and its addresses are tried
 * in getaddrinfo's order until one connects, each attempt bounded by the
 * same deadline.  TCP_NODELAY is set: request/response traffic should not
 * wait for Nagle.  May suspend; must run in a task.  Returns the connected
 * fd, or -1 with errno EINVAL (NULL, malformed numeric addr or not a host
 * name, bad port), ECONNREFUSED, ETIMEDOUT (the deadline passed, also
 * while resolving: the lookup then finishes in the background),
 * ENETUNREACH, EAFNOSUPPORT, EMFILE, ECANCELED, EPERM (outside a task),
 * ENOENT (the name does not resolve), EAGAIN (temporary resolver
 * failure), ...; for a host name, the error of the last address tried.
 * On failure nothing is left open.  The resolver's own reason, when the
 * lookup failed, is coil_gai_error()'s. */
int coil_tcp_dial(const char *addr, int port, coil_time deadline);

/* The getaddrinfo result (0 or an EAI_* code, for gai_strerror) of the
 * last host name lookup that this thread's coil_tcp_dial completed: read
 * it right after a dial that failed with ENOENT, EAGAIN or EINVAL to
 * learn why (EAI_NONAME, EAI_SERVICE, EAI_ADDRFAMILY...).  A lookup cut
 * off by the deadline leaves it unchanged.  Does not suspend; cannot
 * fail. */
int coil_gai_error(void);

/* The local port fd is bound to (for a listener made with port 0), in
 * host order.  Does not suspend.  Returns 0..65535, or -1 with errno
 * EINVAL (not an IPv4/IPv6 socket) or as getsockname (EBADF, ENOTSOCK). */
int coil_socket_port(int fd);

/* A Unix-domain stream socket listening at path.  A path starting with '@'
 * names the Linux abstract namespace (the '@' becomes the leading NUL; no
 * file is made, and the name goes when the socket closes).  Otherwise a
 * socket file is created; an existing one gives EADDRINUSE, and removing
 * it after closing is the caller's job (unlink(2)).  Does not suspend.
 * Returns the listening fd, or -1 with errno EINVAL (path NULL, empty,
 * just "@", or longer than sun_path holds: 107 bytes), backlog < 0, or as
 * socket/bind/listen (EADDRINUSE, EACCES, ENOENT, ...). */
int coil_unix_listen(const char *path, int backlog);

/* Connect a Unix-domain stream socket to path ('@': abstract, as above) by
 * the deadline.  A listener whose backlog is full makes connect(2) fail
 * with EAGAIN at once rather than wait; that is returned as is.  May
 * suspend; must run in a task.  Returns the connected fd, or -1 with errno
 * EINVAL (path as above), ENOENT, ECONNREFUSED, EAGAIN, ETIMEDOUT,
 * ECANCELED, EPERM (outside a task), EMFILE, ...  Nothing is left open on
 * failure. */
int coil_unix_dial(const char *path, coil_time deadline);

/* A UDP socket bound to addr:port (addr and port as coil_tcp_listen; port
 * 0: any free port).  SO_REUSEADDR is not set.  Does not suspend.  Returns
 * the fd, or -1 with errno EINVAL or as socket/bind. */
int coil_udp_bind(const char *addr, int port);

/* recvfrom(2) and sendto(2) (MSG_NOSIGNAL is always added), as the IO
 * calls above: they wait while the socket says EAGAIN, up to the deadline;
 * MSG_DONTWAIT in flags returns EAGAIN instead.  For UDP a datagram larger
 * than n is truncated, as recvfrom(2) does (MSG_TRUNC tells).  addr and
 * addrlen as the syscall (NULL: no address).  Return the bytes received
 * or sent, or -1 with errno as the syscall or as the IO section says.  May
 * suspend; must run in a task. */
ssize_t coil_recvfrom(int fd, void *buf, size_t n, int flags,
                      struct sockaddr *addr, socklen_t *addrlen);
ssize_t coil_recvfrom_until(int fd, void *buf, size_t n, int flags,
                            struct sockaddr *addr, socklen_t *addrlen,
                            coil_time deadline);
ssize_t coil_sendto(int fd, const void *buf, size_t n, int flags,
                    const struct sockaddr *addr, socklen_t addrlen);
ssize_t coil_sendto_until(int fd, const void *buf, size_t n, int flags,
                          const struct sockaddr *addr, socklen_t addrlen,
                          coil_time deadline);

/* ======================================================================
 * Streams (layer 5)
 *
 * A buffered stream over one fd (a socket, a pipe, anything the IO calls
 * above can wait on): asyncio's StreamReader and StreamWriter, Go's
 * bufio.  Reads fill a read buffer and hand out lines, delimited records
 * or exact counts; writes fill a write buffer that drain/flush send.  See
 * docs/streams.md for the mapping from asyncio.
 *
 *   - The calls that may wait take an absolute loop-time deadline
 *     (negative: none; coil_deadline_in() makes one) and fail with
 *     ETIMEDOUT once it passes.  They must run inside a task (EPERM
 *     outside one); the others work anywhere on the stream's thread.
 *   - Cancellation as everywhere in coil: the default mode unwinds out of
 *     the call, COIL_TASK_CANCEL_AS_ERROR returns -1 with ECANCELED.  In
 *     both, and after ETIMEDOUT or any other error, a read call consumes
 *     nothing (except at EOF, below): every byte it had taken is back in
 *     the read buffer and the next read sees it.  A write call keeps
 *     unsent bytes buffered, in order.
 *   - One reading task and one writing task at a time: a read call while
 *     another task is inside one on the same stream fails with EBUSY at
 *     once (even if data is buffered), and so does drain/flush/write_eof
 *     while another task is inside one of those.  coil_stream_write never
 *     suspends, so any task (or code outside tasks) may add to the write
 *     buffer at any time, also while a writer drains it.
 *   - Buffered data on errors: read-side errors (a reset connection, say)
 *     leave the bytes already buffered readable before the error is
 *     reported.  A write that fails for a reason other than ETIMEDOUT,
 *     ECANCELED or EBUSY (EPIPE, ECONNRESET, ...) breaks the write side for
 *     good: its buffered bytes are dropped and every later write, drain or
 *     flush fails with the same errno.
 *   - Fairness: every read call counts against the task's cooperative
 *     budget (coil_budget_set), even one that the buffer serves, and so
 *     do the fd reads and writes the calls make.  A call that finds the
 *     budget spent yields at its start, already inside the stream (a
 *     second reader gets EBUSY, coil_stream_close EBUSY) and before it
 *     has consumed or sent anything.  So "may suspend" holds even with
 *     data buffered, and drain may yield below high water.
 *   - The fd: as the IO calls leave it (a socket or pipe stays as it is,
 *     anything else is switched to O_NONBLOCK).
 *     It closes it in coil_stream_close only if it owns it
 *     (COIL_STREAM_OWN_FD; streams from coil_stream_dial/accept do).
 *   - A stream belongs to the thread that made it: other threads get
 *     EPERM.  NULL streams give EINVAL.
 * ====================================================================== */

typedef struct coil_stream coil_stream;

/* Flags for coil_stream_attr.flags. */
enum {
    /* The stream owns its fd: coil_stream_close closes it (coil_close). */
    COIL_STREAM_OWN_FD = 1u << 0
};

/* How a stream buffers; zero fields take the defaults. */
typedef struct coil_stream_attr {
    size_t read_size;    /* read buffer, bytes; 0: 16 KiB.  It grows to
                            hold a line, record or peek longer than this,
                            up to the size that call allows */
    size_t high_water;   /* drain waits only above this many buffered
                            bytes; 0: 64 KiB */
    size_t low_water;    /* ...and then until at most this many are left;
                            0: high_water / 4.  Must not exceed high_water */
    unsigned flags;      /* COIL_STREAM_* */
} coil_stream_attr;

/* Make a stream over fd (attr NULL: defaults).  Does not suspend.  Returns
 * the stream, or NULL with errno EBADF (fd is not an open fd), EINVAL (a
 * flags bit that is no COIL_STREAM_* flag, low_water > high_water) or
 * ENOMEM.  On failure the fd is left open, whatever the flags say. */
coil_stream *coil_stream_new(int fd, const coil_stream_attr *attr);

/* Free s, dropping whatever is still buffered either way (flush first to
 * send it), and close its fd with coil_close if s owns it.  Does not
 * suspend.  Returns 0, or -1 with errno EINVAL (NULL), EPERM (another
 * thread), EBUSY (a task is inside a read or write call on s: s is left
 * as it was), or as coil_close (s is freed all the same). */
int coil_stream_close(coil_stream *s);

/* The fd under s, or -1 with errno EINVAL.  Does not suspend. */
int coil_stream_fd(const coil_stream *s);

/* Connect to host:port as coil_tcp_dial (a numeric address or a host
 * name) and make a stream owning the socket (attr as coil_stream_new; its
 * flags get COIL_STREAM_OWN_FD).  asyncio's open_connection.  May
 * suspend; must run in a task.  Returns the stream, or NULL with errno as
 * coil_tcp_dial or coil_stream_new (nothing is left open). */
coil_stream *coil_stream_dial(const char *host, int port,
                              const coil_stream_attr *attr,
                              coil_time deadline);

/* Accept a connection on the listening socket lfd (coil_accept_until) and
 * make a stream owning it.  May suspend; must run in a task.  Returns the
 * stream, or NULL with errno as coil_accept_until or coil_stream_new
 * (nothing is left open). */
coil_stream *coil_stream_accept(int lfd, const coil_stream_attr *attr,
                                coil_time deadline);

/* A connection's handler for coil_stream_serve: serve s, then return.
 * It runs in a task of its own; the server closes s after it returns (or
 * is unwound), so any task it gave s to must have left s by then. */
typedef void (*coil_stream_handler)(coil_stream *s, void *arg);

/* How coil_stream_serve serves; zero fields take the defaults. */
typedef struct coil_serve_attr {
    size_t max_conns;                /* connections served at once; 0:
                                        1024.  At the cap the server stops
                                        accepting (the backlog holds the
                                        rest) until one ends */
    const coil_stream_attr *stream;  /* each connection's stream; NULL:
                                        defaults (it owns its fd) */
    const coil_task_attr *task;      /* each connection's task; NULL:
                                        defaults */
} coil_serve_attr;

/* asyncio's start_server + serve_forever: accept connections on the
 * listening socket lfd and run fn(stream, arg) for each, in a task per
 * connection, at most attr->max_conns at once.  Runs in the calling task
 * until it is cancelled or accepting fails for good; never returns
 * otherwise.  Transient accept errors are ridden out: out of fds or
 * memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) pause accepting, 1 ms doubling
 * to 100 ms, as coil.h's "Sockets" section advises; a connection aborted
 * before it was accepted is skipped.  On every way out — cancellation of
 * the calling task (either mode), or an accept error such as EBADF after
 * lfd was coil_close()d — the server cancels the connection tasks still
 * running, waits (shielded) until every one has ended and its stream is
 * closed, and only then returns or unwinds.  lfd stays open (the
 * caller's).  May suspend; must run in a task.  Returns only -1, with
 * errno EINVAL (fn NULL, a bad attr->stream), EPERM (outside a task),
 * ECANCELED (COIL_TASK_CANCEL_AS_ERROR callers; the default mode unwinds),
 * or as coil_accept_until for a lasting accept error. */
int coil_stream_serve(int lfd, const coil_serve_attr *attr,
                      coil_stream_handler fn, void *arg);

/* Read up to n bytes: what is buffered, else one read of the fd, straight
 * into buf (no copy) when n is at least the read buffer's size.  May
 * suspend.  Returns the bytes read (at least 1 for n > 0), 0 at EOF or
 * for n == 0, or -1 with errno EINVAL (buf NULL with n > 0), EBUSY,
 * ETIMEDOUT, ECANCELED, EPERM, or as coil_read. */
ssize_t coil_stream_read_some(coil_stream *s, void *buf, size_t n,
                              coil_time deadline);

/* Read one line, through its '\n' (a "\r\n" line keeps its '\r'), into
 * buf and NUL-terminate it.  At EOF the last line may lack its '\n'.  A
 * line longer than size - 1 bytes is not returned: it fails with
 * EMSGSIZE (asyncio's LimitOverrunError) and the whole line is dropped —
 * what is buffered now, and the rest, up to its '\n', by the next
 * read_line before it reads its own — so the stream stays usable.  May
 * suspend.  Returns the line's length (without the NUL), 0 at EOF, or -1
 * with errno EMSGSIZE, EINVAL (buf NULL, size < 2), EBUSY, ETIMEDOUT,
 * ECANCELED, EPERM, ENOMEM (growing the buffer) or as coil_read. */
ssize_t coil_stream_read_line(coil_stream *s, char *buf, size_t size,
                              coil_time deadline);

/* Read through the first occurrence of the byte string delim (dlen bytes,
 * which may arrive split across reads) into buf; no NUL is added.  A
 * record (with its delimiter) longer than size fails with EMSGSIZE and
 * consumes nothing: the bytes stay buffered (read them with
 * coil_stream_read_some, as asyncio's readuntil leaves them).  EOF before
 * the delimiter fails with EPIPE, the bytes again left buffered.  May
 * suspend.  Returns the record's length, 0 at EOF with nothing buffered,
 * or -1 with errno EMSGSIZE, EPIPE, EINVAL (delim or buf NULL, dlen 0,
 * size < dlen), EBUSY, ETIMEDOUT, ECANCELED, EPERM, ENOMEM or as
 * coil_read. */
ssize_t coil_stream_read_until(coil_stream *s, const void *delim,
                               size_t dlen, void *buf, size_t size,
                               coil_time deadline);

/* Read exactly n bytes into buf; reads of n at least the read buffer's
 * size go straight into buf.  EOF first fails with EPIPE (asyncio's
 * IncompleteReadError): the bytes that did arrive are in buf, consumed,
 * and *got (if got is not NULL) says how many.  Any other failure
 * consumes nothing (*got is 0): what was read is back in the stream.  May
 * suspend.  Returns n (*got = n), or -1 with errno EPIPE, EINVAL (buf
 * NULL with n > 0, n > SSIZE_MAX), EBUSY, ETIMEDOUT, ECANCELED, EPERM,
 * ENOMEM (room to give the bytes back, reserved before a large read) or
 * as coil_read. */
ssize_t coil_stream_read_exactly(coil_stream *s, void *buf, size_t n,
                                 size_t *got, coil_time deadline);

/* Copy the next n bytes into buf without consuming them, waiting until n
 * are buffered or EOF (Go's Peek).  May suspend.  Returns n, or fewer if
 * EOF came first (0: at EOF), or -1 with errno EINVAL (buf NULL with
 * n > 0, n > SSIZE_MAX), EBUSY, ETIMEDOUT, ECANCELED, EPERM, ENOMEM or as
 * coil_read. */
ssize_t coil_stream_peek(coil_stream *s, void *buf, size_t n,
                         coil_time deadline);

/* Whether s has seen EOF and has no buffered byte left: 1 or 0, or -1
 * with errno EINVAL.  Only says what is known: it reads nothing.  Does
 * not suspend. */
int coil_stream_at_eof(const coil_stream *s);

/* Bytes in the read buffer now, or -1 with errno EINVAL.  Does not
 * suspend. */
ssize_t coil_stream_buffered(const coil_stream *s);

/* Add n bytes to the write buffer.  Sends nothing: drain or flush does.
 * Never suspends.  Returns 0, or -1 with errno EINVAL (buf NULL with
 * n > 0, n > SSIZE_MAX), EPERM (another thread), EPIPE (after
 * coil_stream_write_eof), ENOMEM, or the error that broke the write side
 * (see above). */
int coil_stream_write(coil_stream *s, const void *buf, size_t n);

/* Send buffered bytes with back-pressure (asyncio's drain): write what
 * the fd takes without waiting; if more than high_water bytes are still
 * buffered, wait and write until at most low_water are.  So a writer that
 * calls write + drain is held back only while the peer lags by more than
 * high_water.  Bytes left buffered wait for the next drain or flush.  May
 * suspend.  Returns 0, or -1 with errno EBUSY, ETIMEDOUT, ECANCELED, EPERM,
 * or as coil_write (EPIPE, ECONNRESET: the write side is then broken). */
int coil_stream_drain(coil_stream *s, coil_time deadline);

/* Send every buffered byte, waiting as needed.  May suspend.  Returns 0,
 * or -1 with errno as coil_stream_drain. */
int coil_stream_flush(coil_stream *s, coil_time deadline);

/* Flush, then shut the write side down (shutdown(2), SHUT_WR): the peer
 * reads EOF; s can still read.  Later writes fail with EPIPE.  May
 * suspend.  Returns 0, or -1 with errno as coil_stream_flush, ENOTSOCK
 * (not a socket: close the stream instead), or as shutdown(2). */
int coil_stream_write_eof(coil_stream *s, coil_time deadline);

/* Bytes in the write buffer, not yet sent, or -1 with errno EINVAL.  Does
 * not suspend. */
ssize_t coil_stream_write_pending(const coil_stream *s);

/* ======================================================================
 * Subprocesses (layer 5)
 *
 * A child started with posix_spawn(3), optionally with pipes to its stdin,
 * stdout and stderr, whose exit the loop learns through a pidfd (Linux >=
 * 5.3; no SIGCHLD handler is involved).  The parent's ends of the pipes
 * are close-on-exec, so other children do not inherit them, and are plain
 * fds for coil_read, coil_write and friends; the child starts with no
 * signal blocked (the loop thread blocks the signals it routes through
 * signalfd; a child should not inherit that).
 *
 * A plain fork() in a task is allowed too: the child is outside any task
 * and loop (coil_task_current() is NULL there, hooked calls are libc's),
 * the signals coil blocked in the forking thread are unblocked in it (so
 * also in a coil_to_thread job's child), and it should exec or _exit
 * (docs/hooks.md, "fork").
 *
 * Reaping: coil reaps its children itself, with waitpid(pid) once the
 * pidfd says the child has exited.  Code that reaps every child
 * (waitpid(-1), SIGCHLD set to SIG_IGN) takes that status away: the wait
 * then fails with ECHILD.
 *
 * Ownership: the coil_process and its pipe fds belong to the caller until
 * coil_process_release(), which kills a child that still runs and reaps it:
 * nothing leaks and no zombie stays.  A task unwound while in
 * coil_process_wait leaves the process untouched (the child runs on); to
 * have the unwinding release it, push coil_process_cleanup:
 *
 *     coil_process *p = coil_process_spawn("/bin/sh", argv, NULL, 0);
 *     coil_cleanup_push(coil_process_cleanup, p);
 *     coil_process_wait(p, &status, -1);
 *     coil_cleanup_pop(1);                 // released either way
 * ====================================================================== */

typedef struct coil_process coil_process;

/* Flags for coil_process_spawn. */
enum {
    COIL_PIPE_STDIN = 1u << 0,   /* a pipe to the child's stdin */
    COIL_PIPE_STDOUT = 1u << 1,  /* a pipe from the child's stdout */
    COIL_PIPE_STDERR = 1u << 2,  /* a pipe from the child's stderr */
    /* path without a '/' is looked up in PATH (posix_spawnp). */
    COIL_SPAWN_SEARCH_PATH = 1u << 3
};

/* Start path with argv (argv[0] first, NULL-terminated) and envp (NULL:
 * this process's environ).  Each COIL_PIPE_* flag gives the child a pipe
 * for that fd; other fds 0-2 are inherited.  Does not suspend.  Returns
 * the process, or NULL with errno: EINVAL (path or argv NULL, unknown
 * flags), posix_spawn's error (ENOENT, EACCES, ENOEXEC, ... — under
 * qemu-user, whose vfork is a fork, an exec failure shows up instead as
 * the child exiting with status 127), EMFILE, ENOMEM, or ENOSYS when the
 * kernel (or the emulator) lacks pidfd_open (Linux >= 5.3): then nothing
 * is started. */
coil_process *coil_process_spawn(const char *path, char *const argv[],
                                 char *const envp[], unsigned flags);

/* As coil_process_spawn, and: stdio[i] >= 0 (i = 0, 1, 2) gives the child
 * that fd of the caller's as its fd i (stdio NULL, or -1: inherit), to wire
 * children together: the stdout pipe of one as the stdin of the next (then
 * close the first one's pipe with coil_process_close_pipe).  Any fds may
 * be given, 0-2 included and in any arrangement (stdio {1, 0, -1} gives
 * the child the caller's 0 and 1 swapped), and pipes are wired right
 * when the caller's 0-2 are closed (a daemon's).  The caller keeps its
 * fd.  An fd coil has switched to O_NONBLOCK (a named FIFO, a terminal:
 * not a socket or pipe, see "IO") shares the flag with the child: pass
 * such fds before coil has touched them.  Does not suspend.  Returns the process, or NULL with errno as coil_process_spawn; EINVAL
 * also when an fd is given together with the COIL_PIPE_* flag for the
 * same i. */
coil_process *coil_process_spawn_stdio(const char *path, char *const argv[],
                                       char *const envp[], unsigned flags,
                                       const int stdio[3]);

/* The parent's end of the pipe to the child's stdin / from its stdout /
 * from its stderr: an fd owned by p (close it only with
 * coil_process_close_pipe or coil_process_release).  -1 with errno EBADF
 * if there is no such pipe (not asked for, or closed), EINVAL for NULL.
 * Does not suspend. */
int coil_process_stdin(const coil_process *p);
int coil_process_stdout(const coil_process *p);
int coil_process_stderr(const coil_process *p);

/* Close p's end of the pipe for the child's fd child_fd (0, 1 or 2), as
 * coil_close does (tasks waiting on it wake with EBADF); closing the stdin
 * pipe is how the child sees EOF.  Does not suspend.  Returns 0, or -1
 * with errno EINVAL (NULL, child_fd not 0-2) or EBADF (no such pipe). */
int coil_process_close_pipe(coil_process *p, int child_fd);

/* The child's process id (still its own until p is released, even after
 * it exited: coil reaps it only in wait or release), or -1 with errno
 * EINVAL.  Does not suspend. */
pid_t coil_process_pid(const coil_process *p);

/* Wait until the child exits and reap it; *status (if not NULL) gets its
 * status as waitpid(2) reports it (WIFEXITED, WEXITSTATUS, WIFSIGNALED,
 * WTERMSIG).  Once reaped, further calls return the same status at once.
 * The deadline is absolute loop time, negative for none.  May suspend.
 * Returns 0, or -1 with errno ETIMEDOUT (the child runs on), EBUSY
 * (another task already waits for p), ECHILD (someone else reaped it),
 * ECANCELED (COIL_TASK_CANCEL_AS_ERROR tasks; an unwound task leaves no
 * waiter behind), EPERM (outside a task) or EINVAL (NULL). */
int coil_process_wait(coil_process *p, int *status, coil_time deadline);

/* Send sig to the child (pidfd_send_signal: it cannot hit a recycled
 * pid); sig 0 only checks that it can be signalled.  Does not suspend.
 * Returns 0, or -1 with errno EINVAL (NULL, bad sig), ESRCH (already
 * reaped) or EPERM. */
int coil_process_kill(coil_process *p, int sig);

/* Close p's pipes and its pidfd and free it.  A child that has not been
 * reaped is reaped here; one that still runs is first killed with SIGKILL
 * (release does not suspend: it blocks for the moment a killed child takes
 * to die).  To let a child outlive its handle, give it no pipes and wait
 * for it.  NULL is ignored.  Returns 0; cannot fail. */
int coil_process_release(coil_process *p);

/* coil_process_release(p) in the shape of a cleanup handler, for
 * coil_cleanup_push(coil_process_cleanup, p).  Returns nothing; does not
 * suspend; cannot fail. */
void coil_process_cleanup(void *p);

/* ======================================================================
 * Files (layer 5)
 *
 * Blocking-style file IO that keeps the loop running (the seeds'
 * aiofiles).  Regular files cannot be waited for with epoll (they are
 * always "ready", yet a read may sit on the disk for milliseconds, or
 * for ever on a dead NFS server), so these calls hand the syscall to the
 * executor (coil_to_thread) and suspend the calling task until it
 * returns, or (reads, writes, syncs) to the loop's io_uring where the
 * kernel has one; a read the page cache can serve is made right there,
 * in one syscall, as a plain pread(2) would (see "Reads from the page
 * cache" below).  The usual shape of `async with aiofiles.open(...) as
 * f: await f.read()` is
 *
 *     static void close_file(void *fd) { coil_file_close(*(int *)fd); }
 *     ...
 *     int fd = coil_file_open(path, O_RDONLY, 0);
 *     if (fd < 0) ...;
 *     coil_cleanup_push(close_file, &fd);    // closed if unwound, too
 *     n = coil_file_read(fd, buf, sizeof buf);
 *     coil_cleanup_pop(1);                   // closes on the way out
 *
 * (cleanup handlers may suspend; use coil_file_close there too, never
 * close(2): see coil_file_close for why)
 * or, for a whole file, coil_file_read_all / coil_file_write_all: one
 * executor job each, opening and closing included.
 *
 * Common to all of them:
 *   - Each behaves like its POSIX namesake: -1 and errno from the
 *     syscall, short reads and writes as POSIX allows them (a regular
 *     file gives short counts only at EOF or when the disk is full), and
 *     EINTR retried on the pool thread, never reported.  A single call
 *     moves at most 0x7ffff000 bytes, as Linux's read/write do.
 *   - Inside a task, they suspend the task (the loop runs on) and may
 *     fail as coil_to_thread does besides: ENOMEM, EAGAIN (no pool
 *     thread), ECANCELED.  Reads and writes count against the task's
 *     cooperative budget (coil_budget_set), as some complete without
 *     suspending (below).  Outside any task, with no loop running on the
 *     thread (main before coil_run, a plain thread, a coil_to_thread
 *     function), they run the syscall right there: nothing is held up.
 *     In a loop callback, which must not block its loop, they fail with
 *     EPERM.
 *   - Cancellation cannot interrupt a syscall in progress, yet a
 *     cancelled task returns at once (unwinds, or in error mode gets
 *     ECANCELED) and may free its buffer straight away: the pool thread
 *     never touches the caller's memory.  A read lands in a buffer owned
 *     by the job and is copied out on the loop thread only if the caller
 *     still waits; a write copies the data into the job before it is
 *     queued; a path is copied too.  A late result is discarded: an fd
 *     opened for a caller that has gone is closed, a late read's bytes
 *     are dropped (they are consumed from the file position or pipe all
 *     the same), a late write still happens.  The price is one memcpy of
 *     the data on the loop thread per call (about 0.1 ms per MiB); split
 *     transfers of hundreds of MiB into several calls.
 *   - An fd that is O_NONBLOCK gives EAGAIN as read(2) does; pipes and
 *     sockets belong with coil_read/coil_write, which wait in epoll
 *     without a pool thread.
 *   - Bad arguments: fd < 0 is EBADF, a NULL buffer or path is EINVAL,
 *     as is a negative offset.
 *   - io_uring.  Where the kernel allows it (Linux 5.6 or later, io_uring
 *     not disabled by kernel.io_uring_disabled or a seccomp filter, coil
 *     built with liburing), read, pread, write, pwrite, fsync and
 *     fdatasync do not take the executor hop: they are submitted to an
 *     io_uring that each loop makes on first use (its eventfd in the
 *     loop's epoll set), and a read the page cache serves completes
 *     without suspending.  The buffer rules above hold unchanged (the
 *     ring, too, reads and writes a buffer of the call's own; a cancelled
 *     call is withdrawn with IORING_OP_ASYNC_CANCEL and its late result
 *     dropped).  open, close, read_all and write_all stay on the
 *     executor.  Requests made while other tasks or callbacks are ready
 *     wait in the ring and go to the kernel together, one io_uring_enter
 *     per turn of the loop (a lone request goes at once).  The choice is
 *     made once per process at first use, by a probe;
 *     COIL_FILE_BACKEND=executor in the environment forces the executor
 *     for every call, the page cache's reads below included (=uring asks
 *     for the ring, and still falls back where the probe fails).  The
 *     probe also times a syscall and a request in a batch: reads join
 *     batches only where the syscall costs more than the batch's share
 *     and the ring's path for a task (a VM whose syscalls cost a
 *     microsecond); elsewhere they ask the page cache first even beside
 *     other work (below).  COIL_FILE_READ_BATCH=always|never overrides
 *     that choice; writes and syncs always join batches.
 *   - Reads from the page cache.  On either backend, a read or pread in a
 *     task first asks the kernel for what the page cache holds, right
 *     there (preadv2 with RWF_NOWAIT, into buf): a cached read costs one
 *     syscall and does not suspend; only the part that would wait for the
 *     disk (or an empty pipe) goes to the ring or the pool.  Not while a
 *     ring batch is forming, where the probe found batches cheaper (see
 *     above): the read joins the batch.  A read served in
 *     part goes on for the rest, so a regular file's short counts stay
 *     those of its end; if the rest fails with ECANCELED, buf may hold
 *     the first part.
 *   - pread and pwrite on the ring ask lseek once per fd whether it takes
 *     an offset (io_uring would read a pipe as a stream where pread(2)
 *     says ESPIPE), and remember the answer until coil_file_close: an fd
 *     closed with close(2) whose number is then reused for a pipe is
 *     taken for the old file.
 * ====================================================================== */

/* Which backend coil_file_* use in this process: "io_uring" or
 * "executor" (see above), probing on first call.  Does not suspend;
 * cannot fail. */
const char *coil_file_backend(void);

/* open(2) on the executor, O_CLOEXEC always added (every fd coil makes is
 * close-on-exec).  mode is used with O_CREAT or O_TMPFILE.  Opening a FIFO
 * (which waits for the other end) occupies a pool thread meanwhile.  If
 * the caller is cancelled after the file was opened, the fd is closed for
 * it (a file that O_CREAT made stays).  May suspend.  Returns the fd, or
 * -1 with errno as open(2) (ENOENT, EACCES, EEXIST, EISDIR, ...) or as
 * above. */
int coil_file_open(const char *path, int flags, mode_t mode);

/* read(2) / pread(2) of up to n bytes into buf.  Return the bytes read, 0
 * at EOF (or for n == 0), or -1 with errno
 * as the syscall (EBADF, EISDIR, ESPIPE for pread of a pipe, EAGAIN, ...)
 * or as above; EINVAL for buf NULL or off < 0.  On ECANCELED (or
 * unwinding) buf is untouched, but for a part the page cache served before
 * the call suspended (above).  May suspend; a read the page cache serves
 * whole does not, unless the budget is spent. */
ssize_t coil_file_read(int fd, void *buf, size_t n);
ssize_t coil_file_pread(int fd, void *buf, size_t n, off_t off);

/* write(2) / pwrite(2) of up to n bytes from buf (copied first: buf is
 * free to change or go once the call returns, whatever it returns).
 * Return the bytes written — possibly fewer than n, as POSIX allows (see
 * coil_file_write_all) — or -1 with errno as the syscall (EBADF, ENOSPC,
 * EFBIG, EPIPE, ...) or as above; EINVAL for buf NULL or off < 0.  After
 * ECANCELED the write may still happen.  May suspend. */
ssize_t coil_file_write(int fd, const void *buf, size_t n);
ssize_t coil_file_pwrite(int fd, const void *buf, size_t n, off_t off);

/* fsync(2) / fdatasync(2): wait until fd's data (and, for fsync, its
 * metadata) is on stable storage.  May suspend.  Return 0, or -1 with
 * errno as the syscall (EBADF, EIO, EROFS/EINVAL for fds that cannot
 * sync, ...) or as above. */
int coil_file_fsync(int fd);
int coil_file_fdatasync(int fd);

/* Close fd: like coil_close (tasks of this loop waiting on fd with
 * coil_read & co wake with EBADF, coil's records of it go), except that
 * close(2) itself — which may flush to a network file system — runs on
 * the executor.  The fd is released whatever happens, even when the call
 * fails or the caller is cancelled (then it is closed for it).  If a
 * coil_file_* call on fd whose caller was cancelled is still running on a
 * pool thread, the close is left to it and done once it ends, and this
 * returns 0 at once: the fd number is not released (and reused by the
 * next open) while a late read or write may still use it.  So close such
 * fds with coil_file_close, not close(2) or coil_close.  May suspend.
 * Returns 0, or -1 with errno as close(2) (EIO: data written earlier was
 * lost) or as above (the fd is gone all the same). */
int coil_file_close(int fd);

/* Read the whole file at path (open, read until EOF, close: one executor
 * job) into a new buffer, NUL-terminated for convenience (not counted in
 * the length), stored in *buf with its length in *len; free it with
 * free().  A file longer than max bytes is refused with EFBIG, checked
 * before reading when its size is known and again while reading (files
 * in /proc report size 0, pipes none).  May suspend.  Returns 0, or -1
 * with errno EINVAL (path, buf or len NULL), EFBIG, ENOMEM, as open(2) or
 * read(2), or as above; on failure *buf is NULL and *len 0. */
int coil_file_read_all(const char *path, void **buf, size_t *len, size_t max);

/* Write len bytes from buf as the whole content of the file at path (open,
 * write them all, close: one executor job; buf is copied first).  The file
 * is created (mode 0666 less the umask) if missing.  flags is 0 or a
 * combination of
 *   O_APPEND   append instead of truncating (Python's "ab" to "wb");
 *   O_EXCL     fail with EEXIST if the file exists ("xb");
 *   O_SYNC, O_DSYNC  as open(2): the data is on stable storage on return.
 * A write or close error leaves the file with whatever reached it.  After
 * ECANCELED the job still runs to its end.  May suspend.  Returns 0, or -1
 * with errno EINVAL (path NULL, buf NULL with len > 0, other flags), as
 * open(2), write(2) (ENOSPC, ...) or close(2), or as above. */
int coil_file_write_all(const char *path, const void *buf, size_t len,
                        int flags);

/* ======================================================================
 * Runtime: one loop per core (layer 5)
 *
 * A runtime starts N threads, each running a loop of its own, and lets any
 * thread spawn a task on the loop of its choice (the task's outcome comes
 * back in a thread-safe future).  Loops share nothing: to use several
 * cores, spread the work yourself — each loop listening on the same port
 * with COIL_REUSEPORT (the kernel spreads connections across them), or a
 * task handing work to another loop with coil_runtime_spawn.
 *
 * Tasks never migrate: a task runs, from start to end, on the loop (and so
 * the thread) it was spawned on.  Compilers cache the address of a
 * thread-local such as errno across calls, and a suspending call is just a
 * call to them; a coroutine resumed on another thread would go on using
 * the first thread's errno and coil's own per-thread state (DESIGN.md,
 * docs/threads.md).  Balancing is therefore the application's choice of
 * loop, not a work-stealing scheduler.
 *
 * The runtime's threads block the asynchronous signals (as the executor's
 * do), so a signal handler on another loop — coil_run's SIGINT — still gets
 * them; a loop of the runtime may add signal handlers of its own.
 *
 * Lifetime, like a thread's: coil_runtime_stop() asks every loop to shut
 * down (from any thread, the runtime's own included); coil_runtime_join()
 * waits for that to finish and frees the runtime.  Shutting down, a loop
 * does what coil_run does at its end: it cancels the tasks still alive on
 * it, runs the loop until their cleanup handlers have finished (they may
 * suspend), then closes.  Their thread-safe
 * futures report ECANCELED; a spawn that had not yet reached its loop
 * reports ESHUTDOWN.  Stopping one of the loops directly (coil_loop_stop)
 * only ends its current run: it goes on running until the runtime stops.
 * A loop whose epoll wait fails (it does not heal) stops the runtime.
 * ====================================================================== */

typedef struct coil_runtime coil_runtime;

enum {
    /* Pin loop i's thread to one CPU: the i-th of the CPUs the starting
     * thread may run on (sched_getaffinity), wrapping around when there are
     * more loops than CPUs. */
    COIL_RUNTIME_PIN = 1u << 0
};

typedef struct coil_runtime_attr {
    unsigned flags;               /* COIL_RUNTIME_* */
} coil_runtime_attr;

/* Most loops one runtime may have (CPU_SETSIZE). */
#define COIL_RUNTIME_MAX_LOOPS 1024

/* Start nloops threads, each running a loop of its own (made on its
 * thread).  nloops 0 means one per CPU the calling thread may run on
 * (sched_getaffinity).  attr may be NULL.  Returns once every loop is
 * running.  Does not suspend; blocks the calling thread briefly (thread
 * start-up).  Returns
 * the runtime, or NULL with errno EINVAL (more than
 * COIL_RUNTIME_MAX_LOOPS loops, unknown flags), EAGAIN (a thread could
 * not be started), ENOMEM, EMFILE or ENFILE (a loop could not be made), or as
 * pthread_attr_setaffinity_np; on failure the loops already started are
 * stopped and their threads joined. */
coil_runtime *coil_runtime_start(size_t nloops, const coil_runtime_attr *attr);

/* How many loops rt has (0 for NULL).  Any thread; does not suspend;
 * cannot fail. */
size_t coil_runtime_size(const coil_runtime *rt);

/* Loop i of rt (0 <= i < size), for coil_call_soon_threadsafe,
 * coil_spawn_threadsafe and comparing with coil_loop_current().  Any
 * thread; does not suspend.  NULL with errno EINVAL (rt NULL, i out of
 * range) or ESHUTDOWN (rt is stopping: the loop may already be gone). */
coil_loop *coil_runtime_loop(coil_runtime *rt, size_t i);

/* Spawn fn(arg) as a task on loop i of rt, from any thread (a task of
 * another loop, or of loop i itself, included): coil_task_spawn_threadsafe
 * on that loop, with its thread-safe future, rules and errors.  Does not
 * suspend.  NULL with errno EINVAL (rt or fn NULL, i out of range),
 * ESHUTDOWN (coil_runtime_stop was called) or ENOMEM. */
coil_tfuture *coil_runtime_spawn_task(coil_runtime *rt, size_t i,
                                      coil_task_fn fn, void *arg,
                                      const char *fn_name);
#define coil_runtime_spawn(rt, i, fn, arg)                                  \
    coil_runtime_spawn_task((rt), (i), (fn), (arg), #fn)

/* Ask every loop of rt to shut down (see above), without waiting for it.
 * Any thread; repeated calls are harmless.  From now on spawns fail with
 * ESHUTDOWN.  Does not suspend or block (beyond a short lock).  Returns
 * 0, or -1 with errno EINVAL (NULL). */
int coil_runtime_stop(coil_runtime *rt);

/* Wait until rt has been stopped (by this or another thread: join alone
 * does not stop it) and every loop has shut down, join the threads and
 * free rt.  Call it exactly once per runtime, from a thread that is not
 * one of rt's.  Does not suspend: it blocks the calling thread (in a
 * task: its whole loop, so
 * a cleanup handler of rt's tasks must not wait for that loop).  Returns
 * 0, or -1 with errno EINVAL (NULL) or EDEADLK (called on one of rt's
 * threads: it would wait for itself; rt stays as it was). */
int coil_runtime_join(coil_runtime *rt);

/* coil_loop_dump_tasks for every loop of rt, one after another, each made
 * on its own loop's thread (a callback posted to it) while the caller
 * waits.  Call it from a thread that is not one of rt's.  Does not
 * suspend: it blocks the calling thread.  Returns the number of tasks
 * in all, or -1 with errno EINVAL, EDEADLK (called on one of rt's
 * threads), ESHUTDOWN (rt is stopping) or as coil_loop_dump_tasks. */
int coil_runtime_dump_tasks(coil_runtime *rt, FILE *out, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* COIL_H */
