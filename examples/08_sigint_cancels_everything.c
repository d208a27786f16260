/* Seed: Ctrl-C during loop.run_until_complete(): every task is cancelled
 * (asyncio.gather(*asyncio.Task.all_tasks()).cancel()), each cleans up, and
 * the loop closes cleanly — nothing is left pending. */
#include <errno.h>
#include <string.h>

#include "example.h"

static void cleaned_up(void *arg)
{
    printf("worker %ld: cancelled, cleaning up\n", (long)(intptr_t)arg);
    fflush(stdout);
}

static void *worker(void *arg)
{
    coil_cleanup_push(cleaned_up, arg);
    printf("worker %ld: waiting\n", (long)(intptr_t)arg);
    fflush(stdout);
    coil_sleep(100 * unit());
    coil_cleanup_pop(0);
    return arg;
}

/* main itself is unwound by the cancellation, so code after the gather
 * never runs: what must happen either way goes in a cleanup handler. */
static void release_tasks(void *arg)
{
    coil_task **tasks = arg;
    for (int i = 0; i < 3; i++)
        coil_task_release(tasks[i]);
}

static void *main_task(void *arg)
{
    (void)arg;
    coil_task *tasks[3];
    coil_future *fs[3];
    for (intptr_t i = 0; i < 3; i++) {
        tasks[i] = coil_spawn(worker, (void *)(i + 1));
        fs[i] = coil_task_future(tasks[i]);
    }
    coil_cleanup_push(release_tasks, tasks);
    coil_sleep(unit() / 10);
    printf("started: press Ctrl-C\n");
    fflush(stdout);
    coil_gather(fs, 3, NULL, NULL, COIL_GATHER_COLLECT_ERRORS);
    coil_cleanup_pop(1);
    return NULL;
}

int main(void)
{
    start_clock();
    int r = coil_run(main_task, NULL, NULL);
    printf("coil_run: %d (%s)\n", r, r ? strerrorname_np(errno) : "ok");
    printf("TIME: %.2f\n", elapsed());
    return 0;
}
