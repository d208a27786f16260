/*
 * src/hook/rw.c — the read and write calls (the batched ones, recvmmsg,
 * sendmmsg and sendfile, too), accept and connect, hooked.
 *
 * In a task, on an fd the program keeps blocking, each runs on
 * coil__io_run (src/io/io.c): try the syscall, and on EAGAIN park the task
 * until the loop's epoll says the fd is ready.  The syscall keeps the
 * program's own flags (no MSG_NOSIGNAL added: a write to a closed socket
 * raises SIGPIPE as it would have), plus MSG_DONTWAIT on sockets.
 *
 * What a blocking call does that a non-blocking one does not is kept:
 *   - SO_RCVTIMEO / SO_SNDTIMEO become the wait's deadline, and its expiry
 *     EAGAIN (EINPROGRESS for connect), as socket(7) says;
 *   - a blocking write, send or writev returns only once all of it is
 *     written (or the timeout, an error or cancellation in error mode
 *     cuts it short: then the count so far, if any);
 *   - recv with MSG_WAITALL waits for all of it.
 * Outside a task each is libc's call; if libc says EAGAIN only because
 * coil made the fd non-blocking underneath, it waits in poll(2) as the
 * kernel would have.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

/* A call outside a task: libc's, blocking where the program expects. */
#define OUTSIDE(fd, events, call)                                           \
    __extension__({                                                         \
        __typeof__(call) r_;                                                \
        while ((r_ = (call)) < 0 && errno == EAGAIN &&                      \
               coil__hfd_block_outside((fd), (events)))                     \
            ;                                                               \
        r_;                                                                 \
    })

/* The record of fd if a task's call on it should wait in coil, else NULL
 * (the call is then libc's: bad fd, O_NONBLOCK set by the program, a
 * regular file). */
static coil__hfd *waiting_fd(int fd)
{
    coil__hfd *h = coil__hfd_use(fd);
    return h && coil__hfd_waits(h) ? h : NULL;
}

/* A regular file that a task's read or write should take to the executor
 * (the opt-in, docs/hooks.md): its record, made if need be. */
static int file_on_executor(int fd)
{
    if (!coil__hook_files_on_executor())
        return 0;
    coil__hfd *h = coil__hfd_known(fd);
    return h && (atomic_load_explicit(&h->flags, memory_order_relaxed) &
                 (HFD_FILE | HFD_NONBLOCK)) == HFD_FILE;
}

/* Run op for a task, with h's timeout for dir as the deadline. */
static ssize_t run(const char *call, int fd, int dir, coil__hfd *h,
                   coil__io_op *op)
{
    coil_time deadline = coil__hfd_deadline(h, dir);
    /* A socket with SO_*TIMEO is never restarted after a handler. */
    coil__intr_since since = coil__intr_now(deadline >= 0);
    ssize_t r = coil__intr_io_run(call, fd, dir, deadline, op, &since);
    if (r < 0 && errno == ETIMEDOUT)
        errno = EAGAIN;                   /* the SO_*TIMEO ran out */
    return r;
}

/* ---------------------------------------------------------------- ops */

static ssize_t op_read(coil__io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET)
        return LIBC(recv)(fd, op->buf, op->len, MSG_DONTWAIT);
    if (kind == COIL__IO_NOWAIT) {
        struct iovec v = {op->buf, op->len};
        return preadv2(fd, &v, 1, -1, RWF_NOWAIT);
    }
    return LIBC(read)(fd, op->buf, op->len);
}

static ssize_t op_write(coil__io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET)
        return LIBC(send)(fd, op->cbuf, op->len, MSG_DONTWAIT);
    if (kind == COIL__IO_NOWAIT) {
        struct iovec v = {(void *)op->cbuf, op->len};
        return pwritev2(fd, &v, 1, -1, RWF_NOWAIT);
    }
    return LIBC(write)(fd, op->cbuf, op->len);
}

static ssize_t op_readv(coil__io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET) {
        struct msghdr m = {.msg_iov = (struct iovec *)op->iov,
                           .msg_iovlen = (size_t)op->iovcnt};
        return LIBC(recvmsg)(fd, &m, MSG_DONTWAIT);
    }
    if (kind == COIL__IO_NOWAIT)
        return preadv2(fd, op->iov, op->iovcnt, -1, RWF_NOWAIT);
    return LIBC(readv)(fd, op->iov, op->iovcnt);
}

static ssize_t op_writev(coil__io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET) {
        struct msghdr m = {.msg_iov = (struct iovec *)op->iov,
                           .msg_iovlen = (size_t)op->iovcnt};
        return LIBC(sendmsg)(fd, &m, MSG_DONTWAIT);
    }
    if (kind == COIL__IO_NOWAIT)
        return pwritev2(fd, op->iov, op->iovcnt, -1, RWF_NOWAIT);
    return LIBC(writev)(fd, op->iov, op->iovcnt);
}

static ssize_t op_recvfrom(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return LIBC(recvfrom)(fd, op->buf, op->len, op->flags | MSG_DONTWAIT,
                          op->addr, op->addrlen);
}

static ssize_t op_sendto(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return LIBC(sendto)(fd, op->cbuf, op->len, op->flags | MSG_DONTWAIT,
                        op->caddr, op->caddrlen);
}

static ssize_t op_recvmsg(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return LIBC(recvmsg)(fd, op->buf, op->flags | MSG_DONTWAIT);
}

static ssize_t op_sendmsg(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return LIBC(sendmsg)(fd, op->cbuf, op->flags | MSG_DONTWAIT);
}

static ssize_t op_accept4(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return LIBC(accept4)(fd, op->addr, op->addrlen, op->flags);
}

/* ------------------------------------------------------------- reads */

/* Whether a vector holds no byte.  readv and writev of nothing, and read
 * of nothing from a socket, are 0 at once: the kernel answers them before
 * it looks at the file (0 even on a socket shut down for writing, where
 * sendmsg(2) of nothing says EPIPE).  So they go straight to libc, not to
 * the MSG_DONTWAIT forms the ops use.  (write of nothing reaches the
 * socket either way; it goes to libc too, as it never waits.) */
static int iov_empty(const struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++)
        if (iov[i].iov_len != 0)
            return 0;
    return 1;
}

/* Is fd a terminal the program keeps blocking?  Its open file is
 * usually the shell's too, so coil never makes it O_NONBLOCK. */
static int is_blocking_tty(int fd)
{
    coil__hfd *h = coil__hfd_known(fd);
    return h && (atomic_load_explicit(&h->flags, memory_order_relaxed) &
                 (HFD_TTY | HFD_NONBLOCK)) == HFD_TTY;
}

/* A task's read of a terminal: wait in the loop until it has input (poll:
 * a private epoll, the terminal's mode untouched), then libc's read.  In
 * canonical mode the input is a whole line, so that read does not wait;
 * in a raw mode whose VMIN asks for more than came, it still may.  A
 * handler with SA_RESTART does not end the wait, as it would not end
 * read(2). */
static ssize_t read_tty(int fd, void *buf, size_t n)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    coil__intr_since since = coil__intr_now(0);
    if (coil__hook_poll_since(&p, 1, -1, &since) < 0)
        return -1;                        /* EINTR, ECANCELED, ENOMEM */
    return LIBC(read)(fd, buf, n);
}

ssize_t read(int fd, void *buf, size_t n)
{
    coil__hfd *h;
    if (n == 0)
        return LIBC(read)(fd, buf, n);
    if (!coil__hook_in_task())
        return OUTSIDE(fd, POLLIN, LIBC(read)(fd, buf, n));
    if (!(h = waiting_fd(fd))) {
        if (file_on_executor(fd))
            return coil_file_read(fd, buf, n);
        return is_blocking_tty(fd) ? read_tty(fd, buf, n)
                                   : LIBC(read)(fd, buf, n);
    }
    coil__io_op op = {.fn = op_read, .buf = buf, .len = n, .drains = 1};
    return run("read", fd, COIL__IO_RD, h, &op);
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    coil__hfd *h;
    if (iovcnt > 0 && iovcnt <= IOV_MAX && iov && iov_empty(iov, iovcnt))
        return LIBC(readv)(fd, iov, iovcnt);
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)))
        return OUTSIDE(fd, POLLIN, LIBC(readv)(fd, iov, iovcnt));
    coil__io_op op = {.fn = op_readv, .iov = iov, .iovcnt = iovcnt};
    return run("readv", fd, COIL__IO_RD, h, &op);
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                 socklen_t *addrlen)
{
    coil__hfd *h;
    if (flags & MSG_DONTWAIT)             /* its EAGAIN is the program's */
        return LIBC(recvfrom)(fd, buf, n, flags, addr, addrlen);
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)))
        return OUTSIDE(fd, POLLIN,
                       LIBC(recvfrom)(fd, buf, n, flags, addr, addrlen));
    size_t got = 0;
    ssize_t r;
    do {                                  /* once, or to the end: WAITALL */
        coil__io_op op = {.fn = op_recvfrom, .buf = (char *)buf + got,
                          .len = n - got, .flags = flags, .addr = addr,
                          .addrlen = addrlen, .drains = flags == 0};
        r = run("recvfrom", fd, COIL__IO_RD, h, &op);
        if (r > 0)
            got += (size_t)r;
    } while ((flags & MSG_WAITALL) && r > 0 && got < n);
    return got ? (ssize_t)got : r;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return recvfrom(fd, buf, n, flags, NULL, NULL);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    coil__hfd *h;
    if (flags & MSG_DONTWAIT)
        return LIBC(recvmsg)(fd, msg, flags);
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)))
        return OUTSIDE(fd, POLLIN, LIBC(recvmsg)(fd, msg, flags));
    coil__io_op op = {.fn = op_recvmsg, .buf = msg, .flags = flags};
    return run("recvmsg", fd, COIL__IO_RD, h, &op);
}

/* _FORTIFY_SOURCE's checked reads: a program built with it (the default
 * of some distributions' compilers) calls these instead of read, recv and
 * recvfrom when the buffer's size is known.  Same check as libc's (a
 * count beyond the buffer aborts), then the hooked call. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen)
        __chk_fail();
    return read(fd, buf, n);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (n > buflen)
        __chk_fail();
    return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *addrlen)
{
    if (n > buflen)
        __chk_fail();
    return recvfrom(fd, buf, n, flags, addr, addrlen);
}

/* ------------------------------------------------------------ writes */

/* Write all n bytes of buf as a blocking write does: the count, short only
 * if the timeout, an error or an ECANCELED came after some of it. */
static ssize_t write_fully(const char *call, int fd, coil__hfd *h,
                           coil__io_op *op, size_t n)
{
    size_t put = 0;
    const char *base = op->cbuf;
    do {
        op->cbuf = base + put;
        op->len = n - put;
        ssize_t r = run(call, fd, COIL__IO_WR, h, op);
        if (r < 0)
            return put ? (ssize_t)put : -1;
        put += (size_t)r;
    } while (put < n);
    return (ssize_t)put;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    coil__hfd *h;
    if (n == 0)
        return LIBC(write)(fd, buf, n);
    if (!coil__hook_in_task())
        return OUTSIDE(fd, POLLOUT, LIBC(write)(fd, buf, n));
    if (!(h = waiting_fd(fd)))
        return file_on_executor(fd) ? coil_file_write(fd, buf, n)
                                    : LIBC(write)(fd, buf, n);
    coil__io_op op = {.fn = op_write, .cbuf = buf};
    return write_fully("write", fd, h, &op, n);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags,
               const struct sockaddr *addr, socklen_t addrlen)
{
    coil__hfd *h;
    if (flags & MSG_DONTWAIT)
        return LIBC(sendto)(fd, buf, n, flags, addr, addrlen);
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)))
        return OUTSIDE(fd, POLLOUT,
                       LIBC(sendto)(fd, buf, n, flags, addr, addrlen));
    coil__io_op op = {.fn = op_sendto, .cbuf = buf, .flags = flags,
                      .caddr = addr, .caddrlen = addrlen};
    return write_fully("sendto", fd, h, &op, n);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    return sendto(fd, buf, n, flags, NULL, 0);
}

/* Drop the first `done` bytes from iov[*cnt] (in place). */
static void iov_advance(struct iovec **iov, int *cnt, size_t done)
{
    while (*cnt > 0 && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

/* The rest of a message a stream socket took only part of (*sent bytes
 * of hd's), as a blocking send would have sent it: *sent counts what
 * went.  0, or -1 with errno (then *sent is what went before). */
static int finish_message(int fd, coil__hfd *h, const struct msghdr *hd,
                          size_t *sent, int flags)
{
    size_t total = 0;
    for (size_t i = 0; i < hd->msg_iovlen; i++)
        total += hd->msg_iov[i].iov_len;
    if (*sent >= total)
        return 0;
    struct iovec *copy = malloc(hd->msg_iovlen * sizeof *copy), *at = copy;
    if (!copy)
        return -1;
    memcpy(copy, hd->msg_iov, hd->msg_iovlen * sizeof *copy);
    int left = (int)hd->msg_iovlen, rc = 0;
    iov_advance(&at, &left, *sent);
    while (*sent < total) {
        struct msghdr rest = {.msg_iov = at, .msg_iovlen = (size_t)left};
        coil__io_op op = {.fn = op_sendmsg, .cbuf = &rest, .flags = flags};
        ssize_t r = run("sendmsg", fd, COIL__IO_WR, h, &op);
        if (r < 0) {
            rc = -1;
            break;
        }
        *sent += (size_t)r;
        iov_advance(&at, &left, (size_t)r);
    }
    free(copy);
    return rc;
}

/* A blocking sendmsg on a stream socket returns once all of it went: the
 * first try carries the address and ancillary data, the rest of the
 * bytes follow without them.  Short only if an error, the timeout or an
 * ECANCELED came after some of it. */
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    coil__hfd *h;
    if (flags & MSG_DONTWAIT)
        return LIBC(sendmsg)(fd, msg, flags);
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)))
        return OUTSIDE(fd, POLLOUT, LIBC(sendmsg)(fd, msg, flags));
    coil__io_op op = {.fn = op_sendmsg, .cbuf = msg, .flags = flags};
    ssize_t r = run("sendmsg", fd, COIL__IO_WR, h, &op);
    if (r <= 0)
        return r;
    size_t sent = (size_t)r;
    finish_message(fd, h, msg, &sent, flags);
    return (ssize_t)sent;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    coil__hfd *h;
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)) || iovcnt <= 0 ||
        iovcnt > IOV_MAX || !iov || iov_empty(iov, iovcnt))
        return OUTSIDE(fd, POLLOUT, LIBC(writev)(fd, iov, iovcnt));
    size_t total = 0, put = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    struct iovec copy[iovcnt], *at = copy;   /* the caller's stays as is */
    memcpy(copy, iov, sizeof copy);
    int left = iovcnt;
    do {
        coil__io_op op = {.fn = op_writev, .iov = at, .iovcnt = left};
        ssize_t r = run("writev", fd, COIL__IO_WR, h, &op);
        if (r < 0)
            return put ? (ssize_t)put : -1;
        put += (size_t)r;
        iov_advance(&at, &left, (size_t)r);
    } while (put < total);
    return (ssize_t)put;
}

/* -------------------------------------- batches: mmsg and sendfile */

static ssize_t op_recvmmsg(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return LIBC(recvmmsg)(fd, op->buf, (unsigned)op->len,
                          op->flags | MSG_DONTWAIT, NULL);
}

static ssize_t op_sendmmsg(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return LIBC(sendmmsg)(fd, (struct mmsghdr *)op->cbuf, (unsigned)op->len,
                          op->flags | MSG_DONTWAIT);
}

/* The time left until end, into *ts (0 once past): what the kernel
 * writes back into recvmmsg's timeout after each datagram.  Whether any
 * is left. */
static int time_left(coil_time end, struct timespec *ts)
{
    coil_time left = end - coil_clock();
    if (left <= 0) {
        ts->tv_sec = ts->tv_nsec = 0;
        return 0;
    }
    ts->tv_sec = (time_t)(left / 1000000000);
    ts->tv_nsec = (long)(left % 1000000000);
    return 1;
}

/* recvmmsg as the kernel runs it on a blocking socket: datagrams are
 * waited for until vlen have come (with MSG_WAITFORONE only the first),
 * and the timeout is looked at only after a datagram has come, never
 * cutting a wait short (recvmmsg(2), BUGS); what is left of it is written
 * back.  An error after some datagrams returns their count. */
int recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags,
             struct timespec *timeout)
{
    coil__hfd *h;
    if ((flags & MSG_DONTWAIT) || vlen == 0)
        return LIBC(recvmmsg)(fd, vec, vlen, flags, timeout);
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)))
        return OUTSIDE(fd, POLLIN,
                       LIBC(recvmmsg)(fd, vec, vlen, flags, timeout));
    if (timeout && !coil__hook_ts_valid(timeout)) {
        errno = EINVAL;                   /* the kernel's first check */
        return -1;
    }
    coil_time end = timeout ? coil__hook_after(coil__hook_span(
                                  timeout->tv_sec, timeout->tv_nsec))
                            : -1;
    unsigned got = 0;
    do {
        coil__io_op op = {.fn = op_recvmmsg, .buf = vec + got,
                          .len = vlen - got,
                          .flags = flags & ~MSG_WAITFORONE};
        ssize_t r = run("recvmmsg", fd, COIL__IO_RD, h, &op);
        if (r < 0)
            return got ? (int)got : -1;
        got += (unsigned)r;               /* all there were, at once */
        if (timeout && !time_left(end, timeout))
            break;
    } while (got < vlen && !(flags & MSG_WAITFORONE));
    return (int)got;
}

/* sendmmsg as on a blocking socket: every message is sent, each waited
 * for in the loop.  An error after some messages returns their count (the
 * one cut short included: its msg_len says how much of it went). */
int sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags)
{
    coil__hfd *h;
    if ((flags & MSG_DONTWAIT) || vlen == 0)
        return LIBC(sendmmsg)(fd, vec, vlen, flags);
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)))
        return OUTSIDE(fd, POLLOUT, LIBC(sendmmsg)(fd, vec, vlen, flags));
    unsigned sent = 0;
    while (sent < vlen) {
        coil__io_op op = {.fn = op_sendmmsg, .cbuf = vec + sent,
                          .len = vlen - sent, .flags = flags};
        ssize_t r = run("sendmmsg", fd, COIL__IO_WR, h, &op);
        if (r < 0)
            return sent ? (int)sent : -1;
        sent += (unsigned)r;
        size_t went = vec[sent - 1].msg_len;
        int rc = finish_message(fd, h, &vec[sent - 1].msg_hdr, &went, flags);
        vec[sent - 1].msg_len = (unsigned)went;
        if (rc != 0)
            return (int)sent;
    }
    return (int)sent;
}

/* sendfile takes no MSG_DONTWAIT: the output fd is O_NONBLOCK for the
 * call only (the program's own stdio on it must never see the flag).  The
 * input fd is in op->flags, the offset pointer in op->buf. */
static ssize_t op_sendfile(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    int saved;
    if (coil__hfd_nonblock_begin(fd, &saved) != 0)
        return -1;
    ssize_t r = LIBC(sendfile)(fd, op->flags, op->buf, op->len);
    coil__hfd_nonblock_end(fd, saved);
    return r;
}

/* sendfile into a socket or pipe the program keeps blocking: all count
 * bytes, waiting in the loop for room, unless the input ends first (then
 * what it had) or an error comes after some (then their count).  The
 * input should be a regular file: one that must wait for data (a pipe,
 * since Linux 5.12) still waits in the kernel. */
ssize_t sendfile(int out, int in, off_t *offset, size_t count)
{
    coil__hfd *h;
    if (count == 0 || !coil__hook_in_task() || !(h = waiting_fd(out)))
        return OUTSIDE(out, POLLOUT, LIBC(sendfile)(out, in, offset, count));
    size_t done = 0;
    do {
        coil__io_op op = {.fn = op_sendfile, .buf = offset,
                          .len = count - done, .flags = in};
        ssize_t r = run("sendfile", out, COIL__IO_WR, h, &op);
        if (r < 0)
            return done ? (ssize_t)done : -1;
        if (r == 0)
            break;                        /* the input has ended */
        done += (size_t)r;
    } while (done < count);
    return (ssize_t)done;
}

/* What a program built with _FILE_OFFSET_BITS=64 calls: the same on the
 * 64-bit CPUs coil runs on. */
ssize_t sendfile64(int out, int in, off64_t *offset, size_t count)
{
    return sendfile(out, in, (off_t *)offset, count);
}

/* ---------------------------------------------------- accept, connect */

int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
    coil__hfd *h;
    int s;
    if (!coil__hook_in_task() || !(h = waiting_fd(fd)) ||
        coil__hfd_listening(h, fd) != 0) {
        s = OUTSIDE(fd, POLLIN, LIBC(accept4)(fd, addr, addrlen, flags));
    } else {
        coil__io_op op = {.fn = op_accept4, .addr = addr, .addrlen = addrlen,
                          .flags = flags, .no_dontwait = 1};
        s = (int)run("accept", fd, COIL__IO_RD, h, &op);
    }
    if (s >= 0)
        coil__hfd_born(s, flags & SOCK_NONBLOCK, HFD_SOCKET);
    return s;
}

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    return accept4(fd, addr, addrlen, 0);
}

int connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    coil__hfd *h;
    if (!coil__hook_in_task() || !(h = waiting_fd(fd))) {
        int r = LIBC(connect)(fd, addr, addrlen);
        if (r < 0 && errno == EINPROGRESS && coil__hfd_block_outside(fd, POLLOUT)) {
            int err = 0;
            socklen_t len = sizeof err;
            LIBC(getsockopt)(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            errno = err;
            return err ? -1 : 0;
        }
        return r;
    }
    int r = coil_connect_until(fd, addr, addrlen,
                               coil__hfd_deadline(h, COIL__IO_WR));
    if (r < 0 && errno == ETIMEDOUT)
        errno = EINPROGRESS;              /* socket(7), for SO_SNDTIMEO */
    return r;
}
