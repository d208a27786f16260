/*
 * tests/scope_test.c — structured concurrency: timeout scopes, task groups.
 * Time unit 20 ms; bounds are generous.
 */
#include <stdint.h>

#include "check.h"
#include "coil.h"

#define UNIT COIL_MSEC(20)

static char trail[64];
static int ntrail;

static void note(void *arg)
{
    trail[ntrail++] = *(const char *)arg;
    trail[ntrail] = 0;
}

static int run_task(coil_task_fn fn, void *arg, void **out)
{
    coil_task *t = coil_spawn(fn, arg);
    int r = coil_await(coil_task_future(t), out);
    int e = errno;
    coil_task_release(t);
    errno = e;
    return r;
}

/* ------------------------------------------------------------- timeouts */

__attribute__((noinline)) static void deep_wait(int depth)
{
    if (depth > 0) {
        coil_cleanup_push(note, "d");
        deep_wait(depth - 1);
        coil_cleanup_pop(0);
        return;
    }
    coil_sleep(COIL_SEC(10));
}

static void *scope_fires(void *arg)
{
    (void)arg;
    ntrail = 0;
    coil_time t0 = coil_clock();
    coil_timeout scope;
    volatile int entered = 0;
    if (coil_timeout_begin(&scope, 2 * UNIT) == 0) {
        entered = 1;
        deep_wait(3);                     /* unwound from three calls down */
        note("!");
    }
    CHECK(entered == 1);
    CHECK(coil_timeout_end(&scope) == -1 && errno == ETIMEDOUT);
    coil_time took = coil_clock() - t0;
    CHECK(within((double)took, 2.0 * UNIT, 10.0 * UNIT));
    CHECK(strcmp(trail, "ddd") == 0);     /* inner cleanup ran, LIFO */
    /* The task goes on normally: no request left over. */
    CHECK(coil_task_cancelling(coil_task_current()) == 0);
    CHECK(coil_sleep(1) == 0);
    return (void *)1;
}

TEST(timeout_scope_unwinds_to_its_end_and_reports_etimedout)
{
    void *v;
    CHECK(run_task(scope_fires, NULL, &v) == 0 && v == (void *)1);
}

static void *scope_in_time(void *arg)
{
    (void)arg;
    coil_timeout scope;
    if (coil_timeout_begin(&scope, 10 * UNIT) == 0)
        CHECK(coil_sleep(UNIT) == 0);
    CHECK(coil_timeout_end(&scope) == 0);
    CHECK(coil_sleep(10 * UNIT + UNIT) == 0);   /* its timer is gone */
    return (void *)2;
}

TEST(timeout_scope_that_does_not_fire_changes_nothing)
{
    void *v;
    CHECK(run_task(scope_in_time, NULL, &v) == 0 && v == (void *)2);
}

static void *nested_outer_first(void *arg)
{
    (void)arg;
    ntrail = 0;
    coil_timeout outer, inner;
    volatile int outer_result = 0;
    if (coil_timeout_begin(&outer, 2 * UNIT) == 0) {
        if (coil_timeout_begin(&inner, 20 * UNIT) == 0)
            coil_sleep(COIL_SEC(10));
        note("X");                        /* never: unwound past inner */
        coil_timeout_end(&inner);
    }
    outer_result = coil_timeout_end(&outer);
    CHECK(outer_result == -1 && errno == ETIMEDOUT);
    CHECK(strcmp(trail, "") == 0);
    return NULL;
}

TEST(outer_scope_firing_is_reported_by_the_outer_scope)
{
    CHECK(run_task(nested_outer_first, NULL, NULL) == 0);
}

static void *nested_inner_first(void *arg)
{
    (void)arg;
    coil_timeout outer, inner;
    volatile int inner_result = 99;
    if (coil_timeout_begin(&outer, 20 * UNIT) == 0) {
        if (coil_timeout_begin(&inner, 2 * UNIT) == 0)
            coil_sleep(COIL_SEC(10));
        inner_result = coil_timeout_end(&inner);
        CHECK(inner_result == -1 && errno == ETIMEDOUT);
        CHECK(coil_sleep(UNIT) == 0);     /* outer still running */
    }
    CHECK(coil_timeout_end(&outer) == 0);
    return NULL;
}

TEST(inner_scope_firing_is_reported_by_the_inner_scope_only)
{
    CHECK(run_task(nested_inner_first, NULL, NULL) == 0);
}

static coil_task *victim;

static void cancel_victim(void *arg)
{
    (void)arg;
    coil_task_cancel(victim);
}

static void *scope_and_outside_cancel(void *arg)
{
    (void)arg;
    coil_timeout scope;
    coil_cleanup_push(note, "o");
    if (coil_timeout_begin(&scope, 2 * UNIT) == 0)
        coil_sleep(COIL_SEC(10));
    note("!");                            /* must not continue */
    coil_timeout_end(&scope);
    coil_cleanup_pop(0);
    return NULL;
}

/* The deadline and an explicit cancel land together: the scope must not
 * swallow the outside cancellation, so the task ends CANCELLED. */
TEST(scope_does_not_swallow_an_outside_cancel_arriving_at_the_same_time)
{
    ntrail = 0;
    victim = coil_spawn(scope_and_outside_cancel, NULL);
    coil_call_later(NULL, 2 * UNIT, cancel_victim, NULL, NULL);
    CHECK_ERRNO(coil_await(coil_task_future(victim), NULL), ECANCELED);
    CHECK(strcmp(trail, "o") == 0);
    coil_task_release(victim);
}

static void *scope_error_mode(void *arg)
{
    (void)arg;
    coil_timeout scope;
    volatile int r = 0;                   /* set inside, read after */
    if (coil_timeout_begin(&scope, 2 * UNIT) == 0)
        r = coil_sleep(COIL_SEC(10));
    CHECK(r == -1 && errno == ECANCELED);
    CHECK(coil_timeout_end(&scope) == -1 && errno == ETIMEDOUT);
    CHECK(coil_task_cancelling(coil_task_current()) == 0);
    CHECK(coil_sleep(1) == 0);
    return (void *)3;
}

TEST(timeout_scope_in_error_mode_returns_ecanceled_then_etimedout)
{
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *t = coil_spawn_attr(&attr, scope_error_mode, NULL);
    void *v;
    CHECK(coil_await(coil_task_future(t), &v) == 0 && v == (void *)3);
    coil_task_release(t);
}

TEST(timeout_scope_outside_a_task_is_eperm)
{
    coil_timeout scope;
    CHECK(coil_timeout_begin(&scope, UNIT) == -1 && errno == EPERM);
}

/* ----------------------------------------------------- misuse of scopes */

static void *null_scope_and_null_handler(void *arg)
{
    (void)arg;
    coil_timeout *none = NULL;
    CHECK_ERRNO(coil_timeout_begin(none, UNIT), EINVAL);
    coil_cleanup_push(NULL, NULL);    /* does nothing, popped or unwound */
    coil_cleanup_pop(1);
    coil_cleanup_push(NULL, NULL);
    coil_sleep(COIL_SEC(10));         /* cancelled here: unwinds past it */
    coil_cleanup_pop(0);
    return NULL;
}

TEST(null_scope_is_einval_and_a_null_handler_does_nothing)
{
    victim = coil_spawn(null_scope_and_null_handler, NULL);
    coil_call_later(NULL, UNIT, cancel_victim, NULL, NULL);
    CHECK_ERRNO(coil_await(coil_task_future(victim), NULL), ECANCELED);
    coil_task_release(victim);
}

/* Returns with its scope still open: a bug the task must not survive. */
__attribute__((noinline)) static void leave_scope_open(void)
{
    coil_timeout scope;
    if (coil_timeout_begin(&scope, COIL_SEC(10)) == 0)
        return;                       /* no coil_timeout_end */
}

static void *returns_inside_a_scope(void *arg)
{
    (void)arg;
    leave_scope_open();
    return NULL;
}

__attribute__((noinline)) static void push_and_return(void)
{
    coil_cleanup_push(note, "x");
    if (ntrail >= 0)
        return;                       /* leaves the block without its pop */
    coil_cleanup_pop(0);
}

static void *returns_inside_a_cleanup_block(void *arg)
{
    (void)arg;
    push_and_return();
    coil_sleep(UNIT);
    return NULL;
}

static void run_task_of(coil_task_fn fn)
{
    coil_task_attr attr = {.name = "leaky"};
    coil_task *t = coil_spawn_attr(&attr, fn, NULL);
    coil_await(coil_task_future(t), NULL);
    coil_task_release(t);
}

static void end_with_open_scope(void)
{
    run_task_of(returns_inside_a_scope);
}

static void leave_cleanup_block(void)
{
    run_task_of(returns_inside_a_cleanup_block);
}

TEST(a_function_returning_inside_a_timeout_scope_is_reported_by_name)
{
    char buf[1024];
    int status = run_capturing_stderr(end_with_open_scope, buf, sizeof buf);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(buf, "task 'leaky' (fn=fn) ended while"));
    CHECK(strstr(buf, "coil_timeout_begin its coil_timeout_end"));
}

TEST(leaving_a_cleanup_block_without_its_pop_is_reported_by_name)
{
    char buf[1024];
    int status = run_capturing_stderr(leave_cleanup_block, buf, sizeof buf);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(buf, "task 'leaky' fn=fn: a block of coil_cleanup_push was "
                      "left"));
}

/* ---------------------------------------------------------------- groups */

static void *sleeper(void *arg)
{
    coil_cleanup_push(note, "c");
    coil_sleep(UNIT * (intptr_t)arg);
    coil_cleanup_pop(0);
    return arg;
}

static void *failer(void *arg)
{
    coil_sleep(UNIT * (intptr_t)arg);
    return coil_task_error(EIO);
}

static void *group_all_succeed(void *arg)
{
    (void)arg;
    coil_group *g = coil_group_new();
    coil_task *a = coil_group_go(g, sleeper, (void *)1);
    coil_task *b = coil_group_go(g, sleeper, (void *)2);
    CHECK(a && b);
    CHECK(coil_group_wait(g) == 0);
    return NULL;
}

TEST(group_waits_for_all_its_tasks)
{
    coil_time t0 = coil_clock();
    CHECK(run_task(group_all_succeed, NULL, NULL) == 0);
    CHECK(coil_clock() - t0 >= 2 * UNIT);
}

static void *group_one_fails(void *arg)
{
    (void)arg;
    ntrail = 0;
    coil_group *g = coil_group_new();
    coil_group_go(g, sleeper, (void *)50);
    coil_group_go(g, failer, (void *)1);
    coil_group_go(g, sleeper, (void *)50);
    coil_time t0 = coil_clock();
    CHECK(coil_group_wait(g) == -1 && errno == EIO);
    CHECK(coil_clock() - t0 < 20 * UNIT);      /* not the 50 units */
    CHECK(strcmp(trail, "cc") == 0);           /* both cleaned up first */
    return NULL;
}

TEST(first_failure_cancels_the_rest_and_is_reported)
{
    CHECK(run_task(group_one_fails, NULL, NULL) == 0);
}

static void *group_owner_cancelled(void *arg)
{
    (void)arg;
    coil_group *g = coil_group_new();
    coil_group_go(g, sleeper, (void *)50);
    coil_group_go(g, sleeper, (void *)50);
    coil_sleep(COIL_SEC(10));                  /* cancelled here */
    coil_group_wait(g);
    note("!");
    return NULL;
}

TEST(cancelling_the_owner_cancels_and_waits_for_the_group)
{
    ntrail = 0;
    victim = coil_spawn(group_owner_cancelled, NULL);
    coil_call_later(NULL, UNIT, cancel_victim, NULL, NULL);
    CHECK_ERRNO(coil_await(coil_task_future(victim), NULL), ECANCELED);
    CHECK(strcmp(trail, "cc") == 0);           /* children ended first */
    CHECK(coil_loop_tasks(NULL, NULL, 0) == 0); /* nothing left behind */
    coil_task_release(victim);
}

/* Cancelled inside coil_group_wait itself (not before it): the wait
 * unwinds, the group's tasks end first, and nothing the wait allocated is
 * left behind (LeakSanitizer checks that in the ASan build). */
static void *group_owner_cancelled_in_wait(void *arg)
{
    (void)arg;
    coil_group *g = coil_group_new();
    for (int i = 0; i < 3; i++)
        coil_group_go(g, sleeper, (void *)50);
    coil_group_wait(g);                        /* cancelled here */
    note("!");
    return NULL;
}

TEST(cancelling_the_owner_inside_the_wait_unwinds_and_frees_the_group)
{
    ntrail = 0;
    victim = coil_spawn(group_owner_cancelled_in_wait, NULL);
    coil_call_later(NULL, UNIT, cancel_victim, NULL, NULL);
    CHECK_ERRNO(coil_await(coil_task_future(victim), NULL), ECANCELED);
    CHECK(strcmp(trail, "ccc") == 0);
    CHECK(coil_loop_tasks(NULL, NULL, 0) == 0);
    coil_task_release(victim);
}

/* A task of the group may spawn more tasks into it (a crawler): the wait
 * covers them, and a late task's failure is the group's. */
static coil_group *crawl_group;
static int crawled;

static void *crawl(void *arg)
{
    intptr_t depth = (intptr_t)arg;
    coil_sleep(UNIT / 4);
    crawled++;
    if (depth == 3)
        return coil_task_error(EIO);
    if (depth < 3)
        CHECK(coil_group_go(crawl_group, crawl, (void *)(depth + 1)));
    return NULL;
}

static void *group_crawler(void *arg)
{
    (void)arg;
    crawl_group = coil_group_new();
    CHECK(coil_group_go(crawl_group, crawl, (void *)0));
    CHECK(coil_group_wait(crawl_group) == -1 && errno == EIO);
    CHECK(crawled == 4);                       /* depths 0, 1, 2, 3 */
    CHECK(coil_loop_tasks(NULL, NULL, 0) == 1); /* only this one is left */
    return NULL;
}

TEST(group_wait_covers_tasks_spawned_into_it_while_it_waits)
{
    CHECK(run_task(group_crawler, NULL, NULL) == 0);
}

static void *group_spawn_after_failure(void *arg)
{
    (void)arg;
    coil_group *g = coil_group_new();
    coil_task *f = coil_group_go(g, failer, (void *)0);
    /* Wait for the failure itself, not a time that it usually comes by. */
    CHECK(coil_await(coil_task_future(f), NULL) == -1 && errno == EIO);
    CHECK_ERRNO(coil_group_go(g, sleeper, (void *)1), ECANCELED);
    CHECK(coil_group_wait(g) == -1 && errno == EIO);
    return NULL;
}

TEST(spawning_into_a_failed_group_is_ecanceled)
{
    CHECK(run_task(group_spawn_after_failure, NULL, NULL) == 0);
}

TEST(group_bad_arguments_are_einval)
{
    CHECK_ERRNO(coil_group_wait(NULL), EINVAL);
    CHECK_ERRNO(coil_group_spawn(NULL, NULL, sleeper, NULL, "x"), EINVAL);
}

/* Cancelling a group as a unit: every task is cancelled and cleaned up,
 * one that had already finished keeps its result, the wait reports
 * ECANCELED, later spawns are refused, and the owner is not cancelled. */
static coil_group *cancel_group;

static void *cancel_group_from_a_member(void *arg)
{
    (void)arg;
    coil_sleep(UNIT);
    CHECK(coil_group_cancel(cancel_group) == 0);
    coil_sleep(COIL_SEC(10));                  /* cancelled itself */
    note("!");
    return NULL;
}

static void *group_cancelled_as_a_unit(void *arg)
{
    ntrail = 0;
    cancel_group = coil_group_new();
    coil_task *quick = coil_group_go(cancel_group, sleeper, (void *)0);
    coil_group_go(cancel_group, sleeper, (void *)50);
    coil_group_go(cancel_group, sleeper, (void *)50);
    coil_time t0 = coil_clock();
    if (arg) {
        coil_group_go(cancel_group, cancel_group_from_a_member, NULL);
    } else {
        /* quick has ended (awaited, not slept for: under qemu on a busy
         * machine one turn can outlast a unit), the others still sleep. */
        CHECK(coil_await(coil_task_future(quick), NULL) == 0);
        CHECK(coil_group_cancel(cancel_group) == 0);
        CHECK(coil_group_cancel(cancel_group) == 0);   /* idempotent */
        CHECK_ERRNO(coil_group_go(cancel_group, sleeper, (void *)1),
                    ECANCELED);
        void *v = (void *)1;                   /* it ended before: kept */
        CHECK(coil_future_result(coil_task_future(quick), &v) == 0 && !v);
    }
    CHECK_ERRNO(coil_group_wait(cancel_group), ECANCELED);
    CHECK(coil_clock() - t0 < 20 * UNIT);      /* not the 50 units */
    CHECK(strcmp(trail, "cc") == 0);           /* both cleaned up first */
    CHECK(coil_task_cancelling(coil_task_current()) == 0);
    CHECK(coil_sleep(0) == 0);                 /* the owner goes on */
    return NULL;
}

TEST(cancelling_a_group_cancels_its_tasks_and_wait_reports_ecanceled)
{
    CHECK(run_task(group_cancelled_as_a_unit, NULL, NULL) == 0);
}

TEST(a_task_of_the_group_may_cancel_the_whole_group)
{
    CHECK(run_task(group_cancelled_as_a_unit, (void *)1, NULL) == 0);
}

static void *group_failed_then_cancelled(void *arg)
{
    (void)arg;
    coil_group *g = coil_group_new();
    coil_group_go(g, failer, (void *)0);
    coil_group_go(g, sleeper, (void *)50);
    coil_sleep(UNIT);
    CHECK(coil_group_cancel(g) == 0);
    CHECK_ERRNO(coil_group_wait(g), EIO);       /* the earlier failure */
    return NULL;
}

TEST(a_failure_before_the_group_cancel_is_what_wait_reports)
{
    CHECK(run_task(group_failed_then_cancelled, NULL, NULL) == 0);
    CHECK_ERRNO(coil_group_cancel(NULL), EINVAL);
}

/* A second owner of a task handle: each reference is released once. */
static void *retained_main(void *arg)
{
    (void)arg;
    coil_task *t = coil_spawn(sleeper, (void *)0);
    CHECK(coil_task_retain(t) == t);
    CHECK(coil_task_retain(NULL) == NULL);
    coil_task_release(t);
    CHECK(coil_await(coil_task_future(t), NULL) == 0);  /* still valid */
    coil_task_release(t);
    return NULL;
}

TEST(a_retained_task_stays_valid_until_its_last_release)
{
    CHECK(run_task(retained_main, NULL, NULL) == 0);
}

RUN_TESTS(T(timeout_scope_unwinds_to_its_end_and_reports_etimedout),
          T(timeout_scope_that_does_not_fire_changes_nothing),
          T(outer_scope_firing_is_reported_by_the_outer_scope),
          T(inner_scope_firing_is_reported_by_the_inner_scope_only),
          T(scope_does_not_swallow_an_outside_cancel_arriving_at_the_same_time),
          T(timeout_scope_in_error_mode_returns_ecanceled_then_etimedout),
          T(timeout_scope_outside_a_task_is_eperm),
          T(null_scope_is_einval_and_a_null_handler_does_nothing),
          T(a_function_returning_inside_a_timeout_scope_is_reported_by_name),
          T(leaving_a_cleanup_block_without_its_pop_is_reported_by_name),
          T(group_waits_for_all_its_tasks),
          T(first_failure_cancels_the_rest_and_is_reported),
          T(cancelling_the_owner_cancels_and_waits_for_the_group),
          T(cancelling_the_owner_inside_the_wait_unwinds_and_frees_the_group),
          T(group_wait_covers_tasks_spawned_into_it_while_it_waits),
          T(spawning_into_a_failed_group_is_ecanceled),
          T(group_bad_arguments_are_einval),
          T(cancelling_a_group_cancels_its_tasks_and_wait_reports_ecanceled),
          T(a_task_of_the_group_may_cancel_the_whole_group),
          T(a_failure_before_the_group_cancel_is_what_wait_reports),
          T(a_retained_task_stays_valid_until_its_last_release))
