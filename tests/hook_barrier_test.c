/*
 * tests/hook_barrier_test.c — the hook layer's pthread barriers
 * (src/hook/barrier.c): tasks of one thread that meet at a barrier park
 * until the last arrives (with glibc's the first blocked the thread, and
 * the rest never came: the watchdog would fail the test), plain threads
 * and tasks meet at one barrier, every round has exactly one serial
 * party, a cancelled task finishes its round first, and bad input is
 * EINVAL or EBUSY.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

enum { TASKS = 8, ROUNDS = 200 };

static pthread_barrier_t bar;
static _Atomic int serial_count;
static _Atomic int arrived_at[ROUNDS];   /* parties that reached round i */

/* Every party: ROUNDS rounds; none is let past round i's wait before
 * every party has reached it (else the barrier let someone run ahead). */
static void party(int parties)
{
    for (int i = 0; i < ROUNDS; i++) {
        atomic_fetch_add(&arrived_at[i], 1);
        int r = pthread_barrier_wait(&bar);
        CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
        CHECK(atomic_load(&arrived_at[i]) == parties);
        if (r == PTHREAD_BARRIER_SERIAL_THREAD)
            atomic_fetch_add(&serial_count, 1);
    }
}

static void reset(unsigned parties)
{
    atomic_store(&serial_count, 0);
    for (int i = 0; i < ROUNDS; i++)
        atomic_store(&arrived_at[i], 0);
    CHECK(pthread_barrier_init(&bar, NULL, parties) == 0);
}

static void *task_party(void *arg)
{
    party((int)(intptr_t)arg);
    return NULL;
}

/* In a task: n tasks of this loop as parties of a barrier of `parties`. */
static void tasks_as_parties(int n, int parties)
{
    coil_task *t[16];
    CHECK(n <= 16);
    for (int i = 0; i < n; i++)
        CHECK((t[i] = coil_spawn(task_party, (void *)(intptr_t)parties)) !=
              NULL);
    for (int i = 0; i < n; i++)
        await_task(t[i]);
}

static void *tasks_main(void *arg)
{
    (void)arg;
    tasks_as_parties(TASKS, TASKS);
    return NULL;
}

TEST(tasks_of_one_thread_meet_at_a_barrier_round_after_round)
{
    watchdog();
    reset(TASKS);
    run_main(tasks_main, NULL);
    CHECK(atomic_load(&serial_count) == ROUNDS);  /* one a round */
    CHECK(atomic_load(&arrived_at[ROUNDS - 1]) == TASKS);
    CHECK(pthread_barrier_destroy(&bar) == 0);
}

/* Two plain threads and two loops' tasks at one barrier. */
enum { THREADS = 2, LOOPS = 2, PER_LOOP = 3 };
#define PARTIES (THREADS + LOOPS * PER_LOOP)

static void *plain_party(void *arg)
{
    (void)arg;
    party(PARTIES);
    return NULL;
}

static void *loop_main(void *arg)
{
    (void)arg;
    tasks_as_parties(PER_LOOP, PARTIES);
    return NULL;
}

static void *loop_thread(void *arg)
{
    run_main(loop_main, arg);
    return NULL;
}

TEST(plain_threads_and_tasks_of_two_loops_meet_at_one_barrier)
{
    watchdog();
    reset(PARTIES);
    pthread_t th[THREADS + LOOPS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, plain_party, NULL) == 0);
    for (int i = 0; i < LOOPS; i++)
        CHECK(pthread_create(&th[THREADS + i], NULL, loop_thread, NULL) ==
              0);
    for (int i = 0; i < THREADS + LOOPS; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(atomic_load(&serial_count) == ROUNDS);
    CHECK(atomic_load(&arrived_at[ROUNDS - 1]) == PARTIES);
    CHECK(pthread_barrier_destroy(&bar) == 0);
}

/* A task cancelled while it waits at the barrier: its arrival counted, it
 * stays until the round ends (the other party is not left waiting for
 * a party that left), and unwinds as its wait returns. */
static _Atomic int passed;

static void *waits_once(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&bar);
    atomic_store(&passed, 1);             /* not reached: it unwinds */
    return NULL;
}

static void *cancel_main(void *arg)
{
    (void)arg;
    coil_task *t = coil_spawn(waits_once, NULL);
    CHECK(t != NULL);
    coil_sleep(COIL_MSEC(20));            /* it arrives, and waits */
    CHECK(!task_ended(t));
    CHECK(coil_task_cancel(t) == 1);
    coil_sleep(COIL_MSEC(20));            /* the cancel does not end it */
    CHECK(!task_ended(t));
    CHECK(pthread_barrier_destroy(&bar) == EBUSY);   /* a round under way */
    CHECK(pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD);
    CHECK(coil_await(coil_task_future(t), NULL) == -1 && errno == ECANCELED);
    CHECK(atomic_load(&passed) == 0);
    coil_task_release(t);
    return NULL;
}

TEST(a_cancelled_task_finishes_its_round_then_unwinds)
{
    watchdog();
    CHECK(pthread_barrier_init(&bar, NULL, 2) == 0);
    run_main(cancel_main, NULL);
    CHECK(pthread_barrier_destroy(&bar) == 0);
}

TEST(bad_barriers_are_einval)
{
    pthread_barrier_t b;
    CHECK(pthread_barrier_init(&b, NULL, 0) == EINVAL);
    memset(&b, 0, sizeof b);              /* never initialised */
    CHECK(pthread_barrier_wait(&b) == EINVAL);
    CHECK(pthread_barrier_destroy(&b) == EINVAL);
    CHECK(pthread_barrier_init(&b, NULL, 1) == 0);
    CHECK(pthread_barrier_wait(&b) == PTHREAD_BARRIER_SERIAL_THREAD);
    CHECK(pthread_barrier_destroy(&b) == 0);
    CHECK(pthread_barrier_wait(&b) == EINVAL);    /* destroyed */
}

RUN_TESTS(T(tasks_of_one_thread_meet_at_a_barrier_round_after_round),
          T(plain_threads_and_tasks_of_two_loops_meet_at_one_barrier),
          T(a_cancelled_task_finishes_its_round_then_unwinds),
          T(bad_barriers_are_einval))
