/*
 * src/hook/child.c — waitpid, wait, wait3, wait4 and waitid, hooked: a
 * task that waits for a child parks, and its loop runs on.
 *
 * Every wait asks libc first with WNOHANG added, so a child that has
 * changed state already — and every error, ECHILD and EINVAL included —
 * is answered at once, exactly as libc answers.  Only then does the task
 * park, until the answer may have changed, and ask again:
 *   - for the exit of one child (a pid, or waitid's P_PID and P_PIDFD),
 *     on a pidfd, which becomes readable when the child exits: the way
 *     coil_process_wait waits;
 *   - for anything else (any child, a process group, stops and continues,
 *     which a pidfd does not report; a kernel without pidfd_open), on a
 *     timer: after 1 ms, then twice as long each time up to 50 ms.  No fd
 *     tells of "some child changed state" short of taking SIGCHLD from
 *     the program, and its disposition is the program's.
 * A signal handler of the program's without SA_RESTART ends the wait with
 * EINTR, as it ends waitpid(2) (src/hook/intr.c); a cancelled task unwinds
 * out of it (default mode) or gets ECANCELED.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434        /* the same on every CPU since 5.x */
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum {
    GAP_FIRST = 1000000,          /* ns between asks on the timer */
    GAP_MOST = 50000000,
};

/* What a task waits for, and how it parks between two asks. */
typedef struct child_park {
    pid_t pid;                    /* > 0: this child's exit, on a pidfd */
    int given_fd;                 /* >= 0: waitid's P_PIDFD, the caller's */
    int pidfd;                    /* ours, opened at the first park */
    coil_time gap;                /* on the timer: the next pause */
    coil__intr_since since;       /* the handlers that ran before the call */
} child_park;

static void park_init(child_park *p, pid_t pid, int given_fd, int exits_only)
{
    p->pid = exits_only ? pid : 0;
    p->given_fd = exits_only ? given_fd : -1;
    p->pidfd = -1;
    p->gap = GAP_FIRST;
    p->since = coil__intr_now(0);
}

static void park_end(void *arg)
{
    child_park *p = arg;
    if (p->pidfd >= 0) {
        int saved = errno;
        coil_close(p->pidfd);     /* forgets the IO layer's record too */
        p->pidfd = -1;
        errno = saved;
    }
}

/* An fd that becomes readable when the awaited child exits, or -1: wait
 * on the timer instead. */
static int exit_fd(child_park *p)
{
    if (p->given_fd >= 0)
        return p->given_fd;
    if (p->pid > 0 && p->pidfd < 0) {
        p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
        if (p->pidfd >= 0)
            coil__io_fresh(p->pidfd); /* a plain close(2) left a record? */
        else
            p->pid = 0;           /* ENOSYS, EMFILE, ...: the timer */
    }
    return p->pidfd;
}

/* Park the task until the answer may have changed: 0, or -1 with errno
 * EINTR or ECANCELED. */
static int park_once(child_park *p)
{
    int fd = exit_fd(p);
    if (fd >= 0)
        return coil__intr_wait_fd(fd, COIL_READABLE, -1, &p->since);
    coil_time gap = p->gap;
    p->gap = gap * 2 < GAP_MOST ? gap * 2 : GAP_MOST;
    return coil__intr_sleep_until(coil__hook_after(gap), &p->since);
}

pid_t coil__hook_wait4(pid_t pid, int *status, int options,
                       struct rusage *usage)
{
    child_park park;
    pid_t r;
    park_init(&park, pid, -1, !(options & (WUNTRACED | WCONTINUED)));
    coil_cleanup_push(park_end, &park);
    while ((r = LIBC(wait4)(pid, status, options | WNOHANG, usage)) == 0 &&
           park_once(&park) == 0)
        ;
    coil_cleanup_pop(1);
    return r == 0 ? -1 : r;       /* 0: park_once failed, errno set */
}

pid_t wait4(pid_t pid, int *status, int options, struct rusage *usage)
{
    if (!coil__hook_in_task() || (options & WNOHANG))
        return LIBC(wait4)(pid, status, options, usage);
    return coil__hook_wait4(pid, status, options, usage);
}

pid_t waitpid(pid_t pid, int *status, int options)
{
    if (!coil__hook_in_task() || (options & WNOHANG))
        return LIBC(waitpid)(pid, status, options);
    return coil__hook_wait4(pid, status, options, NULL);
}

pid_t wait(int *status)
{
    if (!coil__hook_in_task())
        return LIBC(wait)(status);
    return coil__hook_wait4(-1, status, 0, NULL);
}

pid_t wait3(int *status, int options, struct rusage *usage)
{
    if (!coil__hook_in_task() || (options & WNOHANG))
        return LIBC(wait3)(status, options, usage);
    return coil__hook_wait4(-1, status, options, usage);
}

/* A pidfd the program made non-blocking (PIDFD_NONBLOCK) makes waitid
 * say EAGAIN instead of waiting: that call is libc's. */
static int nonblocking_pidfd(idtype_t type, id_t id)
{
    if ((int)type != P_PIDFD)
        return 0;
    int flags = LIBC(fcntl)((int)id, F_GETFL);
    return flags >= 0 && (flags & O_NONBLOCK);
}

int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
    if (!coil__hook_in_task() || (options & WNOHANG) ||
        nonblocking_pidfd(type, id))
        return LIBC(waitid)(type, id, info, options);
    siginfo_t unasked;            /* the kernel takes a NULL info too */
    if (!info)
        info = &unasked;
    int exits_only = !(options & (WSTOPPED | WCONTINUED));
    child_park park;
    int r;
    park_init(&park, type == P_PID ? (pid_t)id : 0,
              (int)type == P_PIDFD ? (int)id : -1, exits_only);
    coil_cleanup_push(park_end, &park);
    for (;;) {
        info->si_pid = 0;         /* stays 0 if no child was ready */
        r = LIBC(waitid)(type, id, info, options | WNOHANG);
        if (r != 0 || info->si_pid != 0 || park_once(&park) != 0)
            break;
    }
    coil_cleanup_pop(1);
    return r != 0 || info->si_pid != 0 ? r : -1;
}
