/*
 * src/io/nowait.c — whether a pipe can be read and written without
 * waiting, call by call, instead of being made O_NONBLOCK (layer 6).
 *
 * O_NONBLOCK belongs to the open file, so it reaches whatever else holds
 * it: the program's stdio on a pipe a task has used (fgets gets EAGAIN
 * and returns NULL, printf into a full pipe fails), or the shell's other
 * end of a pipeline.  preadv2 and pwritev2 take RWF_NOWAIT per call,
 * which a pipe obeys as it would the flag, on kernels that give pipes
 * FMODE_NOWAIT (Linux 5.x and later).  Elsewhere — an older kernel, an
 * emulator without the syscalls, a named FIFO or a terminal, which refuse
 * the flag with EOPNOTSUPP — the fd is made O_NONBLOCK as before.
 *
 * Not under ThreadSanitizer: its runtime intercepts read(2) and write(2)
 * to order what threads do around a pipe (a write happens before the read
 * that gets its bytes) but not preadv2/pwritev2, so a task that read a
 * pipe another thread filled would be reported racing with it.  Pipes are
 * made O_NONBLOCK there, as before.
 *
 * One probe per process answers for every anonymous pipe: they all live
 * on the one pipefs, whose st_dev the probe notes, so telling one from a
 * named FIFO (same S_IFIFO, a real file system's st_dev) costs no syscall
 * beyond the fstat the caller has already made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/coro.h"                /* COIL_TSAN */
#include "io/io.h"

enum { UNKNOWN = 0, NO = 1, YES = 2 };

static _Atomic int probed = UNKNOWN;
static _Atomic dev_t pipefs_dev;

/* Read an empty pipe with RWF_NOWAIT: EAGAIN means the kernel takes it. */
static int probe(void)
{
    int p[2];
    /* The raw syscall: the hook layer's pipe2 asks this very question. */
    if (syscall(SYS_pipe2, p, O_CLOEXEC) != 0)
        return UNKNOWN;                   /* EMFILE: ask again next time */
    char c;
    struct iovec v = {&c, 1};
    struct stat sb;
    int works = preadv2(p[0], &v, 1, -1, RWF_NOWAIT) < 0 &&
                errno == EAGAIN && fstat(p[0], &sb) == 0;
    int e = errno;
    COIL__LIBC(close(p[0]));
    COIL__LIBC(close(p[1]));
    errno = e;
    if (!works)
        return NO;
    atomic_store_explicit(&pipefs_dev, sb.st_dev, memory_order_relaxed);
    return YES;
}

int coil__io_pipes_nowait(void)
{
#ifdef COIL_TSAN
    return 0;
#endif
    int v = atomic_load_explicit(&probed, memory_order_acquire);
    if (v == UNKNOWN) {
        int saved = errno;
        v = probe();
        errno = saved;
        if (v != UNKNOWN)
            atomic_store_explicit(&probed, v, memory_order_release);
    }
    return v == YES;
}

int coil__io_is_nowait_pipe(const struct stat *sb)
{
    return S_ISFIFO(sb->st_mode) && coil__io_pipes_nowait() &&
           sb->st_dev ==
               atomic_load_explicit(&pipefs_dev, memory_order_relaxed);
}
