/*
 * tests/gen_test.c — layer 4: generators.  A generator runs in a task of
 * its own and may wait on anything between values; the tests drive it
 * from the main task of coil_run and end it from either side.
 */
#include <stdint.h>
#include <sys/socket.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

#define I(v) ((void *)(intptr_t)(v))
#define UNIT COIL_MSEC(10)

static int started, cleaned;

static void note_cleanup(void *arg)
{
    (void)arg;
    cleaned++;
}

/* Yields 1..n (n = arg; sleeps a unit first if negative), then ends. */
static void *count(coil_gen *g, void *arg)
{
    intptr_t n = (intptr_t)arg;
    started = 1;
    coil_cleanup_push(note_cleanup, NULL);
    if (n < 0) {
        n = -n;
        coil_sleep(UNIT);
    }
    for (intptr_t i = 1; i <= n; i++)
        CHECK(coil_gen_yield(g, I(i)) == 0);
    coil_cleanup_pop(0);
    return NULL;
}

static void *in_order_main(void *arg)
{
    (void)arg;
    started = 0;
    coil_gen *g = coil_gen_new(NULL, count, I(5));
    CHECK(g);
    for (int i = 0; i < 3; i++)
        CHECK(coil_yield() == 0);
    CHECK(!started);                      /* runs at the first request */
    void *v;
    for (intptr_t i = 1; i <= 5; i++)
        CHECK(coil_gen_next(g, &v, -1) == 1 && v == I(i));
    CHECK(coil_gen_next(g, &v, -1) == 0);
    CHECK(coil_gen_next(g, NULL, -1) == 0);   /* the end stays */
    CHECK(coil_gen_close(g) == 0);
    return NULL;
}

TEST(values_come_in_order_then_the_end_stays)
{
    run_main(in_order_main, NULL);
}

/* The generator reads lines from a socket that a slow writer feeds, and
 * sleeps between them: IO and timers inside a generator. */
static int sv[2];

static void *slow_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        char c = (char)('a' + i);
        CHECK(coil_write(sv[1], &c, 1) == 1);
        coil_sleep(UNIT / 2);
    }
    coil_close(sv[1]);
    return NULL;
}

static void *read_bytes(coil_gen *g, void *arg)
{
    (void)arg;
    char c;
    ssize_t n;
    while ((n = coil_read(sv[0], &c, 1)) == 1) {
        coil_sleep(UNIT / 4);
        if (coil_gen_yield(g, I(c)) != 0)
            break;
    }
    return n == 0 ? NULL : coil_task_error(errno);
}

static void *io_main(void *arg)
{
    (void)arg;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    coil_task *w = coil_spawn(slow_writer, NULL);
    coil_gen *g = coil_gen_new(NULL, read_bytes, NULL);
    char got[8] = {0};
    int n = 0;
    void *v;
    while (n < 7 && coil_gen_next(g, &v, -1) == 1)
        got[n++] = (char)(intptr_t)v;
    CHECK(n == 5 && strcmp(got, "abcde") == 0);
    CHECK(coil_gen_close(g) == 0);
    await_task(w);
    coil_close(sv[0]);
    return NULL;
}

TEST(a_generator_may_wait_on_io_and_timers_between_values)
{
    run_main(io_main, NULL);
}

static void *early_break_main(void *arg)
{
    (void)arg;
    cleaned = 0;
    coil_gen *g = coil_gen_new(NULL, count, I(100));
    void *v;
    CHECK(coil_gen_next(g, &v, -1) == 1 && v == I(1));
    CHECK(coil_gen_next(g, &v, -1) == 1 && v == I(2));
    coil_task *t = coil_gen_task(g);
    CHECK(coil_future_done(coil_task_future(t)) == 0);
    CHECK(coil_gen_close(g) == 0);        /* unwinds it from its yield */
    CHECK(cleaned == 1);
    CHECK(coil_loop_tasks(NULL, NULL, 0) == 1);   /* only this one */
    /* Closing one that never ran: its function never starts. */
    started = 0;
    g = coil_gen_new(NULL, count, I(1));
    CHECK(coil_gen_close(g) == 0);
    CHECK(!started);
    return NULL;
}

TEST(closing_early_unwinds_the_generator_and_runs_its_cleanup)
{
    run_main(early_break_main, NULL);
}

static void *fails(coil_gen *g, void *arg)
{
    (void)arg;
    CHECK(coil_gen_yield(g, I(1)) == 0);
    coil_sleep(UNIT / 4);
    return coil_task_error(EIO);
}

static void *error_main(void *arg)
{
    (void)arg;
    coil_gen *g = coil_gen_new(NULL, fails, NULL);
    void *v;
    CHECK(coil_gen_next(g, &v, -1) == 1 && v == I(1));
    CHECK_ERRNO(coil_gen_next(g, &v, -1), EIO);
    CHECK_ERRNO(coil_gen_next(g, &v, -1), EIO);
    CHECK(coil_gen_close(g) == 0);
    return NULL;
}

TEST(a_generator_error_reaches_the_driver_and_stays)
{
    run_main(error_main, NULL);
}

/* The driver is cancelled (or times out) while the generator works on
 * a value: the value is kept for the next request. */
static coil_gen *shared;

static void *drive_once(void *arg)
{
    (void)arg;
    void *v = NULL;
    if (coil_gen_next(shared, &v, -1) != 1)
        return coil_task_error(errno);
    return v;
}

static void *driver_cancel_main(void *arg)
{
    unsigned flags = arg ? COIL_TASK_CANCEL_AS_ERROR : 0;
    shared = coil_gen_new(NULL, count, I(-3));   /* a unit before 1 */
    coil_task_attr attr = {.flags = flags};
    coil_task *d = coil_task_spawn(&attr, drive_once, NULL, "driver");
    CHECK(coil_yield() == 0 && coil_yield() == 0);
    CHECK(coil_task_cancel(d) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(d), NULL), ECANCELED);
    coil_task_release(d);
    coil_sleep(2 * UNIT);                  /* 1 is made meanwhile */
    void *v;
    coil_time t0 = coil_loop_time(coil_loop_current());
    CHECK(coil_gen_next(shared, &v, t0) == 1 && v == I(1));  /* no wait */
    CHECK(coil_gen_next(shared, &v, -1) == 1 && v == I(2));
    CHECK(coil_gen_close(shared) == 0);
    return NULL;
}

TEST(a_cancelled_driver_loses_no_value)
{
    run_main(driver_cancel_main, NULL);
    run_main(driver_cancel_main, I(1));
}

static void *deadline_main(void *arg)
{
    (void)arg;
    coil_gen *g = coil_gen_new(NULL, count, I(-2));
    void *v;
    coil_time now = coil_loop_time(coil_loop_current());
    CHECK_ERRNO(coil_gen_next(g, &v, now), ETIMEDOUT);   /* at once */
    CHECK_ERRNO(coil_gen_next(g, &v, now + UNIT / 4), ETIMEDOUT);
    CHECK(coil_gen_next(g, &v, -1) == 1 && v == I(1));
    CHECK(coil_gen_next(g, &v, -1) == 1 && v == I(2));
    CHECK(coil_gen_next(g, &v, -1) == 0);
    CHECK(coil_gen_close(g) == 0);
    return NULL;
}

TEST(next_with_a_deadline_times_out_and_the_value_comes_later)
{
    run_main(deadline_main, NULL);
}

static void *cancel_gen_later(void *arg)
{
    coil_sleep(UNIT / 2);
    CHECK(coil_task_cancel(arg) == 1);
    return NULL;
}

static void *gen_cancelled_main(void *arg)
{
    (void)arg;
    cleaned = 0;
    coil_gen *g = coil_gen_new(NULL, count, I(-1));
    coil_task *c = coil_spawn(cancel_gen_later, coil_gen_task(g));
    CHECK_ERRNO(coil_gen_next(g, NULL, -1), ECANCELED);
    CHECK(cleaned == 1);
    CHECK_ERRNO(coil_gen_next(g, NULL, -1), ECANCELED);
    await_task(c);
    CHECK(coil_gen_close(g) == 0);
    return NULL;
}

TEST(a_cancelled_generator_ends_the_driver_with_ecanceled)
{
    run_main(gen_cancelled_main, NULL);
}

/* A generator in error mode sees close as ECANCELED from its yield. */
static void *polite(coil_gen *g, void *arg)
{
    (void)arg;
    for (intptr_t i = 1;; i++)
        if (coil_gen_yield(g, I(i)) != 0) {
            CHECK(errno == ECANCELED);
            cleaned++;
            return NULL;
        }
}

static void *error_mode_close_main(void *arg)
{
    (void)arg;
    cleaned = 0;
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_gen *g = coil_gen_new(&attr, polite, NULL);
    CHECK(coil_gen_next(g, NULL, -1) == 1);
    CHECK(coil_gen_close(g) == 0);
    CHECK(cleaned == 1);
    return NULL;
}

TEST(an_error_mode_generator_sees_close_as_ecanceled)
{
    run_main(error_mode_close_main, NULL);
}

static void *yield_elsewhere(void *arg)
{
    CHECK_ERRNO(coil_gen_yield(arg, I(1)), EPERM);
    CHECK_ERRNO(coil_gen_next(arg, NULL, -1), EBUSY);   /* main drives */
    CHECK_ERRNO(coil_gen_close(arg), EBUSY);
    return NULL;
}

static void *misuse_main(void *arg)
{
    (void)arg;
    CHECK_ERRNO(coil_gen_new(NULL, NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_gen_next(NULL, NULL, -1), EINVAL);
    CHECK_ERRNO(coil_gen_yield(NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_gen_close(NULL), EINVAL);
    CHECK(coil_gen_task(NULL) == NULL);
    coil_gen *g = coil_gen_new(NULL, count, I(-1));
    coil_task *t = coil_spawn(yield_elsewhere, g);
    CHECK(coil_gen_next(g, NULL, -1) == 1);
    await_task(t);
    CHECK(coil_gen_close(g) == 0);
    return NULL;
}

TEST(misuse_is_einval_eperm_or_ebusy)
{
    run_main(misuse_main, NULL);
}

RUN_TESTS(T(values_come_in_order_then_the_end_stays),
          T(a_generator_may_wait_on_io_and_timers_between_values),
          T(closing_early_unwinds_the_generator_and_runs_its_cleanup),
          T(a_generator_error_reaches_the_driver_and_stays),
          T(a_cancelled_driver_loses_no_value),
          T(next_with_a_deadline_times_out_and_the_value_comes_later),
          T(a_cancelled_generator_ends_the_driver_with_ecanceled),
          T(an_error_mode_generator_sees_close_as_ecanceled),
          T(misuse_is_einval_eperm_or_ebusy))
