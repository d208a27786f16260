/*
 * src/hook/mq.c — POSIX message queues in tasks: mq_receive,
 * mq_timedreceive, mq_send and mq_timedsend, hooked.
 *
 * A queue descriptor is an fd epoll can watch, but its calls take no
 * per-call way not to wait, and O_NONBLOCK on it would show in the
 * program's mq_getattr and make every other user of that open queue get
 * EAGAIN.  So a task's call tries with an absolute timeout long past —
 * the kernel then answers at once, ETIMEDOUT where it would have waited —
 * and between tries waits in the loop for the queue to have a message
 * (or room).  Several tasks may wait on one queue (a pool of workers):
 * one waits for the fd, the others in yields and naps of up to 5 ms.
 * A handler with SA_RESTART does not end the wait (signal(7) restarts
 * these calls); one without it ends it with EINTR.  A queue the program
 * opened O_NONBLOCK, and every call outside a task, is libc's.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <time.h>

#include "hook.h"

/* What each try gives the kernel: a time long past, so it never waits.
 * A fresh copy each time, writable: qemu-user writes the timeout back
 * (a const one in .rodata gave EFAULT there). */
#define LONG_AGO (&(struct timespec){0, 0})

/* Should a task's call on q wait in the loop (q is open and blocking)? */
static int waits(mqd_t q)
{
    struct mq_attr a;
    return mq_getattr(q, &a) == 0 && !(a.mq_flags & O_NONBLOCK);
}

/* A call's waits for its queue, from its start to its deadline. */
typedef struct queue_wait {
    mqd_t q;
    unsigned events;
    coil_time deadline;
    coil__intr_since since;
    coil__hook_backoff backoff;
    int backing_off;
} queue_wait;

/* One wait for the queue to be ready: for its fd in the loop, or, while
 * another task of the loop waits for that (EBUSY), one step of yields and
 * naps.  0 to try again, or -1 with errno ETIMEDOUT, EINTR, ECANCELED. */
static int park(queue_wait *w)
{
    if (!w->backing_off) {
        if (coil__intr_wait_fd(w->q, w->events, w->deadline, &w->since) == 0)
            return 0;
        if (errno != EBUSY)
            return -1;
        coil__hook_backoff_init(&w->backoff, w->deadline, &w->since);
        w->backing_off = 1;
    }
    return coil__hook_backoff_wait(&w->backoff);
}

/* Has a timed call's time come?  Then ETIMEDOUT, as the kernel says. */
static int timed_out(const queue_wait *w)
{
    if (w->deadline < 0 || coil_clock() < w->deadline)
        return 0;
    errno = ETIMEDOUT;
    return 1;
}

static void wait_init(queue_wait *w, mqd_t q, unsigned events,
                      const struct timespec *abs)
{
    w->q = q;
    w->events = events;
    w->deadline = abs ? coil__hook_abs_deadline(CLOCK_REALTIME, abs) : -1;
    w->since = coil__intr_now(0);
    w->backing_off = 0;
}

/* The kernel checks a timeout first, whatever the queue holds. */
static int bad_time(const struct timespec *abs)
{
    if (!abs || (abs->tv_nsec >= 0 && abs->tv_nsec < 1000000000))
        return 0;
    errno = EINVAL;
    return 1;
}

static ssize_t receive(mqd_t q, char *msg, size_t len, unsigned *prio,
                       const struct timespec *abs)
{
    queue_wait w;
    wait_init(&w, q, COIL_READABLE, abs);
    for (;;) {
        ssize_t r = LIBC(mq_timedreceive)(q, msg, len, prio, LONG_AGO);
        if (r >= 0 || errno != ETIMEDOUT)
            return r;                     /* EMSGSIZE, EBADF, ... */
        if (timed_out(&w) || park(&w) != 0)
            return -1;
    }
}

static int send_msg(mqd_t q, const char *msg, size_t len, unsigned prio,
                    const struct timespec *abs)
{
    queue_wait w;
    wait_init(&w, q, COIL_WRITABLE, abs);
    for (;;) {
        int r = LIBC(mq_timedsend)(q, msg, len, prio, LONG_AGO);
        if (r == 0 || errno != ETIMEDOUT)
            return r;                     /* EMSGSIZE, EBADF, ... */
        if (timed_out(&w) || park(&w) != 0)
            return -1;
    }
}

ssize_t mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio)
{
    if (!coil__hook_in_task() || !waits(q))
        return LIBC(mq_receive)(q, msg, len, prio);
    return receive(q, msg, len, prio, NULL);
}

ssize_t mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio,
                        const struct timespec *abs)
{
    if (!coil__hook_in_task() || !waits(q))
        return LIBC(mq_timedreceive)(q, msg, len, prio, abs);
    return bad_time(abs) ? -1 : receive(q, msg, len, prio, abs);
}

int mq_send(mqd_t q, const char *msg, size_t len, unsigned prio)
{
    if (!coil__hook_in_task() || !waits(q))
        return LIBC(mq_send)(q, msg, len, prio);
    return send_msg(q, msg, len, prio, NULL);
}

int mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio,
                 const struct timespec *abs)
{
    if (!coil__hook_in_task() || !waits(q))
        return LIBC(mq_timedsend)(q, msg, len, prio, abs);
    return bad_time(abs) ? -1 : send_msg(q, msg, len, prio, abs);
}
