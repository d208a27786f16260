/*
 * src/loop/loop.h — what the loop (layer 3) offers the layers above it.
 */
#ifndef COIL_LOOP_H
#define COIL_LOOP_H

#include <limits.h>
#include <stdint.h>
#include "coil.h"
#include "core/list.h"
#include "core/libc.h"

#pragma GCC visibility push(hidden)


/* A unit of work for the ready queue, embedded in its owner so that
 * queueing it allocates nothing (a task's next step, for one).  Handles
 * from coil_call_* are work items too.  Loop thread only. */
typedef struct coil__work {
    coil__list node;              /* self-linked when not queued */
    coil_callback fn;
    void *arg;
} coil__work;

static inline void coil__work_init(coil__work *w, coil_callback fn, void *arg)
{
    coil__list_init(&w->node);
    w->fn = fn;
    w->arg = arg;
}

static inline int coil__work_queued(const coil__work *w)
{
    return w->node.next != &w->node;
}

/* The part of a loop that the hot paths of tasks use, first in struct
 * coil_loop so that they can reach it without a call. */
typedef struct coil__runq {
    coil__list ready;             /* coil__work.node, FIFO */
    coil__list batch;             /* what this iteration runs, from ready */
    unsigned items_unclocked;     /* work items run since the clock was read */
    int debug;                    /* debug mode (debug.h) */
    const char *thread;           /* the owner's &coil__loop_token */
    coil__list tasks;             /* layer 4's live tasks: a field, not a
                                     slot, because every spawn links into
                                     it; the loop only initialises it */
    int prefetch;                 /* the last poll woke a crowd */
    coil_time clock_seen;         /* the loop's last clock read: at the
                                     last timer check or poll that slept */
    void *slots[4];               /* coil__loop_slot: layers above */
} coil__runq;

/* Per thread: a byte whose address names the thread (its value: 1 once
 * the thread has made a loop, so a thread that never did can tell at
 * once that no loop is its own), and the loop that runs on it now (NULL
 * when none does). */
extern __thread char coil__loop_token
    __attribute__((tls_model("initial-exec")));
extern __thread coil_loop *coil__loop_running
    __attribute__((tls_model("initial-exec")));

static inline coil__runq *coil__loop_runq(coil_loop *loop)
{
    return (coil__runq *)(void *)loop;
}

/* Queue w to run in the loop's next batch, after what is queued now. */
static inline void coil__loop_post(coil_loop *loop, coil__work *w)
{
    if (!coil__work_queued(w))
        coil__list_push_back(&coil__loop_runq(loop)->ready, &w->node);
}

/* The running work item has taken long, however few items ran (a task
 * that spent its whole cooperative budget without suspending): the next
 * look at the timers reads the clock, so that a due timer is not put off
 * for up to loop.c's clock_every more such items.  The looks at IO keep
 * their pace. */
void coil__loop_note_long_item(coil_loop *loop);

/* Whether other work waits to run in this iteration or the next (a task
 * step, a callback): what the caller does now may wait for it. */
static inline int coil__loop_has_ready(coil_loop *loop)
{
    coil__runq *q = coil__loop_runq(loop);
    return !coil__list_empty(&q->batch) || !coil__list_empty(&q->ready);
}

/* Run fn(arg) as one of the loop's callbacks, from a work item that runs
 * several (the inbox's batches): in debug mode timed and named as a work
 * item of its own would be. */
void coil__loop_call_timed(coil_loop *loop, coil_callback fn, void *arg);

static inline void coil__loop_call(coil_loop *loop, coil_callback fn,
                                   void *arg)
{
    if (coil__loop_runq(loop)->debug)
        coil__loop_call_timed(loop, fn, arg);
    else
        fn(arg);
}

/* While the loop runs its batch: if the next item is a `fn` work item,
 * take it off the batch (it will not run there) and return it; else NULL.
 * When the batch has run out and the loop would do nothing before its next
 * iteration but take the ready queue as the next batch, it does that here
 * and takes from the new one.  How a suspending task finds the next task
 * step to hand the CPU to.  Always NULL in debug mode, which times each
 * item on the loop's stack. */
coil__work *coil__loop_next_turn(coil_loop *loop, coil_callback fn);

/* Whether a task ending now may hand the CPU straight to the one task its
 * end wakes, without posting that one's step: true when the batch and the
 * ready queue are empty and the loop would do nothing before the next
 * iteration, so that the step, once posted, would be the very next turn
 * coil__loop_next_turn takes.  Counts that turn when true.  Always false in
 * debug mode. */
int coil__loop_direct_turn(coil_loop *loop);

static inline coil__work *coil__loop_take_next(coil_loop *loop,
                                               coil_callback fn)
{
    coil__runq *q = coil__loop_runq(loop);
    if (coil__list_empty(&q->batch) || q->debug)
        return coil__loop_next_turn(loop, fn);
    coil__work *w = coil__container_of(q->batch.next, coil__work, node);
    if (w->fn != fn)
        return NULL;
    coil__list_remove(&w->node);
    q->items_unclocked++;
    return w;
}

/* The time delay (clamped at 0) after now: saturates at LLONG_MAX, which
 * is "never" in practice, instead of wrapping to a deadline long past. */
static inline coil_time coil__time_after(coil_time now, coil_time delay)
{
    if (delay < 0)
        delay = 0;
    return delay > LLONG_MAX - now ? LLONG_MAX : now + delay;
}

/* Whether an absolute deadline (loop time; negative: none) has passed:
 * the check every waiting call makes before it suspends. */
static inline int coil__deadline_passed(coil_loop *loop, coil_time deadline)
{
    return deadline >= 0 && deadline <= coil_loop_time(loop);
}

/* Cancel the timer *h (if any) that the caller holds a handle to, drop the
 * handle, and forget it.  The one way services tear down their deadline. */
static inline void coil__timer_disarm(coil_handle **h)
{
    if (*h) {
        coil_handle_cancel(*h);
        coil_handle_release(*h);
        *h = NULL;
    }
}

/* loop if not NULL, else the loop running on this thread, else the
 * thread's default loop (made on demand; NULL with errno if that fails). */
static inline coil_loop *coil__loop_resolve(coil_loop *loop)
{
    if (loop)
        return loop;
    return coil__loop_running ? coil__loop_running : coil_loop_default();
}

/* Run iterations until done(arg) returns nonzero (checked before each
 * iteration and after it) or the loop is stopped.  What coil_await does
 * outside a task.  Returns 0 when done(arg) held, or -1 with errno: EINVAL,
 * EBUSY (the loop is already running on this thread: a callback may not
 * block on a future), EPERM (another thread's loop), EINTR (stopped with
 * coil_loop_stop before done). */
int coil__loop_run_until(coil_loop *loop, int (*done)(void *arg), void *arg);

/* coil__loop_run_until with a promise that done(arg) is false while
 * *gate < open: a task hand-off checks the run's condition at every step,
 * and the byte (a future's state) rules it out without a call. */
int coil__loop_run_until_gated(coil_loop *loop, int (*done)(void *arg),
                               void *arg, const uint8_t *gate, uint8_t open);

/* The loop's time as last read, without reading the clock: late by at most
 * the current iteration's work.  For reports ("suspended for 2.1 s") that
 * must cost nothing where they are recorded. */
static inline coil_time coil__loop_time_seen(coil_loop *loop)
{
    return coil__loop_runq(loop)->clock_seen;
}

/* The loop's list of live tasks (NULL for NULL); task.c links and
 * unlinks them. */
static inline coil__list *coil__loop_tasks(coil_loop *loop)
{
    return loop ? &coil__loop_runq(loop)->tasks : NULL;
}

/* Whether this thread has ever made a loop: if not, none is its own. */
static inline int coil__thread_made_a_loop(void)
{
    return coil__loop_token != 0;
}

/* Whether the calling thread owns loop (made it). */
static inline int coil__loop_owned(const coil_loop *loop)
{
    return loop && ((const coil__runq *)(const void *)loop)->thread ==
                       &coil__loop_token;
}

/* loop's inbox (inbox.h), for the executor's replies: their count, their
 * watching, where the last was computed.  Loop thread only. */
struct coil__inbox *coil__loop_inbox(coil_loop *loop);

/* Set loop's stop flag (coil_loop_stop's work, once inbox.c has made
 * sure the loop is alive). */
void coil__loop_mark_stop(coil_loop *loop);

/* How many iterations the loop has run on its own stack (task hand-offs
 * that begin the next one without going back to it are not counted).
 * For tests. */
unsigned long coil__loop_iterations(const coil_loop *loop);

/* How many work items the loop runs now between two clock reads while it
 * is busy (32, more while items are very short: loop.c's CLOCK_*).  For
 * tests. */
unsigned coil__loop_clock_every(const coil_loop *loop);

/* The loop's poller, for the fds of the layers above (signals, IO). */
struct coil__poll *coil__loop_poll(coil_loop *loop);

/* The loop running on this thread, else its default loop if one was made
 * (never makes one), else NULL. */
coil_loop *coil__loop_existing(void);

/* ------------------------------------------- what the layers above add
 *
 * The loop runs work items and knows nothing of what they belong to.  A
 * layer above that keeps state per loop (io.c's fd table, signal.c's
 * signalfd) or must see a loop close (task.c reports and lets go of its
 * tasks) registers once per process, from a constructor — so that only the
 * layers a program links take part, and the loop names none of them. */

/* The constructors that register: priority 101, the first a program may
 * use, so that in a static link they run before the program's own
 * constructors (which come first in the link, and would otherwise run
 * first) — a program whose constructor starts a loop still finds every
 * layer registered.  A shared libcoil is initialised before the program
 * anyway. */
#define COIL__REGISTER __attribute__((constructor(101)))

/* What a layer does at coil_loop_close, after the ready queue and the
 * inbox are gone and before the timers and the poller are: tear down the
 * state in *slot (NULL if the loop never made any). */
typedef void (*coil__loop_close_fn)(coil_loop *loop, void **slot);

/* Register a close hook and get the number of the slot that is the
 * layer's in every loop.  Hooks run in the order registered.  Aborts
 * beyond the few slots there are: it is a build's fixed set. */
int coil__loop_register(coil__loop_close_fn close);

/* The layer's slot in loop: a pointer it owns, NULL until it sets it. */
static inline void **coil__loop_slot(coil_loop *loop, int slot)
{
    return &coil__loop_runq(loop)->slots[slot];
}

/* Work items whose fn is one of these are run, not dropped, if they are
 * still queued when the loop closes (a done future's callbacks hold
 * references and wake other threads: dropping them would leak or leave
 * someone waiting).  Registered from a constructor too. */
void coil__loop_run_at_close(coil_callback fn);

/* How a loop paces the batches of a stack trim (src/core/stack.c), per
 * thread: what a batch takes (the last one's time, or more: it comes down
 * slowly), and since when a due batch has been put off (0: none is). */
typedef struct coil__trim_pace {
    coil_time cost, put_off;
} coil__trim_pace;

/* Whether a due trim may run its next batch now, before a poll that would
 * wait `timeout` ns (-1: no limit; 0: not at all, the loop is busy): with
 * no timer; before a wait with room for COIL__TRIM_ROOM times a batch's
 * cost; and whatever the loop does, once a batch has been put off for
 * COIL__TRIM_PUT_OFF_MAX, so that a loop that is always busy or whose
 * timers never leave room still hands its memory back, 32 stacks at a
 * time, and holds its work up for one batch four times a second at most.
 * Pure: for tests. */
enum { COIL__TRIM_ROOM = 4 };
#define COIL__TRIM_PUT_OFF_MAX COIL_MSEC(250)
int coil__trim_fits(const coil__trim_pace *p, coil_time timeout,
                    coil_time now);

/* Before a poll that would wait `timeout` ns (as above): run a due trim
 * batch if it fits, and return the poll's timeout bounded by the next
 * trim and less the time a batch run now took (src/loop/trim.c). */
coil_time coil__loop_trim_stacks(coil_time timeout);

/* Deadlock detection (coil_run's; docs/debugging.md states the rule).
 * A loop told to stop when stalled stops, instead of polling with no
 * timeout, when it has live tasks, nothing queued, no timer, nothing from
 * another thread pending nor ever received, and no registered waker says
 * that something outside its tasks may still wake it.  A waker is a layer
 * above that knows such ways (task.c: a task waiting on an fd, a
 * thread-safe future, an executor job; signal.c: a signal routed to the
 * loop); registered once, from a constructor.  Loop thread only. */
typedef int (*coil__loop_waker)(coil_loop *loop);
void coil__loop_add_waker(coil__loop_waker may_wake);
void coil__loop_stop_when_stalled(coil_loop *loop, int on);

/* Whether the loop stopped because it stalled (cleared by the next
 * coil__loop_stop_when_stalled). */
int coil__loop_stalled(const coil_loop *loop);

/* A signal handler ran on this thread (the hook layer's, src/hook/intr.c,
 * which interrupts the program's blocking calls as the kernel would):
 * note it and make the poll return, so that the loop calls the function
 * given to coil__loop_on_signal once it is back, on its own stack.
 * Async-signal-safe; a thread with no loop running ignores it. */
COIL__HOOK_API void coil__loop_note_signal(void);

/* The one function the loops call after a signal was noted on their
 * thread (NULL: none).  Set once, by the hook layer's constructor. */
COIL__HOOK_API void coil__loop_on_signal(void (*fn)(void));

#pragma GCC visibility pop

#endif
