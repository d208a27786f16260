/* Seed: three tasks sleeping 1, 2 and 4 units finish in about 4 units, not
 * 7: loop.run_until_complete(asyncio.wait(tasks)). */
#include "example.h"

int main(void)
{
    start_clock();
    coil_task *tasks[3] = {coil_spawn(do_some_work, (void *)1),
                           coil_spawn(do_some_work, (void *)2),
                           coil_spawn(do_some_work, (void *)4)};
    coil_future *fs[3];
    for (int i = 0; i < 3; i++)
        fs[i] = coil_task_future(tasks[i]);
    coil_wait(fs, 3, COIL_ALL_COMPLETED, -1, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        void *result;
        coil_future_result(fs[i], &result);
        printf("Task ret:  %s\n", (const char *)result);
        coil_task_release(tasks[i]);
    }
    printf("TIME:  %.2f\n", elapsed());
    return 0;
}
