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

/* The fd's record if it is a pipe or socket the program keeps blocking
 * (a call on it may wait in coil); *sync is set for a regular file and
 * kin, which never wait.  NULL otherwise (bad fd, the program's
 * O_NONBLOCK): then the call is libc's as asked. */
static coil__hfd *waitable(int fd, int *sync)
{
    coil__hfd *h = coil__hfd_use(fd);
    if (!h)
        return NULL;
    unsigned f = atomic_load_explicit(&h->flags, memory_order_relaxed);
    *sync = (f & HFD_SYNC) != 0;
    return (f & HFD_NONBLOCK) ? NULL : h;
}

/* O_NONBLOCK on a socket fd for one call (a pipe needs none: the call's
 * SPLICE_F_NONBLOCK covers it).  Returns the flags to restore, or -1
 * if nothing was changed. */
static int socket_nonblock(const coil__hfd *h, int fd)
{
    if (!(atomic_load_explicit(&h->flags, memory_order_relaxed) &
          HFD_SOCKET))
        return -1;
    int fl = LIBC(fcntl)(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK) ||
        LIBC(fcntl)(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fl;
}

static void restore(int fd, int fl)
{
    if (fl < 0)
        return;
    int e = errno;
    LIBC(fcntl)(fd, F_SETFL, fl);
    errno = e;
}

/* One try of splice (off_in != NULL or not: tee when tee is set). */
typedef struct transfer {
    int in, out;
    loff_t *off_in, *off_out;
    size_t len;
    unsigned flags;
    int tee;
    coil__hfd *hin, *hout;        /* NULL: a regular file's side */
} transfer;

static ssize_t try_once(const transfer *t)
{
    int fin = t->hin ? socket_nonblock(t->hin, t->in) : -1;
    int fout = t->hout ? socket_nonblock(t->hout, t->out) : -1;
    unsigned flags = t->flags | SPLICE_F_NONBLOCK;
    ssize_t r = t->tee ? LIBC(tee)(t->in, t->out, t->len, flags)
                       : LIBC(splice)(t->in, t->off_in, t->out, t->off_out,
                                      t->len, flags);
    restore(t->in, fin);
    restore(t->out, fout);
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
    int sync_in = 0, sync_out = 0;
    t->hin = waitable(t->in, &sync_in);
    t->hout = waitable(t->out, &sync_out);
    if ((!t->hin && !sync_in) || (!t->hout && !sync_out))
        return 1;                         /* the program's O_NONBLOCK, EBADF */
    if (sync_in)
        t->hin = NULL;
    if (sync_out)
        t->hout = NULL;
    return !t->hin && !t->hout;           /* files both: nothing waits */
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
