/*
 * src/task/task.h — what tasks (layer 4) offer the services above them.
 *
 * coil_await on a future is the general way to suspend; a service with a
 * waiter record of its own (an fd's reader, say) can skip the future and
 * its callback hop: park the task, and wake it from a poll watcher or a
 * timer.  A parked task leaves nothing behind if it is unwound, as long as
 * the service pushed a cleanup handler that forgets its waiter record.
 */
#ifndef COIL_TASK_H
#define COIL_TASK_H

#include "coil.h"

#pragma GCC visibility push(hidden)

/* Suspend the calling task (which must be one) until coil__task_wake() or
 * a cancellation request.  Returns 0 when woken — possibly spuriously: the
 * caller re-checks what it waits for — or delivers cancellation: -1 with
 * errno ECANCELED in COIL_TASK_CANCEL_AS_ERROR mode, else an unwind that
 * does not return. */
int coil__task_park(void);

/* Schedule a step of t (no-op if one is queued or t has ended).  Does not
 * allocate; safe from a poll watcher.  Exported for the hook layer
 * (src/hook/intr.c), which wakes the tasks whose calls a signal
 * interrupted. */
__attribute__((visibility("default"))) void coil__task_wake(coil_task *t);

/* Before closing loop (not running, on its own thread): cancel every task
 * still alive, run the loop until their cleanup has finished, and run the
 * callbacks that leaves behind.  What coil_run and a runtime's loops do at
 * the end (src/task/shutdown.c). */
void coil__loop_shutdown(coil_loop *loop);

/* How many stacks ended tasks of this thread keep for the next spawns
 * (task.c says why): they are neither the pool's idle ones nor anyone's
 * live stack; *max (if max) gets the most it keeps, 0 in debug-check
 * builds.  For tests. */
int coil__task_kept_stacks(int *max);

#pragma GCC visibility pop

#endif
