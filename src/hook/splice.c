/*
 * src/hook/splice.c — splice and tee, hooked: in a task, one that would
 * wait (a pipe or socket with nothing to read, or no room to write)
 * parks the task until the loop sees the fds ready, instead of blocking
 * the thread.
 *
 * Each try runs with SPLICE_F_NONBLOCK, which makes the call's pipe side
 * non-blocking, and with O_NONBLOCK set on a socket side for the call only
 * (splice(2): the flag alone leaves a blocking socket blocking, and coil
 * leaves sockets blocking underneath: fdrec.c), as sendfile's hook does.
 * On EAGAIN the task waits for the input to be readable, then for the
 * output to be writable, and tries again: one of the two was not ready.
 * Without a wait: outside a task, with the program's own
 * SPLICE_F_NONBLOCK, or with an fd the program set O_NONBLOCK (it gets
 * its EAGAIN).  A regular file on one side is always ready.  The sockets'
 * SO_RCVTIMEO / SO_SNDTIMEO are not applied; a cancelled task unwinds
 * (or gets ECANCELED in error mode) as in any hooked wait.
 */
#include <errno.h>
#include <fcntl.h>

#include "hook.h"

/* One call of splice, or of tee (then no offsets). */
typedef struct transfer {
    int in, out;
    loff_t *off_in, *off_out;
    size_t len;
    unsigned flags;
    int tee;
    coil__hfd *hin, *hout;        /* NULL: a side that never waits */
} transfer;

/* A side of t: its record if a task's call may wait for it (a pipe or
 * socket the program keeps blocking), NULL if it never waits (a regular
 * file and kin).  *libc is set if the call must be libc's as asked: a
 * bad fd, or one the program set O_NONBLOCK. */
static coil__hfd *side(int fd, int *libc)
{
    coil__hfd *h = coil__hfd_use(fd);
    if (h && coil__hfd_waits(h))
        return h;
    if (!h || !(atomic_load_explicit(&h->flags, memory_order_relaxed) &
                HFD_SYNC))
        *libc = 1;
    return NULL;
}

/* O_NONBLOCK for the call on a socket side (a pipe needs none: the call's
 * SPLICE_F_NONBLOCK covers it).  0, or -1 with errno. */
static int socket_nonblock(const coil__hfd *h, int fd, int *saved)
{
    *saved = -1;
    if (!h || !(atomic_load_explicit(&h->flags, memory_order_relaxed) &
                HFD_SOCKET))
        return 0;
    return coil__hfd_nonblock_begin(fd, saved);
}

static ssize_t try_once(const transfer *t)
{
    int fin = -1, fout = -1;
    ssize_t r = -1;
    if (socket_nonblock(t->hin, t->in, &fin) == 0 &&
        socket_nonblock(t->hout, t->out, &fout) == 0) {
        unsigned flags = t->flags | SPLICE_F_NONBLOCK;
        r = t->tee ? LIBC(tee)(t->in, t->out, t->len, flags)
                   : LIBC(splice)(t->in, t->off_in, t->out, t->off_out,
                                  t->len, flags);
    }
    coil__hfd_nonblock_end(t->out, fout);
    coil__hfd_nonblock_end(t->in, fin);
    return r;
}

/* Try until the call moves something, ends or fails, parking the task
 * while a side is not ready. */
static ssize_t run_in_task(const transfer *t)
{
    for (;;) {
        ssize_t r = try_once(t);
        if (r >= 0 || errno != EAGAIN)
            return r;
        if ((t->hin && coil_wait_fd(t->in, COIL_READABLE, -1) != 0) ||
            (t->hout && coil_wait_fd(t->out, COIL_WRITABLE, -1) != 0))
            return -1;                    /* ECANCELED, EBADF */
    }
}

/* Whether t must go to libc as asked; else its records are filled in. */
static int libcs(transfer *t)
{
    if ((t->flags & SPLICE_F_NONBLOCK) || !coil__hook_in_task())
        return 1;
    int libc = 0;
    t->hin = side(t->in, &libc);
    t->hout = side(t->out, &libc);
    return libc || (!t->hin && !t->hout);   /* files both: nothing waits */
}

ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len,
               unsigned flags)
{
    transfer t = {in, out, off_in, off_out, len, flags, 0, NULL, NULL};
    if (libcs(&t))
        return LIBC(splice)(in, off_in, out, off_out, len, flags);
    return run_in_task(&t);
}

ssize_t tee(int in, int out, size_t len, unsigned flags)
{
    transfer t = {in, out, NULL, NULL, len, flags, 1, NULL, NULL};
    if (libcs(&t))
        return LIBC(tee)(in, out, len, flags);
    return run_in_task(&t);
}
