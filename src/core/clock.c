/*
 * src/core/clock.c — coil's one clock (layer 1).
 *
 * Below the loop because the stack pool dates its idle stacks with it too,
 * and layer 1 may not call layer 3: the loop's timers and the pool's trims
 * must agree on what "now" is.
 */
#include <time.h>

#include "coil.h"

coil_time coil_clock(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer; it is a vDSO call,
     * no syscall, which is why the loop can afford to read it often. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (coil_time)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
