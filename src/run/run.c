/*
 * src/run/run.c — coil_run: a whole program's loop (the top layer).
 *
 * Like asyncio.run: a fresh loop, the main task, SIGINT as a cancellation
 * of it, then the shutdown of whatever is left (src/task/shutdown.c) and
 * the loop's close.  Above the IO layer because of SIGINT: the policy of
 * what an interrupt means belongs to the entry point, not to the tasks
 * (the combinators below it once installed the handler themselves).
 */
#include <errno.h>
#include <signal.h>

#include "coil.h"
#include "task/task.h"

typedef struct run_state {
    coil_task *main_task;
    int interrupted;
} run_state;

/* SIGINT: what KeyboardInterrupt is to asyncio.run. */
static void on_sigint(void *arg)
{
    run_state *rs = arg;
    rs->interrupted = 1;
    coil_task_cancel(rs->main_task);
}

int coil_run(coil_task_fn fn, void *arg, void **result)
{
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    if (coil_loop_current()) {
        errno = EBUSY;
        return -1;
    }
    coil_loop *loop = coil_loop_new();
    if (!loop)
        return -1;
    coil_task_attr attr = {.name = "main", .loop = loop};
    run_state rs = {coil_task_spawn(&attr, fn, arg, "main"), 0};
    int r = -1, err = errno;
    if (rs.main_task) {
        /* Without a handler SIGINT still kills the process, as before. */
        coil_loop_add_signal_handler(loop, SIGINT, on_sigint, &rs);
        r = coil_await(coil_task_future(rs.main_task), result);
        err = errno;
    }
    coil__loop_shutdown(loop);
    coil_loop_remove_signal_handler(loop, SIGINT);
    coil_task_release(rs.main_task);
    coil_loop_close(loop);
    if (rs.interrupted) {
        r = -1;
        err = EINTR;
    }
    errno = err;
    return r;
}
