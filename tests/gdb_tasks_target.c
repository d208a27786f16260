/*
 * tests/gdb_tasks_target.c — the program tests/gdb_tasks_test.sh looks at with gdb:
 * 100 tasks, one of them stuck reading a pipe three calls deep, and main
 * waiting on stdin.  Writes "ready" to fd 3 once every task waits, and
 * ends when stdin closes.  Built -O0 -g: the test reads a local.
 */
#include <unistd.h>

#include "coil.h"

int stuck_level1(int fd);
int stuck_level2(int fd);
int stuck_level3(int fd);

static int pipe_fds[2];

__attribute__((noinline)) int stuck_level3(int fd)
{
    char c;
    int r = (int)coil_read(fd, &c, 1);
    return r + 1;
}

__attribute__((noinline)) int stuck_level2(int fd)
{
    volatile int marker = 4242;       /* what `info locals` must show */
    int r = stuck_level3(fd);
    return r + marker;
}

__attribute__((noinline)) int stuck_level1(int fd)
{
    int r = stuck_level2(fd);
    return r + 1;
}

static void *stuck_task(void *arg)
{
    (void)arg;
    stuck_level1(pipe_fds[0]);
    return NULL;
}

static void *idle_task(void *arg)
{
    (void)arg;
    coil_sleep(COIL_SEC(3600));
    return NULL;
}

/* Where a debugger that cannot attach (qemu's gdbstub) stops: every task
 * waits by then. */
__attribute__((noinline)) void all_tasks_waiting(void);
__attribute__((noinline)) void all_tasks_waiting(void)
{
    __asm__ volatile("" ::: "memory");
}

static void *main_task(void *arg)
{
    (void)arg;
    coil_task *tasks[100];
    if (pipe(pipe_fds) != 0)
        return NULL;
    for (int i = 0; i < 100; i++) {
        coil_task_attr attr = {.name = "stuck"};
        tasks[i] = i == 50 ? coil_spawn_attr(&attr, stuck_task, NULL)
                           : coil_spawn(idle_task, NULL);
    }
    coil_yield();
    all_tasks_waiting();
    if (write(3, "ready\n", 6) != 6)
        return NULL;
    char c;
    while (coil_read(0, &c, 1) == 1)
        ;
    for (int i = 0; i < 100; i++) {
        coil_task_cancel(tasks[i]);
        coil_await(coil_task_future(tasks[i]), NULL);
        coil_task_release(tasks[i]);
    }
    return NULL;
}

int main(void)
{
    return coil_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
