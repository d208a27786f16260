/*
 * examples/15_loop_in_thread.c — the seeds' "event loop in another thread".
 *
 *     def start_loop(loop):
 *         asyncio.set_event_loop(loop)
 *         loop.run_forever()
 *     new_loop = asyncio.new_event_loop()
 *     Thread(target=start_loop, args=(new_loop,)).start()
 *     new_loop.call_soon_threadsafe(more_work, 2)       # blocking work
 *     new_loop.call_soon_threadsafe(more_work, 1)
 *     fut = asyncio.run_coroutine_threadsafe(do_some_work(2), new_loop)
 *     print(fut.result())
 *
 * A loop runs forever in a background thread; main feeds it callbacks
 * (coil_call_soon_threadsafe) and tasks (coil_spawn_threadsafe), blocks on
 * the tasks' thread-safe futures, sees a task's error, times out on one
 * and cancels it, then stops the loop and joins its thread.  The blocking
 * callbacks hold the loop one after the other (2 + 1 units); the tasks,
 * which suspend, overlap (2 units, not 2 + 1).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

#include "example.h"

/* def more_work(x): print('More work', x); time.sleep(x); ... */
static void more_work(void *arg)
{
    long x = (long)(intptr_t)arg;
    printf("More work %ld\n", x);
    fflush(stdout);
    coil_time t = x * unit();
    struct timespec ts = {(time_t)(t / COIL_SEC(1)), (long)(t % COIL_SEC(1))};
    nanosleep(&ts, NULL);               /* blocks the loop, as in the article */
    printf("Finished more work %ld at %.2f\n", x, elapsed());
    fflush(stdout);
}

static void *fetch_refused(void *arg)
{
    (void)arg;
    coil_sleep(unit() / 2);
    return coil_task_error(ECONNREFUSED);
}

static void *slow_one(void *arg)
{
    (void)arg;
    coil_sleep(3 * unit());
    printf("Finished the slow one\n");  /* never: it is cancelled */
    return NULL;
}

typedef struct background {
    coil_loop *loop;
    sem_t ready;
} background;

/* def start_loop(loop): loop.run_forever() — the loop is made here, on
 * the thread that runs it (a loop belongs to one thread). */
static void *start_loop(void *arg)
{
    background *bg = arg;
    bg->loop = coil_loop_new();
    if (!bg->loop) {
        perror("coil_loop_new");
        exit(1);
    }
    printf("Loop running in a background thread\n");
    fflush(stdout);
    sem_post(&bg->ready);
    coil_loop_run_forever(bg->loop);
    coil_loop_close(bg->loop);
    return NULL;
}

static void print_outcome(const char *what, coil_tfuture *f)
{
    void *out;
    if (coil_tfuture_wait(f, -1, &out) == 0)
        printf("Task ret: %s at %.2f\n", (const char *)out, elapsed());
    else
        printf("%s: %s\n", what, strerrorname_np(errno));
    fflush(stdout);
}

int main(void)
{
    start_clock();
    background bg;
    sem_init(&bg.ready, 0, 0);
    pthread_t thread;
    if (pthread_create(&thread, NULL, start_loop, &bg) != 0)
        return 1;
    while (sem_wait(&bg.ready) != 0)
        ;

    coil_call_soon_threadsafe(bg.loop, more_work, (void *)2);
    coil_call_soon_threadsafe(bg.loop, more_work, (void *)1);
    coil_tfuture *two = coil_spawn_threadsafe(bg.loop, do_some_work, (void *)2);
    coil_tfuture *one = coil_spawn_threadsafe(bg.loop, do_some_work, (void *)1);
    coil_tfuture *bad = coil_spawn_threadsafe(bg.loop, fetch_refused, NULL);
    if (!two || !one || !bad) {
        perror("coil_spawn_threadsafe");
        return 1;
    }
    print_outcome("Task error", two);
    print_outcome("Task error", one);
    print_outcome("Task error", bad);

    coil_tfuture *slow = coil_spawn_threadsafe(bg.loop, slow_one, NULL);
    if (coil_tfuture_wait(slow, unit(), NULL) != 0)
        printf("Waited 1 unit: %s\n", strerrorname_np(errno));
    coil_tfuture_cancel(slow);
    if (coil_tfuture_wait(slow, -1, NULL) != 0)
        printf("Cancelled: %s\n", strerrorname_np(errno));

    coil_loop_stop(bg.loop);            /* safe from any thread */
    pthread_join(thread, NULL);
    printf("Loop stopped and joined\n");
    printf("TIME: %.2f\n", elapsed());
    coil_tfuture_release(two);
    coil_tfuture_release(one);
    coil_tfuture_release(bad);
    coil_tfuture_release(slow);
    sem_destroy(&bg.ready);
    return 0;
}
