/*
 * src/loop/poll_epoll.c — the poller (src/loop/poll.h) on Linux epoll.
 *
 * Three kinds of fd sit in the epoll set, told apart by epoll_event.data:
 *   the eventfd   another thread's wake-up (coil__poll_wake);
 *   the timerfd   only on kernels without epoll_pwait2, see below;
 *   user fds      data points to their coil__poll_watch.
 *
 * Timeouts.  epoll_wait takes whole milliseconds, too coarse for timers
 * that must be precise below a millisecond.  epoll_pwait2 (Linux 5.11)
 * takes a timespec; where it is missing (older kernels, qemu-user, seccomp
 * filters that predate it) a timerfd armed to the timeout wakes an
 * untimed epoll_wait instead, at the price of one more syscall per wait.
 *
 * Timer slack.  The kernel may end a timed epoll_pwait2 up to the thread's
 * timer slack late (50 us unless the thread changed it), to batch wake-ups:
 * on the VM coil is measured on that was most of a 1 ms sleep's overshoot.
 * So the thread that makes a poller (a loop's own thread) gets a slack of
 * 1 ns, leaving only the kernel's rule for long waits (0.1% of the
 * timeout).  COIL_TIMER_SLACK=<ns> sets another; "keep", 0 or anything
 * unparsable leaves the thread's own.  (The timerfd is never slack.)
 *
 * Spinning.  Before a wait that could sleep with nothing due soon, the
 * poller may first watch for a wake-up in user space (spin.h: an adaptive
 * window, grown by wake-ups that found it asleep).  spin_state is one word
 * that the waker and the spinner both change with atomic read-modify-
 * writes: a waker that turns SPINNING into KICKED has been seen by the
 * spinner's final exchange and needs no eventfd write; one that finds IDLE
 * writes it as before.  One location, so no fence pairing is needed.
 * While it spins the poller does not see fds, so every SLICE it takes a
 * look with no wait, and an fd that becomes ready is noticed at most that
 * late.  It may watch the inbox too, through the idle hooks (poll.h):
 * while a reply from another thread is due, the inbox's submitters do not
 * kick a loop that has promised to look again (inbox.c, "Waking").
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop/poll.h"
#include "loop/spin.h"

#define MAX_EVENTS 64       /* per wait; the rest stay ready for the next */
#define SLICE COIL_USEC(16) /* longest spin between looks at the fds */

enum { SPIN_IDLE, SPIN_SPINNING, SPIN_KICKED };

struct coil__poll {
    int epfd;
    int wakefd;             /* eventfd */
    int timerfd;            /* -1 when epoll_pwait2 does the timeouts */
    int timer_armed;
    atomic_int wake_pending; /* a wake was written and not yet drained */
    _Atomic coil_time woken_at; /* when the last wake was written */
    atomic_int spin_state;   /* SPIN_*: see the top of the file */
    coil__spin spin;         /* the adaptive window: loop thread only */
    int woke;                /* the last wait drained a wake-up */
    int watching;            /* this spin watches idle.arrived */
    coil__poll_idle idle;    /* poll.h; all NULL: none */
};

/* 1: epoll_pwait2 works, -1: use the timerfd, 0: not probed yet. */
static atomic_int pwait2_state;

static __thread int fail_countdown;      /* test hook */

/* ----------------------------------------------------- making the fds */

/* Whether the test hook says this call fails (with err). */
static int injected_failure(int err)
{
    if (fail_countdown > 0 && --fail_countdown == 0) {
        errno = err;
        return 1;
    }
    return 0;
}

void coil__poll_fail_nth(int n)
{
    fail_countdown = n;
}

static int new_epoll(void)
{
    return injected_failure(EMFILE) ? -1 : epoll_create1(EPOLL_CLOEXEC);
}

static int new_eventfd(void)
{
    return injected_failure(EMFILE) ? -1
                                    : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int new_timerfd(void)
{
    return injected_failure(EMFILE)
               ? -1
               : timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}

static int ctl_add(coil__poll *p, int fd, uint32_t events, void *data)
{
    struct epoll_event ev = {.events = events, .data.ptr = data};
    if (injected_failure(ENOMEM))
        return -1;
    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The probe needs no epoll fd: with fd -1 a kernel that has the syscall
 * answers EBADF, one without it (or a seccomp filter, or an emulator that
 * does not know it) ENOSYS or EPERM. */
static int probe_pwait2(void)
{
    const char *force = getenv("COIL_POLL_NO_PWAIT2");
    if (force && strcmp(force, "1") == 0)
        return -1;
    struct epoll_event ev;
    struct timespec zero = {0, 0};
    return epoll_pwait2(-1, &ev, 1, &zero, NULL) < 0 && errno == EBADF ? 1
                                                                       : -1;
}

int coil__poll_uses_pwait2(void)
{
    int state = atomic_load_explicit(&pwait2_state, memory_order_relaxed);
    if (state == 0) {
        int saved = errno;
        state = probe_pwait2();          /* racing probes agree */
        errno = saved;
        atomic_store_explicit(&pwait2_state, state, memory_order_relaxed);
    }
    return state > 0;
}

static void set_timer_slack(void)
{
    const char *want = getenv("COIL_TIMER_SLACK");
    unsigned long ns = 1;
    if (want && *want) {
        char *end;
        ns = strtoul(want, &end, 10);
        if (*end || ns == 0 || ns == ULONG_MAX)
            return;                      /* "keep", or not a number */
    }
    int saved = errno;
    prctl(PR_SET_TIMERSLACK, ns, 0UL, 0UL, 0UL);
    errno = saved;
}

coil__poll *coil__poll_new(void)
{
    coil__poll *p = malloc(sizeof *p);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    *p = (coil__poll){.epfd = -1, .wakefd = -1, .timerfd = -1};
    atomic_init(&p->wake_pending, 0);
    atomic_init(&p->woken_at, 0);
    atomic_init(&p->spin_state, SPIN_IDLE);
    if ((p->epfd = new_epoll()) < 0 || (p->wakefd = new_eventfd()) < 0 ||
        ctl_add(p, p->wakefd, EPOLLIN, &p->wakefd) != 0)
        goto fail;
    if (!coil__poll_uses_pwait2() &&
        ((p->timerfd = new_timerfd()) < 0 ||
         ctl_add(p, p->timerfd, EPOLLIN, &p->timerfd) != 0))
        goto fail;
    if (p->timerfd < 0)
        set_timer_slack();
    return p;
fail:;
    int err = errno;
    coil__poll_free(p);
    errno = err;
    return NULL;
}

void coil__poll_free(coil__poll *p)
{
    if (!p)
        return;
    if (p->timerfd >= 0)
        close(p->timerfd);
    if (p->wakefd >= 0)
        close(p->wakefd);
    if (p->epfd >= 0)
        close(p->epfd);
    free(p);
}

/* --------------------------------------------------------- user fds */

int coil__poll_add(coil__poll *p, int fd, coil__poll_watch *w)
{
    return ctl_add(p, fd, EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                   w);
}

int coil__poll_del(coil__poll *p, int fd)
{
    return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ----------------------------------------------------------- waking */

/* Async-signal-safe: lock-free atomics and a write, errno preserved. */
void coil__poll_wake(coil__poll *p)
{
    int seen = SPIN_SPINNING;
    if (atomic_compare_exchange_strong(&p->spin_state, &seen, SPIN_KICKED) ||
        seen == SPIN_KICKED)
        return;                          /* the spinner sees the kick */
    if (atomic_exchange(&p->wake_pending, 1))
        return;                          /* the pending write wakes it */
    int saved = errno;
    atomic_store_explicit(&p->woken_at, coil_clock(), memory_order_relaxed);
    uint64_t one = 1;
    while (write(p->wakefd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    errno = saved;
}

#ifdef COIL_TSAN
/* coil__poll_wake as ThreadSanitizer must not see it (core/coro.h): the
 * same atomics, uninstrumented, and the write as a bare syscall, since
 * TSan's write() is an entry into its runtime.  No clock read (that is
 * intercepted too): the spin window learns nothing from a signal. */
COIL_UNSEEN_BY_TSAN void coil__poll_wake_from_signal(coil__poll *p)
{
    int seen = SPIN_SPINNING;
    if (atomic_compare_exchange_strong(&p->spin_state, &seen, SPIN_KICKED) ||
        seen == SPIN_KICKED)
        return;
    if (atomic_exchange(&p->wake_pending, 1))
        return;
    int saved = errno;
    uint64_t one = 1;
    while (syscall(SYS_write, p->wakefd, &one, sizeof one) < 0 &&
           errno == EINTR)
        ;
    errno = saved;
}
#endif

static void drain(int fd)
{
    uint64_t count;
    while (read(fd, &count, sizeof count) < 0 && errno == EINTR)
        ;
}

/* Drain first, then clear the flag: a waker that saw the flag still set
 * skipped its write, and whatever it did before waking is visible to the
 * loop once the flag is cleared (seq_cst), so no wake-up is lost. */
static void drain_wake(coil__poll *p)
{
    drain(p->wakefd);
    atomic_store(&p->wake_pending, 0);
}

/* ----------------------------------------------------------- waiting */

static struct timespec to_timespec(coil_time ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000LL,
                             .tv_nsec = ns % 1000000000LL};
}

static int wait_pwait2(coil__poll *p, coil_time timeout,
                       struct epoll_event *evs)
{
    struct timespec ts = to_timespec(timeout > 0 ? timeout : 0);
    return epoll_pwait2(p->epfd, evs, MAX_EVENTS, timeout < 0 ? NULL : &ts,
                        NULL);
}

/* Arm the timerfd to expire in ns (0 disarms it). */
static int arm_timer(coil__poll *p, coil_time ns)
{
    struct itimerspec its = {.it_value = to_timespec(ns)};
    if (timerfd_settime(p->timerfd, 0, &its, NULL) != 0)
        return -1;
    p->timer_armed = ns > 0;
    return 0;
}

/* An armed timer left over from an earlier, timed wait would wake an
 * untimed one for nothing, so it is disarmed; before a zero wait it can
 * stay, the next timed wait re-arms it anyway. */
static int wait_timerfd(coil__poll *p, coil_time timeout,
                        struct epoll_event *evs)
{
    if (timeout > 0 && arm_timer(p, timeout) != 0)
        return -1;
    if (timeout < 0 && p->timer_armed && arm_timer(p, 0) != 0)
        return -1;
    return epoll_wait(p->epfd, evs, MAX_EVENTS, timeout == 0 ? 0 : -1);
}

static unsigned readiness(uint32_t events)
{
    unsigned bits = 0;
    if (events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP))
        bits |= COIL__POLL_IN;
    if (events & EPOLLOUT)
        bits |= COIL__POLL_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        bits |= COIL__POLL_ERR | COIL__POLL_IN | COIL__POLL_OUT;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        bits |= COIL__POLL_HUP;
    return bits;
}

static int dispatch(coil__poll *p, const struct epoll_event *evs, int n)
{
    int ran = 0;
    for (int i = 0; i < n; i++) {
        void *tag = evs[i].data.ptr;
        if (tag == &p->wakefd) {
            drain_wake(p);
            p->woke = 1;
        } else if (tag == &p->timerfd) {
            drain(p->timerfd);
            p->timer_armed = 0;
        } else {
            coil__poll_watch *w = tag;
            w->ready(w, readiness(evs[i].events));
            ran++;
        }
    }
    return ran;
}

static int wait_kernel(coil__poll *p, coil_time timeout)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = p->timerfd < 0 ? wait_pwait2(p, timeout, evs)
                           : wait_timerfd(p, timeout, evs);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    return dispatch(p, evs, n);
}

void coil__poll_set_idle(coil__poll *p, const coil__poll_idle *idle)
{
    p->idle = *idle;
}

/* Whether work came that needs no wake-up, if this spin watches for it
 * (poll.h's idle hooks). */
static int idle_busy(coil__poll *p)
{
    return p->watching && p->idle.arrived(p->idle.arg);
}

/* What a spin waits for: a kick, a wake-up written before it began, or
 * work that comes without either. */
static int spin_over(void *arg)
{
    coil__poll *p = arg;
    return atomic_load_explicit(&p->spin_state, memory_order_relaxed) ==
               SPIN_KICKED ||
           atomic_load_explicit(&p->wake_pending, memory_order_relaxed) ||
           idle_busy(p);
}

/* Spin for up to window ns, in slices with a look at the fds between
 * them.  Returns what a wait returns if the spin ended it (a kick: 0; fds
 * ready: how many ran), or -2 if the poller must still wait. */
static int spin_then_look(coil__poll *p, coil_time window)
{
    p->watching = p->idle.watch ? p->idle.watch(p->idle.arg) : 0;
    if (p->watching == COIL__POLL_NO_SPIN) {
        p->watching = 0;
        return -2;                       /* straight to the kernel */
    }
    if (p->watching < 0)
        return 0;                        /* work came: no wait at all */
    atomic_store(&p->spin_state, SPIN_SPINNING);
    int ran = -2;
    for (coil_time left = window; left > 0 && ran == -2; left -= SLICE) {
        if (coil__spin_wait(spin_over, p, left < SLICE ? left : SLICE))
            break;
        p->woke = 0;
        int n = wait_kernel(p, 0);
        if (n != 0 || p->woke)
            ran = n;                     /* fds ready, or a wake-up drained */
    }
    int kicked = atomic_exchange(&p->spin_state, SPIN_IDLE) == SPIN_KICKED;
    int caught = ran == -2 && !kicked && idle_busy(p);
    if (p->watching > 0 && p->idle.unwatch && p->idle.unwatch(p->idle.arg))
        caught = ran == -2 && !kicked;   /* it must run, and soon */
    p->watching = 0;
    if (caught)
        return 0;                        /* work came without a kick */
    if (ran == -2 && !kicked &&
        !atomic_load_explicit(&p->wake_pending, memory_order_relaxed))
        coil__spin_missed(&p->spin);
    return kicked && ran < 0 ? 0 : ran;
}

int coil__poll_wait(coil__poll *p, coil_time timeout)
{
    if (timeout == 0)
        return wait_kernel(p, 0);
    coil_time window = coil__spin_window(&p->spin);
    coil_time start = coil_clock();      /* for the window's adapting */
    if (window > 0 && (timeout < 0 || timeout > window)) {
        int r = spin_then_look(p, window);
        if (r != -2)
            return r;
        if (timeout > 0) {               /* the spin spent part of it */
            timeout -= coil_clock() - start;
            if (timeout <= 0)
                timeout = 1;             /* still a wait: it may sleep */
        }
    }
    if (p->idle.may_sleep && !p->idle.may_sleep(p->idle.arg))
        return 0;
    p->woke = 0;
    int r = wait_kernel(p, timeout);
    if (p->woke)
        coil__spin_slept_since(&p->spin, start,
                               atomic_load_explicit(&p->woken_at,
                                                    memory_order_relaxed));
    return r;
}
