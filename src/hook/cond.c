/*
 * src/hook/cond.c — pthread_cond_wait, timed or not, hooked: a task that
 * waits for a signal another task of its thread would give parks instead
 * of sleeping in the kernel with the thread, which that task needs.
 *
 * In a task the wait unlocks the mutex and naps (src/hook/sleep.c's
 * steps) until a signal or broadcast of the condition may have come: one
 * from this thread (another task's) sets the waiter's event at once; one
 * from another thread moves a counter the naps look at (one of 64, by the
 * condition's address), and one that came unseen is made up for by a
 * return after a second at most — a spurious wake-up, which POSIX allows
 * and every caller's loop on its predicate absorbs.  A timed wait also
 * ends at its time (ETIMEDOUT), read on the condition's clock.  Then the
 * mutex is taken as pthread_mutex_lock takes it (src/hook/lock.c).  A
 * cancelled task unwinds without the mutex (POSIX would retake it for the
 * thread's cleanup handlers, which coil does not run); in
 * COIL_TASK_CANCEL_AS_ERROR mode the wait is shielded and returns with
 * the mutex held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "hook.h"
#include "../task/task.h"

/* A task in pthread_cond_wait, on its thread's list. */
typedef struct cond_waiter {
    pthread_cond_t *cond;
    coil_event *ev;               /* set by a signal from this thread */
    int woken;
    struct cond_waiter *prev, *next;
} cond_waiter;

enum { ROUNDS = 64, WAIT_MOST = 1000000000 };   /* ns */

static __thread cond_waiter *waiting;  /* this thread's tasks in a wait */
static _Atomic long task_waiters;      /* every thread's */
static _Atomic unsigned long rounds[ROUNDS];   /* signals, by cond */

static _Atomic unsigned long *round_of(pthread_cond_t *c)
{
    return &rounds[((uintptr_t)c >> 4) % ROUNDS];
}

/* A signal or broadcast of c: tell the tasks that wait for it.  Costs one
 * load while no task waits for any. */
static void note_signal(pthread_cond_t *c, int all)
{
    if (atomic_load(&task_waiters) == 0)
        return;
    atomic_fetch_add(round_of(c), 1);    /* seen by other threads' naps */
    for (cond_waiter *w = waiting; w; w = w->next)
        if (w->cond == c && !w->woken) {
            w->woken = 1;
            if (w->ev)
                coil_event_set(w->ev);
            if (!all)
                return;
        }
}

int pthread_cond_signal(pthread_cond_t *c)
{
    note_signal(c, 0);
    return LIBC(pthread_cond_signal)(c);
}

int pthread_cond_broadcast(pthread_cond_t *c)
{
    note_signal(c, 1);
    return LIBC(pthread_cond_broadcast)(c);
}

static void waiter_begin(cond_waiter *w, pthread_cond_t *c)
{
    *w = (cond_waiter){.cond = c, .ev = coil_event_new()};
    atomic_fetch_add(&task_waiters, 1);
    w->next = waiting;
    if (waiting)
        waiting->prev = w;
    waiting = w;
}

static void waiter_end(void *arg)
{
    cond_waiter *w = arg;
    if (w->prev)
        w->prev->next = w->next;
    else
        waiting = w->next;
    if (w->next)
        w->next->prev = w->prev;
    atomic_fetch_sub(&task_waiters, 1);
    coil_event_free(w->ev);
}

/* Nap until a signal of c may have come (this thread's set w->ev, other
 * threads' move c's round), or, at the latest, WAIT_MOST: a wake-up
 * POSIX allows to be spurious, so no missed round can hang a task.
 * Unwinds if cancelled (not in a shield).  ETIMEDOUT once deadline (loop
 * time; -1: none) has passed without a signal, else 0. */
static int nap_for_signal(cond_waiter *w, unsigned long round,
                          coil_time deadline)
{
    coil_time nap = COIL__HOOK_NAP_FIRST, waited = 0;
    while (!w->woken && atomic_load(round_of(w->cond)) == round &&
           waited < WAIT_MOST) {
        coil_time until = coil_clock() + nap;
        if (deadline >= 0 && until >= deadline) {
            if (coil_clock() >= deadline)
                return ETIMEDOUT;
            until = deadline;
        }
        if (w->ev)
            coil_event_wait_until(w->ev, until);
        else
            coil_sleep_until(until);
        waited += nap;
        nap = nap * 2 < COIL__HOOK_NAP_MOST ? nap * 2 : COIL__HOOK_NAP_MOST;
    }
    return 0;
}

/* pthread_cond_wait for a task, until deadline (loop time; -1: none). */
static int wait_in_task(pthread_cond_t *c, pthread_mutex_t *m,
                        coil_time deadline)
{
    cond_waiter w;
    waiter_begin(&w, c);
    unsigned long round = atomic_load(round_of(c));
    if (coil__rmutex_notes)
        coil__rmutex_unlocking(m);        /* a recursive one: let go */
    int r = LIBC(pthread_mutex_unlock)(m);
    if (r != 0) {                         /* EPERM: not the owner */
        waiter_end(&w);
        return r;
    }
    int shielded = coil__task_cancels_as_error() && coil_shield_begin() == 0;
    int timed_out;
    coil_cleanup_push(waiter_end, &w);
    timed_out = nap_for_signal(&w, round, deadline);
    coil_cleanup_pop(1);
    r = coil__hook_mutex_lock(m);
    if (shielded)
        coil__shield_end_quietly();
    return r ? r : timed_out;
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_cond_wait)(c, m);
    return wait_in_task(c, m, -1);
}

static int timed_wait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
                      const struct timespec *abs)
{
    if (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000)
        return EINVAL;                    /* as glibc checks */
    return wait_in_task(c, m, coil__hook_abs_deadline(clock, abs));
}

/* glibc keeps a condition's clock (pthread_condattr_setclock) in bit 1
 * of __wrefs: set for CLOCK_MONOTONIC.  So since glibc 2.25. */
static clockid_t clock_of(pthread_cond_t *c)
{
    unsigned wrefs = __atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED);
    return wrefs & 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                           const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_cond_timedwait)(c, m, abs);
    return timed_wait(c, m, clock_of(c), abs);
}

int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m,
                           clockid_t clock, const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_cond_clockwait)(c, m, clock, abs);
    if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME)
        return EINVAL;
    return timed_wait(c, m, clock, abs);
}
