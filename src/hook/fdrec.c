/*
 * src/hook/fdrec.c — what the program asked of each fd: blocking or not,
 * and its SO_RCVTIMEO / SO_SNDTIMEO.
 *
 * coil switches an fd the program keeps blocking to O_NONBLOCK underneath
 * (so a task's call can wait in the loop instead of the kernel) and
 * remembers that it did, so that the program still sees what it set:
 * fcntl(F_GETFL) reports it, a call outside any task still blocks, and an
 * fd the program set O_NONBLOCK keeps returning EAGAIN.  Sockets and pipes
 * are the exception: each call passes MSG_DONTWAIT or RWF_NOWAIT instead
 * (where the kernel takes it on pipes: src/io/nowait.c), so they are left
 * blocking, and the program's stdio on one (which no hook sees) still
 * blocks rather than fail with EAGAIN.  Only a listening socket is
 * switched, at its first accept.
 *
 * The table is process-wide, as fds are: chunks of 1,024 records, made on
 * first use and never freed or moved, found through a fixed array of
 * chunk pointers (so a lookup takes no lock).  fds beyond its 4M are left
 * to libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hook.h"

enum { CHUNK = 1024, CHUNKS = 4096 };

static coil__hfd *_Atomic chunks[CHUNKS];

static coil__hfd *slot(int fd, int make)
{
    if (fd < 0 || fd >= CHUNK * CHUNKS)
        return NULL;
    coil__hfd *_Atomic *c = &chunks[fd / CHUNK];
    coil__hfd *chunk = atomic_load_explicit(c, memory_order_acquire);
    if (!chunk && make) {
        coil__hfd *fresh = calloc(CHUNK, sizeof *fresh);
        if (!fresh)
            return NULL;
        if (atomic_compare_exchange_strong(c, &chunk, fresh))
            chunk = fresh;
        else
            free(fresh);                  /* another thread's won */
    }
    return chunk ? &chunk[fd % CHUNK] : NULL;
}

coil__hfd *coil__hfd_get(int fd)
{
    coil__hfd *h = slot(fd, 0);
    return h && (atomic_load_explicit(&h->flags, memory_order_relaxed) &
                 HFD_KNOWN) ? h : NULL;
}

/* What the kernel says of an fd coil has no record of.  Sockets, pipes
 * and anonymous inodes (eventfd, timerfd, epoll) are waited for in coil.
 * A regular file, directory or block device is always "ready", and its
 * calls stay libc's (docs/hooks.md).  So do character devices: a
 * terminal's open file is usually shared with the shell, and the
 * O_NONBLOCK coil would set on it would outlive the program there; a
 * terminal's reads wait in poll first instead (rw.c). */
static int learn(int fd, unsigned *flags)
{
    int fl = LIBC(fcntl)(fd, F_GETFL);
    struct stat sb;
    if (fl < 0 || fstat(fd, &sb) != 0)
        return -1;
    int sync = S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode) ||
               S_ISBLK(sb.st_mode) || S_ISCHR(sb.st_mode);
    int tty = S_ISCHR(sb.st_mode) && isatty(fd);
    *flags = HFD_KNOWN | (fl & O_NONBLOCK ? HFD_NONBLOCK : 0) |
             (sync ? HFD_SYNC : 0) | (S_ISREG(sb.st_mode) ? HFD_FILE : 0) |
             (tty ? HFD_TTY : 0) |
             (S_ISSOCK(sb.st_mode) ? HFD_SOCKET : 0) |
             (coil__io_is_nowait_pipe(&sb) ? HFD_PIPE : 0);
    return 0;
}

int coil__hook_files_on_executor(void)
{
    static _Atomic int on = -1;           /* -1: not read yet */
    int v = atomic_load_explicit(&on, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("COIL_HOOK_FILES");
        v = e && strcmp(e, "executor") == 0;
        atomic_store_explicit(&on, v, memory_order_relaxed);
    }
    return v;
}

coil__hfd *coil__hfd_known(int fd)
{
    coil__hfd *h = slot(fd, 1);
    if (!h)
        return NULL;
    unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
    if (f & HFD_KNOWN)
        return h;
    if (learn(fd, &f) != 0)
        return NULL;
    atomic_store_explicit(&h->flags, f, memory_order_relaxed);
    return h;
}

/* Switch fd, which the program keeps blocking, to O_NONBLOCK underneath. */
static int manage(coil__hfd *h, int fd)
{
    int fl = LIBC(fcntl)(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (!(fl & O_NONBLOCK) && LIBC(fcntl)(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    atomic_fetch_or_explicit(&h->flags, HFD_MANAGED, memory_order_relaxed);
    return 0;
}

coil__hfd *coil__hfd_use(int fd)
{
    coil__hfd *h = coil__hfd_known(fd);
    if (!h)
        return NULL;
    unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
    if (f & (HFD_SYNC | HFD_NONBLOCK | HFD_MANAGED | HFD_SOCKET | HFD_PIPE))
        return h;                         /* the common case */
    return manage(h, fd) == 0 ? h : NULL;
}

int coil__hfd_nonblock_begin(int fd, int *saved)
{
    *saved = -1;
    int fl = LIBC(fcntl)(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (fl & O_NONBLOCK)
        return 0;
    if (LIBC(fcntl)(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    *saved = fl;
    return 0;
}

void coil__hfd_nonblock_end(int fd, int saved)
{
    if (saved < 0)
        return;
    int e = errno;
    LIBC(fcntl)(fd, F_SETFL, saved);
    errno = e;
}

int coil__hfd_listening(coil__hfd *h, int fd)
{
    unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
    return f & (HFD_NONBLOCK | HFD_MANAGED) ? 0 : manage(h, fd);
}

static void clear(coil__hfd *h)
{
    atomic_store_explicit(&h->flags, 0, memory_order_relaxed);
    atomic_store_explicit(&h->rcvtimeo, 0, memory_order_relaxed);
    atomic_store_explicit(&h->sndtimeo, 0, memory_order_relaxed);
}

void coil__hfd_born(int fd, int nonblock, unsigned kind)
{
    coil__io_fresh(fd);
    coil__hfd *h = slot(fd, 1);
    if (!h)
        return;
    clear(h);
    atomic_store_explicit(&h->flags, HFD_KNOWN |
                                         (nonblock ? HFD_NONBLOCK : 0) |
                                         kind,
                          memory_order_relaxed);
}

void coil__hfd_retire(int fd)
{
    if (fd < 0)
        return;
    coil__io_forget(fd);
    coil__hfd *h = slot(fd, 0);
    if (h)
        clear(h);
}

void coil__hfd_retire_range(unsigned first, unsigned last)
{
    coil__io_forget_range(first, last);
    for (unsigned c = first / CHUNK; c < CHUNKS && c <= last / CHUNK; c++) {
        coil__hfd *chunk = atomic_load_explicit(&chunks[c], memory_order_acquire);
        for (unsigned i = 0; chunk && i < CHUNK; i++) {
            unsigned fd = c * CHUNK + i;
            if (fd >= first && fd <= last)
                clear(&chunk[i]);
        }
    }
}

void coil__hfd_copy(int oldfd, int newfd)
{
    coil__io_fresh(newfd);
    coil__hfd *from = coil__hfd_get(oldfd), *to = slot(newfd, from != NULL);
    if (!to)
        return;
    clear(to);
    if (!from)
        return;
    /* The O_NONBLOCK coil set is the open file's, shared with the copy;
     * the timeouts are the socket's, shared too. */
    atomic_store_explicit(&to->rcvtimeo, atomic_load(&from->rcvtimeo),
                          memory_order_relaxed);
    atomic_store_explicit(&to->sndtimeo, atomic_load(&from->sndtimeo),
                          memory_order_relaxed);
    atomic_store_explicit(&to->flags, atomic_load(&from->flags),
                          memory_order_relaxed);
}

coil_time coil__hfd_deadline(const coil__hfd *h, int dir)
{
    coil_time t = atomic_load_explicit(dir == COIL__IO_RD ? &h->rcvtimeo
                                                          : &h->sndtimeo,
                                       memory_order_relaxed);
    return t > 0 ? coil__hook_after(t) : -1;
}

/* What is left until deadline (negative: none) as poll(2)'s timeout:
 * whole ms rounded up, at most INT_MAX, -1 for none. */
static int poll_ms(coil_time deadline)
{
    if (deadline < 0)
        return -1;
    coil_time left = deadline - coil_clock();
    if (left <= 0)
        return 0;
    coil_time ms = left / 1000000 + (left % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int coil__hfd_block_outside(int fd, short events)
{
    coil__hfd *h = coil__hook_off ? NULL : coil__hfd_get(fd);
    if (!h)
        return 0;                         /* coil's own call wants EAGAIN */
    unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
    if ((f & (HFD_MANAGED | HFD_NONBLOCK)) != HFD_MANAGED)
        return 0;                         /* EAGAIN is the program's */
    coil_time t = atomic_load_explicit(events & POLLIN ? &h->rcvtimeo
                                                       : &h->sndtimeo,
                                       memory_order_relaxed);
    coil_time deadline = t > 0 ? coil__hook_after(t) : -1;
    struct pollfd p = {.fd = fd, .events = events};
    int saved = errno, r;
    do {
        r = LIBC(poll)(&p, 1, poll_ms(deadline));
        /* Again after EINTR, and after a wait that poll's int cut short
         * of a timeout longer than INT_MAX ms. */
    } while ((r < 0 && errno == EINTR) ||
             (r == 0 && deadline >= 0 && coil_clock() < deadline));
    errno = saved;                        /* EAGAIN, if we give up */
    return r > 0;
}
