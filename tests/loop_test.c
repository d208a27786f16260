/*
 * tests/loop_test.c — layer 3: the event loop, its timers and its poller.
 *
 * CTest runs this as is (epoll_pwait2 where the kernel has it), with
 * COIL_POLL_NO_PWAIT2=1 (timeouts from a timerfd), and under valgrind.
 * Timing checks print what they measure and assert bounds loose enough for
 * valgrind, qemu and a loaded machine: never early, never spinning, not
 * absurdly late.  No sleep() stands in for synchronisation.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>

#include "check.h"
#include "coil.h"
#include "task/future.h"
#include "loop/loop.h"
#include "loop/poll.h"

/* ------------------------------------------------------------- helpers */

static int order[64], norder;

static void record(void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
}

static void stop_loop(void *arg)
{
    CHECK(coil_loop_is_running(arg) == 1);
    CHECK(coil_loop_stop(arg) == 0);
}

static void must_not_run(void *arg)
{
    (void)arg;
    CHECK(!"a cancelled or dropped callback ran");
}

static void check_order(const int *want, int n)
{
    CHECK(norder == n);
    for (int i = 0; i < n; i++)
        CHECK(order[i] == want[i]);
}

/* Run loop until a callback stops it, with a watchdog so that a loop that
 * never wakes fails the test instead of hanging it. */
static void run(coil_loop *loop)
{
    alarm(20);
    CHECK(coil_loop_run_forever(loop) == 0);
    alarm(0);
}

static coil_time cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (coil_time)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The lowest free fd: if making and closing things leaked one, it moves. */
static int lowest_free_fd(void)
{
    int fd = dup(0);
    CHECK(fd >= 0);
    close(fd);
    return fd;
}

/* -------------------------------------------------------------- ordering */

TEST(callbacks_run_in_fifo_order)
{
    coil_loop *loop = coil_loop_new();
    for (int i = 0; i < 5; i++)
        CHECK(coil_call_soon(loop, record, (void *)(intptr_t)i, NULL) == 0);
    CHECK(coil_call_soon(loop, stop_loop, loop, NULL) == 0);
    run(loop);
    check_order((int[]){0, 1, 2, 3, 4}, 5);
    CHECK(coil_loop_close(loop) == 0);
}

static void schedule_then_stop(void *arg)
{
    coil_loop *loop = arg;
    record((void *)1);
    CHECK(coil_call_soon(loop, record, (void *)3, NULL) == 0);
    CHECK(coil_loop_stop(loop) == 0);
}

TEST(an_iteration_runs_only_what_was_ready_when_it_began)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_soon(loop, schedule_then_stop, loop, NULL) == 0);
    CHECK(coil_call_soon(loop, record, (void *)2, NULL) == 0);
    run(loop);                   /* stops after the first iteration */
    check_order((int[]){1, 2}, 2);
    CHECK(coil_call_soon(loop, stop_loop, loop, NULL) == 0);
    run(loop);
    check_order((int[]){1, 2, 3}, 3);
    CHECK(coil_loop_close(loop) == 0);
}

static long spins;

static void spin_forever(void *arg)
{
    spins++;
    CHECK(coil_call_soon(arg, spin_forever, arg, NULL) == 0);
}

TEST(a_self_rescheduling_callback_does_not_starve_a_due_timer)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_soon(loop, spin_forever, loop, NULL) == 0);
    CHECK(coil_call_later(loop, COIL_MSEC(1), stop_loop, loop, NULL) == 0);
    run(loop);
    CHECK(spins > 0);
    printf("  %ld spins before the 1 ms timer fired\n", spins);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(timers_run_in_deadline_order)
{
    coil_loop *loop = coil_loop_new();
    /* Absolute deadlines from one base: delays counted from the live clock
     * at each call came out of order under valgrind on a loaded machine
     * (more than 20 ms between two calls).  The order of the deadlines,
     * not of the calls, is what the heap must keep. */
    CHECK(coil_call_later(loop, -5, record, (void *)0, NULL) == 0); /* now */
    coil_time base = coil_loop_time(loop);    /* no earlier than that */
    CHECK(coil_call_at(loop, base + COIL_MSEC(60), record, (void *)3, NULL) == 0);
    CHECK(coil_call_at(loop, base + COIL_MSEC(20), record, (void *)1, NULL) == 0);
    CHECK(coil_call_at(loop, base + COIL_MSEC(40), record, (void *)2, NULL) == 0);
    CHECK(coil_call_at(loop, base + COIL_MSEC(80), stop_loop, loop, NULL) == 0);
    run(loop);
    check_order((int[]){0, 1, 2, 3}, 4);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(timers_with_equal_deadlines_run_in_scheduling_order)
{
    coil_loop *loop = coil_loop_new();
    coil_time when = coil_loop_time(loop) + COIL_MSEC(2);
    for (int i = 0; i < 8; i++)
        CHECK(coil_call_at(loop, when, record, (void *)(intptr_t)i, NULL) ==
              0);
    CHECK(coil_call_at(loop, when, stop_loop, loop, NULL) == 0);
    run(loop);
    check_order((int[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
    CHECK(coil_loop_close(loop) == 0);
}

typedef struct timed {
    coil_time when;
    int index;
} timed;

static const timed *last_fired;
static long fired, to_fire;

static void check_deadline_order(void *arg)
{
    const timed *t = arg;
    coil_loop *loop = coil_loop_current();
    CHECK(coil_loop_time(loop) >= t->when);
    if (last_fired) {
        CHECK(t->when >= last_fired->when);
        if (t->when == last_fired->when)
            CHECK(t->index > last_fired->index);
    }
    last_fired = t;
    if (++fired == to_fire)
        coil_loop_stop(loop);
}

/* Deadlines in whole microseconds, so that many coincide and the FIFO
 * tie-break is exercised as well. */
TEST(hundred_thousand_random_timers_fire_in_deadline_order)
{
    to_fire = scaled(100000);
    timed *t = malloc((size_t)to_fire * sizeof *t);
    coil_loop *loop = coil_loop_new();
    coil_time base = coil_loop_time(loop);
    srand(12345);
    for (long i = 0; i < to_fire; i++) {
        t[i] = (timed){base + COIL_USEC(rand() % 50000), (int)i};
        CHECK(coil_call_at(loop, t[i].when, check_deadline_order, &t[i],
                           NULL) == 0);
    }
    run(loop);
    CHECK(fired == to_fire);
    CHECK(coil_loop_close(loop) == 0);
    free(t);
}

static coil_time iteration_time[3];

static void note_time_then_busy_wait(void *arg)
{
    iteration_time[(intptr_t)arg] = coil_loop_time(coil_loop_current());
    coil_time until = coil_clock() + COIL_MSEC(2);
    while (coil_clock() < until)
        ;
}

static void note_time_in_next_iteration(void *arg)
{
    coil_loop *loop = arg;
    iteration_time[2] = coil_loop_time(loop);
    coil_loop_stop(loop);
}

static void schedule_next_iteration(void *arg)
{
    note_time_then_busy_wait((void *)1);
    CHECK(coil_call_soon(arg, note_time_in_next_iteration, arg, NULL) == 0);
}

TEST(loop_time_is_constant_within_an_iteration)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_soon(loop, note_time_then_busy_wait, (void *)0, NULL) ==
          0);
    CHECK(coil_call_soon(loop, schedule_next_iteration, loop, NULL) == 0);
    run(loop);
    CHECK(iteration_time[0] == iteration_time[1]);
    CHECK(iteration_time[2] - iteration_time[0] >= COIL_MSEC(4));
    coil_time a = coil_loop_time(loop), b = coil_loop_time(loop);
    CHECK(b > a);                /* not running: the live clock */
    coil_time c = coil_loop_time(NULL);      /* no current loop: the clock */
    CHECK(c > b && c <= coil_clock());
    CHECK(coil_loop_close(loop) == 0);
}

/* ---------------------------------------------------------- cancelling */

TEST(cancel_before_run_returns_1_and_the_callback_never_runs)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *soon, *later;
    CHECK(coil_call_soon(loop, must_not_run, NULL, &soon) == 0);
    CHECK(coil_call_later(loop, COIL_MSEC(1), must_not_run, NULL, &later) ==
          0);
    CHECK(coil_handle_cancel(soon) == 1);
    CHECK(coil_handle_cancel(later) == 1);
    CHECK(coil_call_later(loop, COIL_MSEC(3), stop_loop, loop, NULL) == 0);
    run(loop);
    CHECK(coil_handle_cancel(soon) == 0);   /* already cancelled */
    coil_handle_release(soon);
    coil_handle_release(later);
    CHECK(coil_loop_close(loop) == 0);
}

static coil_handle *victim;

static void cancel_victim(void *arg)
{
    (void)arg;
    CHECK(coil_handle_cancel(victim) == 1);
}

TEST(a_callback_can_cancel_a_later_one_of_the_same_iteration)
{
    coil_loop *loop = coil_loop_new();
    coil_time when = coil_loop_time(loop) + COIL_MSEC(1);
    CHECK(coil_call_at(loop, when, cancel_victim, NULL, NULL) == 0);
    CHECK(coil_call_at(loop, when, must_not_run, NULL, &victim) == 0);
    CHECK(coil_call_at(loop, when, stop_loop, loop, NULL) == 0);
    run(loop);
    CHECK(coil_handle_cancel(victim) == 0);
    coil_handle_release(victim);
    CHECK(coil_loop_close(loop) == 0);
}

static coil_handle *self_handle;
static int self_cancel_result = -2;

static void cancel_and_release_self(void *arg)
{
    self_cancel_result = coil_handle_cancel(self_handle);
    coil_handle_release(self_handle);       /* the loop still holds one */
    coil_loop_stop(arg);
}

TEST(cancel_after_run_returns_0_and_a_callback_may_release_its_handle)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *h;
    CHECK(coil_call_soon(loop, record, (void *)7, &h) == 0);
    CHECK(coil_call_soon(loop, cancel_and_release_self, loop,
                         &self_handle) == 0);
    run(loop);
    check_order((int[]){7}, 1);
    CHECK(self_cancel_result == 0);          /* running: too late */
    CHECK(coil_handle_cancel(h) == 0);
    CHECK(coil_handle_cancel(h) == 0);
    CHECK(coil_handle_release(h) == 0);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(releasing_a_handle_does_not_cancel_it)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *soon, *later;
    CHECK(coil_call_soon(loop, record, (void *)1, &soon) == 0);
    CHECK(coil_call_later(loop, COIL_MSEC(1), record, (void *)2, &later) ==
          0);
    CHECK(coil_handle_release(soon) == 0);
    CHECK(coil_handle_release(later) == 0);
    CHECK(coil_handle_release(NULL) == 0);
    CHECK(coil_call_later(loop, COIL_MSEC(2), stop_loop, loop, NULL) == 0);
    run(loop);
    check_order((int[]){1, 2}, 2);
    CHECK(coil_loop_close(loop) == 0);
}

/* Cancelled timers leave the heap at once: 10,000 of them due within the
 * run neither run nor wake the loop (the CPU check) nor leak (ASan and
 * valgrind). */
TEST(cancelled_timers_neither_run_nor_keep_the_loop_busy)
{
    coil_loop *loop = coil_loop_new();
    long n = scaled(10000);
    coil_handle **h = malloc((size_t)n * sizeof *h);
    for (long i = 0; i < n; i++)
        CHECK(coil_call_later(loop, COIL_USEC(100 + i % 20000), must_not_run,
                              NULL, &h[i]) == 0);
    for (long i = 0; i < n; i += 2)          /* out of heap order */
        CHECK(coil_handle_cancel(h[i]) == 1);
    for (long i = 1; i < n; i += 2)
        CHECK(coil_handle_cancel(h[i]) == 1);
    for (long i = 0; i < n; i++)
        coil_handle_release(h[i]);
    CHECK(coil_call_later(loop, COIL_MSEC(50), stop_loop, loop, NULL) == 0);
    coil_time cpu = cpu_now();
    run(loop);
    CHECK(cpu_now() - cpu < COIL_MSEC(20));
    CHECK(coil_loop_close(loop) == 0);
    free(h);
}

/* ------------------------------------------------------------ stopping */

TEST(stop_from_a_callback_ends_the_run_after_its_iteration)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_soon(loop, stop_loop, loop, NULL) == 0);
    CHECK(coil_call_soon(loop, record, (void *)1, NULL) == 0);
    run(loop);
    check_order((int[]){1}, 1);             /* the rest of the batch ran */
    CHECK(coil_loop_is_running(loop) == 0);
    CHECK(coil_loop_close(loop) == 0);
}

static void record_and_reschedule(void *arg)
{
    record((void *)(intptr_t)norder);
    CHECK(coil_call_soon(arg, record_and_reschedule, arg, NULL) == 0);
}

TEST(stop_before_run_makes_the_run_do_one_iteration)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_soon(loop, record_and_reschedule, loop, NULL) == 0);
    CHECK(coil_loop_stop(loop) == 0);
    run(loop);
    check_order((int[]){0}, 1);
    CHECK(coil_loop_stop(loop) == 0);
    run(loop);
    check_order((int[]){0, 1}, 2);
    CHECK(coil_loop_close(loop) == 0);
}

static void *stop_when_running(void *arg)
{
    coil_loop *loop = arg;
    while (coil_loop_is_running(loop) != 1)
        sched_yield();
    return (void *)(intptr_t)coil_loop_stop(loop);
}

/* No timers, nothing ready: the loop blocks in epoll with no timeout, and
 * only the eventfd written by the other thread's stop can end the run. */
TEST(stop_from_another_thread_wakes_a_sleeping_loop)
{
    coil_loop *loop = coil_loop_new();
    pthread_t t;
    void *r;
    CHECK(pthread_create(&t, NULL, stop_when_running, loop) == 0);
    run(loop);
    CHECK(pthread_join(t, &r) == 0 && r == NULL);
    CHECK(coil_loop_close(loop) == 0);
}

static volatile sig_atomic_t signals;
static atomic_int signalling_done;

static void count_signal(int sig)
{
    (void)sig;
    signals++;
}

/* Signals the main thread every 200 us until told to stop: some land
 * while it sleeps in epoll, which then fails with EINTR. */
static void *signal_repeatedly(void *arg)
{
    pthread_t main_thread = *(pthread_t *)arg;
    struct timespec pause = {0, 200000};
    while (!atomic_load(&signalling_done)) {
        pthread_kill(main_thread, SIGUSR1);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static int ticks;

/* A timer that keeps coming back until enough signals have arrived: the
 * loop sleeps in epoll between ticks, so most signals interrupt a wait. */
static void tick_until_signalled(void *arg)
{
    coil_loop *loop = arg;
    ticks++;
    if (signals >= 20)
        CHECK(coil_loop_stop(loop) == 0);
    else
        CHECK(coil_call_later(loop, COIL_MSEC(5), tick_until_signalled, loop,
                              NULL) == 0);
}

TEST(signals_interrupting_the_wait_do_not_end_the_run)
{
    struct sigaction sa = {.sa_handler = count_signal};   /* no SA_RESTART */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_later(loop, COIL_MSEC(5), tick_until_signalled, loop,
                          NULL) == 0);
    pthread_t self = pthread_self(), t;
    CHECK(pthread_create(&t, NULL, signal_repeatedly, &self) == 0);
    run(loop);
    atomic_store(&signalling_done, 1);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(signals >= 20 && ticks >= 1);
    printf("  %d signals over %d ticks\n", (int)signals, ticks);
    CHECK(coil_loop_close(loop) == 0);
}

/* ------------------------------------------------------------ precision */

static coil_time fired_at;

static void note_firing(void *arg)
{
    fired_at = coil_clock();
    coil_loop_stop(arg);
}

static int by_value(const void *a, const void *b)
{
    coil_time x = *(const coil_time *)a, y = *(const coil_time *)b;
    return (x > y) - (x < y);
}

TEST(a_200_microsecond_timer_fires_after_200_microseconds_not_a_millisecond)
{
    enum { RUNS = 21 };
    coil_time late[RUNS];
    coil_loop *loop = coil_loop_new();
    for (int i = 0; i < RUNS; i++) {
        coil_time start = coil_clock();
        CHECK(coil_call_later(loop, COIL_USEC(200), note_firing, loop,
                              NULL) == 0);
        run(loop);
        CHECK(fired_at - start >= COIL_USEC(200));
        late[i] = fired_at - start - COIL_USEC(200);
    }
    qsort(late, RUNS, sizeof late[0], by_value);
    printf("  lateness (%s): min %lld us, median %lld us, max %lld us\n",
           coil__poll_uses_pwait2() ? "epoll_pwait2" : "timerfd",
           late[0] / 1000, late[RUNS / 2] / 1000, late[RUNS - 1] / 1000);
    CHECK(late[RUNS / 2] < COIL_MSEC(50));
    CHECK(coil_loop_close(loop) == 0);
}

/* With fd -1, a kernel (or emulator) that has epoll_pwait2 says EBADF. */
TEST(timeouts_use_epoll_pwait2_where_it_works_unless_told_otherwise)
{
    const char *force = getenv("COIL_POLL_NO_PWAIT2");
    struct epoll_event ev;
    struct timespec zero = {0, 0};
    int works = epoll_pwait2(-1, &ev, 1, &zero, NULL) == -1 && errno == EBADF;
    int forced_off = force && strcmp(force, "1") == 0;
    CHECK(coil__poll_uses_pwait2() == (works && !forced_off));
}

/* A timed epoll_pwait2 may end as late as the thread's timer slack (50 us
 * by default), so a loop sets its thread's to 1 ns; COIL_TIMER_SLACK=<ns>
 * picks another, "keep" leaves the thread's.  (The timerfd path needs
 * none and sets none.)  Each case in a thread of its own, which starts
 * from a slack of 30 us so that a change shows whatever the process had. */
typedef struct slack_seen {
    unsigned long before, after;
} slack_seen;

static void *slack_around_loop_new(void *arg)
{
    slack_seen *seen = arg;
    CHECK(prctl(PR_SET_TIMERSLACK, 30000UL, 0UL, 0UL, 0UL) == 0);
    seen->before = (unsigned long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    CHECK(seen->before == 30000);
    coil_loop *loop = coil_loop_new();
    CHECK(loop);
    seen->after = (unsigned long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    CHECK(coil_loop_close(loop) == 0);
    return NULL;
}

static slack_seen slack_with(const char *env)
{
    if (env)
        CHECK(setenv("COIL_TIMER_SLACK", env, 1) == 0);
    else
        CHECK(unsetenv("COIL_TIMER_SLACK") == 0);
    slack_seen seen = {0, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, slack_around_loop_new, &seen) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(unsetenv("COIL_TIMER_SLACK") == 0);
    return seen;
}

TEST(a_loop_sets_its_threads_timer_slack_to_1_ns_unless_told_otherwise)
{
    slack_seen plain = slack_with(NULL), asked = slack_with("2000"),
               keep = slack_with("keep"), typo = slack_with("12us");
    if (coil__poll_uses_pwait2()) {
        CHECK(plain.after == 1);
        CHECK(asked.after == 2000);
    } else {                        /* the timerfd is never slack */
        CHECK(plain.after == plain.before);
        CHECK(asked.after == asked.before);
    }
    CHECK(keep.after == keep.before);
    CHECK(typo.after == typo.before);
}

TEST(an_idle_loop_sleeps_instead_of_spinning)
{
    coil_loop *loop = coil_loop_new();
    coil_time wall = coil_clock(), cpu = cpu_now();
    CHECK(coil_call_later(loop, COIL_MSEC(100), stop_loop, loop, NULL) == 0);
    run(loop);
    wall = coil_clock() - wall;
    cpu = cpu_now() - cpu;
    printf("  waited %lld ms using %lld us of CPU\n", wall / 1000000,
           cpu / 1000);
    CHECK(wall >= COIL_MSEC(100));
    CHECK(cpu < COIL_MSEC(20));
    CHECK(coil_loop_close(loop) == 0);
}

/* ------------------------------------------------------------- closing */

TEST(close_drops_pending_callbacks_and_their_handles_stay_safe)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *soon, *later;
    CHECK(coil_call_soon(loop, must_not_run, NULL, &soon) == 0);
    CHECK(coil_call_later(loop, COIL_MSEC(1), must_not_run, NULL, &later) ==
          0);
    CHECK(coil_call_soon(loop, must_not_run, NULL, NULL) == 0);
    CHECK(coil_call_later(loop, 0, must_not_run, NULL, NULL) == 0);
    CHECK(coil_loop_close(loop) == 0);
    CHECK(coil_handle_cancel(soon) == 0);   /* dropped: already cancelled */
    CHECK(coil_handle_cancel(later) == 0);
    CHECK(coil_handle_release(soon) == 0);
    CHECK(coil_handle_release(later) == 0);
}

static void count_run(coil_future *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
}

/* A done future's callbacks are run by a dispatch queued on its loop,
 * which holds a reference to the future.  A loop closed right after an
 * outside coil_await (which returns once its own future's callbacks ran)
 * dropped it: the future (a task, when coil_wait_for's time-out had won
 * the race) leaked, and so did what its callbacks held, such as the
 * future coil_shield made (found by the API fuzzer). */
TEST(close_runs_the_callbacks_of_futures_already_done)
{
    coil_loop *loop = coil_loop_new();
    coil_future *f = coil_future_new(loop);
    CHECK(f);
    int ran = 0;
    CHECK(coil_future_add_done_callback(f, count_run, &ran) == 0);
    CHECK(coil_future_set_result(f, NULL) == 0);       /* queues the dispatch */
    CHECK(f->refs == 2 && ran == 0);                   /* ours, the dispatch's */
    CHECK(coil_loop_close(loop) == 0);
    CHECK(ran == 1 && f->refs == 1);
    CHECK(coil_future_release(f) == 0);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static int inner_errors[3];

/* What a callback may not do to the loop running it. */
static void misuse_running_loop(void *arg)
{
    coil_loop *loop = arg;
    errno = 0;
    inner_errors[0] = coil_loop_run_forever(loop) == -1 ? errno : 0;
    errno = 0;
    inner_errors[1] = coil_loop_close(loop) == -1 ? errno : 0;
    errno = 0;
    inner_errors[2] = coil__loop_run_until(loop, never, NULL) == -1 ? errno : 0;
    coil_loop_stop(loop);
}

TEST(running_or_closing_a_running_loop_is_ebusy)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_soon(loop, misuse_running_loop, loop, NULL) == 0);
    run(loop);
    CHECK(inner_errors[0] == EBUSY);
    CHECK(inner_errors[1] == EBUSY);
    CHECK(inner_errors[2] == EBUSY);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(new_fails_cleanly_when_an_fd_cannot_be_made)
{
    int fd = lowest_free_fd();
    /* epoll, eventfd, registering it, then (timerfd mode) timerfd and
     * registering that: each failure in turn, then success. */
    int steps = coil__poll_uses_pwait2() ? 3 : 5;
    for (int n = 1; n <= steps; n++) {
        coil__poll_fail_nth(n);
        errno = 0;
        CHECK(coil_loop_new() == NULL);
        CHECK(errno == EMFILE || errno == ENOMEM);
        CHECK(lowest_free_fd() == fd);
    }
    coil__poll_fail_nth(0);
    coil_loop *loop = coil_loop_new();
    CHECK(loop);
    CHECK(coil_loop_close(loop) == 0);
    CHECK(lowest_free_fd() == fd);
}

/* --------------------------------------------------- threads and defaults */

static void *default_of_new_thread(void *arg)
{
    (void)arg;
    coil_loop *loop = coil_loop_default();
    CHECK(loop && coil_loop_default() == loop);
    CHECK(coil_loop_close(loop) == 0);
    return loop;
}

TEST(each_thread_has_its_own_default_loop)
{
    coil_loop *mine = coil_loop_default();
    CHECK(mine && coil_loop_default() == mine);
    pthread_t t;
    void *theirs;
    CHECK(pthread_create(&t, NULL, default_of_new_thread, NULL) == 0);
    CHECK(pthread_join(t, &theirs) == 0);
    CHECK(theirs != NULL && theirs != mine);   /* both were alive */
    CHECK(coil_loop_close(mine) == 0);
}

TEST(closing_the_default_loop_makes_the_next_call_make_a_fresh_one)
{
    coil_loop *old = coil_loop_default();
    CHECK(coil_call_soon(NULL, must_not_run, NULL, NULL) == 0);
    CHECK(coil_loop_close(old) == 0);
    coil_loop *fresh = coil_loop_default();    /* may reuse the address */
    CHECK(fresh);
    CHECK(coil_call_soon(NULL, record, (void *)1, NULL) == 0);
    CHECK(coil_call_soon(NULL, stop_loop, fresh, NULL) == 0);
    run(fresh);
    check_order((int[]){1}, 1);
    CHECK(coil_loop_close(fresh) == 0);
}

static coil_loop *seen_current[3];

static void note_current(void *arg)
{
    seen_current[(intptr_t)arg] = coil_loop_current();
}

static void run_other_loop(void *arg)
{
    coil_loop *other = arg;
    note_current((void *)0);
    CHECK(coil_call_soon(other, note_current, (void *)1, NULL) == 0);
    CHECK(coil_call_soon(other, stop_loop, other, NULL) == 0);
    CHECK(coil_loop_run_forever(other) == 0);
    note_current((void *)2);
    CHECK(coil_loop_stop(coil_loop_current()) == 0);
}

TEST(current_loop_is_set_while_running_and_restored_after)
{
    coil_loop *outer = coil_loop_new(), *inner = coil_loop_new();
    CHECK(coil_loop_current() == NULL);
    CHECK(coil_call_soon(outer, run_other_loop, inner, NULL) == 0);
    run(outer);
    CHECK(seen_current[0] == outer);
    CHECK(seen_current[1] == inner);
    CHECK(seen_current[2] == outer);
    CHECK(coil_loop_current() == NULL);
    CHECK(coil_loop_close(inner) == 0);
    CHECK(coil_loop_close(outer) == 0);
}

static void schedule_on_null_loop(void *arg)
{
    (void)arg;
    CHECK(coil_call_soon(NULL, record, (void *)2, NULL) == 0);
    CHECK(coil_call_later(NULL, 0, stop_loop, coil_loop_current(), NULL) ==
          0);
}

TEST(a_null_loop_means_the_running_loop_else_the_default)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil__loop_resolve(NULL) == coil_loop_default());
    CHECK(coil__loop_resolve(loop) == loop);
    CHECK(coil_call_soon(loop, schedule_on_null_loop, NULL, NULL) == 0);
    CHECK(coil_call_soon(NULL, must_not_run, NULL, NULL) == 0); /* default */
    run(loop);
    CHECK(norder == 1 && order[0] == 2);
    CHECK(coil_loop_close(loop) == 0);
    CHECK(coil_loop_close(coil_loop_default()) == 0);
}

typedef struct eperm_results {
    int errors[7];
    int owned, handle_cleared, stop;
} eperm_results;

static void *misuse_from_other_thread(void *arg)
{
    void **in = arg;
    coil_loop *loop = in[0];
    coil_handle *h = in[1], *out = h;
    static eperm_results r;
#define ERR(expr) (errno = 0, (expr) == -1 ? errno : 0)
    r.errors[0] = ERR(coil_loop_run_forever(loop));
    r.errors[1] = ERR(coil_loop_close(loop));
    r.errors[2] = ERR(coil_call_soon(loop, record, NULL, NULL));
    r.errors[3] = ERR(coil_call_later(loop, 1, record, NULL, NULL));
    r.errors[4] = ERR(coil_call_at(loop, 1, record, NULL, &out));
    r.errors[5] = ERR(coil_handle_cancel(h));
    r.errors[6] = ERR(coil__loop_run_until(loop, never, NULL));
#undef ERR
    r.owned = coil__loop_owned(loop);
    r.handle_cleared = out == NULL;
    r.stop = coil_loop_stop(loop);            /* allowed from anywhere */
    return &r;
}

TEST(another_thread_gets_eperm_but_may_stop_the_loop)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *h;
    CHECK(coil_call_soon(loop, record, (void *)1, &h) == 0);
    CHECK(coil__loop_owned(loop) == 1);
    pthread_t t;
    void *in[2] = {loop, h}, *out;
    CHECK(pthread_create(&t, NULL, misuse_from_other_thread, in) == 0);
    CHECK(pthread_join(t, &out) == 0);
    eperm_results *r = out;
    for (int i = 0; i < 7; i++)
        CHECK(r->errors[i] == EPERM);
    CHECK(r->owned == 0);
    CHECK(r->handle_cleared);
    CHECK(r->stop == 0);
    CHECK(coil_loop_is_running(loop) == 0);
    run(loop);                    /* the stop is pending: one iteration */
    check_order((int[]){1}, 1);
    coil_handle_release(h);
    CHECK(coil_loop_close(loop) == 0);
}

/* NULL is the loop running here, as in coil_call_soon. */
static void stop_current(void *arg)
{
    int *seen = arg;
    seen[0] = coil_loop_is_running(NULL);
    seen[1] = coil_loop_set_debug(NULL, 1, COIL_MSEC(50));
    seen[2] = coil_loop_get_debug(coil_loop_current());
    seen[3] = coil_loop_stop(NULL);
}

TEST(a_null_loop_means_the_running_one_for_stop_is_running_and_debug)
{
    coil_loop *loop = coil_loop_new();
    int seen[4] = {-9, -9, -9, -9};
    CHECK(coil_call_soon(loop, stop_current, seen, NULL) == 0);
    CHECK(coil_loop_run_forever(loop) == 0);   /* returns: it was stopped */
    CHECK(seen[0] == 1 && seen[1] == 0 && seen[2] == 1 && seen[3] == 0);
    CHECK(coil_loop_get_debug(loop) == 1);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(bad_arguments_are_einval)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *h = (coil_handle *)loop;
    CHECK_ERRNO(coil_loop_run_forever(NULL), EINVAL);
    CHECK_ERRNO(coil_loop_stop(NULL), EINVAL);    /* no loop runs here */
    CHECK(coil_loop_is_running(NULL) == 0);
    CHECK_ERRNO(coil_loop_set_debug(loop, 1, -1), EINVAL);
    CHECK_ERRNO(coil_loop_close(NULL), EINVAL);
    CHECK_ERRNO(coil_call_soon(loop, NULL, NULL, &h), EINVAL);
    CHECK(h == NULL);
    CHECK_ERRNO(coil_call_later(loop, 1, NULL, NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_call_at(loop, 1, NULL, NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_handle_cancel(NULL), EINVAL);
    CHECK_ERRNO(coil__loop_run_until(NULL, never, NULL), EINVAL);
    CHECK_ERRNO(coil__loop_run_until(loop, NULL, NULL), EINVAL);
    CHECK(coil__loop_tasks(NULL) == NULL);
    CHECK(coil__loop_owned(NULL) == 0);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(an_enormous_delay_saturates_instead_of_overflowing)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *h;
    CHECK(coil_call_later(loop, LLONG_MAX, must_not_run, NULL, &h) == 0);
    CHECK(coil_call_at(loop, LLONG_MIN, record, (void *)1, NULL) == 0);
    CHECK(coil_call_later(loop, COIL_MSEC(1), stop_loop, loop, NULL) == 0);
    run(loop);
    check_order((int[]){1}, 1);
    CHECK(coil_handle_cancel(h) == 1);
    coil_handle_release(h);
    CHECK(coil_loop_close(loop) == 0);
}

/* ------------------------------------------------------------ run_until */

static int count;

static int count_reached_3(void *arg)
{
    (void)arg;
    return count >= 3;
}

static void count_up(void *arg)
{
    if (++count < 3)
        CHECK(coil_call_soon(arg, count_up, arg, NULL) == 0);
}

TEST(run_until_returns_once_done_holds)
{
    coil_loop *loop = coil_loop_new();
    /* A far timer must not make the run sleep after done() holds. */
    CHECK(coil_call_later(loop, COIL_SEC(10), must_not_run, NULL, NULL) == 0);
    CHECK(coil_call_soon(loop, count_up, loop, NULL) == 0);
    coil_time start = coil_clock();
    CHECK(coil__loop_run_until(loop, count_reached_3, NULL) == 0);
    CHECK(coil_clock() - start < COIL_SEC(5));
    CHECK(count == 3);
    CHECK(coil_loop_is_running(loop) == 0);
    CHECK(coil_loop_current() == NULL);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(run_until_stopped_before_done_is_eintr)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_later(loop, COIL_MSEC(1), stop_loop, loop, NULL) == 0);
    CHECK_ERRNO(coil__loop_run_until(loop, never, NULL), EINTR);
    CHECK(coil_loop_is_running(loop) == 0);
    CHECK(coil_loop_close(loop) == 0);
}

static int always(void *arg)
{
    (void)arg;
    return 1;
}

TEST(run_until_already_done_leaves_a_pending_stop_for_the_next_run)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_call_soon(loop, record_and_reschedule, loop, NULL) == 0);
    CHECK(coil_loop_stop(loop) == 0);
    CHECK(coil__loop_run_until(loop, always, NULL) == 0);
    CHECK(norder == 0);
    run(loop);                    /* the stop still applies: one iteration */
    check_order((int[]){0}, 1);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(tasks_list_starts_empty)
{
    coil_loop *loop = coil_loop_new();
    coil__list *tasks = coil__loop_tasks(loop);
    CHECK(tasks && coil__list_empty(tasks));
    CHECK(coil_loop_close(loop) == 0);
}

/* A layer above registers as task.c, io.c and signal.c do: from a
 * constructor, for a slot of its own in every loop and a hook at close. */
static int test_slot = -1;
static coil_loop *closed_loop;
static void *closed_state;

static void test_slot_close(coil_loop *loop, void **slot)
{
    closed_loop = loop;
    closed_state = *slot;
}

COIL__REGISTER static void register_test_slot(void)
{
    test_slot = coil__loop_register(test_slot_close);
}

TEST(a_registered_layer_gets_a_slot_and_sees_the_loop_close)
{
    CHECK(test_slot >= 0);
    static int state;
    coil_loop *loop = coil_loop_new();
    CHECK(*coil__loop_slot(loop, test_slot) == NULL);
    *coil__loop_slot(loop, test_slot) = &state;
    CHECK(coil_call_soon(loop, must_not_run, NULL, NULL) == 0);  /* dropped */
    CHECK(coil_loop_close(loop) == 0);
    CHECK(closed_loop == loop && closed_state == &state);
}

/* --------------------------------------------------------------- poller */

typedef struct pipe_watch {
    coil__poll_watch w;
    unsigned events;
    int calls;
} pipe_watch;

static void note_ready(coil__poll_watch *w, unsigned events)
{
    pipe_watch *pw = (pipe_watch *)w;
    pw->events |= events;
    pw->calls++;
}

TEST(poller_calls_the_watcher_of_a_ready_fd_once_per_edge)
{
    coil__poll *p = coil__poll_new();
    int fds[2];
    CHECK(pipe(fds) == 0);
    pipe_watch pw = {.w.ready = note_ready};
    CHECK(coil__poll_add(p, fds[0], &pw.w) == 0);
    CHECK(coil__poll_wait(p, 0) == 0);
    CHECK(write(fds[1], "x", 1) == 1);
    CHECK(coil__poll_wait(p, COIL_SEC(5)) == 1);
    CHECK(pw.calls == 1 && (pw.events & COIL__POLL_IN));
    CHECK(coil__poll_wait(p, 0) == 0);        /* edge-triggered */
    CHECK(coil__poll_del(p, fds[0]) == 0);
    CHECK(write(fds[1], "y", 1) == 1);
    CHECK(coil__poll_wait(p, 0) == 0);
    CHECK(pw.calls == 1);
    close(fds[1]);
    close(fds[0]);
    coil__poll_free(p);
}

TEST(poller_wait_times_out_and_returns_early_when_woken)
{
    coil__poll *p = coil__poll_new();
    coil_time start = coil_clock();
    CHECK(coil__poll_wait(p, COIL_USEC(300)) == 0);
    CHECK(coil_clock() - start >= COIL_USEC(300));
    coil__poll_wake(p);
    coil__poll_wake(p);                       /* coalesced */
    alarm(20);
    CHECK(coil__poll_wait(p, -1) == 0);       /* would block forever */
    alarm(0);
    CHECK(coil__poll_wait(p, 0) == 0);        /* drained */
    coil__poll_free(p);
}

/* A due stack trim runs its next batch (a madvise a stack, hundreds of
 * µs) only before a wait with room for it, so that it never makes a
 * timer late (the 1 ms sleep's p99 was 3-5x the bare nanosleep's while a
 * trim ran batch after batch in front of it); a busy loop, or one whose
 * timers never leave room, gets one batch every COIL__TRIM_PUT_OFF_MAX. */
TEST(a_stack_trim_waits_for_a_poll_with_room_for_it)
{
    coil_time now = COIL_SEC(100), batch = COIL_USEC(250);
    coil__trim_pace fresh = {0, now};             /* no batch yet */
    coil__trim_pace p = {batch, now};
    CHECK(coil__trim_fits(&p, -1, now));           /* no timer */
    CHECK(coil__trim_fits(&fresh, COIL_MSEC(1), now));
    CHECK(!coil__trim_fits(&fresh, 0, now));       /* busy: not now */
    CHECK(coil__trim_fits(&p, COIL_MSEC(1), now)); /* 4 x 250 us: room */
    p.cost = batch + 1;
    CHECK(!coil__trim_fits(&p, COIL_MSEC(1), now));
    CHECK(!coil__trim_fits(&p, 0, now));
    /* ...but a loop that never has room still trims, now and then. */
    p.put_off = now - COIL__TRIM_PUT_OFF_MAX + 1;
    CHECK(!coil__trim_fits(&p, 0, now));
    CHECK(!coil__trim_fits(&p, COIL_USEC(10), now));
    p.put_off = now - COIL__TRIM_PUT_OFF_MAX;
    CHECK(coil__trim_fits(&p, COIL_USEC(10), now));
    CHECK(coil__trim_fits(&p, 0, now));
}

RUN_TESTS(T(callbacks_run_in_fifo_order),
          T(an_iteration_runs_only_what_was_ready_when_it_began),
          T(a_self_rescheduling_callback_does_not_starve_a_due_timer),
          T(timers_run_in_deadline_order),
          T(timers_with_equal_deadlines_run_in_scheduling_order),
          T(hundred_thousand_random_timers_fire_in_deadline_order),
          T(loop_time_is_constant_within_an_iteration),
          T(cancel_before_run_returns_1_and_the_callback_never_runs),
          T(a_callback_can_cancel_a_later_one_of_the_same_iteration),
          T(cancel_after_run_returns_0_and_a_callback_may_release_its_handle),
          T(releasing_a_handle_does_not_cancel_it),
          T(cancelled_timers_neither_run_nor_keep_the_loop_busy),
          T(stop_from_a_callback_ends_the_run_after_its_iteration),
          T(stop_before_run_makes_the_run_do_one_iteration),
          T(stop_from_another_thread_wakes_a_sleeping_loop),
          T(signals_interrupting_the_wait_do_not_end_the_run),
          T(a_200_microsecond_timer_fires_after_200_microseconds_not_a_millisecond),
          T(timeouts_use_epoll_pwait2_where_it_works_unless_told_otherwise),
          T(a_loop_sets_its_threads_timer_slack_to_1_ns_unless_told_otherwise),
          T(an_idle_loop_sleeps_instead_of_spinning),
          T(close_drops_pending_callbacks_and_their_handles_stay_safe),
          T(close_runs_the_callbacks_of_futures_already_done),
          T(running_or_closing_a_running_loop_is_ebusy),
          T(new_fails_cleanly_when_an_fd_cannot_be_made),
          T(each_thread_has_its_own_default_loop),
          T(closing_the_default_loop_makes_the_next_call_make_a_fresh_one),
          T(current_loop_is_set_while_running_and_restored_after),
          T(a_null_loop_means_the_running_loop_else_the_default),
          T(another_thread_gets_eperm_but_may_stop_the_loop),
          T(a_null_loop_means_the_running_one_for_stop_is_running_and_debug),
          T(bad_arguments_are_einval),
          T(an_enormous_delay_saturates_instead_of_overflowing),
          T(run_until_returns_once_done_holds),
          T(run_until_stopped_before_done_is_eintr),
          T(run_until_already_done_leaves_a_pending_stop_for_the_next_run),
          T(tasks_list_starts_empty),
          T(a_registered_layer_gets_a_slot_and_sees_the_loop_close),
          T(poller_calls_the_watcher_of_a_ready_fd_once_per_edge),
          T(poller_wait_times_out_and_returns_early_when_woken),
          T(a_stack_trim_waits_for_a_poll_with_room_for_it))
