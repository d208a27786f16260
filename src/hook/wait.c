/*
 * src/hook/wait.c — poll, ppoll, select, epoll_wait and epoll_pwait,
 * hooked: a task that waits on fds parks and its loop runs on.
 *
 * Every wait starts with libc's call and a zero timeout, so whatever is
 * ready already (including fds coil cannot watch: regular files, bad
 * fds that give POLLNVAL) is answered at once, exactly as libc answers.
 * Only then does the task park:
 *   - on one fd, through coil's own record of it (coil_wait_fd);
 *   - on several, through a private epoll instance holding them
 *     (level-triggered, as poll is), which coil waits on as one fd: a
 *     few syscalls more than libc's poll, and no limit on how many tasks
 *     wait on the same fds;
 *   - a library's own epoll fd is waited on until it is readable.
 * Then libc's call with a zero timeout again gives the answer.  The
 * signal mask of ppoll and epoll_pwait is not applied in a task (the
 * loop's thread owns its mask).  A signal handler of the program's ends
 * any of these waits with EINTR (src/hook/intr.c), as it ends poll(2).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

coil_time coil__hook_ms_deadline(int ms)
{
    return ms < 0 ? -1 : coil_clock() + (coil_time)ms * 1000000;
}

static coil_time ts_deadline(const struct timespec *ts)
{
    return ts ? coil__hook_after(coil__hook_span(ts->tv_sec, ts->tv_nsec))
              : -1;
}

/* What select refuses with EINVAL: a negative time (a tv_usec of a
 * second or more it carries over; ppoll's rule is coil__hook_ts_valid). */
static int tv_bad(const struct timeval *tv)
{
    return tv && (tv->tv_sec < 0 || tv->tv_usec < 0);
}

static coil_time tv_deadline(const struct timeval *tv)
{
    if (!tv)
        return -1;
    long long carry = tv->tv_usec / 1000000;
    long long sec = tv->tv_sec > LLONG_MAX - carry ? LLONG_MAX
                                                   : tv->tv_sec + carry;
    return coil__hook_after(
        coil__hook_span(sec, (long long)(tv->tv_usec % 1000000) * 1000));
}

static unsigned coil_events(short events)
{
    unsigned e = 0;
    if (events & (POLLIN | POLLPRI | POLLRDHUP))
        e |= COIL_READABLE;
    if (events & POLLOUT)
        e |= COIL_WRITABLE;
    return e ? e : COIL_READABLE;         /* errors and hang-ups read */
}

/* Cleanup handler: the private epoll fd, on every way out. */
static void close_epfd(void *arg)
{
    int fd = *(int *)arg;
    coil__io_forget(fd);
    LIBC(close)(fd);
}

/* Park until one of fds may be ready (or the deadline: ETIMEDOUT). */
static int wait_many(struct pollfd *fds, nfds_t n, coil_time deadline,
                     const coil__intr_since *since)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -1;
    for (nfds_t i = 0; i < n; i++) {
        struct epoll_event ev = {.events = (uint32_t)fds[i].events};
        if (fds[i].fd >= 0)               /* refusals showed in the try */
            epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i].fd, &ev);
    }
    int r;
    coil_cleanup_push(close_epfd, &epfd);
    r = coil__intr_wait_fd(epfd, COIL_READABLE, deadline, since);
    coil_cleanup_pop(1);
    return r;
}

/* Park until fds may be ready (or a handler run since `since` ran). */
static int wait_some(struct pollfd *fds, nfds_t n, coil_time deadline,
                     const coil__intr_since *since)
{
    if (n == 0) {                          /* poll(NULL, 0, t): a sleep */
        coil_time until = deadline < 0 ? coil_deadline_in(COIL_SEC(3600))
                                       : deadline;
        if (coil__intr_sleep_until(until, since) != 0)
            return -1;
        if (deadline >= 0)
            errno = ETIMEDOUT;
        return deadline >= 0 ? -1 : 0;
    }
    coil__hfd *h;
    if (n == 1 && fds[0].fd >= 0 && (h = coil__hfd_known(fds[0].fd)) &&
        !(atomic_load(&h->flags) & HFD_SYNC)) {   /* a tty keeps its mode */
        int r = coil__intr_wait_fd(fds[0].fd, coil_events(fds[0].events),
                                   deadline, since);
        if (r == 0 || errno != EBUSY)
            return r;                     /* EBUSY: another task waits */
    }
    return wait_many(fds, n, deadline, since);
}

int coil__hook_poll_since(struct pollfd *fds, nfds_t n, coil_time deadline,
                          const coil__intr_since *since)
{
    for (;;) {
        int r = LIBC(poll)(fds, n, 0);
        if (r != 0)
            return r;
        if (deadline >= 0 && coil_clock() >= deadline)
            return 0;
        if (wait_some(fds, n, deadline, since) != 0 && errno != EBADF)
            return errno == ETIMEDOUT ? 0 : -1;  /* EBADF: POLLNVAL next */
    }
}

int coil__hook_poll(struct pollfd *fds, nfds_t n, coil_time deadline)
{
    coil__intr_since since = coil__intr_now(1);
    return coil__hook_poll_since(fds, n, deadline, &since);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (timeout == 0 || !coil__hook_in_task())
        return LIBC(poll)(fds, n, timeout);
    return coil__hook_poll(fds, n, coil__hook_ms_deadline(timeout));
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
          const sigset_t *mask)
{
    if ((ts && ts->tv_sec == 0 && ts->tv_nsec == 0) || !coil__hook_in_task() ||
        (ts && !coil__hook_ts_valid(ts)))
        return LIBC(ppoll)(fds, n, ts, mask);     /* EINVAL for a bad ts */
    return coil__hook_poll(fds, n, ts_deadline(ts));
}

/* _FORTIFY_SOURCE's checked poll and ppoll (see rw.c's __read_chk). */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();
    return poll(fds, n, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                const sigset_t *mask, size_t fdslen)
{
    if (fdslen / sizeof *fds < n)
        __chk_fail();
    return ppoll(fds, n, ts, mask);
}

/* select as poll, for fds below FD_SETSIZE (as select itself). */
int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    if ((tv && tv->tv_sec == 0 && tv->tv_usec == 0) || !coil__hook_in_task() ||
        nfds < 0 || nfds > FD_SETSIZE || tv_bad(tv))
        return LIBC(select)(nfds, rd, wr, ex, tv);  /* EINVAL for a bad tv */
    struct pollfd p[FD_SETSIZE];
    nfds_t n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = (short)((rd && FD_ISSET(fd, rd) ? POLLIN : 0) |
                           (wr && FD_ISSET(fd, wr) ? POLLOUT : 0) |
                           (ex && FD_ISSET(fd, ex) ? POLLPRI : 0));
        if (ev)
            p[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    coil_time deadline = tv_deadline(tv);
    int r = coil__hook_poll(p, n, deadline);
    if (r < 0)
        return -1;
    for (nfds_t i = 0; i < n; i++)
        if (p[i].revents & POLLNVAL) {
            errno = EBADF;                /* as select says it */
            return -1;
        }
    int count = 0;
    if (rd) FD_ZERO(rd);
    if (wr) FD_ZERO(wr);
    if (ex) FD_ZERO(ex);
    for (nfds_t i = 0; i < n; i++) {
        short re = p[i].revents;
        if (rd && (re & (POLLIN | POLLHUP | POLLERR)) && (p[i].events & POLLIN))
            FD_SET(p[i].fd, rd), count++;
        if (wr && (re & (POLLOUT | POLLERR)) && (p[i].events & POLLOUT))
            FD_SET(p[i].fd, wr), count++;
        if (ex && (re & POLLPRI))
            FD_SET(p[i].fd, ex), count++;
    }
    if (tv) {                             /* Linux leaves the time left */
        coil_time left = deadline - coil_clock();
        left = left > 0 ? left : 0;
        tv->tv_sec = left / 1000000000;
        tv->tv_usec = (left % 1000000000) / 1000;
    }
    return count;
}

/* A library's own epoll fd: wait until it is readable, then ask it. */
static int epoll_for_task(int epfd, struct epoll_event *ev, int max,
                          coil_time deadline)
{
    coil__intr_since since = coil__intr_now(1);
    for (;;) {
        int r = LIBC(epoll_wait)(epfd, ev, max, 0);
        if (r != 0)
            return r;
        if (deadline >= 0 && coil_clock() >= deadline)
            return 0;
        if (!coil__hfd_known(epfd))
            return LIBC(epoll_wait)(epfd, ev, max, 0);   /* EBADF, EINVAL */
        if (coil__intr_wait_fd(epfd, COIL_READABLE, deadline, &since) != 0)
            return errno == ETIMEDOUT ? 0 : -1;
    }
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (timeout == 0 || !coil__hook_in_task())
        return LIBC(epoll_wait)(epfd, ev, max, timeout);
    return epoll_for_task(epfd, ev, max, coil__hook_ms_deadline(timeout));
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                const sigset_t *mask)
{
    if (timeout == 0 || !coil__hook_in_task())
        return LIBC(epoll_pwait)(epfd, ev, max, timeout, mask);
    return epoll_for_task(epfd, ev, max, coil__hook_ms_deadline(timeout));
}
