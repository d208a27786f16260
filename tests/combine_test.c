/*
 * tests/combine_test.c — layer 4 combinators: gather, wait, as_completed,
 * wait_for, shield, coil_run.
 *
 * Time-based tests use a unit of 20 ms and generous bounds: they measure
 * what waits for what (returns at the first failure, not the last; after
 * the cleanup, not before), print what they measured, and bound it loosely.
 *
 * Several tests check that a combinator left nothing behind (a callback,
 * a timer) once the task using it was unwound or the object was freed:
 * they reuse the memory the combinator had (the task's stack, its heap
 * blocks), so that anything left behind writes into a pattern or completes
 * the wrong future.  Under AddressSanitizer (the asan preset) a use of
 * freed memory is reported as well, and a leak check finds a timer left
 * behind (Debug builds quarantine released futures rather than free them,
 * so reuse alone cannot show it there).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "check.h"
#include "coil.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

#define UNIT COIL_MSEC(20)
#define F(t) coil_task_future(t)

/* Print a measurement now: a failing check aborts, losing buffered output. */
#define NOTE(...) (printf(__VA_ARGS__), fflush(stdout))

static double units_since(coil_time start)
{
    return (double)(coil_clock() - start) / (double)UNIT;
}

/* ---------------------------------------------------------------- jobs */

/* A task body's script: sleep `units`, then return `result` or fail with
 * `err`.  If cancelled in the sleep: default mode unwinds through a
 * cleanup handler that itself sleeps `cleanup_units` before noting
 * `cleaned`; error mode (COIL_TASK_CANCEL_AS_ERROR) notes `ignored` and
 * carries on for `stubborn_units` more, then returns as planned. */
typedef struct job {
    int units;
    intptr_t result;
    int err;
    int cleanup_units;
    int stubborn_units;
    int started, cleaned, ignored, finished;
} job;

static void job_cleanup(void *arg)
{
    job *j = arg;
    if (j->cleanup_units)
        CHECK(coil_sleep(j->cleanup_units * UNIT) == 0);
    j->cleaned = 1;
}

static void *run_job(void *arg)
{
    job *j = arg;
    j->started = 1;
    coil_cleanup_push(job_cleanup, j);
    if (coil_sleep(j->units * UNIT) != 0) {
        CHECK(errno == ECANCELED);
        j->ignored = 1;
        CHECK(coil_sleep(j->stubborn_units * UNIT) == 0);
    }
    coil_cleanup_pop(0);
    j->finished = 1;
    if (j->err)
        return coil_task_error(j->err);
    return (void *)j->result;
}

static coil_task *spawn_job(job *j, unsigned flags)
{
    coil_task_attr attr = {.flags = flags};
    coil_task *t = coil_task_spawn(&attr, run_job, j, "run_job");
    CHECK(t);
    return t;
}

/* Run fn as a task on the default loop and wait for it; it must succeed. */
static void in_task(coil_task_fn fn, void *arg)
{
    coil_task *t = coil_task_spawn(NULL, fn, arg, "test_main");
    CHECK(t);
    CHECK(coil_await(F(t), NULL) == 0);
    coil_task_release(t);
}

static void set_result_cb(void *arg)
{
    CHECK(coil_future_set_result(arg, (void *)99) == 0);
}

static void cancel_future_cb(void *arg)
{
    CHECK(coil_future_cancel(arg) == 1);
}

static void cancel_task_cb(void *arg)
{
    coil_task_cancel(arg);
}

/* Run the current (default) loop for `units`, from outside any task. */
static void run_loop_for(int units)
{
    coil_future *f = coil_future_new(NULL);
    CHECK(coil_call_later(NULL, units * UNIT, set_result_cb, f, NULL) == 0);
    CHECK(coil_await(f, NULL) == 0);
    coil_future_release(f);
}

/* A task that fills most of its stack with a pattern and waits: spawned
 * right after a task ended, it gets that task's stack back from the pool
 * (the pool is LIFO), so a callback or timer still pointing into the old
 * frames reads garbage — and writes into the pattern, which the scribbler
 * checks when it is cancelled (error mode: the sleep returns ECANCELED). */
#define SCRIBBLE_SIZE (24 * 1024)

static void *scribble(void *arg)
{
    (void)arg;
    volatile unsigned char junk[SCRIBBLE_SIZE];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0xA5;
    CHECK_ERRNO(coil_sleep(COIL_SEC(100)), ECANCELED);
    for (size_t i = 0; i < sizeof junk; i++)
        if (junk[i] != 0xA5) {
            fprintf(stderr, "  something wrote into the stack of the ended "
                    "task (%zu bytes below the top of the pattern)\n",
                    sizeof junk - i);
            return (void *)0;
        }
    return (void *)1;
}

static coil_task *spawn_scribbler(void)
{
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *s = coil_task_spawn(&attr, scribble, NULL, "scribble");
    CHECK(s);
    return s;
}

/* Stop the scribbler: its stack must be as it left it. */
static void check_scribbler(coil_task *s)
{
    coil_task_cancel(s);
    void *intact = NULL;
    CHECK(coil_await(F(s), &intact) == 0);
    CHECK(intact == (void *)1);
    coil_task_release(s);
}

static int ran;

static void *must_not_run(void *arg)
{
    (void)arg;
    ran = 1;
    return NULL;
}

/* ---------------------------------------------------------------- gather */

static void *gather_in_order_main(void *arg)
{
    (void)arg;
    job j[3] = {{.units = 4, .result = 10}, {.units = 1, .result = 11},
                {.units = 2, .result = 12}};
    coil_task *t[3];
    coil_future *fs[3];
    for (int i = 0; i < 3; i++) {
        t[i] = spawn_job(&j[i], 0);
        fs[i] = F(t[i]);
    }
    void *res[3] = {0};
    int err[3] = {-1, -1, -1};
    coil_time t0 = coil_clock();
    CHECK(coil_gather(fs, 3, res, err, COIL_GATHER_FIRST_ERROR) == 0);
    double took = units_since(t0);
    NOTE("  gather of 4, 1, 2 units took %.2f units\n", took);
    CHECK(within(took, 3.95, 10.0));
    for (int i = 0; i < 3; i++) {
        CHECK(res[i] == (void *)(intptr_t)(10 + i));
        CHECK(err[i] == 0);
        coil_task_release(t[i]);
    }
    return NULL;
}

TEST(gather_results_come_in_input_order_whatever_the_completion_order)
{
    in_task(gather_in_order_main, NULL);
}

static void *gather_first_error_main(void *arg)
{
    (void)arg;
    /* In input order C (fails at 6) comes before B (fails at 2): the
     * failure reported is the first to happen, B's. */
    job a = {.units = 1, .result = 1};
    job c = {.units = 6, .err = ETIMEDOUT};
    job b = {.units = 2, .err = EIO};
    job d = {.units = 50, .cleanup_units = 1};
    coil_task *t[4] = {spawn_job(&a, 0), spawn_job(&c, 0), spawn_job(&b, 0),
                       spawn_job(&d, 0)};
    coil_future *p = coil_future_new(NULL);
    coil_future *fs[5] = {F(t[0]), F(t[1]), F(t[2]), F(t[3]), p};
    void *res[5] = {(void *)1, (void *)1, (void *)1, (void *)1, (void *)1};
    int err[5] = {-1, -1, -1, -1, -1};
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_gather(fs, 5, res, err, COIL_GATHER_FIRST_ERROR), EIO);
    double took = units_since(t0);
    NOTE("  gather returned EIO after %.2f units (failure at 2, next "
           "event at 6)\n", took);
    CHECK(within(took, 1.95, 10.0));
    /* Filled in for the ones done: */
    CHECK(res[0] == (void *)1 && err[0] == 0);
    CHECK(res[2] == NULL && err[2] == EIO);
    /* The others are cancelled: a plain future at once, tasks once they
     * have unwound (cleanup included). */
    CHECK(coil_future_state(p) == COIL_CANCELLED);
    CHECK_ERRNO(coil_await(F(t[1]), NULL), ECANCELED);
    CHECK_ERRNO(coil_await(F(t[3]), NULL), ECANCELED);
    CHECK(coil_future_state(F(t[1])) == COIL_CANCELLED);
    CHECK(coil_future_state(F(t[3])) == COIL_CANCELLED);
    CHECK(d.cleaned && !d.finished && !c.finished);
    CHECK(coil_future_state(F(t[0])) == COIL_DONE);
    took = units_since(t0);
    NOTE("  the cancelled ones had ended after %.2f units\n", took);
    CHECK(took < 20.0);
    for (int i = 0; i < 4; i++)
        coil_task_release(t[i]);
    coil_future_release(p);
    return NULL;
}

TEST(gather_first_error_returns_the_first_failure_at_once_and_cancels_the_rest)
{
    in_task(gather_first_error_main, NULL);
}

static void *gather_cancelled_input_main(void *arg)
{
    (void)arg;
    job j = {.units = 50};
    coil_task *t = spawn_job(&j, 0);
    coil_future *p = coil_future_new(NULL);
    /* The clock before the timer is set: read after it, a process paused
     * in between (qemu on a loaded machine: 0.54 units seen) makes the
     * cancel look early. */
    coil_time t0 = coil_clock();
    coil_call_later(NULL, UNIT, cancel_future_cb, p, NULL);
    coil_future *fs[2] = {F(t), p};
    int err[2] = {-1, -1};
    CHECK_ERRNO(coil_gather(fs, 2, NULL, err, COIL_GATHER_FIRST_ERROR),
                ECANCELED);
    double took = units_since(t0);
    NOTE("  gather returned ECANCELED after %.2f units\n", took);
    CHECK(within(took, 0.95, 10.0));
    CHECK(err[1] == ECANCELED);
    CHECK_ERRNO(coil_await(F(t), NULL), ECANCELED);
    coil_task_release(t);
    coil_future_release(p);
    return NULL;
}

TEST(gather_first_error_counts_a_cancelled_input_as_the_failure)
{
    in_task(gather_cancelled_input_main, NULL);
}

static void *gather_collect_main(void *arg)
{
    (void)arg;
    job ok = {.units = 3, .result = 7};
    job eio = {.units = 1, .err = EIO};
    job eto = {.units = 2, .err = ETIMEDOUT};
    job long_one = {.units = 50};
    coil_task *t[4] = {spawn_job(&ok, 0), spawn_job(&eio, 0),
                       spawn_job(&eto, 0), spawn_job(&long_one, 0)};
    coil_future *p = coil_future_new(NULL);
    coil_call_later(NULL, 2 * UNIT, cancel_future_cb, p, NULL);
    coil_call_later(NULL, 2 * UNIT, cancel_task_cb, t[3], NULL);
    coil_future *fs[5] = {F(t[0]), F(t[1]), p, F(t[2]), F(t[3])};
    void *res[5];
    int err[5];
    for (int i = 0; i < 5; i++) {
        res[i] = (void *)0xdead;
        err[i] = -1;
    }
    coil_time t0 = coil_clock();
    CHECK(coil_gather(fs, 5, res, err, COIL_GATHER_COLLECT_ERRORS) == 0);
    double took = units_since(t0);
    NOTE("  collecting gather took %.2f units (last at 3)\n", took);
    CHECK(within(took, 2.95, 10.0));
    CHECK(res[0] == (void *)7 && err[0] == 0);
    CHECK(res[1] == NULL && err[1] == EIO);
    CHECK(res[2] == NULL && err[2] == ECANCELED);
    CHECK(res[3] == NULL && err[3] == ETIMEDOUT);
    CHECK(res[4] == NULL && err[4] == ECANCELED);
    for (int i = 0; i < 5; i++)
        CHECK(coil_future_done(fs[i]) == 1);
    for (int i = 0; i < 4; i++)
        coil_task_release(t[i]);
    coil_future_release(p);
    return NULL;
}

TEST(gather_collect_errors_waits_for_all_and_reports_each_error)
{
    in_task(gather_collect_main, NULL);
}

static void *gather_nothing_main(void *arg)
{
    (void)arg;
    coil_future *none[1] = {NULL};
    coil_time t0 = coil_clock();
    CHECK(coil_gather(NULL, 0, NULL, NULL, COIL_GATHER_FIRST_ERROR) == 0);
    CHECK(coil_gather(none, 0, NULL, NULL, COIL_GATHER_COLLECT_ERRORS) == 0);
    CHECK(units_since(t0) < 1.0);
    return NULL;
}

TEST(gather_of_nothing_returns_zero_at_once)
{
    /* Outside a task (nothing scheduled: running the loop would block
     * forever), then inside one. */
    CHECK(coil_gather(NULL, 0, NULL, NULL, COIL_GATHER_FIRST_ERROR) == 0);
    CHECK(coil_gather(NULL, 0, NULL, NULL, COIL_GATHER_COLLECT_ERRORS) == 0);
    in_task(gather_nothing_main, NULL);
}

TEST(gather_rejects_null_entries_and_a_bad_policy)
{
    coil_future *p = coil_future_new(NULL);
    coil_future *with_null[2] = {p, NULL};
    coil_future *one[1] = {p};
    CHECK_ERRNO(coil_gather(NULL, 2, NULL, NULL, COIL_GATHER_FIRST_ERROR),
                EINVAL);
    CHECK_ERRNO(coil_gather(with_null, 2, NULL, NULL,
                            COIL_GATHER_COLLECT_ERRORS), EINVAL);
    CHECK_ERRNO(coil_gather(one, 1, NULL, NULL, 2), EINVAL);
    CHECK_ERRNO(coil_gather(one, 1, NULL, NULL, -1), EINVAL);
    /* Nothing was started on p: it completes and is awaited as usual. */
    CHECK(coil_future_state(p) == COIL_PENDING);
    coil_call_soon(NULL, set_result_cb, p, NULL);
    void *v;
    CHECK(coil_await(p, &v) == 0 && v == (void *)99);
    coil_future_release(p);
}

static coil_future *uw_fs[2];
static int gather_returned;

static void *unwound_gatherer(void *arg)
{
    (void)arg;
    void *res[2];
    int err[2];
    coil_gather(uw_fs, 2, res, err, COIL_GATHER_FIRST_ERROR); /* cancelled */
    gather_returned = 1;
    return NULL;
}

TEST(gather_unwound_by_cancellation_cancels_its_tasks_and_leaves_no_callback)
{
    /* a unwinds when cancelled (its cleanup takes a unit); b is in error
     * mode and carries on for 3 units: both complete after the gathering
     * task has ended and its stack has been reused. */
    static job a = {.units = 50, .cleanup_units = 1};
    static job b = {.units = 50, .stubborn_units = 3, .result = 5};
    coil_task *ta = spawn_job(&a, 0);
    coil_task *tb = spawn_job(&b, COIL_TASK_CANCEL_AS_ERROR);
    uw_fs[0] = F(ta);
    uw_fs[1] = F(tb);
    coil_task *g = coil_spawn(unwound_gatherer, NULL);
    coil_call_later(NULL, UNIT, cancel_task_cb, g, NULL);
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_await(F(g), NULL), ECANCELED);
    CHECK(!gather_returned);
    CHECK(coil_future_state(F(g)) == COIL_CANCELLED);
    coil_task_release(g);
    /* Both inputs were asked to cancel and are still running. */
    CHECK(coil_future_done(F(ta)) == 0 && coil_future_done(F(tb)) == 0);
    coil_task *s = spawn_scribbler();
    CHECK_ERRNO(coil_await(F(ta), NULL), ECANCELED);
    CHECK(a.cleaned && !a.finished);
    void *v;
    CHECK(coil_await(F(tb), &v) == 0 && v == (void *)5);
    CHECK(b.ignored && b.finished);
    /* And once more with the inputs done: nothing may fire later. */
    run_loop_for(1);
    double took = units_since(t0);
    NOTE("  inputs ended %.2f units after the gather started\n", took);
    CHECK(took < 20.0);
    check_scribbler(s);
    coil_task_release(ta);
    coil_task_release(tb);
}

static void *error_mode_gatherer(void *arg)
{
    coil_future **fs = arg;
    CHECK_ERRNO(coil_gather(fs, 1, NULL, NULL, COIL_GATHER_COLLECT_ERRORS),
                ECANCELED);
    return (void *)3;
}

TEST(gather_in_an_error_mode_task_returns_ecanceled_and_cancels_its_tasks)
{
    job j = {.units = 50};
    coil_task *t = spawn_job(&j, 0);
    coil_future *fs[1] = {F(t)};
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *g = coil_spawn_attr(&attr, error_mode_gatherer, fs);
    coil_call_later(NULL, UNIT, cancel_task_cb, g, NULL);
    void *v;
    CHECK(coil_await(F(g), &v) == 0 && v == (void *)3);
    CHECK_ERRNO(coil_await(F(t), NULL), ECANCELED);
    CHECK(coil_future_state(F(t)) == COIL_CANCELLED);
    coil_task_release(g);
    coil_task_release(t);
}

TEST(gather_from_outside_a_task_runs_the_loop)
{
    job j0 = {.units = 2, .result = 20}, j1 = {.units = 1, .result = 21};
    coil_task *t0 = spawn_job(&j0, 0), *t1 = spawn_job(&j1, 0);
    coil_future *p = coil_future_new(NULL);
    coil_call_later(NULL, UNIT, set_result_cb, p, NULL);
    coil_future *fs[3] = {F(t0), F(t1), p};
    void *res[3] = {0};
    coil_time start = coil_clock();
    CHECK(coil_gather(fs, 3, res, NULL, COIL_GATHER_FIRST_ERROR) == 0);
    double took = units_since(start);
    NOTE("  gather from main took %.2f units\n", took);
    CHECK(within(took, 1.95, 10.0));
    CHECK(res[0] == (void *)20 && res[1] == (void *)21 && res[2] == (void *)99);
    CHECK(coil_loop_current() == NULL);
    coil_task_release(t0);
    coil_task_release(t1);
    coil_future_release(p);
}

/* ------------------------------------------------------------------ wait */

TEST(wait_all_completed_waits_for_every_future)
{
    job j[3] = {{.units = 1}, {.units = 3}, {.units = 2}};
    coil_task *t[3];
    coil_future *fs[3], *done[3], *pending[3];
    for (int i = 0; i < 3; i++) {
        t[i] = spawn_job(&j[i], 0);
        fs[i] = F(t[i]);
    }
    size_t nd = 99, np = 99;
    coil_time t0 = coil_clock();
    CHECK(coil_wait(fs, 3, COIL_ALL_COMPLETED, -1, done, &nd, pending, &np)
          == 0);
    double took = units_since(t0);
    NOTE("  ALL_COMPLETED over 1, 3, 2 units took %.2f units\n", took);
    CHECK(within(took, 2.95, 10.0));
    CHECK(nd == 3 && np == 0);
    for (int i = 0; i < 3; i++) {
        CHECK(done[i] == fs[i]);
        CHECK(coil_future_state(fs[i]) == COIL_DONE);
        coil_task_release(t[i]);
    }
}

static void *wait_first_completed_main(void *arg)
{
    (void)arg;
    /* 1 unit against 8 and 12: a busy machine's stall of a few units
     * cannot make the first two end in one iteration. */
    job j[3] = {{.units = 12, .result = 30}, {.units = 1, .result = 31},
                {.units = 8, .result = 32}};
    coil_task *t[3];
    coil_future *fs[3], *done[3], *pending[3];
    for (int i = 0; i < 3; i++) {
        t[i] = spawn_job(&j[i], 0);
        fs[i] = F(t[i]);
    }
    size_t nd = 99, np = 99;
    coil_time t0 = coil_clock();
    CHECK(coil_wait(fs, 3, COIL_FIRST_COMPLETED, -1, done, &nd, pending, &np)
          == 0);
    double took = units_since(t0);
    NOTE("  FIRST_COMPLETED over 12, 1, 8 units took %.2f units\n", took);
    CHECK(within(took, 0.95, 10.0));     /* the sets show it was first */
    CHECK(nd == 1 && done[0] == fs[1]);
    CHECK(np == 2 && pending[0] == fs[0] && pending[1] == fs[2]);
    /* Nothing was cancelled: the others finish with their results. */
    for (int i = 0; i < 3; i++) {
        void *v;
        CHECK(coil_await(fs[i], &v) == 0 && v == (void *)(intptr_t)(30 + i));
        CHECK(!j[i].ignored && !j[i].cleaned);
        coil_task_release(t[i]);
    }
    return NULL;
}

TEST(wait_first_completed_returns_after_the_first_one)
{
    in_task(wait_first_completed_main, NULL);
}

static void *wait_first_exception_main(void *arg)
{
    (void)arg;
    job j[4] = {{.units = 1, .result = 40}, {.units = 6, .result = 41},
                {.units = 2, .err = EIO}, {.units = 6, .result = 43}};
    coil_task *t[4];
    coil_future *fs[4], *done[4], *pending[4];
    for (int i = 0; i < 4; i++) {
        t[i] = spawn_job(&j[i], 0);
        fs[i] = F(t[i]);
    }
    size_t nd = 99, np = 99;
    coil_time t0 = coil_clock();
    CHECK(coil_wait(fs, 4, COIL_FIRST_EXCEPTION, -1, done, &nd, pending, &np)
          == 0);
    double took = units_since(t0);
    NOTE("  FIRST_EXCEPTION, failure at 2 of 6 units: took %.2f units\n",
           took);
    CHECK(within(took, 1.95, 10.0));
    CHECK(nd == 2 && done[0] == fs[0] && done[1] == fs[2]);
    CHECK(np == 2 && pending[0] == fs[1] && pending[1] == fs[3]);
    CHECK_ERRNO(coil_future_result(fs[2], NULL), EIO);
    void *v;
    CHECK(coil_await(fs[1], &v) == 0 && v == (void *)41);
    CHECK(coil_await(fs[3], &v) == 0 && v == (void *)43);
    for (int i = 0; i < 4; i++)
        coil_task_release(t[i]);
    return NULL;
}

TEST(wait_first_exception_returns_at_the_first_failure)
{
    in_task(wait_first_exception_main, NULL);
}

static void *wait_first_exception_none_main(void *arg)
{
    (void)arg;
    job j[2] = {{.units = 1}, {.units = 3}};
    coil_task *t[2] = {spawn_job(&j[0], 0), spawn_job(&j[1], 0)};
    coil_future *fs[2] = {F(t[0]), F(t[1])};
    size_t nd = 99, np = 99;
    coil_time t0 = coil_clock();
    CHECK(coil_wait(fs, 2, COIL_FIRST_EXCEPTION, -1, NULL, &nd, NULL, &np)
          == 0);
    double took = units_since(t0);
    NOTE("  FIRST_EXCEPTION without failures over 1, 3 units: %.2f units\n",
           took);
    CHECK(within(took, 2.95, 10.0));
    CHECK(nd == 2 && np == 0);
    coil_task_release(t[0]);
    coil_task_release(t[1]);
    return NULL;
}

TEST(wait_first_exception_without_a_failure_waits_for_all)
{
    in_task(wait_first_exception_none_main, NULL);
}

static void *wait_timeout_main(void *arg)
{
    (void)arg;
    job j[2] = {{.units = 1, .result = 50}, {.units = 6, .result = 51}};
    coil_task *t[2] = {spawn_job(&j[0], 0), spawn_job(&j[1], 0)};
    coil_future *p = coil_future_new(NULL);
    coil_future *fs[3] = {F(t[0]), F(t[1]), p}, *done[3], *pending[3];
    size_t nd = 99, np = 99;
    /* The quick job has ended before the wait begins: were it still due
     * when a busy machine stalls the loop past both its end and the
     * wait's timeout, the two would fire in one iteration, in either
     * order. */
    CHECK(coil_await(fs[0], NULL) == 0);
    coil_time t0 = coil_clock();
    CHECK(coil_wait(fs, 3, COIL_ALL_COMPLETED, 2 * UNIT, done, &nd, pending,
                    &np) == 0);
    double took = units_since(t0);
    NOTE("  wait with a 2-unit timeout took %.2f units\n", took);
    CHECK(within(took, 1.95, 10.0));
    CHECK(nd == 1 && done[0] == fs[0]);
    CHECK(np == 2 && pending[0] == fs[1] && pending[1] == p);
    /* Nothing was cancelled. */
    CHECK(coil_future_state(p) == COIL_PENDING);
    CHECK(coil_task_cancelling(t[1]) == 0);
    void *v;
    CHECK(coil_await(fs[1], &v) == 0 && v == (void *)51);
    CHECK(!j[1].ignored && !j[1].cleaned);
    CHECK(coil_future_state(p) == COIL_PENDING);
    CHECK(coil_future_set_result(p, (void *)1) == 0);
    coil_task_release(t[0]);
    coil_task_release(t[1]);
    coil_future_release(p);
    return NULL;
}

TEST(wait_timeout_returns_the_done_pending_split_and_cancels_nothing)
{
    in_task(wait_timeout_main, NULL);
}

TEST(wait_lists_done_and_pending_in_input_order)
{
    int units[6] = {8, 1, 8, 2, 8, 1};
    job j[6];
    coil_task *t[6];
    coil_future *fs[6], *done[6], *pending[6];
    for (int i = 0; i < 6; i++) {
        j[i] = (job){.units = units[i]};
        t[i] = spawn_job(&j[i], 0);
        fs[i] = F(t[i]);
    }
    size_t nd = 99, np = 99;
    CHECK(coil_wait(fs, 6, COIL_ALL_COMPLETED, 4 * UNIT, done, &nd, pending,
                    &np) == 0);
    CHECK(nd == 3 && done[0] == fs[1] && done[1] == fs[3] && done[2] == fs[5]);
    CHECK(np == 3 && pending[0] == fs[0] && pending[1] == fs[2] &&
          pending[2] == fs[4]);
    for (int i = 0; i < 6; i++) {
        coil_task_cancel(t[i]);
        coil_await(fs[i], NULL);
        coil_task_release(t[i]);
    }
}

TEST(wait_accepts_null_done_and_pending_arrays)
{
    coil_future *d = coil_future_new(NULL), *p = coil_future_new(NULL);
    CHECK(coil_future_set_result(d, NULL) == 0);
    coil_future *fs[2] = {p, d};
    size_t nd = 99, np = 99;
    CHECK(coil_wait(fs, 2, COIL_ALL_COMPLETED, UNIT, NULL, &nd, NULL, &np)
          == 0);
    CHECK(nd == 1 && np == 1);
    coil_future *done[2];
    nd = 99;
    CHECK(coil_wait(fs, 2, COIL_FIRST_COMPLETED, -1, done, &nd, NULL, NULL)
          == 0);
    CHECK(nd == 1 && done[0] == d);
    CHECK(coil_wait(fs, 2, COIL_ALL_COMPLETED, 0, NULL, NULL, NULL, NULL)
          == 0);
    CHECK(coil_future_state(p) == COIL_PENDING);
    coil_future_release(d);
    coil_future_release(p);
}

static void *wait_look_main(void *arg)
{
    (void)arg;
    job j = {.units = 30, .result = 60};
    coil_task *t = spawn_job(&j, 0);
    coil_future *d = coil_future_new(NULL), *p = coil_future_new(NULL);
    CHECK(coil_future_set_error(d, EIO) == 0);
    coil_future *fs[3] = {d, p, F(t)}, *done[3], *pending[3];
    size_t nd = 99, np = 99;
    coil_time t0 = coil_clock();
    CHECK(coil_wait(fs, 3, COIL_ALL_COMPLETED, 0, done, &nd, pending, &np)
          == 0);
    double took = units_since(t0);
    NOTE("  wait with timeout 0 took %.3f units\n", took);
    /* The sets show it waited for none; this, that it did not sleep for a
     * while first (with room for a busy machine's stalls: 20 of 30). */
    CHECK(took < 20.0);
    CHECK(nd == 1 && done[0] == d);
    CHECK(np == 2 && pending[0] == p && pending[1] == F(t));
    CHECK(coil_future_state(p) == COIL_PENDING);
    CHECK(coil_task_cancelling(t) == 0);
    void *v;
    CHECK(coil_await(F(t), &v) == 0 && v == (void *)60);
    CHECK_ERRNO(coil_future_result(d, NULL), EIO);
    coil_task_release(t);
    coil_future_release(d);
    coil_future_release(p);
    return NULL;
}

TEST(wait_with_timeout_zero_just_looks)
{
    in_task(wait_look_main, NULL);
    /* From outside a task too. */
    coil_future *d = coil_future_new(NULL), *p = coil_future_new(NULL);
    CHECK(coil_future_set_result(d, NULL) == 0);
    coil_future *fs[2] = {p, d}, *done[2], *pending[2];
    size_t nd = 99, np = 99;
    coil_time t0 = coil_clock();
    CHECK(coil_wait(fs, 2, COIL_FIRST_EXCEPTION, 0, done, &nd, pending, &np)
          == 0);
    CHECK(units_since(t0) < 2.0);
    CHECK(nd == 1 && done[0] == d && np == 1 && pending[0] == p);
    CHECK(coil_future_state(p) == COIL_PENDING);
    coil_future_release(d);
    coil_future_release(p);
}

static volatile sig_atomic_t hung_mode = -1;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "  coil_wait(n = 0) with no timeout never "
                              "returned in mode ";
    char digit = (char)('0' + hung_mode);
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, &digit, 1);
    (void)!write(2, "\n", 1);
    _exit(1);
}

TEST(wait_for_no_futures_returns_at_once_in_every_mode)
{
    /* Nothing can complete: a wait over no futures must not block.  An
     * alarm turns a hang into a failure. */
    signal(SIGALRM, on_alarm);
    int modes[3] = {COIL_ALL_COMPLETED, COIL_FIRST_EXCEPTION,
                    COIL_FIRST_COMPLETED};
    for (int i = 0; i < 3; i++) {
        hung_mode = modes[i];
        alarm(2);
        size_t nd = 99, np = 99;
        errno = 0;
        int r = coil_wait(NULL, 0, modes[i], -1, NULL, &nd, NULL, &np);
        alarm(0);
        CHECK((r == 0 && nd == 0 && np == 0) || (r == -1 && errno == EINVAL));
    }
}

TEST(wait_rejects_a_bad_mode_and_null_entries)
{
    coil_future *p = coil_future_new(NULL);
    coil_future *one[1] = {p}, *with_null[2] = {p, NULL};
    size_t nd, np;
    CHECK_ERRNO(coil_wait(one, 1, 3, 0, NULL, &nd, NULL, &np), EINVAL);
    CHECK_ERRNO(coil_wait(one, 1, -1, 0, NULL, &nd, NULL, &np), EINVAL);
    CHECK_ERRNO(coil_wait(with_null, 2, COIL_ALL_COMPLETED, 0, NULL, &nd,
                          NULL, &np), EINVAL);
    CHECK_ERRNO(coil_wait(NULL, 1, COIL_ALL_COMPLETED, 0, NULL, &nd, NULL,
                          &np), EINVAL);
    CHECK(coil_future_state(p) == COIL_PENDING);
    coil_future_release(p);
}

/* ---------------------------------------------------------- as_completed */

static void *as_completed_order_main(void *arg)
{
    (void)arg;
    job j[3] = {{.units = 4, .result = 70}, {.units = 1, .result = 71},
                {.units = 2, .result = 72}};
    coil_task *t[3];
    coil_future *fs[3];
    for (int i = 0; i < 3; i++) {
        t[i] = spawn_job(&j[i], 0);
        fs[i] = F(t[i]);
    }
    coil_time t0 = coil_clock();
    coil_as_completed *ac = coil_as_completed_new(fs, 3, -1);
    CHECK(ac);
    int expect[3] = {1, 2, 0};
    double at[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        coil_future *f = NULL;
        CHECK(coil_as_completed_next(ac, &f) == 0);
        double took = units_since(t0);
        NOTE("  as_completed #%d after %.2f units\n", k, took);
        CHECK(f == fs[expect[k]]);
        /* Late by at most 15 units: a busy machine stalls the loop. */
        CHECK(took >= at[k] - 0.05 && took < at[k] + 15.0);
        void *v;
        CHECK(coil_future_result(f, &v) == 0 &&
              v == (void *)(intptr_t)(70 + expect[k]));
    }
    coil_future *f = NULL;
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ENOENT);
    coil_as_completed_free(ac);
    for (int i = 0; i < 3; i++)
        coil_task_release(t[i]);
    return NULL;
}

TEST(as_completed_yields_futures_in_completion_order)
{
    in_task(as_completed_order_main, NULL);
}

TEST(as_completed_is_enoent_once_all_were_handed_out)
{
    coil_future *a = coil_future_new(NULL), *b = coil_future_new(NULL);
    coil_future *fs[2] = {a, b}, *f;
    coil_call_soon(NULL, set_result_cb, b, NULL);
    coil_call_later(NULL, UNIT, set_result_cb, a, NULL);
    coil_as_completed *ac = coil_as_completed_new(fs, 2, -1);
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == b);
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == a);
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ENOENT);
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ENOENT);
    CHECK(units_since(t0) < 2.0);
    coil_as_completed_free(ac);
    /* And over nothing: ENOENT at once. */
    ac = coil_as_completed_new(NULL, 0, -1);
    CHECK(ac);
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ENOENT);
    coil_as_completed_free(ac);
    coil_future_release(a);
    coil_future_release(b);
}

TEST(as_completed_times_out_and_the_rest_still_complete_normally)
{
    /* Margins of several units either way: a loaded machine (CI is never
     * promised an idle one) delays a wake-up by a unit or more. */
    job j[3] = {{.units = 1, .result = 80}, {.units = 16, .result = 81},
                {.units = 17, .result = 82}};
    coil_task *t[3];
    coil_future *fs[3], *f;
    for (int i = 0; i < 3; i++) {
        t[i] = spawn_job(&j[i], 0);
        fs[i] = F(t[i]);
    }
    coil_time t0 = coil_clock();
    coil_as_completed *ac = coil_as_completed_new(fs, 3, 10 * UNIT);
    CHECK(ac);
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == fs[0]);
    run_loop_for(4);                  /* the next call comes at 5 or later */
    /* The deadline counts from new() (10), not from this call (which
     * would put it at 15 or later). */
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ETIMEDOUT);
    double took = units_since(t0);
    NOTE("  ETIMEDOUT after %.2f units (deadline 10)\n", took);
    CHECK(within(took, 9.95, 14.5));
    /* Past the deadline, with nothing ready: ETIMEDOUT again, at once. */
    coil_time t1 = coil_clock();
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ETIMEDOUT);
    CHECK(units_since(t1) < 5.0);
    /* The others were not cancelled and are still handed out. */
    void *v;
    CHECK(coil_await(fs[1], &v) == 0 && v == (void *)81);
    CHECK(coil_await(fs[2], &v) == 0 && v == (void *)82);
    CHECK(!j[1].ignored && !j[1].cleaned && !j[2].cleaned);
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == fs[1]);
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == fs[2]);
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ENOENT);
    coil_as_completed_free(ac);
    for (int i = 0; i < 3; i++)
        coil_task_release(t[i]);
}

TEST(as_completed_hands_out_futures_done_before_new_first)
{
    job j = {.units = 1, .result = 90};
    coil_task *t = spawn_job(&j, 0);
    coil_future *d1 = coil_future_new(NULL), *d2 = coil_future_new(NULL);
    /* d1 completes before d2; both before new(), d2's callbacks not even
     * run yet. */
    CHECK(coil_future_set_result(d1, (void *)1) == 0);
    run_loop_for(0);
    CHECK(coil_future_set_result(d2, (void *)2) == 0);
    coil_future *fs[3] = {F(t), d2, d1}, *f;
    coil_as_completed *ac = coil_as_completed_new(fs, 3, -1);
    coil_time t0 = coil_clock();
    CHECK(coil_as_completed_next(ac, &f) == 0 && (f == d2 || f == d1));
    coil_future *second = f == d2 ? d1 : d2;
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == second);
    CHECK(units_since(t0) < 2.0);
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == F(t));
    CHECK_ERRNO(coil_as_completed_next(ac, &f), ENOENT);
    coil_as_completed_free(ac);
    coil_task_release(t);
    coil_future_release(d1);
    coil_future_release(d2);
}

TEST(as_completed_free_before_exhausting_leaves_no_callbacks)
{
    coil_future *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = coil_future_new(NULL);
    coil_call_soon(NULL, set_result_cb, p[0], NULL);
    coil_as_completed *ac = coil_as_completed_new(p, 3, -1);
    coil_future *f;
    CHECK(coil_as_completed_next(ac, &f) == 0 && f == p[0]);
    coil_as_completed_free(ac);
    /* Reuse the freed memory with zeros: a callback still pointing at it
     * would write through a NULL array (and ASan reports the use). */
    void *scrap[8];
    for (int i = 0; i < 8; i++) {
        scrap[i] = calloc(1, 7 * sizeof(void *));
        CHECK(scrap[i]);
    }
    CHECK(coil_future_set_result(p[1], NULL) == 0);
    CHECK(coil_future_cancel(p[2]) == 1);
    CHECK(coil_await(p[1], NULL) == 0);
    CHECK_ERRNO(coil_await(p[2], NULL), ECANCELED);
    for (int i = 0; i < 8; i++) {
        for (size_t k = 0; k < 7; k++)
            CHECK(((void **)scrap[i])[k] == NULL);
        free(scrap[i]);
    }
    for (int i = 0; i < 3; i++)
        coil_future_release(p[i]);
}

static coil_future *acu_never;
static int acu_returned;

static void free_as_completed(void *arg)
{
    coil_as_completed_free(arg);
}

static void *as_completed_waiter(void *arg)
{
    (void)arg;
    coil_as_completed *ac = coil_as_completed_new(&acu_never, 1, 3 * UNIT);
    CHECK(ac);
    coil_future *f;
    coil_cleanup_push(free_as_completed, ac);
    coil_as_completed_next(ac, &f);           /* cancelled in here */
    acu_returned = 1;
    coil_cleanup_pop(1);
    return NULL;
}

TEST(as_completed_next_unwound_by_cancellation_leaves_no_timer_behind)
{
    acu_never = coil_future_new(NULL);
    coil_task *t = coil_spawn(as_completed_waiter, NULL);
    coil_call_later(NULL, UNIT, cancel_task_cb, t, NULL);
    CHECK_ERRNO(coil_await(F(t), NULL), ECANCELED);
    CHECK(!acu_returned);
    coil_task_release(t);
    /* Fresh futures, likely in the memory the unwound next() freed: its
     * deadline (3 units) must not complete any of them, nor touch the
     * freed one (ASan). */
    coil_future *fresh[8];
    for (int i = 0; i < 8; i++)
        fresh[i] = coil_future_new(NULL);
    run_loop_for(5);
    for (int i = 0; i < 8; i++) {
        if (coil_future_state(fresh[i]) != COIL_PENDING)
            fprintf(stderr, "  fresh future %d was completed by a timer "
                    "the unwound next() left behind\n", i);
        CHECK(coil_future_state(fresh[i]) == COIL_PENDING);
        coil_future_release(fresh[i]);
    }
    CHECK(coil_future_cancel(acu_never) == 1);
    CHECK_ERRNO(coil_await(acu_never, NULL), ECANCELED);
    coil_future_release(acu_never);
    /* Debug builds quarantine released futures instead of freeing them, so
     * reuse cannot show a timer left behind there; a leak check can: once
     * the loop is closed, a timer handle still referenced from nowhere but
     * the unwound frame is unreachable memory. */
    CHECK(coil_loop_close(coil_loop_default()) == 0);
#ifdef HAVE_LSAN
    CHECK(__lsan_do_recoverable_leak_check() == 0);
#endif
}

/* -------------------------------------------------------------- wait_for */

static void *wait_for_in_time_main(void *arg)
{
    (void)arg;
    job j = {.units = 1, .result = 3};
    coil_task *t = spawn_job(&j, 0);
    void *v = NULL;
    coil_time t0 = coil_clock();
    CHECK(coil_wait_for(F(t), 5 * UNIT, &v) == 0 && v == (void *)3);
    double took = units_since(t0);
    CHECK(within(took, 0.95, 10.0));
    CHECK(!j.ignored && !j.cleaned);
    coil_task_release(t);
    return NULL;
}

TEST(wait_for_returns_the_result_when_in_time)
{
    in_task(wait_for_in_time_main, NULL);
    /* And an error as coil_await would. */
    job j = {.units = 1, .err = EPIPE};
    coil_task *t = spawn_job(&j, 0);
    CHECK_ERRNO(coil_wait_for(F(t), 5 * UNIT, NULL), EPIPE);
    coil_task_release(t);
}

static void *wait_for_timeout_main(void *arg)
{
    (void)arg;
    job j = {.units = 50, .cleanup_units = 1};
    coil_task *t = spawn_job(&j, 0);
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_wait_for(F(t), UNIT, NULL), ETIMEDOUT);
    double took = units_since(t0);
    NOTE("  wait_for timed out after %.2f units (1 + 1 of cleanup)\n", took);
    CHECK(j.cleaned && !j.finished);
    CHECK(coil_future_state(F(t)) == COIL_CANCELLED);
    CHECK(within(took, 1.95, 10.0));
    coil_task_release(t);
    return NULL;
}

TEST(wait_for_timeout_cancels_the_task_and_returns_after_its_cleanup)
{
    in_task(wait_for_timeout_main, NULL);
}

TEST(wait_for_timeout_from_outside_a_task_also_waits_for_the_cleanup)
{
    job j = {.units = 50, .cleanup_units = 1};
    coil_task *t = spawn_job(&j, 0);
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_wait_for(F(t), UNIT, NULL), ETIMEDOUT);
    double took = units_since(t0);
    CHECK(j.cleaned && coil_future_state(F(t)) == COIL_CANCELLED);
    CHECK(within(took, 1.95, 10.0));
    coil_task_release(t);
    /* A plain future is simply cancelled. */
    coil_future *p = coil_future_new(NULL);
    CHECK_ERRNO(coil_wait_for(p, UNIT, NULL), ETIMEDOUT);
    CHECK(coil_future_state(p) == COIL_CANCELLED);
    coil_future_release(p);
}

static void *wait_for_stubborn_main(void *arg)
{
    (void)arg;
    job j = {.units = 50, .stubborn_units = 1, .result = 8};
    coil_task *t = spawn_job(&j, COIL_TASK_CANCEL_AS_ERROR);
    void *v = NULL;
    coil_time t0 = coil_clock();
    CHECK(coil_wait_for(F(t), UNIT, &v) == 0 && v == (void *)8);
    double took = units_since(t0);
    NOTE("  wait_for of a task ignoring cancellation took %.2f units\n",
           took);
    CHECK(j.ignored && j.finished);
    CHECK(within(took, 1.95, 10.0));
    coil_task_release(t);
    return NULL;
}

TEST(wait_for_returns_the_result_of_a_task_that_ignores_cancellation)
{
    in_task(wait_for_stubborn_main, NULL);
}

static int wait_for_returned;

static void *wait_for_caller(void *arg)
{
    coil_wait_for(arg, 20 * UNIT, NULL);      /* cancelled in here */
    wait_for_returned = 1;
    return NULL;
}

TEST(wait_for_cancelled_caller_cancels_the_inner_task_too)
{
    static job j = {.units = 50, .cleanup_units = 1};
    coil_task *inner = spawn_job(&j, 0);
    coil_task *outer = coil_spawn(wait_for_caller, F(inner));
    coil_call_later(NULL, UNIT, cancel_task_cb, outer, NULL);
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_await(F(outer), NULL), ECANCELED);
    CHECK(!wait_for_returned);
    coil_task *s = spawn_scribbler();
    CHECK_ERRNO(coil_await(F(inner), NULL), ECANCELED);
    double took = units_since(t0);
    NOTE("  outer and inner cancelled after %.2f units\n", took);
    CHECK(j.cleaned && !j.finished);
    CHECK(took < 10.0);
    run_loop_for(1);
    check_scribbler(s);
    coil_task_release(outer);
    coil_task_release(inner);
}

static int wf_r, wf_errno;

static void *error_mode_wait_for_caller(void *arg)
{
    errno = 0;
    wf_r = coil_wait_for(arg, UNIT, NULL);
    wf_errno = errno;
    return NULL;
}

TEST(wait_for_in_an_error_mode_task_cancelled_during_the_cleanup_wait_is_ecanceled)
{
    /* The timeout fires at 1; the inner task's cleanup takes until 4; the
     * caller (error mode) is cancelled at 2, while wait_for waits for that
     * cleanup.  The caller's own cancellation must come out as ECANCELED,
     * once, not be reported (and consumed) as the timeout. */
    job j = {.units = 50, .cleanup_units = 3};
    coil_task *inner = spawn_job(&j, 0);
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *outer = coil_spawn_attr(&attr, error_mode_wait_for_caller,
                                       F(inner));
    coil_call_later(NULL, 2 * UNIT, cancel_task_cb, outer, NULL);
    CHECK(coil_await(F(outer), NULL) == 0);
    NOTE("  wait_for returned %d, errno %s\n", wf_r,
           wf_errno ? strerrorname_np(wf_errno) : "0");
    CHECK(wf_r == -1 && wf_errno == ECANCELED);
    CHECK_ERRNO(coil_await(F(inner), NULL), ECANCELED);
    CHECK(j.cleaned);
    coil_task_release(outer);
    coil_task_release(inner);
}

TEST(wait_for_of_a_shield_times_out_and_leaves_the_inner_task_running)
{
    /* 25 units: still running when checked, through a long stall. */
    job j = {.units = 25, .result = 11};
    coil_task *t = spawn_job(&j, 0);
    coil_future *s = coil_shield(F(t));
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_wait_for(s, UNIT, NULL), ETIMEDOUT);
    double took = units_since(t0);
    CHECK(within(took, 0.95, 10.0));
    CHECK(coil_future_state(s) == COIL_CANCELLED);
    CHECK(coil_future_done(F(t)) == 0 && coil_task_cancelling(t) == 0);
    void *v;
    CHECK(coil_await(F(t), &v) == 0 && v == (void *)11);
    CHECK(!j.ignored && !j.cleaned);
    coil_future_release(s);
    coil_task_release(t);
}

/* ---------------------------------------------------------------- shield */

TEST(shield_cancel_does_not_reach_the_inner_task)
{
    job j = {.units = 2, .result = 4};
    coil_task *t = spawn_job(&j, 0);
    coil_future *s = coil_shield(F(t));
    CHECK(s && s != F(t));
    run_loop_for(1);
    CHECK(coil_future_cancel(s) == 1);
    CHECK(coil_future_state(s) == COIL_CANCELLED);
    CHECK(coil_task_cancelling(t) == 0);
    void *v;
    CHECK(coil_await(F(t), &v) == 0 && v == (void *)4);
    CHECK(coil_future_state(F(t)) == COIL_DONE && !j.ignored && !j.cleaned);
    CHECK_ERRNO(coil_await(s, NULL), ECANCELED);
    coil_future_release(s);
    coil_task_release(t);
}

TEST(shield_mirrors_the_result_error_and_cancellation_of_the_inner_one)
{
    job ok = {.units = 1, .result = 6}, bad = {.units = 1, .err = EIO};
    job victim = {.units = 50};
    coil_task *t[3] = {spawn_job(&ok, 0), spawn_job(&bad, 0),
                       spawn_job(&victim, 0)};
    coil_future *p = coil_future_new(NULL);
    coil_future *s[4];
    for (int i = 0; i < 3; i++)
        s[i] = coil_shield(F(t[i]));
    s[3] = coil_shield(p);
    coil_call_later(NULL, UNIT, cancel_task_cb, t[2], NULL);
    coil_call_later(NULL, UNIT, cancel_future_cb, p, NULL);
    void *v;
    CHECK(coil_await(s[0], &v) == 0 && v == (void *)6);
    CHECK_ERRNO(coil_await(s[1], NULL), EIO);
    CHECK_ERRNO(coil_await(s[2], NULL), ECANCELED);
    CHECK(coil_future_state(s[2]) == COIL_CANCELLED);
    CHECK_ERRNO(coil_await(s[3], NULL), ECANCELED);
    CHECK(coil_future_state(s[3]) == COIL_CANCELLED);
    /* A shield of a future already done completes too. */
    coil_future *late = coil_shield(F(t[0]));
    CHECK(coil_await(late, &v) == 0 && v == (void *)6);
    coil_future_release(late);
    for (int i = 0; i < 3; i++)
        coil_task_release(t[i]);
    for (int i = 0; i < 4; i++)
        coil_future_release(s[i]);
    coil_future_release(p);
}

static void release_future(void *arg)
{
    coil_future_release(arg);
}

static void *shield_awaiter(void *arg)
{
    coil_future *s = coil_shield(arg);
    CHECK(s);
    coil_cleanup_push(release_future, s);
    coil_await(s, NULL);                      /* cancelled in here */
    coil_cleanup_pop(1);
    return (void *)1;
}

TEST(shield_awaited_by_a_cancelled_task_leaves_the_inner_task_running)
{
    /* 25 units: the inner task is still running when checked below even
     * if a busy machine stalls the loop for most of that. */
    job j = {.units = 25, .result = 9};
    coil_task *inner = spawn_job(&j, 0);
    coil_task *outer = coil_spawn(shield_awaiter, F(inner));
    coil_call_later(NULL, UNIT, cancel_task_cb, outer, NULL);
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_await(F(outer), NULL), ECANCELED);
    double took = units_since(t0);
    NOTE("  outer cancelled after %.2f units, inner still running\n", took);
    CHECK(took < 10.0);
    CHECK(coil_future_done(F(inner)) == 0 && coil_task_cancelling(inner) == 0);
    void *v;
    CHECK(coil_await(F(inner), &v) == 0 && v == (void *)9);
    CHECK(!j.ignored && !j.cleaned);
    CHECK(units_since(t0) >= 24.95);
    coil_task_release(outer);
    coil_task_release(inner);
}

/* Run body() with stderr going to a pipe; return what it wrote. */
static void capture_stderr(void (*body)(void), char *buf, size_t size)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0 && dup2(fds[1], 2) == 2);
    body();
    fflush(stderr);
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(fds[0], buf + n, size - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(fds[0]);
}

static void unread_error_through_wait(void)
{
    job j = {.units = 1, .err = EIO};
    coil_task *t = spawn_job(&j, 0);
    coil_future *fs[1] = {F(t)};
    CHECK(coil_wait(fs, 1, COIL_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL)
          == 0);
    coil_task_release(t);
}

static void error_read_through_shield(void)
{
    job j = {.units = 1, .err = EIO};
    coil_task *t = spawn_job(&j, 0);
    coil_future *s = coil_shield(F(t));
    CHECK_ERRNO(coil_await(s, NULL), EIO);
    coil_future_release(s);
    coil_task_release(t);
}

TEST(shield_passes_the_error_on_so_debug_mode_does_not_call_it_unread)
{
    /* Debug mode reports a task whose error nobody read; an error read
     * through a shield (asyncio marks the inner exception retrieved) has
     * been read. */
    CHECK(setenv("COIL_DEBUG", "1", 1) == 0);   /* before the first loop */
    char out[2048];
    /* Checked before the first line is shown: strtok cuts the text there,
     * and on a busy machine debug mode's slow-step report may come first. */
    capture_stderr(unread_error_through_wait, out, sizeof out);
    CHECK(strstr(out, "nobody read"));             /* the report works */
    NOTE("  control (error never read): \"%s\"\n", strtok(out, "\n"));
    capture_stderr(error_read_through_shield, out, sizeof out);
    CHECK(!strstr(out, "nobody read"));
    if (*out)
        NOTE("  read through a shield: \"%s\"\n", strtok(out, "\n"));
}

/* ------------------------------------------------------------- coil_run */

static void *run_main_result(void *arg)
{
    job j = {.units = 1, .result = 40};
    coil_task *t = spawn_job(&j, 0);
    void *v;
    CHECK(coil_await(F(t), &v) == 0);
    coil_task_release(t);
    CHECK(coil_loop_current() != NULL);
    return (void *)((intptr_t)v + (intptr_t)arg);
}

TEST(run_returns_the_result_of_main)
{
    void *v = NULL;
    CHECK(coil_run(run_main_result, (void *)2, &v) == 0 && v == (void *)42);
    CHECK(coil_loop_current() == NULL);
    /* Again, on another fresh loop; result may be NULL. */
    CHECK(coil_run(run_main_result, (void *)3, NULL) == 0);
}

static void *run_main_error(void *arg)
{
    (void)arg;
    CHECK(coil_sleep(1) == 0);
    return coil_task_error(EPIPE);
}

static void *run_main_cancels_itself(void *arg)
{
    (void)arg;
    coil_task_cancel(coil_task_current());
    coil_sleep(UNIT);
    return (void *)1;
}

TEST(run_reports_the_error_of_main_through_errno)
{
    void *v = (void *)0x1;
    CHECK_ERRNO(coil_run(run_main_error, NULL, &v), EPIPE);
    CHECK_ERRNO(coil_run(run_main_cancels_itself, NULL, NULL), ECANCELED);
    CHECK_ERRNO(coil_run(NULL, NULL, NULL), EINVAL);
}

static job left_jobs[3];
static int left_unstarted_ran;

static void *unstarted(void *arg)
{
    (void)arg;
    left_unstarted_ran = 1;
    return NULL;
}

static void *run_main_leaves_tasks(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        /* 0 and 1 unwind (cleanup of 1 and 2 units); 2 is in error mode,
         * ignores the cancellation and ends a unit later. */
        left_jobs[i] = (job){.units = 100, .cleanup_units = 1 + i,
                             .stubborn_units = 1};
        coil_task_release(spawn_job(&left_jobs[i], i == 2 ?
                                    COIL_TASK_CANCEL_AS_ERROR : 0));
    }
    CHECK(coil_sleep(UNIT) == 0);             /* they have all started */
    coil_task_release(coil_spawn(unstarted, NULL));
    return (void *)5;
}

TEST(run_cancels_tasks_left_alive_and_waits_for_their_cleanup)
{
    void *v = NULL;
    coil_time t0 = coil_clock();
    CHECK(coil_run(run_main_leaves_tasks, NULL, &v) == 0 && v == (void *)5);
    double took = units_since(t0);
    NOTE("  coil_run with tasks left behind took %.2f units\n", took);
    CHECK(left_jobs[0].started && left_jobs[0].cleaned);
    CHECK(left_jobs[1].started && left_jobs[1].cleaned);
    CHECK(left_jobs[2].ignored && left_jobs[2].finished);
    CHECK(!left_jobs[0].finished && !left_jobs[1].finished);
    CHECK(!left_unstarted_ran);
    CHECK(within(took, 2.95, 20.0));      /* 1 + cleanup of up to 2 */
}

static job late_job = {.units = 1000, .cleanup_units = 1};
static coil_task *late_task;

/* A cleanup handler that starts another task, as a shutdown sequence
 * might (flush a log, notify a peer): that task is alive after main has
 * returned too, so coil_run must cancel it as well. */
static void spawn_in_cleanup(void *arg)
{
    (void)arg;
    late_task = spawn_job(&late_job, 0);    /* handle kept for the test */
}

static void *task_spawning_in_cleanup(void *arg)
{
    (void)arg;
    coil_cleanup_push(spawn_in_cleanup, NULL);
    coil_sleep(COIL_SEC(100));
    coil_cleanup_pop(0);
    return NULL;
}

static void *run_main_leaves_a_spawner(void *arg)
{
    (void)arg;
    coil_task_release(coil_spawn(task_spawning_in_cleanup, NULL));
    CHECK(coil_sleep(UNIT) == 0);
    return (void *)6;
}

static void on_run_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "  coil_run never returned: the task spawned "
                              "during shutdown was not cancelled\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

TEST(run_cancels_tasks_spawned_while_shutting_down_too)
{
    signal(SIGALRM, on_run_alarm);
    alarm(3);
    void *v = NULL;
    coil_time t0 = coil_clock();
    CHECK(coil_run(run_main_leaves_a_spawner, NULL, &v) == 0 && v == (void *)6);
    alarm(0);
    double took = units_since(t0);
    NOTE("  coil_run took %.2f units\n", took);
    /* Cancelled: before it ever ran, or unwound through its cleanup. */
    CHECK(late_task);
    CHECK(coil_future_state(F(late_task)) == COIL_CANCELLED);
    CHECK(!late_job.finished && (!late_job.started || late_job.cleaned));
    CHECK(took < 50.0);
    coil_task_release(late_task);
}

static int busy_r[2];

static void *run_nested(void *arg)
{
    (void)arg;
    errno = 0;
    busy_r[0] = coil_run(must_not_run, NULL, NULL);
    busy_r[1] = errno;
    return (void *)7;
}

static void run_from_callback(void *arg)
{
    (void)arg;
    run_nested(NULL);
    coil_loop_stop(coil_loop_current());
}

TEST(run_from_inside_a_running_loop_is_ebusy)
{
    ran = 0;
    /* In a task on the default loop. */
    coil_task *t = coil_spawn(run_nested, NULL);
    CHECK(coil_await(F(t), NULL) == 0);
    CHECK(busy_r[0] == -1 && busy_r[1] == EBUSY);
    coil_task_release(t);
    /* In main, inside coil_run. */
    busy_r[0] = 0;
    void *v;
    CHECK(coil_run(run_nested, NULL, &v) == 0 && v == (void *)7);
    CHECK(busy_r[0] == -1 && busy_r[1] == EBUSY);
    /* In a plain callback. */
    busy_r[0] = 0;
    coil_call_soon(NULL, run_from_callback, NULL, NULL);
    CHECK(coil_loop_run_forever(coil_loop_default()) == 0);
    CHECK(busy_r[0] == -1 && busy_r[1] == EBUSY);
    CHECK(ran == 0);
}

static job sig_jobs[2];
static int main_cleaned;

static void main_cleanup(void *arg)
{
    (void)arg;
    CHECK(coil_sleep(UNIT) == 0);             /* suspending cleanup */
    main_cleaned = 1;
}

static void raise_sigint(void *arg)
{
    (void)arg;
    raise(SIGINT);
}

static void *kill_from_thread(void *arg)
{
    (void)arg;
    kill(getpid(), SIGINT);
    return NULL;
}

static pthread_t killer;

static void *sigint_main(void *arg)
{
    int from_thread = (int)(intptr_t)arg;
    coil_cleanup_push(main_cleanup, NULL);
    for (int i = 0; i < 2; i++) {
        sig_jobs[i] = (job){.units = 200, .cleanup_units = 1};
        coil_task_release(spawn_job(&sig_jobs[i], 0));
    }
    if (from_thread)    /* the thread inherits the mask: SIGINT blocked */
        CHECK(pthread_create(&killer, NULL, kill_from_thread, NULL) == 0);
    else
        CHECK(coil_call_later(NULL, UNIT, raise_sigint, NULL, NULL) == 0);
    coil_sleep(200 * UNIT);                   /* interrupted */
    coil_cleanup_pop(0);
    return (void *)1;
}

static void check_sigint_run(int from_thread)
{
    signal(SIGINT, SIG_DFL);
    main_cleaned = 0;
    void *v = (void *)0x1234;
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_run(sigint_main, (void *)(intptr_t)from_thread, &v),
                EINTR);
    double took = units_since(t0);
    NOTE("  coil_run interrupted after %.2f units\n", took);
    CHECK(took < 50.0);
    CHECK(main_cleaned);
    CHECK(sig_jobs[0].started && sig_jobs[0].cleaned && !sig_jobs[0].finished);
    CHECK(sig_jobs[1].started && sig_jobs[1].cleaned && !sig_jobs[1].finished);
    if (from_thread)
        pthread_join(killer, NULL);
}

TEST(run_returns_eintr_after_cleanup_when_sigint_is_raised)
{
    check_sigint_run(0);
}

TEST(run_returns_eintr_after_cleanup_when_another_thread_sends_sigint)
{
    check_sigint_run(1);
}

static void *quick_main(void *arg)
{
    (void)arg;
    return (void *)1;
}

static int is_blocked(int sig)
{
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

TEST(run_leaves_the_sigint_disposition_and_mask_as_before)
{
    signal(SIGINT, SIG_DFL);
    CHECK(!is_blocked(SIGINT));
    CHECK(coil_run(quick_main, NULL, NULL) == 0);
    CHECK_ERRNO(coil_run(sigint_main, NULL, NULL), EINTR);
    CHECK(!is_blocked(SIGINT));
    struct sigaction sa;
    CHECK(sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL);
    sigset_t pend;
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGINT));
    /* SIGINT kills again, as it did before. */
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        raise(SIGINT);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
    /* A caller that had SIGINT blocked keeps it blocked. */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGINT);
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    CHECK(coil_run(quick_main, NULL, NULL) == 0);
    CHECK(is_blocked(SIGINT));
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}

/* ---------------------------------------------------------- bad arguments */

TEST(combinators_reject_bad_arguments)
{
    coil_future *p = coil_future_new(NULL);
    coil_future *with_null[2] = {p, NULL}, *f;
    CHECK_ERRNO(coil_wait_for(NULL, UNIT, NULL), EINVAL);
    CHECK_ERRNO(coil_shield(NULL), EINVAL);
    CHECK_ERRNO(coil_as_completed_new(NULL, 1, -1), EINVAL);
    CHECK_ERRNO(coil_as_completed_new(with_null, 2, -1), EINVAL);
    CHECK_ERRNO(coil_as_completed_next(NULL, &f), EINVAL);
    coil_as_completed *ac = coil_as_completed_new(&p, 1, -1);
    CHECK_ERRNO(coil_as_completed_next(ac, NULL), EINVAL);
    coil_as_completed_free(ac);
    coil_as_completed_free(NULL);
    CHECK(coil_future_state(p) == COIL_PENDING);
    coil_future_release(p);
}

static void *wait_on_self(void *arg)
{
    (void)arg;
    coil_future *self = coil_task_future(coil_task_current());
    CHECK_ERRNO(coil_gather(&self, 1, NULL, NULL, COIL_GATHER_FIRST_ERROR),
                EDEADLK);
    CHECK_ERRNO(coil_wait(&self, 1, COIL_ALL_COMPLETED, -1, NULL, NULL, NULL,
                          NULL), EDEADLK);
    CHECK_ERRNO(coil_wait_for(self, COIL_MSEC(1), NULL), EDEADLK);
    return (void *)1;
}

TEST(combinators_over_the_calling_task_itself_are_edeadlk)
{
    coil_task *t = coil_spawn(wait_on_self, NULL);
    void *v;
    CHECK(coil_await(coil_task_future(t), &v) == 0 && v == (void *)1);
    coil_task_release(t);
}

RUN_TESTS(T(combinators_over_the_calling_task_itself_are_edeadlk),
          T(gather_results_come_in_input_order_whatever_the_completion_order),
          T(gather_first_error_returns_the_first_failure_at_once_and_cancels_the_rest),
          T(gather_first_error_counts_a_cancelled_input_as_the_failure),
          T(gather_collect_errors_waits_for_all_and_reports_each_error),
          T(gather_of_nothing_returns_zero_at_once),
          T(gather_rejects_null_entries_and_a_bad_policy),
          T(gather_unwound_by_cancellation_cancels_its_tasks_and_leaves_no_callback),
          T(gather_in_an_error_mode_task_returns_ecanceled_and_cancels_its_tasks),
          T(gather_from_outside_a_task_runs_the_loop),
          T(wait_all_completed_waits_for_every_future),
          T(wait_first_completed_returns_after_the_first_one),
          T(wait_first_exception_returns_at_the_first_failure),
          T(wait_first_exception_without_a_failure_waits_for_all),
          T(wait_timeout_returns_the_done_pending_split_and_cancels_nothing),
          T(wait_lists_done_and_pending_in_input_order),
          T(wait_accepts_null_done_and_pending_arrays),
          T(wait_with_timeout_zero_just_looks),
          T(wait_for_no_futures_returns_at_once_in_every_mode),
          T(wait_rejects_a_bad_mode_and_null_entries),
          T(as_completed_yields_futures_in_completion_order),
          T(as_completed_is_enoent_once_all_were_handed_out),
          T(as_completed_times_out_and_the_rest_still_complete_normally),
          T(as_completed_hands_out_futures_done_before_new_first),
          T(as_completed_free_before_exhausting_leaves_no_callbacks),
          T(as_completed_next_unwound_by_cancellation_leaves_no_timer_behind),
          T(wait_for_returns_the_result_when_in_time),
          T(wait_for_timeout_cancels_the_task_and_returns_after_its_cleanup),
          T(wait_for_timeout_from_outside_a_task_also_waits_for_the_cleanup),
          T(wait_for_returns_the_result_of_a_task_that_ignores_cancellation),
          T(wait_for_cancelled_caller_cancels_the_inner_task_too),
          T(wait_for_in_an_error_mode_task_cancelled_during_the_cleanup_wait_is_ecanceled),
          T(wait_for_of_a_shield_times_out_and_leaves_the_inner_task_running),
          T(shield_cancel_does_not_reach_the_inner_task),
          T(shield_mirrors_the_result_error_and_cancellation_of_the_inner_one),
          T(shield_awaited_by_a_cancelled_task_leaves_the_inner_task_running),
          T(shield_passes_the_error_on_so_debug_mode_does_not_call_it_unread),
          T(run_returns_the_result_of_main),
          T(run_reports_the_error_of_main_through_errno),
          T(run_cancels_tasks_left_alive_and_waits_for_their_cleanup),
          T(run_cancels_tasks_spawned_while_shutting_down_too),
          T(run_from_inside_a_running_loop_is_ebusy),
          T(run_returns_eintr_after_cleanup_when_sigint_is_raised),
          T(run_returns_eintr_after_cleanup_when_another_thread_sends_sigint),
          T(run_leaves_the_sigint_disposition_and_mask_as_before),
          T(combinators_reject_bad_arguments))
