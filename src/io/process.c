/*
 * src/io/process.c — subprocesses (layer 5): posix_spawn, pipes, and a pidfd
 * to learn of the child's exit.
 *
 * The pidfd turns "the child exited" into an fd becoming readable, so a
 * waiting task is just a coil_wait_fd on it: the IO layer registers it with
 * the loop's poller once, keeps the waiter on the task's stack and unlinks
 * it (and its deadline timer) on every way out, unwinding included.  No
 * SIGCHLD handler is needed, and nothing process-wide (a signal
 * disposition) is taken from the program.
 *
 * The pidfd also pins nothing: the pid stays ours because the child is not
 * reaped until coil reaps it (waitpid(pid) in wait or release).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coil.h"
#include "loop/debug.h"
#include "io/io.h"

/* Same numbers on every architecture since the 5.x unified syscall table. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

extern char **environ;

struct coil_process {
    pid_t pid;
    int pidfd;
    int pipes[3];          /* parent's ends, for the child's fd 0, 1, 2 */
    int reaped;
    int status;            /* as waitpid, once reaped */
};

static int pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Whether this kernel (or emulator) has pidfd_open, probed once: on our own
 * pid, so that a missing syscall fails the spawn before a child exists. */
static int have_pidfd(void)
{
    /* 0 unknown, 1 yes, -1 no; loops on several threads may race to
     * probe, to the same answer. */
    static atomic_int known_cache;
    int known = atomic_load_explicit(&known_cache, memory_order_relaxed);
    if (known == 0) {
        int fd = pidfd_open(getpid());
        if (fd >= 0) {
            close(fd);
            known = 1;
        } else {
            known = errno == ENOSYS ? -1 : 0;   /* EMFILE: ask again later */
            if (known < 0 && coil__debug_env())
                coil__debug_report("coil_process_spawn: pidfd_open is not "
                                   "available (Linux >= 5.3 needed; some "
                                   "emulators lack it): ENOSYS");
        }
        atomic_store_explicit(&known_cache, known, memory_order_relaxed);
    }
    return known > 0 ? 1 : known < 0 ? 0 : -1;
}

/* The file actions and attributes of a spawn: child ends of the pipes (or
 * the caller's fds) onto 0-2, an empty signal mask. */
static int prepare(posix_spawn_file_actions_t *fa, posix_spawnattr_t *sa,
                   const int child_fd[3])
{
    int e = posix_spawn_file_actions_init(fa);
    if (e)
        return e;
    e = posix_spawnattr_init(sa);
    if (e) {
        posix_spawn_file_actions_destroy(fa);
        return e;
    }
    sigset_t none;
    sigemptyset(&none);
    e = posix_spawnattr_setsigmask(sa, &none);
    if (!e)
        e = posix_spawnattr_setflags(sa, POSIX_SPAWN_SETSIGMASK);
    /* glibc clears FD_CLOEXEC when fd == newfd, so a pipe end that
     * happens to be numbered 0-2 is still inherited. */
    for (int i = 0; i < 3 && !e; i++)
        if (child_fd[i] >= 0)
            e = posix_spawn_file_actions_adddup2(fa, child_fd[i], i);
    if (e) {
        posix_spawnattr_destroy(sa);
        posix_spawn_file_actions_destroy(fa);
    }
    return e;
}

/* The checks of coil_process_spawn_stdio's arguments: 0, or -1 with errno
 * EINVAL (unknown flags, or a stdio fd given for a stream also piped). */
static int check_spawn_args(const char *path, char *const argv[],
                            unsigned flags, const int stdio[3])
{
    const unsigned known = COIL_PIPE_STDIN | COIL_PIPE_STDOUT |
                           COIL_PIPE_STDERR | COIL_SPAWN_SEARCH_PATH;
    if (!path || !argv || (flags & ~known)) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; stdio && i < 3; i++)
        if (stdio[i] >= 0 && (flags & (COIL_PIPE_STDIN << i))) {
            errno = EINVAL;
            return -1;
        }
    return 0;
}

/* Make the pipes flags asks for (p->pipes gets the parent's ends) and fill
 * child_fd with what becomes the child's 0-2.  Returns 0 or an errno. */
static int make_pipes(coil_process *p, unsigned flags, const int stdio[3],
                      int child_fd[3])
{
    for (int i = 0; i < 3; i++) {
        if (flags & (COIL_PIPE_STDIN << i)) {
            /* Both ends close-on-exec; the dup2 onto 0-2 clears it in the
             * child.  Not O_NONBLOCK: the child's end must block, and the
             * IO calls switch the parent's end on first use. */
            int fds[2];
            if (pipe2(fds, O_CLOEXEC) != 0)
                return errno;
            child_fd[i] = i == 0 ? fds[0] : fds[1];
            p->pipes[i] = i == 0 ? fds[1] : fds[0];
        } else if (stdio && stdio[i] >= 0) {
            child_fd[i] = stdio[i];
        }
    }
    return 0;
}

/* Close those of fds that are open (>= 0). */
static void close_open(const int fds[3])
{
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* The child's 0-2 are made by dup2 in order, so a source numbered 0-2
 * other than its own target may be overwritten before its turn: with the
 * caller's fds 0 and 1 closed (a daemon), a pipe for the child's stderr
 * is made as fds 0 and 1, and dup2(log, 1) before dup2(1, 2) gave the
 * child the log as its stderr.  Such a source is first copied above 2
 * (close-on-exec; the child's dup2 of it is not): src gets the fds to
 * dup2 from, lifted the copies to close after the spawn.  Returns 0 or an
 * errno (EMFILE), with no copy left open. */
static int lift_low_sources(const int child_fd[3], int src[3],
                            int lifted[3])
{
    for (int i = 0; i < 3; i++)
        lifted[i] = -1;
    for (int i = 0; i < 3; i++) {
        src[i] = child_fd[i];
        if (src[i] < 0 || src[i] > 2 || src[i] == i)
            continue;
        if ((lifted[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3)) < 0) {
            int e = errno;
            close_open(lifted);
            return e;
        }
        src[i] = lifted[i];
    }
    return 0;
}

/* posix_spawn(p) the child with child_fd as its 0-2, and open its pidfd.
 * Returns 0 or an errno (a child spawned but without a pidfd is killed
 * and reaped). */
static int spawn_child(coil_process *p, const char *path, char *const argv[],
                       char *const envp[], unsigned flags,
                       const int child_fd[3])
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t sa;
    int src[3], lifted[3];
    int e = lift_low_sources(child_fd, src, lifted);
    if (e)
        return e;
    if (!(e = prepare(&fa, &sa, src))) {
        e = (flags & COIL_SPAWN_SEARCH_PATH)
                ? posix_spawnp(&p->pid, path, &fa, &sa, argv,
                               envp ? envp : environ)
                : posix_spawn(&p->pid, path, &fa, &sa, argv,
                              envp ? envp : environ);
        posix_spawnattr_destroy(&sa);
        posix_spawn_file_actions_destroy(&fa);
    }
    close_open(lifted);
    if (!e && (p->pidfd = pidfd_open(p->pid)) < 0) {
        e = errno;
        kill(p->pid, SIGKILL);
        while (COIL__LIBC(waitpid(p->pid, NULL, 0)) < 0 && errno == EINTR)
            ;
    }
    return e;
}

coil_process *coil_process_spawn_stdio(const char *path, char *const argv[],
                                       char *const envp[], unsigned flags,
                                       const int stdio[3])
{
    if (check_spawn_args(path, argv, flags, stdio) != 0)
        return NULL;
    int ok = have_pidfd();
    if (ok <= 0) {
        if (ok == 0)
            errno = ENOSYS;
        return NULL;
    }
    coil_process *p = calloc(1, sizeof *p);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    p->pidfd = -1;
    int child_fd[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++)   /* all three: the error path reads them */
        p->pipes[i] = -1;
    int e = make_pipes(p, flags, stdio, child_fd);
    if (!e)
        e = spawn_child(p, path, argv, envp, flags, child_fd);
    for (int i = 0; i < 3; i++)           /* the child has its ends now */
        if (child_fd[i] >= 0 && (flags & (COIL_PIPE_STDIN << i)))
            close(child_fd[i]);
    if (e) {
        close_open(p->pipes);
        free(p);
        errno = e;
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        if (p->pipes[i] >= 0)
            coil__io_fresh(p->pipes[i]);
    coil__io_fresh(p->pidfd);
    return p;
}

coil_process *coil_process_spawn(const char *path, char *const argv[],
                                 char *const envp[], unsigned flags)
{
    return coil_process_spawn_stdio(path, argv, envp, flags, NULL);
}

static int pipe_fd(const coil_process *p, int i)
{
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    if (p->pipes[i] < 0)
        errno = EBADF;
    return p->pipes[i];
}

int coil_process_stdin(const coil_process *p)
{
    return pipe_fd(p, 0);
}

int coil_process_stdout(const coil_process *p)
{
    return pipe_fd(p, 1);
}

int coil_process_stderr(const coil_process *p)
{
    return pipe_fd(p, 2);
}

int coil_process_close_pipe(coil_process *p, int child_fd)
{
    if (!p || child_fd < 0 || child_fd > 2) {
        errno = EINVAL;
        return -1;
    }
    int fd = p->pipes[child_fd];
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    p->pipes[child_fd] = -1;
    coil_close(fd);                       /* released even if it fails */
    return 0;
}

pid_t coil_process_pid(const coil_process *p)
{
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    return p->pid;
}

/* Reap the child if it has exited: 1 if reaped (now or before), 0 if it
 * still runs, -1 with errno (ECHILD: someone else reaped it). */
static int try_reap(coil_process *p, int options)
{
    if (p->reaped)
        return 1;
    int status;
    pid_t r;
    /* coil's own call: the hook layer's waitpid would park, and could
     * give ECANCELED where a release must reap. */
    while ((r = COIL__LIBC(waitpid(p->pid, &status, options))) < 0 &&
           errno == EINTR)
        ;
    if (r < 0)
        return -1;
    if (r == 0)
        return 0;
    p->reaped = 1;
    p->status = status;
    return 1;
}

int coil_process_wait(coil_process *p, int *status, coil_time deadline)
{
    if (!coil_task_current())
        return coil__debug_outside_task("coil_process_wait");
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        int r = try_reap(p, WNOHANG);
        if (r < 0)
            return -1;
        if (r > 0)
            break;
        /* Readable once the child has exited (a zombie to reap). */
        if (coil_wait_fd(p->pidfd, COIL_READABLE, deadline) != 0)
            return -1;
    }
    if (status)
        *status = p->status;
    return 0;
}

int coil_process_kill(coil_process *p, int sig)
{
    if (!p || sig < 0 || sig >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    if (p->reaped) {
        errno = ESRCH;
        return -1;
    }
    if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    /* Not reaped, so the pid is still the child's. */
    return kill(p->pid, sig);
}

int coil_process_release(coil_process *p)
{
    if (!p)
        return 0;
    for (int i = 0; i < 3; i++)
        if (p->pipes[i] >= 0)
            coil_close(p->pipes[i]);
    if (try_reap(p, WNOHANG) == 0) {
        coil_process_kill(p, SIGKILL);
        try_reap(p, 0);
    }
    coil_close(p->pidfd);
    free(p);
    return 0;
}

void coil_process_cleanup(void *p)
{
    coil_process_release(p);
}
