/*
 * src/task/task.h — what tasks (layer 4) offer the services above them.
 *
 * coil_await on a future is the general way to suspend; a service with a
 * waiter record of its own (an fd's reader, say) can skip the future and
 * its callback hop: park the task, and wake it from a poll watcher or a
 * timer.  A parked task leaves nothing behind if it is unwound, as long as
 * the service pushed a cleanup handler that forgets its waiter record.
 */
#ifndef COIL_TASK_H
#define COIL_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "coil.h"
#include "core/coro.h"
#include "task/future.h"

#pragma GCC visibility push(hidden)

/* The task whose coroutine runs on this thread (set by task.c's switches;
 * NULL on the thread's own stack), and the head of struct coil_task
 * (task_impl.h asserts that the two agree), so that hot paths of the
 * layers above can ask coil_task_current()'s question without a call. */
extern __thread coil_task *coil__task_running
    __attribute__((tls_model("initial-exec")));
struct coil__task_head {
    struct coil_future fut;
    coil_coro *coro;
};

/* coil_task_current(), inline.  A raw coil_coro that a task resumes runs
 * on the task's thread with coil__task_running still set, but it is not
 * the task: were it to suspend as the task, it would hand the CPU back to
 * the task as if the task had yielded.  So the running coroutine must be
 * the task's own; such a coroutine is refused (EPERM) like any code
 * outside a task. */
static inline coil_task *coil__task_self(void)
{
    coil_task *t = coil__task_running;
    return t && coil__coro_running == ((struct coil__task_head *)t)->coro
               ? t : NULL;
}

/* What a suspended task waits on, in words: each service that suspends a
 * task describes its own waits, so that coil_dump_tasks can say "fd 7
 * readable, deadline in 1.2 s" or "lock held by 'writer'" without task.c
 * knowing fds or locks.  describe writes into buf (size > 0) what obj —
 * the service's waiter record, on the waiting task's stack — waits on;
 * now is the loop's time.  Runs on the loop's thread, between steps. */
typedef struct coil__wait_kind {
    void (*describe)(const void *obj, coil_time now, char *buf, size_t size);
    /* 1: something outside the loop's tasks may end the wait (an fd, a
     * signal, another thread); 0: only a task of the loop can (a lock, a
     * queue).  What coil_run's deadlock rule asks of a waiting task. */
    int outside;
} coil__wait_kind;

/* Note what the calling task's next suspension (coil__task_park or
 * coil_await) waits on; the note is dropped when that wait ends.  No-op
 * outside a task.  Two stores: services call it on every wait. */
void coil__task_note_wait(const coil__wait_kind *how, const void *obj);

/* Suspend the calling task (which must be one) until coil__task_wake() or
 * a cancellation request.  Returns 0 when woken — possibly spuriously: the
 * caller re-checks what it waits for — or delivers cancellation: -1 with
 * errno ECANCELED in COIL_TASK_CANCEL_AS_ERROR mode, else an unwind that
 * does not return. */
int coil__task_park(void);

/* Schedule a step of t (no-op if one is queued or t has ended).  Does not
 * allocate; safe from a poll watcher.  Exported for the hook layer
 * (src/hook/intr.c), which wakes the tasks whose calls a signal
 * interrupted. */
__attribute__((visibility("default"))) void coil__task_wake(coil_task *t);

/* Leave the calling task's shielded region (coil_shield_begin) without
 * delivering a request that arrived in it: the request stays pending, for
 * the task's next suspension point.  For the hook layer's
 * pthread_mutex_lock (src/hook/lock.c), which has no ECANCELED to return
 * once it has taken the lock.  0, or -1 with errno EPERM (outside a task)
 * or EINVAL (no region open).  Does not suspend. */
__attribute__((visibility("default"))) int coil__shield_end_quietly(void);

/* Whether the calling task takes cancellation as an error
 * (COIL_TASK_CANCEL_AS_ERROR); 0 outside a task.  For src/hook/lock.c. */
__attribute__((visibility("default"))) int coil__task_cancels_as_error(void);

/* The cooperative budget (coil.h's coil_budget_set, docs/scheduler.md
 * "Fairness"): coil__budget_left (declared in core/coro.h) is how many
 * more counted operations the running task may complete before it
 * yields.  Filled whenever a task is resumed (task.c's enter), so it
 * counts the operations since the running task last suspended: a task
 * never migrates, and only one runs per thread at a time.  0 everywhere
 * but in a task's own coroutine: task.c's step gives the loop back the
 * value it had, 0 on the thread's own stack, and coil_coro_resume hides
 * it from a coroutine that is not a task's.  So nonzero budget says "a
 * task is calling", as coil__task_self() would, in one load.  64 bits so
 * that "off" (all ones) is never used up. */

/* The budget is spent: yield as coil_yield does (cancellation may be
 * delivered), then count the operation.  0, or -1 with errno ECANCELED
 * (error mode); in unwind mode cancellation does not return.  Outside a
 * task's own coroutine it does nothing and returns 0: the call goes on to
 * report EPERM as it would have (src/task/budget.c). */
int coil__budget_yield(void);

/* Count one operation of a call that may suspend, at its start, before it
 * does anything it could not take back: if the running task has used its
 * budget up, it yields first, so that cancellation, if delivered there,
 * finds nothing consumed.  Only for calls documented "may suspend" (a
 * call documented not to suspend must never reach it).  0, or as
 * coil__budget_yield. */
static inline int coil__budget_spend(void)
{
    if (__builtin_expect(coil__budget_left == 0, 0))
        return coil__budget_yield();
    coil__budget_left--;
    return 0;
}

/* A fast path's half of coil__budget_spend: count the operation and
 * return 1 if the budget allows it without a yield, else 0 (nothing
 * counted: the caller takes its slow path, which spends). */
static inline int coil__budget_take(void)
{
    if (__builtin_expect(coil__budget_left == 0, 0))
        return 0;
    coil__budget_left--;
    return 1;
}

/* Before closing loop (not running, on its own thread): cancel every task
 * still alive, run the loop until their cleanup has finished, and run the
 * callbacks that leaves behind.  What coil_run and a runtime's loops do at
 * the end (src/task/shutdown.c). */
void coil__loop_shutdown(coil_loop *loop);

/* How many stacks ended tasks of this thread keep for the next spawns
 * (task.c says why): they are neither the pool's idle ones nor anyone's
 * live stack; *max (if max) gets the most it keeps, 0 in debug-check
 * builds.  For tests. */
int coil__task_kept_stacks(int *max);

#pragma GCC visibility pop

#endif
