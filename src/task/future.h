/*
 * src/task/future.h — the future's insides, shared with task.c (layer 4).
 */
#ifndef COIL_FUTURE_H
#define COIL_FUTURE_H

#include <stdint.h>
#include "coil.h"
#include "loop/debug.h"
#include "loop/loop.h"

#pragma GCC visibility push(hidden)

typedef struct done_callback {
    coil_done_fn fn;
    void *arg;
} done_callback;

struct coil_future {
#ifdef COIL_DEBUG_CHECKS
    unsigned magic;               /* COIL__MAGIC_LIVE until freed */
#endif
    coil_loop *loop;
    const char *thread;           /* its loop's owner, as loop.h names it:
                                     the future may outlive the loop */
    unsigned refs;
    uint8_t state;                /* enum coil_future_state */
    uint8_t is_task;              /* embedded first in a coil_task */
    uint8_t error_read;           /* someone looked at the error */
    coil__work dispatch;          /* queued while callbacks are due */
    int error;                    /* 0: result holds the outcome */
    void *result;
    done_callback *callbacks;     /* not yet run, in order added */
    size_t ncallbacks, cap;
    coil__list waiters;           /* coil__waiter.link: tasks suspended in
                                     coil_await on it */
};

/* A task awaiting a future, as the future sees it: a link in its waiters
 * and, beside it, the work item that resumes the task.  Finishing the
 * future wakes it by posting that item, without a call into task.c. */
typedef struct coil__waiter {
    coil__list link;
    coil__work wake;              /* queued while a step of it is due */
} coil__waiter;

/* How the futures that are tasks differ (is_task): task.c registers this
 * once, from a constructor, so that futures need not call up into it.
 * Neither is on a hot path: coil_task_release frees a task itself, and
 * cancelling goes through the task's own rules. */
typedef struct coil__future_kind {
    void (*free)(coil_future *f);     /* the task's memory, not free(f) */
    int (*cancel)(coil_future *f);    /* coil_future_cancel on a task */
} coil__future_kind;
void coil__future_set_task_kind(const coil__future_kind *kind);

/* What dropping a future's last reference does: free its callbacks and
 * the future (a task's memory through its kind's free). */
void coil__future_destroy(coil_future *f);

/* The loop callback that runs a done future's callbacks. */
void coil__future_dispatch(void *arg);

/* Set up a future embedded in something else (a task), with one
 * reference.  Inline, field by field: tasks make one per spawn. */
static inline void coil__future_init(coil_future *f, coil_loop *loop,
                                     int is_task)
{
#ifdef COIL_DEBUG_CHECKS
    f->magic = COIL__MAGIC_LIVE;
#endif
    f->loop = loop;
    f->thread = coil__loop_runq(loop)->thread;
    f->refs = 1;
    f->state = COIL_PENDING;
    f->is_task = (uint8_t)is_task;
    f->error_read = 0;
    coil__work_init(&f->dispatch, coil__future_dispatch, f);
    f->error = 0;
    f->result = NULL;
    f->callbacks = NULL;
    f->ncallbacks = f->cap = 0;
    coil__list_init(&f->waiters);
}

static inline int coil__future_is_done(const coil_future *f)
{
    return f->state == COIL_DONE || f->state == COIL_CANCELLED;
}

/* coil_future_result for a future known to be done. */
static inline int coil__future_outcome(coil_future *f, void **out)
{
    if (f->state == COIL_DONE && f->error == 0) {
        if (out)
            *out = f->result;
        return 0;
    }
    return coil_future_result(f, out);
}

/* Move a pending or running f to a final state, and nothing more: no
 * callbacks scheduled, no waiter woken (coil__future_finish does both). */
static inline void coil__future_settle(coil_future *f, int state,
                                       void *result, int error)
{
    f->state = (uint8_t)state;
    f->result = result;
    f->error = error;
}

/* Move f to a final state (COIL_DONE with result/error, or COIL_CANCELLED)
 * and schedule its callbacks.  Returns 0, or -1 with errno EALREADY. */
int coil__future_finish(coil_future *f, int state, void *result, int error);

/* Whether the future arg is done and its done-callbacks have run: the
 * condition an await outside any task runs the loop until, as asyncio's
 * run_until_complete does. */
int coil__future_settled(void *arg);

/* 0 if the calling thread may use f; -1 with errno EINVAL (NULL) or EPERM
 * (f's loop belongs to another thread). */
int coil__future_check(const coil_future *f);


#pragma GCC visibility pop

#endif
