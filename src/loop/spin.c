/*
 * src/loop/spin.c — spinning briefly before a thread sleeps (layer 3).
 *
 * The policy (spin.h): a window per sleeper that grows when a kernel
 * wake-up from another thread shows a spin would have caught the hand-off
 * (to twice the time the hand-off took), and halves when a spin runs out
 * or a hand-off took longer than any window allowed.  The ceiling is process-wide:
 * coil_spin_set_window(), or COIL_SPIN_USEC=<us> in the environment,
 * default 50 us — a round trip on the VM coil is measured on is two ~10 us
 * kernel wake-ups plus the other side's work, and a window shorter than
 * the other side's turnaround never catches anything.  An executor thread
 * also probes now and then once its window is gone (spin.h).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "coil.h"
#include "loop/spin.h"

#define DEFAULT_USEC 50
#define MAX_WINDOW COIL_MSEC(10)
/* Where a window starts growing from, and below what it stops: a spin
 * shorter than a microsecond is less than one clock read's worth of
 * chances. */
#define MIN_WINDOW COIL_USEC(1)
/* How often a sleeper with no window probes (coil__spin_window_probing). */
#define PROBE_EVERY 16
/* Pause hints between clock reads: a clock read (vDSO) costs as much as
 * a few dozen cycles of pause, and the window is microseconds long. */
#define RELAX_PER_CLOCK 16

/* -1: not read from the environment yet. */
static _Atomic coil_time ceiling = -1;

static coil_time from_env(void)
{
    const char *s = getenv("COIL_SPIN_USEC");
    if (!s || !*s)
        return COIL_USEC(DEFAULT_USEC);
    char *end;
    long us = strtol(s, &end, 10);
    if (*end || us < 0 || COIL_USEC(us) > MAX_WINDOW)
        return COIL_USEC(DEFAULT_USEC);      /* unparsable: the default */
    return COIL_USEC(us);
}

coil_time coil_spin_window(void)
{
    coil_time c = atomic_load_explicit(&ceiling, memory_order_relaxed);
    if (c < 0) {
        c = from_env();                      /* racing readers agree */
        atomic_store_explicit(&ceiling, c, memory_order_relaxed);
    }
    return c;
}

int coil_spin_set_window(coil_time ns)
{
    if (ns < 0 || ns > MAX_WINDOW) {
        errno = EINVAL;
        return -1;
    }
    atomic_store_explicit(&ceiling, ns, memory_order_relaxed);
    return 0;
}

coil_time coil__spin_window(const coil__spin *s)
{
    coil_time c = coil_spin_window();
    return s->window < c ? s->window : c;
}

coil_time coil__spin_window_probing(coil__spin *s)
{
    if (s->window > 0)
        return coil__spin_window(s);
    if (++s->dry < PROBE_EVERY)
        return 0;
    s->dry = 0;
    return coil_spin_window();
}

void coil__spin_caught(coil__spin *s, coil_time began)
{
    if (s->window == 0)
        coil__spin_slept(s, coil_clock() - began);
}

void coil__spin_slept(coil__spin *s, coil_time waited)
{
    coil_time c = coil_spin_window();
    if (waited > c) {                /* no window allowed would have caught */
        coil__spin_missed(s);        /* it: the other side is slow, or idle */
        return;
    }
    /* A spin of `waited` would have caught it: room for twice that.  Not
     * just a doubling of the window, which the halving of the miss before
     * this sleep undoes: a window once short of the other side's
     * turnaround stayed short of it for good. */
    coil_time w = s->window < MIN_WINDOW ? MIN_WINDOW : s->window * 2;
    if (w < 2 * waited)
        w = 2 * waited;
    s->window = w < c ? w : c;
}

void coil__spin_slept_since(coil__spin *s, coil_time began,
                            coil_time handed)
{
    coil__spin_slept(s, handed > began ? handed - began : 0);
}

void coil__spin_missed(coil__spin *s)
{
    s->window /= 2;
    if (s->window < MIN_WINDOW)
        s->window = 0;
}

/* A hint to the CPU that this is a spin-wait: it saves power, and on a
 * hyperthreaded core it gives the sibling the pipeline. */
static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#elif defined(__powerpc64__)
    /* Priority hints: low for the wait, medium (the normal level) again
     * before the next look, so the sibling hardware threads get the core
     * meanwhile.  No-ops where SMT is off. */
    __asm__ volatile("or 1,1,1\n\tor 2,2,2" ::: "memory");
#elif defined(__riscv)
    /* Zihintpause's pause, encoded by hand for older assemblers; a core
     * without the extension runs it as a no-op fence. */
    __asm__ volatile(".4byte 0x0100000f" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

int coil__spin_wait(int (*ready)(void *arg), void *arg, coil_time window)
{
    if (window <= 0)
        return ready(arg);
    coil_time start = coil_clock();
    coil_time half = start + window / 2, end = start + window;
    for (;;) {
        for (int i = 0; i < RELAX_PER_CLOCK; i++) {
            if (ready(arg))
                return 1;
            relax();
        }
        coil_time now = coil_clock();
        if (now >= end)
            return ready(arg);
        if (now >= half)
            sched_yield();       /* a shared CPU: let the sender run */
    }
}

/* How a waiter for a coil__spin_lock backs off: CPU pauses first (the
 * holder is running elsewhere and is out within a few hundred cycles),
 * then yields (it was preempted, maybe on this CPU), then naps that double
 * up to a millisecond (the machine is overloaded: stop competing for it). */
#define LOCK_PAUSES 128
#define LOCK_YIELDS 1000
#define LOCK_NAP_MAX_NS 1000000L

void coil__spin_lock_wait(coil__spin_lock *l)
{
    long nap = 1000;
    for (int n = 0; !coil__spin_lock_try(l); n++) {
        if (n < LOCK_PAUSES) {
            relax();
        } else if (n < LOCK_PAUSES + LOCK_YIELDS) {
            sched_yield();
        } else {
            struct timespec ts = {0, nap};
            nanosleep(&ts, NULL);
            if (nap < LOCK_NAP_MAX_NS)
                nap *= 2;
        }
    }
}
