/* Seed: asyncio.wait(tasks, return_when=FIRST_COMPLETED), and
 * asyncio.wait(tasks, timeout=...): wait reports what is done and what is
 * still pending; it cancels nothing. */
#include "example.h"

#define N 3

static void report(const char *what, size_t ndone, size_t npending)
{
    printf("%s: %zu done, %zu pending at %.1f\n", what, ndone, npending,
           elapsed());
}

static void *main_task(void *arg)
{
    (void)arg;
    coil_task *tasks[N] = {coil_spawn(do_some_work, (void *)1),
                           coil_spawn(do_some_work, (void *)2),
                           coil_spawn(do_some_work, (void *)4)};
    coil_future *fs[N], *done[N], *pending[N];
    size_t nd, np;
    for (int i = 0; i < N; i++)
        fs[i] = coil_task_future(tasks[i]);

    coil_wait(fs, N, COIL_FIRST_COMPLETED, -1, done, &nd, pending, &np);
    report("FIRST_COMPLETED", nd, np);
    void *result;
    coil_future_result(done[0], &result);
    printf("first: %s\n", (const char *)result);

    coil_wait(fs, N, COIL_ALL_COMPLETED, unit() + unit() / 2, done, &nd,
              pending, &np);
    report("TIMEOUT_1.5", nd, np);

    coil_wait(fs, N, COIL_ALL_COMPLETED, -1, done, &nd, pending, &np);
    report("ALL_COMPLETED", nd, np);
    for (int i = 0; i < N; i++)
        coil_task_release(tasks[i]);
    return NULL;
}

int main(void)
{
    return run_timed(main_task) == 0 ? 0 : 1;
}
