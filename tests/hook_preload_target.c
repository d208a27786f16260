/*
 * tests/hook_preload_target.c — a program linked with libcoil only: a
 * task reads a pipe with plain read() while a ticker task counts, and a
 * plain thread writes the pipe 200 ms later.  Without the hooks the read
 * blocks the loop's thread, so the ticker never runs; with
 * LD_PRELOAD=libcoil_hook.so it suspends the task and the ticker runs.
 * Prints the ticks; exits 0 if that matches argv[1] ("yields" or
 * "blocks").
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coil.h"

static int p[2];
static volatile int ticking = 1;
static long ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (ticking) {
        ticks++;
        coil_sleep(COIL_MSEC(5));
    }
    return NULL;
}

static void *late_writer(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);                  /* a plain thread: libc's */
    return write(p[1], "x", 1) == 1 ? NULL : (void *)1;
}

static void *main_task(void *arg)
{
    (void)arg;
    coil_task *t = coil_spawn(ticker, NULL);
    coil_sleep(COIL_MSEC(1));              /* let it start */
    long before = ticks;
    char c;
    if (read(p[0], &c, 1) != 1)
        return (void *)1;
    ticks -= before;
    ticking = 0;
    coil_await(coil_task_future(t), NULL);
    coil_task_release(t);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2 || pipe(p) != 0)
        return 2;
    pthread_t th;
    pthread_create(&th, NULL, late_writer, NULL);
    if (coil_run(main_task, NULL, NULL) != 0)
        return 2;
    pthread_join(th, NULL);
    printf("ticks while reading: %ld\n", ticks);
    int yielded = ticks >= 10;
    return yielded == (strcmp(argv[1], "yields") == 0) ? 0 : 1;
}
