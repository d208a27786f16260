/* Seed: the lifecycle of a cancelled task.  A worker runs for ever; after
 * 3 units main cancels it; the worker's cancellation handler does its
 * asynchronous clean-up (`await cleanup_resources()`), and the task ends
 * CANCELLED. */
#include "example.h"

static const char *state_name(coil_task *task)
{
    static const char *names[] = {"PENDING", "RUNNING", "DONE", "CANCELLED"};
    return names[coil_future_state(coil_task_future(task))];
}

/* The clean-up is itself a suspension: it may await whatever it needs. */
static void cleanup_resources(void *arg)
{
    (void)arg;
    printf("cleanup: releasing resources at %.1f\n", elapsed());
    coil_sleep(unit());
    printf("cleanup: done at %.1f\n", elapsed());
}

static void *worker(void *arg)
{
    (void)arg;
    coil_cleanup_push(cleanup_resources, NULL);
    for (int i = 1;; i++) {
        printf("worker: step %d\n", i);
        coil_sleep(unit());
    }
    coil_cleanup_pop(0);
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    coil_task *task = coil_spawn(worker, NULL);
    coil_sleep(unit() / 2);
    printf("state: %s\n", state_name(task));
    coil_sleep(3 * unit() - unit() / 2);
    printf("main: cancel at %.1f -> %d\n", elapsed(), coil_task_cancel(task));
    int r = coil_await(coil_task_future(task), NULL);
    printf("await: %d (%s)\n", r, r ? "ECANCELED" : "ok");
    printf("state: %s\n", state_name(task));
    printf("cancel again -> %d\n", coil_task_cancel(task));
    coil_task_release(task);
    return NULL;
}

int main(void)
{
    return run_timed(main_task) == 0 ? 0 : 1;
}
