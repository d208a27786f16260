/*
 * src/hook/join.c — pthread_join, pthread_timedjoin_np and
 * pthread_clockjoin_np, hooked: a task that waits for a thread to end
 * parks instead of its thread.
 *
 * A task that starts a worker thread and joins it would hold its loop
 * for as long as the worker runs — and if the worker waits for something
 * another task of that loop was to send, for ever.  In a task the join
 * tries pthread_tryjoin_np, and while the thread runs yields, then naps
 * 50 us doubling to 5 ms, trying after each (src/hook/sleep.c): nothing
 * tells of a thread's end short of hooking how every thread ends.  So a
 * join returns up to 5 ms after the thread ended.
 *
 * pthread_join is a cancellation point: a cancelled task unwinds out of
 * the wait (default mode) or gets ECANCELED (error mode), and the thread
 * stays joinable, as POSIX leaves it.  A timed join ends with ETIMEDOUT
 * at its time.  Joining the task's own thread is EDEADLK, at once: the
 * thread is the loop's, and never ends while the task runs on it.
 *
 * Under ThreadSanitizer, whose interceptors of pthread_join and
 * pthread_timedjoin_np wrap these, a task must not be cancelled inside
 * one: the interceptor's state would be left behind (docs/hooks.md).
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "hook.h"

/* libc's pthread_tryjoin_np, or whatever interposes it: a sanitizer that
 * does not intercept pthread_clockjoin_np then still sees the join. */
static int tryjoin_seen(pthread_t t, void **ret)
{
    return pthread_tryjoin_np(t, ret);
}

/* Join t in a task, until deadline (loop time; -1: none), with try:
 * libc's tryjoin where a sanitizer intercepts the call made (its
 * interceptor then notes the join, and must not see a second one). */
static int join_in_task(pthread_t t, void **ret, coil_time deadline,
                        int (*try)(pthread_t, void **))
{
    coil__hook_backoff b;
    coil__hook_backoff_init(&b, deadline, NULL);
    int r;
    while ((r = try(t, ret)) == EBUSY)
        if (coil__hook_backoff_wait(&b) != 0)
            return errno;                 /* ETIMEDOUT, ECANCELED */
    return r;
}

int pthread_join(pthread_t t, void **ret)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_join)(t, ret);
    if (pthread_equal(t, pthread_self()))
        return EDEADLK;
    return join_in_task(t, ret, -1, LIBC(pthread_tryjoin_np));
}

/* A timed join: a bad time is EINVAL, as glibc finds it, only once the
 * thread has not ended yet. */
static int timed_join(pthread_t t, void **ret, clockid_t clock,
                      const struct timespec *abs,
                      int (*try)(pthread_t, void **))
{
    if (pthread_equal(t, pthread_self()))
        return EDEADLK;
    if (!abs)
        return join_in_task(t, ret, -1, try);
    int r = try(t, ret);
    if (r != EBUSY)
        return r;
    if (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000)
        return EINVAL;
    return join_in_task(t, ret, coil__hook_abs_deadline(clock, abs), try);
}

int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_timedjoin_np)(t, ret, abs);
    return timed_join(t, ret, CLOCK_REALTIME, abs, LIBC(pthread_tryjoin_np));
}

int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clock,
                         const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(pthread_clockjoin_np)(t, ret, clock, abs);
    if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME)
        return EINVAL;
    return timed_join(t, ret, clock, abs, tryjoin_seen);
}
