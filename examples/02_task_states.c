/* Seed: a task printed pending before the loop runs, finished after. */
#include "example.h"

static void print_task(coil_task *task)
{
    char text[128];
    coil_task_describe(task, text, sizeof text);
    printf("%s\n", text);
}

int main(void)
{
    start_clock();
    coil_task *task = coil_spawn(do_some_work, (void *)2);
    print_task(task);
    coil_await(coil_task_future(task), NULL);
    print_task(task);
    coil_task_release(task);
    printf("TIME:  %.2f\n", elapsed());
    return 0;
}
