/*
 * src/io/file_uring.h — file IO on a loop-owned io_uring (layer 6,
 * src/io/file_uring.c), what file.c submits to instead of the executor
 * when the kernel allows it.
 *
 * The ring only moves bytes between an fd and a buffer that the caller of
 * coil__uring_run owns until the kernel is done with it (file.c passes
 * its op's bounce buffer): a cancelled caller returns at once, and the
 * buffer's owner is told through abandon() once the kernel has let go.
 */
#ifndef COIL_FILE_URING_H
#define COIL_FILE_URING_H

#include <sys/types.h>

#include "coil.h"

#pragma GCC visibility push(hidden)

enum { COIL__URING_READ, COIL__URING_WRITE, COIL__URING_FSYNC,
       COIL__URING_FDATASYNC };

typedef struct coil__uring_req {
    int kind;                     /* COIL__URING_* */
    int fd;
    void *buf;
    size_t n;
    off_t off;                    /* -1: at the file position */
    /* The caller went before the kernel finished: called on the loop's
     * thread once it has (res: the kernel's result, or -ECANCELED), for
     * arg's owner to free buf.  Not called when coil__uring_run returns
     * 0 or COIL__URING_UNAVAILABLE. */
    void (*abandon)(void *arg, int res);
    void *arg;
} coil__uring_req;

/* coil__uring_run's answer when the ring cannot take the request (none
 * for this process or loop): nothing was submitted, use the executor. */
#define COIL__URING_UNAVAILABLE (-2)

/* Whether this process runs coil_file_* on io_uring: decided once, by
 * COIL_FILE_BACKEND (uring|executor) and a probe of the kernel. */
int coil__uring_enabled(void);

/* Whether a read made now should join a batch on the running loop's
 * ring rather than ask the page cache inline (file_uring.c: the loop has
 * other work ready, or a batch is forming, and on this machine a batch
 * costs a read less than a syscall of its own).  0 where there is no
 * ring. */
int coil__uring_batching(void);

/* A landing buffer of n bytes for a ring read, from the running loop's
 * ring (which keeps a few of each size, up to 64 KiB, for the next read:
 * malloc and free of a page or more cost a read a tenth of its time, in
 * glibc's consolidation), or malloc's; NULL if out of memory.  Give it
 * back with coil__uring_buf_put and the same n, on the loop's thread. */
void *coil__uring_buf_get(size_t n);
void coil__uring_buf_put(void *buf, size_t n);

/* Run req on the calling task's loop's ring and suspend until it is
 * complete.  Returns 0 with the kernel's result in *res (>= 0, or
 * -errno), COIL__URING_UNAVAILABLE, or -1 with errno ECANCELED (error-mode
 * cancellation: abandon will be called); unwinds if cancelled otherwise
 * (abandon will be called).  Must run in a task. */
int coil__uring_run(const coil__uring_req *req, int *res);

#pragma GCC visibility pop

#endif
