/*
 * src/loop/handle.c — callbacks the user schedules (layer 3): coil_call_soon,
 * coil_call_at, coil_call_later, and the coil_handle that names one.
 *
 * A coil_handle is shared by the loop and, if it asked, the caller: the
 * loop holds a reference while the callback is scheduled, the caller from
 * coil_call_* until coil_handle_release.  Whoever drops the last one frees
 * it, so a handle outlives its callback, its cancellation and its loop for
 * as long as the caller keeps it.  The count is atomic so that a handle
 * may be released from any thread.
 *
 * A handle waits in the loop's ready queue (call_soon) or timer heap
 * (call_at, call_later); loop.c moves it from the heap to the queue when
 * it is due and runs it as any work item (handle.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "coil.h"
#include "loop/debug.h"
#include "loop/handle.h"
#include "loop/loop.h"
#include "loop/timer.h"

/* ------------------------------------------------------------ handles */

static coil_handle *handle_new(coil_loop *loop, coil_callback fn, void *arg,
                               int caller_ref)
{
    coil_handle *h = malloc(sizeof *h);
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    coil__work_init(&h->work, coil__handle_run_work, h);
    h->timer = (coil__timer){.slot = COIL__TIMER_NONE};
    h->fn = fn;
    h->arg = arg;
    h->loop = loop;
    h->thread = coil__loop_runq(loop)->thread;
    atomic_init(&h->refs, caller_ref ? 2u : 1u);
    h->state = COIL__HANDLE_PENDING;
    h->magic = COIL__MAGIC_LIVE;
    return h;
}

static void handle_unref(coil_handle *h)
{
#ifdef COIL_DEBUG_CHECKS
    coil__debug_check_live(h->magic, "coil_handle_release", h);
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
        h->magic = COIL__MAGIC_DEAD;
        coil__debug_quarantine(h);
    }
#else
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
        /* volatile: a store just before free() is otherwise dropped */
        *(volatile unsigned *)&h->magic = COIL__MAGIC_DEAD;
        free(h);
    }
#endif
}

void coil__handle_drop(coil_handle *h)
{
    if (coil__timer_queued(&h->timer))
        coil__timers_remove(coil__loop_timers(h->loop), &h->timer);
    else
        coil__list_remove(&h->work.node);
    h->state = COIL__HANDLE_CANCELLED;
    h->loop = NULL;
    handle_unref(h);
}

/* State is set before fn runs, so that fn cancelling its own handle gets 0
 * (it is running: too late to stop it). */
static void handle_run(coil_handle *h)
{
    h->state = COIL__HANDLE_RAN;
    h->loop = NULL;
    h->fn(h->arg);
    handle_unref(h);
}

void coil__handle_run_work(void *h)
{
    handle_run(h);
}

int coil_handle_cancel(coil_handle *h)
{
    if (!h) {
        errno = EINVAL;
        return -1;
    }
#ifdef COIL_DEBUG_CHECKS
    coil__debug_check_live(h->magic, "coil_handle_cancel", h);
#endif
    if (h->thread != &coil__loop_token) {
        errno = EPERM;
        return -1;
    }
    if (h->state != COIL__HANDLE_PENDING)
        return 0;
    coil__handle_drop(h);
    return 1;
}

int coil_handle_release(coil_handle *h)
{
    if (!h)
        return 0;
#ifndef COIL_DEBUG_CHECKS
    /* A cheap guard, not a guarantee (the memory may be reused by then);
     * Debug builds quarantine freed handles and abort with a report. */
    if (h->magic != COIL__MAGIC_LIVE) {
        errno = EINVAL;
        return -1;
    }
#endif
    handle_unref(h);
    return 0;
}

/* ---------------------------------------------------------- scheduling */

/* The checks coil_call_* share; returns the loop to schedule on. */
static coil_loop *call_target(coil_loop *loop, coil_callback fn,
                              coil_handle **handle)
{
    if (handle)
        *handle = NULL;
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    loop = coil__loop_resolve(loop);
    if (loop && !coil__loop_owned(loop)) {
        errno = EPERM;
        return NULL;
    }
    return loop;
}

int coil_call_soon(coil_loop *loop, coil_callback fn, void *arg,
                   coil_handle **handle)
{
    loop = call_target(loop, fn, handle);
    coil_handle *h = loop ? handle_new(loop, fn, arg, handle != NULL) : NULL;
    if (!h)
        return -1;
    coil__list_push_back(&coil__loop_runq(loop)->ready, &h->work.node);
    if (handle)
        *handle = h;
    return 0;
}

static int schedule_at(coil_loop *loop, coil_time when, coil_callback fn,
                       void *arg, coil_handle **handle)
{
    coil_handle *h = handle_new(loop, fn, arg, handle != NULL);
    if (!h)
        return -1;
    h->timer.when = when;
    if (coil__timers_push(coil__loop_timers(loop), &h->timer) != 0) {
        free(h);
        return -1;
    }
    if (handle)
        *handle = h;
    return 0;
}

int coil_call_at(coil_loop *loop, coil_time when, coil_callback fn, void *arg,
                 coil_handle **handle)
{
    loop = call_target(loop, fn, handle);
    return loop ? schedule_at(loop, when, fn, arg, handle) : -1;
}

/* A delay counts from the live clock, not from the iteration's cached
 * time: a callback that computed for 10 ms and then sleeps 5 ms must
 * still sleep 5 ms.  Saturates rather than overflow. */
int coil_call_later(coil_loop *loop, coil_time delay, coil_callback fn,
                    void *arg, coil_handle **handle)
{
    loop = call_target(loop, fn, handle);
    if (!loop)
        return -1;
    return schedule_at(loop, coil__time_after(coil_clock(), delay), fn, arg,
                       handle);
}

coil_time coil_deadline_in(coil_time delay)
{
    return delay < 0 ? -1 : coil__time_after(coil_loop_time(NULL), delay);
}
