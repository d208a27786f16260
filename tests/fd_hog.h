/*
 * tests/fd_hog.h — run out of fds on purpose: lower RLIMIT_NOFILE to 64
 * (in a forked test, so only that child sees it) and open /dev/null until
 * EMFILE.  Include after check.h.
 */
#ifndef COIL_TEST_FD_HOG_H
#define COIL_TEST_FD_HOG_H

#include <fcntl.h>
#include <sys/resource.h>

enum { FD_HOG_MAX = 256 };

typedef struct fd_hog {
    int fds[FD_HOG_MAX];
    int n;
} fd_hog;

/* Take every fd there is; errno is EMFILE afterwards. */
__attribute__((unused)) static void fd_hog_take(fd_hog *h)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int fd;
    h->n = 0;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
        CHECK(h->n < FD_HOG_MAX);
        h->fds[h->n++] = fd;
    }
    CHECK(errno == EMFILE);
}

/* Give back one fd (the next open gets it), or all of them. */
__attribute__((unused)) static void fd_hog_free_one(fd_hog *h)
{
    CHECK(h->n > 0);
    CHECK(close(h->fds[--h->n]) == 0);
}

__attribute__((unused)) static void fd_hog_free_all(fd_hog *h)
{
    while (h->n > 0)
        fd_hog_free_one(h);
}

#endif
