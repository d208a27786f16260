/*
 * src/task/future.c — futures: a state machine, an outcome, done-callbacks.
 *
 * Callbacks never run inside set_result/cancel: completing a future queues
 * one dispatch on its loop, which runs the callbacks in order.  That keeps
 * completion cheap and re-entrancy simple (a callback may add, remove or
 * complete anything), and matches asyncio's "callbacks run on the loop".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loop/debug.h"
#include "task/future.h"
#include "loop/loop.h"

static const coil__future_kind *task_kind;

void coil__future_set_task_kind(const coil__future_kind *kind)
{
    task_kind = kind;
}

/* A done future's callbacks run even if its loop closes first (loop.h). */
COIL__REGISTER static void register_dispatch(void)
{
    coil__loop_run_at_close(coil__future_dispatch);
}

coil_future *coil_future_new(coil_loop *loop)
{
    loop = coil__loop_resolve(loop);
    if (!loop)
        return NULL;
    coil_future *f = malloc(sizeof *f);
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    coil__future_init(f, loop, 0);
    return f;
}

coil_future *coil_future_retain(coil_future *f)
{
    if (f)
        f->refs++;
    return f;
}

int coil_future_release(coil_future *f)
{
    if (!f)
        return 0;
#ifdef COIL_DEBUG_CHECKS
    coil__debug_check_live(f->magic,
                           f->is_task ? "coil_task_release"
                                      : "coil_future_release", f);
#endif
    if (--f->refs == 0)
        coil__future_destroy(f);
    return 0;
}

void coil__future_destroy(coil_future *f)
{
    if (f->callbacks)
        free(f->callbacks);
    if (f->is_task)
        task_kind->free(f);
#ifdef COIL_DEBUG_CHECKS
    else {
        f->magic = COIL__MAGIC_DEAD;
        coil__debug_quarantine(f);
    }
#else
    else
        free(f);
#endif
}

int coil_future_state(const coil_future *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    return f->state;
}

int coil_future_done(const coil_future *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    return coil__future_is_done(f);
}

/* A future belongs to its loop's thread: its state, callbacks and waiters
 * are not locked.  EINVAL for NULL, EPERM from any other thread. */
int coil__future_check(const coil_future *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    if (f->thread != &coil__loop_token) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

/* ----------------------------------------------------------- callbacks */

/* Run the callbacks one at a time, taking each off the list before calling
 * it: a callback may add or remove others, or release the future's other
 * references (the dispatch holds its own). */
void coil__future_dispatch(void *arg)
{
    coil_future *f = arg;
    while (f->ncallbacks > 0) {
        done_callback cb = f->callbacks[0];
        f->ncallbacks--;
        memmove(f->callbacks, f->callbacks + 1,
                f->ncallbacks * sizeof *f->callbacks);
        cb.fn(f, cb.arg);
    }
    coil_future_release(f);
}

/* The dispatch is a work item inside the future: queueing it allocates
 * nothing, so completing a future cannot fail for want of memory. */
static void schedule_dispatch(coil_future *f)
{
    if (coil__work_queued(&f->dispatch) || f->ncallbacks == 0)
        return;
    coil__loop_post(f->loop, &f->dispatch);
    coil_future_retain(f);
}

int coil_future_add_done_callback(coil_future *f, coil_done_fn fn, void *arg)
{
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    if (coil__future_check(f) != 0)
        return -1;
    if (f->ncallbacks == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        done_callback *cbs = realloc(f->callbacks, cap * sizeof *cbs);
        if (!cbs) {
            errno = ENOMEM;
            return -1;
        }
        f->callbacks = cbs;
        f->cap = cap;
    }
    f->callbacks[f->ncallbacks++] = (done_callback){fn, arg};
    if (coil__future_is_done(f))
        schedule_dispatch(f);
    return 0;
}

int coil_future_remove_done_callback(coil_future *f, coil_done_fn fn,
                                     void *arg)
{
    if (coil__future_check(f) != 0)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < f->ncallbacks; i++)
        if (f->callbacks[i].fn != fn || f->callbacks[i].arg != arg)
            f->callbacks[kept++] = f->callbacks[i];
    int removed = (int)(f->ncallbacks - kept);
    f->ncallbacks = kept;
    return removed;
}

/* ---------------------------------------------------------- completion */

/* Schedule a step of every task in f->waiters (they take themselves off
 * the list when they run).  A waiting task is alive, so its step may be
 * posted without asking it. */
static void wake_waiters(coil_future *f)
{
    coil__list_each(pos, &f->waiters)
        coil__loop_post(f->loop,
                        &coil__container_of(pos, coil__waiter, link)->wake);
}

int coil__future_finish(coil_future *f, int state, void *result, int error)
{
    if (coil__future_is_done(f)) {
        errno = EALREADY;
        return -1;
    }
    coil__future_settle(f, state, result, error);
    /* Callbacks first, then the tasks awaiting it: a task awaiting a
     * future wakes without a callback of its own (no allocation, no hop
     * through the dispatch), and still after the callbacks run. */
    schedule_dispatch(f);
    if (!coil__list_empty(&f->waiters))
        wake_waiters(f);
    return 0;
}

int coil_future_set_result(coil_future *f, void *result)
{
    if (coil__future_check(f) != 0)
        return -1;
    if (f->is_task) {
        errno = EINVAL;
        return -1;
    }
    return coil__future_finish(f, COIL_DONE, result, 0);
}

int coil_future_set_error(coil_future *f, int err)
{
    if (coil__future_check(f) != 0)
        return -1;
    if (f->is_task || err <= 0) {
        errno = EINVAL;
        return -1;
    }
    return coil__future_finish(f, COIL_DONE, NULL, err);
}

int coil_future_cancel(coil_future *f)
{
    if (f && f->is_task)          /* coil_task_cancel has its own rules */
        return task_kind->cancel(f);
    if (coil__future_check(f) != 0)
        return -1;
    if (coil__future_is_done(f))
        return 0;
    coil__future_finish(f, COIL_CANCELLED, NULL, 0);
    return 1;
}

int coil__future_settled(void *arg)
{
    const coil_future *f = arg;
    return coil__future_is_done(f) && !coil__work_queued(&f->dispatch);
}

int coil_future_result(coil_future *f, void **out)
{
    if (coil__future_check(f) != 0)
        return -1;
    switch (f->state) {
    case COIL_CANCELLED:
        errno = ECANCELED;
        return -1;
    case COIL_DONE:
        if (f->error) {
            f->error_read = 1;
            errno = f->error;
            return -1;
        }
        if (out)
            *out = f->result;
        return 0;
    default:
        errno = EAGAIN;
        return -1;
    }
}
