/*
 * src/io/io.c — blocking-style fd IO for tasks (layer 5).
 *
 * Every call tries its syscall first and suspends only on EAGAIN.  Each
 * loop keeps a table indexed by fd: a record per fd that coil has seen,
 * registered with the poller the first time a task has to wait on it,
 * edge-triggered for input and output at once, so an fd costs one
 * epoll_ctl in its life instead of one per wait.
 *
 * Edge-triggered means the kernel reports a change once.  The record
 * latches what the poller reported (`ready`) until coil sees EAGAIN for
 * that direction, so readiness that arrived while nobody waited is not
 * lost; a task that finds its direction latched does not suspend.
 *
 * A short read from a TCP socket or a pipe tells as much as EAGAIN would:
 * the kernel's buffer was emptied by it.  (Not so for every stream: a Unix
 * socket's read stops short where passed fds ride, a packet-mode pipe's
 * at each packet; TCP's stops at urgent data, which is why the poller
 * reports EPOLLPRI as readable.)  The read latch is cleared
 * then, and the fd's next read waits for the poller's edge before its
 * syscall instead of making one that returns EAGAIN — a request/response
 * connection costs two syscalls a round trip, not three.  No wake-up can
 * be lost: any byte that arrives after the emptying read raises a new edge
 * (and registering an fd reports what is already there); the end of the
 * input raises one edge only, so once the poller has reported it reads go
 * back to trying first.  A
 * direction has at most one waiter (a second is EBUSY): two readers of one
 * stream would get interleaved bytes, so sharing one is a bug to report,
 * not to queue.  Waiters live on their task's stack and are unlinked by a
 * cleanup handler on every way out, unwinding included, as is the
 * deadline timer.
 *
 * Fairness: a task whose fd always has data would never wait here, and
 * with no wait no other task runs.  So every call that may suspend counts
 * against the task's cooperative budget (task.h, coil_budget_set) at its
 * start, before it looks the fd up or makes a syscall, and yields first
 * once the budget is spent: the call then runs as one made just after a
 * coil_yield().  Before, not after: cancellation delivered by that yield
 * finds nothing consumed, as if the call had waited for an empty fd;
 * after the syscall it would have to drop the bytes read.  Calls given
 * MSG_DONTWAIT asked not to wait and are not counted.
 *
 * Past 800 lines on purpose: the fd table, the wait and the calls stay in
 * one translation unit because coil_read's and coil_write's fast paths
 * (read_here, send_here) inline the record lookup and the retry loop, and
 * the build has no LTO to do that across files.  The layers of wrappers
 * on top (sockets, processes, files) live in their own files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/poll.h>              /* not <poll.h>: coil has a poll.h too */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "loop/debug.h"
#include "task/future.h"
#include "io/io.h"
#include "loop/loop.h"
#include "loop/poll.h"
#include "task/task.h"

enum { RD = 0, WR = 1 };                  /* directions: waiter slots */

typedef struct waiter waiter;
typedef struct coil__io coil__io;

typedef struct fd_state {
    coil__poll_watch watch;               /* the poller's handle on us */
    coil__io *io;
    int fd;
    unsigned ready;                       /* latched COIL_READABLE/WRITABLE */
    uint8_t known;                        /* checked: the fields below hold */
    uint8_t socket;                       /* write through send(NOSIGNAL) */
    uint8_t nowait;                       /* a pipe: RWF_NOWAIT per call */
    uint8_t switched;                     /* neither: O_NONBLOCK seen or set */
    uint8_t stream;                       /* TCP, or a pipe: see above */
    uint8_t drained;                      /* a short read emptied it */
    uint8_t ended;                        /* the poller saw its input end */
    uint8_t registered;                   /* with the poller */
    uint8_t always_ready;                 /* epoll refuses it: regular file */
    dev_t dev;                            /* the file it was when checked: */
    ino_t ino;                            /* see "Stale records" below */
    waiter *waiters[2];                   /* RD, WR */
} fd_state;

struct coil__io {
    coil_loop *loop;
    fd_state **fds;                       /* by fd; records never move */
    size_t cap;
    coil__list unverified;                /* waiters not yet checked for a
                                             stale record, oldest first */
    coil_handle *sweep;                   /* checks them: see below */
    unsigned long period;                 /* the sweep's, counted */
};

struct waiter {
    coil_task *task;
    fd_state *st;
    unsigned events;                      /* the directions it waits for */
    coil_handle *timer;                   /* deadline, or NULL */
    coil_time deadline;                   /* its time, for a task dump */
    const volatile int *intr;             /* a hooked call's: EINTR if set */
    coil__list link;                      /* in io->unverified, if listed */
    unsigned long period;                 /* the sweep period it was listed in */
    uint8_t listed;
    uint8_t verify_due;                   /* the sweep asks for the check */
    uint8_t timed_out;
    uint8_t closed;                       /* coil_close took the fd away */
};

static const unsigned dir_bit[2] = {COIL_READABLE, COIL_WRITABLE};


/* ------------------------------------------------------------- the table */

/* The loop's slot for its fd table (loop.h): made on first use, freed
 * when the loop closes (the fds themselves stay open). */
static int table_slot;

static coil__io **table_of(coil_loop *loop)
{
    return (coil__io **)coil__loop_slot(loop, table_slot);
}

static void table_free(coil_loop *loop, void **slot)
{
    (void)loop;
    coil__io *io = *slot;
    if (!io)
        return;
    for (size_t i = 0; i < io->cap; i++)
        free(io->fds[i]);
    free(io->fds);
    coil__timer_disarm(&io->sweep);       /* the loop dropped the timer */
    free(io);
}

COIL__REGISTER static void register_table(void)
{
    table_slot = coil__loop_register(table_free);
}

static coil__io *io_for(coil_loop *loop)
{
    coil__io **slot = table_of(loop);
    if (!*slot) {
        coil__io *io = calloc(1, sizeof *io);
        if (!io) {
            errno = ENOMEM;
            return NULL;
        }
        io->loop = loop;
        coil__list_init(&io->unverified);
        *slot = io;
    }
    return *slot;
}

static void on_ready(coil__poll_watch *w, unsigned events);
static void clear_record(fd_state *st);

/* fd's record, made (with room for it in the table) if need be. */
static fd_state *slot_for(coil__io *io, int fd)
{
    if ((size_t)fd >= io->cap) {
        size_t cap = io->cap ? io->cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        fd_state **fds = realloc(io->fds, cap * sizeof *fds);
        if (!fds) {
            errno = ENOMEM;
            return NULL;
        }
        memset(fds + io->cap, 0, (cap - io->cap) * sizeof *fds);
        io->fds = fds;
        io->cap = cap;
    }
    fd_state *st = io->fds[fd];
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) {
            errno = ENOMEM;
            return NULL;
        }
        st->io = io;
        st->fd = fd;
        st->watch.ready = on_ready;
        io->fds[fd] = st;
    }
    return st;
}

static int is_tcp(int fd)
{
    int type = 0, domain = 0;
    socklen_t tlen = sizeof type, dlen = sizeof domain;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
           getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) == 0 &&
           type == SOCK_STREAM && (domain == AF_INET || domain == AF_INET6);
}

/* The record of fd if the calling task is one and has used fd before
 * (checked, non-blocking), else NULL without a word: use_fd's fast half. */
static inline fd_state *known_fd(int fd)
{
    coil_task *t = coil_task_current();
    if (!t || fd < 0)
        return NULL;
    coil__io *io = *table_of(coil_task_future(t)->loop);
    if (!io || (size_t)fd >= io->cap)
        return NULL;
    fd_state *st = io->fds[fd];
    return st && st->known ? st : NULL;
}

/*
 * Which fds coil makes O_NONBLOCK.  The flag belongs to the open file, so
 * it reaches whatever else holds it: the program's own stdio on the fd
 * (fgets gets EAGAIN and returns NULL; printf to a full pipe fails), a
 * dup, a shell that shares a pipeline's pipe.  So it is set only where no
 * per-call way not to wait exists:
 *   - a socket is left as it is: every call on it passes MSG_DONTWAIT.
 *     accept and connect take no such flag: accept sets O_NONBLOCK on the
 *     listening socket (where no stdio reads), connect sets it around its
 *     call only (connect_nonblocking below);
 *   - an anonymous pipe is left as it is where the kernel takes RWF_NOWAIT
 *     on pipes: it is read and written with preadv2/pwritev2 and that
 *     flag (src/io/nowait.c);
 *   - every other fd (a named FIFO, a terminal, an eventfd, ...) is
 *     switched before its first read or write: a call that only waits
 *     for it (coil_wait_fd, the hooks' poll) leaves it as it is.
 */

/* Make st the record of the file fd now is: check it (EBADF) and note
 * what it is.  Returns 0, or -1 with errno. */
static int adopt(fd_state *st, int fd)
{
    int flags = COIL__LIBC(fcntl(fd, F_GETFL));
    if (flags < 0)
        return -1;                        /* EBADF */
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return -1;
    st->socket = S_ISSOCK(sb.st_mode);
    st->nowait = !st->socket && coil__io_is_nowait_pipe(&sb);
    st->switched = !st->socket && !st->nowait && (flags & O_NONBLOCK);
    st->stream = st->socket ? is_tcp(fd)
                            : S_ISFIFO(sb.st_mode) && !(flags & O_DIRECT);
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->drained = st->ended = 0;
    st->known = 1;
    return 0;
}

/* The record of an fd the calling task is about to use: on first use the
 * fd is checked (EBADF).  The check comes
 * before the table grows, so a wild fd number cannot make it huge. */
static fd_state *use_fd(int fd)
{
    fd_state *known = known_fd(fd);
    if (known)
        return known;
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    coil__io *io = io_for(coil_task_future(coil_task_current())->loop);
    if (!io)
        return NULL;
    if (COIL__LIBC(fcntl(fd, F_GETFL)) < 0)
        return NULL;                      /* EBADF, before the table grows */
    fd_state *st = slot_for(io, fd);
    if (!st || adopt(st, fd) != 0)
        return NULL;
    return st;
}

/*
 * Stale records.  A record is per fd number; a plain close(2) (not
 * coil_close, and not through the hook layer) leaves it behind, and the
 * number's next owner — a pipe(2), say, blocking — inherits it.  Trusting
 * it would make a read on a blocking fd: the thread, and every task of
 * its loop, would hang.  So no syscall that could block is made on the
 * word of a record alone:
 *   - sockets are read and written with MSG_DONTWAIT (free: it rides in
 *     the call), and ENOTSOCK from one says the number is no longer a
 *     socket; pipes with RWF_NOWAIT, and EOPNOTSUPP says it is no longer
 *     a pipe;
 *   - any other fd costs one fcntl(F_GETFL) before each try: without
 *     O_NONBLOCK it is not the file coil switched, unless coil has not
 *     switched it yet (its first try does; a socket's accept makes the
 *     same check, and sets the flag if it is missing);
 *   - a wait that goes on for a whole sweep period checks, once, that fstat's
 *     (st_dev, st_ino) match the ones noted at first use: an epoll
 *     registration goes away with its file, so a wait on a new file under
 *     an old record would never be woken by it.  Found stale, the record
 *     is made afresh, the new file registered, and the wait goes on.
 * Not every wait checks before it parks: an fstat costs a syscall (1.3 to
 * 1.5 us on the VM coil is measured on, a sixth of a request/response
 * round trip's CPU), and nearly every wait of a busy connection ends
 * within a period.  A stale record is found one to two periods after its
 * wait began instead.  A record found stale is made afresh (its other
 * waiter, if any, wakes with EBADF); the worst a stale record costs is
 * these checks' syscalls and that delay.
 */

/* The sweep's period: a wait listed during one is checked when the next
 * one ends, so after 50 to 100 ms. */
#define VERIFY_PERIOD COIL_MSEC(50)

/* Make st afresh for the file its number is now. */
static int renew(fd_state *st)
{
    int fd = st->fd;
    clear_record(st);
    return adopt(st, fd);
}

/* Before a try on a fd that is neither socket nor pipe: 0 once it is
 * O_NONBLOCK — switched now if coil has not switched it yet, or made
 * afresh first if it has and the flag is gone (a new file under the
 * number) — or -1 with errno (EBADF). */
static int check_nonblocking(fd_state *st)
{
    int flags = COIL__LIBC(fcntl(st->fd, F_GETFL));
    if (flags < 0)
        return -1;
    if (!(flags & O_NONBLOCK) && st->switched) {
        if (renew(st) != 0)
            return -1;
        if (st->socket || st->nowait || st->switched)
            return 0;                     /* the new file needs no more */
    }
    if (!(flags & O_NONBLOCK) &&
        COIL__LIBC(fcntl(st->fd, F_SETFL, flags | O_NONBLOCK)) < 0)
        return -1;
    st->switched = 1;
    return 0;
}

/* A try said st's number is no longer the file st was made for: ENOTSOCK
 * from a socket, EOPNOTSUPP from a pipe given RWF_NOWAIT.  Make st afresh;
 * should it still be such a pipe, that pipe refuses the flag after all,
 * and is made O_NONBLOCK instead.  0, or -1 with errno. */
static int renew_refused(fd_state *st)
{
    int was_nowait = st->nowait;
    if (renew(st) != 0)
        return -1;
    if (!(was_nowait && st->nowait))
        return 0;
    st->nowait = 0;
    return check_nonblocking(st);
}

/* Before an accept: the listening socket must not block, and accept4
 * takes no MSG_DONTWAIT.  0, or -1 with errno (EBADF). */
static int listener_nonblocking(int fd)
{
    int flags = COIL__LIBC(fcntl(fd, F_GETFL));
    if (flags < 0)
        return -1;
    if (flags & O_NONBLOCK)
        return 0;
    return COIL__LIBC(fcntl(fd, F_SETFL, flags | O_NONBLOCK)) < 0 ? -1 : 0;
}

/* Before parking: 0 if st still names the file it was made for, 1 if it
 * did not and has been renewed, -1 with errno (EBADF). */
static int check_identity(fd_state *st)
{
    struct stat sb;
    if (fstat(st->fd, &sb) != 0)
        return -1;
    if (st->dev == 0 && st->ino == 0) {   /* from coil_accept: not noted */
        st->dev = sb.st_dev;
        st->ino = sb.st_ino;
        return 0;
    }
    if (sb.st_dev == st->dev && sb.st_ino == st->ino)
        return 0;
    return renew(st) == 0 ? 1 : -1;
}

/* ---------------------------------------------------------------- waiting */

static void wake(waiter *w)
{
    coil__task_wake(w->task);
}

/* Wake st's waiters with EBADF; they no longer touch the record, which
 * the fd number's next owner may be using by then. */
static void wake_closed(fd_state *st)
{
    for (int d = RD; d <= WR; d++)
        if (st->waiters[d]) {
            st->waiters[d]->closed = 1;
            wake(st->waiters[d]);
        }
}

/* Make st the record of an fd coil knows nothing of, waking its waiters
 * first (EBADF): what closing the fd, or finding its record stale, comes
 * to. */
static void clear_record(fd_state *st)
{
    wake_closed(st);
    *st = (fd_state){.watch = st->watch, .io = st->io, .fd = st->fd};
}

/* Inside the poll: latch the readiness, wake who waits for it. */
static void on_ready(coil__poll_watch *pw, unsigned events)
{
    fd_state *st = coil__container_of(pw, fd_state, watch);
    if (events & (COIL__POLL_IN | COIL__POLL_ERR))
        st->ready |= COIL_READABLE;
    if (events & (COIL__POLL_OUT | COIL__POLL_ERR))
        st->ready |= COIL_WRITABLE;
    if (events & COIL__POLL_HUP)
        st->ended = 1;                    /* no edge will follow the end */
    for (int d = RD; d <= WR; d++) {
        waiter *w = st->waiters[d];
        if (w && (st->ready & dir_bit[d]))
            wake(w);
    }
}

static void deadline_fire(void *arg)
{
    waiter *w = arg;
    w->timed_out = 1;
    wake(w);
}

/* ------------------------------------------- checking long waits, lazily */

static void sweep_fire(void *arg);
static int ensure_registered(fd_state *st);

/* List w, about to park, for the check that a wait lasting a whole sweep
 * period makes; arm the sweep unless it is armed (reading the clock only
 * then: a wait without a deadline reads none).  0, or -1 with errno
 * ENOMEM. */
static int unverified_add(coil__io *io, waiter *w)
{
    if (!io->sweep) {
        coil_time now = coil_loop_time(io->loop);
        if (coil_call_at(io->loop, coil__time_after(now, VERIFY_PERIOD),
                         sweep_fire, io, &io->sweep) != 0)
            return -1;
        io->period++;                     /* a period begins */
    }
    w->period = io->period;
    w->listed = 1;
    coil__list_push_back(&io->unverified, &w->link);
    return 0;
}

static void unverified_remove(waiter *w)
{
    if (w->listed) {
        coil__list_remove(&w->link);
        w->listed = 0;
    }
}

/* A period ended: ask every wait listed before it began for its check,
 * and begin the next period if any wait is left.  A sweep is left to fire
 * when its list empties, rather than cancelled and armed again by the
 * next wait: one timer per period at most, not one per wait. */
static void sweep_fire(void *arg)
{
    coil__io *io = arg;
    coil__timer_disarm(&io->sweep);       /* fired: drop the handle */
    while (!coil__list_empty(&io->unverified)) {
        waiter *w = coil__container_of(io->unverified.next, waiter, link);
        if (w->period == io->period)      /* listed during this one */
            break;
        unverified_remove(w);
        w->verify_due = 1;
        wake(w);
    }
    if (!coil__list_empty(&io->unverified) &&
        coil_call_at(io->loop,
                     coil__time_after(coil_loop_time(io->loop), VERIFY_PERIOD),
                     sweep_fire, io, &io->sweep) == 0)
        io->period++;                     /* ENOMEM: the next wait arms it */
}

/* Seat w in st's slots for the directions it waits on, or take it out. */
static void waiter_seat(waiter *w)
{
    for (int d = RD; d <= WR; d++)
        if (w->events & dir_bit[d])
            w->st->waiters[d] = w;
}

static void waiter_unseat(waiter *w)
{
    for (int d = RD; d <= WR; d++)
        if (w->st->waiters[d] == w)
            w->st->waiters[d] = NULL;
}

/* The check (see "Stale records"): w's record still names the file it was
 * made for, or it is made afresh for the file the number is now and that
 * is registered, with w waiting on it.  0, or -1 with errno (EBADF: the
 * number is closed). */
static int verify(waiter *w)
{
    waiter_unseat(w);                     /* renewing wakes the waiters: */
    int r = check_identity(w->st);        /* not this one */
    if (r > 0)
        r = ensure_registered(w->st);
    waiter_seat(w);
    return r < 0 ? -1 : 0;
}

/* On every way out of a wait, unwinding included: forget the waiter and
 * its timer. */
static void waiter_forget(void *arg)
{
    waiter *w = arg;
    coil__timer_disarm(&w->timer);
    unverified_remove(w);
    if (!w->closed)
        waiter_unseat(w);
}

/* Register st with the poller on its first wait.  Returns 0, or -1 with
 * errno; an fd epoll refuses (EPERM: a regular file or a directory) is
 * always ready, as poll(2) reports it. */
static int ensure_registered(fd_state *st)
{
    if (st->registered || st->always_ready)
        return 0;
    if (coil__poll_add(coil__loop_poll(st->io->loop), st->fd, &st->watch) == 0) {
        st->registered = 1;
        return 0;
    }
    if (errno == EPERM) {
        st->always_ready = 1;
        return 0;
    }
    if (errno == EEXIST) {            /* a renewed record, the same file */
        st->registered = 1;
        return 0;
    }
    return -1;
}

/* A waiter in words, for coil_dump_tasks: "fd 7 readable (pipe:[123]),
 * deadline in 1.20 s". */
static void describe_waiter(const void *obj, coil_time now, char *buf,
                            size_t size)
{
    const waiter *w = obj;
    char target[140], when[40];
    coil__format_fd_target(target, sizeof target, w->st->fd);
    if (w->deadline >= 0)
        coil__format_delay(when, sizeof when, w->deadline - now);
    snprintf(buf, size, "fd %d %s%s, %s%s", w->st->fd,
             w->events == (COIL_READABLE | COIL_WRITABLE) ? "readable or writable"
             : w->events & COIL_READABLE                  ? "readable"
                                                          : "writable",
             target, w->deadline >= 0 ? "deadline " : "no deadline",
             w->deadline >= 0 ? when : "");
}

static const coil__wait_kind fd_wait = {describe_waiter, 1};

/* Suspend until one of `events` is latched on st, the deadline passes, the
 * fd is closed through coil, *intr is set (a hooked call interrupted by a
 * signal handler, src/hook/intr.c; intr NULL for coil's own calls), or
 * cancellation.  Returns 0, or -1 with errno ETIMEDOUT, EBADF, EINTR,
 * EBUSY, ECANCELED or as ensure_registered. */
static int wait_ready(fd_state *st, unsigned events, coil_time deadline,
                      const volatile int *intr)
{
    for (int d = RD; d <= WR; d++)
        if ((events & dir_bit[d]) && st->waiters[d]) {
            errno = EBUSY;
            return -1;
        }
    if (ensure_registered(st) != 0)
        return -1;
    if (st->always_ready || (st->ready & events))
        return 0;
    coil_task *t = coil_task_current();
    coil_loop *loop = coil_task_future(t)->loop;
    if (coil__deadline_passed(loop, deadline)) {
        errno = ETIMEDOUT;
        return -1;
    }
    waiter w = {.task = t, .st = st, .events = events, .intr = intr,
                .deadline = deadline};
    if (deadline >= 0 &&
        coil_call_at(loop, deadline, deadline_fire, &w, &w.timer) != 0)
        return -1;
    if (unverified_add(st->io, &w) != 0) {
        coil__timer_disarm(&w.timer);
        return -1;
    }
    waiter_seat(&w);
    int r = 0, err = 0;
    coil_cleanup_push(waiter_forget, &w);
    while (!w.closed && !(st->ready & events) && !st->always_ready &&
           !w.timed_out && !(intr && *intr)) {
        if (w.verify_due) {
            w.verify_due = 0;
            if (verify(&w) != 0) {
                r = -1;
                err = errno;
                break;
            }
            continue;                     /* a renewed record may be ready */
        }
        coil__task_note_wait(&fd_wait, &w);
        if (coil__task_park() != 0) {
            r = -1;
            err = errno;                  /* ECANCELED */
            break;
        }
    }
    int ready = (st->ready & events) || st->always_ready;
    if (r == 0 && w.closed) {
        r = -1;
        err = EBADF;
    } else if (r == 0 && !ready && intr && *intr) {
        r = -1;
        err = EINTR;
    } else if (r == 0 && !ready) {
        r = -1;
        err = ETIMEDOUT;
    }
    coil_cleanup_pop(1);
    if (r != 0)
        errno = err;
    return r;
}

int coil_wait_fd(int fd, unsigned events, coil_time deadline)
{
    return coil__io_wait(fd, events, deadline, NULL);
}

int coil__io_wait(int fd, unsigned events, coil_time deadline,
                  const volatile int *intr)
{
    if (!coil_task_current())
        return coil__debug_outside_task("coil_wait_fd");
    if (events == 0 || (events & ~(unsigned)(COIL_READABLE | COIL_WRITABLE))) {
        errno = EINVAL;
        return -1;
    }
    if (coil__budget_spend() != 0)
        return -1;
    fd_state *st = use_fd(fd);
    if (!st)
        return -1;
    for (int d = RD; d <= WR; d++)
        if ((events & dir_bit[d]) && st->waiters[d]) {
            errno = EBUSY;            /* even if ready: that is its wake-up */
            return -1;
        }
    if (st->ready & events) {
        /* The latch may be stale: the caller may have drained the fd with
         * plain syscalls since.  Ask the kernel what holds now. */
        struct pollfd p = {.fd = fd,
                           .events = (short)(((events & COIL_READABLE) ? POLLIN : 0) |
                                             ((events & COIL_WRITABLE) ? POLLOUT : 0))};
        if (poll(&p, 1, 0) < 0)
            return -1;
        if (p.revents & (POLLNVAL)) {
            errno = EBADF;
            return -1;
        }
        if (p.revents)
            return 0;
        st->ready &= ~events;
    }
    return wait_ready(st, events, deadline, intr);
}

/* -------------------------------------------------------------- the calls */

/* One syscall of an IO call, as a closure (src/io/io.h). */
typedef coil__io_op io_op;

/* After a read of n bytes: was the fd's input emptied by it? */
static void note_read(fd_state *st, const io_op *op, ssize_t n)
{
    st->drained = op->drains && st->stream && !st->ended && n > 0 &&
                  (size_t)n < op->len;
    if (st->drained)
        st->ready &= ~(unsigned)COIL_READABLE;
}

/* Before a try: an fd the last read emptied waits for the poller's edge
 * first, unless the deadline has passed already (then the syscall is tried
 * once, as it always was, rather than time out without looking).  Returns
 * 0 to go on, or -1 with errno as wait_ready. */
static inline int wait_if_drained(fd_state *st, int dir, const io_op *op,
                                  coil_time deadline)
{
    if (dir == RD && st->drained && !(st->ready & COIL_READABLE) &&
        !(op->flags & MSG_DONTWAIT) &&
        !coil__deadline_passed(st->io->loop, deadline))
        return wait_ready(st, COIL_READABLE, deadline, op->intr);
    return 0;
}

/* After a try that failed with errno: 0 to try again (EINTR, or EAGAIN
 * and the fd has been reported ready since), or -1 to fail with errno. */
static inline int after_failure(fd_state *st, int dir, const io_op *op,
                                coil_time deadline)
{
    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -1;
    if (op->flags & MSG_DONTWAIT)
        return -1;                        /* the caller asked not to wait */
    /* Only now is the latch known stale: nothing ran in between. */
    st->ready &= ~dir_bit[dir];
    return wait_ready(st, dir_bit[dir], deadline, op->intr);
}

/* How a syscall on st's fd keeps from waiting (io.h). */
static inline int kind_of(const fd_state *st)
{
    return st->socket ? COIL__IO_SOCKET
           : st->nowait ? COIL__IO_NOWAIT : COIL__IO_FLAGGED;
}

/* Try op on st's fd, and while it says EAGAIN wait for `dir` and try
 * again. */
static ssize_t io_loop(fd_state *st, int fd, int dir, coil_time deadline,
                       io_op *op)
{
    for (;;) {
        if (wait_if_drained(st, dir, op, deadline) != 0)
            return -1;
        if (st->socket ? op->no_dontwait && listener_nonblocking(fd) != 0
            : !st->nowait && check_nonblocking(st) != 0)
            return -1;
        ssize_t n = COIL__LIBC(op->fn(op, fd, kind_of(st)));
        if (n >= 0) {
            if (dir == RD)
                note_read(st, op, n);
            return n;
        }
        if ((errno == ENOTSOCK && st->socket) ||
            (errno == EOPNOTSUPP && st->nowait)) {
            if (renew_refused(st) != 0)   /* a stale record: see above */
                return -1;
            continue;
        }
        if (after_failure(st, dir, op, deadline) != 0)
            return -1;
    }
}

/* run_io for a call that has counted itself against the budget. */
static ssize_t run_io_counted(const char *call, int fd, int dir,
                              coil_time deadline, io_op *op)
{
    if (!coil_task_current())
        return coil__debug_outside_task(call);
    fd_state *st = use_fd(fd);
    if (!st)
        return -1;
    return io_loop(st, fd, dir, deadline, op);
}

static ssize_t run_io(const char *call, int fd, int dir, coil_time deadline,
                      io_op *op)
{
    if (!(op->flags & MSG_DONTWAIT) && coil__budget_spend() != 0)
        return -1;                        /* see "Fairness" above */
    return run_io_counted(call, fd, dir, deadline, op);
}

ssize_t coil__io_run(const char *call, int fd, int dir, coil_time deadline,
                     coil__io_op *op)
{
    return run_io(call, fd, dir, deadline, op);
}

/* A write that could raise SIGPIPE (a pipe or FIFO whose reader is gone):
 * block SIGPIPE around it and consume the one it raised, so the caller
 * sees EPIPE and the process lives.  The signal is thread-directed, so
 * blocking it in this thread is enough.  If the thread already blocks
 * SIGPIPE, it is left pending as the thread arranged. */
static ssize_t without_sigpipe(ssize_t (*fn)(io_op *, int, int), io_op *op,
                               int fd, int kind)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t n = fn(op, fd, kind);
    if (!sigismember(&old, SIGPIPE)) {
        int e = errno;
        if (n < 0 && e == EPIPE) {
            static const struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = e;
    }
    return n;
}

/* read(2) on a pipe, without waiting whatever its O_NONBLOCK says. */
static inline ssize_t read_nowait(int fd, void *buf, size_t n)
{
    struct iovec v = {buf, n};
    return preadv2(fd, &v, 1, -1, RWF_NOWAIT);
}

static ssize_t op_read(io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET)
        return recv(fd, op->buf, op->len, MSG_DONTWAIT);
    if (kind == COIL__IO_NOWAIT)
        return read_nowait(fd, op->buf, op->len);
    return read(fd, op->buf, op->len);
}

static ssize_t raw_write(io_op *op, int fd, int kind)
{
    struct iovec v = {(void *)op->cbuf, op->len};
    return kind == COIL__IO_NOWAIT ? pwritev2(fd, &v, 1, -1, RWF_NOWAIT)
                                   : write(fd, op->cbuf, op->len);
}

static ssize_t op_write(io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET)
        return send(fd, op->cbuf, op->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return without_sigpipe(raw_write, op, fd, kind);
}

static ssize_t op_readv(io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET) {
        struct msghdr m = {.msg_iov = (struct iovec *)op->iov,
                           .msg_iovlen = (size_t)op->iovcnt};
        return recvmsg(fd, &m, MSG_DONTWAIT);
    }
    if (kind == COIL__IO_NOWAIT)
        return preadv2(fd, op->iov, op->iovcnt, -1, RWF_NOWAIT);
    return readv(fd, op->iov, op->iovcnt);
}

static ssize_t raw_writev(io_op *op, int fd, int kind)
{
    return kind == COIL__IO_NOWAIT
               ? pwritev2(fd, op->iov, op->iovcnt, -1, RWF_NOWAIT)
               : writev(fd, op->iov, op->iovcnt);
}

static ssize_t op_writev(io_op *op, int fd, int kind)
{
    if (kind == COIL__IO_SOCKET) {
        struct msghdr m = {.msg_iov = (struct iovec *)op->iov,
                           .msg_iovlen = (size_t)op->iovcnt};
        return sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return without_sigpipe(raw_writev, op, fd, kind);
}

static ssize_t op_recv(io_op *op, int fd, int kind)
{
    (void)kind;
    return recv(fd, op->buf, op->len, op->flags | MSG_DONTWAIT);
}

static ssize_t op_send(io_op *op, int fd, int kind)
{
    (void)kind;
    return send(fd, op->cbuf, op->len, op->flags | MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* recvmsg and sendmsg carry their struct msghdr in buf and cbuf. */
static ssize_t op_recvmsg(io_op *op, int fd, int kind)
{
    (void)kind;
    return recvmsg(fd, op->buf, op->flags | MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
}

static ssize_t op_sendmsg(io_op *op, int fd, int kind)
{
    (void)kind;
    return sendmsg(fd, op->cbuf, op->flags | MSG_NOSIGNAL | MSG_DONTWAIT);
}

static ssize_t op_accept(io_op *op, int fd, int kind)
{
    (void)kind;
    return accept4(fd, op->addr, op->addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

/*
 * The round trip of a request/response connection, read and write_all on
 * an fd the task has used before, makes its syscalls right here rather
 * than through run_io and op->fn: after a syscall that went deep into the
 * kernel (TCP's send path does) the CPU's return predictions are gone,
 * and each level of calls returned through costs a misprediction.  The
 * two levels saved took coil's user-space share of an echo server's CPU
 * from 4.8% to 4.3% with 1,000 connections, 4.7% to 3.7% with 50.
 * Anything but success falls back to io_loop, which behaves as run_io
 * would from the same point.
 */
static inline __attribute__((always_inline)) ssize_t
read_here(fd_state *st, int fd, void *buf, size_t n, coil_time deadline)
{
    io_op op = {.fn = op_read, .buf = buf, .len = n, .drains = 1};
    if (wait_if_drained(st, RD, &op, deadline) != 0)
        return -1;
    if (!st->socket && !st->nowait && check_nonblocking(st) != 0)
        return -1;
    ssize_t r = st->socket ? COIL__LIBC(recv(fd, buf, n, MSG_DONTWAIT))
                : st->nowait ? read_nowait(fd, buf, n)
                             : COIL__LIBC(read(fd, buf, n));
    if (r >= 0) {
        note_read(st, &op, r);
        return r;
    }
    if (errno == ENOTSOCK || errno == EOPNOTSUPP)  /* stale: io_loop renews */
        return io_loop(st, fd, RD, deadline, &op);
    return after_failure(st, RD, &op, deadline) != 0
               ? -1 : io_loop(st, fd, RD, deadline, &op);
}

static inline __attribute__((always_inline)) ssize_t
send_here(fd_state *st, int fd, const void *buf, size_t n, coil_time deadline)
{
    io_op op = {.fn = op_write, .cbuf = buf, .len = n};
    ssize_t r = COIL__LIBC(send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT));
    if (r >= 0)
        return r;
    if (errno == ENOTSOCK)                /* stale: io_loop renews it */
        return io_loop(st, fd, WR, deadline, &op);
    return after_failure(st, WR, &op, deadline) != 0
               ? -1 : io_loop(st, fd, WR, deadline, &op);
}

/* coil_read_until's body, inlined into coil_read too: there a deadline
 * of -1 folds away, as it did when coil_read's call was small enough for
 * the compiler to inline by itself (the budget's check tipped it). */
static inline __attribute__((always_inline)) ssize_t
read_call(int fd, void *buf, size_t n, coil_time deadline)
{
    if (coil__budget_spend() != 0)        /* before the lookup: "Fairness" */
        return -1;
    fd_state *st = known_fd(fd);
    if (st)
        return read_here(st, fd, buf, n, deadline);
    io_op op = {.fn = op_read, .buf = buf, .len = n, .drains = 1};
    return run_io_counted("coil_read", fd, RD, deadline, &op);
}

ssize_t coil_read_until(int fd, void *buf, size_t n, coil_time deadline)
{
    return read_call(fd, buf, n, deadline);
}

ssize_t coil_read(int fd, void *buf, size_t n)
{
    return read_call(fd, buf, n, -1);
}

ssize_t coil_write_until(int fd, const void *buf, size_t n, coil_time deadline)
{
    io_op op = {.fn = op_write, .cbuf = buf, .len = n};
    return run_io("coil_write", fd, WR, deadline, &op);
}

ssize_t coil_write(int fd, const void *buf, size_t n)
{
    return coil_write_until(fd, buf, n, -1);
}

ssize_t coil_readv_until(int fd, const struct iovec *iov, int iovcnt,
                         coil_time deadline)
{
    io_op op = {.fn = op_readv, .iov = iov, .iovcnt = iovcnt};
    return run_io("coil_readv", fd, RD, deadline, &op);
}

ssize_t coil_readv(int fd, const struct iovec *iov, int iovcnt)
{
    return coil_readv_until(fd, iov, iovcnt, -1);
}

ssize_t coil_writev_until(int fd, const struct iovec *iov, int iovcnt,
                          coil_time deadline)
{
    io_op op = {.fn = op_writev, .iov = iov, .iovcnt = iovcnt};
    return run_io("coil_writev", fd, WR, deadline, &op);
}

ssize_t coil_writev(int fd, const struct iovec *iov, int iovcnt)
{
    return coil_writev_until(fd, iov, iovcnt, -1);
}

ssize_t coil_recv_until(int fd, void *buf, size_t n, int flags,
                        coil_time deadline)
{
    io_op op = {.fn = op_recv, .buf = buf, .len = n, .flags = flags,
                .drains = flags == 0};
    return run_io("coil_recv", fd, RD, deadline, &op);
}

ssize_t coil_recv(int fd, void *buf, size_t n, int flags)
{
    return coil_recv_until(fd, buf, n, flags, -1);
}

ssize_t coil_send_until(int fd, const void *buf, size_t n, int flags,
                        coil_time deadline)
{
    io_op op = {.fn = op_send, .cbuf = buf, .len = n, .flags = flags};
    return run_io("coil_send", fd, WR, deadline, &op);
}

ssize_t coil_send(int fd, const void *buf, size_t n, int flags)
{
    return coil_send_until(fd, buf, n, flags, -1);
}

ssize_t coil_recvmsg_until(int fd, struct msghdr *msg, int flags,
                           coil_time deadline)
{
    io_op op = {.fn = op_recvmsg, .buf = msg, .flags = flags};
    return run_io("coil_recvmsg", fd, RD, deadline, &op);
}

ssize_t coil_recvmsg(int fd, struct msghdr *msg, int flags)
{
    return coil_recvmsg_until(fd, msg, flags, -1);
}

ssize_t coil_sendmsg_until(int fd, const struct msghdr *msg, int flags,
                           coil_time deadline)
{
    io_op op = {.fn = op_sendmsg, .cbuf = msg, .flags = flags};
    return run_io("coil_sendmsg", fd, WR, deadline, &op);
}

ssize_t coil_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return coil_sendmsg_until(fd, msg, flags, -1);
}

/* Out of fds or memory: the connection stays in the backlog, so the
 * listener is still readable and a retry fails again at once. */
static int starved(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* Let the loop run once before reporting e: a server that retries at once
 * (no back-off) then burns CPU but still serves its other tasks, timers
 * and signals (SIGTERM arrives through the loop's signalfd) instead of
 * holding the loop for ever.  A cancellation is delivered here. */
static int yield_then_fail(int e)
{
    if (coil_yield() != 0)
        return -1;                    /* ECANCELED, in error mode */
    errno = e;
    return -1;
}

int coil_accept_until(int fd, struct sockaddr *addr, socklen_t *addrlen,
                      coil_time deadline)
{
    io_op op = {.fn = op_accept, .addr = addr, .addrlen = addrlen,
                .no_dontwait = 1};
    ssize_t s = run_io("coil_accept", fd, RD, deadline, &op);
    if (s < 0)
        return starved(errno) ? yield_then_fail(errno) : -1;
    /* Born non-blocking and a socket: spare its first use the checks.
     * Without memory for the record, that first use makes it. */
    coil__io *io = *table_of(coil_task_future(coil_task_current())->loop);
    uint8_t stream = io->fds[fd]->stream;  /* TCP's children are TCP */
    fd_state *st = slot_for(io, (int)s);
    if (st) {
        clear_record(st);                 /* stale: see coil__io_fresh */
        st->known = st->socket = 1;
        st->stream = stream;
    }
    return (int)s;
}

int coil_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    return coil_accept_until(fd, addr, addrlen, -1);
}

/* connect(2) that does not wait, on a socket left as the program has it:
 * O_NONBLOCK only around the call (see "Which fds coil makes O_NONBLOCK"
 * above).  A connection under way goes on once the flag is off again. */
static int connect_nonblocking(int fd, const struct sockaddr *addr,
                               socklen_t addrlen)
{
    int flags = COIL__LIBC(fcntl(fd, F_GETFL));
    if (flags < 0)
        return -1;
    if (!(flags & O_NONBLOCK) &&
        COIL__LIBC(fcntl(fd, F_SETFL, flags | O_NONBLOCK)) < 0)
        return -1;
    int r = COIL__LIBC(connect(fd, addr, addrlen));
    if (!(flags & O_NONBLOCK)) {
        int e = errno;
        COIL__LIBC(fcntl(fd, F_SETFL, flags));
        errno = e;
    }
    return r;
}

int coil_connect_until(int fd, const struct sockaddr *addr, socklen_t addrlen,
                       coil_time deadline)
{
    if (!coil_task_current())
        return coil__debug_outside_task("coil_connect");
    if (coil__budget_spend() != 0)
        return -1;
    fd_state *st = use_fd(fd);
    if (!st)
        return -1;
    int r = connect_nonblocking(fd, addr, addrlen);
    if (r == 0)
        return 0;
    /* EINTR: the connection goes on in the background, as EINPROGRESS. */
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    st->ready &= ~(unsigned)COIL_WRITABLE;  /* not connected: latch is stale */
    if (wait_ready(st, COIL_WRITABLE, deadline, NULL) != 0)
        return -1;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int coil_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    return coil_connect_until(fd, addr, addrlen, -1);
}

/* This thread's loop's table of records, if it has one. */
static coil__io *table_here(coil_loop **loop_out)
{
    coil_task *t = coil_task_current();
    coil_loop *loop = t ? coil_task_future(t)->loop : coil__loop_existing();
    *loop_out = loop;
    return loop ? *table_of(loop) : NULL;
}

/* fd's record in this thread's loop, if there is one. */
static fd_state *existing_record(int fd, coil_loop **loop_out)
{
    coil__io *io = table_here(loop_out);
    return io && fd >= 0 && (size_t)fd < io->cap ? io->fds[fd] : NULL;
}

void coil__io_forget(int fd)
{
    coil_loop *loop;
    fd_state *st = existing_record(fd, &loop);
    if (st) {
        if (st->registered)
            coil__poll_del(coil__loop_poll(loop), fd);
        clear_record(st);
    }
}

void coil__io_forget_range(unsigned first, unsigned last)
{
    coil_loop *loop;
    coil__io *io = table_here(&loop);
    if (!io || io->cap == 0 || first >= io->cap)
        return;
    size_t end = last < io->cap - 1 ? last : io->cap - 1;
    for (size_t fd = first; fd <= end; fd++)   /* the table's, not 4G */
        if (io->fds[fd])
            coil__io_forget((int)fd);
}

void coil__io_fresh(int fd)
{
    coil_loop *loop;
    fd_state *st = existing_record(fd, &loop);
    if (st && st->known)
        clear_record(st);
}

int coil_close(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    coil__io_forget(fd);
    return close(fd);
}

/* --------------------------------------------------------------- helpers */

ssize_t coil_read_full_until(int fd, void *buf, size_t n, size_t *done,
                             coil_time deadline)
{
    size_t got = 0;
    ssize_t r = 0;
    if (done)
        *done = 0;
    if (!coil_task_current())
        return coil__debug_outside_task("coil_read_full");
    if (n > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    while (got < n) {
        r = coil_read_until(fd, (char *)buf + got, n - got, deadline);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (done)
            *done = got;
    }
    return r < 0 ? -1 : (ssize_t)got;
}

ssize_t coil_read_full(int fd, void *buf, size_t n, size_t *done)
{
    return coil_read_full_until(fd, buf, n, done, -1);
}

ssize_t coil_write_all_until(int fd, const void *buf, size_t n, size_t *done,
                             coil_time deadline)
{
    size_t put = 0;
    if (done)
        *done = 0;
    if (!coil_task_current())
        return coil__debug_outside_task("coil_write_all");
    if (n > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    fd_state *st = known_fd(fd);
    while (put < n) {
        const char *at = (const char *)buf + put;
        ssize_t r = st && st->socket
                        ? (coil__budget_spend() != 0
                               ? -1 : send_here(st, fd, at, n - put, deadline))
                        : coil_write_until(fd, at, n - put, deadline);
        if (r < 0)
            return -1;
        put += (size_t)r;
        if (done)
            *done = put;
    }
    return (ssize_t)put;
}

ssize_t coil_write_all(int fd, const void *buf, size_t n, size_t *done)
{
    return coil_write_all_until(fd, buf, n, done, -1);
}
