/*
 * src/hook/barrier.c — pthread barriers, hooked: tasks of one thread that
 * meet at a barrier park instead of blocking their thread.  With glibc's
 * wait the first task to arrive blocked the thread, so the tasks still to
 * arrive, on that thread, never could: a deadlock.
 *
 * glibc's barrier has no wait that does not block, so the hook layer keeps
 * barriers itself: pthread_barrier_init, _destroy and _wait are all
 * interposed, and the barrier's memory holds coil's state (below) instead
 * of glibc's.  A round ends when its last party arrives: that one bumps
 * the round number and is the round's PTHREAD_BARRIER_SERIAL_THREAD.
 * Plain threads wait on a futex of the round number.  A task waits as
 * cond.c's do: a task of its own thread that ends the round sets its
 * event at once; another thread's end is seen by the hook layer's
 * back-off (a few yields, then naps of COIL__HOOK_NAP_FIRST doubling to
 * COIL__HOOK_NAP_MOST: up to 5 ms late).  A task's wait is shielded: an arrival cannot be taken
 * back once counted (the other parties would wait for one that left),
 * so a cancelled task waits for the round to end and unwinds as its wait
 * returns.  (POSIX's barrier wait is no cancellation point at all.)
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/futex.h>

#include "hook.h"

/* What a pthread_barrier_t holds while the hook layer keeps it. */
typedef struct barrier {
    _Atomic unsigned round;       /* rounds ended: the futex word */
    _Atomic unsigned arrived;     /* parties in the round under way */
    unsigned count;               /* parties a round needs */
    unsigned flags;               /* MAGIC | SHARED */
} barrier;

_Static_assert(sizeof(barrier) <= sizeof(pthread_barrier_t),
               "coil's barrier fits in glibc's");

enum { MAGIC = 0xba770000u, MAGIC_MASK = 0xffff0000u, SHARED = 1 };

/* A task of this thread waiting at a barrier. */
typedef struct waiter {
    barrier *b;
    coil_event *ev;               /* set by a task of this thread */
    struct waiter *next;
} waiter;

static __thread waiter *waiting;

static barrier *as_barrier(pthread_barrier_t *b)
{
    return (barrier *)(void *)b;
}

static int futex(_Atomic unsigned *word, int op, unsigned val, int shared)
{
    if (!shared)
        op |= FUTEX_PRIVATE_FLAG;
    return (int)syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

int pthread_barrier_init(pthread_barrier_t *restrict pb,
                         const pthread_barrierattr_t *restrict attr,
                         unsigned count)
{
    int pshared = PTHREAD_PROCESS_PRIVATE;
    if (count == 0 ||
        (attr && pthread_barrierattr_getpshared(attr, &pshared) != 0))
        return EINVAL;
    barrier *b = as_barrier(pb);
    atomic_init(&b->round, 0);
    atomic_init(&b->arrived, 0);
    b->count = count;
    b->flags = MAGIC | (pshared == PTHREAD_PROCESS_SHARED ? SHARED : 0);
    return 0;
}

static int valid(const barrier *b)
{
    return (b->flags & MAGIC_MASK) == MAGIC;
}

int pthread_barrier_destroy(pthread_barrier_t *pb)
{
    barrier *b = as_barrier(pb);
    if (!valid(b))
        return EINVAL;
    if (atomic_load(&b->arrived) != 0)
        return EBUSY;                 /* a round is under way */
    b->flags = 0;
    return 0;
}

/* The last party: end the round, wake every waiter. */
static void end_round(barrier *b)
{
    atomic_store(&b->arrived, 0);     /* before the bump: no waiter returns,
                                         so none arrives again, before it */
    atomic_fetch_add_explicit(&b->round, 1, memory_order_release);
    futex(&b->round, FUTEX_WAKE, INT_MAX, b->flags & SHARED);
    for (waiter *w = waiting; w; w = w->next)
        if (w->b == b && w->ev)
            coil_event_set(w->ev);
}

static int round_over(barrier *b, unsigned round)
{
    return atomic_load_explicit(&b->round, memory_order_acquire) != round;
}

static void wait_in_thread(barrier *b, unsigned round)
{
    while (!round_over(b, round))
        futex(&b->round, FUTEX_WAIT, round, b->flags & SHARED);
}

static void wait_in_task(barrier *b, unsigned round)
{
    waiter w = {b, coil_event_new(), waiting};
    waiting = &w;
    coil_shield_begin();
    coil__hook_backoff nap;
    coil__hook_backoff_init(&nap, -1, NULL);
    nap.ev = w.ev;                        /* NULL (no memory): naps alone */
    while (!round_over(b, round))
        (void)coil__hook_backoff_wait(&nap);   /* shielded: no unwinding */
    waiter **pp = &waiting;
    while (*pp != &w)
        pp = &(*pp)->next;
    *pp = w.next;
    coil_event_free(w.ev);
    coil_shield_end();                    /* may unwind: a late cancel */
}

int pthread_barrier_wait(pthread_barrier_t *pb)
{
    barrier *b = as_barrier(pb);
    if (!valid(b))
        return EINVAL;
    unsigned round = atomic_load_explicit(&b->round, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 ==
        b->count) {
        end_round(b);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    if (coil__hook_in_task())
        wait_in_task(b, round);
    else
        wait_in_thread(b, round);
    return 0;
}
