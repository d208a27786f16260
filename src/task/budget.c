/*
 * src/task/budget.c — the cooperative budget (layer 4): a task that has
 * completed coil_budget() counted operations without suspending yields at
 * its next one (docs/scheduler.md, "Fairness").
 *
 * The count lives in one thread-local word, coil__budget_left (task.h
 * says what it holds when; core/coro.c keeps it, as coil_coro_resume
 * hides it), and costs the counted calls a compare and a decrement:
 * task.c's enter()
 * fills it from coil__budget_full each time it hands the CPU to a task,
 * so it always counts from the running task's last suspension.  Only the
 * setting is here: the default and the environment, and the yield once
 * the word has run down, out of line because it is rare.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "coil.h"
#include "loop/loop.h"
#include "task/task.h"
#include "task/task_impl.h"

/* 128, as Tokio's coop budget.  The cheapest counted operation is a line
 * handed out of a stream's buffer, ~25 ns (docs/benchmarks.md); a forced
 * yield costs what coil_yield does, ~13 ns with other tasks ready (less
 * with none): 0.4% of a slice of 128 such reads.  The slice itself stays
 * short: 128 syscalls that found data are ~100-300 us on this VM, a few
 * of the busy loop's 50 us looks at IO. */
#define DEFAULT_OPS 128u

/* The budget a task gets when it is resumed: ops, or all ones for "off". */
_Atomic uint64_t coil__budget_full = DEFAULT_OPS;

static uint64_t full_for(unsigned ops)
{
    return ops ? ops : UINT64_MAX;
}

/* COIL_BUDGET=<ops> (0: off), read as the library loads, before any task
 * can run: the resume path reads the setting without asking whether it
 * has been read.  Unparsable or out of range: the default. */
COIL__REGISTER static void budget_from_env(void)
{
    const char *s = getenv("COIL_BUDGET");
    if (!s || !*s)
        return;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0 || v > UINT_MAX)
        return;
    atomic_store_explicit(&coil__budget_full, full_for((unsigned)v),
                          memory_order_relaxed);
}

unsigned coil_budget_set(unsigned ops)
{
    uint64_t full = full_for(ops);
    uint64_t was = atomic_exchange_explicit(&coil__budget_full, full,
                                            memory_order_relaxed);
    /* The calling task (if one) counts from the new setting at once, not
     * from its next suspension, when that is sooner. */
    if (coil__budget_left > full)
        coil__budget_left = full;
    return was == UINT64_MAX ? 0 : (unsigned)was;
}

unsigned coil_budget(void)
{
    uint64_t full = atomic_load_explicit(&coil__budget_full,
                                         memory_order_relaxed);
    return full == UINT64_MAX ? 0 : (unsigned)full;
}

int coil__budget_yield(void)
{
    coil_task *t = coil__task_self();
    if (!t)
        return 0;                     /* the call reports EPERM itself */
    /* A whole budget's calls may have taken a while (128 syscalls that
     * found data: ~250 us here), and a loop that counted items would look
     * at its clock only every 32 of them: 8 ms for a due timer. */
    coil__loop_note_long_item(t->fut.loop);
    if (coil_yield() != 0)
        return -1;
    /* Resumed with a full budget (task.c refills it on every resumption,
     * a yield that found nothing else to run included); this call's own
     * operation comes out of it. */
    coil__budget_left--;
    return 0;
}
