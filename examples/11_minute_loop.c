/* Seed (tornado's minute_loop2): start the clock, do the work, then await
 * the clock — each round takes one period however long the work took, as
 * long as the work is shorter than the period. */
#include "example.h"

static void *tick(void *arg)
{
    coil_sleep((coil_time)(intptr_t)arg);
    return NULL;
}

static void *minute_loop(void *arg)
{
    (void)arg;
    for (int round = 1; round <= 3; round++) {
        double began = elapsed();
        coil_task *clock = coil_spawn(tick, (void *)(intptr_t)(2 * unit()));
        printf("round %d: work at %.1f\n", round, began);
        coil_sleep(unit() / 2);           /* the work */
        coil_await(coil_task_future(clock), NULL);
        coil_task_release(clock);
        printf("round %d: done at %.1f, took %.2f\n", round, elapsed(),
               elapsed() - began);
    }
    return NULL;
}

int main(void)
{
    return run_timed(minute_loop) == 0 ? 0 : 1;
}
