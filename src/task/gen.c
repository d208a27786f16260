/*
 * src/task/gen.c — generators (layer 4): a function in a task of its own
 * that hands values, one per request, to the task driving it.
 *
 * Two tasks take turns through three flags: `want` (the driver asked),
 * `has` (a value waits to be taken) and `ended` (the generator's task is
 * done, set by a done-callback on its future so that every way it can
 * end — return, failure, unwinding, cancelled before it ran — is seen the
 * same way).  Each side parks with coil__task_park and is woken only
 * while it is parked at one of the two meeting points here (`driver`,
 * `parked`), never out of some other wait of its own.  A value produced
 * after the driver gave up (deadline, cancellation) stays in `value` for
 * the next request, so nothing is lost.
 */
#include <errno.h>
#include <stdlib.h>

#include "coil.h"
#include "loop/loop.h"
#include "task/future.h"
#include "task/task.h"

struct coil_gen {
    coil_task *task;              /* the generator's, held by g */
    coil_gen_fn fn;
    void *arg;
    coil_task *driver;            /* parked in coil_gen_next, or NULL */
    int parked;                   /* the generator waits for a request */
    int want, has, ended;
    int timedout;
    void *value;
};

static coil_future *gen_future(coil_gen *g)
{
    return coil_task_future(g->task);
}

/* ----------------------------------------------------- generator side */

static void unpark(void *arg)
{
    ((coil_gen *)arg)->parked = 0;
}

/* Wait until the driver asks for a value it does not have yet.  Returns
 * 0, or -1 with errno ECANCELED (or unwinds). */
static int wait_request(coil_gen *g)
{
    int r = 0;
    g->parked = 1;
    coil_cleanup_push(unpark, g);
    while (!g->want || g->has)
        if ((r = coil__task_park()) != 0)
            break;
    coil_cleanup_pop(1);
    return r;
}

static void *gen_body(void *arg)
{
    coil_gen *g = arg;
    if (wait_request(g) != 0)
        return coil_task_error(ECANCELED);
    return g->fn(g, g->arg);
}

static void gen_ended(coil_future *f, void *arg)
{
    (void)f;
    coil_gen *g = arg;
    g->ended = 1;
    if (g->driver)
        coil__task_wake(g->driver);
}

coil_gen *coil_gen_new(const coil_task_attr *attr, coil_gen_fn fn,
                       void *arg)
{
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    coil_gen *g = calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    g->fn = fn;
    g->arg = arg;
    g->task = coil_task_spawn(attr, gen_body, g, "coil_gen");
    if (!g->task) {
        free(g);
        return NULL;
    }
    if (coil_future_add_done_callback(gen_future(g), gen_ended, g) != 0) {
        coil_task_cancel(g->task);
        coil_task_release(g->task);
        free(g);
        errno = ENOMEM;
        return NULL;
    }
    return g;
}

int coil_gen_yield(coil_gen *g, void *value)
{
    if (!g) {
        errno = EINVAL;
        return -1;
    }
    if (coil_task_current() != g->task) {
        errno = EPERM;
        return -1;
    }
    g->value = value;
    g->has = 1;
    g->want = 0;
    if (g->driver)
        coil__task_wake(g->driver);
    return wait_request(g);
}

/* -------------------------------------------------------- driver side */

/* What next says once the generator has ended: 0 or its error. */
static int outcome(coil_gen *g)
{
    if (coil_future_result(gen_future(g), NULL) != 0)
        return -1;
    return 0;
}

static int take(coil_gen *g, void **out)
{
    g->has = 0;
    if (out)
        *out = g->value;
    return 1;
}

static void deadline_fire(void *arg)
{
    coil_gen *g = arg;
    g->timedout = 1;
    if (g->driver)
        coil__task_wake(g->driver);
}

typedef struct next_wait {
    coil_gen *g;
    coil_handle *timer;
} next_wait;

/* On every way out of a wait in next, unwinding included. */
static void next_exit(void *arg)
{
    next_wait *nw = arg;
    coil__timer_disarm(&nw->timer);
    nw->g->driver = NULL;
}

/* Ask for a value and park until there is one, the generator ends, the
 * deadline passes or the caller is cancelled.  Returns 0 or -1 with
 * errno ETIMEDOUT, ECANCELED or ENOMEM (or unwinds). */
static int wait_value(coil_gen *g, coil_time deadline)
{
    next_wait nw = {g, NULL};
    g->timedout = 0;
    if (deadline >= 0 && coil_call_at(gen_future(g)->loop, deadline,
                                      deadline_fire, g, &nw.timer) != 0)
        return -1;
    g->want = 1;
    if (g->parked)
        coil__task_wake(g->task);
    g->driver = coil_task_current();
    int r = 0;
    coil_cleanup_push(next_exit, &nw);
    while (!g->has && !g->ended && !g->timedout)
        if ((r = coil__task_park()) != 0)
            break;
    coil_cleanup_pop(1);
    if (r == 0 && !g->has && !g->ended) {
        errno = ETIMEDOUT;
        r = -1;
    }
    return r;
}

/* 0 if g may be driven by the caller; -1 with errno. */
static int check_driver(coil_gen *g)
{
    if (!g) {
        errno = EINVAL;
        return -1;
    }
    if (coil__future_check(gen_future(g)) != 0)
        return -1;
    coil_task *t = coil_task_current();
    if (!t || t == g->task) {
        errno = t ? EINVAL : EPERM;
        return -1;
    }
    if (g->driver) {
        errno = EBUSY;
        return -1;
    }
    return 0;
}

int coil_gen_next(coil_gen *g, void **out, coil_time deadline)
{
    if (check_driver(g) != 0)
        return -1;
    if (g->has)
        return take(g, out);
    if (g->ended)
        return outcome(g);
    if (coil__deadline_passed(gen_future(g)->loop, deadline)) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (wait_value(g, deadline) != 0)
        return -1;
    return g->has ? take(g, out) : outcome(g);
}

coil_task *coil_gen_task(coil_gen *g)
{
    return g ? g->task : NULL;
}

/* --------------------------------------------------------------- close */

int coil_gen_close(coil_gen *g)
{
    if (!g) {
        errno = EINVAL;
        return -1;
    }
    if (coil__future_check(gen_future(g)) != 0)
        return -1;
    if (coil_task_current() == g->task) {
        errno = EINVAL;
        return -1;
    }
    if (g->driver) {
        errno = EBUSY;
        return -1;
    }
    coil_future *f = gen_future(g);
    int in_task = coil_shield_begin() == 0;
    if (!coil_future_done(f)) {
        coil_task_cancel(g->task);
        coil_await(f, NULL);          /* shielded: returns once it ended */
    }
    if (!coil_future_done(f))         /* outside a task, in a callback: */
        return -1;                    /* EBUSY from coil_await */
    coil_future_result(f, NULL);      /* its error, if any, is read */
    coil_future_remove_done_callback(f, gen_ended, g);
    coil_task_release(g->task);
    free(g);
    if (in_task)
        coil_shield_end();            /* may deliver the caller's cancel */
    return 0;
}
