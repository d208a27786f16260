/* Seed: run a coroutine to completion with loop.run_until_complete(). */
#include "example.h"

int main(void)
{
    start_clock();
    coil_task *task = coil_spawn(do_some_work, (void *)2);
    coil_await(coil_task_future(task), NULL);   /* runs the loop until done */
    coil_task_release(task);
    printf("TIME:  %.2f\n", elapsed());
    return 0;
}
