/*
 * src/hook/shell.c — system, popen and pclose, hooked: in a task the
 * command runs while the task is parked, and a popen stream reads and
 * writes through the hooked read and write, so those park too.
 *
 * glibc's own system and popen block the calling thread for as long as
 * the command runs (their waits, and their stream's reads, are inside
 * libc, where no hook reaches), and start the shell with the calling
 * thread's signal mask: on a loop's thread, with the signals coil routes
 * through the loop's signalfd blocked (SIGINT under coil_run).  Here the
 * shell is started with posix_spawn and the program's own mask (fork.c
 * knows what coil blocked), and waited for with the hooked wait4
 * (child.c).  What differs from glibc's, for the sake of the loop's other
 * tasks, is listed in docs/hooks.md: system leaves SIGINT and SIGQUIT
 * alone in the program; a popen stream is a fopencookie stream, whose
 * fileno is -1; pclose, and a plain fclose of such a stream, wait
 * shielded from cancellation.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"
#include "../core/fork.h"
#include "../task/task.h"

extern char **environ;

/* Start `sh -c -- cmd` with the program's signal mask, and with fd (if
 * >= 0) as its fd `onto`: 0, or an errno value. */
static int spawn_shell(const char *cmd, int fd, int onto, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t sa;
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    coil__fork_program_mask(&mask);
    int e = posix_spawn_file_actions_init(&fa);
    if (e)
        return e;
    if (!(e = posix_spawnattr_init(&sa))) {
        char *argv[] = {(char *)"sh", (char *)"-c", (char *)"--",
                        (char *)cmd, NULL};
        e = posix_spawnattr_setsigmask(&sa, &mask);
        if (!e)
            e = posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK);
        /* glibc clears FD_CLOEXEC when fd == onto: inherited all the same */
        if (!e && fd >= 0)
            e = posix_spawn_file_actions_adddup2(&fa, fd, onto);
        if (!e)
            e = posix_spawn(pid, "/bin/sh", &fa, &sa, argv, environ);
        posix_spawnattr_destroy(&sa);
    }
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

/* Reap the child pid, parking if in a task, through EINTR and (in error
 * mode, or a shield's end) ECANCELED: a caller gone has still a child to
 * reap.  Its status, or -1 with errno (ECHILD). */
static int reap(pid_t pid)
{
    int status, saved = errno;
    pid_t r;
    do {
        r = coil__hook_in_task() ? coil__hook_wait4(pid, &status, 0, NULL)
                                 : LIBC(wait4)(pid, &status, 0, NULL);
    } while (r < 0 && (errno == EINTR || errno == ECANCELED));
    if (r < 0)
        return -1;
    errno = saved;
    return status;
}

/* ----------------------------------------------------------- system */

/* The shell of a system() whose caller is cancelled: killed and reaped,
 * as glibc does for a cancelled thread. */
static void kill_shell(void *arg)
{
    pid_t pid = *(pid_t *)arg;
    int saved = errno;
    kill(pid, SIGKILL);
    reap(pid);
    errno = saved;
}

static int run_shell(const char *cmd)
{
    pid_t pid;
    int e = spawn_shell(cmd, -1, 0, &pid);
    if (e) {
        errno = e;
        return W_EXITCODE(127, 0);        /* as if the shell said 127 */
    }
    int status;
    pid_t r;
    coil_cleanup_push(kill_shell, &pid);
    while ((r = coil__hook_wait4(pid, &status, 0, NULL)) < 0 && errno == EINTR)
        ;
    coil_cleanup_pop(r < 0);              /* ECANCELED: kill it too */
    return r < 0 ? -1 : status;
}

int system(const char *cmd)
{
    if (!coil__hook_in_task())
        return LIBC(system)(cmd);
    if (!cmd)                             /* is there a shell? */
        return run_shell("exit 0") == 0;
    return run_shell(cmd);
}

/* ------------------------------------------------------------ popen */

/* A stream popen made in a task. */
typedef struct piped {
    FILE *fp;
    int fd;                               /* the program's end of the pipe */
    pid_t pid;
    int by_pclose;                        /* pclose reaps, and frees this */
    struct piped *next;
} piped;

static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static piped *streams;                    /* open ones, for pclose */

static void note(piped *s)
{
    pthread_mutex_lock(&streams_lock);
    s->next = streams;
    streams = s;
    pthread_mutex_unlock(&streams_lock);
}

static piped *take(FILE *fp)
{
    piped *s = NULL;
    pthread_mutex_lock(&streams_lock);
    for (piped **at = &streams; *at; at = &(*at)->next)
        if ((*at)->fp == fp) {
            s = *at;
            *at = s->next;
            break;
        }
    pthread_mutex_unlock(&streams_lock);
    return s;
}

static ssize_t piped_read(void *cookie, char *buf, size_t n)
{
    return read(((piped *)cookie)->fd, buf, n);
}

static ssize_t piped_write(void *cookie, const char *buf, size_t n)
{
    return write(((piped *)cookie)->fd, buf, n);
}

/* fclose's last step.  Under pclose, only the pipe is closed.  A plain
 * fclose of the stream waits for the command too, as glibc's does,
 * parking a task shielded: fclose has no ECANCELED to give, and must not
 * be unwound out of; a cancel waits for the task's next suspension. */
static int piped_close(void *cookie)
{
    piped *s = cookie;
    int r = close(s->fd);
    if (s->by_pclose)
        return r;
    take(s->fp);
    int shielded = coil__hook_in_task() && coil_shield_begin() == 0;
    int status = reap(s->pid);
    if (shielded)
        coil__shield_end_quietly();
    free(s);
    return status;
}

static const cookie_io_functions_t piped_io = {
    .read = piped_read, .write = piped_write, .close = piped_close,
};

/* popen's mode as glibc takes it: 'r' or 'w', and 'e' (our end is always
 * close-on-exec: a fopencookie stream has no fileno to pass on).  1 for
 * reading, 0 for writing, -1 if bad. */
static int reads(const char *mode)
{
    int r = 0, w = 0;
    for (; mode && *mode; mode++)
        if (*mode == 'r')
            r = 1;
        else if (*mode == 'w')
            w = 1;
        else if (*mode != 'e')
            return -1;
    return r != w ? r : -1;
}

/* The rest of popen, once s->fd is our end and theirs the child's. */
static int start(piped *s, const char *cmd, int theirs, int reading)
{
    int e = spawn_shell(cmd, theirs, reading ? 1 : 0, &s->pid);
    close(theirs);
    if (e)
        return e;
    s->fp = fopencookie(s, reading ? "r" : "w", piped_io);
    if (!s->fp) {
        e = errno;
        kill(s->pid, SIGKILL);
        reap(s->pid);
    }
    return e;
}

FILE *popen(const char *cmd, const char *mode)
{
    if (!coil__hook_in_task())
        return LIBC(popen)(cmd, mode);
    int reading = reads(mode), p[2];
    if (!cmd || reading < 0) {
        errno = EINVAL;
        return NULL;
    }
    piped *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pipe2(p, O_CLOEXEC) != 0) {       /* the hooked pipe2: fresh records */
        free(s);
        return NULL;
    }
    s->fd = reading ? p[0] : p[1];
    int e = start(s, cmd, reading ? p[1] : p[0], reading);
    if (e) {
        close(s->fd);
        free(s);
        errno = e;
        return NULL;
    }
    note(s);
    return s->fp;
}

int pclose(FILE *fp)
{
    piped *s = fp ? take(fp) : NULL;
    if (!s)
        return LIBC(pclose)(fp);          /* glibc's own stream */
    /* Shielded: unwinding out of fclose would leave the stream half
     * closed and the child a zombie. */
    int shielded = coil_shield_begin() == 0;
    s->by_pclose = 1;
    fclose(fp);                           /* flushes: the hooked write */
    int status = reap(s->pid);
    free(s);
    if (shielded && coil_shield_end() != 0)
        return -1;                        /* ECANCELED, in error mode */
    return status;
}
