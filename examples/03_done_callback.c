/* Seed: task.add_done_callback(functools.partial(callback, 2)) — the extra
 * argument rides in the callback's void *. */
#include "example.h"

static void callback(coil_future *future, void *t)
{
    void *result;
    coil_future_result(future, &result);
    printf("Callback: %ld %s\n", (long)(intptr_t)t, (const char *)result);
}

int main(void)
{
    start_clock();
    coil_task *task = coil_spawn(do_some_work, (void *)2);
    coil_future_add_done_callback(coil_task_future(task), callback, (void *)2);
    /* Runs the loop until the task is done and its callbacks have run. */
    coil_await(coil_task_future(task), NULL);
    coil_task_release(task);
    printf("TIME:  %.2f\n", elapsed());
    return 0;
}
