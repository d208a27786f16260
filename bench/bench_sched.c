/*
 * bench/bench_sched.c — what coil's scheduler costs on top of the bare
 * context switch that bench_switch.c measures: the loop's ready queue, task
 * bookkeeping, futures and timers.
 *
 * yield        ntasks tasks, each calling coil_yield() in a loop: a trip
 *              round the ready queue, per task;
 * spawn_await  spawn a task that returns at once, await it, release it:
 *              the whole life of a short task;
 * sleep        coil_sleep(1 ms) in a task, and how late it comes back.
 *
 * Every repetition is a coil_run() of its own, so that no task or timer
 * left from one can slow the next; making and closing the loop stays out of
 * the timed span.  bench/sched.go and bench/sched.py do the same steps in
 * Go and asyncio.
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a main task reports back besides its result. */
typedef struct run_state {
    const char *failed;     /* the call that failed, or NULL */
    int err;                /* its errno */
} run_state;

/* Note the first failure; returns the task result that reports it. */
static void *fail(run_state *s, const char *call, int err)
{
    if (s->failed == NULL) {
        s->failed = call;
        s->err = err;
    }
    return coil_task_error(err);
}

/* Turn a coil_run() outcome into the bench's 0 / -1 with message. */
static int run_outcome(int rc, int run_errno, const run_state *s, char *err)
{
    if (s->failed != NULL) {
        snprintf(err, BENCH_ERR_MAX, "%s: %s", s->failed, strerror(s->err));
        return -1;
    }
    if (rc != 0) {
        snprintf(err, BENCH_ERR_MAX, "coil_run: %s", strerror(run_errno));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- yield */

typedef struct yield_state {
    run_state rs;
    long ntasks, per_task;
    uint64_t t0, t1;
} yield_state;

static void *yield_worker(void *arg)
{
    yield_state *y = arg;

    /* The start line.  The ready queue is FIFO and all tasks were queued
     * before any ran, so by the time the first task is back from this
     * yield every task has started: spawning stays out of the span. */
    if (coil_yield() != 0)
        return fail(&y->rs, "coil_yield", errno);
    if (y->t0 == 0)
        y->t0 = bench_now_ns();
    for (long i = 0; i < y->per_task; i++)
        if (coil_yield() != 0)
            return fail(&y->rs, "coil_yield", errno);
    y->t1 = bench_now_ns();      /* the last task to finish writes last */
    return NULL;
}

static void *yield_main(void *arg)
{
    yield_state *y = arg;
    coil_task **tasks = malloc((size_t)y->ntasks * sizeof *tasks);
    long spawned = 0;

    if (tasks == NULL)
        return fail(&y->rs, "malloc", ENOMEM);
    for (; spawned < y->ntasks; spawned++) {
        tasks[spawned] = coil_spawn(yield_worker, y);
        if (tasks[spawned] == NULL) {
            fail(&y->rs, "coil_spawn", errno);
            break;
        }
    }
    /* Await even after a failed spawn: the tasks that exist are running
     * and hold pointers to y. */
    for (long i = 0; i < spawned; i++) {
        if (coil_await(coil_task_future(tasks[i]), NULL) != 0)
            fail(&y->rs, "coil_await", errno);
        coil_task_release(tasks[i]);
    }
    free(tasks);
    return y->rs.failed ? coil_task_error(y->rs.err) : NULL;
}

int bench_yield(long ntasks, long count, uint64_t *elapsed_ns, char *err)
{
    yield_state y = {{NULL, 0}, ntasks, count / ntasks, 0, 0};
    if (y.per_task < 1)
        y.per_task = 1;
    int rc = coil_run(yield_main, &y, NULL);
    if (run_outcome(rc, errno, &y.rs, err) != 0)
        return -1;
    *elapsed_ns = y.t1 - y.t0;
    return 0;
}

/* ---------------------------------------------------------------- spawn */

static void *trivial(void *arg)
{
    return arg;
}

typedef struct spawn_state {
    run_state rs;
    long count;
    uint64_t elapsed_ns;
} spawn_state;

/* The loop itself, from a task or from the thread's own stack: coil_await
 * suspends the one and runs the loop for the other. */
static void *spawn_loop(spawn_state *s)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < s->count; i++) {
        /* A distinct result each time, checked: proof that the task ran. */
        void *in = (void *)(uintptr_t)(i + 1), *out = NULL;
        coil_task *t = coil_spawn(trivial, in);
        if (t == NULL)
            return fail(&s->rs, "coil_spawn", errno);
        int rc = coil_await(coil_task_future(t), &out);
        int e = errno;
        coil_task_release(t);
        if (rc != 0)
            return fail(&s->rs, "coil_await", e);
        if (out != in)
            return fail(&s->rs, "coil_await (wrong result)", EPROTO);
    }
    s->elapsed_ns = bench_now_ns() - t0;
    return NULL;
}

static void *spawn_main(void *arg)
{
    return spawn_loop(arg);
}

int bench_spawn_await(int outside, long count, uint64_t *elapsed_ns,
                      char *err)
{
    spawn_state s = {{NULL, 0}, count, 0};
    int rc = 0, e = 0;

    if (outside) {
        /* The default loop is made on first use: not inside the span. */
        if (coil_loop_default() == NULL) {
            snprintf(err, BENCH_ERR_MAX, "coil_loop_default: %s",
                     strerror(errno));
            return -1;
        }
        spawn_loop(&s);
        /* Like coil_run, leave no loop behind between repetitions. */
        coil_loop_close(coil_loop_default());
    } else {
        rc = coil_run(spawn_main, &s, NULL);
        e = errno;
    }
    if (run_outcome(rc, e, &s.rs, err) != 0)
        return -1;
    *elapsed_ns = s.elapsed_ns;
    return 0;
}

/* --------------------------------------------------------------- fan-out */

typedef struct fanout_state {
    run_state rs;
    long width, count;
    uint64_t elapsed_ns;
    coil_task **tasks;
} fanout_state;

static void *fanout_main(void *arg)
{
    fanout_state *s = arg;
    uint64_t t0 = bench_now_ns();
    for (long done = 0; done < s->count; done += s->width) {
        for (long i = 0; i < s->width; i++) {
            s->tasks[i] = coil_spawn(trivial, (void *)(uintptr_t)(i + 1));
            if (s->tasks[i] == NULL) {
                for (long j = 0; j < i; j++)
                    coil_task_release(s->tasks[j]);
                return fail(&s->rs, "coil_spawn", errno);
            }
        }
        for (long i = 0; i < s->width; i++) {
            void *out = NULL;
            int rc = coil_await(coil_task_future(s->tasks[i]), &out);
            int e = errno;
            coil_task_release(s->tasks[i]);
            if (rc != 0)
                fail(&s->rs, "coil_await", e);
            else if (out != (void *)(uintptr_t)(i + 1))
                fail(&s->rs, "coil_await (wrong result)", EPROTO);
        }
        if (s->rs.failed)
            return NULL;
    }
    s->elapsed_ns = bench_now_ns() - t0;
    return NULL;
}

int bench_spawn_fanout(long width, long count, uint64_t *elapsed_ns,
                       char *err)
{
    fanout_state s = {{NULL, 0}, width, count, 0, NULL};
    s.tasks = malloc((size_t)width * sizeof *s.tasks);
    if (s.tasks == NULL) {
        snprintf(err, BENCH_ERR_MAX, "malloc: %s", strerror(errno));
        return -1;
    }
    int rc = coil_run(fanout_main, &s, NULL);
    int e = errno;
    free(s.tasks);
    if (run_outcome(rc, e, &s.rs, err) != 0)
        return -1;
    *elapsed_ns = s.elapsed_ns;
    return 0;
}

/* ---------------------------------------------------------------- sleep */

typedef struct sleep_state {
    run_state rs;
    long count;
    int64_t delay_ns;
    int64_t *overshoot_ns;
} sleep_state;

static void *sleep_main(void *arg)
{
    sleep_state *s = arg;
    for (long i = 0; i < s->count; i++) {
        coil_time t0 = coil_clock();
        if (coil_sleep(s->delay_ns) != 0)
            return fail(&s->rs, "coil_sleep", errno);
        s->overshoot_ns[i] = coil_clock() - t0 - s->delay_ns;
    }
    return NULL;
}

int bench_sleep_floor(long count, int64_t delay_ns, int64_t *overshoot_ns,
                      char *err)
{
    struct timespec ts = {delay_ns / 1000000000, delay_ns % 1000000000};
    for (long i = 0; i < count; i++) {
        coil_time t0 = coil_clock();
        int e;
        while ((e = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL)) == EINTR)
            ;
        if (e != 0) {
            snprintf(err, BENCH_ERR_MAX, "clock_nanosleep: %s", strerror(e));
            return -1;
        }
        overshoot_ns[i] = coil_clock() - t0 - delay_ns;
    }
    return 0;
}

int bench_sleep(long count, int64_t delay_ns, int64_t *overshoot_ns,
                char *err)
{
    sleep_state s = {{NULL, 0}, count, delay_ns, overshoot_ns};
    int rc = coil_run(sleep_main, &s, NULL);
    return run_outcome(rc, errno, &s.rs, err);
}
