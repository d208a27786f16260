/*
 * tests/deadline_test.c — huge timeouts and deadlines: every call that takes
 * a relative timeout, given LLONG_MAX, waits (in effect for ever) instead of
 * wrapping to a deadline in the past and returning at once; NULL loops in
 * time calls mean the current loop.
 *
 * Each case starts the wait, lets a reference interval (UNIT) pass, checks
 * the wait is still in progress, then ends it some other way (a result, a
 * cancellation) and checks how it ended.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

#define UNIT COIL_MSEC(20)
#define HUGE LLONG_MAX

static void *sleep_huge(void *arg)
{
    (void)arg;
    coil_sleep(HUGE);
    return (void *)1;                 /* only if the sleep returned early */
}

static void *sleep_until_huge(void *arg)
{
    (void)arg;
    coil_sleep_until(HUGE);
    return (void *)1;
}

static void *sleep_unit(void *arg)
{
    coil_sleep(UNIT);
    return arg;
}

/* fn must still be waiting after UNIT; cancelled, it ends cancelled. */
static void check_waits(coil_task_fn fn)
{
    coil_task *t = coil_spawn(fn, NULL);
    CHECK(t);
    CHECK(coil_sleep(UNIT) == 0);
    CHECK(!coil_future_done(coil_task_future(t)));
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
}

static void *sleeps_main(void *arg)
{
    (void)arg;
    check_waits(sleep_huge);
    check_waits(sleep_until_huge);
    return NULL;
}

TEST(sleep_of_llong_max_waits_until_cancelled)
{
    run_main(sleeps_main, NULL);
}

static int fired;

static void fire(void *arg)
{
    (void)arg;
    fired++;
}

static void *call_later_main(void *arg)
{
    (void)arg;
    coil_handle *h;
    fired = 0;
    CHECK(coil_call_later(NULL, HUGE, fire, NULL, &h) == 0);
    CHECK(coil_sleep(UNIT) == 0);
    CHECK(fired == 0);
    CHECK(coil_handle_cancel(h) == 1);      /* it had not run */
    coil_handle_release(h);
    return NULL;
}

TEST(call_later_of_llong_max_does_not_fire)
{
    run_main(call_later_main, NULL);
}

/* The combinators: the task they wait for finishes after UNIT, and they
 * must report it finished, not time out at once. */
static void *combinators_main(void *arg)
{
    (void)arg;
    coil_task *t = coil_spawn(sleep_unit, (void *)7);
    coil_future *f = coil_task_future(t);
    size_t nd = 0, np = 9;
    CHECK(coil_wait(&f, 1, COIL_ALL_COMPLETED, HUGE, NULL, &nd, NULL, &np) == 0);
    CHECK(nd == 1 && np == 0);
    coil_task_release(t);

    t = coil_spawn(sleep_unit, (void *)8);
    void *v = NULL;
    CHECK(coil_wait_for(coil_task_future(t), HUGE, &v) == 0 && v == (void *)8);
    coil_task_release(t);

    t = coil_spawn(sleep_unit, (void *)9);
    f = coil_task_future(t);
    coil_as_completed *ac = coil_as_completed_new(&f, 1, HUGE);
    CHECK(ac);
    coil_future *next = NULL;
    CHECK(coil_as_completed_next(ac, &next) == 0 && next == f);
    coil_as_completed_free(ac);
    coil_task_release(t);

    coil_timeout scope;
    CHECK(coil_timeout_begin(&scope, HUGE) == 0);
    CHECK(coil_sleep(UNIT) == 0);
    CHECK(coil_timeout_end(&scope) == 0);
    return NULL;
}

TEST(combinators_and_scopes_with_llong_max_wait_for_the_outcome)
{
    run_main(combinators_main, NULL);
}

/* Thread futures: from a task of another loop and from a plain thread. */
static coil_loop *worker_loop;

static void *worker_thread(void *arg)
{
    (void)arg;
    coil_loop *loop = coil_loop_new();
    CHECK(loop);
    __atomic_store_n(&worker_loop, loop, __ATOMIC_RELEASE);
    coil_loop_run_forever(loop);
    coil_loop_close(loop);
    return NULL;
}

static void *tfuture_main(void *arg)
{
    (void)arg;
    coil_tfuture *tf = coil_task_spawn_threadsafe(worker_loop, sleep_unit,
                                                  (void *)5, "w");
    CHECK(tf);
    void *v = NULL;
    CHECK(coil_tfuture_wait(tf, HUGE, &v) == 0 && v == (void *)5);
    coil_tfuture_release(tf);
    return NULL;
}

TEST(tfuture_wait_of_llong_max_waits_for_the_result)
{
    pthread_t th;
    worker_loop = NULL;
    CHECK(pthread_create(&th, NULL, worker_thread, NULL) == 0);
    while (!__atomic_load_n(&worker_loop, __ATOMIC_ACQUIRE))
        sched_yield();
    run_main(tfuture_main, NULL);     /* from a task */
    coil_tfuture *tf = coil_task_spawn_threadsafe(worker_loop, sleep_unit,
                                                  (void *)6, "w");
    void *v = NULL;                   /* from a plain thread */
    CHECK(coil_tfuture_wait(tf, HUGE, &v) == 0 && v == (void *)6);
    coil_tfuture_release(tf);
    CHECK(coil_loop_stop(worker_loop) == 0);
    CHECK(pthread_join(th, NULL) == 0);
}

/* Deadlines computed the way users write them. */
static void *loop_time_main(void *arg)
{
    (void)arg;
    coil_time now = coil_loop_time(coil_loop_current());
    CHECK(coil_loop_time(NULL) == now);   /* same iteration, same time */
    coil_event *e = coil_event_new();
    CHECK(e);
    coil_time d = coil_loop_time(NULL) + UNIT;
    CHECK_ERRNO(coil_event_wait_until(e, d), ETIMEDOUT);
    CHECK(coil_clock() >= d);             /* it waited, not failed at once */
    d = coil_deadline_in(UNIT);
    CHECK(d >= coil_loop_time(NULL) + UNIT);
    CHECK_ERRNO(coil_event_wait_until(e, d), ETIMEDOUT);
    CHECK(coil_clock() >= d);
    CHECK(coil_deadline_in(-1) == -1);
    CHECK(coil_deadline_in(HUGE) == HUGE);
    coil_event_free(e);
    return NULL;
}

TEST(loop_time_of_null_is_the_current_loops_and_deadline_in_adds_to_it)
{
    run_main(loop_time_main, NULL);
    coil_time a = coil_clock(), b = coil_loop_time(NULL), c = coil_clock();
    CHECK(a <= b && b <= c);              /* no loop: the clock now */
}

RUN_TESTS(T(sleep_of_llong_max_waits_until_cancelled),
          T(call_later_of_llong_max_does_not_fire),
          T(combinators_and_scopes_with_llong_max_wait_for_the_outcome),
          T(tfuture_wait_of_llong_max_waits_for_the_result),
          T(loop_time_of_null_is_the_current_loops_and_deadline_in_adds_to_it))
