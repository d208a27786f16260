/*
 * src/io/signal.c — signals delivered as loop callbacks (signalfd).
 *
 * A handled signal is blocked in the loop's thread, so the kernel queues it
 * on the loop's signalfd instead of interrupting whatever code happens to
 * run; the loop reads it there and runs the handler as an ordinary
 * callback, where it may do anything (cancel tasks, stop the loop).
 *
 * Tasks can also wait for signals (coil_wait_signal).  Waiters are records
 * on their tasks' stacks, linked here and unlinked by a cleanup handler on
 * every way out of the wait.  A signal is in the signalfd's mask while it
 * has a handler, or once a task has waited for it (until its handler is
 * removed): a copy that arrives between two waits must queue up for the
 * next one, not take the default action and kill the process.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/fork.h"
#include "io/io.h"
#include "loop/debug.h"
#include "task/future.h"
#include "loop/loop.h"
#include "loop/poll.h"
#include "task/task.h"

typedef struct handler {
    coil_callback fn;
    void *arg;
} handler;

typedef struct coil__signals coil__signals;

struct coil__signals {
    coil_loop *loop;
    int fd;                       /* signalfd over `mask` */
    sigset_t mask;                /* signals this loop handles */
    sigset_t blocked_before;      /* of those, the ones already blocked */
    coil__poll_watch watch;
    int drain_scheduled;
    handler handlers[NSIG];
    sigset_t waited;              /* routed because a task waited for it */
    sigset_t pending;             /* arrived with no waiter and no handler */
    sigset_t quiet;               /* handlers the deadlock rule ignores */
    coil__list waiters;           /* sig_waiter, oldest first */
};

/* The loop's slot for its coil__signals (loop.h): made on first use,
 * freed when the loop closes. */
static int signals_slot;

static coil__signals **slot_of(coil_loop *loop)
{
    return (coil__signals **)coil__loop_slot(loop, signals_slot);
}

typedef struct sig_waiter {
    coil__list node;
    coil_task *task;
    sigset_t set;
    int got;                      /* the signal it was given, or 0 */
    int returned;                 /* ...and the wait returns it */
    int timed_out;
    coil_handle *timer;
} sig_waiter;

/* Give signo to every task waiting for it that has not got one yet.
 * Returns how many took it. */
static int give_to_waiters(coil__signals *s, int signo)
{
    int n = 0;
    coil__list_each(pos, &s->waiters) {
        sig_waiter *w = coil__container_of(pos, sig_waiter, node);
        if (!w->got && sigismember(&w->set, signo)) {
            w->got = signo;
            coil__task_wake(w->task);
            n++;
        }
    }
    return n;
}

static void drain(void *arg)
{
    coil__signals *s = arg;
    s->drain_scheduled = 0;
    struct signalfd_siginfo info;
    while (read(s->fd, &info, sizeof info) == (ssize_t)sizeof info) {
        int signo = (int)info.ssi_signo;
        if (signo <= 0 || signo >= NSIG || give_to_waiters(s, signo))
            continue;
        if (s->handlers[signo].fn)
            s->handlers[signo].fn(s->handlers[signo].arg);
        else if (sigismember(&s->waited, signo))
            sigaddset(&s->pending, signo);
    }
}

/* Poll watchers only note readiness: the handlers run as a callback. */
static void on_ready(coil__poll_watch *w, unsigned events)
{
    (void)events;
    coil__signals *s = coil__container_of(w, coil__signals, watch);
    if (!s->drain_scheduled && coil_call_soon(s->loop, drain, s, NULL) == 0)
        s->drain_scheduled = 1;
}

static coil__signals *signals_for(coil_loop *loop)
{
    coil__signals **slot = slot_of(loop);
    if (*slot)
        return *slot;
    coil__signals *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->loop = loop;
    sigemptyset(&s->mask);
    sigemptyset(&s->blocked_before);
    sigemptyset(&s->waited);
    sigemptyset(&s->pending);
    sigemptyset(&s->quiet);
    coil__list_init(&s->waiters);
    s->fd = signalfd(-1, &s->mask, SFD_NONBLOCK | SFD_CLOEXEC);
    s->watch.ready = on_ready;
    if (s->fd < 0 || coil__poll_add(coil__loop_poll(loop), s->fd, &s->watch)) {
        int e = errno;
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        errno = e;
        return NULL;
    }
    *slot = s;
    return s;
}

/* Route signo through s's signalfd: block it in this thread and add it to
 * the mask (no-op if it is routed already).  Returns 0 or -1 with errno. */
static int route(coil__signals *s, int signo)
{
    if (sigismember(&s->mask, signo))
        return 0;
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(SIG_BLOCK, &one, &old);
    if (sigismember(&old, signo))
        sigaddset(&s->blocked_before, signo);
    sigaddset(&s->mask, signo);
    if (signalfd(s->fd, &s->mask, 0) < 0) {
        int e = errno;
        sigdelset(&s->mask, signo);
        sigdelset(&s->blocked_before, signo);
        if (!sigismember(&old, signo))
            pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        errno = e;
        return -1;
    }
    if (!sigismember(&old, signo))
        coil__fork_unblock(signo);    /* in a child forked here: fork.h */
    return 0;
}

/* Undo route(): the thread's mask for signo is as before it. */
static void unroute(coil__signals *s, int signo)
{
    sigdelset(&s->mask, signo);
    signalfd(s->fd, &s->mask, 0);
    sigdelset(&s->waited, signo);
    sigdelset(&s->pending, signo);
    if (!sigismember(&s->blocked_before, signo)) {
        /* A signal that arrived meanwhile is still pending: consume it
         * rather than let the default action kill the process. */
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        struct timespec zero = {0, 0};
        while (sigtimedwait(&one, NULL, &zero) == signo)
            ;
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        coil__fork_forget(signo);
    }
    sigdelset(&s->blocked_before, signo);
}

static int waited_for(coil__signals *s, int signo)
{
    coil__list_each(pos, &s->waiters) {
        sig_waiter *w = coil__container_of(pos, sig_waiter, node);
        if (sigismember(&w->set, signo))
            return 1;
    }
    return 0;
}

int coil_loop_add_signal_handler(coil_loop *loop, int signo, coil_callback fn,
                                 void *arg)
{
    if (!loop || !fn || signo <= 0 || signo >= NSIG || signo == SIGKILL ||
        signo == SIGSTOP) {
        errno = EINVAL;
        return -1;
    }
    if (!coil__loop_owned(loop)) {
        errno = EPERM;
        return -1;
    }
    coil__signals *s = signals_for(loop);
    if (!s || route(s, signo) != 0)
        return -1;
    s->handlers[signo] = (handler){fn, arg};
    return 0;
}

void coil__signal_quiet(coil_loop *loop, int signo)
{
    coil__signals *s = *slot_of(loop);
    if (s && signo > 0 && signo < NSIG)
        sigaddset(&s->quiet, signo);
}

/* The deadlock rule's question (loop.h): a signal routed to the loop for a
 * waiting task, or to a handler that is not quiet, may wake it. */
static int signal_may_wake(coil_loop *loop)
{
    coil__signals *s = *slot_of(loop);
    if (!s)
        return 0;
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&s->mask, signo) &&
            (sigismember(&s->waited, signo) ||
             (s->handlers[signo].fn && !sigismember(&s->quiet, signo))))
            return 1;
    return 0;
}

int coil_loop_remove_signal_handler(coil_loop *loop, int signo)
{
    if (!loop || signo <= 0 || signo >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    if (!coil__loop_owned(loop)) {
        errno = EPERM;
        return -1;
    }
    coil__signals *s = *slot_of(loop);
    if (!s || !sigismember(&s->mask, signo))
        return 0;
    int had = s->handlers[signo].fn != NULL;
    s->handlers[signo] = (handler){NULL, NULL};
    if (waited_for(s, signo))
        sigdelset(&s->waited, signo);     /* the last waiter unroutes it */
    else
        unroute(s, signo);
    return had;
}

static void signals_free(coil_loop *loop, void **slot)
{
    (void)loop;
    coil__signals *s = *slot;
    if (!s)
        return;
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&s->mask, signo))
            unroute(s, signo);
    coil__poll_del(coil__loop_poll(s->loop), s->fd);
    close(s->fd);
    free(s);
}

COIL__REGISTER static void register_signals(void)
{
    coil__loop_add_waker(signal_may_wake);
    signals_slot = coil__loop_register(signals_free);
}

/* ------------------------------------------------------ tasks that wait */

static void waiter_deadline(void *arg)
{
    sig_waiter *w = arg;
    w->timed_out = 1;
    coil__task_wake(w->task);
}

/* On every way out of a wait, unwinding included: unlink the waiter and
 * cancel its timer; a signal whose handler was removed while we waited
 * stops being routed when its last waiter leaves. */
static void waiter_forget(void *arg)
{
    sig_waiter *w = arg;
    coil__timer_disarm(&w->timer);
    coil__list_remove(&w->node);
    coil__signals *s = *slot_of(coil_task_future(w->task)->loop);
    /* Given to us as the wait ended another way (unwinding, time-out):
     * keep it for the next wait rather than lose it. */
    if (w->got && !w->returned)
        sigaddset(&s->pending, w->got);
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&w->set, signo) && sigismember(&s->mask, signo) &&
            !s->handlers[signo].fn && !sigismember(&s->waited, signo) &&
            !waited_for(s, signo))
            unroute(s, signo);
}

/* A signal of set that arrived while nobody waited: take it. */
static int take_pending(coil__signals *s, const sigset_t *set)
{
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(set, signo) && sigismember(&s->pending, signo)) {
            sigdelset(&s->pending, signo);
            return signo;
        }
    return 0;
}

/* For a task dump: "signal 10 or 12". */
static void describe_signal_wait(const void *obj, coil_time now, char *buf,
                                 size_t size)
{
    (void)now;
    const sig_waiter *w = obj;
    int n = snprintf(buf, size, "signal");
    for (int signo = 1; signo < NSIG && n > 0 && (size_t)n < size; signo++)
        if (sigismember(&w->set, signo))
            n += snprintf(buf + n, size - (size_t)n, " %d (%s)", signo,
                          sigabbrev_np(signo) ? sigabbrev_np(signo) : "?");
}

static const coil__wait_kind signal_wait = {describe_signal_wait, 1};

int coil_wait_signal(const int *signals, size_t n, coil_time deadline)
{
    coil_task *t = coil_task_current();
    if (!t)
        return coil__debug_outside_task("coil_wait_signal");
    if (!signals || n == 0) {
        errno = EINVAL;
        return -1;
    }
    sig_waiter w = {.task = t};
    sigemptyset(&w.set);
    for (size_t i = 0; i < n; i++) {
        int signo = signals[i];
        if (signo <= 0 || signo >= NSIG || signo == SIGKILL ||
            signo == SIGSTOP) {
            errno = EINVAL;
            return -1;
        }
        sigaddset(&w.set, signo);
    }
    coil_loop *loop = coil_task_future(t)->loop;
    coil__signals *s = signals_for(loop);
    if (!s)
        return -1;
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&w.set, signo)) {
            if (route(s, signo) != 0)
                return -1;   /* those routed so far stay: harmless */
            sigaddset(&s->waited, signo);
        }
    int got = take_pending(s, &w.set);
    if (got)
        return got;
    if (coil__deadline_passed(loop, deadline)) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (deadline >= 0 &&
        coil_call_at(loop, deadline, waiter_deadline, &w, &w.timer) != 0)
        return -1;
    coil__list_push_back(&s->waiters, &w.node);
    int r = 0, err = 0;
    coil_cleanup_push(waiter_forget, &w);
    while (!w.got && !w.timed_out) {
        coil__task_note_wait(&signal_wait, &w);
        if (coil__task_park() != 0) {
            r = -1;
            err = errno;                  /* ECANCELED */
            break;
        }
    }
    w.returned = r == 0 && w.got;
    coil_cleanup_pop(1);
    if (w.returned)
        return w.got;
    errno = r ? err : ETIMEDOUT;
    return -1;
}
