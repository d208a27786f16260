/* Seed: read task.result() after the loop has run it. */
#include "example.h"

int main(void)
{
    start_clock();
    coil_task *task = coil_spawn(do_some_work, (void *)2);
    coil_await(coil_task_future(task), NULL);
    void *result;
    coil_future_result(coil_task_future(task), &result);
    printf("Task ret: %s\n", (const char *)result);
    coil_task_release(task);
    printf("TIME: %.2f\n", elapsed());
    return 0;
}
