/*
 * src/loop/spin.h — spinning briefly before a thread sleeps (layer 3,
 * src/loop/spin.c).
 *
 * A thread that is about to sleep in the kernel until another thread
 * hands it work (a loop in epoll, an executor thread on its condition
 * variable) may first watch for that work in user space for a short,
 * adaptive window.  A hand-off that lands inside the window costs the
 * sender no syscall and the receiver no wake-up: on the VM coil is
 * measured on, a futex or eventfd wake-up costs about 10 us, a round trip
 * two of them.  A window that keeps running out shrinks to nothing, so an
 * idle thread goes on sleeping at no CPU cost.
 */
#ifndef COIL_SPIN_H
#define COIL_SPIN_H

#include <stdatomic.h>

#include "coil.h"

#pragma GCC visibility push(hidden)

/* One sleeper's adaptive window (ns).  Zero-initialise: no spinning until
 * a wake-up from another thread shows that it could have paid off. */
typedef struct coil__spin {
    coil_time window;
    unsigned dry;                /* waits without a window since a probe */
} coil__spin;

/* The window to spin for now: 0 for none. */
coil_time coil__spin_window(const coil__spin *s);

/* The same for a sleeper that waits once per piece of work it is handed
 * (an executor thread), which may afford a probe: every PROBE_EVERY-th
 * wait with no window spins for the whole ceiling.  Why: two threads that
 * hand work back and forth can each learn that the other is slow when it
 * is only asleep (each wait includes the other's kernel wake-up, over the
 * ceiling on a busy VM), and neither would spin again.  A probe that
 * catches the work (coil__spin_caught) opens the window again.  At most
 * one ceiling's spin per PROBE_EVERY pieces of work; none when idle. */
coil_time coil__spin_window_probing(coil__spin *s);

/* A spin that began at `began` caught the work: if it was a probe (no
 * window), the window opens as after a wake-up a spin would have caught. */
void coil__spin_caught(coil__spin *s, coil_time began);

/* The sleeper was woken from the kernel by another thread's hand-off,
 * `waited` ns after it began to wait (its spin included): if a window
 * allowed could have caught it, the window grows to at least twice that;
 * if not, it shrinks as after a miss. */
void coil__spin_slept(coil__spin *s, coil_time waited);

/* The same, told when the sleeper began to wait and when the other side
 * handed the work over (a job queued, a wake-up written, a reply
 * settled), not when the kernel got the sleeper running again: a wake-up
 * slower than any window (tens of microseconds on a busy VM) would
 * otherwise count as a hand-off no spin could catch, and shrink the
 * window to nothing for good.  Work handed over before the wait began
 * counts as no wait at all. */
void coil__spin_slept_since(coil__spin *s, coil_time began,
                            coil_time handed);

/* A spin ran its whole window for nothing: the window halves. */
void coil__spin_missed(coil__spin *s);

/* Spin for at most window ns, until ready(arg) is true; the hint is a CPU
 * pause at first and a sched_yield() in the second half, which lets the
 * thread we wait for run where both share one CPU.  Returns whether
 * ready(arg) became true. */
int coil__spin_wait(int (*ready)(void *arg), void *arg, coil_time window);

/* A lock for critical sections of a few loads and stores that many
 * threads enter and seldom meet in: a loop's inbox, which every
 * coil_call_soon_threadsafe locks.  Taking it free is one atomic exchange;
 * releasing it is a plain store, where a mutex's release is a second
 * atomic operation that waits for every store before it to reach the
 * cache (the slots a submitter just wrote, whose lines the loop's CPU
 * holds): a submission from one thread took 96 ns with glibc's adaptive
 * mutex, 55 ns with this.  Nobody is woken at release, so a waiter
 * spins, then yields its CPU, then naps (up to a millisecond) and looks
 * again: a holder that was preempted gets the CPU back, and a thread of
 * higher priority cannot starve it forever.  Not recursive, not fair;
 * zero-initialised is unlocked. */
typedef struct coil__spin_lock {
    atomic_int held;
} coil__spin_lock;

/* The slow path of coil__spin_lock_take: wait until l is free, take it. */
void coil__spin_lock_wait(coil__spin_lock *l);

static inline int coil__spin_lock_try(coil__spin_lock *l)
{
    return !atomic_load_explicit(&l->held, memory_order_relaxed) &&
           !atomic_exchange_explicit(&l->held, 1, memory_order_acquire);
}

static inline void coil__spin_lock_take(coil__spin_lock *l)
{
    if (!coil__spin_lock_try(l))
        coil__spin_lock_wait(l);
}

static inline void coil__spin_lock_drop(coil__spin_lock *l)
{
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

#pragma GCC visibility pop

#endif
