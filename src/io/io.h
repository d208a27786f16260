/*
 * src/io/io.h — what io.c shares with the other layer-5 files (internal).
 *
 * An IO call is one syscall wrapped as a closure (coil__io_op) and run by
 * coil__io_run(), which owns the try / EAGAIN / wait / retry cycle, the
 * per-fd readiness latch and the deadline.  net.c builds recvfrom and
 * sendto on it instead of growing a second copy of that machinery.
 */
#ifndef COIL_IO_H
#define COIL_IO_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "coil.h"
#include "core/libc.h"

#pragma GCC visibility push(hidden)

/* Directions an op waits for when its syscall says EAGAIN. */
enum { COIL__IO_RD = 0, COIL__IO_WR = 1 };

/* How an op's syscall keeps from waiting on its fd (io.c, "Which fds
 * coil makes O_NONBLOCK"): the kind io.c passes to coil__io_op.fn. */
enum {
    COIL__IO_FLAGGED = 0,     /* the fd is O_NONBLOCK: io.c checked just now */
    COIL__IO_SOCKET = 1,      /* pass MSG_DONTWAIT */
    COIL__IO_NOWAIT = 2       /* a pipe: preadv2/pwritev2 with RWF_NOWAIT */
};

/* One syscall of an IO call: fn returns as the syscall does.  Fields are
 * whatever fn needs; unused ones stay zero.  fn must not block: it makes
 * its syscall as `kind` says, or on a socket sets `no_dontwait` when its
 * syscall takes no flags (accept: io.c then makes the socket O_NONBLOCK
 * first). */
typedef struct coil__io_op {
    ssize_t (*fn)(struct coil__io_op *op, int fd, int kind);
    void *buf;
    const void *cbuf;
    size_t len;
    const struct iovec *iov;
    int iovcnt;
    int flags;                 /* MSG_DONTWAIT here: never wait */
    struct sockaddr *addr;
    socklen_t *addrlen;
    const struct sockaddr *caddr;   /* destination, for sendto */
    socklen_t caddrlen;
    int drains;                /* a short result means the input is empty */
    const volatile int *intr;  /* a hooked call's: its wait ends, EINTR,
                                  once *intr is set (src/hook/intr.c) */
    int no_dontwait;           /* a socket call without MSG_DONTWAIT */
} coil__io_op;

/* Run op on fd for the calling task: try it, and while it says EAGAIN wait
 * (until deadline, absolute loop time, negative: none) for direction dir
 * and try again.  `call` names the public call for debug reports.  Returns
 * as op->fn, or -1 with errno as the IO section of coil.h says (EPERM
 * outside a task, ETIMEDOUT, EBADF, EBUSY, ECANCELED, ENOMEM). */
COIL__HOOK_API ssize_t coil__io_run(const char *call, int fd, int dir,
                                    coil_time deadline, coil__io_op *op);

/* coil_wait_fd, with the wait also ending, -1 with errno EINTR, once
 * *intr is set (NULL: never), as a hooked call's does when a signal
 * handler interrupts it (src/hook/intr.c).  May suspend. */
COIL__HOOK_API int coil__io_wait(int fd, unsigned events, coil_time deadline,
                                 const volatile int *intr);

/* What coil_close does before close(2): wake the tasks of this thread's
 * loop waiting on fd (EBADF) and drop coil's records of it.  fd >= 0.
 * Does not suspend.  file.c closes on the executor after this. */
COIL__HOOK_API void coil__io_forget(int fd);

/* coil__io_forget of every fd from first to last (close_range): a walk
 * over the records this thread's loop has, however wide the range.  Does
 * not suspend. */
COIL__HOOK_API void coil__io_forget_range(unsigned first, unsigned last);

/* fd was just made by coil (socket, pipe, pidfd): a record this thread's
 * loop still has of that number is stale, left by a plain close(2) of an
 * earlier fd, and would have the new one wait on an epoll registration
 * that went away with the old file.  Drop it, waking its waiters (EBADF).
 * No syscall.  Does not suspend. */
COIL__HOOK_API void coil__io_fresh(int fd);

/* Are anonymous pipes read and written with RWF_NOWAIT rather than made
 * O_NONBLOCK (the kernel takes the flag on pipes: probed once per
 * process)?  Then sb, an fd's fstat, is such a pipe if this says so. */
COIL__HOOK_API int coil__io_pipes_nowait(void);
COIL__HOOK_API int coil__io_is_nowait_pipe(const struct stat *sb);

/* Let loop's handler for signo (coil_run's SIGINT, COIL_DUMP_SIGNAL) not
 * count as a way to wake the loop in the deadlock rule (loop.h): a program
 * that only an interrupt could end is still reported (src/io/signal.c). */
void coil__signal_quiet(coil_loop *loop, int signo);

#pragma GCC visibility pop

#endif
