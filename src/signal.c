/*
 * src/signal.c — signals delivered as loop callbacks (signalfd).
 *
 * A handled signal is blocked in the loop's thread, so the kernel queues it
 * on the loop's signalfd instead of interrupting whatever code happens to
 * run; the loop reads it there and runs the handler as an ordinary
 * callback, where it may do anything (cancel tasks, stop the loop).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "loop.h"
#include "poll.h"

typedef struct handler {
    coil_callback fn;
    void *arg;
} handler;

struct coil__signals {
    coil_loop *loop;
    int fd;                       /* signalfd over `mask` */
    sigset_t mask;                /* signals this loop handles */
    sigset_t blocked_before;      /* of those, the ones already blocked */
    coil__poll_watch watch;
    int drain_scheduled;
    handler handlers[NSIG];
};

static void drain(void *arg)
{
    coil__signals *s = arg;
    s->drain_scheduled = 0;
    struct signalfd_siginfo info;
    while (read(s->fd, &info, sizeof info) == (ssize_t)sizeof info) {
        int signo = (int)info.ssi_signo;
        if (signo > 0 && signo < NSIG && s->handlers[signo].fn)
            s->handlers[signo].fn(s->handlers[signo].arg);
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
    coil__signals **slot = coil__loop_signals(loop);
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
    if (!s)
        return -1;
    if (!sigismember(&s->mask, signo)) {
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
            if (!sigismember(&old, signo))
                pthread_sigmask(SIG_UNBLOCK, &one, NULL);
            errno = e;
            return -1;
        }
    }
    s->handlers[signo] = (handler){fn, arg};
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
    coil__signals *s = *coil__loop_signals(loop);
    if (!s || !sigismember(&s->mask, signo))
        return 0;
    sigdelset(&s->mask, signo);
    signalfd(s->fd, &s->mask, 0);
    s->handlers[signo] = (handler){NULL, NULL};
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
    }
    sigdelset(&s->blocked_before, signo);
    return 1;
}

void coil__signals_free(coil__signals *s)
{
    if (!s)
        return;
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&s->mask, signo))
            coil_loop_remove_signal_handler(s->loop, signo);
    coil__poll_del(coil__loop_poll(s->loop), s->fd);
    close(s->fd);
    free(s);
}
