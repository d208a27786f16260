/*
 * src/hook/intr.c — signal handlers interrupt the program's blocking
 * calls in tasks, as they interrupt a thread's blocking syscalls.
 *
 * In a thread, a blocking read is a syscall; a signal whose handler runs
 * meanwhile ends it with EINTR, unless the handler was installed with
 * SA_RESTART — and sleeps, poll, select, epoll_wait and socket calls with
 * SO_RCVTIMEO / SO_SNDTIMEO end with EINTR whatever the flag (signal(7)).
 * In a task the call is parked in coil and the thread waits in the loop's
 * epoll_wait, so the kernel interrupts nothing the program can see.
 *
 * So the program's handlers are wrapped: sigaction and signal install a
 * trampoline that runs the program's handler, then notes the signal for
 * this thread and wakes its loop (coil__loop_note_signal: an eventfd
 * write, async-signal-safe).  Back from its poll, the loop calls
 * interrupt_parked(), which ends with EINTR every hooked call parked in a
 * task of this thread that began before the handler ran and that the
 * handler's SA_RESTART would not have restarted.  A call that parks
 * more than once (waitpid's naps, sem_wait's, poll's rounds) counts from
 * its own start, not each park's: a handler that ran while it was
 * between two parks, on no list, ends it at its next.  Every call of every
 * task of the thread is interrupted, not one: the tasks are the threads
 * the program was written for, and the classic use — a handler sets a
 * flag, the blocking call returns EINTR, the code checks the flag — must
 * reach whichever task waits.
 *
 * Handlers are wrapped only for catchable, asynchronous signals:
 * SIG_DFL and SIG_IGN are not handlers, and SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGTRAP and SIGSYS are raised by an instruction, never while a
 * call waits.  sigaction's old action reports the program's handler, not
 * the trampoline.  Until the program installs a handler that is wrapped,
 * nothing here runs: hooked calls check one flag.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "hook.h"
#include "../core/coro.h"             /* COIL_UNSEEN_BY_TSAN */
#include "../loop/loop.h"
#include "../task/task.h"

/* glibc's sigaction under the name it exports for exactly this, so that
 * no dlsym runs here: a sanitizer's start-up comes through this function
 * before it can take a dlsym (or a malloc) of ours, and signal() below is
 * called from a fault handler. */
extern int __sigaction(int sig, const struct sigaction *act,
                       struct sigaction *old);

/* The program's own action for each signal whose handler is wrapped. */
static struct sigaction program_act[NSIG];

/* A handler of the program's has been wrapped: hooked calls register. */
_Atomic int coil__intr_armed_flag;

/* Counts of handlers run on this thread: all of them, and those without
 * SA_RESTART.  A wait notes both when it begins. */
static __thread _Atomic unsigned long ran_any, ran_norestart;

/* The hooked calls parked (or about to park) in tasks of this thread. */
static __thread coil__intr_wait *parked;

/* ------------------------------------------------------- the handlers */

/* Unseen by ThreadSanitizer: in a TSan build the program's handler is
 * TSan's, which defers the program's own to a point safe for TSan, but
 * this runs where the kernel calls it (COIL_UNSEEN_BY_TSAN). */
static COIL_UNSEEN_BY_TSAN void trampoline(int sig, siginfo_t *info,
                                           void *uc)
{
    const struct sigaction *a = &program_act[sig];
    if (a->sa_flags & SA_SIGINFO)
        a->sa_sigaction(sig, info, uc);
    else
        a->sa_handler(sig);
    int saved = errno;
    atomic_fetch_add_explicit(&ran_any, 1, memory_order_relaxed);
    if (!(a->sa_flags & SA_RESTART))
        atomic_fetch_add_explicit(&ran_norestart, 1, memory_order_relaxed);
    coil__loop_note_signal();
    errno = saved;
}

/* Has a handler that interrupts the call of mark s run since? */
static int intr_ran(const coil__intr_since *s)
{
    if (atomic_load(&ran_norestart) != s->norestart_at)
        return 1;
    return s->any && atomic_load(&ran_any) != s->any_at;
}

void coil__intr_count(coil__intr_since *s)
{
    s->any_at = atomic_load(&ran_any);
    s->norestart_at = atomic_load(&ran_norestart);
}

/* Back from the loop's poll after a handler ran: end the calls it
 * interrupted with EINTR. */
static void interrupt_parked(void)
{
    for (coil__intr_wait *w = parked; w; w = w->next) {
        if (w->hit || !intr_ran(&w->since))
            continue;
        w->hit = 1;
        if (w->wake)
            w->wake(w);
        else
            coil__task_wake(w->task);
    }
}

static int wrappable(int sig, const struct sigaction *act)
{
    if (sig <= 0 || sig >= NSIG || act->sa_handler == SIG_DFL ||
        act->sa_handler == SIG_IGN)
        return 0;
    switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP:
    case SIGSYS:
        return 0;
    default:
        return 1;
    }
}

/* Install act for sig with the trampoline in front of its handler. */
static int install_wrapped(int sig, const struct sigaction *act)
{
    struct sigaction w = *act;
    w.sa_sigaction = trampoline;
    w.sa_flags |= SA_SIGINFO;
    /* The trampoline must not run with half of program_act[sig] written:
     * keep every signal from this thread meanwhile.  (Another thread's
     * handler for sig could; the kernel's own update is not atomic with
     * respect to the program's data either.) */
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);
    program_act[sig] = *act;
    coil__loop_on_signal(interrupt_parked);
    atomic_store(&coil__intr_armed_flag, 1);
    int r = __sigaction(sig, &w, NULL);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    return r;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (coil__hook_off)                   /* coil's own handler */
        return __sigaction(sig, act, old);
    struct sigaction now;
    if (__sigaction(sig, NULL, &now) != 0)
        return -1;                        /* EINVAL: no such signal */
    if (now.sa_sigaction == trampoline && (now.sa_flags & SA_SIGINFO))
        now = program_act[sig];
    if (act) {
        int r = wrappable(sig, act) ? install_wrapped(sig, act)
                                    : __sigaction(sig, act, NULL);
        if (r != 0)
            return -1;                    /* EINVAL: SIGKILL, SIGSTOP */
    }
    if (old)
        *old = now;
    return 0;
}

/* glibc's signal(): BSD semantics, SA_RESTART and sig blocked in its own
 * handler.  (glibc's signal calls sigaction by an internal name, so it
 * is hooked itself.) */
sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    if (sig > 0 && sig < NSIG)
        sigaddset(&act.sa_mask, sig);
    if (sigaction(sig, &act, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* ---------------------------------------------------- the waits */

void coil__intr_begin(coil__intr_wait *w, const coil__intr_since *since)
{
    w->since = *since;
    w->hit = intr_ran(since);             /* ran between two parks */
    w->task = coil_task_current();
    w->wake = NULL;
    w->prev = NULL;
    w->next = parked;
    if (parked)
        parked->prev = w;
    parked = w;
}

void coil__intr_end(void *arg)
{
    coil__intr_wait *w = arg;
    if (w->prev)
        w->prev->next = w->next;
    else
        parked = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

ssize_t coil__intr_io_run(const char *call, int fd, int dir,
                          coil_time deadline, coil__io_op *op,
                          const coil__intr_since *since)
{
    if (!coil__intr_armed())
        return coil__io_run(call, fd, dir, deadline, op);
    coil__intr_wait w;
    ssize_t r;
    coil__intr_begin(&w, since);
    op->intr = &w.hit;
    coil_cleanup_push(coil__intr_end, &w);
    r = coil__io_run(call, fd, dir, deadline, op);
    coil_cleanup_pop(1);
    return r;
}

int coil__intr_wait_fd(int fd, unsigned events, coil_time deadline,
                       const coil__intr_since *since)
{
    if (!coil__intr_armed())
        return coil_wait_fd(fd, events, deadline);
    coil__intr_wait w;
    int r;
    coil__intr_begin(&w, since);
    coil_cleanup_push(coil__intr_end, &w);
    r = coil__io_wait(fd, events, deadline, &w.hit);
    coil_cleanup_pop(1);
    return r;
}

/* A sleep waits on an event of its own, which an interruption sets. */
typedef struct {
    coil__intr_wait w;
    coil_event *ev;
} sleep_wait;

static void sleep_end(void *arg)
{
    sleep_wait *s = arg;
    coil__intr_end(&s->w);
    coil_event_free(s->ev);
}

static void wake_sleeper(coil__intr_wait *w)
{
    coil_event_set(((sleep_wait *)(void *)w)->ev);
}

int coil__intr_sleep_until(coil_time until, const coil__intr_since *since)
{
    sleep_wait s;
    if (!coil__intr_armed() || !(s.ev = coil_event_new()))
        return coil_sleep_until(until);
    int r;
    coil__intr_begin(&s.w, since);
    s.w.wake = wake_sleeper;
    coil_cleanup_push(sleep_end, &s);
    r = s.w.hit ? 0 : coil_event_wait_until(s.ev, until);
    coil_cleanup_pop(1);
    /* Set, or a handler ran in the turn its time ran out in: either way
     * the handler interrupted the wait, and the caller must hear it
     * (sem.c's and child.c's naps would otherwise wait on). */
    if (r == 0 || s.w.hit) {
        errno = EINTR;
        return -1;
    }
    return errno == ETIMEDOUT ? 0 : -1;
}
