/*
 * src/run/dump_signal.c — COIL_DUMP_SIGNAL: a task dump on a signal.
 *
 * Go prints every goroutine on SIGQUIT and exits; coil prints every task
 * and keeps running.  The signal reaches the loop through its signalfd
 * (src/io/signal.c) and the dump runs as a loop callback, between steps,
 * on the loop's thread: nothing runs in a signal handler, and every task
 * is suspended at a switch while it is walked.  Opt-in, because a signal
 * routed to a signalfd is blocked in the thread, which changes what the
 * signal would otherwise do (SIGQUIT's core dump).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"
#include "run/dump_signal.h"

/* The signal COIL_DUMP_SIGNAL names ("SIGQUIT", "QUIT", "SIGUSR1", "USR2"
 * or a number), 0 if it is unset or names none of those. */
static int signal_from_env(void)
{
    static const struct {
        const char *name;
        int signo;
    } known[] = {{"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
    const char *e = getenv("COIL_DUMP_SIGNAL");
    if (!e || !*e)
        return 0;
    if (strncmp(e, "SIG", 3) == 0)
        e += 3;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(e, known[i].name) == 0)
            return known[i].signo;
    char *end;
    long n = strtol(e, &end, 10);
    return *end == '\0' && n > 0 && n < NSIG && n != SIGKILL && n != SIGSTOP
               ? (int)n
               : 0;
}

static void dump(void *arg)
{
    coil_loop_dump_tasks(arg, stderr, 0);
}

int coil__dump_signal_install(coil_loop *loop)
{
    int signo = signal_from_env();
    if (signo && coil_loop_add_signal_handler(loop, signo, dump, loop) != 0)
        return 0;
    return signo;
}

void coil__dump_signal_remove(coil_loop *loop, int signo)
{
    if (signo)
        coil_loop_remove_signal_handler(loop, signo);
}
