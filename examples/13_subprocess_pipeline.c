/* A shell pipeline built from tasks and children:
 *
 *     printf 'b\na\nc\n' | sort | tr a-z A-Z
 *
 * sort and tr are spawned with coil_process_spawn; sort's stdout is handed
 * to tr as its stdin (the kernel moves those bytes; we never see them).  One
 * task feeds sort's stdin through a pipe, another reads tr's stdout, and
 * main awaits both tasks and then both exit statuses.  While the children
 * work, the loop is free: a ticker task keeps running. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "example.h"

static char *const env[] = {"LC_ALL=C", "PATH=/usr/bin:/bin", NULL};

static void *feed(void *arg)
{
    coil_process *sort = arg;
    static const char input[] = "b\na\nc\n";
    printf("feeder: writing %zu bytes to sort\n", sizeof input - 1);
    if (coil_write_all(coil_process_stdin(sort), input, sizeof input - 1,
                       NULL) < 0)
        return coil_task_error(errno);
    coil_process_close_pipe(sort, 0);    /* EOF: now sort can sort */
    return NULL;
}

static void *collect(void *arg)
{
    coil_process *tr = arg;
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 &&
           (n = coil_read(coil_process_stdout(tr), buf + got,
                          sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        printf("result: %s\n", line);
    return NULL;
}

static void print_status(const char *name, int status)
{
    if (WIFEXITED(status))
        printf("%s: exited with status %d\n", name, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", name, WTERMSIG(status));
}

static void *main_task(void *arg)
{
    (void)arg;
    coil_process *sort = coil_process_spawn(
        "sort", (char *[]){"sort", NULL}, env,
        COIL_PIPE_STDIN | COIL_PIPE_STDOUT | COIL_SPAWN_SEARCH_PATH);
    if (!sort) {
        printf("spawn sort: %s\n", strerror(errno));
        return coil_task_error(errno);
    }
    int wire[3] = {coil_process_stdout(sort), -1, -1};
    coil_process *tr = coil_process_spawn_stdio(
        "tr", (char *[]){"tr", "a-z", "A-Z", NULL}, env,
        COIL_PIPE_STDOUT | COIL_SPAWN_SEARCH_PATH, wire);
    if (!tr) {
        printf("spawn tr: %s\n", strerror(errno));
        coil_process_release(sort);
        return coil_task_error(errno);
    }
    /* tr holds the read end now; ours would only keep sort from seeing
     * EPIPE if tr died. */
    coil_process_close_pipe(sort, 1);
    printf("spawned: sort (pid %d) | tr (pid %d)\n",
           (int)coil_process_pid(sort), (int)coil_process_pid(tr));

    coil_task *feeder = coil_spawn(feed, sort);
    coil_task *reader = coil_spawn(collect, tr);
    coil_await(coil_task_future(feeder), NULL);
    coil_await(coil_task_future(reader), NULL);
    coil_task_release(feeder);
    coil_task_release(reader);

    int status;
    if (coil_process_wait(sort, &status, coil_clock() + 10 * unit()) == 0)
        print_status("sort", status);
    if (coil_process_wait(tr, &status, coil_clock() + 10 * unit()) == 0)
        print_status("tr", status);
    coil_process_release(sort);
    coil_process_release(tr);
    return NULL;
}

int main(void)
{
    start_clock();
    int r = coil_run(main_task, NULL, NULL);
    printf("coil_run: %d\n", r);
    printf("TIME: %.2f\n", elapsed());
    return r == 0 ? 0 : 1;
}
