/*
 * src/loop/inbox.h — what thread.c (layer 5) gives the loop: its inbox.
 *
 * Every loop has an inbox that other threads post callbacks to
 * (coil_call_soon_threadsafe).  The loop opens it when made, moves what
 * arrived to its ready queue at the start of each iteration, and closes it
 * when closed; a closed inbox is unreachable from other threads.
 */
#ifndef COIL_THREAD_H
#define COIL_THREAD_H

#include <stdatomic.h>

#include "coil.h"
#include "loop/poll.h"

#pragma GCC visibility push(hidden)

typedef struct coil__inbox coil__inbox;

/* Make loop's inbox and make loop reachable from other threads.  NULL with
 * errno ENOMEM. */
coil__inbox *coil__inbox_open(coil_loop *loop, coil__poll *poll);

/* Make loop unreachable (submitters get ESHUTDOWN from now on, and none is
 * still touching loop or its poller when this returns), then drop what is
 * still in the inbox, or was moved to the ready queue and has not run:
 * the ready queue must already have been emptied.  Loop thread only. */
void coil__inbox_close(coil__inbox *in);

/* Move what arrived to loop's ready queue, in arrival order.  Loop thread
 * only; cheap when nothing arrived. */
void coil__inbox_drain(coil__inbox *in, coil_loop *loop);

/* Whether something arrived that drain has not moved yet. */
int coil__inbox_pending(coil__inbox *in);

/* The flag coil__inbox_pending reads, for the loop to read without a call
 * on its hot path. */
const atomic_int *coil__inbox_flag(coil__inbox *in);

/* coil_loop_stop: if loop is alive, mark it stopping (coil__loop_mark_stop)
 * and, from another thread, wake it — under the registry's lock, so that
 * the loop cannot be closed in between.  -1 with errno ESHUTDOWN if loop
 * is not a live loop. */
int coil__inbox_stop(coil_loop *loop);

/* coil_call_soon_threadsafe without the inbox limit: for coil's own
 * deliveries (the executor's wake-ups), which must never be refused. */
int coil__call_soon_threadsafe_always(coil_loop *loop, coil_callback fn,
                                      void *arg);

#pragma GCC visibility pop

#endif
