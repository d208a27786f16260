/*
 * src/hook/fd.c — the calls that make, copy, close and configure fds,
 * hooked so that coil's records follow the program's fds (src/hook/
 * fdrec.c) and the program sees the modes it set.
 *
 * These act in and outside tasks alike: an fd is the process's, and a
 * record must not outlive its fd whichever thread closes it.  Outside a
 * task they cost a table lookup on top of libc's call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hook.h"

int close(int fd)
{
    coil__hfd *h;
    if (coil__hook_in_task() && coil__hook_files_on_executor() &&
        (h = coil__hfd_get(fd)) && (atomic_load(&h->flags) & HFD_FILE)) {
        /* Not while a cancelled task's late read still uses the number
         * (coil_file_close defers it); it closes through here again, on a
         * pool thread, and is retired then. */
        return coil_file_close(fd);
    }
    coil__hfd_retire(fd);                 /* wakes its waiters: EBADF */
    return LIBC(close)(fd);
}

/* close_range(2) closes nothing with CLOSE_RANGE_CLOEXEC, and nothing
 * when it refuses (flags it does not know, first > last): then no record
 * goes.  With CLOSE_RANGE_UNSHARE it closes them in a table of the
 * calling thread's own: they go all the same (coil's records assume one
 * table per process, and this thread's fds are gone). */
int close_range(unsigned first, unsigned last, int flags)
{
    if (first <= last &&
        !(flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) &&
        !(flags & CLOSE_RANGE_CLOEXEC))
        coil__hfd_retire_range(first, last);
    return LIBC(close_range)(first, last, flags);
}

/* glibc's closefrom calls close_range by an internal name. */
void closefrom(int lowfd)
{
    if (lowfd >= 0)
        coil__hfd_retire_range((unsigned)lowfd, ~0u);
    LIBC(closefrom)(lowfd);
}

int dup(int fd)
{
    int r = LIBC(dup)(fd);
    if (r >= 0)
        coil__hfd_copy(fd, r);
    return r;
}

/* dup2 and dup3 close newfd, but only if oldfd is good (and dup3's
 * flags are). */
static void retire_target(int oldfd, int newfd)
{
    if (oldfd != newfd && LIBC(fcntl)(oldfd, F_GETFD) >= 0)
        coil__hfd_retire(newfd);
}

int dup3(int oldfd, int newfd, int flags)
{
    if (flags & ~O_CLOEXEC)               /* EINVAL, and newfd stays open */
        return LIBC(dup3)(oldfd, newfd, flags);
    retire_target(oldfd, newfd);
    int r = LIBC(dup3)(oldfd, newfd, flags);
    if (r >= 0)
        coil__hfd_copy(oldfd, r);
    return r;
}

int dup2(int oldfd, int newfd)
{
    retire_target(oldfd, newfd);
    int r = LIBC(dup2)(oldfd, newfd);
    if (r >= 0 && r != oldfd)
        coil__hfd_copy(oldfd, r);
    return r;
}

/* fcntl and fcntl64 (what a program built with _FILE_OFFSET_BITS=64
 * calls): the O_NONBLOCK the program sees is the one it set. */
static int hooked_fcntl(int (*libc)(int, int, ...), int fd, int cmd, void *arg)
{
    if (coil__hook_off)                   /* coil's own: the kernel's view */
        return libc(fd, cmd, arg);
    coil__hfd *h = coil__hfd_get(fd);
    unsigned f = h ? atomic_load(&h->flags) : 0;
    switch (cmd) {
    case F_GETFL: {
        int r = libc(fd, cmd);
        if (r >= 0 && (f & HFD_MANAGED))
            r = (r & ~O_NONBLOCK) | (f & HFD_NONBLOCK ? O_NONBLOCK : 0);
        return r;
    }
    case F_SETFL: {
        int want = (int)(long)arg;
        int r = libc(fd, cmd, f & HFD_MANAGED ? want | O_NONBLOCK : want);
        if (r == 0 && h) {                /* coil's O_NONBLOCK stayed */
            unsigned nf = want & O_NONBLOCK ? f | HFD_NONBLOCK
                                            : f & ~(unsigned)HFD_NONBLOCK;
            atomic_store(&h->flags, nf);
        }
        return r;
    }
    case F_SETLKW:                        /* a task waits, not the thread */
        return coil__hook_in_task() ? coil__hook_setlkw(libc, fd, F_SETLK, arg)
                                    : libc(fd, cmd, arg);
    case F_OFD_SETLKW:
        return coil__hook_in_task()
                   ? coil__hook_setlkw(libc, fd, F_OFD_SETLK, arg)
                   : libc(fd, cmd, arg);
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int r = libc(fd, cmd, (int)(long)arg);
        if (r >= 0)
            coil__hfd_copy(fd, r);
        return r;
    }
    default:
        return libc(fd, cmd, arg);
    }
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);       /* int or pointer: as glibc does */
    va_end(ap);
    return hooked_fcntl(LIBC(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return hooked_fcntl(LIBC(fcntl64), fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    coil__hfd *h;
    if (request != FIONBIO || !arg || coil__hook_off ||
        !(h = coil__hfd_get(fd)))
        return LIBC(ioctl)(fd, request, arg);
    int on = 1;                           /* coil's O_NONBLOCK stays */
    int r = LIBC(ioctl)(fd, request,
                        atomic_load(&h->flags) & HFD_MANAGED ? &on : arg);
    if (r == 0) {
        if (*(int *)arg)
            atomic_fetch_or(&h->flags, HFD_NONBLOCK);
        else
            atomic_fetch_and(&h->flags, ~(unsigned)HFD_NONBLOCK);
    }
    return r;
}

int socket(int domain, int type, int protocol)
{
    int r = LIBC(socket)(domain, type, protocol);
    if (r >= 0)
        coil__hfd_born(r, type & SOCK_NONBLOCK, HFD_SOCKET);
    return r;
}

int socketpair(int domain, int type, int protocol, int sv[2])
{
    int r = LIBC(socketpair)(domain, type, protocol, sv);
    if (r == 0) {
        coil__hfd_born(sv[0], type & SOCK_NONBLOCK, HFD_SOCKET);
        coil__hfd_born(sv[1], type & SOCK_NONBLOCK, HFD_SOCKET);
    }
    return r;
}

int pipe2(int fds[2], int flags)
{
    int r = LIBC(pipe2)(fds, flags);
    if (r == 0) {
        coil__hfd_born(fds[0], flags & O_NONBLOCK,
                       coil__hfd_pipe_kind());
        coil__hfd_born(fds[1], flags & O_NONBLOCK,
                       coil__hfd_pipe_kind());
    }
    return r;
}

int pipe(int fds[2])
{
    int r = LIBC(pipe)(fds);
    if (r == 0) {
        coil__hfd_born(fds[0], 0, coil__hfd_pipe_kind());
        coil__hfd_born(fds[1], 0, coil__hfd_pipe_kind());
    }
    return r;
}

/* SO_RCVTIMEO / SO_SNDTIMEO: the kernel keeps them (getsockopt reads them
 * back as usual), and coil notes them as the deadlines of the calls that
 * wait in coil instead of the kernel. */
static int is_timeo(int level, int name)
{
    return level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int r = LIBC(setsockopt)(fd, level, name, val, len);
    if (r != 0 || !is_timeo(level, name) || len < sizeof(struct timeval))
        return r;
    const struct timeval *tv = val;
    coil__hfd *h = coil__hfd_known(fd);
    if (h) {
        /* The kernel took it (tv_usec in range): a negative tv_sec is
         * no timeout there, and a huge one for ever. */
        coil_time ns = tv->tv_sec < 0 ? 0
                       : coil__hook_span(tv->tv_sec,
                                         (long long)tv->tv_usec * 1000);
        atomic_store(name == SO_RCVTIMEO ? &h->rcvtimeo : &h->sndtimeo, ns);
    }
    return r;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    return LIBC(getsockopt)(fd, level, name, val, len);
}
