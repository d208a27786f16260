/*
 * src/loop/poll.h — the poller: the loop's one seam to the kernel (internal).
 *
 * A poller waits, for at most a timeout with nanosecond resolution, until
 * a registered fd is ready or another thread wakes it, and then calls the
 * ready fds' watchers.  src/loop/poll_epoll.c implements it with epoll, an
 * eventfd for wake-ups and (on kernels without epoll_pwait2) a timerfd for
 * precise timeouts; a kqueue backend would implement the same functions
 * with EVFILT_USER and kevent's timespec timeout.
 */
#ifndef COIL_POLL_H
#define COIL_POLL_H

#include "coil.h"
#include "core/coro.h"                /* COIL_TSAN */

#pragma GCC visibility push(hidden)

typedef struct coil__poll coil__poll;

/* Readiness bits passed to a watcher. */
enum {
    COIL__POLL_IN = 1u << 0,   /* readable, or the peer hung up */
    COIL__POLL_OUT = 1u << 1,  /* writable */
    COIL__POLL_ERR = 1u << 2,  /* error or hang-up: both sides should retry */
    COIL__POLL_HUP = 1u << 3   /* the peer shut down its side (or more): the
                                  input ends, and stays readable for good */
};

/* Embed one per registered fd.  ready() runs inside coil__poll_wait and
 * should only note the readiness and schedule work: it must not free a
 * watcher, whose event may still be in the batch being dispatched. */
typedef struct coil__poll_watch {
    void (*ready)(struct coil__poll_watch *w, unsigned events);
} coil__poll_watch;

/* Make a poller.  Returns it, or NULL with errno ENOMEM, EMFILE or ENFILE;
 * nothing is left open on failure. */
coil__poll *coil__poll_new(void);

/* Close the poller's fds and free it.  Registered fds stay open. */
void coil__poll_free(coil__poll *p);

/* Watch fd for input and output, edge-triggered (the IO layer registers
 * an fd once and retries its syscall until EAGAIN).  Returns 0, or -1 with
 * errno as epoll_ctl (EEXIST, EPERM for a regular file, ENOMEM, ...). */
int coil__poll_add(coil__poll *p, int fd, coil__poll_watch *w);

/* Stop watching fd.  Returns 0, or -1 with errno as epoll_ctl. */
int coil__poll_del(coil__poll *p, int fd);

/* Wait up to timeout ns (negative: no limit, 0: just look) and call the
 * watchers of the fds that became ready.  Returns early, with 0, when
 * woken or interrupted by a signal.  Returns how many watchers ran, or -1
 * with errno if the kernel refused the wait (a closed epoll fd). */
int coil__poll_wait(coil__poll *p, coil_time timeout);

/* Make a wait in progress, or the next one, return at once.  Safe from any
 * thread and from signal handlers; wakes are coalesced. */
void coil__poll_wake(coil__poll *p);

/* The same, from a signal handler ThreadSanitizer did not install (in a
 * TSan build only: see COIL_UNSEEN_BY_TSAN in core/coro.h). */
#ifdef COIL_TSAN
void coil__poll_wake_from_signal(coil__poll *p);
#else
#define coil__poll_wake_from_signal coil__poll_wake
#endif

/* Work that reaches the loop without a wake-up: the inbox's submitters
 * skip coil__poll_wake while the loop has promised to look again before
 * it sleeps (inbox.c, "Waking").  A wait that may sleep honours that.
 * Before it spins it calls watch(arg): 1, the promise stands and the spin
 * watches arrived(arg) beside its kicks, returning 0 as soon as it is
 * true; 0, the promise was taken back and kicks will come; -1, work has
 * arrived and the wait returns 0 at once; COIL__POLL_NO_SPIN, no spin at
 * all.  Just before the kernel may put the thread to sleep, spin or no
 * spin, it calls may_sleep(arg), which takes the promise back and returns
 * 0 if work arrived meanwhile (the wait then returns 0).  A spin that
 * watched ends with unwatch(arg), which returns how many pieces of work
 * came that arrived(arg) saw and only the owner of arg can take (the
 * wait then returns 0).  All run on the loop's thread. */
enum { COIL__POLL_NO_SPIN = -2 };

typedef struct coil__poll_idle {
    int (*watch)(void *arg);
    int (*arrived)(void *arg);
    int (*may_sleep)(void *arg);
    int (*unwatch)(void *arg);
    void *arg;
} coil__poll_idle;

void coil__poll_set_idle(coil__poll *p, const coil__poll_idle *idle);

/* Whether waits time out with epoll_pwait2 (1) or a timerfd (0), decided
 * once per process: by a probe, or forced to the timerfd by the
 * environment variable COIL_POLL_NO_PWAIT2=1 (for tests). */
int coil__poll_uses_pwait2(void);

/* Test hook: make this thread's n-th next call that makes an fd (with
 * EMFILE) or registers one (with ENOMEM) fail; 0 disarms it. */
void coil__poll_fail_nth(int n);

#pragma GCC visibility pop

#endif
