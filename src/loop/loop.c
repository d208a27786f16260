/*
 * src/loop/loop.c — the event loop (layer 3): ready queue, timers, polling.
 *
 * One iteration:
 *   1. move the timers due to the ready queue;
 *   2. run the callbacks that are ready now, and only those (the batch):
 *      what they schedule waits for the next iteration, so a callback that
 *      keeps rescheduling itself cannot starve timers or IO.  A task that
 *      suspends hands the CPU straight to the next task step of the batch
 *      (task.c), which is the same order at half the switches;
 *   3. poll: no wait if anything is ready or a stop is pending (and then
 *      at most once per 50 µs, a syscall being dearer than a batch of
 *      task switches), else until the next timer, else until an fd or
 *      another thread wakes the loop.
 *
 * The loop's time is read once per iteration, on first use (timers due,
 * coil_loop_time, the poll's pacing), and cached for the rest of it: a
 * clock read costs as much as a task switch, and an iteration of a few
 * quick steps need not pay it.  While the loop is busy the pacing reads it
 * at least once per clock_every work items (32, up to 128 while items
 * are very short: CLOCK_*).
 *
 * What the user schedules with coil_call_soon/_at/_later (a coil_handle)
 * is src/loop/handle.c: here it is one more work item, and the timer heap
 * holds only handles.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "coil.h"
#include "core/fork.h"
#include "loop/debug.h"
#include "core/list.h"
#include "loop/loop.h"
#include "loop/poll.h"
#include "core/stack.h"
#include "loop/inbox.h"
#include "loop/timer.h"
#include "loop/handle.h"

/* While callbacks are ready, look for IO no more often than this. */
#define BUSY_POLL_INTERVAL COIL_USEC(50)
/* ...and read the clock to find out once per `clock_every` items: 32,
 * and up to 4 times as many while items are so short that the span
 * between reads stays under half of CLOCK_SPAN (a clock read costs ~28 ns
 * on the VM coil is measured on, two yields' worth: once per 32 yields it
 * was 6% of a yield).  A span over CLOCK_SPAN drops back to 32 at once.
 * The price: when items turn long right after a run of tiny ones, the
 * first read comes after up to 128 of them instead of 32. */
#define CLOCK_EVERY_MIN 32
#define CLOCK_EVERY_MAX 128
#define CLOCK_SPAN COIL_USEC(4)
/* A poll that wakes at least this many fds' waiters turns on task.c's
 * prefetching for the hand-offs that follow: between so many tasks' turns
 * the kernel's IO work pushes each one's stack and struct out of the
 * cache.  Below it (and for batches of pure computation) the tasks' memory
 * is still cached and prefetching would only cost instructions. */
#define PREFETCH_CROWD 16


struct coil_loop {
    coil__runq q;            /* first: loop.h reaches it without a call */
    coil__poll *poll;
    coil__timer_heap timers; /* coil_handle.timer */
    coil_time now;           /* the clock, if read in this iteration */
    int now_valid;           /* whether it was */
    int clock_stale;         /* a long item ran: read the clock before the
                                next look at the timers */
    atomic_int running;      /* atomic: coil_loop_is_running from anywhere */
    atomic_int stopping;     /* atomic: coil_loop_stop from anywhere */
    coil__inbox *inbox;      /* inbox.c's: what other threads post */
    const atomic_int *inbox_flag; /* clear: nothing came from afar (inbox.c) */
    coil_time last_poll;     /* loop time of the last look at the kernel */
    int (*until)(void *);    /* coil__loop_run_until's condition, or NULL */
    void *until_arg;
    const uint8_t *gate;     /* ...which is false while *gate < gate_open */
    uint8_t gate_open;
    coil_time slow;          /* debug: report callbacks longer than this */
    unsigned clock_every;    /* items between clock reads (CLOCK_*) */
    unsigned long iterations; /* run_once calls, for tests */
    uint8_t stall_check;     /* coil__loop_stop_when_stalled */
    uint8_t stalled;         /* and it did */
};

__thread char coil__loop_token;          /* its address names the thread */
__thread coil_loop *coil__loop_running;  /* the loop running on this thread */

/* In a fork()ed child no loop runs: those it holds are the parent's. */
static void forget_loop_after_fork(void)
{
    coil__loop_running = NULL;
}

COIL__REGISTER static void register_fork_handler(void)
{
    coil__on_fork_child(forget_loop_after_fork);
}
static __thread coil_loop *default_loop;

/* ------------------------------------------------------------ lifetime */

coil_loop *coil_loop_new(void)
{
    coil_loop *loop = calloc(1, sizeof *loop);
    if (!loop) {
        errno = ENOMEM;
        return NULL;
    }
    loop->poll = coil__poll_new();
    if (!loop->poll) {
        int err = errno;
        free(loop);
        errno = err;
        return NULL;
    }
    loop->q.thread = &coil__loop_token;
    loop->clock_every = CLOCK_EVERY_MIN;
    coil__loop_token = 1;                 /* loop.h: a thread that made one */
    loop->inbox = coil__inbox_open(loop, loop->poll);
    if (!loop->inbox) {
        coil__poll_free(loop->poll);
        free(loop);
        errno = ENOMEM;
        return NULL;
    }
    loop->inbox_flag = coil__inbox_flag(loop->inbox);
    coil__poll_set_idle(loop->poll,
                        &(coil__poll_idle){coil__inbox_watch,
                                           coil__inbox_arrived,
                                           coil__inbox_may_sleep,
                                           coil__inbox_unwatch,
                                           loop->inbox});
    coil__list_init(&loop->q.ready);
    coil__list_init(&loop->q.batch);
    coil__list_init(&loop->q.tasks);
    coil__timers_init(&loop->timers);
    atomic_init(&loop->running, 0);
    atomic_init(&loop->stopping, 0);
    loop->q.debug = coil__debug_env();
    loop->slow = coil__debug_slow_env();
    return loop;
}

static int check_owned(const coil_loop *loop)
{
    if (!loop) {
        errno = EINVAL;
        return -1;
    }
    if (!coil__loop_owned(loop)) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

static int is_running(const coil_loop *loop)
{
    return atomic_load_explicit(&loop->running, memory_order_relaxed);
}

static int is_stopping(coil_loop *loop)
{
    return atomic_load(&loop->stopping);
}

/* ------------------------------------------- what the layers above add */

static coil__loop_close_fn close_hooks[sizeof ((coil__runq *)0)->slots /
                                       sizeof(void *)];
static int nclose_hooks;
static coil_callback at_close[4];
static int nat_close;

/* Both run from constructors, before any thread or loop exists: no lock. */
int coil__loop_register(coil__loop_close_fn close)
{
    if (nclose_hooks == (int)(sizeof close_hooks / sizeof close_hooks[0]))
        abort();
    close_hooks[nclose_hooks] = close;
    return nclose_hooks++;
}

void coil__loop_run_at_close(coil_callback fn)
{
    if (nat_close == (int)(sizeof at_close / sizeof at_close[0]))
        abort();
    at_close[nat_close++] = fn;
}

static int runs_at_close(coil_callback fn)
{
    for (int i = 0; i < nat_close; i++)
        if (at_close[i] == fn)
            return 1;
    return 0;
}

/* A work item still queued at close is dropped, unless it is a handle (whose
 * references go) or one of the kinds registered to run instead; what those
 * post lands in this same queue. */
static void drain_at_close(coil_loop *loop)
{
    while (!coil__list_empty(&loop->q.ready)) {
        coil__work *w = coil__container_of(loop->q.ready.next, coil__work, node);
        coil_handle *h = coil__handle_of(w);
        if (h) {
            coil__handle_drop(h);
        } else if (runs_at_close(w->fn)) {
            coil__list_remove(&w->node);
            w->fn(w->arg);
        } else
            coil__list_remove(&w->node);  /* its owner is abandoned too */
    }
}

int coil_loop_close(coil_loop *loop)
{
    if (check_owned(loop) != 0)
        return -1;
    if (is_running(loop)) {
        errno = EBUSY;
        return -1;
    }
    drain_at_close(loop);
    /* After the queue: a work item run there may have added a timer. */
    coil__timer *t;
    while ((t = coil__timers_first(&loop->timers)) != NULL)
        coil__handle_drop(coil__handle_of_timer(t));
    coil__inbox_close(loop->inbox);   /* before the poller: others wake it */
    for (int i = 0; i < nclose_hooks; i++)
        close_hooks[i](loop, &loop->q.slots[i]);
    coil__timers_free(&loop->timers);
    coil__poll_free(loop->poll);
    if (default_loop == loop)
        default_loop = NULL;
    free(loop);
    return 0;
}

int coil_loop_set_debug(coil_loop *loop, int enabled, coil_time slow)
{
    if (slow < 0) {
        errno = EINVAL;
        return -1;
    }
    loop = coil__loop_resolve(loop);
    if (!loop)
        return -1;
    loop->q.debug = enabled != 0;
    loop->slow = slow ? slow : coil__debug_slow_env();
    return 0;
}

int coil_loop_get_debug(const coil_loop *loop)
{
    return loop ? loop->q.debug : coil__debug_env();
}

/* A thread's default loop is closed when the thread exits, like its stack
 * pool; the destructor runs with the thread's TLS still valid. */
static pthread_once_t default_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t default_key;

static void close_default_at_exit(void *loop)
{
    if (loop == default_loop)
        coil_loop_close(loop);
}

static void make_default_key(void)
{
    pthread_key_create(&default_key, close_default_at_exit);
}

coil_loop *coil_loop_default(void)
{
    if (!default_loop) {
        pthread_once(&default_key_once, make_default_key);
        default_loop = coil_loop_new();
        if (default_loop)
            pthread_setspecific(default_key, default_loop);
    }
    return default_loop;
}

coil_loop *coil_loop_current(void)
{
    return coil__loop_running;
}

unsigned long coil__loop_iterations(const coil_loop *loop)
{
    return loop->iterations;
}

unsigned coil__loop_clock_every(const coil_loop *loop)
{
    return loop->clock_every;
}

coil__timer_heap *coil__loop_timers(coil_loop *loop)
{
    return &loop->timers;
}

coil__poll *coil__loop_poll(coil_loop *loop)
{
    return loop->poll;
}

coil_loop *coil__loop_existing(void)
{
    return coil__loop_running ? coil__loop_running : default_loop;
}

/* ---------------------------------------------------------- one iteration */

/* The loop's time in this iteration: read on first use, then cached. */
/* Read the clock into loop->now (and what tasks see of it). */
static void read_clock(coil_loop *loop)
{
    loop->now = coil_clock();
    loop->q.clock_seen = loop->now;
    loop->clock_stale = 0;
}

static coil_time loop_now(coil_loop *loop)
{
    if (!loop->now_valid) {
        read_clock(loop);
        loop->now_valid = 1;
        loop->q.items_unclocked = 0;
    }
    return loop->now;
}

/* Whether the items run since the last clock read call for a new one. */
static int clock_due(const coil_loop *loop)
{
    return loop->q.items_unclocked >= loop->clock_every;
}

/* The clock read that clock_due asked for; the allowance of items
 * between reads follows what these items took (CLOCK_*). */
static coil_time loop_now_counted(coil_loop *loop)
{
    coil_time before = loop->q.clock_seen;
    loop->now_valid = 0;
    coil_time took = loop_now(loop) - before;
    if (took > CLOCK_SPAN)
        loop->clock_every = CLOCK_EVERY_MIN;
    else if (took < CLOCK_SPAN / 2 && loop->clock_every < CLOCK_EVERY_MAX)
        loop->clock_every *= 2;
    return loop->now;
}

static void move_due_timers(coil_loop *loop)
{
    coil__timer *t;
    while ((t = coil__timers_first(&loop->timers)) != NULL &&
           t->when <= loop_now(loop)) {
        coil__timers_remove(&loop->timers, t);
        coil__list_push_back(&loop->q.ready,
                             &coil__handle_of_timer(t)->work.node);
    }
}

/* dst (overwritten) heads first..last instead of end: empty if first is end */
static void adopt(coil__list *dst, coil__list *first, coil__list *last,
                  const coil__list *end)
{
    if (first == end) {
        coil__list_init(dst);
        return;
    }
    first->prev = dst;
    last->next = dst;
    dst->next = first;
    dst->prev = last;
}

/* Move all of src to dst (overwritten), leaving src empty.  Its ends, just
 * written by 8-byte stores, are read as two words (the asm stops GCC merging
 * them): a 16-byte load waits for such stores (a fifth of a yield, on Zen). */
static void take_all(coil__list *dst, coil__list *src)
{
    coil__list *first = src->next, *last = src->prev;
    __asm__("" : "+r"(first));        /* two loads, not one wide one */
    adopt(dst, first, last, src);
    coil__list_init(src);
}

/* Take src's first item off it and move the rest to dst (overwritten),
 * without reading back src's ends after writing them. */
static void take_rest(coil__list *dst, coil__list *src)
{
    coil__list *first = src->next, *last = src->prev;
    __asm__("" : "+r"(first), "+r"(last));    /* as in take_all */
    coil__list *rest = first->next;
    coil__list_init(first);
    coil__list_init(src);
    adopt(dst, rest, last, src);
}

/* The batch is a list of its own, so a callback cancelling a later one of
 * the batch simply unlinks it, and new callbacks go to loop->q.ready. */
/* Debug mode: time fn(arg) and name whoever held the loop too long:
 * name_fn(name_arg), the user's callback behind the work item. */
static void run_timed(coil_loop *loop, coil_callback fn, void *arg,
                      coil_callback name_fn, void *name_arg)
{
    coil_time start = coil_clock();
    coil__slow_watch_begin(loop->slow);
    fn(arg);
    char where[320];
    coil__slow_watch_end(where, sizeof where);
    coil_time took = coil_clock() - start;
    if (took > loop->slow) {
        char name[160];
        coil__debug_name_callback(name_fn, name_arg, name, sizeof name);
        coil__debug_report("%s held the loop for %.1f ms (over %.1f ms): "
                           "a blocking call where it should suspend?%s",
                           name, took / 1e6, loop->slow / 1e6, where);
    }
}

static void work_run_timed(coil_loop *loop, coil__work *w)
{
    if (w->fn == coil__inbox_run) {   /* a batch: it times each of its own */
        w->fn(w->arg);
        return;
    }
    coil_handle *h = coil__handle_of(w);
    run_timed(loop, w->fn, w->arg, h ? h->fn : w->fn, h ? h->arg : w->arg);
}

void coil__loop_call_timed(coil_loop *loop, coil_callback fn, void *arg)
{
    run_timed(loop, fn, arg, fn, arg);
}

static void run_ready(coil_loop *loop)
{
    take_all(&loop->q.batch, &loop->q.ready);
    while (!coil__list_empty(&loop->q.batch)) {
        coil__work *w = coil__container_of(loop->q.batch.next, coil__work, node);
        coil__list_remove(&w->node);
        loop->q.items_unclocked++;
        if (loop->q.debug)
            work_run_timed(loop, w);
        else
            w->fn(w->arg);
    }
}

/* Whether the run's condition holds.  The usual one, a future settled, is
 * ruled out inline by its gate while the future is pending: this runs per
 * task step. */
static int until_met(const coil_loop *loop)
{
    if (!loop->until)
        return 0;
    if (loop->gate && *loop->gate < loop->gate_open)
        return 0;
    return loop->until(loop->until_arg);
}

/* Whether the next iteration may begin where the batch ran out, without
 * going back to the loop's stack: when all the loop would do between the
 * two is take the ready queue as its batch — no timer due, nothing posted
 * from other threads, no stop, the run's condition not met yet, and no
 * look at the kernel due.  The clock for the last two is read here once
 * per clock_every items, as the loop would: a clock read costs a third of
 * a round trip through the loop (two switches and an iteration), which is
 * what a spawn + await paid every 16 tasks.  Between reads, a timer counts
 * as due if it was by the last one (loop->now keeps it): a due timer waits
 * at most clock_every steps (or its batch, if longer), where returning to
 * the loop whenever any timer was pending cost a spawn + await 2.5 times
 * its time — and a program with a deadline or a sleep somewhere always has
 * one. */
static int quiet_turn(coil_loop *loop)
{
    if (is_stopping(loop) ||
        (atomic_load_explicit(loop->inbox_flag, memory_order_relaxed) &&
         coil__inbox_has_work(loop->inbox)) ||
        until_met(loop))
        return 0;
    if (clock_due(loop)) {
        /* Leaves the clock read (now_valid) for run_once if a poll is due. */
        if (loop_now_counted(loop) - loop->last_poll >= BUSY_POLL_INTERVAL)
            return 0;
    }
    coil__timer *t = coil__timers_first(&loop->timers);
    /* Fresh for the timers, but not counted as the pacing's read: the
     * looks at IO keep their cadence of items. */
    if (t != NULL && loop->clock_stale)
        read_clock(loop);
    return t == NULL || t->when > loop->now;
}

/* A task begins the next iteration in the loop's stead: the loop's time
 * is that of the last one no more, and the turn counts towards the next
 * clock read. */
static void begin_turn(coil_loop *loop)
{
    loop->now_valid = 0;
    loop->q.items_unclocked++;
}

coil__work *coil__loop_next_turn(coil_loop *loop, coil_callback fn)
{
    coil__runq *q = &loop->q;
    if (q->debug)
        return NULL;      /* debug mode times each step on the loop's stack */
    /* Called when the batch has run out.  The cheap refusals first: nothing ready, or not a task step. */
    if (coil__list_empty(&q->ready))
        return NULL;
    coil__work *w = coil__container_of(q->ready.next, coil__work, node);
    if (w->fn != fn || !quiet_turn(loop))
        return NULL;
    /* A new iteration: w runs now, and run_ready, when the CPU comes back
     * to it, goes on with the rest as the batch it would have taken. */
    take_rest(&q->batch, &q->ready);
    begin_turn(loop);
    return w;
}

struct coil__inbox *coil__loop_inbox(coil_loop *loop)
{
    return loop->inbox;
}

void coil__loop_note_long_item(coil_loop *loop)
{
    loop->now_valid = 0;
    loop->clock_stale = 1;
}

int coil__loop_direct_turn(coil_loop *loop)
{
    coil__runq *q = &loop->q;
    if (q->debug || !coil__list_empty(&q->batch) ||
        !coil__list_empty(&q->ready) || !quiet_turn(loop))
        return 0;
    begin_turn(loop);       /* as coil__loop_next_turn taking the step */
    return 1;
}

/* How long the poll may wait: ns, 0 for not at all, -1 for no limit. */
static coil_time poll_timeout(coil_loop *loop)
{
    if (!coil__list_empty(&loop->q.ready) || is_stopping(loop) ||
        coil__inbox_has_work(loop->inbox))
        return 0;
    coil__timer *t = coil__timers_first(&loop->timers);
    if (!t)
        return -1;
    coil_time now = coil_clock();
    return t->when > now ? t->when - now : 0;
}

/* -------------------------------------------------- deadlock detection */

static coil__loop_waker wakers[4];
static int nwakers;

/* From constructors, before any thread exists: no lock. */
void coil__loop_add_waker(coil__loop_waker may_wake)
{
    if (nwakers == (int)(sizeof wakers / sizeof wakers[0]))
        abort();
    wakers[nwakers++] = may_wake;
}

void coil__loop_stop_when_stalled(coil_loop *loop, int on)
{
    loop->stall_check = (uint8_t)(on != 0);
    loop->stalled = 0;
}

int coil__loop_stalled(const coil_loop *loop)
{
    return loop->stalled;
}

/* Asked only when the poll would wait with no timeout (nothing queued, no
 * timer), so a loop that is not stalled pays for it only as it goes to
 * sleep with nothing to do. */
static int stalled(coil_loop *loop)
{
    if (coil__list_empty(&loop->q.tasks) ||
        coil__inbox_ever_used(loop->inbox))
        return 0;
    for (int i = 0; i < nwakers; i++)
        if (wakers[i](loop))
            return 0;
    return 1;
}

/* ------------------------------------------------- signal handlers */

/* Set by coil__loop_note_signal in a signal handler, taken by run_once. */
static __thread volatile sig_atomic_t signal_noted;
static void (*_Atomic on_signal)(void);

COIL_UNSEEN_BY_TSAN void coil__loop_note_signal(void)
{
    coil_loop *loop = coil__loop_running;
    if (!loop)
        return;
    signal_noted = 1;
    coil__poll_wake_from_signal(loop->poll);
}

void coil__loop_on_signal(void (*fn)(void))
{
    atomic_store(&on_signal, fn);
}

/* After the poll: tell the hook layer a handler ran (rare: one load of a
 * thread-local otherwise). */
static void take_signal(void)
{
    signal_noted = 0;
    void (*fn)(void) = atomic_load(&on_signal);
    if (fn)
        fn();
}

/* done(arg), if given, is checked before the poll too: a loop whose
 * await finished during this iteration must not then sleep until the
 * next timer.  Returns 0, or -1 with errno if the poll failed. */
static int run_once(coil_loop *loop, int (*done)(void *), void *arg)
{
    loop->iterations++;
    loop->now_valid = 0;
    coil__inbox_drain(loop->inbox, loop);
    move_due_timers(loop);
    run_ready(loop);
    coil_time timeout = (done && done(arg)) ? 0 : poll_timeout(loop);
    if (timeout < 0 && loop->stall_check && stalled(loop)) {
        loop->stalled = 1;
        coil__loop_mark_stop(loop);
        return 0;
    }
    /* A look with no wait is a syscall that costs more than many task
     * switches: while callbacks keep coming, look at most once per
     * BUSY_POLL_INTERVAL of loop time.  IO is still noticed within that
     * under any load, and an idle loop always waits in the kernel. */
    if (timeout == 0) {
        if (!loop->now_valid && !clock_due(loop))
            return 0;
        coil_time now = loop->now_valid ? loop->now : loop_now_counted(loop);
        if (now - loop->last_poll < BUSY_POLL_INTERVAL)
            return 0;
        loop->last_poll = loop->now;
    }
    /* A wait that may sleep needs no clock read: it is not a busy look,
     * and a busy look right after it is at worst one syscall early. */
    int woken = coil__poll_wait(loop->poll, coil__loop_trim_stacks(timeout));
    if (timeout != 0)                 /* it may have slept: worth a read */
        loop->q.clock_seen = coil_clock();
    loop->q.prefetch = woken >= PREFETCH_CROWD;
    if (signal_noted)
        take_signal();
    return woken < 0 ? -1 : 0;
}

/* ------------------------------------------------------------- running */

static int check_can_run(const coil_loop *loop)
{
    if (check_owned(loop) != 0)
        return -1;
    if (is_running(loop)) {
        errno = EBUSY;
        return -1;
    }
    return 0;
}

static coil_loop *enter(coil_loop *loop)
{
    coil_loop *prev = coil__loop_running;
    atomic_store_explicit(&loop->running, 1, memory_order_relaxed);
    coil__loop_running = loop;
    coil__stack_loop_trims++;        /* its polls trim the stack pool */
    return prev;
}

/* A stop ends one run; it does not carry over to the next. */
static void leave(coil_loop *loop, coil_loop *prev)
{
    loop->until = NULL;
    loop->gate = NULL;
    atomic_store(&loop->stopping, 0);
    atomic_store_explicit(&loop->running, 0, memory_order_relaxed);
    coil__loop_running = prev;
    coil__stack_loop_trims--;
}

int coil_loop_run_forever(coil_loop *loop)
{
    if (check_can_run(loop) != 0)
        return -1;
    coil_loop *prev = enter(loop);
    int r;
    while ((r = run_once(loop, NULL, NULL)) == 0 && !is_stopping(loop))
        ;
    leave(loop, prev);
    return r;
}

/* A done() that already holds returns at once, leaving a pending stop for
 * the next run rather than spending it on no iteration. */
int coil__loop_run_until(coil_loop *loop, int (*done)(void *arg), void *arg)
{
    return coil__loop_run_until_gated(loop, done, arg, NULL, 0);
}

int coil__loop_run_until_gated(coil_loop *loop, int (*done)(void *arg),
                               void *arg, const uint8_t *gate, uint8_t open)
{
    if (!done) {
        errno = EINVAL;
        return -1;
    }
    if (check_can_run(loop) != 0)
        return -1;
    if (done(arg))
        return 0;
    coil_loop *prev = enter(loop);
    loop->until = done;
    loop->until_arg = arg;
    loop->gate = gate;
    loop->gate_open = open;
    int r;
    while ((r = run_once(loop, done, arg)) == 0 && !done(arg)) {
        if (is_stopping(loop)) {
            errno = EINTR;
            r = -1;
            break;
        }
    }
    leave(loop, prev);
    return r;
}

/* From another thread the loop may be asleep in epoll: inbox.c wakes it,
 * having checked under its registry lock that the loop is alive (it may be
 * closing on its own thread right now).  On the loop's own thread it is
 * not asleep (this code is running), and the flag is seen at the end of
 * the iteration. */
int coil_loop_stop(coil_loop *loop)
{
    if (!loop)
        loop = coil_loop_current();
    if (!loop) {
        errno = EINVAL;
        return -1;
    }
    return coil__inbox_stop(loop);
}

void coil__loop_mark_stop(coil_loop *loop)
{
    atomic_store(&loop->stopping, 1);
}

int coil_loop_is_running(const coil_loop *loop)
{
    if (!loop)
        return coil_loop_current() != NULL;
    return is_running(loop);
}

coil_time coil_loop_time(coil_loop *loop)
{
    if (!loop)
        loop = coil_loop_current();   /* NULL means the current loop, as
                                         everywhere else */
    if (!loop)
        return coil_clock();
    if (is_running(loop) && coil__loop_owned(loop))
        return loop_now(loop);
    return coil_clock();
}
