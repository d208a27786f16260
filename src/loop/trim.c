/*
 * src/loop/trim.c — when a loop hands idle stacks back (layer 3): the
 * pacing of the stack pool's trim around the loop's polls.
 *
 * The thread's stack pool hands back stacks that stayed idle beyond its
 * quota for a whole period (stack.c), and has no clock of its own: before
 * each poll, do a trim that is due, and sleep no longer than until the
 * next one, so that memory a burst of tasks left idle goes back even if
 * nothing else happens.
 *
 * A trim goes in batches of a madvise a stack: a few hundred µs a batch
 * on the VM coil is measured on, a millisecond and more once the process
 * has other threads (each madvise is then a TLB shootdown).  A batch run
 * just before a wait makes the wait's timer that late (it did: the 1 ms
 * sleep's p99 was 3-5x the bare nanosleep's, every late sleep a batch),
 * and one run at a busy look holds up the ready work as long (a task a
 * timer had just woken, the same p99).  So a batch runs (coil__trim_fits)
 * before a wait with room for it, and the wait's timeout counts the time
 * it took; otherwise a batch waits up to COIL__TRIM_PUT_OFF_MAX.  Per
 * thread, as the pool is.
 */
#include "coil.h"
#include "core/stack.h"
#include "loop/loop.h"

static __thread coil__trim_pace trim_pace;

int coil__trim_fits(const coil__trim_pace *p, coil_time timeout,
                    coil_time now)
{
    return timeout < 0 || (timeout > 0 && timeout >= COIL__TRIM_ROOM * p->cost) ||
           now - p->put_off >= COIL__TRIM_PUT_OFF_MAX;
}

coil_time coil__loop_trim_stacks(coil_time timeout)
{
    int64_t at = coil__stack_trim_at();
    if (at == 0)
        return timeout;
    coil_time now = coil_clock();
    if (now >= at) {
        coil__trim_pace *p = &trim_pace;
        if (p->put_off == 0)
            p->put_off = now;
        if (!coil__trim_fits(p, timeout, now))
            return timeout;           /* later, with more room */
        coil__stack_pool_trim(now);
        coil_time after = coil_clock(), took = after - now;
        /* Up at once, down slowly: a call with little left to do must not
         * make the next full batch look free. */
        p->cost = took > p->cost ? took : (p->cost + took) / 2;
        p->put_off = 0;
        if (timeout > 0)
            timeout = timeout > took ? timeout - took : 0;
        now = after;
        if ((at = coil__stack_trim_at()) == 0)
            return timeout;
    }
    coil_time left = at > now ? at - now : 0;
    return timeout < 0 || left < timeout ? left : timeout;
}
