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

#include "coil.h"

#pragma GCC visibility push(hidden)

/* One sleeper's adaptive window (ns).  Zero-initialise: no spinning until
 * a wake-up from another thread shows that it could have paid off. */
typedef struct coil__spin {
    coil_time window;
} coil__spin;

/* The window to spin for now: 0 for none. */
coil_time coil__spin_window(const coil__spin *s);

/* The sleeper was woken from the kernel by another thread's hand-off,
 * `waited` ns after it began to wait (its spin included): if a window
 * allowed could have caught it, the window grows to at least twice that;
 * if not, it shrinks as after a miss. */
void coil__spin_slept(coil__spin *s, coil_time waited);

/* A spin ran its whole window for nothing: the window halves. */
void coil__spin_missed(coil__spin *s);

/* Spin for at most window ns, until ready(arg) is true; the hint is a CPU
 * pause at first and a sched_yield() in the second half, which lets the
 * thread we wait for run where both share one CPU.  Returns whether
 * ready(arg) became true. */
int coil__spin_wait(int (*ready)(void *arg), void *arg, coil_time window);

#pragma GCC visibility pop

#endif
