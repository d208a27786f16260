/*
 * tests/hook_join_test.c — the hook layer's pthread_join and its timed
 * kin (src/hook/join.c): a task that joins a thread parks until the
 * thread ends, and the loop runs on meanwhile.
 *
 * Each thread waits for a byte that the test writes only once the
 * joining task has had time to park: a join that blocked the loop's
 * thread would keep the byte from ever coming, and the watchdog fails the
 * test instead of letting it hang.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

#define UNIT COIL_MSEC(30)

/* A thread that ends, returning its argument, once it reads a byte. */
typedef struct {
    pthread_t thread;
    int go[2];
    _Atomic int done;         /* its last step, stored with release */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char c;
    CHECK(read(w->go[0], &c, 1) == 1);    /* a plain thread: libc's read */
    atomic_store_explicit(&w->done, 1, memory_order_release);
    return w;
}

static void start_worker(worker *w)
{
    atomic_init(&w->done, 0);
    CHECK(pipe(w->go) == 0);
    CHECK(pthread_create(&w->thread, NULL, work, w) == 0);
}

static void let_go(worker *w)
{
    CHECK(write(w->go[1], "g", 1) == 1);
}

static void close_worker(worker *w)
{
    CHECK(close(w->go[0]) == 0 && close(w->go[1]) == 0);
}

enum { JOIN, TIMED, CLOCK };

typedef struct {
    worker *w;
    int how, timeout_ms;
    int r;                    /* -2 until the join returns */
    void *value;
    coil_time took;
} joiner;

static void *join_task(void *arg)
{
    joiner *j = arg;
    coil_time start = coil_clock();
    struct timespec rt = abs_in(CLOCK_REALTIME, j->timeout_ms);
    struct timespec mono = abs_in(CLOCK_MONOTONIC, j->timeout_ms);
    int r;
    switch (j->how) {
    case JOIN: r = pthread_join(j->w->thread, &j->value); break;
    case TIMED: r = pthread_timedjoin_np(j->w->thread, &j->value, &rt); break;
    default:
        r = pthread_clockjoin_np(j->w->thread, &j->value, CLOCK_MONOTONIC,
                                 &mono);
    }
    j->took = coil_clock() - start;
    j->r = r;
    /* Joined: the thread has ended, its read long over.  (The acquire
     * also tells ThreadSanitizer, which does not intercept
     * pthread_clockjoin_np and so cannot see that join.) */
    if (r == 0) {
        CHECK(atomic_load_explicit(&j->w->done, memory_order_acquire) == 1);
        close_worker(j->w);
    }
    return NULL;
}

static coil_task *start_joiner(joiner *j, worker *w, int how, int timeout_ms)
{
    *j = (joiner){w, how, timeout_ms, -2, NULL, 0};
    coil_task *t = coil_spawn(join_task, j);
    CHECK(t != NULL);
    return t;
}

static void *join_main(void *arg)
{
    (void)arg;
    for (int how = JOIN; how <= CLOCK; how++) {
        worker w;
        start_worker(&w);
        joiner j;
        coil_task *t = start_joiner(&j, &w, how, 10000);
        coil_sleep(UNIT);                 /* the loop runs on... */
        CHECK(!task_ended(t) && j.r == -2);   /* ...while it joins */
        let_go(&w);
        await_task(t);
        CHECK(j.r == 0 && j.value == &w);
    }
    return NULL;
}

TEST(a_task_that_joins_a_thread_parks_until_the_thread_ends)
{
    watchdog();
    run_main(join_main, NULL);
}

/* A timed join of a thread that runs on: ETIMEDOUT at its time, the loop
 * ticking meanwhile (a thread blocked in the kernel for the whole time
 * would have let this task tick once at most). */
static void *timeout_main(void *arg)
{
    (void)arg;
    for (int how = TIMED; how <= CLOCK; how++) {
        worker w;
        start_worker(&w);
        joiner j;
        coil_task *t = start_joiner(&j, &w, how, 200);
        int ticks = ticks_until_ended(t, UNIT);
        await_task(t);
        CHECK(j.r == ETIMEDOUT);
        CHECK(j.took >= COIL_MSEC(200));
        CHECK(within((double)j.took, COIL_MSEC(200), COIL_MSEC(200 + 300)));
        CHECK(ticks >= 4);
        let_go(&w);                       /* still joinable */
        CHECK(pthread_join(w.thread, NULL) == 0);
        close_worker(&w);
    }
    return NULL;
}

TEST(a_timed_join_ends_at_its_time_and_leaves_the_thread_joinable)
{
    watchdog();
    run_main(timeout_main, NULL);
}

/* Cancelled while it joins: the task unwinds, the thread stays joinable;
 * what libc refuses is refused at once. */
static void *cancel_main(void *arg)
{
    (void)arg;
    worker w;
    start_worker(&w);
    joiner j;
    /* ThreadSanitizer's join interceptors wrap the hook: a task unwound
     * from inside one would leave their state behind.  pthread_clockjoin_np
     * it does not intercept. */
    coil_task *t = start_joiner(&j, &w, UNDER_TSAN ? CLOCK : JOIN, 10000);
    coil_sleep(UNIT);
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(j.r == -2);
    struct timespec bad = {0, 1000000000};
    CHECK(pthread_timedjoin_np(w.thread, NULL, &bad) == EINVAL);
    CHECK(pthread_clockjoin_np(w.thread, NULL, CLOCK_PROCESS_CPUTIME_ID,
                               &bad) == EINVAL);
    CHECK(pthread_join(pthread_self(), NULL) == EDEADLK);
    let_go(&w);
    void *v = NULL;
    CHECK(pthread_join(w.thread, &v) == 0 && v == &w);
    close_worker(&w);
    return NULL;
}

TEST(a_cancelled_join_unwinds_and_bad_requests_fail_at_once)
{
    watchdog();
    run_main(cancel_main, NULL);
}

RUN_TESTS(T(a_task_that_joins_a_thread_parks_until_the_thread_ends),
          T(a_timed_join_ends_at_its_time_and_leaves_the_thread_joinable),
          T(a_cancelled_join_unwinds_and_bad_requests_fail_at_once))
