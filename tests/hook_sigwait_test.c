/*
 * tests/hook_sigwait_test.c — the hook layer's waits for a signal
 * (src/hook/sigwait.c): sigwait, sigwaitinfo, sigtimedwait, pause and
 * sigsuspend park a task, and the loop runs on meanwhile.
 *
 * The signal each waiter waits for is raised by the test's own task,
 * and only once the waiter has had time to park: a wait that blocked the
 * loop's thread would keep it from ever being raised, and the watchdog
 * fails the test instead of letting it hang.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

#define UNIT COIL_MSEC(30)

static sigset_t just(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    return s;
}

static void block(int sig)
{
    sigset_t s = just(sig);
    CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
}

static void unblock(int sig)
{
    sigset_t s = just(sig);
    CHECK(pthread_sigmask(SIG_UNBLOCK, &s, NULL) == 0);
}

enum { SIGWAIT, SIGWAITINFO, SIGTIMEDWAIT, PAUSE, SIGSUSPEND };

typedef struct {
    int how, timeout_ms;
    int r, err;               /* r: -2 until the call returns */
    siginfo_t info;
    coil_time took;
} waiter;

static void *wait_task(void *arg)
{
    waiter *w = arg;
    sigset_t usr2 = just(SIGUSR2), none;
    sigemptyset(&none);
    struct timespec t = {w->timeout_ms / 1000,
                         (long)(w->timeout_ms % 1000) * 1000000};
    coil_time start = coil_clock();
    int r, sig = 0;
    switch (w->how) {
    case SIGWAIT:
        r = sigwait(&usr2, &sig);
        r = r == 0 ? sig : -r;
        break;
    case SIGWAITINFO: r = sigwaitinfo(&usr2, &w->info); break;
    case SIGTIMEDWAIT: r = sigtimedwait(&usr2, &w->info, &t); break;
    case PAUSE: r = pause(); break;
    default: r = sigsuspend(&none); break;
    }
    w->err = errno;
    w->took = coil_clock() - start;
    w->r = r;
    return NULL;
}

static coil_task *park_waiter(waiter *w, int how, int timeout_ms)
{
    *w = (waiter){.how = how, .timeout_ms = timeout_ms, .r = -2};
    coil_task *t = coil_spawn(wait_task, w);
    CHECK(t != NULL);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(!task_ended(t) && w->r == -2);  /* ...while it waits */
    return t;
}

/* SIGUSR2, blocked, raised by this task: each waiter takes it. */
static void *sigwait_main(void *arg)
{
    (void)arg;
    block(SIGUSR2);
    for (int how = SIGWAIT; how <= SIGTIMEDWAIT; how++) {
        waiter w;
        coil_task *t = park_waiter(&w, how, 10000);
        CHECK(raise(SIGUSR2) == 0);
        await_task(t);
        CHECK(w.r == SIGUSR2);
        if (how != SIGWAIT)
            CHECK(w.info.si_signo == SIGUSR2 && w.info.si_pid == getpid());
    }
    /* One pending already is taken at once. */
    CHECK(raise(SIGUSR2) == 0);
    int sig = 0;
    sigset_t usr2 = just(SIGUSR2);
    CHECK(sigwait(&usr2, &sig) == 0 && sig == SIGUSR2);
    unblock(SIGUSR2);
    return NULL;
}

TEST(sigwait_sigwaitinfo_and_sigtimedwait_park_until_the_signal_is_pending)
{
    watchdog();
    run_main(sigwait_main, NULL);
}

/* sigtimedwait's time runs out (EAGAIN) while the loop ticks; a handler
 * of another signal ends sigwaitinfo with EINTR, not sigwait. */
static void *timeout_main(void *arg)
{
    (void)arg;
    block(SIGUSR2);
    waiter w;
    coil_task *t = park_waiter(&w, SIGTIMEDWAIT, 200);
    int ticks = 1 + ticks_until_ended(t, UNIT);   /* 1: the park's sleep */
    await_task(t);
    CHECK(w.r == -1 && w.err == EAGAIN);
    CHECK(w.took >= COIL_MSEC(200));
    CHECK(within((double)w.took, COIL_MSEC(200), COIL_MSEC(200 + 300)));
    CHECK(ticks >= 4);
    handle_counting(SIGUSR1, SA_RESTART);
    waiter wi, wp;
    coil_task *ti = park_waiter(&wi, SIGWAITINFO, 0);
    coil_task *tp = park_waiter(&wp, SIGWAIT, 0);
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    await_task(ti);
    CHECK(wi.r == -1 && wi.err == EINTR);
    coil_sleep(UNIT);
    CHECK(!task_ended(tp));               /* sigwait waits on */
    CHECK(raise(SIGUSR2) == 0);
    await_task(tp);
    CHECK(wp.r == SIGUSR2);
    signal(SIGUSR1, SIG_DFL);
    unblock(SIGUSR2);
    return NULL;
}

TEST(sigtimedwait_ends_at_its_time_and_a_handler_interrupts_sigwaitinfo)
{
    handled = 0;
    watchdog();
    run_main(timeout_main, NULL);
}

/* pause and sigsuspend end with EINTR once a handler runs; sigsuspend
 * lets through a signal it unblocks, and blocks it again after. */
static void *pause_main(void *arg)
{
    (void)arg;
    handle_counting(SIGUSR1, SA_RESTART);
    waiter w;
    coil_task *t = park_waiter(&w, PAUSE, 0);
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    await_task(t);
    CHECK(w.r == -1 && w.err == EINTR);
    block(SIGUSR1);
    t = park_waiter(&w, SIGSUSPEND, 0);
    CHECK(raise(SIGUSR1) == 0 && handled == 2);  /* unblocked meanwhile */
    await_task(t);
    CHECK(w.r == -1 && w.err == EINTR);
    sigset_t now;
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &now) == 0);
    CHECK(sigismember(&now, SIGUSR1) == 1);      /* blocked again */
    unblock(SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
    return NULL;
}

TEST(pause_and_sigsuspend_park_until_a_handler_runs)
{
    handled = 0;
    watchdog();
    run_main(pause_main, NULL);
}

/* A cancelled waiter unwinds; a bad timeout is EINVAL at once. */
static void *cancel_main(void *arg)
{
    (void)arg;
    block(SIGUSR2);
    waiter w;
    coil_task *t = park_waiter(&w, SIGWAIT, 0);
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(w.r == -2);
    sigset_t usr2 = just(SIGUSR2);
    struct timespec bad = {0, 1000000000};
    CHECK_ERRNO(sigtimedwait(&usr2, NULL, &bad), EINVAL);
    struct timespec zero = {0, 0};
    CHECK_ERRNO(sigtimedwait(&usr2, NULL, &zero), EAGAIN);
    unblock(SIGUSR2);
    return NULL;
}

TEST(a_cancelled_wait_unwinds_and_a_bad_timeout_is_einval)
{
    watchdog();
    run_main(cancel_main, NULL);
}

RUN_TESTS(T(sigwait_sigwaitinfo_and_sigtimedwait_park_until_the_signal_is_pending),
          T(sigtimedwait_ends_at_its_time_and_a_handler_interrupts_sigwaitinfo),
          T(pause_and_sigsuspend_park_until_a_handler_runs),
          T(a_cancelled_wait_unwinds_and_a_bad_timeout_is_einval))
