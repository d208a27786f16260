/*
 * src/loop/timer.h — the clock and the timer heap of the loop (internal).
 *
 * A coil__timer is embedded in whatever is scheduled (a coil_handle); the
 * heap holds pointers to them, ordered by deadline and, for equal
 * deadlines, by the order they were pushed, so timers due at the same time
 * run first-in first-out.  Every timer knows its slot in the heap, which
 * makes removing one (a cancel) O(log n) instead of a search.
 */
#ifndef COIL_TIMER_H
#define COIL_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include "coil.h"

#pragma GCC visibility push(hidden)

#define COIL__TIMER_NONE SIZE_MAX         /* slot of a timer not in a heap */

typedef struct coil__timer {
    coil_time when;                       /* deadline, CLOCK_MONOTONIC ns */
    uint64_t seq;                         /* push order: breaks ties */
    size_t slot;                          /* index in the heap or NONE */
} coil__timer;

typedef struct coil__timer_heap {
    coil__timer **items;                  /* items[0] is due first */
    size_t len, cap;
    uint64_t next_seq;
} coil__timer_heap;

static inline void coil__timers_init(coil__timer_heap *h)
{
    *h = (coil__timer_heap){0};
}

/* The timer due first, or NULL when the heap is empty. */
static inline coil__timer *coil__timers_first(const coil__timer_heap *h)
{
    return h->len ? h->items[0] : NULL;
}

static inline int coil__timer_queued(const coil__timer *t)
{
    return t->slot != COIL__TIMER_NONE;
}

/* Add t, due at t->when (the caller sets it).  O(log n).  Returns 0, or -1
 * with errno ENOMEM, leaving the heap and t unchanged. */
int coil__timers_push(coil__timer_heap *h, coil__timer *t);

/* Take t out of h (t must be in it).  O(log n). */
void coil__timers_remove(coil__timer_heap *h, coil__timer *t);

/* Free the heap's storage; the timers in it are the caller's business. */
void coil__timers_free(coil__timer_heap *h);

#pragma GCC visibility pop

#endif
