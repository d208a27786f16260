/*
 * src/io/file_cache.c — reads the page cache serves without waiting
 * (layer 6).
 *
 * A read of a cached page is a copy: one syscall, a microsecond or two.
 * Sending it to the executor costs two thread wake-ups, to the io_uring
 * an io_uring_enter that costs more than the pread itself.  So file.c
 * asks first with preadv2(RWF_NOWAIT), which reads what is in memory and
 * says EAGAIN where it would wait for the disk (Linux 4.14), straight into
 * the caller's buffer: the caller is blocked in the call, as in a plain
 * read(2).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/file_cache.h"

/* 1 yes, 0 no, -1 not decided yet. */
static atomic_int cache_first = -1;

int coil__file_cache_first(void)
{
    int yes = atomic_load_explicit(&cache_first, memory_order_relaxed);
    if (yes < 0) {
        const char *want = getenv("COIL_FILE_BACKEND");
        yes = !(want && strcasecmp(want, "executor") == 0);
        atomic_store_explicit(&cache_first, yes, memory_order_relaxed);
    }
    return yes;
}

ssize_t coil__file_read_cached(int fd, void *buf, size_t n, off_t off)
{
    struct iovec iov = {buf, n};
    ssize_t r;
    do
        r = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
    while (r < 0 && errno == EINTR);
    /* EAGAIN: not in memory, or an empty pipe; EOPNOTSUPP: no NOWAIT
     * reads on this fd (a tty) or kernel; EPERM: a seccomp filter. */
    if (r >= 0 || (errno != EAGAIN && errno != EOPNOTSUPP &&
                   errno != ENOSYS && errno != EPERM))
        return r;
    if (errno == ENOSYS)                  /* no preadv2: never again */
        atomic_store_explicit(&cache_first, 0, memory_order_relaxed);
    return COIL__NOT_CACHED;
}

int coil__file_has_more(int fd, off_t off, ssize_t r)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    off_t at = off >= 0 ? off + r : lseek(fd, 0, SEEK_CUR);
    return at >= 0 && at < st.st_size;
}
