/*
 * src/sync/sync.c — synchronisation between the tasks of one loop (layer 5):
 * the waiter machinery (src/sync/sync.h), lock, event, semaphore, condition,
 * barrier.  The queue, on the same machinery, is src/sync/queue.c.
 *
 * All of them are built on one waiter record (coil__sync_waiter) that
 * lives on the waiting task's stack, sits in its object's FIFO list while
 * it waits, and is handed something by the object: the lock, a permit, an
 * item, a notification — the waiter is GRANTED and removed from the list
 * before its task runs again.  A cleanup handler runs on every way out of
 * the wait, unwinding included.  That is where consistency under
 * cancellation lives: a waiter still WAITING is unlinked; a waiter that
 * was GRANTED but is leaving without taking what it was handed (its task
 * was cancelled after the grant and before it ran) gives it back through
 * the object's `undo` hook, which passes it on to the next waiter — so no
 * wake-up, permit, item or lock is lost, and no lock stays with a dead
 * task.
 *
 * Every object counts the waiters it has in flight (listed or granted but
 * not yet gone); freeing one while that count is not zero is EBUSY, so a
 * granted waiter never touches a freed object.
 *
 * Single loop, single thread: there is no locking here.  Objects remember
 * the thread that made them; calls from another thread are EPERM.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "coil.h"
#include "loop/debug.h"
#include "task/future.h"
#include "core/list.h"
#include "loop/loop.h"
#include "sync/sync.h"
#include "task/task.h"

/* --------------------------------------------------------------- waiters */

void coil__sync_init(coil__sync_obj *o,
                     void (*undo)(coil__sync_obj *, coil__sync_waiter *),
                     void (*withdraw)(coil__sync_obj *, coil__sync_waiter *))
{
    o->thread = pthread_self();
    o->inflight = 0;
    o->undo = undo;
    o->withdraw = withdraw;
    o->describe = NULL;
    o->what = "sync object";
}

int coil__sync_check(const coil__sync_obj *o)
{
    if (!o) {
        errno = EINVAL;
        return -1;
    }
    if (!pthread_equal(o->thread, pthread_self())) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

int coil__sync_check_task(const coil__sync_obj *o, const char *call)
{
    if (coil__sync_check(o) != 0)
        return -1;
    if (!coil_task_current())
        return coil__debug_outside_task(call);
    return 0;
}

int coil__sync_check_free(const coil__sync_obj *o)
{
    if (coil__sync_check(o) != 0)
        return -1;
    if (o->inflight) {
        errno = EBUSY;
        return -1;
    }
    return 0;
}

void coil__sync_serve(coil__sync_waiter *w, int state)
{
    coil__list_remove(&w->link);
    w->state = state;
    if (w->sel)
        coil__select_fired(w);
    else
        coil__task_wake(w->task);
}

void coil__sync_grant(coil__sync_waiter *w)
{
    coil__sync_serve(w, COIL__W_GRANTED);
}

coil__sync_waiter *coil__sync_first(coil__list *list)
{
    if (coil__list_empty(list))
        return NULL;
    return coil__container_of(list->next, coil__sync_waiter, link);
}

static void deadline_fire(void *arg)
{
    coil__sync_waiter *w = arg;
    if (w->state != COIL__W_WAITING)
        return;                   /* served first: the grant stands */
    coil__list_remove(&w->link);
    w->state = COIL__W_TIMEDOUT;
    if (w->obj->withdraw)
        w->obj->withdraw(w->obj, w);
    coil__task_wake(w->task);
}

/* On every way out of a wait, unwinding included. */
static void waiter_exit(void *arg)
{
    coil__sync_waiter *w = arg;
    coil__timer_disarm(&w->timer);
    if (w->state == COIL__W_WAITING) {
        coil__list_remove(&w->link);
        if (w->obj->withdraw)
            w->obj->withdraw(w->obj, w);
    } else if (w->state == COIL__W_GRANTED) {
        w->state = COIL__W_TAKEN;       /* before undo: it may grant again */
        w->obj->undo(w->obj, w);
    }
    w->obj->inflight--;
}

/* Put w (fields obj, kind, item set by the caller) at the back of list and
 * arm its deadline.  Returns 0, or -1 with errno ETIMEDOUT (the deadline
 * has passed: nothing is queued) or ENOMEM. */
static int waiter_enter(coil__sync_waiter *w, coil__list *list,
                        coil_time deadline)
{
    coil_task *t = coil_task_current();
    coil_loop *loop = coil_task_future(t)->loop;
    if (coil__deadline_passed(loop, deadline)) {
        errno = ETIMEDOUT;
        return -1;
    }
    w->task = t;
    w->timer = NULL;
    w->deadline = deadline;
    w->state = COIL__W_WAITING;
    if (deadline >= 0 &&
        coil_call_at(loop, deadline, deadline_fire, w, &w->timer) != 0)
        return -1;
    coil__list_push_back(list, &w->link);
    w->obj->inflight++;
    return 0;
}

/* A sync waiter in words, for coil_dump_tasks: the object's own words and
 * the deadline. */
static void describe_waiter(const void *obj, coil_time now, char *buf,
                            size_t size)
{
    const coil__sync_waiter *w = obj;
    char when[40] = "no deadline";
    int n = 0;
    if (w->obj->describe) {
        w->obj->describe(w->obj, w, buf, size);
        n = (int)strlen(buf);
    } else {
        n = snprintf(buf, size, "%s %p", w->obj->what, (void *)w->obj);
    }
    if (w->deadline >= 0) {
        memcpy(when, "deadline ", 10);
        coil__format_delay(when + 9, sizeof when - 9, w->deadline - now);
    }
    if (n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", %s", when);
}

static const coil__wait_kind sync_wait = {describe_waiter, 0};

/* Park until w is granted, times out, is shut out, or the task is
 * cancelled; then leave through waiter_exit.  Returns 0 when granted (w is
 * then COIL__W_TAKEN: the caller owns what it was handed), or -1 with errno
 * ETIMEDOUT, ESHUTDOWN or ECANCELED; in unwind mode cancellation does not
 * return. */
static int waiter_park(coil__sync_waiter *w)
{
    int r = 0, err = 0;
    coil_cleanup_push(waiter_exit, w);
    while (w->state == COIL__W_WAITING) {
        coil__task_note_wait(&sync_wait, w);
        if (coil__task_park() != 0) {
            r = -1;
            err = errno;          /* ECANCELED */
            break;
        }
    }
    if (r == 0) {
        if (w->state == COIL__W_GRANTED)
            w->state = COIL__W_TAKEN;
        else {
            r = -1;
            err = w->state == COIL__W_SHUTDOWN ? ESHUTDOWN : ETIMEDOUT;
        }
    }
    coil_cleanup_pop(1);
    if (r != 0)
        errno = err;
    return r;
}

int coil__sync_wait(coil__sync_waiter *w, coil__list *list,
                    coil_time deadline)
{
    if (waiter_enter(w, list, deadline) != 0)
        return -1;
    return waiter_park(w);
}

/* ------------------------------------------------------------------ lock */

struct coil_lock {
    coil__sync_obj obj;
    coil_task *owner;
    coil__list waiters;
};

static void describe_lock(const coil__sync_obj *o, const coil__sync_waiter *w,
                          char *buf, size_t size)
{
    (void)w;
    const coil_lock *l = (const coil_lock *)(const void *)o;
    if (l->owner)
        snprintf(buf, size, "lock %p held by '%s'", (const void *)l,
                 coil_task_name(l->owner));
    else
        snprintf(buf, size, "lock %p (being handed over)", (const void *)l);
}

/* Hand the lock to the next waiter, or leave it free. */
static void lock_pass(coil_lock *l)
{
    coil__sync_waiter *w = coil__sync_first(&l->waiters);
    l->owner = w ? w->task : NULL;
    if (w)
        coil__sync_grant(w);
}

static void lock_undo(coil__sync_obj *o, coil__sync_waiter *w)
{
    (void)w;
    lock_pass((coil_lock *)o);
}

coil_lock *coil_lock_new(void)
{
    coil_lock *l = calloc(1, sizeof *l);
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    coil__sync_init(&l->obj, lock_undo, NULL);
    l->obj.describe = describe_lock;
    coil__list_init(&l->waiters);
    return l;
}

int coil_lock_free(coil_lock *l)
{
    if (coil__sync_check_free(l ? &l->obj : NULL) != 0)
        return -1;
    if (l->owner) {
        errno = EBUSY;
        return -1;
    }
    free(l);
    return 0;
}

int coil_lock_try_acquire(coil_lock *l)
{
    if (coil__sync_check(l ? &l->obj : NULL) != 0)
        return -1;
    coil_task *t = coil_task_current();
    if (!t) {
        errno = EPERM;
        return -1;
    }
    if (l->owner == t) {
        errno = EDEADLK;
        return -1;
    }
    if (l->owner) {
        errno = EAGAIN;
        return -1;
    }
    l->owner = t;
    return 0;
}

int coil_lock_acquire_until(coil_lock *l, coil_time deadline)
{
    if (coil__sync_check_task(l ? &l->obj : NULL, "coil_lock_acquire") != 0)
        return -1;
    coil_task *t = coil_task_current();
    if (l->owner == t) {
        errno = EDEADLK;
        return -1;
    }
    if (!l->owner) {
        l->owner = t;             /* free means nobody waits either */
        return 0;
    }
    coil__sync_waiter w = {.obj = &l->obj};
    /* Granted: lock_pass made t the owner. */
    return coil__sync_wait(&w, &l->waiters, deadline);
}

int coil_lock_acquire(coil_lock *l)
{
    return coil_lock_acquire_until(l, -1);
}

int coil_lock_release(coil_lock *l)
{
    if (coil__sync_check(l ? &l->obj : NULL) != 0)
        return -1;
    if (!l->owner || l->owner != coil_task_current()) {
        errno = EPERM;
        return -1;
    }
    lock_pass(l);
    return 0;
}

int coil_lock_locked(const coil_lock *l)
{
    if (!l) {
        errno = EINVAL;
        return -1;
    }
    return l->owner != NULL;
}

void coil_lock_cleanup(void *l)
{
    coil_lock_release(l);
}

/* Take l ignoring cancellation, which is delivered once it is held (in
 * unwind mode, by unwinding).  Returns 0, or -1 with errno ECANCELED. */
static int lock_take_shielded(coil_lock *l)
{
    coil_shield_begin();
    if (l->owner != coil_task_current()) {
        if (!l->owner)
            l->owner = coil_task_current();
        else {
            coil__sync_waiter w = {.obj = &l->obj};
            while (coil__sync_wait(&w, &l->waiters, -1) != 0)
                ;                 /* cannot time out or be cancelled */
        }
    }
    return coil_shield_end();
}

/* ----------------------------------------------------------------- event */

struct coil_event {
    coil__sync_obj obj;
    int set;
    coil__list waiters;
};
_Static_assert(offsetof(coil_event, obj) == 0, "select.c casts to it");

static void nothing_to_undo(coil__sync_obj *o, coil__sync_waiter *w)
{
    (void)o;
    (void)w;                      /* every waiter was woken: none to pass to */
}

coil_event *coil_event_new(void)
{
    coil_event *e = calloc(1, sizeof *e);
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    coil__sync_init(&e->obj, nothing_to_undo, NULL);
    e->obj.what = "event";
    coil__list_init(&e->waiters);
    return e;
}

int coil_event_free(coil_event *e)
{
    if (coil__sync_check_free(e ? &e->obj : NULL) != 0)
        return -1;
    free(e);
    return 0;
}

int coil_event_set(coil_event *e)
{
    if (coil__sync_check(e ? &e->obj : NULL) != 0)
        return -1;
    e->set = 1;
    coil__sync_waiter *w;
    while ((w = coil__sync_first(&e->waiters)))
        coil__sync_grant(w);
    return 0;
}

int coil_event_clear(coil_event *e)
{
    if (coil__sync_check(e ? &e->obj : NULL) != 0)
        return -1;
    e->set = 0;
    return 0;
}

int coil_event_is_set(const coil_event *e)
{
    if (!e) {
        errno = EINVAL;
        return -1;
    }
    return e->set;
}

coil__list *coil__event_waitlist(coil_event *e, coil__sync_waiter *w)
{
    w->obj = &e->obj;
    return &e->waiters;
}

int coil_event_wait_until(coil_event *e, coil_time deadline)
{
    if (coil__sync_check_task(e ? &e->obj : NULL, "coil_event_wait") != 0)
        return -1;
    if (e->set)
        return 0;
    coil__sync_waiter w = {.obj = &e->obj};
    return coil__sync_wait(&w, &e->waiters, deadline);
}

int coil_event_wait(coil_event *e)
{
    return coil_event_wait_until(e, -1);
}

/* ------------------------------------------------------------- semaphore */

struct coil_sem {
    coil__sync_obj obj;
    unsigned value;
    unsigned bound;               /* 0: unbounded */
    coil__list waiters;
};

/* One permit comes back: to the first waiter, else to the count. */
static void sem_put_permit(coil_sem *s)
{
    coil__sync_waiter *w = coil__sync_first(&s->waiters);
    if (w)
        coil__sync_grant(w);
    else
        s->value++;
}

static void sem_undo(coil__sync_obj *o, coil__sync_waiter *w)
{
    (void)w;
    sem_put_permit((coil_sem *)o);
}

static coil_sem *sem_make(unsigned value, unsigned bound)
{
    coil_sem *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    coil__sync_init(&s->obj, sem_undo, NULL);
    s->obj.what = "semaphore";
    s->value = value;
    s->bound = bound;
    coil__list_init(&s->waiters);
    return s;
}

coil_sem *coil_sem_new(unsigned value)
{
    return sem_make(value, 0);
}

coil_sem *coil_sem_new_bounded(unsigned value)
{
    if (value == 0) {
        errno = EINVAL;
        return NULL;
    }
    return sem_make(value, value);
}

int coil_sem_free(coil_sem *s)
{
    if (coil__sync_check_free(s ? &s->obj : NULL) != 0)
        return -1;
    free(s);
    return 0;
}

int coil_sem_try_acquire(coil_sem *s)
{
    if (coil__sync_check(s ? &s->obj : NULL) != 0)
        return -1;
    if (s->value == 0) {          /* waiters imply value 0: no overtaking */
        errno = EAGAIN;
        return -1;
    }
    s->value--;
    return 0;
}

int coil_sem_acquire_until(coil_sem *s, coil_time deadline)
{
    if (coil__sync_check_task(s ? &s->obj : NULL, "coil_sem_acquire") != 0)
        return -1;
    if (s->value > 0) {
        s->value--;
        return 0;
    }
    coil__sync_waiter w = {.obj = &s->obj};
    return coil__sync_wait(&w, &s->waiters, deadline);
}

int coil_sem_acquire(coil_sem *s)
{
    return coil_sem_acquire_until(s, -1);
}

int coil_sem_release(coil_sem *s)
{
    if (coil__sync_check(s ? &s->obj : NULL) != 0)
        return -1;
    if (coil__list_empty(&s->waiters) &&
        ((s->bound && s->value >= s->bound) || s->value == UINT_MAX)) {
        errno = EOVERFLOW;
        return -1;
    }
    sem_put_permit(s);
    return 0;
}

int coil_sem_value(const coil_sem *s)
{
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    return s->value > INT_MAX ? INT_MAX : (int)s->value;
}

/* ------------------------------------------------------------- condition */

struct coil_cond {
    coil__sync_obj obj;
    coil__list waiters;
};

static void cond_wake(coil_cond *c, size_t n)
{
    coil__sync_waiter *w;
    while (n-- > 0 && (w = coil__sync_first(&c->waiters)))
        coil__sync_grant(w);
}

/* A notified waiter that leaves cancelled passes its notification on. */
static void cond_undo(coil__sync_obj *o, coil__sync_waiter *w)
{
    (void)w;
    cond_wake((coil_cond *)o, 1);
}

coil_cond *coil_cond_new(void)
{
    coil_cond *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    coil__sync_init(&c->obj, cond_undo, NULL);
    c->obj.what = "condition";
    coil__list_init(&c->waiters);
    return c;
}

int coil_cond_free(coil_cond *c)
{
    if (coil__sync_check_free(c ? &c->obj : NULL) != 0)
        return -1;
    free(c);
    return 0;
}

/* Unwinding out of a wait: the lock is taken back before the task's
 * other cleanup handlers run, as pthread_cond_wait does. */
static void cond_relock(void *arg)
{
    lock_take_shielded(arg);
}

int coil_cond_wait_until(coil_cond *c, coil_lock *l, coil_time deadline)
{
    if (coil__sync_check_task(c ? &c->obj : NULL, "coil_cond_wait") != 0 ||
        coil__sync_check(l ? &l->obj : NULL) != 0)
        return -1;
    if (l->owner != coil_task_current()) {
        errno = EPERM;
        return -1;
    }
    coil__sync_waiter w = {.obj = &c->obj};
    if (waiter_enter(&w, &c->waiters, deadline) != 0)
        return -1;                /* still holding l */
    lock_pass(l);
    int r, err;
    coil_cleanup_push(cond_relock, l);
    r = waiter_park(&w);
    err = errno;
    coil_cleanup_pop(0);
    if (lock_take_shielded(l) != 0 && r == 0) {
        r = -1;                   /* cancelled while taking l back */
        err = ECANCELED;
    }
    if (r != 0)
        errno = err;
    return r;
}

int coil_cond_wait(coil_cond *c, coil_lock *l)
{
    return coil_cond_wait_until(c, l, -1);
}

int coil_cond_notify(coil_cond *c, size_t n)
{
    if (coil__sync_check(c ? &c->obj : NULL) != 0)
        return -1;
    cond_wake(c, n);
    return 0;
}

int coil_cond_notify_all(coil_cond *c)
{
    return coil_cond_notify(c, SIZE_MAX);
}

/* --------------------------------------------------------------- barrier */

struct coil_barrier {
    coil__sync_obj obj;
    unsigned parties;
    unsigned arrived;             /* waiting now */
    coil__list waiters;
};

/* A party that times out or is cancelled before the barrier trips takes
 * its arrival back: the barrier is never broken. */
static void barrier_withdraw(coil__sync_obj *o, coil__sync_waiter *w)
{
    (void)w;
    ((coil_barrier *)o)->arrived--;
}

coil_barrier *coil_barrier_new(unsigned parties)
{
    if (parties == 0) {
        errno = EINVAL;
        return NULL;
    }
    coil_barrier *b = calloc(1, sizeof *b);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    coil__sync_init(&b->obj, nothing_to_undo, barrier_withdraw);
    b->obj.what = "barrier";
    b->parties = parties;
    coil__list_init(&b->waiters);
    return b;
}

int coil_barrier_free(coil_barrier *b)
{
    if (coil__sync_check_free(b ? &b->obj : NULL) != 0)
        return -1;
    free(b);
    return 0;
}

int coil_barrier_wait_until(coil_barrier *b, coil_time deadline)
{
    if (coil__sync_check_task(b ? &b->obj : NULL, "coil_barrier_wait") != 0)
        return -1;
    if (b->arrived + 1 == b->parties) {
        b->arrived = 0;           /* trip, and start the next round */
        coil__sync_waiter *w;
        while ((w = coil__sync_first(&b->waiters)))
            coil__sync_grant(w);
        return 1;
    }
    coil__sync_waiter w = {.obj = &b->obj};
    if (waiter_enter(&w, &b->waiters, deadline) != 0)
        return -1;
    b->arrived++;
    return waiter_park(&w);
}

int coil_barrier_wait(coil_barrier *b)
{
    return coil_barrier_wait_until(b, -1);
}

int coil_barrier_waiting(const coil_barrier *b)
{
    if (!b) {
        errno = EINVAL;
        return -1;
    }
    return (int)b->arrived;
}
