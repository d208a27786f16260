/*
 * src/task/task_impl.h — a task's insides, shared by task.c (spawning,
 * steps, awaiting, sleeping) and cancel.c (cancellation, shields, timeout
 * scopes, cleanup handlers).  Internal to src/task/.
 */
#ifndef COIL_TASK_IMPL_H
#define COIL_TASK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "coil.h"
#include "core/coro.h"
#include "core/list.h"
#include "core/name.h"
#include "loop/loop.h"
#include "task/future.h"
#include "task/task.h"

#pragma GCC visibility push(hidden)

/* The fields are in two groups.  What a hand-off to a task and its
 * resume touch comes first, in four cache lines from the start of the
 * task's memory, which is aligned to a line (task_mem.c): the future's
 * state, the coroutine pointer, the wake-up work item, the cancellation
 * counts and the coroutine's own head.  Spread over seven lines, as they
 * were, a ring of 1,000 yielding tasks missed the cache on each. */
struct coil_task {
    coil_future fut;              /* first: a task is a future */
    coil_coro *coro;              /* NULL once the task has ended */
    coil__waiter waiter;          /* .link in awaiting->waiters while it
                                     waits; .wake queued while a step is
                                     due */
    int cancel_requests;
    int delivered;                /* requests delivered as ECANCELED */
    int shield_depth;
    uint8_t started;
    uint8_t debug;                /* its loop was in debug mode at spawn */
    uint8_t unwinding;
    coil_coro coro_storage;       /* what coro points to while it lives */
    /* The rest. */
    coil_task_fn fn;
    void *arg;
    const char *fn_name;
    coil__list link;              /* in its loop's live tasks */
    coil_cleanup *cleanup;        /* newest cleanup handler */
    coil_future *awaiting;        /* what it is suspended on */
    unsigned flags;
    int exit_error;               /* from coil_task_error() */
    struct coil__locals *locals;  /* task-local values (local.c), or NULL */
    size_t stack_request;         /* the stack size it was spawned with */
    unsigned long id;             /* N of a default name "Task-N" */
    char name[COIL_NAME_MAX];     /* "" until a default name is asked for */
    void *mem;                    /* what malloc gave (task_mem.c) */
    /* For coil_dump_tasks only. */
    const struct coil__wait_kind *wait_kind;  /* what it is suspended on, in
                                     words (task.h), while it waits */
    const void *wait_obj;
    coil_time since;              /* the loop time it last began to wait */
};

/* The first group, up to the coroutine's stack record, in four lines. */
_Static_assert(offsetof(struct coil_task, coro_storage) +
                   offsetof(coil_coro, stack) + sizeof(coil__stack) <= 4 * 64,
               "what a hand-off touches must stay in a task's first 4 lines");

/* The task whose step is running on this thread (or a raw coroutine it
 * resumed: see self()), or NULL. */
/* Run the destructors of t's task-local values and free them: the
 * running task t is ending, on its own stack (src/task/local.c). */
void coil__task_locals_end(coil_task *t);

/* task.h's view of the head of a task: keep the two in step. */
_Static_assert(offsetof(struct coil_task, coro) ==
                   offsetof(struct coil__task_head, coro),
               "struct coil__task_head must match struct coil_task");

/* The task whose own coroutine is running, or NULL (task.h says why a
 * raw coroutine that a task resumes is not the task).  Every call that
 * acts for "the calling task" asks this. */
static inline coil_task *self(void)
{
    return coil__task_self();
}

static inline coil_task *from_future(coil_future *f)
{
    return (coil_task *)f;        /* fut is the first member */
}

static inline int is_done(const coil_task *t)
{
    return coil__future_is_done(&t->fut);
}

/* Queue a step unless one is queued: no allocation, so it cannot fail.
 * Only a live task has a step queued (retire takes it off), and a live
 * task holds a reference to itself: the step needs none of its own. */
static inline void schedule_step(coil_task *t)
{
    if (!is_done(t))
        coil__loop_post(t->fut.loop, &t->waiter.wake);
}

/* Whether a cancellation request may be delivered to t now: one is
 * pending, and t is neither shielded nor already unwinding.  Asked at every
 * suspension point, so inline. */
static inline int deliverable(const coil_task *t)
{
    return t->cancel_requests > 0 && t->shield_depth == 0 && !t->unwinding;
}

/* What the running task's budget is refilled to when it is resumed
 * (budget.c): coil_budget_set's ops, or all ones for "off". */
extern _Atomic uint64_t coil__budget_full;

/* Deliver one pending request at a suspension point (cancel.c): -1 with
 * errno ECANCELED in error mode, else an unwind that does not return. */
int coil__task_deliver(coil_task *t);

/* Cancel t (cancel.c): coil_task_cancel after its checks. */
int coil__task_cancel(coil_task *t);

/* task.c's ends of a task, for cancel.c: retire one that never ran; end
 * the running one CANCELLED after its unwinding (does not return). */
void coil__task_retire(coil_task *t);
__attribute__((noreturn)) void coil__task_exit_cancelled(coil_task *t);

/* A task's memory and stack (task_mem.c).  alloc: memory for a task,
 * with a kept stack in its coroutine storage if one of stack_request's
 * size was cached (coil_task_spawn sets every field), or NULL with errno
 * ENOMEM.  free: give it back.  fini_coro: end t's coroutine (t->coro
 * becomes NULL), keeping its stack for a later spawn while there is room. */
coil_task *coil__task_alloc(size_t stack_request);
void coil__task_free(coil_task *t);
void coil__task_fini_coro(coil_task *t);

#pragma GCC visibility pop

#endif
