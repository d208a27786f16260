/*
 * src/hook/sem.c — sem_wait, sem_timedwait and sem_clockwait, hooked: a
 * task that waits for a POSIX semaphore parks instead of blocking the
 * thread, whose other tasks may be the ones to post it.
 *
 * A task tries the semaphore first (sem_trywait), and while it is zero
 * yields 3 times, then naps 50 us, twice as long each time up to 5 ms,
 * trying again after each: the post is seen at the latest when the nap
 * it falls in ends.  sem_post is left as it is, libc's: it is
 * async-signal-safe (a handler may post to wake a waiter), and nothing a
 * hook could add to it to wake a parked task at once would be.
 *
 * As sem_wait(3) in a thread, a wait ends with EINTR when a signal
 * handler of the program's runs, SA_RESTART or not (src/hook/intr.c); a
 * cancelled task unwinds out of it (default mode) or gets ECANCELED.
 */
#include <errno.h>
#include <semaphore.h>
#include <time.h>

#include "hook.h"

/* Wait in a task until s can be taken or deadline (loop time; -1: none)
 * passes: 0, or -1 with errno ETIMEDOUT, EINTR, ECANCELED, EINVAL. */
static int wait_in_task(sem_t *s, coil_time deadline)
{
    coil__intr_since since = coil__intr_now(1);
    coil__hook_backoff b;
    coil__hook_backoff_init(&b, deadline, &since);
    do {
        if (LIBC(sem_trywait)(s) == 0)
            return 0;
        if (errno != EAGAIN)
            return -1;                    /* EINVAL */
    } while (coil__hook_backoff_wait(&b) == 0);
    return -1;                            /* ETIMEDOUT, EINTR, ECANCELED */
}

int sem_wait(sem_t *s)
{
    if (!coil__hook_in_task())
        return LIBC(sem_wait)(s);
    return wait_in_task(s, -1);
}

/* A bad abs is EINVAL, which glibc checks before it tries; one already
 * past still lets the first try take s. */
static int timed_wait(sem_t *s, clockid_t clock, const struct timespec *abs)
{
    if (!abs || abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000) {
        errno = EINVAL;
        return -1;
    }
    return wait_in_task(s, coil__hook_abs_deadline(clock, abs));
}

int sem_timedwait(sem_t *s, const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(sem_timedwait)(s, abs);
    return timed_wait(s, CLOCK_REALTIME, abs);
}

int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abs)
{
    if (!coil__hook_in_task())
        return LIBC(sem_clockwait)(s, clock, abs);
    if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME) {
        errno = EINVAL;
        return -1;
    }
    return timed_wait(s, clock, abs);
}
