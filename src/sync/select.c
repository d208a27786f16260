/*
 * src/sync/select.c — coil_select: the first of several queue gets and
 * puts, event waits and future completions (layer 5).
 *
 * A select that must wait puts one waiter record per case on the case's
 * object: the ordinary coil__sync_waiter in a queue's or event's list, or
 * a done-callback on a future.  Each record points back to the select.
 * Single thread, no locks: the first object to serve one of them calls
 * coil__select_fired (through coil__sync_serve, or the future's callback)
 * which, before returning to that object, takes every sibling record off
 * its object.  So exactly one case is ever served.  The served record
 * holds what it was handed (an item, a reserved slot) until the task
 * runs and takes it; if the task is cancelled first, the cleanup handler
 * gives it back through the object's `undo`, as a plain wait does
 * (sync.c) — a cancelled select has done nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "coil.h"
#include "core/list.h"
#include "loop/debug.h"
#include "loop/loop.h"
#include "sync/sync.h"
#include "task/future.h"
#include "task/task.h"

/* Cases waited on without allocating: the usual select has a handful. */
#define SMALL 8

struct coil__select {
    coil_task *task;
    coil_select_case *cases;
    coil__sync_waiter *w;         /* one record per case */
    size_t entered;               /* records placed on their objects */
    int fired;                    /* the case served, or -1 */
    int timedout;
    coil_handle *timer;
    int fired_state;              /* copied out for after the cleanup */
    void *fired_item;
};

/* ----------------------------------------------------------- choosing */

/* A per-thread xorshift64*: fairness needs no more than a cheap uniform
 * pick, and a shared generator would need a lock. */
static __thread uint64_t rng;

static uint64_t next_random(void)
{
    if (rng == 0)
        rng = ((uint64_t)(uintptr_t)&rng ^ (uint64_t)coil_clock()) | 1;
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

/* The object a queue or event case waits on: every sync object starts
 * with its coil__sync_obj (sync.h), so this is a cast, not a call. */
static const coil__sync_obj *case_obj(const coil_select_case *c)
{
    if (c->op == COIL_SELECT_GET || c->op == COIL_SELECT_PUT)
        return (const coil__sync_obj *)(const void *)c->queue;
    return (const coil__sync_obj *)(const void *)c->event;
}

/* 0 if c names a known op and an object of this thread; -1 with errno
 * EINVAL or EPERM. */
static int check_case(const coil_select_case *c, pthread_t me)
{
    if (c->op == COIL_SELECT_FUTURE)
        return coil__future_check(c->future);
    if (c->op < COIL_SELECT_GET || c->op > COIL_SELECT_EVENT ||
        !case_obj(c)) {
        errno = EINVAL;
        return -1;
    }
    if (!pthread_equal(case_obj(c)->thread, me)) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

static int is_ready(const coil_select_case *c)
{
    switch (c->op) {
    case COIL_SELECT_GET:
        return coil__queue_can_get(c->queue);
    case COIL_SELECT_PUT:
        return coil__queue_can_put(c->queue);
    case COIL_SELECT_EVENT:
        return coil_event_is_set(c->event) == 1;
    default:
        return coil__future_is_done(c->future);
    }
}

/* A uniform pick in [0, n) from one random number: a multiply and a
 * shift instead of a division. */
static size_t pick_below(size_t n)
{
    return (size_t)(((next_random() >> 32) * (uint64_t)n) >> 32);
}

/* Check every case and choose one of the ready ones, each as likely as
 * the others.  Returns 0 with *pick its index, or -1 if none is ready;
 * -2 with errno EINVAL or EPERM for a bad case.  One pass, and one
 * random number only when several are ready: this is select's fast
 * path, and a ready case is the common one. */
static int scan(const coil_select_case *cases, size_t n, int *pick)
{
    if (!cases || n == 0 || n > INT32_MAX) {
        errno = EINVAL;
        return -2;
    }
    pthread_t me = pthread_self();
    int ready[SMALL];
    size_t nready = 0, seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (check_case(&cases[i], me) != 0)
            return -2;
        if (!is_ready(&cases[i]))
            continue;
        seen++;
        if (nready < SMALL)
            ready[nready++] = (int)i;
        else if (pick_below(seen) < SMALL)  /* beyond it: a reservoir */
            ready[pick_below(SMALL)] = (int)i;
    }
    if (seen == 0)
        return -1;
    *pick = ready[nready == 1 ? 0 : pick_below(nready)];
    return 0;
}

/* Do the ready case c now.  Returns 0 (c->error set), or -1 with errno
 * ENOMEM (a put that could not make room: nothing done). */
static int perform_now(coil_select_case *c)
{
    int r = 0;
    c->error = 0;
    if (c->op == COIL_SELECT_GET)
        r = coil_queue_try_get(c->queue, &c->item);
    else if (c->op == COIL_SELECT_PUT)
        r = coil_queue_try_put(c->queue, c->item);
    if (r != 0 && errno == ESHUTDOWN) {
        c->error = ESHUTDOWN;
        r = 0;
    }
    return r;
}

/* Check the cases and do one ready case now: its index, or -1 with
 * errno EAGAIN (none ready), EINVAL, EPERM or ENOMEM. */
static int select_now(coil_select_case *cases, size_t n)
{
    int i, r = scan(cases, n, &i);
    if (r == -1)
        errno = EAGAIN;
    if (r != 0)
        return -1;
    return perform_now(&cases[i]) == 0 ? i : -1;
}

int coil_select_try(coil_select_case *cases, size_t n)
{
    return select_now(cases, n);
}

/* ------------------------------------------------------------ waiting */

static void future_fired(coil_future *f, void *arg)
{
    (void)f;
    coil__sync_waiter *w = arg;
    if (w->state != COIL__W_WAITING)
        return;
    w->state = COIL__W_GRANTED;
    coil__select_fired(w);
}

/* Take record i off its object, if it is still on it. */
static void withdraw(coil__select *sel, size_t i)
{
    coil__sync_waiter *w = &sel->w[i];
    if (w->state != COIL__W_WAITING)
        return;
    w->state = COIL__W_WITHDRAWN;
    if (sel->cases[i].op == COIL_SELECT_FUTURE) {
        coil_future_remove_done_callback(sel->cases[i].future, future_fired,
                                         w);
        return;
    }
    coil__list_remove(&w->link);
    if (w->obj->withdraw)
        w->obj->withdraw(w->obj, w);
}

void coil__select_fired(coil__sync_waiter *w)
{
    coil__select *sel = w->sel;
    sel->fired = (int)(w - sel->w);
    for (size_t i = 0; i < sel->entered; i++)
        withdraw(sel, i);         /* w itself is no longer WAITING */
    coil__task_wake(sel->task);
}

static void deadline_fire(void *arg)
{
    coil__select *sel = arg;
    if (sel->fired >= 0)
        return;                   /* served first: that case stands */
    for (size_t i = 0; i < sel->entered; i++)
        withdraw(sel, i);
    sel->timedout = 1;
    coil__task_wake(sel->task);
}

/* Leave record i's object: give back a grant not taken, drop the hold
 * on the object. */
static void leave(coil__select *sel, size_t i)
{
    coil__sync_waiter *w = &sel->w[i];
    withdraw(sel, i);
    if (sel->cases[i].op == COIL_SELECT_FUTURE) {
        coil_future_release(sel->cases[i].future);
        return;
    }
    if (w->state == COIL__W_GRANTED) {
        w->state = COIL__W_TAKEN;     /* before undo: it may grant again */
        w->obj->undo(w->obj, w);
    }
    w->obj->inflight--;
}

/* On every way out of the wait, unwinding included. */
static void select_exit(void *arg)
{
    coil__select *sel = arg;
    coil__timer_disarm(&sel->timer);
    if (sel->fired >= 0) {
        sel->fired_state = sel->w[sel->fired].state;
        sel->fired_item = sel->w[sel->fired].item;
    }
    for (size_t i = 0; i < sel->entered; i++)
        leave(sel, i);
}

/* Place record i on its object.  Returns 0, or -1 with errno ENOMEM. */
static int enter(coil__select *sel, size_t i)
{
    coil_select_case *c = &sel->cases[i];
    coil__sync_waiter *w = &sel->w[i];
    *w = (coil__sync_waiter){.task = sel->task, .sel = sel,
                             .state = COIL__W_WAITING};
    if (c->op == COIL_SELECT_FUTURE) {
        if (coil_future_add_done_callback(c->future, future_fired, w) != 0)
            return -1;
        coil_future_retain(c->future);
        return 0;
    }
    coil__list *list;
    if (c->op == COIL_SELECT_EVENT)
        list = coil__event_waitlist(c->event, w);
    else
        list = coil__queue_waitlist(c->queue, w,
                                    c->op == COIL_SELECT_PUT);
    coil__list_push_back(list, &w->link);
    w->obj->inflight++;
    return 0;
}

/* Park until a case is served, the deadline passes or the task is
 * cancelled.  Returns 0 or -1 with errno ETIMEDOUT or ECANCELED (or
 * unwinds); sel->w is left either way. */
static int park(coil__select *sel)
{
    int r = 0, err = 0;
    coil_cleanup_push(select_exit, sel);
    while (sel->fired < 0 && !sel->timedout)
        if (coil__task_park() != 0) {
            r = -1;
            err = errno;          /* ECANCELED */
            break;
        }
    if (r == 0 && sel->timedout) {
        r = -1;
        err = ETIMEDOUT;
    } else if (r == 0 && sel->w[sel->fired].state == COIL__W_GRANTED) {
        sel->w[sel->fired].state = COIL__W_TAKEN;   /* ours now */
    }
    coil_cleanup_pop(1);
    if (r != 0)
        errno = err;
    return r;
}

/* Take what the fired case was handed.  Returns its index, or -1 with
 * errno ENOMEM (a put that could not store its item: nothing done). */
static int finish(coil__select *sel)
{
    coil_select_case *c = &sel->cases[sel->fired];
    c->error = 0;
    if (sel->fired_state == COIL__W_SHUTDOWN) {
        c->error = ESHUTDOWN;
    } else if (c->op == COIL_SELECT_GET) {
        coil__sync_waiter w = {.item = sel->fired_item};
        c->item = coil__queue_took_item(c->queue, &w);
    } else if (c->op == COIL_SELECT_PUT) {
        if (coil__queue_put_granted(c->queue, c->item) != 0) {
            if (errno != ESHUTDOWN)
                return -1;
            c->error = ESHUTDOWN;
        }
    }
    return sel->fired;
}

/* Place every record and the deadline, then park.  Returns as
 * coil_select. */
static int select_wait(coil__select *sel, size_t n, coil_time deadline)
{
    coil_loop *loop = coil_task_future(sel->task)->loop;
    int r = 0;
    for (; sel->entered < n; sel->entered++)
        if (enter(sel, sel->entered) != 0) {
            r = -1;
            break;
        }
    if (r == 0 && deadline >= 0 &&
        coil_call_at(loop, deadline, deadline_fire, sel, &sel->timer) != 0)
        r = -1;
    if (r != 0) {
        int err = errno;
        select_exit(sel);
        errno = err;
        return -1;
    }
    if (park(sel) != 0)
        return -1;
    return finish(sel);
}

int coil_select(coil_select_case *cases, size_t n, coil_time deadline)
{
    coil_task *t = coil_task_current();
    if (!t)
        return coil__debug_outside_task("coil_select");
    int i = select_now(cases, n);
    if (i >= 0 || errno != EAGAIN)
        return i;
    if (coil__deadline_passed(coil_task_future(t)->loop, deadline)) {
        errno = ETIMEDOUT;
        return -1;
    }
    coil__sync_waiter small[SMALL];
    coil__select sel = {.task = t, .cases = cases, .w = small, .fired = -1};
    if (n > SMALL && !(sel.w = malloc(n * sizeof *sel.w))) {
        errno = ENOMEM;
        return -1;
    }
    int r = -1, err = 0;
    coil_cleanup_push(free, sel.w == small ? NULL : sel.w);
    r = select_wait(&sel, n, deadline);
    err = errno;
    coil_cleanup_pop(1);
    if (r < 0)
        errno = err;
    return r;
}
