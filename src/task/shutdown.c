/*
 * src/task/shutdown.c — ending a loop's tasks before the loop closes.
 *
 * What coil_run and a runtime's loops do last (src/run/): a task layer
 * job, since it only cancels tasks and runs the loop until they are gone,
 * kept apart from the combinators it used to share a file with.
 */
#include <stdlib.h>

#include "coil.h"
#include "loop/loop.h"
#include "task/task.h"

static int no_live_tasks(void *loop)
{
    return coil__list_empty(coil__loop_tasks(loop));
}

/* The tasks one shutdown round cancels, held until they have ended. */
typedef struct round_tasks {
    coil_task **tasks;
    int n;
} round_tasks;

/* Cancel every live task (they unlink themselves as they end, so take a
 * snapshot first, and hold it: the round waits for these, not for tasks
 * their cleanup starts, which the next round cancels). */
static void cancel_all(coil_loop *loop, round_tasks *rt)
{
    int n = coil_loop_tasks(loop, NULL, 0);
    rt->n = 0;
    rt->tasks = n > 0 ? malloc((size_t)n * sizeof *rt->tasks) : NULL;
    if (!rt->tasks)
        return;
    rt->n = coil_loop_tasks(loop, rt->tasks, (size_t)n);
    for (int i = 0; i < rt->n; i++)
        coil_future_retain(coil_task_future(rt->tasks[i]));
    for (int i = 0; i < rt->n; i++)
        coil_task_cancel(rt->tasks[i]);
}

static int round_ended(void *arg)
{
    round_tasks *rt = arg;
    for (int i = 0; i < rt->n; i++)
        if (!coil_future_done(coil_task_future(rt->tasks[i])))
            return 0;
    return 1;
}

static void round_free(round_tasks *rt)
{
    for (int i = 0; i < rt->n; i++)
        coil_task_release(rt->tasks[i]);
    free(rt->tasks);
}

/* Shut down like asyncio.run: cancel what is left, let its cleanup run
 * (cleanup that spawns tasks gets those cancelled in the next round),
 * flush the callbacks that leaves behind, and go round again if the flush
 * made tasks (a spawn that arrived from another thread).  Bounded, so a
 * task that keeps respawning cannot hold the loop open for ever. */
void coil__loop_shutdown(coil_loop *loop)
{
    for (int round = 0; round < 100; round++) {
        if (no_live_tasks(loop)) {
            coil_loop_stop(loop);
            coil_loop_run_forever(loop);
            if (no_live_tasks(loop))
                return;
        }
        round_tasks rt;
        cancel_all(loop, &rt);
        coil__loop_run_until(loop, round_ended, &rt);
        round_free(&rt);
    }
}
