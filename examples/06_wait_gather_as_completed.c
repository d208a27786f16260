/* Seed: a main coroutine awaits wait(), gather() and as_completed() over
 * do_some_work(1), (2), (4) and hands the results back to its caller. */
#include <errno.h>
#include <string.h>

#include "example.h"

#define N 3

static void spawn_three(coil_task **tasks, coil_future **fs)
{
    static const intptr_t units[N] = {1, 2, 4};
    for (int i = 0; i < N; i++) {
        tasks[i] = coil_spawn(do_some_work, (void *)units[i]);
        fs[i] = coil_task_future(tasks[i]);
    }
}

static void release_three(coil_task **tasks)
{
    for (int i = 0; i < N; i++)
        coil_task_release(tasks[i]);
}

/* async def main(): ... return await asyncio.gather(*tasks) */
static void *main_gather(void *results)
{
    coil_task *tasks[N];
    coil_future *fs[N];
    spawn_three(tasks, fs);
    int r = coil_gather(fs, N, results, NULL, COIL_GATHER_FIRST_ERROR);
    release_three(tasks);
    return r == 0 ? results : coil_task_error(errno);
}

/* async def main(): ... for task in asyncio.as_completed(tasks): ... */
static void *main_as_completed(void *arg)
{
    (void)arg;
    coil_task *tasks[N];
    coil_future *fs[N], *done;
    spawn_three(tasks, fs);
    coil_as_completed *ac = coil_as_completed_new(fs, N, -1);
    while (coil_as_completed_next(ac, &done) == 0) {
        void *result;
        coil_await(done, &result);
        printf("Task ret: %s\n", (const char *)result);
    }
    coil_as_completed_free(ac);
    release_three(tasks);
    return NULL;
}

/* async def main(): ... return await asyncio.wait(tasks) — the caller gets
 * the done set and reads each result. */
typedef struct wait_out {
    coil_task *tasks[N];
    coil_future *done[N];
    size_t ndone;
} wait_out;

static void *main_wait(void *arg)
{
    wait_out *out = arg;
    coil_future *fs[N];
    spawn_three(out->tasks, fs);
    coil_wait(fs, N, COIL_ALL_COMPLETED, -1, out->done, &out->ndone, NULL, NULL);
    return out;
}

int main(void)
{
    void *results[N];
    start_clock();
    printf("-- gather\n");
    coil_run(main_gather, results, NULL);
    for (int i = 0; i < N; i++)
        printf("Task ret: %s\n", (const char *)results[i]);
    printf("TIME: %.2f\n", elapsed());

    start_clock();
    printf("-- wait\n");
    wait_out out;
    memset(&out, 0, sizeof out);
    coil_run(main_wait, &out, NULL);
    for (size_t i = 0; i < out.ndone; i++) {
        void *result;
        coil_future_result(out.done[i], &result);
        printf("Task ret: %s\n", (const char *)result);
    }
    release_three(out.tasks);
    printf("TIME: %.2f\n", elapsed());

    start_clock();
    printf("-- as_completed\n");
    coil_run(main_as_completed, NULL, NULL);
    printf("TIME: %.2f\n", elapsed());
    return 0;
}
