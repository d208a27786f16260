/*
 * src/hook/sigwait.c — waits for a signal, hooked: sigwait, sigwaitinfo,
 * sigtimedwait, pause and sigsuspend park a task instead of its thread.
 *
 * A task that waits for a signal would sleep in the kernel with the
 * loop's thread, and none of the loop's other tasks would run until the
 * signal came — perhaps one that such a task was to send.
 *
 * sigwait and kin wait for a signal of their set to be pending, then
 * take it.  In a task: take one that is pending already
 * (sigtimedwait with a zero timeout), else park on a signalfd for the
 * set, readable once one is pending for this thread or the process, and
 * take it then (another thread may take it first: wait again).  As in
 * the kernel, the set must be blocked by the caller; sigwaitinfo and
 * sigtimedwait end with EINTR when a handler of another signal runs
 * (never restarted, signal(7)), sigwait goes on waiting.
 *
 * pause and sigsuspend wait for a handler to run: the task parks until
 * one has (src/hook/intr.c), then gives EINTR.  sigsuspend first sets
 * the thread's mask to its argument — the thread's, as in a thread, so
 * the loop's other tasks run under that mask until the wait ends — and
 * restores it after.
 *
 * A cancelled task unwinds out of any of them (error mode: ECANCELED,
 * as -1 and errno, or for sigwait as its return value).
 */
#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>

#include "hook.h"

/* Take a signal of set that is pending now: its number, or -1 (EAGAIN:
 * none; EINVAL). */
static int take_pending(const sigset_t *set, siginfo_t *info)
{
    static const struct timespec now = {0, 0};
    return LIBC(sigtimedwait)(set, info, &now);
}

static void close_fd(void *arg)
{
    int saved = errno;
    coil_close(*(int *)arg);
    errno = saved;
}

/* Park until a signal of set may be pending or deadline (loop time; -1:
 * none) passes: 0, or -1 with errno ETIMEDOUT, EINTR (a handler since
 * counts; since NULL: none does), ECANCELED, or signalfd's. */
static int wait_pending(const sigset_t *set, coil_time deadline,
                        const coil__intr_since *since)
{
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -1;                        /* EMFILE, ENOMEM */
    coil__io_fresh(fd);
    int r;
    coil_cleanup_push(close_fd, &fd);
    r = since ? coil__intr_wait_fd(fd, COIL_READABLE, deadline, since)
              : coil_wait_fd(fd, COIL_READABLE, deadline);
    coil_cleanup_pop(1);
    return r;
}

/* sigtimedwait for a task: deadline -1 for none; interruptible by
 * handlers unless plain (sigwait). */
static int wait_in_task(const sigset_t *set, siginfo_t *info,
                        coil_time deadline, int plain)
{
    coil__intr_since since = coil__intr_now(1);
    for (;;) {
        int sig = take_pending(set, info);
        if (sig > 0 || errno != EAGAIN)
            return sig;                   /* a signal, or EINVAL */
        if (wait_pending(set, deadline, plain ? NULL : &since) != 0) {
            if (errno == ETIMEDOUT)
                errno = EAGAIN;           /* sigtimedwait's word for it */
            return -1;
        }
    }
}

int sigtimedwait(const sigset_t *set, siginfo_t *info,
                 const struct timespec *timeout)
{
    if (!coil__hook_in_task() ||
        (timeout && !timeout->tv_sec && !timeout->tv_nsec))   /* a poll */
        return LIBC(sigtimedwait)(set, info, timeout);
    if (timeout && !coil__hook_ts_valid(timeout)) {
        errno = EINVAL;
        return -1;
    }
    coil_time deadline = timeout ? coil__hook_after(coil__hook_span(
                                       timeout->tv_sec, timeout->tv_nsec))
                                 : -1;
    return wait_in_task(set, info, deadline, 0);
}

int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    if (!coil__hook_in_task())
        return LIBC(sigwaitinfo)(set, info);
    return wait_in_task(set, info, -1, 0);
}

int sigwait(const sigset_t *set, int *sig)
{
    if (!coil__hook_in_task())
        return LIBC(sigwait)(set, sig);
    int r = wait_in_task(set, NULL, -1, 1);
    if (r < 0)
        return errno;                     /* sigwait returns its error */
    *sig = r;
    return 0;
}

/* Park until a handler runs: -1 with errno EINTR, or ECANCELED.  Naps
 * of a second, so that a handler installed only after the wait began
 * (before it, no handler was wrapped to tell) is seen at the next. */
static int wait_for_handler(const coil__intr_since *since)
{
    for (;;)
        if (coil__intr_sleep_until(coil__hook_after(1000000000), since) != 0)
            return -1;
}

int pause(void)
{
    if (!coil__hook_in_task())
        return LIBC(pause)();
    coil__intr_since since = coil__intr_now(1);
    return wait_for_handler(&since);
}

static void restore_mask(void *arg)
{
    pthread_sigmask(SIG_SETMASK, arg, NULL);
}

int sigsuspend(const sigset_t *mask)
{
    if (!coil__hook_in_task())
        return LIBC(sigsuspend)(mask);
    coil__intr_since since = coil__intr_now(1);
    sigset_t old;
    if (pthread_sigmask(SIG_SETMASK, mask, &old) != 0)
        return -1;
    /* A signal pending and now unblocked ran its handler just now: the
     * wait below ends at once. */
    int r;
    coil_cleanup_push(restore_mask, &old);
    r = wait_for_handler(&since);
    coil_cleanup_pop(1);
    return r;
}
