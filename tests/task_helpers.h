/*
 * tests/task_helpers.h — what the task-level suites share: run a test's
 * body as the main task of a fresh loop, and await a task for its result.
 * Include after check.h and coil.h.
 */
#ifndef COIL_TEST_TASK_HELPERS_H
#define COIL_TEST_TASK_HELPERS_H

/* coil_run(fn, arg): the body must end normally. */
__attribute__((unused)) static void run_main(coil_task_fn fn, void *arg)
{
    void *result = NULL;
    CHECK(coil_run(fn, arg, &result) == 0);
}

/* Await t (which must exist and succeed), release it, return its result. */
__attribute__((unused)) static void *await_task(coil_task *t)
{
    void *v = NULL;
    CHECK(t);
    CHECK(coil_await(coil_task_future(t), &v) == 0);
    coil_task_release(t);
    return v;
}

#endif
