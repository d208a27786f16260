/*
 * bench/bench_dump.c — how long coil_dump_tasks takes over many tasks.
 *
 * A dump is made when someone is looking for a stuck task, possibly in a
 * big server: it must stay quick at 100,000 tasks.  The tasks all sleep at
 * the same place, as a server's idle connections wait at the same read,
 * so the symbol cache is what the number measures after the first task;
 * the unwinding is per task.
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dump_run {
    long ntasks;
    unsigned flags;
    uint64_t ns;
    int failed;
    char *err;
} dump_run;

static void *sleeper(void *arg)
{
    (void)arg;
    coil_sleep(COIL_SEC(3600));
    return NULL;
}

static void *dump_main(void *arg)
{
    dump_run *d = arg;
    coil_task **tasks = calloc((size_t)d->ntasks, sizeof *tasks);
    FILE *null = fopen("/dev/null", "w");
    long made = 0;
    if (!tasks || !null) {
        snprintf(d->err, BENCH_ERR_MAX, "out of memory");
        d->failed = 1;
        goto out;
    }
    for (; made < d->ntasks; made++)
        if (!(tasks[made] = coil_spawn(sleeper, NULL))) {
            snprintf(d->err, BENCH_ERR_MAX, "spawn %ld: %s", made,
                     strerror(errno));
            d->failed = 1;
            goto out;
        }
    coil_yield();                     /* every sleeper reaches its sleep */
    uint64_t t0 = bench_now_ns();
    int n = coil_dump_tasks(null, d->flags);
    d->ns = bench_now_ns() - t0;
    if (n != d->ntasks + 1) {
        snprintf(d->err, BENCH_ERR_MAX, "dumped %d of %ld tasks", n,
                 d->ntasks + 1);
        d->failed = 1;
    }
out:
    for (long i = 0; i < made; i++) {
        coil_task_cancel(tasks[i]);
        coil_await(coil_task_future(tasks[i]), NULL);
        coil_task_release(tasks[i]);
    }
    free(tasks);
    if (null)
        fclose(null);
    return NULL;
}

int bench_dump(long ntasks, unsigned flags, uint64_t *ns, char *err)
{
    dump_run d = {ntasks, flags, 0, 0, err};
    if (coil_run(dump_main, &d, NULL) != 0 && !d.failed) {
        snprintf(err, BENCH_ERR_MAX, "coil_run: %s", strerror(errno));
        return -1;
    }
    *ns = d.ns;
    return d.failed ? -1 : 0;
}
