/*
 * src/loop/handle.h — a coil_handle: a callback the user scheduled with
 * coil_call_soon/_at/_later (layer 3, internal to the loop's folder).
 *
 * handle.c makes, runs, cancels and frees them; loop.c only moves them:
 * a due timer's handle to the ready queue, and every pending one off the
 * loop when it closes.  This header is what the two share.
 */
#ifndef COIL_HANDLE_H
#define COIL_HANDLE_H

#include <stdatomic.h>

#include "coil.h"
#include "core/list.h"
#include "loop/loop.h"
#include "loop/timer.h"

#pragma GCC visibility push(hidden)

enum coil__handle_state { COIL__HANDLE_PENDING, COIL__HANDLE_RAN,
                          COIL__HANDLE_CANCELLED };

struct coil_handle {
    coil__work work;         /* in the ready queue (or a batch) when due */
    coil__timer timer;       /* in the timer heap until due */
    coil_callback fn;
    void *arg;
    coil_loop *loop;         /* while PENDING; NULL after */
    const char *thread;      /* the loop's owner, for EPERM */
    atomic_uint refs;
    unsigned char state;     /* enum coil__handle_state */
    unsigned magic;          /* COIL__MAGIC_LIVE until freed: past the
                                first 16 bytes, which malloc's free lists
                                reuse, so a second release still sees DEAD
                                in a release build */
};

/* The work function of every handle's work item. */
void coil__handle_run_work(void *h);

/* The handle whose work item w is, or NULL if w is another kind. */
static inline coil_handle *coil__handle_of(const coil__work *w)
{
    return w->fn == coil__handle_run_work ? (coil_handle *)w->arg : NULL;
}

/* The handle of a timer in the loop's heap (every one there is a handle's). */
static inline coil_handle *coil__handle_of_timer(coil__timer *t)
{
    return coil__container_of(t, coil_handle, timer);
}

/* Take a pending handle off its loop for good: the callback never runs,
 * and the loop's reference goes.  Used by cancel and by close. */
void coil__handle_drop(coil_handle *h);

/* loop.c's: the heap a loop's handles wait in until due. */
coil__timer_heap *coil__loop_timers(coil_loop *loop);

#pragma GCC visibility pop

#endif
