/*
 * src/sync/sync.h — the waiter machinery that sync.c's primitives and queue.c
 * share (internal).
 *
 * A waiter record lives on the waiting task's stack and sits in its
 * object's FIFO list while it waits.  The object serves it by handing it
 * something (the lock, a permit, an item) and calling coil__sync_grant(),
 * which unlinks it and wakes its task.  A cleanup handler runs on every
 * way out of coil__sync_wait(), unwinding included: a waiter still
 * WAITING is unlinked (and the object's `withdraw` hook runs); one that
 * was GRANTED but leaves without taking the grant — its task was
 * cancelled after the grant and before it ran — gives it back through the
 * object's `undo` hook, which passes it on.  That is the whole of "no lost
 * wake-up, no lost item, no lock held by a dead task".
 */
#ifndef COIL_SYNC_H
#define COIL_SYNC_H

#include <pthread.h>
#include "coil.h"
#include "core/list.h"

#pragma GCC visibility push(hidden)

/* Waiter states. */
enum {
    COIL__W_WAITING = 1,  /* listed */
    COIL__W_GRANTED,      /* served, its task not yet run */
    COIL__W_TAKEN,        /* the task took what it was handed */
    COIL__W_TIMEDOUT,
    COIL__W_SHUTDOWN,     /* the object turned it away (queue shutdown) */
    COIL__W_WITHDRAWN     /* a select case taken off when another fired */
};

typedef struct coil__sync_obj coil__sync_obj;
typedef struct coil__sync_waiter coil__sync_waiter;
typedef struct coil__select coil__select;

/* What every object starts with: its first member, so that select.c can
 * reach it from a queue or event pointer with a cast (the objects'
 * files assert the offset). */
struct coil__sync_obj {
    pthread_t thread;             /* the one that made it */
    unsigned inflight;            /* waiters listed or granted, not gone */
    /* Give back what w was granted (required). */
    void (*undo)(coil__sync_obj *, coil__sync_waiter *w);
    /* w left unserved: timed out or cancelled while WAITING (optional). */
    void (*withdraw)(coil__sync_obj *, coil__sync_waiter *w);
    /* For a task dump: what w waits on in words, "lock 0x.. held by
     * 'writer'" (optional; without it the dump says "sync object"). */
    void (*describe)(const coil__sync_obj *, const coil__sync_waiter *w,
                     char *buf, size_t size);
    const char *what;             /* else its kind: "event", "semaphore" */
};

struct coil__sync_waiter {
    coil__list link;              /* in its object's list while WAITING */
    coil_task *task;
    coil_handle *timer;           /* deadline, or NULL */
    coil_time deadline;           /* its time, for a task dump */
    coil__sync_obj *obj;          /* set by the caller */
    int state;                    /* COIL__W_* */
    int kind;                     /* the object's: queue putter or getter */
    void *item;                   /* queue: the item handed to a getter */
    unsigned long long seq;       /* queue: that item's order */
    coil__select *sel;            /* NULL, or the select it is a case of */
};

void coil__sync_init(coil__sync_obj *o,
                     void (*undo)(coil__sync_obj *, coil__sync_waiter *),
                     void (*withdraw)(coil__sync_obj *, coil__sync_waiter *));

/* 0 if o may be used from this thread; -1 with errno EINVAL or EPERM. */
int coil__sync_check(const coil__sync_obj *o);

/* As coil__sync_check, and the caller must be a task (EPERM, reported in
 * debug mode as `call`). */
int coil__sync_check_task(const coil__sync_obj *o, const char *call);

/* As coil__sync_check, and no waiter in flight (EBUSY). */
int coil__sync_check_free(const coil__sync_obj *o);

/* Hand w what it waited for: unlink it, mark it GRANTED, wake its task. */
void coil__sync_grant(coil__sync_waiter *w);

/* Serve w with `state` (GRANTED, or SHUTDOWN for one turned away): unlink
 * it and wake its task.  A waiter that is one case of a select first
 * takes its sibling cases off their objects (coil__select_fired), so no
 * other object can serve the same select. */
void coil__sync_serve(coil__sync_waiter *w, int state);

/* src/sync/select.c: w, a case of w->sel, was just served (unlinked, its
 * state set); withdraw the other cases and wake the selecting task. */
void coil__select_fired(coil__sync_waiter *w);

/* For select.c: where a select case waits, and how it takes what it was
 * handed.  coil__queue_waitlist sets w's obj and kind for a get (put
 * false) or a put on q and returns the list to wait in; coil__queue_can_*
 * say whether the try_* call would not return EAGAIN (it would succeed,
 * or fail for good: ESHUTDOWN).  coil__queue_took_item gives a granted
 * getter its item; coil__queue_put_granted puts item in the slot a
 * granted putter was given (0, or -1 with errno ESHUTDOWN or ENOMEM). */
coil__list *coil__queue_waitlist(coil_queue *q, coil__sync_waiter *w,
                                 int put);
int coil__queue_can_get(const coil_queue *q);
int coil__queue_can_put(const coil_queue *q);
void *coil__queue_took_item(coil_queue *q, coil__sync_waiter *w);
int coil__queue_put_granted(coil_queue *q, void *item);

/* The same for an event: its waiter list, w's obj set. */
coil__list *coil__event_waitlist(coil_event *e, coil__sync_waiter *w);

/* The first waiter of list, or NULL. */
coil__sync_waiter *coil__sync_first(coil__list *list);

/* Queue w (obj, kind set) at the back of list and wait until it is
 * granted, its deadline (absolute loop time; negative: none) passes, the
 * object sets COIL__W_SHUTDOWN, or the task is cancelled.  Returns 0 when
 * granted (w is then COIL__W_TAKEN: the caller owns the grant), or -1 with
 * errno ETIMEDOUT (at once if the deadline has passed: nothing queued),
 * ESHUTDOWN, ECANCELED or ENOMEM; in unwind mode cancellation does not
 * return.  Must run in a task. */
int coil__sync_wait(coil__sync_waiter *w, coil__list *list,
                    coil_time deadline);

#pragma GCC visibility pop

#endif
