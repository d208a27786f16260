/*
 * examples/example.h — what the seed-article examples share.
 *
 * The articles sleep whole seconds; here a "unit" is a second unless the
 * environment says COIL_UNIT_MS=<n> (the tests run them with 20 ms).
 * do_some_work(x) is the articles' coroutine: print, sleep x units, return
 * "Done after {x}s".
 */
#ifndef COIL_EXAMPLE_H
#define COIL_EXAMPLE_H

#include <coil.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static coil_time example_start;

static inline coil_time unit(void)
{
    const char *ms = getenv("COIL_UNIT_MS");
    return COIL_MSEC(ms && atoi(ms) > 0 ? atoi(ms) : 1000);
}

static inline void start_clock(void)
{
    example_start = coil_clock();
}

/* Elapsed time in units, like the articles' `now() - start`. */
static inline double elapsed(void)
{
    return (double)(coil_clock() - example_start) / (double)unit();
}

static inline const char *done_after(intptr_t x)
{
    static char text[8][32];
    snprintf(text[x & 7], sizeof text[0], "Done after %lds", (long)x);
    return text[x & 7];
}

/* async def do_some_work(x): print('Waiting: ', x); await asyncio.sleep(x);
 * return 'Done after {}s'.format(x) */
static inline void *do_some_work(void *arg)
{
    intptr_t x = (intptr_t)arg;
    printf("Waiting:  %ld\n", (long)x);
    fflush(stdout);
    coil_sleep(x * unit());
    return (void *)done_after(x);
}

/* asyncio.run(main()) followed by the articles' print('TIME: ', ...). */
static inline int run_timed(coil_task_fn main_fn)
{
    start_clock();
    int r = coil_run(main_fn, NULL, NULL);
    printf("TIME: %.2f\n", elapsed());
    return r;
}

#endif
