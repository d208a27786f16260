/*
 * src/hook/sleep.c — nanosleep, clock_nanosleep, sleep and usleep,
 * hooked: in a task they are coil_sleep, so the loop runs on.
 *
 * A cancelled task unwinds out of them (default mode) or they fail with
 * ECANCELED (error mode), with the time left where the call reports it,
 * as for EINTR, which they give when a signal handler of the program's
 * runs (src/hook/intr.c).
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

/* A valid timespec (coil__hook_ts_valid) in ns, saturating. */
static coil_time ts_ns(const struct timespec *ts)
{
    return coil__hook_span(ts->tv_sec, ts->tv_nsec);
}

static void set_left(struct timespec *rem, coil_time until)
{
    coil_time left = until - coil_clock();
    if (left < 0)
        left = 0;
    rem->tv_sec = left / 1000000000;
    rem->tv_nsec = left % 1000000000;
}

coil_time coil__hook_abs_deadline(clockid_t clock, const struct timespec *abs)
{
    struct timespec now;
    clock_gettime(clock, &now);
    long long sec = (long long)abs->tv_sec - now.tv_sec;
    long long ns = (long long)abs->tv_nsec - now.tv_nsec;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    return sec < 0 ? coil_clock() : coil__hook_after(coil__hook_span(sec, ns));
}

void coil__hook_backoff_init(coil__hook_backoff *b, coil_time deadline,
                             const coil__intr_since *since)
{
    b->tries = 0;
    b->nap = COIL__HOOK_NAP_FIRST;
    b->deadline = deadline;
    b->since = since;
    b->ev = NULL;
}

int coil__hook_backoff_wait(coil__hook_backoff *b)
{
    coil_time now = coil_clock();
    if (b->deadline >= 0 && now >= b->deadline) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (b->tries++ < COIL__HOOK_YIELDS)
        return coil_yield();
    coil_time until = now + b->nap;
    if (b->deadline >= 0 && b->deadline < until)
        until = b->deadline;
    b->nap = b->nap * 2 < COIL__HOOK_NAP_MOST ? b->nap * 2
                                              : COIL__HOOK_NAP_MOST;
    if (b->since)
        return coil__intr_sleep_until(until, b->since);
    if (!b->ev)
        return coil_sleep_until(until);
    int r = coil_event_wait_until(b->ev, until);
    return r != 0 && errno == ETIMEDOUT ? 0 : r;   /* the nap's end */
}

/* Sleep the task until loop time `until`: 0, or an errno value. */
static int sleep_until(coil_time until, struct timespec *rem)
{
    coil__intr_since since = coil__intr_now(1);
    if (coil__intr_sleep_until(until, &since) == 0)
        return 0;
    int err = errno;                      /* ECANCELED, EINTR */
    if (rem)
        set_left(rem, until);
    return err;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!coil__hook_in_task())
        return LIBC(nanosleep)(req, rem);
    if (!coil__hook_ts_valid(req)) {
        errno = EINVAL;
        return -1;
    }
    int err = sleep_until(coil__hook_after(ts_ns(req)), rem);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                    struct timespec *rem)
{
    if (!coil__hook_in_task() ||
        (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME &&
         clock != CLOCK_BOOTTIME && clock != CLOCK_TAI))
        return LIBC(clock_nanosleep)(clock, flags, req, rem);
    if (!coil__hook_ts_valid(req))
        return EINVAL;                    /* a negative tv_sec too */
    if (flags & TIMER_ABSTIME)            /* on the clock asked; no rem */
        return sleep_until(coil__hook_abs_deadline(clock, req), NULL);
    return sleep_until(coil__hook_after(ts_ns(req)), rem);
}

unsigned sleep(unsigned seconds)
{
    if (!coil__hook_in_task())
        return LIBC(sleep)(seconds);
    struct timespec rem = {0, 0};
    if (sleep_until(coil__hook_after(COIL_SEC((coil_time)seconds)), &rem) == 0)
        return 0;
    return (unsigned)rem.tv_sec + (rem.tv_nsec > 0);
}

int usleep(useconds_t us)
{
    if (!coil__hook_in_task())
        return LIBC(usleep)(us);
    int err = sleep_until(coil__hook_after((coil_time)us * 1000), NULL);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
