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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"
#include "io/io.h"
#include "loop/loop.h"
#include "run/dump_signal.h"
#include "task/census.h"
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

/* Go's "all goroutines are asleep - deadlock!", without the exit: the
 * loop stopped because its tasks can only wait for each other (loop.h
 * states the rule; COIL_DEADLOCK_REPORT=0 turns it off). */
static int deadlock_check_wanted(void)
{
    const char *e = getenv("COIL_DEADLOCK_REPORT");
    return !e || strcmp(e, "0") != 0;
}

static void report_deadlock(coil_loop *loop)
{
    fprintf(stderr,
            "coil: deadlock: every task of coil_run's loop waits for another "
            "of its tasks, and nothing outside them can wake the loop (no "
            "timer, fd, signal, thread-safe future, executor job or other "
            "thread); coil_run returns EDEADLK.  Who waits on what:\n");
    coil_loop_dump_tasks(loop, stderr, 0);
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
    int dump_signo = rs.main_task ? coil__dump_signal_install(loop) : 0;
    int deadlocked = 0;
    if (rs.main_task) {
        /* Without a handler SIGINT still kills the process, as before. */
        coil_loop_add_signal_handler(loop, SIGINT, on_sigint, &rs);
        coil__signal_quiet(loop, SIGINT);
        coil__signal_quiet(loop, dump_signo);
        coil__loop_stop_when_stalled(loop, deadlock_check_wanted());
        r = coil_await(coil_task_future(rs.main_task), result);
        err = errno;
        deadlocked = r != 0 && coil__loop_stalled(loop);
        coil__loop_stop_when_stalled(loop, 0);
        if (deadlocked)
            report_deadlock(loop);
    }
    coil__loop_shutdown(loop);
    if (coil_loop_get_debug(loop) == 1)
        coil__census_print(stderr);   /* debug mode's close report */
    coil_loop_remove_signal_handler(loop, SIGINT);
    coil__dump_signal_remove(loop, dump_signo);
    coil_task_release(rs.main_task);
    coil_loop_close(loop);
    if (rs.interrupted) {
        r = -1;
        err = EINTR;
    } else if (deadlocked) {
        r = -1;
        err = EDEADLK;
    }
    errno = err;
    return r;
}
