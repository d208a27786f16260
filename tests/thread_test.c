/*
 * tests/thread_test.c — layer 5 across threads: coil_call_soon_threadsafe,
 * coil_spawn_threadsafe and thread-safe futures, stopping a loop that runs
 * in another thread, and submitting to a loop that is being closed.
 *
 * Loops in other threads are started by bg_start() and published through a
 * semaphore; no sleep() stands in for synchronisation (the few nanosleeps
 * make a loop idle, so that a wake-up is needed).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "loop_thread.h"

/* ------------------------------------------------------------- helpers */

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------ call_soon_threadsafe */

typedef struct on_thread {
    pthread_t ran_on;
    coil_loop *loop;
    coil_time submitted, ran;
} on_thread;

static void note_thread_and_stop(void *arg)
{
    on_thread *o = arg;
    o->ran_on = pthread_self();
    o->ran = coil_clock();
    coil_loop_stop(o->loop);
}

static void *submit_after_pause(void *arg)
{
    on_thread *o = arg;
    pause_ms(50);                       /* let the loop fall asleep */
    o->submitted = coil_clock();
    CHECK(coil_call_soon_threadsafe(o->loop, note_thread_and_stop, o) == 0);
    return NULL;
}

TEST(call_soon_threadsafe_runs_on_the_loops_thread_and_wakes_it)
{
    on_thread o = {.loop = coil_loop_new()};
    CHECK(o.loop != NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, submit_after_pause, &o) == 0);
    alarm(20);
    CHECK(coil_loop_run_forever(o.loop) == 0);   /* idle until woken */
    alarm(0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(pthread_equal(o.ran_on, pthread_self()));
    coil_time latency = o.ran - o.submitted;
    printf("  wake-up latency %lld us\n", latency / 1000);
    CHECK(latency >= 0 && latency < COIL_MSEC(200));
    CHECK(coil_loop_close(o.loop) == 0);
}

TEST(call_soon_threadsafe_checks_its_arguments)
{
    CHECK_ERRNO(coil_call_soon_threadsafe(NULL, note_thread_and_stop, NULL),
                EINVAL);
    coil_loop *loop = coil_loop_new();
    CHECK_ERRNO(coil_call_soon_threadsafe(loop, NULL, NULL), EINVAL);
    CHECK(coil_loop_close(loop) == 0);
}

enum { HAMMERS = 8 };

typedef struct hammer {
    coil_loop *loop;
    int index;
    long calls;                 /* per thread */
    long last_seen;             /* loop thread: FIFO per submitter */
} hammer;

static long hammer_total, hammer_ran;
static unsigned char *hammer_counts;
static hammer hammers[HAMMERS];

static void hammered(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    hammer *h = &hammers[id % HAMMERS];
    long seq = (long)(id / HAMMERS);
    CHECK(seq == h->last_seen + 1);     /* FIFO per submitting thread */
    h->last_seen = seq;
    hammer_counts[id]++;
    if (++hammer_ran == hammer_total)
        coil_loop_stop(h->loop);
}

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    for (long i = 0; i < h->calls; i++) {
        uintptr_t id = (uintptr_t)i * HAMMERS + (uintptr_t)h->index;
        CHECK(coil_call_soon_threadsafe(h->loop, hammered, (void *)id) == 0);
    }
    return NULL;
}

TEST(eight_threads_hammering_one_loop_every_call_runs_exactly_once)
{
    long per = scaled(1000000) / HAMMERS + 1;
    hammer_total = per * HAMMERS;
    hammer_counts = calloc((size_t)hammer_total, 1);
    CHECK(hammer_counts != NULL);
    coil_loop *loop = coil_loop_new();
    pthread_t th[HAMMERS];
    for (int i = 0; i < HAMMERS; i++) {
        hammers[i] = (hammer){loop, i, per, -1};
        CHECK(pthread_create(&th[i], NULL, hammer_main, &hammers[i]) == 0);
    }
    alarm(120);
    CHECK(coil_loop_run_forever(loop) == 0);
    alarm(0);
    for (int i = 0; i < HAMMERS; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(hammer_ran == hammer_total);
    for (long id = 0; id < hammer_total; id++)
        CHECK(hammer_counts[id] == 1);
    printf("  %ld calls from %d threads, each ran once\n", hammer_total,
           HAMMERS);
    CHECK(coil_loop_close(loop) == 0);
    free(hammer_counts);
}

/* A drain runs what it took as one batch (in debug mode timing each
 * callback alone, for the slow-callback report).  Both modes keep the
 * order, and a callback that submits more sees it run after the batch. */
static long order_seen;
static coil_loop *order_loop;

static void in_order(void *arg)
{
    long seq = (long)(intptr_t)arg;
    CHECK(seq == order_seen + 1);
    order_seen = seq;
    if (seq == 999)                       /* the last of the first 1000 */
        CHECK(coil_call_soon_threadsafe(order_loop, in_order,
                                        (void *)(intptr_t)1000) == 0);
    if (seq == 1000)
        coil_loop_stop(order_loop);
}

static void submit_in_order(int debug)
{
    order_loop = coil_loop_new();
    CHECK(order_loop);
    coil_loop_set_debug(order_loop, debug, COIL_SEC(10));
    order_seen = -1;
    for (long i = 0; i < 1000; i++)
        CHECK(coil_call_soon_threadsafe(order_loop, in_order,
                                        (void *)(intptr_t)i) == 0);
    CHECK(coil_loop_run_forever(order_loop) == 0);
    CHECK(order_seen == 1000);
    CHECK(coil_loop_close(order_loop) == 0);
}

TEST(a_drained_batch_runs_in_order_with_and_without_debug_mode)
{
    submit_in_order(0);
    submit_in_order(1);
}

/* Thread futures' completions, which bring their own inbox item (they
 * must not fail for want of memory), arrive in an inbox that two threads
 * flood with callbacks at the same time: every completion reaches its
 * waiting task with its own result, and every callback runs once. */
enum { MIXED_WAITERS = 200 };

static void *returns_arg(void *arg);

typedef struct mixed {
    coil_loop *loop;
    long per;                     /* callbacks per flooding thread */
    long ran;                     /* loop thread only */
} mixed;

static void mixed_count(void *arg)
{
    ((mixed *)arg)->ran++;
}

static void *mixed_flood(void *arg)
{
    mixed *m = arg;
    for (long i = 0; i < m->per; i++)
        while (coil_call_soon_threadsafe(m->loop, mixed_count, m) != 0)
            CHECK(errno == EAGAIN);
    return NULL;
}

static coil_loop *mixed_remote;

static void *await_remote(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    coil_tfuture *f = coil_spawn_threadsafe(mixed_remote, returns_arg,
                                            (void *)i);
    CHECK(f != NULL);
    void *out = NULL;
    CHECK(coil_tfuture_wait(f, -1, &out) == 0);
    CHECK(out == (void *)i);
    CHECK(coil_tfuture_release(f) == 0);
    return NULL;
}

static void *mixed_main(void *arg)
{
    mixed *m = arg;
    m->loop = coil_loop_current();
    pthread_t flooders[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&flooders[i], NULL, mixed_flood, m) == 0);
    coil_task *t[MIXED_WAITERS];
    for (uintptr_t i = 0; i < MIXED_WAITERS; i++)
        CHECK((t[i] = coil_spawn(await_remote, (void *)(i + 1))) != NULL);
    for (int i = 0; i < MIXED_WAITERS; i++) {
        CHECK(coil_await(coil_task_future(t[i]), NULL) == 0);
        coil_task_release(t[i]);
    }
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(flooders[i], NULL) == 0);
    while (m->ran < 2 * m->per)       /* the rest are queued: they run */
        CHECK(coil_yield() == 0);     /* between this task's turns */
    CHECK(m->ran == 2 * m->per);
    return NULL;
}

TEST(tfuture_completions_and_a_flood_share_one_inbox)
{
    bg b;
    bg_start(&b);
    mixed_remote = b.loop;
    mixed m = {.per = scaled(100000)};
    alarm(120);
    CHECK(coil_run(mixed_main, &m, NULL) == 0);
    alarm(0);
    bg_stop(&b);
}

/* --------------------------------------------------- a loop that closes */

static void count_call(void *arg)
{
    atomic_fetch_add((atomic_long *)arg, 1);
}

/* A flood from another thread does not hold the loop's own tasks back:
 * the inbox runs at most 1,024 callbacks (inbox.c's RUN_MAX) before the
 * tasks ready meanwhile get a turn.  3,000 callbacks are all posted
 * before the loop looks; a task that yields in a loop notes how many had
 * run each time it ran. */
enum { FLOOD = 3000, FLOOD_TURN_MAX = 1024 };
static int flood_ran;
static int flood_seen[64], flood_turns;

static void flood_one(void *arg)
{
    (void)arg;
    flood_ran++;
}

static void *flood_poster(void *arg)
{
    for (int i = 0; i < FLOOD; i++)
        CHECK(coil_call_soon_threadsafe(arg, flood_one, NULL) == 0);
    return NULL;
}

static void *flood_watcher(void *arg)
{
    (void)arg;
    while (flood_ran < FLOOD && flood_turns < 64) {
        flood_seen[flood_turns++] = flood_ran;
        CHECK(coil_yield() == 0);
    }
    return NULL;
}

static void *flood_main(void *arg)
{
    (void)arg;
    flood_ran = flood_turns = 0;
    pthread_t poster;
    CHECK(pthread_create(&poster, NULL, flood_poster,
                         coil_loop_current()) == 0);
    CHECK(pthread_join(poster, NULL) == 0);     /* all posted, none run */
    CHECK(flood_ran == 0);
    coil_task *w = coil_spawn(flood_watcher, NULL);
    CHECK(coil_await(coil_task_future(w), NULL) == 0);
    coil_task_release(w);
    CHECK(flood_ran == FLOOD);
    int gap = 0;
    for (int i = 1; i < flood_turns; i++)
        if (flood_seen[i] - flood_seen[i - 1] > gap)
            gap = flood_seen[i] - flood_seen[i - 1];
    if (FLOOD - flood_seen[flood_turns - 1] > gap)
        gap = FLOOD - flood_seen[flood_turns - 1];
    CHECK(flood_turns >= 3);
    CHECK(gap <= FLOOD_TURN_MAX);
    return NULL;
}

TEST(a_flood_of_callbacks_gives_the_loops_tasks_a_turn_every_1024)
{
    CHECK(coil_run(flood_main, NULL, NULL) == 0);
}

TEST(submitting_to_a_closed_loop_fails_with_eshutdown)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_loop_close(loop) == 0);
    atomic_long n = 0;
    CHECK_ERRNO(coil_call_soon_threadsafe(loop, count_call, &n), ESHUTDOWN);
    CHECK_ERRNO(coil_task_spawn_threadsafe(loop, NULL, NULL, "x"), EINVAL);
    CHECK(n == 0);
}

static void *returns_arg(void *arg)
{
    return arg;
}

TEST(spawn_threadsafe_on_a_closed_loop_fails_with_eshutdown)
{
    coil_loop *loop = coil_loop_new();
    CHECK(coil_loop_close(loop) == 0);
    CHECK_ERRNO(coil_spawn_threadsafe(loop, returns_arg, NULL), ESHUTDOWN);
}

typedef struct racer {
    coil_loop *loop;
    atomic_int go, quit;
    atomic_long ok, refused;
} racer;

/* Wait (bounded) until *counter is nonzero: the event itself, not a pause,
 * is what the test waits for. */
static int await_nonzero(atomic_long *counter)
{
    coil_time give_up = coil_clock() + COIL_SEC(10);
    while (atomic_load(counter) == 0 && coil_clock() < give_up)
        sched_yield();
    return atomic_load(counter) != 0;
}

static void *race_submitter(void *arg)
{
    racer *r = arg;
    atomic_long dummy = 0;
    while (!atomic_load(&r->go))
        ;
    while (!atomic_load(&r->quit)) {
        if (coil_call_soon_threadsafe(r->loop, count_call, &dummy) == 0) {
            atomic_fetch_add(&r->ok, 1);
        } else {
            CHECK(errno == ESHUTDOWN);
            atomic_fetch_add(&r->refused, 1);
        }
    }
    return NULL;
}

/* The submitter keeps going while the loop is closed under it and freed:
 * it gets ESHUTDOWN, never a crash or a touch of freed memory (the ASan
 * build runs this).  What was still in the inbox is dropped unrun. */
TEST(a_loop_freed_while_another_thread_submits_gives_it_an_error)
{
    for (int round = 0; round < 20; round++) {
        racer r = {.loop = coil_loop_new()};
        pthread_t th;
        CHECK(pthread_create(&th, NULL, race_submitter, &r) == 0);
        atomic_store(&r.go, 1);
        CHECK(await_nonzero(&r.ok));          /* it is submitting */
        coil_loop *loop = r.loop;
        CHECK(coil_loop_close(loop) == 0);
        CHECK(await_nonzero(&r.refused));     /* and is refused, not crashed */
        atomic_store(&r.quit, 1);
        CHECK(pthread_join(th, NULL) == 0);
        CHECK_ERRNO(coil_call_soon_threadsafe(loop, count_call, NULL),
                    ESHUTDOWN);
    }
}

TEST(a_spawn_pending_when_its_loop_closes_completes_with_eshutdown)
{
    coil_loop *loop = coil_loop_new();
    coil_tfuture *f = coil_spawn_threadsafe(loop, returns_arg, NULL);
    CHECK(f != NULL);
    CHECK(coil_tfuture_done(f) == 0);
    CHECK(coil_loop_close(loop) == 0);
    CHECK_ERRNO(coil_tfuture_wait(f, COIL_SEC(5), NULL), ESHUTDOWN);
    CHECK(coil_tfuture_release(f) == 0);
}

/* ----------------------------------------------- spawn_threadsafe, threads */

static void *sleep_then_return(void *arg)
{
    coil_sleep(COIL_MSEC(10));
    return arg;
}

static void *sleep_then_fail(void *arg)
{
    (void)arg;
    coil_sleep(COIL_MSEC(10));
    return coil_task_error(EIO);
}

static void *sleep_long(void *arg)
{
    (void)arg;
    coil_sleep(COIL_SEC(30));
    return NULL;
}

TEST(spawn_threadsafe_result_reaches_a_plain_thread)
{
    bg b;
    bg_start(&b);
    coil_tfuture *f = coil_spawn_threadsafe(b.loop, sleep_then_return,
                                            (void *)42);
    CHECK(f != NULL);
    void *out = NULL;
    CHECK(coil_tfuture_wait(f, COIL_SEC(10), &out) == 0);
    CHECK(out == (void *)42);
    CHECK(coil_tfuture_done(f) == 1);
    out = NULL;
    CHECK(coil_tfuture_result(f, &out) == 0 && out == (void *)42);
    CHECK(coil_tfuture_release(f) == 0);
    bg_stop(&b);
}

/* Either side may let go of a thread future first: the caller at once
 * (the completer frees it), or after the wait (the caller frees it, the
 * completer having let go as it published the outcome).  Every task runs
 * once and every result arrives; ASan's leak check and its use-after-free
 * reports say whether each future was freed exactly once. */
static atomic_int released_early_ran;

static void *count_and_return(void *arg)
{
    atomic_fetch_add(&released_early_ran, 1);
    return arg;
}

TEST(a_thread_future_is_freed_by_whichever_side_lets_go_last)
{
    enum { N = 2000 };
    bg b;
    bg_start(&b);
    atomic_store(&released_early_ran, 0);
    for (int i = 0; i < N; i++) {
        coil_tfuture *f = coil_spawn_threadsafe(b.loop, count_and_return,
                                                (void *)(intptr_t)i);
        CHECK(f != NULL);
        if (i % 2) {
            CHECK(coil_tfuture_release(f) == 0);      /* before it ran */
            continue;
        }
        void *out = NULL;
        CHECK(coil_tfuture_wait(f, COIL_SEC(10), &out) == 0);
        CHECK(out == (void *)(intptr_t)i);
        CHECK(coil_tfuture_release(f) == 0);
    }
    /* The last one waited for ran after every one before it. */
    coil_tfuture *last = coil_spawn_threadsafe(b.loop, count_and_return,
                                               NULL);
    CHECK(last && coil_tfuture_wait(last, COIL_SEC(10), NULL) == 0);
    coil_tfuture_release(last);
    CHECK(atomic_load(&released_early_ran) == N + 1);
    bg_stop(&b);
}

TEST(spawn_threadsafe_error_reaches_a_plain_thread)
{
    bg b;
    bg_start(&b);
    coil_tfuture *f = coil_spawn_threadsafe(b.loop, sleep_then_fail, NULL);
    CHECK_ERRNO(coil_tfuture_wait(f, -1, NULL), EIO);
    CHECK_ERRNO(coil_tfuture_result(f, NULL), EIO);
    coil_tfuture_release(f);
    bg_stop(&b);
}

TEST(tfuture_wait_times_out_then_cancel_reaches_the_task)
{
    bg b;
    bg_start(&b);
    coil_tfuture *f = coil_spawn_threadsafe(b.loop, sleep_long, NULL);
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_tfuture_wait(f, COIL_MSEC(30), NULL), ETIMEDOUT);
    coil_time waited = coil_clock() - t0;
    CHECK(waited >= COIL_MSEC(30) && waited < COIL_SEC(5));
    CHECK_ERRNO(coil_tfuture_result(f, NULL), EAGAIN);
    CHECK(coil_tfuture_cancel(f) == 1);
    int again = coil_tfuture_cancel(f);     /* one request: on its way, */
    CHECK(again == 1 || again == 0);        /* or already delivered */
    CHECK_ERRNO(coil_tfuture_wait(f, COIL_SEC(10), NULL), ECANCELED);
    CHECK(coil_tfuture_cancel(f) == 0);     /* done */
    coil_tfuture_release(f);
    bg_stop(&b);
}

TEST(a_cancel_before_the_task_is_made_means_it_never_runs)
{
    coil_loop *loop = coil_loop_new();
    coil_tfuture *f = coil_spawn_threadsafe(loop, returns_arg, (void *)1);
    CHECK(coil_tfuture_cancel(f) == 1);
    /* Run the loop here until f is done: its task must not have run. */
    for (int i = 0; i < 100 && !coil_tfuture_done(f); i++) {
        CHECK(coil_loop_stop(loop) == 0);
        CHECK(coil_loop_run_forever(loop) == 0);
    }
    CHECK_ERRNO(coil_tfuture_result(f, NULL), ECANCELED);
    coil_tfuture_release(f);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(waiting_outside_a_task_for_ones_own_idle_loop_is_edeadlk)
{
    coil_loop *loop = coil_loop_new();
    coil_tfuture *f = coil_spawn_threadsafe(loop, returns_arg, NULL);
    CHECK_ERRNO(coil_tfuture_wait(f, COIL_MSEC(10), NULL), EDEADLK);
    CHECK_ERRNO(coil_tfuture_wait(NULL, 0, NULL), EINVAL);
    CHECK_ERRNO(coil_tfuture_cancel(NULL), EINVAL);
    CHECK(coil_loop_close(loop) == 0);
    coil_tfuture_release(f);
}

/* ----------------------------------------- a task awaiting another loop */

static atomic_int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    for (;;) {
        coil_sleep(COIL_MSEC(2));
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

static void *sleep_100ms_return_7(void *arg)
{
    (void)arg;
    coil_sleep(COIL_MSEC(100));
    return (void *)7;
}

static void *await_other_loop(void *arg)
{
    bg *b = arg;
    coil_task *t = coil_spawn(ticker, NULL);
    coil_tfuture *f = coil_spawn_threadsafe(b->loop, sleep_100ms_return_7,
                                            NULL);
    void *out = NULL;
    CHECK(coil_tfuture_wait(f, -1, &out) == 0);
    CHECK(out == (void *)7);
    int during = atomic_load(&ticks);
    printf("  loop A ticked %d times while its task waited on loop B\n",
           during);
    CHECK(during >= 5);             /* A kept running: ~50 ticks */
    coil_tfuture_release(f);
    coil_task_cancel(t);
    coil_task_release(t);
    return NULL;
}

TEST(a_task_awaiting_a_task_on_another_loop_suspends_without_blocking)
{
    bg b;
    bg_start(&b);
    alarm(20);
    CHECK(coil_run(await_other_loop, &b, NULL) == 0);
    alarm(0);
    bg_stop(&b);
}

static void *await_with_timeout(void *arg)
{
    bg *b = arg;
    coil_tfuture *f = coil_spawn_threadsafe(b->loop, sleep_long, NULL);
    CHECK_ERRNO(coil_tfuture_wait(f, COIL_MSEC(20), NULL), ETIMEDOUT);
    CHECK(coil_tfuture_cancel(f) == 1);
    CHECK_ERRNO(coil_tfuture_wait(f, -1, NULL), ECANCELED);
    coil_tfuture_release(f);
    return NULL;
}

TEST(a_task_waiting_on_another_loop_times_out_and_cancels)
{
    bg b;
    bg_start(&b);
    alarm(20);
    CHECK(coil_run(await_with_timeout, &b, NULL) == 0);
    alarm(0);
    bg_stop(&b);
}

static coil_tfuture *shared_f;

static void *await_shared(void *arg)
{
    (void)arg;
    coil_tfuture_wait(shared_f, -1, NULL);
    CHECK(!"an unwound wait returned");
    return NULL;
}

static int gate[2];

/* Completes only when the test opens the gate: not while its waiter
 * waits, however slow the machine. */
static void *wait_for_gate(void *arg)
{
    char c;
    CHECK(coil_read(gate[0], &c, 1) == 1);
    return arg;
}

static void *cancel_the_waiter(void *arg)
{
    bg *b = arg;
    CHECK(pipe2(gate, O_NONBLOCK | O_CLOEXEC) == 0);
    shared_f = coil_spawn_threadsafe(b->loop, wait_for_gate, NULL);
    coil_task *w = coil_spawn(await_shared, NULL);
    coil_sleep(COIL_MSEC(2));         /* w waits by now, or never starts */
    CHECK(coil_task_cancel(w) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(w), NULL), ECANCELED);
    coil_task_release(w);
    /* The other loop completes f after its waiter is gone: nothing is
     * left registered on f to notify. */
    CHECK(write(gate[1], "x", 1) == 1);
    CHECK(coil_tfuture_wait(shared_f, -1, NULL) == 0);
    close(gate[0]);
    close(gate[1]);
    coil_tfuture_release(shared_f);
    return NULL;
}

TEST(a_task_cancelled_while_waiting_on_another_loop_leaves_nothing_behind)
{
    bg b;
    bg_start(&b);
    alarm(20);
    CHECK(coil_run(cancel_the_waiter, &b, NULL) == 0);
    alarm(0);
    bg_stop(&b);
}

/* ------------------------------------------------------ the inbox limit */

static int inbox_ran;

static void inbox_count(void *arg)
{
    (void)arg;
    inbox_ran++;
}

static void *never_task(void *arg)
{
    return arg;
}

TEST(submissions_past_the_inbox_limit_are_eagain_until_the_loop_catches_up)
{
    coil_loop *loop = coil_loop_new();
    CHECK(loop);
    CHECK_ERRNO(coil_loop_set_inbox_limit(NULL, 4), EINVAL);
    CHECK(coil_loop_set_inbox_limit(loop, 4) == 0);
    inbox_ran = 0;
    for (int i = 0; i < 4; i++)
        CHECK(coil_call_soon_threadsafe(loop, inbox_count, NULL) == 0);
    CHECK_ERRNO(coil_call_soon_threadsafe(loop, inbox_count, NULL), EAGAIN);
    CHECK_ERRNO(coil_spawn_threadsafe(loop, never_task, NULL), EAGAIN);
    CHECK(coil_loop_stop(loop) == 0);             /* one iteration */
    CHECK(coil_loop_run_forever(loop) == 0);
    CHECK(inbox_ran == 4);                        /* every accepted one */
    CHECK(coil_call_soon_threadsafe(loop, inbox_count, NULL) == 0);
    CHECK(coil_loop_set_inbox_limit(loop, 0) == 0);       /* no limit */
    for (int i = 0; i < 100; i++)
        CHECK(coil_call_soon_threadsafe(loop, inbox_count, NULL) == 0);
    CHECK(coil_loop_stop(loop) == 0);
    CHECK(coil_loop_run_forever(loop) == 0);
    CHECK(inbox_ran == 105);
    CHECK(coil_loop_close(loop) == 0);
    CHECK_ERRNO(coil_loop_set_inbox_limit(loop, 4), ESHUTDOWN);
}

/* ------------------------------------------- futures belong to a thread */

static coil_future *home_f;

static void never(coil_future *f, void *arg)
{
    (void)f;
    (void)arg;
}

static void *poke_from_a_plain_thread(void *arg)
{
    (void)arg;
    CHECK_ERRNO(coil_future_set_result(home_f, (void *)1), EPERM);
    CHECK_ERRNO(coil_future_set_error(home_f, EIO), EPERM);
    CHECK_ERRNO(coil_future_cancel(home_f), EPERM);
    CHECK_ERRNO(coil_future_add_done_callback(home_f, never, NULL), EPERM);
    CHECK_ERRNO(coil_future_remove_done_callback(home_f, never, NULL), EPERM);
    CHECK_ERRNO(coil_future_result(home_f, NULL), EPERM);
    return NULL;
}

static void *await_from_another_loop(void *arg)
{
    (void)arg;
    void *r;
    size_t nd;
    CHECK_ERRNO(coil_await(home_f, NULL), EPERM);
    CHECK_ERRNO(coil_gather(&home_f, 1, &r, NULL, COIL_GATHER_FIRST_ERROR),
                EPERM);
    CHECK_ERRNO(coil_wait_for(home_f, COIL_MSEC(10), NULL), EPERM);
    CHECK_ERRNO(coil_wait(&home_f, 1, COIL_ALL_COMPLETED, COIL_MSEC(10), NULL,
                          &nd, NULL, NULL), EPERM);
    return (void *)7;
}

static void *futures_stay_home(void *arg)
{
    bg *b = arg;
    home_f = coil_future_new(NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, poke_from_a_plain_thread, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);       /* quick: it blocks nothing */
    coil_tfuture *tf = coil_spawn_threadsafe(b->loop, await_from_another_loop,
                                             NULL);
    void *v = NULL;
    CHECK(coil_tfuture_wait(tf, COIL_SEC(10), &v) == 0 && v == (void *)7);
    coil_tfuture_release(tf);
    CHECK(coil_future_done(home_f) == 0);     /* nobody touched it */
    CHECK(coil_future_set_result(home_f, (void *)3) == 0);
    CHECK(coil_await(home_f, &v) == 0 && v == (void *)3);
    coil_future_release(home_f);
    return NULL;
}

TEST(a_future_is_refused_to_other_threads_and_other_loops_tasks)
{
    bg b;
    bg_start(&b);
    alarm(20);
    CHECK(coil_run(futures_stay_home, &b, NULL) == 0);
    alarm(0);
    bg_stop(&b);
}

/* ------------------------------------------------------------- stopping */

static void *idle_a_while(void *arg)
{
    (void)arg;
    coil_sleep(COIL_SEC(30));
    return NULL;
}

TEST(stopping_a_loop_that_runs_in_another_thread)
{
    bg b;
    bg_start(&b);
    coil_tfuture *f = coil_spawn_threadsafe(b.loop, idle_a_while, NULL);
    CHECK(f != NULL);
    CHECK_ERRNO(coil_tfuture_wait(f, COIL_MSEC(20), NULL), ETIMEDOUT);
    CHECK(coil_tfuture_cancel(f) == 1);
    CHECK_ERRNO(coil_tfuture_wait(f, -1, NULL), ECANCELED);
    coil_tfuture_release(f);
    CHECK(coil_loop_is_running(b.loop) == 1);
    coil_time t0 = coil_clock();
    alarm(20);
    bg_stop(&b);                    /* stop, join: returns promptly */
    alarm(0);
    CHECK(coil_clock() - t0 < COIL_SEC(5));
    /* Its thread has closed the loop.  A stop racing with that close is
     * told so, and touches nothing (ASan would see it). */
    CHECK_ERRNO(coil_call_soon_threadsafe(b.loop, count_call, NULL),
                ESHUTDOWN);
    CHECK_ERRNO(coil_loop_stop(b.loop), ESHUTDOWN);
}

RUN_TESTS(T(call_soon_threadsafe_runs_on_the_loops_thread_and_wakes_it),
          T(a_future_is_refused_to_other_threads_and_other_loops_tasks),
          T(submissions_past_the_inbox_limit_are_eagain_until_the_loop_catches_up),
          T(call_soon_threadsafe_checks_its_arguments),
          T(eight_threads_hammering_one_loop_every_call_runs_exactly_once),
          T(a_drained_batch_runs_in_order_with_and_without_debug_mode),
          T(tfuture_completions_and_a_flood_share_one_inbox),
          T(a_flood_of_callbacks_gives_the_loops_tasks_a_turn_every_1024),
    T(submitting_to_a_closed_loop_fails_with_eshutdown),
          T(spawn_threadsafe_on_a_closed_loop_fails_with_eshutdown),
          T(a_loop_freed_while_another_thread_submits_gives_it_an_error),
          T(a_spawn_pending_when_its_loop_closes_completes_with_eshutdown),
          T(spawn_threadsafe_result_reaches_a_plain_thread),
          T(a_thread_future_is_freed_by_whichever_side_lets_go_last),
    T(spawn_threadsafe_error_reaches_a_plain_thread),
          T(tfuture_wait_times_out_then_cancel_reaches_the_task),
          T(a_cancel_before_the_task_is_made_means_it_never_runs),
          T(waiting_outside_a_task_for_ones_own_idle_loop_is_edeadlk),
          T(a_task_awaiting_a_task_on_another_loop_suspends_without_blocking),
          T(a_task_waiting_on_another_loop_times_out_and_cancels),
          T(a_task_cancelled_while_waiting_on_another_loop_leaves_nothing_behind),
          T(stopping_a_loop_that_runs_in_another_thread))
