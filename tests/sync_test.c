/*
 * tests/sync_test.c — layer 5: lock, event, semaphore, condition, barrier,
 * queue, for the tasks of one loop.
 *
 * Each test runs under coil_run.  Tasks meet through the primitives
 * themselves; settle() lets every spawned task run until it blocks, and
 * coil_sleep only makes a deadline pass.  The cancellation tests hand a
 * waiter something and cancel it in the same step, before it can run:
 * the window where a wake-up, a permit, an item or a lock could be lost.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

#define UNIT COIL_MSEC(20)


/* Let every other task run until it blocks (a few rounds of the loop). */
static void settle(void)
{
    for (int i = 0; i < 5; i++)
        CHECK(coil_yield() == 0);
}


/* Await a task that must end cancelled. */
static void await_cancelled(coil_task *t)
{
    CHECK(t);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
}

static coil_task *spawn_mode(coil_task_fn fn, void *arg, unsigned flags)
{
    coil_task_attr attr = {.flags = flags};
    return coil_task_spawn(&attr, fn, arg, "t");
}

static coil_time loop_now(void)
{
    return coil_loop_time(coil_loop_current());
}

static int order[16];
static int norder;
static int cleanups;

static void note(int v)
{
    CHECK(norder < 16);
    order[norder++] = v;
}

static void count_cleanup(void *arg)
{
    (void)arg;
    cleanups++;
}

/* ------------------------------------------------------------------ lock */

static coil_lock *lk;

static void *lock_taker(void *arg)
{
    CHECK(coil_lock_acquire(lk) == 0);
    note((int)(intptr_t)arg);
    CHECK(coil_lock_locked(lk) == 1);
    CHECK(coil_lock_release(lk) == 0);
    return NULL;
}

static void *lock_fifo_main(void *arg)
{
    (void)arg;
    lk = coil_lock_new();
    CHECK(lk);
    CHECK(coil_lock_acquire(lk) == 0);
    coil_task *t[5];
    for (int i = 0; i < 5; i++) {
        t[i] = coil_spawn(lock_taker, (void *)(intptr_t)i);
        settle();                 /* queue them in spawn order */
    }
    CHECK(norder == 0);
    CHECK(coil_lock_release(lk) == 0);
    /* Re-acquiring at once goes behind the waiters: FIFO handoff. */
    CHECK(coil_lock_acquire(lk) == 0);
    note(99);
    CHECK(coil_lock_release(lk) == 0);
    for (int i = 0; i < 5; i++)
        await_task(t[i]);
    CHECK(norder == 6);
    for (int i = 0; i < 5; i++)
        CHECK(order[i] == i);
    CHECK(order[5] == 99);
    CHECK(coil_lock_locked(lk) == 0);
    CHECK(coil_lock_free(lk) == 0);
    return NULL;
}

TEST(lock_is_handed_over_in_fifo_order)
{
    run_main(lock_fifo_main, NULL);
}

static void *lock_hold_forever(void *arg)
{
    (void)arg;
    CHECK(coil_lock_acquire(lk) == 0);
    coil_event_wait(arg);
    CHECK(coil_lock_release(lk) == 0);
    return NULL;
}

static void *lock_eperm_main(void *arg)
{
    (void)arg;
    lk = coil_lock_new();
    CHECK_ERRNO(coil_lock_release(lk), EPERM);           /* not held */
    coil_event *go = coil_event_new();
    coil_task *h = coil_spawn(lock_hold_forever, go);
    settle();
    CHECK(coil_lock_locked(lk) == 1);
    CHECK_ERRNO(coil_lock_release(lk), EPERM);           /* another's */
    CHECK_ERRNO(coil_lock_try_acquire(lk), EAGAIN);
    CHECK_ERRNO(coil_lock_free(lk), EBUSY);              /* held */
    CHECK(coil_lock_locked(lk) == 1);
    coil_event_set(go);
    await_task(h);
    CHECK(coil_lock_try_acquire(lk) == 0);
    CHECK_ERRNO(coil_lock_try_acquire(lk), EDEADLK);
    CHECK_ERRNO(coil_lock_acquire(lk), EDEADLK);
    CHECK(coil_lock_release(lk) == 0);
    CHECK(coil_lock_free(lk) == 0);
    coil_event_free(go);
    return NULL;
}

TEST(unlocking_a_lock_you_do_not_hold_is_eperm)
{
    run_main(lock_eperm_main, NULL);
}

/* ----------------------------------------------------------------- event */

static coil_event *ev;

static void *event_waiter(void *arg)
{
    CHECK(coil_event_wait(ev) == 0);
    note((int)(intptr_t)arg);
    return NULL;
}

static void *event_main(void *arg)
{
    (void)arg;
    ev = coil_event_new();
    CHECK(coil_event_is_set(ev) == 0);
    coil_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = coil_spawn(event_waiter, (void *)(intptr_t)i);
    settle();
    CHECK(norder == 0);
    CHECK_ERRNO(coil_event_free(ev), EBUSY);
    CHECK(coil_event_set(ev) == 0);
    CHECK(coil_event_clear(ev) == 0);     /* woken ones still return 0 */
    for (int i = 0; i < 4; i++)
        await_task(t[i]);
    CHECK(norder == 4);
    CHECK(coil_event_set(ev) == 0);
    CHECK(coil_event_wait(ev) == 0);      /* set: no wait */
    CHECK(coil_event_free(ev) == 0);
    return NULL;
}

TEST(event_set_wakes_every_waiter)
{
    run_main(event_main, NULL);
}

/* ------------------------------------------------------------- semaphore */

static coil_sem *sem;

static void *sem_taker(void *arg)
{
    CHECK(coil_sem_acquire(sem) == 0);
    note((int)(intptr_t)arg);
    return NULL;
}

static void *sem_main(void *arg)
{
    (void)arg;
    sem = coil_sem_new(2);
    CHECK(coil_sem_value(sem) == 2);
    coil_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = coil_spawn(sem_taker, (void *)(intptr_t)i);
    settle();
    CHECK(norder == 2 && order[0] == 0 && order[1] == 1);
    CHECK(coil_sem_value(sem) == 0);
    CHECK_ERRNO(coil_sem_try_acquire(sem), EAGAIN);
    CHECK(coil_sem_release(sem) == 0);    /* straight to task 2 */
    CHECK(coil_sem_value(sem) == 0);
    CHECK_ERRNO(coil_sem_try_acquire(sem), EAGAIN);
    settle();
    CHECK(norder == 3 && order[2] == 2);
    CHECK(coil_sem_release(sem) == 0);
    CHECK(coil_sem_release(sem) == 0);    /* task 3, then the count */
    for (int i = 0; i < 4; i++)
        await_task(t[i]);
    CHECK(norder == 4 && order[3] == 3);
    CHECK(coil_sem_value(sem) == 1);
    CHECK(coil_sem_try_acquire(sem) == 0);
    CHECK(coil_sem_value(sem) == 0);
    CHECK(coil_sem_free(sem) == 0);
    return NULL;
}

TEST(semaphore_counts_permits_and_serves_waiters_in_order)
{
    run_main(sem_main, NULL);
}

static void *bounded_main(void *arg)
{
    (void)arg;
    CHECK_ERRNO(coil_sem_new_bounded(0), EINVAL);
    coil_sem *s = coil_sem_new_bounded(2);
    CHECK_ERRNO(coil_sem_release(s), EOVERFLOW);
    CHECK(coil_sem_value(s) == 2);
    CHECK(coil_sem_acquire(s) == 0);
    CHECK(coil_sem_release(s) == 0);
    CHECK_ERRNO(coil_sem_release(s), EOVERFLOW);
    CHECK(coil_sem_value(s) == 2);
    coil_sem *u = coil_sem_new(0);
    for (int i = 0; i < 10; i++)
        CHECK(coil_sem_release(u) == 0);  /* unbounded: no limit */
    CHECK(coil_sem_value(u) == 10);
    coil_sem_free(s);
    coil_sem_free(u);
    return NULL;
}

TEST(bounded_semaphore_release_beyond_bound_is_eoverflow)
{
    run_main(bounded_main, NULL);
}

/* ------------------------------------------------------------- condition */

enum { PC_ITEMS = 200, PC_CAP = 3 };

static struct {
    coil_lock *lock;
    coil_cond *not_empty, *not_full;
    int buf[PC_CAP];
    int n, head;
    long sum;
} pc;

static void *pc_producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= PC_ITEMS; i++) {
        CHECK(coil_lock_acquire(pc.lock) == 0);
        while (pc.n == PC_CAP)
            CHECK(coil_cond_wait(pc.not_full, pc.lock) == 0);
        CHECK(coil_lock_locked(pc.lock) == 1);
        pc.buf[(pc.head + pc.n++) % PC_CAP] = i;
        coil_cond_notify(pc.not_empty, 1);
        CHECK(coil_lock_release(pc.lock) == 0);
    }
    return NULL;
}

static void *pc_consumer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= PC_ITEMS; i++) {
        CHECK(coil_lock_acquire(pc.lock) == 0);
        while (pc.n == 0)
            CHECK(coil_cond_wait(pc.not_empty, pc.lock) == 0);
        int v = pc.buf[pc.head];
        CHECK(v == i);            /* in order */
        pc.head = (pc.head + 1) % PC_CAP;
        pc.n--;
        pc.sum += v;
        coil_cond_notify_all(pc.not_full);
        CHECK(coil_lock_release(pc.lock) == 0);
    }
    return NULL;
}

static void *cond_main(void *arg)
{
    (void)arg;
    pc.lock = coil_lock_new();
    pc.not_empty = coil_cond_new();
    pc.not_full = coil_cond_new();
    CHECK_ERRNO(coil_cond_wait(pc.not_empty, pc.lock), EPERM);  /* not held */
    coil_task *c = coil_spawn(pc_consumer, NULL);
    coil_task *p = coil_spawn(pc_producer, NULL);
    await_task(c);
    await_task(p);
    CHECK(pc.sum == (long)PC_ITEMS * (PC_ITEMS + 1) / 2);
    CHECK(coil_lock_locked(pc.lock) == 0);
    CHECK(coil_cond_free(pc.not_empty) == 0);
    CHECK(coil_cond_free(pc.not_full) == 0);
    CHECK(coil_lock_free(pc.lock) == 0);
    return NULL;
}

TEST(condition_serves_a_producer_and_a_consumer)
{
    run_main(cond_main, NULL);
}

/* --------------------------------------------------------------- barrier */

static coil_barrier *bar;
static int serials;

static void *barrier_party(void *arg)
{
    for (int round = 0; round < 3; round++) {
        note(round);
        int r = coil_barrier_wait(bar);
        CHECK(r == 0 || r == 1);
        serials += r;
        /* Nobody passes a round before all have arrived at it. */
        CHECK(norder >= 3 * (round + 1));
    }
    (void)arg;
    return NULL;
}

static void *barrier_main(void *arg)
{
    (void)arg;
    CHECK_ERRNO(coil_barrier_new(0), EINVAL);
    bar = coil_barrier_new(3);
    coil_task *t[3];
    t[0] = coil_spawn(barrier_party, NULL);
    t[1] = coil_spawn(barrier_party, NULL);
    settle();
    CHECK(coil_barrier_waiting(bar) == 2);
    CHECK(norder == 2);
    t[2] = coil_spawn(barrier_party, NULL);
    for (int i = 0; i < 3; i++)
        await_task(t[i]);
    CHECK(serials == 3);          /* one per round */
    CHECK(coil_barrier_waiting(bar) == 0);
    CHECK(coil_barrier_free(bar) == 0);
    return NULL;
}

TEST(barrier_lets_parties_go_together_round_after_round)
{
    run_main(barrier_main, NULL);
}

/* ----------------------------------------------------------------- queue */

static int cmp_int(const void *a, const void *b)
{
    intptr_t x = (intptr_t)a, y = (intptr_t)b;
    return (x > y) - (x < y);
}

#define I(v) ((void *)(intptr_t)(v))

static void drain_expect(coil_queue *q, const int *want, int n)
{
    for (int i = 0; i < n; i++) {
        void *v;
        CHECK(coil_queue_get(q, &v) == 0);
        CHECK((intptr_t)v == want[i]);
    }
    CHECK_ERRNO(coil_queue_try_get(q, NULL), EAGAIN);
}

static void *queue_order_main(void *arg)
{
    (void)arg;
    static const int in[] = {3, 1, 4, 1, 5, 9, 2, 6};
    coil_queue *f = coil_queue_new(COIL_QUEUE_FIFO, 0, NULL);
    coil_queue *l = coil_queue_new(COIL_QUEUE_LIFO, 0, NULL);
    coil_queue *p = coil_queue_new(COIL_QUEUE_PRIORITY, 0, cmp_int);
    CHECK_ERRNO(coil_queue_new(COIL_QUEUE_PRIORITY, 0, NULL), EINVAL);
    CHECK_ERRNO(coil_queue_new(COIL_QUEUE_FIFO, 0, cmp_int), EINVAL);
    CHECK_ERRNO(coil_queue_new(7, 0, NULL), EINVAL);
    for (int k = 0; k < 5; k++)   /* enough to wrap and grow the ring */
        for (int i = 0; i < 8; i++) {
            CHECK(coil_queue_put(f, I(in[i])) == 0);
            CHECK(coil_queue_put(l, I(in[i])) == 0);
            CHECK(coil_queue_put(p, I(in[i])) == 0);
        }
    CHECK(coil_queue_size(f) == 40);
    int want[40];
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 8; i++)
            want[8 * k + i] = in[i];
    drain_expect(f, want, 40);
    for (int i = 0; i < 40; i++)
        want[i] = in[7 - i % 8];
    drain_expect(l, want, 40);
    static const int sorted[] = {1, 1, 2, 3, 4, 5, 6, 9};
    for (int i = 0; i < 40; i++)
        want[i] = sorted[i / 5];
    drain_expect(p, want, 40);
    coil_queue_free(f);
    coil_queue_free(l);
    coil_queue_free(p);
    return NULL;
}

TEST(queue_orders_fifo_lifo_and_priority)
{
    run_main(queue_order_main, NULL);
}

typedef struct tagged {
    int prio, tag;
} tagged;

static int cmp_tagged(const void *a, const void *b)
{
    return ((const tagged *)a)->prio - ((const tagged *)b)->prio;
}

static void *priority_ties_main(void *arg)
{
    (void)arg;
    coil_queue *p = coil_queue_new(COIL_QUEUE_PRIORITY, 0, cmp_tagged);
    tagged items[12];
    for (int i = 0; i < 12; i++) {
        items[i] = (tagged){i % 3, i};
        CHECK(coil_queue_try_put(p, &items[i]) == 0);
    }
    int last_prio = -1, last_tag = -1;
    for (int i = 0; i < 12; i++) {
        void *v;
        CHECK(coil_queue_try_get(p, &v) == 0);
        tagged *t = v;
        if (t->prio == last_prio)
            CHECK(t->tag > last_tag);          /* equal ones FIFO */
        else
            CHECK(t->prio > last_prio);
        last_prio = t->prio;
        last_tag = t->tag;
    }
    coil_queue_free(p);
    return NULL;
}

TEST(priority_queue_keeps_equal_items_in_fifo_order)
{
    run_main(priority_ties_main, NULL);
}

static coil_queue *qq;

static void *producer(void *arg)
{
    for (int i = 0; i < 5; i++) {
        CHECK(coil_queue_put(qq, I(i + 10 * (intptr_t)arg)) == 0);
        note(i);
    }
    return NULL;
}

static void *bounded_queue_main(void *arg)
{
    (void)arg;
    qq = coil_queue_new(COIL_QUEUE_FIFO, 2, NULL);
    coil_task *p = coil_spawn(producer, I(1));
    settle();
    CHECK(norder == 2);           /* blocked on the third */
    CHECK(coil_queue_size(qq) == 2);
    CHECK_ERRNO(coil_queue_try_put(qq, I(0)), EAGAIN);
    for (int i = 0; i < 5; i++) {
        void *v;
        CHECK(coil_queue_get(qq, &v) == 0);
        CHECK((intptr_t)v == 10 + i);
        settle();
        CHECK(coil_queue_size(qq) <= 2);
    }
    await_task(p);
    CHECK(norder == 5);
    CHECK_ERRNO(coil_queue_try_get(qq, NULL), EAGAIN);
    CHECK(coil_queue_try_put(qq, I(1)) == 0);
    CHECK(coil_queue_try_put(qq, I(2)) == 0);
    CHECK_ERRNO(coil_queue_try_put(qq, I(3)), EAGAIN);
    coil_queue_free(qq);
    return NULL;
}

TEST(bounded_queue_blocks_producers_and_try_calls_say_eagain)
{
    run_main(bounded_queue_main, NULL);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        void *v;
        if (coil_queue_get(qq, &v) != 0) {
            CHECK(errno == ESHUTDOWN);
            return NULL;
        }
        CHECK(coil_sleep(COIL_MSEC(1)) == 0);
        note((int)(intptr_t)v);
        CHECK(coil_queue_task_done(qq) == 0);
    }
}

static void *join_main(void *arg)
{
    (void)arg;
    qq = coil_queue_new(COIL_QUEUE_FIFO, 0, NULL);
    CHECK(coil_queue_join(qq) == 0);          /* nothing put: at once */
    CHECK_ERRNO(coil_queue_task_done(qq), EINVAL);
    coil_task *w[2] = {coil_spawn(worker, NULL), coil_spawn(worker, NULL)};
    for (int i = 0; i < 8; i++)
        CHECK(coil_queue_put(qq, I(i)) == 0);
    CHECK(coil_queue_join(qq) == 0);
    CHECK(norder == 8);
    CHECK(coil_queue_shutdown(qq) == 0);
    await_task(w[0]);
    await_task(w[1]);
    CHECK_ERRNO(coil_queue_task_done(qq), EINVAL);
    coil_queue_free(qq);
    return NULL;
}

TEST(queue_join_waits_for_every_task_done)
{
    run_main(join_main, NULL);
}

static void *shut_getter(void *arg)
{
    (void)arg;
    CHECK_ERRNO(coil_queue_get(qq, NULL), ESHUTDOWN);
    note(1);
    return NULL;
}

static void *shut_putter(void *arg)
{
    (void)arg;
    CHECK_ERRNO(coil_queue_put(qq, I(5)), ESHUTDOWN);
    note(2);
    return NULL;
}

static void *shutdown_main(void *arg)
{
    (void)arg;
    /* Getters on an empty queue. */
    qq = coil_queue_new(COIL_QUEUE_FIFO, 2, NULL);
    coil_task *g[3];
    for (int i = 0; i < 3; i++)
        g[i] = coil_spawn(shut_getter, NULL);
    settle();
    CHECK(norder == 0);
    CHECK(coil_queue_shutdown(qq) == 0);
    for (int i = 0; i < 3; i++)
        await_task(g[i]);
    CHECK(norder == 3);
    CHECK_ERRNO(coil_queue_put(qq, I(1)), ESHUTDOWN);
    CHECK_ERRNO(coil_queue_try_put(qq, I(1)), ESHUTDOWN);
    coil_queue_free(qq);

    /* Putters on a full queue; the items in it still drain. */
    norder = 0;
    qq = coil_queue_new(COIL_QUEUE_FIFO, 2, NULL);
    CHECK(coil_queue_put(qq, I(1)) == 0 && coil_queue_put(qq, I(2)) == 0);
    coil_task *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = coil_spawn(shut_putter, NULL);
    settle();
    CHECK(norder == 0);
    CHECK_ERRNO(coil_queue_free(qq), EBUSY);
    CHECK(coil_queue_shutdown(qq) == 0);
    CHECK(coil_queue_shutdown(qq) == 0);      /* idempotent */
    for (int i = 0; i < 3; i++)
        await_task(p[i]);
    CHECK(norder == 3);
    void *v;
    CHECK(coil_queue_get(qq, &v) == 0 && v == I(1));
    CHECK(coil_queue_try_get(qq, &v) == 0 && v == I(2));
    CHECK_ERRNO(coil_queue_get(qq, &v), ESHUTDOWN);
    CHECK_ERRNO(coil_queue_try_get(qq, &v), ESHUTDOWN);
    CHECK(coil_queue_free(qq) == 0);
    return NULL;
}

TEST(queue_shutdown_wakes_every_waiter_then_gets_drain)
{
    run_main(shutdown_main, NULL);
}

/* A put handed straight to a waiting getter frees the slot it was granted:
 * the next putter must get it.  maxsize 1 with an item in it, putters P1
 * and P2 waiting; the main task takes the item (P1 is granted the slot);
 * getter G2, spawned before, runs first and waits on the empty queue; P1
 * then hands its item to G2.  P2 must now be admitted, so a third get sees
 * P2's item instead of waiting on an empty queue forever. */
static void *one_putter(void *arg)
{
    CHECK(coil_queue_put(qq, arg) == 0);
    return NULL;
}

static void *one_getter(void *arg)
{
    (void)arg;
    void *v = NULL;
    CHECK(coil_queue_get(qq, &v) == 0);
    return v;
}

static void *handoff_main(void *arg)
{
    (void)arg;
    qq = coil_queue_new(COIL_QUEUE_FIFO, 1, NULL);
    CHECK(coil_queue_put(qq, I(1)) == 0);
    coil_task *p1 = coil_spawn(one_putter, I(2));
    coil_task *p2 = coil_spawn(one_putter, I(3));
    settle();                     /* both wait on the full queue */
    coil_task *g2 = coil_spawn(one_getter, NULL);
    void *v = NULL;
    CHECK(coil_queue_try_get(qq, &v) == 0 && v == I(1));
    CHECK(await_task(g2) == I(2));
    await_task(p1);
    CHECK(coil_queue_get_until(qq, &v, loop_now() + COIL_SEC(5)) == 0);
    CHECK(v == I(3));
    await_task(p2);
    CHECK(coil_queue_size(qq) == 0);
    CHECK(coil_queue_free(qq) == 0);
    return NULL;
}

TEST(bounded_queue_admits_the_next_putter_after_a_handoff)
{
    run_main(handoff_main, NULL);
}

/* ----------------------------------------------- cancellation consistency
 *
 * Each case runs with the cancelled waiter in the default (unwind) mode
 * and in COIL_TASK_CANCEL_AS_ERROR mode.  The victim records how it
 * ended: unwound (its cleanup handler ran) or ECANCELED returned. */

static unsigned victim_flags;
static int victim_errno;

static void victim_ended(int r)
{
    /* Only an error-mode victim gets here after a cancellation. */
    CHECK(r == -1);
    victim_errno = errno;
}

static void check_victim(coil_task *t)
{
    if (victim_flags & COIL_TASK_CANCEL_AS_ERROR) {
        await_task(t);
        CHECK(victim_errno == ECANCELED);
        CHECK(cleanups == 0);
    } else {
        await_cancelled(t);
        CHECK(cleanups == 1);
    }
}

static void *lock_victim(void *arg)
{
    (void)arg;
    int r;
    coil_cleanup_push(count_cleanup, NULL);
    r = coil_lock_acquire(lk);
    coil_cleanup_pop(0);
    victim_ended(r);
    CHECK_ERRNO(coil_lock_release(lk), EPERM);   /* it does not hold it */
    return NULL;
}

static void *lock_cancel_main(void *arg)
{
    (void)arg;
    lk = coil_lock_new();
    CHECK(coil_lock_acquire(lk) == 0);
    coil_task *v = spawn_mode(lock_victim, NULL, victim_flags);
    settle();
    coil_task *next = coil_spawn(lock_taker, I(7));
    settle();
    CHECK(coil_lock_release(lk) == 0);    /* handed to the victim ... */
    CHECK(coil_task_cancel(v) == 1);      /* ... cancelled before it runs */
    check_victim(v);
    await_task(next);                     /* the lock passed on */
    CHECK(norder == 1 && order[0] == 7);
    CHECK(coil_lock_locked(lk) == 0);
    /* With nobody after it, the lock ends free. */
    v = spawn_mode(lock_victim, NULL, victim_flags);
    CHECK(coil_lock_acquire(lk) == 0);
    settle();
    cleanups = 0;
    CHECK(coil_lock_release(lk) == 0);
    CHECK(coil_task_cancel(v) == 1);
    check_victim(v);
    CHECK(coil_lock_locked(lk) == 0);
    CHECK(coil_lock_free(lk) == 0);
    return NULL;
}

TEST(lock_handed_to_a_cancelled_waiter_passes_on_unwind_mode)
{
    victim_flags = 0;
    run_main(lock_cancel_main, NULL);
}

TEST(lock_handed_to_a_cancelled_waiter_passes_on_error_mode)
{
    victim_flags = COIL_TASK_CANCEL_AS_ERROR;
    run_main(lock_cancel_main, NULL);
}

static void *sem_victim(void *arg)
{
    (void)arg;
    int r;
    coil_cleanup_push(count_cleanup, NULL);
    r = coil_sem_acquire(sem);
    coil_cleanup_pop(0);
    victim_ended(r);
    return NULL;
}

static void *sem_cancel_main(void *arg)
{
    (void)arg;
    sem = coil_sem_new_bounded(1);
    CHECK(coil_sem_acquire(sem) == 0);
    coil_task *v = spawn_mode(sem_victim, NULL, victim_flags);
    settle();
    coil_task *next = coil_spawn(sem_taker, I(3));
    settle();
    CHECK(coil_sem_release(sem) == 0);    /* permit to the victim */
    CHECK(coil_task_cancel(v) == 1);
    check_victim(v);
    await_task(next);                     /* the permit passed on */
    CHECK(norder == 1 && order[0] == 3);
    CHECK(coil_sem_value(sem) == 0);
    CHECK(coil_sem_release(sem) == 0);    /* next's permit: bound intact */
    CHECK_ERRNO(coil_sem_release(sem), EOVERFLOW);
    /* With nobody after it, the permit goes back to the count. */
    CHECK(coil_sem_acquire(sem) == 0);
    v = spawn_mode(sem_victim, NULL, victim_flags);
    settle();
    cleanups = 0;
    CHECK(coil_sem_release(sem) == 0);
    CHECK(coil_task_cancel(v) == 1);
    check_victim(v);
    CHECK(coil_sem_value(sem) == 1);
    CHECK(coil_sem_free(sem) == 0);
    return NULL;
}

TEST(semaphore_permit_of_a_cancelled_waiter_passes_on_unwind_mode)
{
    victim_flags = 0;
    run_main(sem_cancel_main, NULL);
}

TEST(semaphore_permit_of_a_cancelled_waiter_passes_on_error_mode)
{
    victim_flags = COIL_TASK_CANCEL_AS_ERROR;
    run_main(sem_cancel_main, NULL);
}

static void *event_victim(void *arg)
{
    (void)arg;
    int r;
    coil_cleanup_push(count_cleanup, NULL);
    r = coil_event_wait(ev);
    coil_cleanup_pop(0);
    victim_ended(r);
    return NULL;
}

static void *event_cancel_main(void *arg)
{
    (void)arg;
    ev = coil_event_new();
    coil_task *a = coil_spawn(event_waiter, I(1));
    coil_task *v = spawn_mode(event_victim, NULL, victim_flags);
    coil_task *b = coil_spawn(event_waiter, I(2));
    settle();
    CHECK(coil_event_set(ev) == 0);
    CHECK(coil_task_cancel(v) == 1);      /* woken, cancelled: no matter */
    check_victim(v);
    await_task(a);
    await_task(b);
    CHECK(norder == 2 && order[0] == 1 && order[1] == 2);
    CHECK(coil_event_free(ev) == 0);
    return NULL;
}

TEST(event_waiters_are_all_woken_despite_a_cancelled_one_unwind_mode)
{
    victim_flags = 0;
    run_main(event_cancel_main, NULL);
}

TEST(event_waiters_are_all_woken_despite_a_cancelled_one_error_mode)
{
    victim_flags = COIL_TASK_CANCEL_AS_ERROR;
    run_main(event_cancel_main, NULL);
}

static coil_cond *cv;

static void *cond_victim(void *arg)
{
    (void)arg;
    CHECK(coil_lock_acquire(lk) == 0);
    int r;
    coil_cleanup_push(coil_lock_cleanup, lk);   /* needs lk held again */
    coil_cleanup_push(count_cleanup, NULL);
    r = coil_cond_wait(cv, lk);
    coil_cleanup_pop(0);
    victim_ended(r);
    CHECK(coil_lock_locked(lk) == 1);             /* held again */
    coil_cleanup_pop(1);
    return NULL;
}

static void *cond_waiter(void *arg)
{
    CHECK(coil_lock_acquire(lk) == 0);
    CHECK(coil_cond_wait(cv, lk) == 0);
    note((int)(intptr_t)arg);
    CHECK(coil_lock_release(lk) == 0);
    return NULL;
}

static void *cond_cancel_main(void *arg)
{
    (void)arg;
    lk = coil_lock_new();
    cv = coil_cond_new();
    coil_task *v = spawn_mode(cond_victim, NULL, victim_flags);
    settle();
    coil_task *next = coil_spawn(cond_waiter, I(4));
    settle();
    CHECK(coil_lock_locked(lk) == 0);
    CHECK(coil_cond_notify(cv, 1) == 0);  /* to the victim ... */
    CHECK(coil_task_cancel(v) == 1);      /* ... which passes it on */
    check_victim(v);
    await_task(next);
    CHECK(norder == 1 && order[0] == 4);
    CHECK(coil_lock_locked(lk) == 0);     /* the victim's cleanup freed it */
    CHECK(coil_cond_free(cv) == 0);
    CHECK(coil_lock_free(lk) == 0);
    return NULL;
}

TEST(condition_notification_of_a_cancelled_waiter_passes_on_unwind_mode)
{
    victim_flags = 0;
    run_main(cond_cancel_main, NULL);
}

TEST(condition_notification_of_a_cancelled_waiter_passes_on_error_mode)
{
    victim_flags = COIL_TASK_CANCEL_AS_ERROR;
    run_main(cond_cancel_main, NULL);
}

static void *queue_victim(void *arg)
{
    (void)arg;
    int r;
    void *v = NULL;
    coil_cleanup_push(count_cleanup, NULL);
    r = coil_queue_get(qq, &v);
    coil_cleanup_pop(0);
    victim_ended(r);
    CHECK(v == NULL);
    return NULL;
}

static void *queue_getter(void *arg)
{
    void *v;
    CHECK(coil_queue_get(qq, &v) == 0);
    note((int)(intptr_t)v);
    (void)arg;
    return NULL;
}

static void *queue_cancel_main(void *arg)
{
    int kind = (int)(intptr_t)arg;
    qq = coil_queue_new(kind, 2, kind == COIL_QUEUE_PRIORITY ? cmp_int : NULL);
    /* The item passes on to the next getter. */
    coil_task *v = spawn_mode(queue_victim, NULL, victim_flags);
    settle();
    coil_task *next = coil_spawn(queue_getter, NULL);
    settle();
    CHECK(coil_queue_put(qq, I(5)) == 0);   /* handed to the victim */
    CHECK(coil_task_cancel(v) == 1);
    check_victim(v);
    await_task(next);
    CHECK(norder == 1 && order[0] == 5);
    CHECK(coil_queue_size(qq) == 0);

    /* With no getter after it, the item goes back to the front. */
    cleanups = 0;
    v = spawn_mode(queue_victim, NULL, victim_flags);
    settle();
    CHECK(coil_queue_put(qq, I(6)) == 0);   /* handed to the victim */
    CHECK(coil_queue_put(qq, I(7)) == 0);   /* stored */
    CHECK(coil_task_cancel(v) == 1);
    check_victim(v);
    CHECK(coil_queue_size(qq) == 2);
    void *x;
    CHECK(coil_queue_try_get(qq, &x) == 0 && x == I(6));
    CHECK(coil_queue_try_get(qq, &x) == 0 && x == I(7));
    CHECK(coil_queue_task_done(qq) == 0 && coil_queue_task_done(qq) == 0);
    CHECK(coil_queue_task_done(qq) == 0);   /* item 5 */
    CHECK(coil_queue_join(qq) == 0);
    CHECK(coil_queue_free(qq) == 0);
    return NULL;
}

TEST(queue_item_of_a_cancelled_getter_goes_back_unwind_mode)
{
    victim_flags = 0;
    run_main(queue_cancel_main, I(COIL_QUEUE_FIFO));
    norder = 0;
    cleanups = 0;
    run_main(queue_cancel_main, I(COIL_QUEUE_LIFO));
    norder = 0;
    cleanups = 0;
    run_main(queue_cancel_main, I(COIL_QUEUE_PRIORITY));
}

TEST(queue_item_of_a_cancelled_getter_goes_back_error_mode)
{
    victim_flags = COIL_TASK_CANCEL_AS_ERROR;
    run_main(queue_cancel_main, I(COIL_QUEUE_FIFO));
    norder = 0;
    run_main(queue_cancel_main, I(COIL_QUEUE_LIFO));
    norder = 0;
    run_main(queue_cancel_main, I(COIL_QUEUE_PRIORITY));
}

static void *put_victim(void *arg)
{
    (void)arg;
    int r;
    coil_cleanup_push(count_cleanup, NULL);
    r = coil_queue_put(qq, I(66));
    coil_cleanup_pop(0);
    victim_ended(r);
    return NULL;
}

static void *putter_cancel_main(void *arg)
{
    (void)arg;
    qq = coil_queue_new(COIL_QUEUE_FIFO, 1, NULL);
    CHECK(coil_queue_put(qq, I(1)) == 0);
    coil_task *v = spawn_mode(put_victim, NULL, victim_flags);
    settle();
    coil_task *next = coil_spawn(producer, I(2));    /* puts 20..24 */
    settle();
    void *x;
    CHECK(coil_queue_get(qq, &x) == 0 && x == I(1)); /* slot to victim */
    CHECK(coil_task_cancel(v) == 1);
    check_victim(v);
    for (int i = 0; i < 5; i++) {
        CHECK(coil_queue_get(qq, &x) == 0);
        CHECK(x == I(20 + i));     /* the slot passed on; 66 never put */
    }
    await_task(next);
    CHECK(coil_queue_size(qq) == 0);
    coil_queue_free(qq);
    return NULL;
}

TEST(queue_slot_of_a_cancelled_putter_passes_on_unwind_mode)
{
    victim_flags = 0;
    run_main(putter_cancel_main, NULL);
}

TEST(queue_slot_of_a_cancelled_putter_passes_on_error_mode)
{
    victim_flags = COIL_TASK_CANCEL_AS_ERROR;
    run_main(putter_cancel_main, NULL);
}

/* A waiter cancelled while still waiting just leaves the line. */
static void *queued_cancel_main(void *arg)
{
    (void)arg;
    lk = coil_lock_new();
    CHECK(coil_lock_acquire(lk) == 0);
    coil_task *v = spawn_mode(lock_victim, NULL, victim_flags);
    coil_task *next = coil_spawn(lock_taker, I(8));
    settle();
    CHECK(coil_task_cancel(v) == 1);
    check_victim(v);
    CHECK(coil_lock_release(lk) == 0);
    await_task(next);
    CHECK(norder == 1 && order[0] == 8);
    CHECK(coil_lock_free(lk) == 0);
    return NULL;
}

TEST(a_waiter_cancelled_in_line_leaves_it_unwind_mode)
{
    victim_flags = 0;
    run_main(queued_cancel_main, NULL);
}

TEST(a_waiter_cancelled_in_line_leaves_it_error_mode)
{
    victim_flags = COIL_TASK_CANCEL_AS_ERROR;
    run_main(queued_cancel_main, NULL);
}

/* ------------------------------------------------------------- deadlines */

/* Deadlines are loop time, read at the start of an iteration: measure
 * from the deadline, not from a fresh clock reading before the call. */
static void check_timed_out(int r, coil_time deadline)
{
    CHECK(r == -1 && errno == ETIMEDOUT);
    CHECK(coil_clock() >= deadline);
    CHECK(coil_clock() - deadline < 50 * UNIT);
}

static void *holder(void *arg)
{
    CHECK(coil_lock_acquire(lk) == 0);
    CHECK(coil_event_wait(arg) == 0);
    CHECK(coil_lock_release(lk) == 0);
    return NULL;
}

static void *deadline_main(void *arg)
{
    (void)arg;
    coil_time dl;
    lk = coil_lock_new();
    coil_event *go = coil_event_new();
    coil_task *h = coil_spawn(holder, go);
    settle();
    dl = loop_now() + UNIT;
    check_timed_out(coil_lock_acquire_until(lk, dl), dl);
    CHECK_ERRNO(coil_lock_acquire_until(lk, loop_now() - 1), ETIMEDOUT);
    coil_event_set(go);
    await_task(h);
    /* A past deadline does not stop a call that need not wait. */
    CHECK(coil_lock_acquire_until(lk, 0) == 0);

    coil_cond *c = coil_cond_new();
    dl = loop_now() + UNIT;
    check_timed_out(coil_cond_wait_until(c, lk, dl), dl);
    CHECK(coil_lock_locked(lk) == 1);
    CHECK(coil_lock_release(lk) == 0);    /* held again after ETIMEDOUT */

    coil_event *e = coil_event_new();
    dl = loop_now() + UNIT;
    check_timed_out(coil_event_wait_until(e, dl), dl);

    coil_sem *s = coil_sem_new(0);
    dl = loop_now() + UNIT;
    check_timed_out(coil_sem_acquire_until(s, dl), dl);
    CHECK(coil_sem_release(s) == 0);
    CHECK(coil_sem_value(s) == 1);        /* nobody left waiting */

    coil_barrier *b = coil_barrier_new(2);
    dl = loop_now() + UNIT;
    check_timed_out(coil_barrier_wait_until(b, dl), dl);
    CHECK(coil_barrier_waiting(b) == 0);  /* the arrival was taken back */

    coil_queue *q = coil_queue_new(COIL_QUEUE_FIFO, 1, NULL);
    dl = loop_now() + UNIT;
    check_timed_out(coil_queue_get_until(q, NULL, dl), dl);
    CHECK(coil_queue_put(q, I(1)) == 0);
    dl = loop_now() + UNIT;
    check_timed_out(coil_queue_put_until(q, I(2), dl), dl);
    dl = loop_now() + UNIT;
    check_timed_out(coil_queue_join_until(q, dl), dl);
    void *x;
    CHECK(coil_queue_try_get(q, &x) == 0 && x == I(1));
    CHECK_ERRNO(coil_queue_try_get(q, &x), EAGAIN);   /* 2 was not put */

    CHECK(coil_lock_free(lk) == 0 && coil_cond_free(c) == 0);
    CHECK(coil_event_free(e) == 0 && coil_event_free(go) == 0);
    CHECK(coil_sem_free(s) == 0 && coil_barrier_free(b) == 0);
    CHECK(coil_queue_free(q) == 0);
    return NULL;
}

TEST(every_wait_has_a_deadline_form_giving_etimedout)
{
    run_main(deadline_main, NULL);
}

/* ----------------------------------------------------- misuse and guards */

TEST(suspending_calls_outside_a_task_are_eperm)
{
    coil_lock *l = coil_lock_new();
    coil_event *e = coil_event_new();
    coil_sem *s = coil_sem_new(0);
    coil_cond *c = coil_cond_new();
    coil_barrier *b = coil_barrier_new(2);
    coil_queue *q = coil_queue_new(COIL_QUEUE_FIFO, 1, NULL);
    CHECK_ERRNO(coil_lock_acquire(l), EPERM);
    CHECK_ERRNO(coil_lock_try_acquire(l), EPERM);
    CHECK_ERRNO(coil_lock_release(l), EPERM);
    CHECK_ERRNO(coil_event_wait(e), EPERM);
    CHECK_ERRNO(coil_sem_acquire(s), EPERM);
    CHECK_ERRNO(coil_cond_wait(c, l), EPERM);
    CHECK_ERRNO(coil_barrier_wait(b), EPERM);
    CHECK_ERRNO(coil_queue_get(q, NULL), EPERM);
    CHECK_ERRNO(coil_queue_put(q, NULL), EPERM);
    CHECK_ERRNO(coil_queue_join(q), EPERM);
    /* The non-suspending ones work anywhere. */
    CHECK(coil_event_set(e) == 0 && coil_event_is_set(e) == 1);
    CHECK(coil_sem_release(s) == 0 && coil_sem_try_acquire(s) == 0);
    CHECK(coil_queue_try_put(q, I(1)) == 0);
    CHECK(coil_queue_try_get(q, NULL) == 0);
    CHECK(coil_queue_task_done(q) == 0);
    CHECK(coil_cond_notify_all(c) == 0);
    CHECK(coil_lock_free(l) == 0 && coil_event_free(e) == 0);
    CHECK(coil_sem_free(s) == 0 && coil_cond_free(c) == 0);
    CHECK(coil_barrier_free(b) == 0 && coil_queue_free(q) == 0);
}

TEST(null_handles_are_einval)
{
    CHECK_ERRNO(coil_lock_free(NULL), EINVAL);
    CHECK_ERRNO(coil_lock_release(NULL), EINVAL);
    CHECK_ERRNO(coil_lock_locked(NULL), EINVAL);
    CHECK_ERRNO(coil_event_set(NULL), EINVAL);
    CHECK_ERRNO(coil_event_wait(NULL), EINVAL);
    CHECK_ERRNO(coil_sem_release(NULL), EINVAL);
    CHECK_ERRNO(coil_sem_acquire(NULL), EINVAL);
    CHECK_ERRNO(coil_cond_notify(NULL, 1), EINVAL);
    CHECK_ERRNO(coil_barrier_wait(NULL), EINVAL);
    CHECK_ERRNO(coil_queue_put(NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_queue_try_get(NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_queue_shutdown(NULL), EINVAL);
}

static void *other_thread(void *arg)
{
    coil_lock *l = arg;
    CHECK_ERRNO(coil_lock_free(l), EPERM);
    CHECK_ERRNO(coil_lock_release(l), EPERM);
    CHECK_ERRNO(coil_lock_try_acquire(l), EPERM);
    return NULL;
}

TEST(objects_belong_to_the_thread_that_made_them)
{
    coil_lock *l = coil_lock_new();
    pthread_t th;
    CHECK(pthread_create(&th, NULL, other_thread, l) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(coil_lock_free(l) == 0);
}

RUN_TESTS(T(lock_is_handed_over_in_fifo_order),
          T(unlocking_a_lock_you_do_not_hold_is_eperm),
          T(event_set_wakes_every_waiter),
          T(semaphore_counts_permits_and_serves_waiters_in_order),
          T(bounded_semaphore_release_beyond_bound_is_eoverflow),
          T(condition_serves_a_producer_and_a_consumer),
          T(barrier_lets_parties_go_together_round_after_round),
          T(queue_orders_fifo_lifo_and_priority),
          T(priority_queue_keeps_equal_items_in_fifo_order),
          T(bounded_queue_blocks_producers_and_try_calls_say_eagain),
          T(queue_join_waits_for_every_task_done),
          T(queue_shutdown_wakes_every_waiter_then_gets_drain),
    T(bounded_queue_admits_the_next_putter_after_a_handoff),
          T(lock_handed_to_a_cancelled_waiter_passes_on_unwind_mode),
          T(lock_handed_to_a_cancelled_waiter_passes_on_error_mode),
          T(semaphore_permit_of_a_cancelled_waiter_passes_on_unwind_mode),
          T(semaphore_permit_of_a_cancelled_waiter_passes_on_error_mode),
          T(event_waiters_are_all_woken_despite_a_cancelled_one_unwind_mode),
          T(event_waiters_are_all_woken_despite_a_cancelled_one_error_mode),
          T(condition_notification_of_a_cancelled_waiter_passes_on_unwind_mode),
          T(condition_notification_of_a_cancelled_waiter_passes_on_error_mode),
          T(queue_item_of_a_cancelled_getter_goes_back_unwind_mode),
          T(queue_item_of_a_cancelled_getter_goes_back_error_mode),
          T(queue_slot_of_a_cancelled_putter_passes_on_unwind_mode),
          T(queue_slot_of_a_cancelled_putter_passes_on_error_mode),
          T(a_waiter_cancelled_in_line_leaves_it_unwind_mode),
          T(a_waiter_cancelled_in_line_leaves_it_error_mode),
          T(every_wait_has_a_deadline_form_giving_etimedout),
          T(suspending_calls_outside_a_task_are_eperm),
          T(null_handles_are_einval),
          T(objects_belong_to_the_thread_that_made_them))
