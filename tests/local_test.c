/*
 * tests/local_test.c — layer 4: task-local storage.  Destructors run
 * exactly once per value, on every way a task can end, and nowhere else.
 */
#include <stdint.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

#define I(v) ((void *)(intptr_t)(v))

static coil_task_key key, key2;
static int destroyed[8];
static coil_task *destroyed_in;

static void destroy(void *v)
{
    intptr_t i = (intptr_t)v;
    CHECK(i > 0 && i < 8);
    destroyed[i]++;
    destroyed_in = coil_task_current();
}

static void make_keys(void)
{
    memset(destroyed, 0, sizeof destroyed);
    CHECK(coil_task_key_new(&key, destroy) == 0);
    CHECK(coil_task_key_new(&key2, destroy) == 0);
    CHECK(key != key2);
}

static void *set_and_return(void *arg)
{
    CHECK(coil_task_local_get(key) == NULL);
    CHECK(coil_task_local_set(key, arg) == 0);
    CHECK(coil_task_local_set(key2, I(2)) == 0);
    CHECK(coil_yield() == 0);                   /* kept across a switch */
    CHECK(coil_task_local_get(key) == arg);
    CHECK(coil_task_local_get(key2) == I(2));
    return coil_task_current();
}

static void *ends_normally_main(void *arg)
{
    (void)arg;
    make_keys();
    coil_task *t = coil_spawn(set_and_return, I(1));
    CHECK(await_task(t) == destroyed_in);       /* on the task itself */
    CHECK(destroyed[1] == 1 && destroyed[2] == 1);
    CHECK(coil_task_local_get(key) == NULL);    /* not the spawner's */
    return NULL;
}

TEST(destructors_run_once_when_the_task_returns)
{
    run_main(ends_normally_main, NULL);
    CHECK(destroyed[1] == 1 && destroyed[2] == 1);   /* and not again */
}

static void *set_then_fail(void *arg)
{
    CHECK(coil_task_local_set(key, arg) == 0);
    return coil_task_error(EIO);
}

static void *set_then_sleep(void *arg)
{
    CHECK(coil_task_local_set(key, arg) == 0);
    coil_sleep(COIL_SEC(10));
    return NULL;
}

static void *failed_or_cancelled_main(void *arg)
{
    (void)arg;
    make_keys();
    coil_task *f = coil_spawn(set_then_fail, I(3));
    CHECK_ERRNO(coil_await(coil_task_future(f), NULL), EIO);
    coil_task_release(f);
    coil_task *c = coil_spawn(set_then_sleep, I(4));
    CHECK(coil_yield() == 0);
    CHECK(coil_task_cancel(c) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(c), NULL), ECANCELED);
    coil_task_release(c);
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *e = coil_task_spawn(&attr, set_then_sleep, I(5), "e");
    CHECK(coil_yield() == 0);
    CHECK(coil_task_cancel(e) == 1);
    await_task(e);
    CHECK(destroyed[3] == 1 && destroyed[4] == 1 && destroyed[5] == 1);
    return NULL;
}

TEST(destructors_run_once_when_the_task_fails_or_is_cancelled)
{
    run_main(failed_or_cancelled_main, NULL);
}

/* A destructor that sets a value again gets another round, not an
 * endless loop. */
static void set_again(void *v)
{
    destroyed[(intptr_t)v]++;
    CHECK(coil_task_local_set(key, I(7)) == 0);
}

static void *resets_main(void *arg)
{
    (void)arg;
    memset(destroyed, 0, sizeof destroyed);
    CHECK(coil_task_key_new(&key, set_again) == 0);
    coil_task *t = coil_spawn(set_then_fail, I(6));
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), EIO);
    coil_task_release(t);
    CHECK(destroyed[6] == 1 && destroyed[7] == 3);   /* 4 rounds in all */
    CHECK(coil_task_key_free(key) == 0);
    return NULL;
}

TEST(destructors_that_set_again_stop_after_four_rounds)
{
    run_main(resets_main, NULL);
}

static void *replace_clear_main(void *arg)
{
    (void)arg;
    make_keys();
    CHECK(coil_task_local_set(key, I(1)) == 0);
    CHECK(coil_task_local_set(key, I(3)) == 0);      /* 1 not destroyed */
    CHECK(coil_task_local_set(key2, I(2)) == 0);
    CHECK(coil_task_local_set(key2, NULL) == 0);     /* cleared */
    CHECK(coil_task_key_free(key2) == 0);
    CHECK_ERRNO(coil_task_key_free(key2), EINVAL);
    CHECK_ERRNO(coil_task_local_set(key2, I(2)), EINVAL);
    coil_task_key k3;
    CHECK(coil_task_key_new(&k3, NULL) == 0);        /* may reuse the slot */
    CHECK(coil_task_local_get(k3) == NULL);          /* no stale value */
    CHECK(coil_task_local_set(k3, I(5)) == 0);
    CHECK(coil_task_key_free(k3) == 0);
    return NULL;
}

TEST(set_replaces_without_destroying_and_freed_keys_are_einval)
{
    run_main(replace_clear_main, NULL);
    CHECK(destroyed[1] == 0 && destroyed[2] == 0 && destroyed[3] == 1);
    CHECK(destroyed[5] == 0);                        /* its key was freed */
}

TEST(outside_a_task_and_bad_keys)
{
    CHECK_ERRNO(coil_task_key_new(NULL, destroy), EINVAL);
    CHECK(coil_task_key_new(&key, destroy) == 0);
    CHECK_ERRNO(coil_task_local_set(key, I(1)), EPERM);
    CHECK_ERRNO(coil_task_local_get(key), EPERM);
    CHECK_ERRNO(coil_task_key_free(12345), EINVAL);
    CHECK(coil_task_key_free(key) == 0);
    coil_task_key k[300];
    int made = 0;
    while (made < 300 && coil_task_key_new(&k[made], NULL) == 0)
        made++;
    CHECK(made == 256 && errno == EAGAIN);
    for (int i = 0; i < made; i++)
        CHECK(coil_task_key_free(k[i]) == 0);
}

RUN_TESTS(T(destructors_run_once_when_the_task_returns),
          T(destructors_run_once_when_the_task_fails_or_is_cancelled),
          T(destructors_that_set_again_stop_after_four_rounds),
          T(set_replaces_without_destroying_and_freed_keys_are_einval),
          T(outside_a_task_and_bad_keys))
