/*
 * src/loop/inbox.h — a loop's inbox (layer 3, src/loop/inbox.c).
 *
 * Every loop has an inbox that other threads post callbacks to
 * (coil_call_soon_threadsafe).  The loop opens it when made, moves what
 * arrived to its ready queue at the start of each iteration, and closes it
 * when closed; a closed inbox is unreachable from other threads.
 */
#ifndef COIL_INBOX_H
#define COIL_INBOX_H

#include <stdatomic.h>

#include "coil.h"
#include "core/list.h"
#include "loop/loop.h"
#include "loop/poll.h"

#pragma GCC visibility push(hidden)

typedef struct coil__inbox coil__inbox;

/* One submission: what to call on the loop's thread.  In the inbox, fn is
 * stored last, with release: a slot whose fn the loop reads as non-NULL
 * (acquire) is published (inbox.c). */
typedef struct coil__inbox_slot {
    coil_callback fn;
    coil_callback drop;           /* instead of fn if the loop closes */
    void *arg;
} coil__inbox_slot;

/* Slots in a row (inbox.c). */
typedef struct coil__inbox_chunk {
    struct coil__inbox_chunk *_Atomic next;   /* linked under the lock */
    unsigned n;                   /* slots filled: final once next is set */
    unsigned cap;                 /* room */
    int embedded;                 /* a coil__inbox_item's: not freed here */
    coil__inbox_slot *slot;
} coil__inbox_chunk;

/* The caller's memory for coil__inbox_post, for a post that must not fail
 * for want of memory: the inbox uses it as a chunk of its own, with one
 * slot, when it has no free slot without a malloc. */
typedef struct coil__inbox_item {
    coil__inbox_slot one;         /* set by the caller */
    coil__inbox_slot own;         /* the inbox's: the chunk's one slot */
    coil__inbox_chunk chunk;      /* the inbox's */
} coil__inbox_item;

/* A reply that another thread will send to a loop's task (an executor
 * job's result), which the loop may catch by itself while it spins,
 * instead of having it posted through the inbox (inbox.c, "Watched
 * replies").  The waiter's memory; zero-initialise. */
typedef struct coil__reply {
    coil__list link;              /* among the inbox's: loop thread */
    atomic_int state;             /* inbox.c's REPLY_* */
    coil_callback fn;             /* run on the loop's thread once it came */
    void *arg;
} coil__reply;

/* The sender's side: everything the reply carries is written.  Returns 1
 * if the loop is watching r and will run r->fn itself, 0 if the sender
 * must post it (coil_call_soon_threadsafe's way) as for any reply.  Any
 * thread; once per reply. */
int coil__reply_send(coil__reply *r);

/* Make loop's inbox and make loop reachable from other threads.  NULL with
 * errno ENOMEM. */
coil__inbox *coil__inbox_open(coil_loop *loop, coil__poll *poll);

/* Make loop unreachable (submitters get ESHUTDOWN from now on, and none is
 * still touching loop or its poller when this returns), then drop what is
 * still in the inbox, or was moved to the ready queue and has not run:
 * the ready queue must already have been emptied.  Loop thread only. */
void coil__inbox_close(coil__inbox *in);

/* If something arrived, queue the inbox's work item (coil__inbox_run) in
 * loop's ready queue, unless it is queued already: it runs what arrived,
 * in arrival order.  Loop thread only; cheap when nothing arrived. */
void coil__inbox_drain(coil__inbox *in, coil_loop *loop);

/* Whether something arrived that the loop has not run or queued (while
 * replies are due, a peek at the slots).  Loop thread only. */
int coil__inbox_has_work(coil__inbox *in);

/* The poller's idle hooks (poll.h's coil__poll_idle), arg the inbox, all
 * for the loop's thread: whether its spin before sleeping should keep the
 * loop's promise to look again and watch the slots (while replies are
 * due: inbox.c, "Waking"), or not spin at all (the last reply was
 * computed on the loop's CPU); whether a slot is published that the loop
 * has not taken; and, before it sleeps, take the promise back — 0 if
 * something arrived, and the loop must not sleep. */
int coil__inbox_watch(void *in);
int coil__inbox_arrived(void *in);
int coil__inbox_may_sleep(void *in);

/* The poller's last idle hook: the spin is over; stop watching the
 * replies (each either comes through the inbox from now on, or came and
 * will run at the next drain).  Returns how many came.  Loop thread. */
int coil__inbox_unwatch(void *in);

/* Let the loop watch for r while it spins (fn(arg) to run when it came),
 * before the sender can send it; a few at a time (the rest are posted).
 * And drop it, once its waiter is done with it: removing one not added,
 * or already taken off, is harmless.  Loop thread only. */
void coil__inbox_add_reply(coil__inbox *in, coil__reply *r,
                           coil_callback fn, void *arg);
void coil__inbox_drop_reply(coil__inbox *in, coil__reply *r);

/* Count the replies the loop's tasks wait for from other threads: +1 when
 * one is asked for, -1 when it came or nobody waits for it any more (the
 * executor's jobs).  Loop thread only. */
void coil__inbox_expect_replies(coil__inbox *in, int delta);

/* The last reply was computed on the loop's own CPU (here) or not
 * (the executor's job_complete).  Loop thread only. */
void coil__inbox_note_reply(coil__inbox *in, int here);

/* Whether another thread has ever posted to the loop (seen once): one
 * that did may again, which the deadlock rule counts as a way to wake. */
int coil__inbox_ever_used(const coil__inbox *in);

/* The flag that is the loop's promise to look again (inbox.c, "Waking"):
 * clear, nothing arrived since the loop took it back.  For the loop to
 * read without a call on its hot path. */
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

/* Post fn(arg) to loop from any thread; drop(arg), if not NULL, runs
 * instead (on loop's thread, at its close) if loop closes first.  A
 * `bounded` post (the user's) is refused past the loop's inbox limit.
 * Returns 0, or -1 with errno ESHUTDOWN (no such live loop), EAGAIN
 * (bounded, over the limit) or ENOMEM. */
int coil__inbox_submit(coil_loop *loop, coil_callback fn, coil_callback drop,
                       void *arg, int bounded);

/* coil__inbox_submit with the caller's item (its `one` slot set): a post
 * that must not fail for want of memory brings its own.  The item must
 * stay valid until fn or drop has run (either may free it).  Returns 0,
 * or -1 with errno ESHUTDOWN or EAGAIN (bounded), the item untouched
 * then. */
int coil__inbox_post(coil_loop *loop, coil__inbox_item *it, int bounded);

/* The inbox's work item: runs what arrived, in order, each callback
 * through coil__loop_call (so debug mode times each).  For loop.c, which
 * leaves the timing to it. */
void coil__inbox_run(void *arg);

/* Whether loop is alive and this thread's, without touching a freed loop:
 * for a loop pointer that came from another thread. */
int coil__inbox_loop_is_mine(const coil_loop *loop);

#pragma GCC visibility pop

#endif
