/*
 * src/io/stream_write.c — buffered streams (layer 6): the write side, and the
 * wrappers that make a stream from a socket (dial, accept).
 *
 * coil_stream_write only appends, so any task may call it at any time,
 * also while the writing task is suspended in drain or flush.  That is
 * safe because the writer holds no pointer into wbuf across a suspension:
 * it writes with a deadline already past (io.c then tries the syscall
 * once and never waits: ETIMEDOUT means "would block"), and waits with
 * coil_wait_fd, which takes no buffer.  An append may therefore move
 * wbuf whenever it likes.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "coil.h"
#include "io/stream.h"

/* A deadline that has always passed: the write is tried, never waited
 * for (coil.h: "a deadline already past still lets the first syscall
 * try"). */
#define NO_WAIT ((coil_time)0)

static size_t pending(const coil_stream *s)
{
    return s->wlen - s->wpos;
}

/* The write side failed for good: nothing buffered can be sent now. */
static int broken(coil_stream *s, int err)
{
    s->werr = err;
    s->wpos = s->wlen = 0;
    errno = err;
    return -1;
}

/* ----------------------------------------------------------------- write */

/* Room for n more bytes at the end of wbuf: compact, then grow. */
static int wreserve(coil_stream *s, size_t n)
{
    if (n <= s->wcap - s->wlen)
        return 0;
    if (s->wpos) {
        memmove(s->wbuf, s->wbuf + s->wpos, pending(s));
        s->wlen -= s->wpos;
        s->wpos = 0;
        if (n <= s->wcap - s->wlen)
            return 0;
    }
    size_t need = s->wlen + n;
    if (need < s->wlen) {
        errno = ENOMEM;
        return -1;
    }
    size_t cap = s->wcap ? s->wcap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *b = realloc(s->wbuf, cap);
    if (!b)
        return -1;
    s->wbuf = b;
    s->wcap = cap;
    return 0;
}

int coil_stream_write(coil_stream *s, const void *buf, size_t n)
{
    if (coil__stream_check(s) != 0)
        return -1;
    if ((!buf && n > 0) || n > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (s->werr) {
        errno = s->werr;
        return -1;
    }
    if (s->wshut) {
        errno = EPIPE;
        return -1;
    }
    if (n == 0)
        return 0;
    if (wreserve(s, n) != 0)
        return -1;
    memcpy(s->wbuf + s->wlen, buf, n);
    s->wlen += n;
    return 0;
}

ssize_t coil_stream_write_pending(const coil_stream *s)
{
    if (coil__stream_check(s) != 0)
        return -1;
    return (ssize_t)pending(s);
}

/* ---------------------------------------------------------- sending out */

/* Write until at most `target` bytes are left.  Without `wait`, stop at
 * the first "would block" (and return 0); with it, wait for the fd then.
 * 0, or -1 with errno: the wait's (not sticky) or the write's (sticky). */
static int send_down_to(coil_stream *s, size_t target, int wait,
                        coil_time deadline)
{
    while (pending(s) > target) {
        ssize_t w = coil_write_until(s->fd, s->wbuf + s->wpos, pending(s),
                                     NO_WAIT);
        if (w > 0) {
            s->wpos += (size_t)w;
            if (s->wpos == s->wlen)
                s->wpos = s->wlen = 0;
            continue;
        }
        if (w < 0 && errno != ETIMEDOUT) {
            if (errno == EPERM || errno == ENOMEM || errno == EBUSY)
                return -1;            /* the call's problem, not the fd's */
            return broken(s, errno);
        }
        if (!wait)
            return 0;
        if (coil_wait_fd(s->fd, COIL_WRITABLE, deadline) != 0)
            return -1;
    }
    return 0;
}

/* The writing task: one at a time.  Cleared on every way out. */
static void write_leave(void *arg)
{
    coil_stream *s = arg;
    s->writer = NULL;
}

static int write_enter(coil_stream *s, const char *call)
{
    coil_task *t = coil__stream_task(s, call);
    if (!t)
        return -1;
    if (s->writer) {
        errno = EBUSY;
        return -1;
    }
    if (s->werr) {
        errno = s->werr;
        return -1;
    }
    s->writer = t;
    return 0;
}

/* asyncio's drain, without a transport writing in the background: send
 * what goes without waiting, then hold the caller only above high water. */
static int drain(coil_stream *s, coil_time deadline)
{
    if (send_down_to(s, 0, 0, deadline) != 0)
        return -1;
    if (pending(s) <= s->high)
        return 0;
    return send_down_to(s, s->low, 1, deadline);
}

/* Run op as s's one writer: enter (EBUSY if another task writes), and
 * leave on every way out, unwinding included, with op's errno kept. */
static int as_writer(coil_stream *s, const char *call,
                     int (*op)(coil_stream *s, coil_time deadline),
                     coil_time deadline)
{
    if (write_enter(s, call) != 0)
        return -1;
    int r, e;
    coil_cleanup_push(write_leave, s);
    r = op(s, deadline);
    e = errno;
    coil_cleanup_pop(1);
    errno = e;
    return r;
}

static int flush(coil_stream *s, coil_time deadline)
{
    return send_down_to(s, 0, 1, deadline);
}

int coil_stream_drain(coil_stream *s, coil_time deadline)
{
    return as_writer(s, "coil_stream_drain", drain, deadline);
}

int coil_stream_flush(coil_stream *s, coil_time deadline)
{
    return as_writer(s, "coil_stream_flush", flush, deadline);
}

static int write_eof(coil_stream *s, coil_time deadline)
{
    if (s->wshut)
        return 0;
    if (send_down_to(s, 0, 1, deadline) != 0)
        return -1;
    if (shutdown(s->fd, SHUT_WR) != 0)
        return -1;
    s->wshut = 1;
    return 0;
}

int coil_stream_write_eof(coil_stream *s, coil_time deadline)
{
    return as_writer(s, "coil_stream_write_eof", write_eof, deadline);
}

/* ------------------------------------------------------- socket wrappers */

/* A stream owning fd, or NULL with errno and fd closed. */
static coil_stream *own(int fd, const coil_stream_attr *attr)
{
    if (fd < 0)
        return NULL;
    coil_stream_attr a = attr ? *attr : (coil_stream_attr){0};
    a.flags |= COIL_STREAM_OWN_FD;
    coil_stream *s = coil_stream_new(fd, &a);
    if (!s) {
        int e = errno;
        coil_close(fd);
        errno = e;
    }
    return s;
}

coil_stream *coil_stream_dial(const char *host, int port,
                              const coil_stream_attr *attr,
                              coil_time deadline)
{
    if (coil__stream_attr(NULL, attr) != 0)
        return NULL;
    return own(coil_tcp_dial(host, port, deadline), attr);
}

coil_stream *coil_stream_accept(int lfd, const coil_stream_attr *attr,
                                coil_time deadline)
{
    if (coil__stream_attr(NULL, attr) != 0)
        return NULL;
    return own(coil_accept_until(lfd, NULL, NULL, deadline), attr);
}
