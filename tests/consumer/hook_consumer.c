/* An installed libcoil_hook at work: a task's plain read() on an empty
 * pipe suspends the task, so the writer task gets to run and fill it.
 * Without the hooks the read blocks the only thread and the alarm fires. */
#include <coil.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fds[2];

static void *reader(void *unused)
{
    char buf[8] = {0};
    (void)unused;
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    return n == 5 && strcmp(buf, "hello") == 0 ? (void *)1L : NULL;
}

static void *main_task(void *unused)
{
    (void)unused;
    coil_task *t = coil_spawn(reader, NULL);
    coil_yield();              /* the reader runs now and parks in read() */
    if (write(fds[1], "hello", 5) != 5) return NULL;
    void *ok = NULL;
    coil_await(coil_task_future(t), &ok);
    coil_task_release(t);
    return ok;
}

int main(void)
{
    void *ok = NULL;
    alarm(10);
    if (pipe(fds) != 0 || coil_run(main_task, NULL, &ok) != 0 || !ok) {
        fprintf(stderr, "hook_consumer: the task's read did not yield\n");
        return 1;
    }
    puts("hook_consumer: read yielded");
    return 0;
}
