/*
 * src/task/cancel.c — cancelling tasks (layer 4): requests and their
 * delivery, shields, timeout scopes and cleanup handlers.
 *
 * Cancellation is counted requests.  Delivery happens only where the task
 * suspends (task.c asks deliverable() there), and only outside shielded
 * regions and outside its own unwinding: either an ECANCELED return (error
 * mode) or an unwind — the cleanup handlers run newest first on the task's
 * own stack, then the task ends CANCELLED and its coroutine is never
 * resumed again, so the frames above the suspension point are abandoned
 * exactly as pthread_cancel abandons them after its cleanup handlers.
 *
 * A timeout scope is a marker in the cleanup chain: the unwinding it
 * started stops there (longjmp, on the same stack) instead of ending the
 * task.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>

#include "loop/debug.h"
#include "task/task_impl.h"

/* ------------------------------------------------------- timeout scopes */

enum { SCOPE_ARMED = 1, SCOPE_FIRED, SCOPE_CAUGHT };

/* Marks a timeout scope's node in the cleanup chain; never called. */
static void scope_marker(void *arg)
{
    (void)arg;
}

/* Met while unwinding.  Each scope that fired withdraws its own request;
 * the one that leaves none pending is where the cancellation came from,
 * and the unwinding stops there. */
static void scope_reached(coil_task *t, coil_timeout *s)
{
    int fired = s->state == SCOPE_FIRED;
    coil__timer_disarm(&s->timer);
    if (!fired)
        return;
    if (--t->cancel_requests > 0)
        return;                       /* someone else's cancellation too */
    t->cancel_requests = 0;
    t->unwinding = 0;
    s->state = SCOPE_CAUGHT;
    longjmp(s->jump, 1);              /* same stack: the scope's frame is live */
}

/* Run the cleanup handlers, end CANCELLED, and leave the coroutine for
 * good: the step that resumed it sees the task done and retires it. */
__attribute__((noreturn)) static void unwind(coil_task *t)
{
    t->unwinding = 1;
    while (t->cleanup) {
        coil_cleanup *c = t->cleanup;
        t->cleanup = c->prev;
        if (c->fn == scope_marker)
            scope_reached(t, c->arg);
        else if (c->fn)
            c->fn(c->arg);            /* may suspend: not re-cancelled */
    }
    coil__task_exit_cancelled(t);
}

int coil__task_deliver(coil_task *t)
{
    if (t->flags & COIL_TASK_CANCEL_AS_ERROR) {
        t->cancel_requests--;
        t->delivered++;
        errno = ECANCELED;
        return -1;
    }
    unwind(t);
}

int coil__task_cancel(coil_task *t)
{
    if (is_done(t))
        return 0;
    if (!t->started && !t->unwinding) {
        /* Never ran: it never will. */
        coil__future_finish(&t->fut, COIL_CANCELLED, NULL, 0);
        coil__task_retire(t);
        return 1;
    }
    t->cancel_requests++;
    if (t == coil__task_running || !deliverable(t))
        return 1;                     /* at its next suspension point */
    if (t->awaiting && t->awaiting->is_task &&
        !coil_future_done(t->awaiting)) {
        /* Propagate; t wakes when that task has ended (its cleanup done)
         * and then meets its own request. */
        coil__task_cancel(from_future(t->awaiting));
        return 1;
    }
    schedule_step(t);
    return 1;
}

int coil_task_cancel(coil_task *t)
{
    if (!t) {
        errno = EINVAL;
        return -1;
    }
    if (!coil__loop_owned(t->fut.loop)) {
        errno = EPERM;
        return -1;
    }
    return coil__task_cancel(t);
}

int coil_task_cancelling(const coil_task *t)
{
    if (!t) {
        errno = EINVAL;
        return -1;
    }
    return t->cancel_requests;
}

int coil_task_uncancel(void)
{
    coil_task *t = self();
    if (!t) {
        errno = EPERM;
        return -1;
    }
    if (t->cancel_requests > 0)
        t->cancel_requests--;
    return t->cancel_requests;
}

int coil_shield_begin(void)
{
    coil_task *t = self();
    if (!t)
        return coil__debug_outside_task("coil_shield_begin");
    t->shield_depth++;
    return 0;
}

int coil_shield_end(void)
{
    coil_task *t = self();
    if (!t) {
        errno = EPERM;
        return -1;
    }
    if (t->shield_depth == 0) {
        errno = EINVAL;
        return -1;
    }
    if (--t->shield_depth == 0 && deliverable(t))
        return coil__task_deliver(t);
    return 0;
}

int coil__shield_end_quietly(void)
{
    coil_task *t = self();
    if (!t || t->shield_depth == 0) {
        errno = t ? EINVAL : EPERM;
        return -1;
    }
    t->shield_depth--;                /* a request stays pending */
    return 0;
}

int coil__task_cancels_as_error(void)
{
    coil_task *t = self();
    return t && (t->flags & COIL_TASK_CANCEL_AS_ERROR);
}

static void scope_fire(void *arg)
{
    coil_timeout *s = arg;
    if (s->state != SCOPE_ARMED)
        return;
    s->state = SCOPE_FIRED;
    s->delivered_at_fire = s->task->delivered;
    coil__task_cancel(s->task);
}

int coil__timeout_arm(coil_timeout *s, coil_time delay)
{
    coil_task *t = self();
    if (!t)
        return coil__debug_outside_task("coil_timeout_begin");
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    s->task = t;
    s->state = SCOPE_ARMED;
    s->timer = NULL;
    if (coil_call_later(t->fut.loop, delay, scope_fire, s, &s->timer) != 0)
        return -1;
    s->catcher = (coil_cleanup){scope_marker, s, NULL, 0};
    coil__cleanup_push(&s->catcher);
    return 0;
}

int coil_timeout_end(coil_timeout *s)
{
    coil_task *t = self();
    if (!s || !t || s->task != t) {
        errno = EINVAL;
        return -1;
    }
    if (s->state == SCOPE_CAUGHT) {   /* unwound to, and stopped here */
        errno = ETIMEDOUT;
        return -1;
    }
    if (t->cleanup != &s->catcher) {
        errno = EINVAL;               /* not the innermost open scope */
        return -1;
    }
    t->cleanup = s->catcher.prev;
    coil__timer_disarm(&s->timer);
    if (s->state != SCOPE_FIRED)
        return 0;
    /* Fired, but the region ended without being unwound: error mode, or
     * it never suspended again.  An undelivered request is withdrawn. */
    if (t->delivered == s->delivered_at_fire && t->cancel_requests > 0)
        t->cancel_requests--;
    errno = ETIMEDOUT;
    return -1;
}

void coil__cleanup_remove(coil_cleanup *c)
{
    coil_task *t = self();
    for (coil_cleanup **p = t ? &t->cleanup : NULL; p && *p; p = &(*p)->prev)
        if (*p == c) {
            *p = c->prev;
            return;
        }
}

void coil__cleanup_left_open(coil_cleanup *c)
{
    coil_task *t = self();
    coil__debug_report("%s%s%s%s: a block of coil_cleanup_push was left (by "
                       "return, break or goto) without its coil_cleanup_pop, "
                       "which would leave its handler in a dead frame",
                       t ? "task '" : "outside any task",
                       t ? coil_task_name(t) : "", t ? "' fn=" : "",
                       t ? t->fn_name : "");
    (void)c;
    abort();
}

void coil__cleanup_push(coil_cleanup *c)
{
    coil_task *t = self();
    c->open = 1;
    c->prev = t ? t->cleanup : NULL;
    if (t)
        t->cleanup = c;
}

void coil__cleanup_pop(coil_cleanup *c, int execute)
{
    coil_task *t = self();
    if (t && t->cleanup == c)
        t->cleanup = c->prev;
    c->open = 0;
    if (execute && c->fn)             /* coil_cleanup_push(NULL, ...) */
        c->fn(c->arg);
}
