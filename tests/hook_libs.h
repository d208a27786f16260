/*
 * tests/hook_libs.h — what the real-library hook tests share: run one
 * body in N tasks at once and check that they overlapped.
 *
 * Each test first times the body once alone (the reference, taken in the
 * same run, so a loaded machine slows both), then N copies in N tasks of
 * one loop.  Run one after another they would take N x the reference; if
 * the hooks make the library's blocking calls yield, the N finish in
 * little more than one.  The bound is a generous fraction of the serial
 * time, and at least half of the N must have been under way at once.
 * Include after check.h and coil.h.
 */
#ifndef COIL_TEST_HOOK_LIBS_H
#define COIL_TEST_HOOK_LIBS_H

#include <stdio.h>

typedef void (*lib_body)(int i);

typedef struct {
    lib_body body;
    int i;
} lib_job;

/* How many bodies are under way at once, and the most there were: a
 * body that blocked the thread would keep this at 1 whatever the load. */
static int lib_in_flight, lib_peak;

static void *lib_task(void *arg)
{
    lib_job *j = arg;
    if (++lib_in_flight > lib_peak)
        lib_peak = lib_in_flight;
    j->body(j->i);
    lib_in_flight--;
    return NULL;
}

typedef struct {
    lib_body body;
    int n;
    double fraction;              /* of the serial time, the bound */
    const char *what;
} lib_run;

static void *lib_main(void *arg)
{
    lib_run *r = arg;
    coil_time t0 = coil_clock();
    r->body(-1);                  /* alone: the reference */
    coil_time one = coil_clock() - t0;
    lib_job *jobs = calloc((size_t)r->n, sizeof *jobs);
    coil_task **tasks = calloc((size_t)r->n, sizeof *tasks);
    CHECK(jobs && tasks);
    t0 = coil_clock();
    for (int i = 0; i < r->n; i++) {
        jobs[i] = (lib_job){r->body, i};
        tasks[i] = coil_spawn(lib_task, &jobs[i]);
        CHECK(tasks[i]);
    }
    for (int i = 0; i < r->n; i++) {
        CHECK(coil_await(coil_task_future(tasks[i]), NULL) == 0);
        coil_task_release(tasks[i]);
    }
    coil_time all = coil_clock() - t0;
    double serial = (double)one * r->n;
    /* The time bound widens with the load (a body that spends CPU, as a
     * PostgreSQL connection does, overlaps less on a busy machine), but
     * never to the serial time; the peak says "overlapped" at any load. */
    double fraction = r->fraction * load_slack();
    fraction = fraction < 0.8 ? fraction : 0.8;
    printf("  %s: one alone %.3f s; %d in tasks %.3f s (serial: %.3f s, "
           "bound %.3f s), %d at once at most\n", r->what, one / 1e9, r->n,
           all / 1e9, serial / 1e9, serial * fraction / 1e9, lib_peak);
    fflush(stdout);
    CHECK(lib_peak >= r->n / 2);
    CHECK((double)all < serial * fraction);
    free(jobs);
    free(tasks);
    return NULL;
}

/* Run body alone, then in n tasks; they must take < fraction x serial. */
static void lib_overlap(lib_body body, int n, double fraction, const char *what)
{
    lib_run r = {body, n, fraction, what};
    void *res;
    CHECK(coil_run(lib_main, &r, &res) == 0);
}

#endif
