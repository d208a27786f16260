/*
 * tests/hook_helpers.h — what the hook layer's suites share: a watchdog
 * that fails a test whose hooked call held the loop's thread instead of
 * letting it hang, a look at whether a task has ended, an fd's flags in
 * the kernel, absolute times for the timed calls, a counting signal
 * handler, and whether ThreadSanitizer (whose interceptors wrap some
 * hooks) is in.  Include after check.h and coil.h.
 */
#ifndef COIL_TEST_HOOK_HELPERS_H
#define COIL_TEST_HOOK_HELPERS_H

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* A minute, then SIGALRM's default: the test dies, and fails. */
__attribute__((unused)) static void watchdog(void)
{
    signal(SIGALRM, SIG_DFL);
    alarm(60);
}

__attribute__((unused)) static int task_ended(coil_task *t)
{
    return coil_future_done(coil_task_future(t));
}

/* Sleep in steps of unit until t ends: the steps slept.  A task that
 * waited in the kernel for its whole time lets this tick once at most. */
__attribute__((unused)) static int ticks_until_ended(coil_task *t,
                                                     coil_time unit)
{
    int ticks = 0;
    while (!task_ended(t)) {
        coil_sleep(unit);
        ticks++;
    }
    return ticks;
}

/* An fd's flags as the kernel has them, past the hooked F_GETFL (which
 * reports the program's own O_NONBLOCK, not coil's). */
__attribute__((unused)) static int kernel_flags(int fd)
{
    return (int)syscall(SYS_fcntl, fd, F_GETFL);
}

/* ms from now on clock, as the timed calls take it. */
__attribute__((unused)) static struct timespec abs_in(clockid_t clock, int ms)
{
    struct timespec t;
    CHECK(clock_gettime(clock, &t) == 0);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_nsec -= 1000000000;
        t.tv_sec++;
    }
    return t;
}

/* Handlers run so far by count_handler. */
static volatile sig_atomic_t handled;

static void count_handler(int sig)
{
    (void)sig;
    handled++;
}

/* Install count_handler for sig with sa_flags flags (SA_RESTART or 0). */
__attribute__((unused)) static void handle_counting(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0);
}

#endif
