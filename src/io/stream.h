/*
 * src/io/stream.h — what the stream files share (internal): the stream
 * object and the checks every call makes.  stream.c is the object and its
 * read side, stream_write.c the write side and the socket wrappers.
 */
#ifndef COIL_STREAM_H
#define COIL_STREAM_H

#include <errno.h>
#include <stddef.h>
#include "coil.h"

#pragma GCC visibility push(hidden)

struct coil_stream {
    int fd;
    unsigned flags;               /* COIL_STREAM_* */
    const char *thread;           /* the thread that made it: the address
                                     of its coil__stream_thread_mark */

    /* Read side: the bytes not yet handed out are rbuf[rpos, rlen). */
    char *rbuf;                   /* NULL until the first read needs it */
    size_t rcap, rpos, rlen;
    size_t rsize;                 /* attr.read_size: the usual capacity */
    int eof;                      /* the fd said EOF: no more reads */
    int skip_line;                /* an overlong line's tail is still due */
    coil_task *reader;            /* inside a read call, or NULL */
    const char *idle_on;          /* `thread` while reader is NULL and
                                     skip_line 0, else NULL: the one
                                     check of a buffered read_line */

    /* Write side: the bytes not yet sent are wbuf[wpos, wlen). */
    char *wbuf;
    size_t wcap, wpos, wlen;
    size_t high, low;             /* water marks for drain */
    int werr;                     /* the error that broke the write side */
    int wshut;                    /* write_eof done */
    coil_task *writer;            /* inside drain/flush/write_eof, or NULL */
};

/* Names the calling thread by its address (a TLS offset, no call into
 * libc as pthread_self() is: every buffered read checks it). */
extern __thread char coil__stream_thread_mark
    __attribute__((tls_model("initial-exec")));

/* s is usable from this thread: 0, or -1 with errno EINVAL or EPERM. */
static inline int coil__stream_check(const coil_stream *s)
{
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    if (s->thread != &coil__stream_thread_mark) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

/* As coil__stream_check, and the caller is a task (EPERM, reported by
 * debug mode, naming `call`): that task, or NULL with errno set. */
coil_task *coil__stream_task(const coil_stream *s, const char *call);

/* Check attr (NULL: the defaults) and, if s is not NULL, set s's flags,
 * sizes and water marks from it.  0, or -1 with errno EINVAL. */
int coil__stream_attr(coil_stream *s, const coil_stream_attr *attr);

#pragma GCC visibility pop

#endif
