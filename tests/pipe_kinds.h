/*
 * tests/pipe_kinds.h — the two kinds of pipe coil treats differently
 * (src/io/nowait.c): an anonymous pipe, read and written with RWF_NOWAIT
 * where the kernel takes that flag and so left blocking, and a named FIFO,
 * which refuses it and is switched to O_NONBLOCK.  Include after check.h.
 */
#ifndef COIL_TEST_PIPE_KINDS_H
#define COIL_TEST_PIPE_KINDS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Does this kernel read a pipe with RWF_NOWAIT (asked of the kernel
 * itself, not of coil)?  Only then does coil leave pipes blocking; and
 * not under ThreadSanitizer, which does not see preadv2 (nowait.c). */
__attribute__((unused)) static int pipes_take_nowait(void)
{
#if defined(__SANITIZE_THREAD__)
    return 0;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return 0;
#endif
#endif
    int p[2];
    CHECK(pipe(p) == 0);
    char c;
    struct iovec v = {&c, 1};
    int yes = preadv2(p[0], &v, 1, -1, RWF_NOWAIT) < 0 && errno == EAGAIN;
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);
    return yes;
}

/* A named FIFO's two ends, blocking, as pipe(2) gives a pipe's (p[0]
 * reads, p[1] writes); the FIFO itself is gone from the file system. */
__attribute__((unused)) static void fifo_pair(int p[2])
{
    char dir[] = "/tmp/coil-fifo-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0);
    p[0] = open(path, O_RDWR | O_CLOEXEC);    /* RDWR: no wait for a writer */
    p[1] = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(p[0] >= 0 && p[1] >= 0);
    CHECK(unlink(path) == 0 && rmdir(dir) == 0);
}

#endif
