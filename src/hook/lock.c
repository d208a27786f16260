/*
 * src/hook/lock.c — pthread_mutex_lock, hooked: a task that finds the
 * mutex held by another task of its own thread parks until it is free,
 * instead of blocking the thread for good.
 *
 * Code written for threads holds a mutex across a blocking call often
 * enough: a connection pool's lock around a query.  With the hooks that
 * call parks its task while the thread still holds the mutex, and the
 * next task of the loop to lock it would sleep in the kernel, with the
 * thread, until an unlock that only the parked task — never to run again
 * on that thread — could make: a deadlock of the whole loop.
 *
 * Only contention costs anything: a task tries the lock first.  Held by
 * another thread, the mutex is taken with libc's lock, which blocks as
 * any lock does (that holder runs on and unlocks).  Held by this thread
 * (glibc notes the owner's tid in the mutex) — so by another task of this
 * loop, or by the task itself, a bug that would have hung the thread —
 * the task parks and tries again: it yields 3 times, then sleeps 50 us,
 * twice as long each time up to 5 ms, since nothing tells of an unlock
 * short of hooking every unlock in the process.
 *
 * A cancelled task unwinds out of the wait without the lock (default
 * mode).  In COIL_TASK_CANCEL_AS_ERROR mode the wait is shielded: the
 * call has no ECANCELED to give, and a caller that took an error for a
 * lock would run its critical section unlocked; the request stays
 * pending for the task's next suspension point, with the lock held.
 *
 * A recursive mutex is taken at once by any task of its owner thread:
 * nothing in it says which task holds it (docs/hooks.md).
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "hook.h"
#include "../task/task.h"

enum {
    YIELDS = 3,                   /* tries between yields, then naps: */
    NAP_FIRST = 50000,            /* ns */
    NAP_MOST = 5000000,
};

/* Does this thread hold m (so a task of its loop does)? */
static int held_here(pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == gettid();
}

static int park_for(pthread_mutex_t *m)
{
    int shielded = coil__task_cancels_as_error() && coil_shield_begin() == 0;
    coil_time nap = NAP_FIRST;
    int r;
    for (int tries = 0; (r = LIBC(pthread_mutex_trylock)(m)) == EBUSY;
         tries++) {
        if (tries < YIELDS) {
            coil_yield();         /* unwinds if cancelled: no lock held */
        } else {
            coil_sleep(nap);
            nap = nap * 2 < NAP_MOST ? nap * 2 : NAP_MOST;
        }
    }
    if (shielded)
        coil__shield_end_quietly();
    return r;
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_mutex_lock)(m);
    int r = LIBC(pthread_mutex_trylock)(m);
    if (r != EBUSY)
        return r;
    if (!held_here(m))
        return LIBC(pthread_mutex_lock)(m);   /* another thread's */
    return park_for(m);
}
