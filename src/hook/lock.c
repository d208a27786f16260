/*
 * src/hook/lock.c — pthread_mutex_lock, pthread_mutex_timedlock,
 * pthread_mutex_clocklock, pthread_spin_lock, the pthread_rwlock_* locks
 * and pthread_once, hooked: a task that finds the lock held by another
 * task of its own thread parks instead of blocking (or spinning) the
 * thread for good.
 *
 * Code written for threads holds a lock across a blocking call often
 * enough: a connection pool's mutex around a query, a cache's read lock
 * around a fetch.  With the hooks that call parks its task while the
 * thread still holds the lock, and the next task of the loop to lock it
 * would sleep in the kernel, with the thread, until an unlock that only
 * the parked task — never to run again on that thread — could make: a
 * deadlock of the whole loop.  (glibc's rwlocks say EDEADLK instead when
 * the thread is the writer: a wrong answer that callers rarely check.)
 *
 * Only contention costs anything: a task tries the lock first.  Held by
 * another thread, the lock is taken with libc's call, which blocks as any
 * lock does (that holder runs on and unlocks).  Held by this thread —
 * glibc notes the owner's tid in a mutex, and the writer's in an rwlock —
 * so by another task of this loop, or by the task itself, a bug that
 * would have hung the thread, the task parks and tries again: it yields
 * 3 times, then naps 50 us, twice as long each time up to 5 ms
 * (src/hook/sleep.c): the hooked pthread_mutex_unlock (recursive
 * mutexes, below) is kept to one thread-local load and wakes nobody.
 * Readers leave no name in an rwlock: a writer kept out by readers parks
 * and tries again the same way, wherever they run.
 *
 * A timed lock also ends at its time with ETIMEDOUT.  A cancelled task
 * unwinds out of the wait without the lock (default mode).  In
 * COIL_TASK_CANCEL_AS_ERROR mode the wait is shielded: the call has no
 * ECANCELED to give, and a caller that took an error for a lock would run
 * its critical section unlocked; the request stays pending for the
 * task's next suspension point, with the lock held.
 *
 * A recursive mutex names only its owner thread, and glibc would grant
 * it to any task of that thread: src/hook/rmutex.c keeps which task
 * holds it, and another task parks as above.  pthread_mutex_trylock and
 * pthread_mutex_unlock are hooked for that alone: a task's trylock says
 * EBUSY while another task holds it, and an unlock drops the note once
 * the task lets go (one thread-local load, while no task holds one).
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "../task/task.h"

/* In error mode, hold a cancel back while the task waits for a lock:
 * 1 if shielded (end it with coil__shield_end_quietly). */
static int shield_in_error_mode(void)
{
    return coil__task_cancels_as_error() && coil_shield_begin() == 0;
}

/* A valid absolute time for a timed lock.  glibc checks a mutex's only
 * once it cannot be taken at once, an rwlock's before it tries. */
static int abs_valid(const struct timespec *abs)
{
    return abs && abs->tv_nsec >= 0 && abs->tv_nsec < 1000000000;
}

static int clock_valid(clockid_t clock)
{
    return clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME;
}

/* The loop-time deadline of a timed call (abs on clock), -1 if none. */
static coil_time deadline_of(clockid_t clock, const struct timespec *abs)
{
    return abs ? coil__hook_abs_deadline(clock, abs) : -1;
}

/* Park until try(lock, mode) takes the lock (0) or deadline (-1: none)
 * passes (ETIMEDOUT), trying again after each yield or nap. */
static int park_until_taken(int (*try)(void *lock, int mode), void *lock,
                            int mode, coil_time deadline)
{
    int shielded = shield_in_error_mode();
    coil__hook_backoff b;
    coil__hook_backoff_init(&b, deadline, NULL);
    int r;
    while ((r = try(lock, mode)) == EBUSY)
        if (coil__hook_backoff_wait(&b) != 0) {   /* unwinds if cancelled */
            r = errno;                           /* ETIMEDOUT */
            break;
        }
    if (shielded)
        coil__shield_end_quietly();
    return r;
}

/* ------------------------------------------------------------ mutexes */

/* Does this thread hold m (so a task of its loop does)? */
static int held_here(pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == gettid();
}

static int try_mutex(void *m, int mode)
{
    (void)mode;
    return coil__rmutex_is_recursive(m) ? coil__rmutex_trylock(m)
                                        : LIBC(pthread_mutex_trylock)(m);
}

/* libc's blocking lock, timed if abs (on clock), for a mutex another
 * thread holds. */
static int libc_mutex(pthread_mutex_t *m, clockid_t clock,
                      const struct timespec *abs)
{
    int r = abs ? LIBC(pthread_mutex_clocklock)(m, clock, abs)
                : LIBC(pthread_mutex_lock)(m);
    if (r == 0 && coil__rmutex_is_recursive(m))
        coil__rmutex_taken(m, 0);
    return r;
}

/* pthread_mutex_lock for a task, timed if abs (on clock). */
static int mutex_in_task(pthread_mutex_t *m, clockid_t clock,
                         const struct timespec *abs)
{
    int r = try_mutex(m, 0);
    if (r != EBUSY)
        return r;
    if (abs && !abs_valid(abs))
        return EINVAL;
    if (!held_here(m))                    /* another thread's */
        return libc_mutex(m, clock, abs);
    return park_until_taken(try_mutex, m, 0, deadline_of(clock, abs));
}

int coil__hook_mutex_lock(pthread_mutex_t *m)
{
    return mutex_in_task(m, CLOCK_REALTIME, NULL);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_mutex_lock)(m);
    return mutex_in_task(m, CLOCK_REALTIME, NULL);
}

int pthread_mutex_trylock(pthread_mutex_t *m)
{
    if (!coil__hook_in_task() || !coil__rmutex_is_recursive(m))
        return LIBC(pthread_mutex_trylock)(m);
    return coil__rmutex_trylock(m);
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
    if (coil__rmutex_notes)
        coil__rmutex_unlocking(m);
    return LIBC(pthread_mutex_unlock)(m);
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_mutex_timedlock)(m, abs);
    return mutex_in_task(m, CLOCK_REALTIME, abs);
}

int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock,
                            const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_mutex_clocklock)(m, clock, abs);
    if (!clock_valid(clock))
        return EINVAL;
    return mutex_in_task(m, clock, abs);
}

/* ---------------------------------------------------------- spinlocks */

static int try_spin(void *l, int mode)
{
    (void)mode;
    return LIBC(pthread_spin_trylock)(l);
}

/* A spinlock names no owner: a task that finds it taken tries again
 * between yields and naps, wherever the holder runs.  A holder on
 * another thread lets go within a few yields, as a spinlock is meant to
 * be held; one on this thread, parked inside its critical section, is
 * waited for instead of spun on for ever. */
int pthread_spin_lock(pthread_spinlock_t *l)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_spin_lock)(l);
    int r = try_spin((void *)l, 0);
    if (r != EBUSY)
        return r;
    return park_until_taken(try_spin, (void *)l, 0, -1);
}

/* ----------------------------------------------------------- pthread_once */

/* glibc's once control: bit 0, an initializer runs; bit 1, done. */
enum { ONCE_RUNNING = 1, ONCE_DONE = 2 };

/* A task whose initializer parks (a lazy init that reads a config over a
 * socket) leaves the control running; another task of its thread in
 * pthread_once would sleep in the kernel until that initializer, never
 * to run again there, finished.  So while an initializer runs, a task
 * waits in yields and naps (wherever it runs: nothing names its thread),
 * shielded in error mode, as pthread_once has no error to give. */
int pthread_once(pthread_once_t *once, void (*init)(void))
{
    if (!coil__hook_in_task())
        return LIBC(pthread_once)(once, init);
    int shielded = -1;
    coil__hook_backoff b;
    coil__hook_backoff_init(&b, -1, NULL);
    int v;
    while ((v = __atomic_load_n(once, __ATOMIC_ACQUIRE)) & ONCE_RUNNING &&
           !(v & ONCE_DONE)) {
        if (shielded < 0)
            shielded = shield_in_error_mode();
        coil__hook_backoff_wait(&b);      /* unwinds if cancelled */
    }
    if (shielded > 0)
        coil__shield_end_quietly();
    if (v & ONCE_DONE)
        return 0;
    return LIBC(pthread_once)(once, init);   /* nobody runs it: this task */
}

/* ------------------------------------------------------------ rwlocks */

enum { READ, WRITE };

static int try_rw(void *l, int mode)
{
    return mode == WRITE ? LIBC(pthread_rwlock_trywrlock)(l)
                         : LIBC(pthread_rwlock_tryrdlock)(l);
}

/* libc's blocking lock, timed if abs (on clock). */
static int libc_rw(pthread_rwlock_t *l, int mode, clockid_t clock,
                   const struct timespec *abs)
{
    if (mode == WRITE)
        return abs ? LIBC(pthread_rwlock_clockwrlock)(l, clock, abs)
                   : LIBC(pthread_rwlock_wrlock)(l);
    return abs ? LIBC(pthread_rwlock_clockrdlock)(l, clock, abs)
               : LIBC(pthread_rwlock_rdlock)(l);
}

/* An rwlock lock for a task, timed if abs (on clock).  A writer of
 * another thread will unlock: libc's wait.  This thread's writer, or
 * readers anywhere: park and try again. */
static int rw_in_task(pthread_rwlock_t *l, int mode, clockid_t clock,
                      const struct timespec *abs)
{
    if (abs && !abs_valid(abs))
        return EINVAL;
    int r = try_rw(l, mode);
    if (r != EBUSY)
        return r;                         /* 0, EAGAIN: too many readers */
    int writer = __atomic_load_n(&l->__data.__cur_writer, __ATOMIC_RELAXED);
    if (writer != 0 && writer != gettid())
        return libc_rw(l, mode, clock, abs);
    return park_until_taken(try_rw, l, mode, deadline_of(clock, abs));
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_rwlock_rdlock)(l);
    return rw_in_task(l, READ, CLOCK_REALTIME, NULL);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_rwlock_wrlock)(l);
    return rw_in_task(l, WRITE, CLOCK_REALTIME, NULL);
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_rwlock_timedrdlock)(l, abs);
    return rw_in_task(l, READ, CLOCK_REALTIME, abs);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_rwlock_timedwrlock)(l, abs);
    return rw_in_task(l, WRITE, CLOCK_REALTIME, abs);
}

int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock,
                               const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_rwlock_clockrdlock)(l, clock, abs);
    if (!clock_valid(clock))
        return EINVAL;
    return rw_in_task(l, READ, clock, abs);
}

int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock,
                               const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_rwlock_clockwrlock)(l, clock, abs);
    if (!clock_valid(clock))
        return EINVAL;
    return rw_in_task(l, WRITE, clock, abs);
}
