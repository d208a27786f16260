/*
 * src/task/task.c — tasks: a future driven by a coroutine (layer 4).
 *
 * The loop runs a task in "steps": a step is a loop callback that resumes
 * the task's coroutine until it suspends or ends.  Whatever wakes a task —
 * the future it waits for, a cancellation — schedules a step; a task woken
 * for nothing simply waits again, so a spurious step is harmless.
 *
 * A task that suspends does not go back to the loop if the next item of
 * the loop's batch is another task's step: it takes that step and switches
 * straight to the other task (coil__coro_transfer), which then suspends
 * into the next, and so on; the last one of such a chain switches back to
 * the loop.  Same order as the loop would run them, one switch per step
 * instead of two.  A task that ends completes its own future (waking who
 * awaits it) and hands off the same way, marked dead: a coroutine cannot
 * free the stack it runs on, so whoever runs next retires it (reap).
 *
 * Cancellation (requests, delivery at suspension points, shields, timeout
 * scopes, cleanup handlers) is src/task/cancel.c; where a task's memory
 * and stack come from, src/task/task_mem.c; describing tasks, dump.c.  The
 * struct they share is src/task/task_impl.h.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fork.h"
#include "loop/debug.h"
#include "task/future.h"
#include "loop/loop.h"
#include "core/coro.h"
#include "core/name.h"
#include "task/task.h"
#include "task/task_impl.h"
#include "task/census.h"

__thread coil_task *coil__task_running;
static __thread coil_task *dead_task;   /* ended, its stack not yet free */

static atomic_ulong task_counter;

/* Task numbers (the N of "Task-N") are unique in the process.  A thread
 * takes them from the shared counter a block at a time: one atomic add per
 * 1,024 spawns instead of one per spawn. */
enum { ID_BLOCK = 1024 };
static __thread unsigned long ids_next, ids_left;

static unsigned long next_task_id(void)
{
    if (ids_left == 0) {
        ids_next = atomic_fetch_add_explicit(&task_counter, ID_BLOCK,
                                             memory_order_relaxed) + 1;
        ids_left = ID_BLOCK;
    }
    ids_left--;
    return ids_next++;
}

/* A task's name: given at spawn, or "Task-N", formatted only when first
 * asked for (most tasks never are; formatting costs a tenth of a spawn). */
static const char *task_name(const coil_task *ct)
{
    coil_task *t = (coil_task *)ct;   /* the buffer is the task's own */
    if (t->name[0] == '\0')
        coil__set_name(t->name, sizeof t->name, NULL, "Task-", t->id);
    return t->name;
}

/* ---------------------------------------------------------------- steps */

static void step(void *arg);

/* The task has ended (its function returned, it was unwound, or it was
 * cancelled before it ever ran): free its coroutine, keeping the stack if
 * there is room, and let go of itself. */
static void retire(coil_task *t)
{
    coil__list_remove(&t->link);
    coil__list_remove(&t->waiter.wake.node);
    if (t->coro) {
        if (t->debug && t->started)
            coil__census_record(t->fn_name, &t->coro->stack);
        coil__task_fini_coro(t);
    }
    coil_task_release(t);             /* the task's hold on itself */
}

void coil__task_retire(coil_task *t)
{
    retire(t);
}

/* Fill the running task's budget (budget.c): it has just been resumed,
 * so nothing counts against it yet.  A relaxed load and a store. */
static inline void refill_budget(void)
{
    coil__budget_left = atomic_load_explicit(&coil__budget_full,
                                             memory_order_relaxed);
}

/* Mark t as the running task, before switching to it. */
static void enter(coil_task *t)
{
    coil__task_running = t;
    refill_budget();
    t->started = 1;
    t->fut.state = COIL_RUNNING;
}

/* Retire the task that ended just before the caller got the CPU.  Called
 * by everything that can run right after a task's last switch. */
static void reap(void)
{
    coil_task *t = dead_task;
    if (t) {
        dead_task = NULL;
        retire(t);
    }
}

static void step(void *arg)
{
    coil_task *t = arg;
    coil_task *outer = coil__task_running;
    uint64_t outer_budget = coil__budget_left;  /* 0 but in a task */
    enter(t);
    coil__coro_resume_any(t->coro, NULL, NULL);
    coil_task *back = coil__task_running;   /* t, or the last it handed to */
    coil__task_running = outer;
    coil__budget_left = outer_budget;
    if (back != dead_task && is_done(back))
        retire(back);                 /* ended inside a coroutine of its own */
    reap();
}

/* With many tasks doing IO, each one's stack and struct have left the
 * cache by the time its turn comes (the kernel's work for the others
 * pushed them out), and a hand-off stalls on both: ~5% of an echo server's
 * CPU with 1,000 connections.  So after a poll that woke a crowd (loop.c's
 * PREFETCH_CROWD), each hand-off starts the loads of the next ones early:
 * the stack of the task that runs after the one about to run (its struct
 * was fetched by the previous hand-off), and the struct of the one after
 * that.  Prefetches never fault, so an item that is not a task step (a
 * callback, or the list's head) costs a useless fetch, nothing more.
 * Without a crowd, a batch of many tasks that only compute and yield
 * still outgrows the L1 cache (1,000 tasks: ~0.5 MiB of structs and
 * stacks), but their memory is in L2 and only the first lines a resume
 * pops stall it: each hand-off then starts loading just the top
 * PREFETCH_LIGHT_LINES of the stack of the task after the one about to
 * run.  A ring of 1,000 yielding tasks: 13.7 -> 11.6 ns a yield; two
 * yielding tasks never have a task queued behind the next one and pay
 * one comparison.  (The crowd's 15 prefetches a hand-off made that ring
 * slower: 17 ns.) */
/* What a resume pops and returns through, down from the task's own frame:
 * an echo task's (read, the IO call, the wait, park and the switch) spans
 * ~450 bytes below its buffer.  At 1,000 connections 6 lines left the
 * wait's frame cold, 6.6% of the server's CPU in user space (raw epoll:
 * 1.7%); 10 lines, 4.8%; 16, no better than 10. */
enum { PREFETCH_STACK_LINES = 10, PREFETCH_LIGHT_LINES = 2 };

/* Start loading p's cache line.  Not __builtin_prefetch: GCC 12's
 * mod/ref analysis counts it as without effect and deletes it with the
 * function that holds it. */
static inline void prefetch(const void *p)
{
#if defined(__x86_64__)
    __asm__ volatile("prefetcht0 (%0)" : : "r"(p));
#elif defined(__aarch64__)
    __asm__ volatile("prfm pldl1keep, [%0]" : : "r"(p));
#elif defined(__riscv)
    /* rv64gc has no prefetch instruction (Zicbop's prefetch.r is an
     * extension beyond it): nothing to do. */
    (void)p;
#elif defined(__powerpc64__)
    __asm__ volatile("dcbt 0, %0" : : "r"(p));
#else
    __builtin_prefetch(p);
#endif
}

static inline void prefetch_following(coil_loop *loop)
{
    coil__runq *q = coil__loop_runq(loop);
    coil__list *head = &q->batch, *n1 = head->next;
    if (n1 == head)
        return;
    coil_task *t1 = coil__container_of(n1, coil_task, waiter.wake.node);
    int lines = q->prefetch ? PREFETCH_STACK_LINES : PREFETCH_LIGHT_LINES;
    if (q->prefetch) {
        /* What a hand-off and a resume read of a task (task_impl.h's
         * first group), and what a wait writes beside it (awaiting,
         * cleanup). */
        const char *t2 = (const char *)coil__container_of(
            n1->next, coil_task, waiter.wake.node);
        for (size_t at = 0; at < offsetof(coil_task, name); at += 64)
            prefetch(t2 + at);
    }
    /* A queued step is a live task's: its coroutine is coro_storage. */
    if (t1->waiter.wake.fn == step) {
        const char *sp = t1->coro_storage.ctx.sp;
        for (int i = 0; i < lines; i++)
            prefetch(sp + 64 * i);
    }
}

/* Suspend the running task t until a step resumes it: hand the CPU to the
 * next task step of the loop's batch if there is one, else go back to the
 * loop.  Its own step may be that one (a yield, with nothing else ready):
 * then it just runs on. */
/* Whether p, an entry of t's cleanup chain, lies in t's stack below sp:
 * in the frame of a function that has returned.  (Entries elsewhere, a
 * task group's in the heap, are not judged.) */
static int in_dead_frame(const coil_task *t, const void *p, const void *sp)
{
    const char *lo = t->coro->stack.lo, *c = p;
    return c >= lo && c < lo + t->coro->stack.size && c < (const char *)sp;
}

/* The task's function returned while a scope it began in some frame was
 * still open (coil_timeout_begin without coil_timeout_end; a cleanup
 * block left by return is caught earlier, as it is left).  The scope's
 * timer would write into a dead frame: stop now, and say where.  A scope
 * left open in a task that goes on running is not seen until then: its
 * frame's memory is reused by later calls, and no cheap test tells a
 * dead frame from a live one. */
__attribute__((noreturn, noinline, cold)) static void
report_open_scope(const coil_task *t, const char *when)
{
    coil__debug_report(
        "task '%s' (fn=%s) %s while a cleanup handler or timeout scope of a "
        "function that has returned was still open: coil_cleanup_push needs "
        "its coil_cleanup_pop and coil_timeout_begin its coil_timeout_end "
        "before that function returns", task_name(t), t->fn_name, when);
    abort();
}

static void suspend(coil_task *t)
{
    if (coil__coro_running != t->coro) {
        coil_coro_yield(NULL, NULL);  /* inside a coroutine of its own */
        return;
    }
    coil__work *w = coil__loop_take_next(t->fut.loop, step);
    if (!w) {
        coil_coro_yield(NULL, NULL);
        reap();                       /* resumed maybe by one that ended */
        return;
    }
    coil_task *next = w->arg;
    if (next == t) {
        refill_budget();              /* a yield all the same: what was
                                         ready before it has run */
        return;
    }
    prefetch_following(t->fut.loop);
    enter(next);
    coil__coro_transfer(next->coro);
    /* Resumed, by a step or a transfer: coil__task_running is t again. */
    reap();
}

/* The task t's end would wake and nothing else (no done-callback, one
 * waiter, of t's loop), or NULL. */
static coil_task *sole_waiter(coil_task *t)
{
    coil__list *head = &t->fut.waiters, *first = head->next;
    if (t->fut.ncallbacks != 0 || first == head || first->next != head)
        return NULL;
    coil_task *w = coil__container_of(first, coil_task, waiter.link);
    return w->fut.loop == t->fut.loop ? w : NULL;
}

/* End the running task t in `state` (its function's result or error, or
 * cancelled), on its own stack: complete its future and pick the next task
 * step of the batch to hand off to, leaving t to be reaped.  Returns that
 * task's coroutine, or NULL to go back to the loop; the caller makes the
 * switch (coil__coro_exit).  If t ended inside a coroutine of its own, it
 * goes back to the step that resumes the task's coroutine, which retires
 * it when it sees it done, and does not return. */
static coil_coro *task_end(coil_task *t, int state, void *result)
{
    if (__builtin_expect(t->locals != NULL, 0))
        coil__task_locals_end(t);     /* still the running task */
    int error = state == COIL_DONE ? t->exit_error : 0;
    if (state != COIL_DONE || error)
        result = NULL;
    /* The common end of a short task: the one that awaits it runs next.
     * Posting its step only for the next turn to take it back at once is
     * a tenth of a spawn + await; hand over directly when that is all the
     * loop would do (coil__loop_direct_turn). */
    coil_task *waiter;
    if (coil__coro_running == t->coro && (waiter = sole_waiter(t)) != NULL &&
        coil__loop_direct_turn(t->fut.loop)) {
        coil__future_settle(&t->fut, state, result, error);
        dead_task = t;
        enter(waiter);
        return waiter->coro;
    }
    coil__future_finish(&t->fut, state, result, error);
    if (coil__coro_running != t->coro) {
        coil_coro_yield(NULL, NULL);
        abort();
    }
    dead_task = t;
    coil__work *w;
    while ((w = coil__loop_take_next(t->fut.loop, step)) != NULL) {
        coil_task *next = w->arg;
        if (next != t) {              /* its own step, if queued, is spent */
            enter(next);
            return next->coro;
        }
    }
    return NULL;
}

__attribute__((noreturn)) static void task_exit(coil_task *t, int state,
                                                void *result)
{
    coil__coro_exit(task_end(t, state, result), NULL);
}

void coil__task_exit_cancelled(coil_task *t)
{
    task_exit(t, COIL_CANCELLED, NULL);
}

/* The task's coroutine function (COIL__CORO_TAIL): returns the coroutine
 * to end into, and coro.c switches there with nothing left pending. */
static void *coroutine_body(void *arg)
{
    coil_task *t = arg;
    reap();                           /* it may have been handed the CPU */
    void *result = t->fn(t->arg);
    if (t->cleanup && in_dead_frame(t, t->cleanup, __builtin_frame_address(0)))
        report_open_scope(t, "ended");
    return task_end(t, COIL_DONE, result);
}

/* ---------------------------------------------------------------- spawn */

coil_task *coil_task_spawn(const coil_task_attr *attr, coil_task_fn fn,
                           void *arg, const char *fn_name)
{
    static const coil_task_attr defaults;
    if (!attr)
        attr = &defaults;
    const unsigned known = COIL_TASK_CANCEL_AS_ERROR | COIL_TASK_NOFP;
    if (!fn || (attr->flags & ~known)) {
        errno = EINVAL;
        return NULL;
    }
    coil_loop *loop = coil__loop_resolve(attr->loop);
    if (!loop)
        return NULL;
    if (!coil__loop_owned(loop)) {
        errno = EPERM;
        return NULL;
    }
    coil_task *t = coil__task_alloc(attr->stack_size);
    if (!t)
        return NULL;
    t->id = next_task_id();
    if (attr->name && *attr->name)
        coil__set_name(t->name, sizeof t->name, attr->name, "", 0);
    else
        t->name[0] = '\0';           /* task_name() formats it */
    if (coil__coro_init_task(&t->coro_storage, t->name, attr->stack_size,
                             (attr->flags & COIL_TASK_NOFP) != 0,
                             coroutine_body, t) != 0) {
        int e = errno;
        coil__task_free(t);
        errno = e;
        return NULL;
    }
    coil__future_init(&t->fut, loop, 1);
    t->fut.refs = 2;                  /* the caller's, and the task's own */
    t->coro = &t->coro_storage;
    t->fn = fn;
    t->arg = arg;
    t->fn_name = fn_name ? fn_name : "?";
    t->cleanup = NULL;
    t->awaiting = NULL;
    t->wait_kind = NULL;
    t->since = 0;
    t->cancel_requests = t->delivered = t->shield_depth = 0;
    t->flags = attr->flags;
    t->exit_error = 0;
    t->locals = NULL;
    t->started = t->unwinding = 0;
    t->debug = (uint8_t)coil__loop_runq(loop)->debug;
    coil__list_push_back(coil__loop_tasks(loop), &t->link);
    coil__list_init(&t->waiter.link);
    coil__work_init(&t->waiter.wake, step, t);
    coil__loop_post(loop, &t->waiter.wake);
    return t;
}

coil_task *coil_task_retain(coil_task *t)
{
    if (t)
        t->fut.refs++;
    return t;
}

int coil_task_release(coil_task *t)
{
    if (!t)
        return 0;
#ifdef COIL_DEBUG_CHECKS
    return coil_future_release(&t->fut);   /* checks for a double release */
#else
    if (--t->fut.refs == 0) {
        /* What coil__future_destroy comes to for most tasks, without its
         * two calls: nothing to free but the task, nothing to report. */
        if (!t->fut.callbacks && !t->debug)
            coil__task_free(t);
        else
            coil__future_destroy(&t->fut);
    }
    return 0;
#endif
}

static void free_future(coil_future *f)
{
    coil_task *t = from_future(f);
    if (__builtin_expect(t->debug, 0) && f->state == COIL_DONE && f->error &&
        !f->error_read)
        coil__debug_report("task '%s' (fn=%s) failed with %s and nobody "
                           "read the error", task_name(t), t->fn_name,
                           strerrorname_np(f->error));
#ifdef COIL_DEBUG_CHECKS
    f->magic = COIL__MAGIC_DEAD;
    coil__debug_quarantine(t);
#else
    coil__task_free(t);
#endif
}

static int describe_step(coil_callback fn, void *arg, char *buf,
                         size_t size)
{
    if (fn != step)
        return 0;
    const coil_task *t = arg;
    snprintf(buf, size, "task '%s' (fn=%s)", task_name(t), t->fn_name);
    return 1;
}

/* At loop close: in debug mode report each task still pending, and
 * unlink them all (they are not the loop's to free), so that a later
 * unlink touches no freed memory. */
static void loop_closing(coil_loop *loop, void **slot)
{
    (void)slot;
    coil__list *tasks = coil__loop_tasks(loop);
    if (coil__loop_runq(loop)->debug)
        coil__list_each(pos, tasks) {
            char text[160];
            coil_task_describe(coil__container_of(pos, coil_task, link),
                               text, sizeof text);
            coil__debug_report("loop closed with a task still pending: %s",
                               text);
        }
    while (!coil__list_empty(tasks))
        coil__list_remove(tasks->next);
}

static int cancel_future(coil_future *f)
{
    return coil_task_cancel(from_future(f));
}

static const coil__future_kind kind = {free_future, cancel_future};

/* What the lower layers call back for tasks, registered so that they need
 * not name task.c (tools/layers.py checks that they do not). */
static int task_may_wake(coil_loop *loop);

/* In the child of a fork(): its one thread is outside any task.  The
 * tasks and loops it holds are copies of the parent's (sharing the
 * parent's epoll set); running any of them would repeat the parent's
 * work, which is what a hooked blocking call in a child forked by a task
 * used to do.  The child's calls are now plain libc's, and it should exec
 * or _exit, as POSIX asks of the child of a threaded program. */
static void forget_tasks_after_fork(void)
{
    coil__task_running = NULL;
}

COIL__REGISTER static void register_tasks(void)
{
    coil__on_fork_child(forget_tasks_after_fork);
    coil__loop_add_waker(task_may_wake);
    coil__future_set_task_kind(&kind);
    coil__debug_add_describer(describe_step);
    coil__loop_register(loop_closing);
}

coil_future *(coil_task_future)(coil_task *t)
{
    return t ? &t->fut : NULL;
}

coil_task *coil_task_current(void)
{
    return self();
}

const char *coil_task_name(const coil_task *t)
{
    return t ? task_name(t) : "";
}

void *coil_task_error(int err)
{
    if (err <= 0)                 /* not an errno: a bug, and not success */
        err = EINVAL;
    coil_task *t = self();
    if (t)
        t->exit_error = err;
    errno = err;
    return NULL;
}

/* ------------------------------------------------------------- awaiting */

/* Would t wait for itself?  Follow the chain of tasks waiting for tasks. */
static int would_deadlock(const coil_task *t, coil_future *f)
{
    for (int hops = 0; f && f->is_task && hops < 100000; hops++) {
        if (from_future(f) == t)
            return 1;
        f = from_future(f)->awaiting;
    }
    return 0;
}

static int await_in_task(coil_task *t, coil_future *f, void **out)
{
    if (!coil__future_is_done(f)) {
        if (would_deadlock(t, f)) {
            errno = EDEADLK;
            return -1;
        }
        if (deliverable(t))
            return coil__task_deliver(t);
        coil__list_push_back(&f->waiters, &t->waiter.link);
        t->awaiting = f;
        t->since = coil__loop_time_seen(t->fut.loop);
        do
            suspend(t);
        while (!coil__future_is_done(f) && !deliverable(t));
        t->awaiting = NULL;
        coil__list_remove(&t->waiter.link);
        /* A request that arrived meanwhile wins over the outcome (which
         * stays readable): cancellation must not be swallowed. */
        if (deliverable(t))
            return coil__task_deliver(t);
    }
    /* A done future is never a cycle: a task that ended awaits nothing. */
    return coil__future_outcome(f, out);
}

int coil_await(coil_future *f, void **out)
{
    if (coil__future_check(f) != 0)
        return -1;
    coil_task *t = self();
    if (t) {
        int r = await_in_task(t, f, out);
        t->wait_kind = NULL;              /* whatever the way out */
        return r;
    }
    if (coil__task_running) {           /* a raw coroutine inside a task */
        coil__debug_outside_task("coil_await");
        return -1;
    }
    if (!coil__future_settled(f) &&
        coil__loop_run_until_gated(f->loop, coil__future_settled, f,
                                   &f->state, COIL_DONE) != 0)
        return -1;
    return coil_future_result(f, out);
}

/* ----------------------------------------------------------------- sleep */

typedef struct sleeper {
    coil_future *done;
    coil_handle *timer;
    coil_time when;
} sleeper;

static void describe_sleep(const void *obj, coil_time now, char *buf,
                           size_t size)
{
    const sleeper *s = obj;
    char in[32];
    coil__format_delay(in, sizeof in, s->when - now);
    snprintf(buf, size, "sleep: timer %s", in);
}

static const coil__wait_kind sleep_wait = {describe_sleep, 1};

static void sleep_fire(void *arg)
{
    coil_future *f = arg;
    coil_future_set_result(f, NULL);
    coil_future_release(f);           /* the timer's reference */
}

/* Runs on return and on unwinding alike: no timer outlives its sleep. */
static void sleep_cleanup(void *arg)
{
    sleeper *s = arg;
    if (coil_handle_cancel(s->timer) == 1)
        coil_future_release(s->done); /* the timer's reference */
    coil_handle_release(s->timer);
    coil_future_release(s->done);
}

int coil_sleep_until(coil_time when)
{
    coil_task *t = self();
    if (!t)
        return coil__debug_outside_task("coil_sleep_until");
    sleeper s = {coil_future_new(t->fut.loop), NULL, when};
    if (!s.done)
        return -1;
    coil_future_retain(s.done);       /* for the timer */
    if (coil_call_at(t->fut.loop, when, sleep_fire, s.done, &s.timer) != 0) {
        coil_future_release(s.done);
        coil_future_release(s.done);
        return -1;
    }
    int r;
    coil_cleanup_push(sleep_cleanup, &s);
    coil__task_note_wait(&sleep_wait, &s);
    r = coil_await(s.done, NULL);
    coil_cleanup_pop(1);
    return r;
}

/* For services (io.c) that keep their own waiter records: suspend until
 * coil__task_wake() or a cancellation request.  The caller re-checks its
 * condition, as wakes may be spurious. */
int coil__task_park(void)
{
    coil_task *t = self();
    if (deliverable(t)) {
        t->wait_kind = NULL;
        return coil__task_deliver(t);
    }
    t->since = coil__loop_time_seen(t->fut.loop);
    suspend(t);
    t->wait_kind = NULL;
    return deliverable(t) ? coil__task_deliver(t) : 0;
}

/* The deadlock rule's question to tasks (loop.h): may something outside
 * the loop's tasks end one of their waits?  A task waiting with no note
 * and on no future is parked by a service that does not say what on:
 * counted as yes, so that an unknown wait is never called a deadlock. */
static int task_may_wake(coil_loop *loop)
{
    coil__list_each(pos, coil__loop_tasks(loop)) {
        coil_task *t = coil__container_of(pos, coil_task, link);
        if (!t->started || (t->wait_kind && t->wait_kind->outside) ||
            (!t->wait_kind && !t->awaiting))
            return 1;
    }
    return 0;
}

void coil__task_note_wait(const coil__wait_kind *how, const void *obj)
{
    coil_task *t = self();
    if (t) {
        t->wait_kind = how;
        t->wait_obj = obj;
    }
}

void coil__task_wake(coil_task *t)
{
    schedule_step(t);
}

int coil_yield(void)
{
    coil_task *t = self();
    if (!t)
        return coil__debug_outside_task("coil_yield");
    if (deliverable(t))
        return coil__task_deliver(t);
    schedule_step(t);
    suspend(t);
    return deliverable(t) ? coil__task_deliver(t) : 0;
}

int coil_sleep(coil_time delay)
{
    coil_task *t = self();
    if (!t)
        return coil__debug_outside_task("coil_sleep");
    return coil_sleep_until(
        coil__time_after(coil_loop_time(t->fut.loop), delay));
}
