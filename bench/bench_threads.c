/*
 * bench/bench_threads.c — coil across threads and between tasks, each
 * against the plain-pthread way of doing the same (bench/threads.go is the
 * Go way):
 *
 * threadsafe_rtt   a plain thread hands a callback to a loop running in
 *                  another thread (coil_call_soon_threadsafe) and waits for
 *                  its reply (an eventfd the callback writes): one round
 *                  trip, two cross-thread wake-ups.  pthread: two threads
 *                  in ping-pong through a mutex and two condition
 *                  variables.
 *                  spin_floor: two plain threads passing a turn through
 *                  one atomic word, spinning: the machine's floor for a
 *                  round trip across threads (Go's row crosses none: its
 *                  scheduler runs both goroutines on one thread).
 * spawn_threadsafe_rtt  the same through coil_spawn_threadsafe and a
 *                  blocking coil_tfuture_wait: a task made and awaited
 *                  across threads (coil only).
 * threadsafe_N     N plain threads pour callbacks into one loop as fast as
 *                  they can: ns per callback run.  pthread: the same
 *                  design as coil's inbox (a mutex-protected list of
 *                  malloc'd items, drained a batch at a time) with a
 *                  condition variable where coil has an eventfd and epoll.
 * to_thread        a task calls coil_to_thread(a trivial function) in a
 *                  loop.  pthread: a plain thread hands the same job to a
 *                  pool of as many threads (mutex + condition variable)
 *                  and waits for it.
 * lock_handoff     two tasks on one loop take turns holding a coil_lock:
 *                  release hands it straight to the waiting task.  pthread:
 *                  two threads take turns holding a mutex (strict
 *                  alternation needs a condition variable and a turn
 *                  variable: a pthread mutex is not FIFO).
 * queue_64         a producer task and a consumer task through a
 *                  coil_queue of 64 items.  pthread: a producer thread and
 *                  a consumer thread through a 64-slot ring (a mutex and
 *                  two condition variables).
 *
 * Every repetition makes its own threads, loop and objects, outside the
 * timed span, and checks that the work was really done (every callback
 * ran, every item arrived in order, the lock did change hands).  The one
 * thing that outlives a repetition is coil's executor, which is
 * process-wide and starts at the first coil_to_thread.
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The pthread pool's size: coil's executor's default. */
#define POOL_THREADS 4

#define QUEUE_CAP 64

static int fail_errno(char *err, const char *call, int e)
{
    snprintf(err, BENCH_ERR_MAX, "%s: %s", call, strerror(e));
    return -1;
}

/* ------------------------------------------------- a loop in a thread */

/* A coil loop running forever in a thread of its own, as an application
 * that serves other threads would have it. */
typedef struct loop_thread {
    pthread_t thread;
    coil_loop *loop;
    sem_t ready;
    int err;                 /* errno of a failed coil_loop_new / run */
} loop_thread;

static void *loop_thread_main(void *arg)
{
    loop_thread *lt = arg;
    coil_loop *loop = coil_loop_new();

    if (loop == NULL) {
        lt->err = errno;
        sem_post(&lt->ready);
        return NULL;
    }
    lt->loop = loop;
    sem_post(&lt->ready);
    if (coil_loop_run_forever(loop) != 0)
        lt->err = errno;
    coil_loop_close(loop);
    return NULL;
}

static int loop_thread_start(loop_thread *lt, char *err)
{
    memset(lt, 0, sizeof *lt);
    sem_init(&lt->ready, 0, 0);
    int rc = pthread_create(&lt->thread, NULL, loop_thread_main, lt);
    if (rc != 0) {
        sem_destroy(&lt->ready);
        return fail_errno(err, "pthread_create", rc);
    }
    while (sem_wait(&lt->ready) != 0)
        ;
    if (lt->loop == NULL) {
        pthread_join(lt->thread, NULL);
        sem_destroy(&lt->ready);
        return fail_errno(err, "coil_loop_new", lt->err);
    }
    return 0;
}

/* Stop it (only ever from here: the loop is freed once its thread sees
 * the stop) and join.  0, or -1 if the loop failed meanwhile. */
static int loop_thread_stop(loop_thread *lt, char *err)
{
    coil_loop_stop(lt->loop);
    pthread_join(lt->thread, NULL);
    sem_destroy(&lt->ready);
    if (lt->err != 0)
        return fail_errno(err, "coil_loop_run_forever", lt->err);
    return 0;
}

/* ------------------------------------------------------ round trips */

typedef struct rtt_state {
    int reply_fd;            /* eventfd the loop writes its answers to */
    uintptr_t sum;           /* the loop's side: what it was sent */
} rtt_state;

/* On the loop's thread: note the value, answer. */
static void rtt_reply(void *arg)
{
    rtt_state *s = arg;
    uint64_t one = 1;
    s->sum += 1;
    if (write(s->reply_fd, &one, sizeof one) != (ssize_t)sizeof one)
        abort();             /* an eventfd write of 1 cannot fail here */
}

static int coil_rtt(long count, uint64_t *elapsed_ns, char *err)
{
    loop_thread lt;
    rtt_state s = {eventfd(0, EFD_CLOEXEC), 0};
    int rc = 0;

    if (s.reply_fd < 0)
        return fail_errno(err, "eventfd", errno);
    if (loop_thread_start(&lt, err) != 0) {
        close(s.reply_fd);
        return -1;
    }
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < count && rc == 0; i++) {
        uint64_t got;
        if (coil_call_soon_threadsafe(lt.loop, rtt_reply, &s) != 0)
            rc = fail_errno(err, "coil_call_soon_threadsafe", errno);
        else if (read(s.reply_fd, &got, sizeof got) != (ssize_t)sizeof got)
            rc = fail_errno(err, "read(eventfd)", errno);
    }
    *elapsed_ns = bench_now_ns() - t0;
    if (loop_thread_stop(&lt, err) != 0)
        rc = -1;
    close(s.reply_fd);
    if (rc == 0 && s.sum != (uintptr_t)count) {
        snprintf(err, BENCH_ERR_MAX, "%lu callbacks ran, %ld sent",
                 (unsigned long)s.sum, count);
        rc = -1;
    }
    return rc;
}

/* The floor: the turn is odd while the peer owes a reply. */
typedef struct spin_state {
    _Atomic unsigned long turn;
    long count;
} spin_state;

/* Spin until *turn == want.  After a while, yield the CPU: where both
 * threads share one (--no-pin on a one-CPU machine), the other must run. */
static void spin_until(_Atomic unsigned long *turn, unsigned long want)
{
    for (unsigned spins = 0;
         atomic_load_explicit(turn, memory_order_acquire) != want; spins++) {
#if defined(__x86_64__) || defined(__i386__)
        __asm__ volatile("pause" ::: "memory");
#endif
        if (spins % 4096 == 4095)
            sched_yield();
    }
}

static void *spin_peer(void *arg)
{
    spin_state *s = arg;
    for (long i = 0; i <= s->count; i++) {       /* one more: the start */
        spin_until(&s->turn, 2 * (unsigned long)i + 1);
        atomic_store_explicit(&s->turn, 2 * (unsigned long)i + 2,
                              memory_order_release);
    }
    return NULL;
}

/* Pin the calling thread to CPU here (its mask saved in *saved) and set
 * attr's to CPU there.  Two spinners the kernel placed on one CPU take
 * turns by sched_yield, and measure that instead (seen in coil_bench:
 * 0.8-1.7 us a round trip, against 0.5 us pinned apart).  Whether it
 * pinned: not when asked not to (-1) or when the mask cannot be read. */
static int pin_apart(int here, int there, cpu_set_t *saved,
                     pthread_attr_t *attr)
{
    if (here < 0 || there < 0 ||
        sched_getaffinity(0, sizeof *saved, saved) != 0)
        return 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(there, &one);
    pthread_attr_setaffinity_np(attr, sizeof one, &one);
    CPU_ZERO(&one);
    CPU_SET(here, &one);
    sched_setaffinity(0, sizeof one, &one);
    return 1;
}

int bench_spin_rtt(int here, int there, long count, uint64_t *elapsed_ns,
                   char *err)
{
    spin_state s = {0, count};
    cpu_set_t saved;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int pinned = pin_apart(here, there, &saved, &attr);
    pthread_t peer;
    int rc = pthread_create(&peer, &attr, spin_peer, &s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        if (pinned)
            sched_setaffinity(0, sizeof saved, &saved);
        return fail_errno(err, "pthread_create", rc);
    }
    /* Round trip 0, untimed: the peer is up and running. */
    uint64_t t0 = 0;
    for (long i = 0; i <= count; i++) {
        if (i == 1)
            t0 = bench_now_ns();
        atomic_store_explicit(&s.turn, 2 * (unsigned long)i + 1,
                              memory_order_release);
        spin_until(&s.turn, 2 * (unsigned long)i + 2);
    }
    *elapsed_ns = bench_now_ns() - t0;
    pthread_join(peer, NULL);
    if (pinned)
        sched_setaffinity(0, sizeof saved, &saved);
    return 0;
}

static void *echo_task(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

int bench_spawn_threadsafe_rtt(long count, uint64_t *elapsed_ns, char *err)
{
    loop_thread lt;
    int rc = 0;

    if (loop_thread_start(&lt, err) != 0)
        return -1;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < count && rc == 0; i++) {
        void *out = NULL;
        coil_tfuture *f = coil_spawn_threadsafe(lt.loop, echo_task,
                                                (void *)(uintptr_t)i);
        if (f == NULL) {
            rc = fail_errno(err, "coil_spawn_threadsafe", errno);
            break;
        }
        if (coil_tfuture_wait(f, -1, &out) != 0)
            rc = fail_errno(err, "coil_tfuture_wait", errno);
        else if (out != (void *)((uintptr_t)i + 1))
            rc = fail_errno(err, "coil_tfuture_wait (wrong result)", EPROTO);
        coil_tfuture_release(f);
    }
    *elapsed_ns = bench_now_ns() - t0;
    if (loop_thread_stop(&lt, err) != 0)
        rc = -1;
    return rc;
}

/* Two threads in ping-pong: the pinger makes `turn` odd, the ponger makes
 * it even again, each waking the other. */
typedef struct pp_state {
    pthread_mutex_t mu;
    pthread_cond_t to_ponger, to_pinger;
    unsigned long turn;
    long count;
} pp_state;

static void *ponger(void *arg)
{
    pp_state *s = arg;
    pthread_mutex_lock(&s->mu);
    for (long i = 0; i < s->count; i++) {
        while (s->turn % 2 == 0)
            pthread_cond_wait(&s->to_ponger, &s->mu);
        s->turn++;
        pthread_cond_signal(&s->to_pinger);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int pthread_rtt(long count, uint64_t *elapsed_ns, char *err)
{
    pp_state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                  PTHREAD_COND_INITIALIZER, 0, count};
    pthread_t peer;
    int rc = pthread_create(&peer, NULL, ponger, &s);
    if (rc != 0)
        return fail_errno(err, "pthread_create", rc);

    uint64_t t0 = bench_now_ns();
    pthread_mutex_lock(&s.mu);
    for (long i = 0; i < count; i++) {
        s.turn++;
        pthread_cond_signal(&s.to_ponger);
        while (s.turn % 2 == 1)
            pthread_cond_wait(&s.to_pinger, &s.mu);
    }
    pthread_mutex_unlock(&s.mu);
    *elapsed_ns = bench_now_ns() - t0;
    pthread_join(peer, NULL);
    return 0;
}

int bench_threadsafe_rtt(int use_pthread, long count, uint64_t *elapsed_ns,
                         char *err)
{
    return use_pthread ? pthread_rtt(count, elapsed_ns, err)
                       : coil_rtt(count, elapsed_ns, err);
}

/* ------------------------------------------------------ throughput */

/* What the senders and the receiving side share.  The receiving side
 * counts the calls that ran and posts `done` at the last one. */
typedef struct submit_state {
    loop_thread lt;          /* coil */
    long per_sender;
    /* The receiving thread's, on a cache line of its own: a sender that
     * read a line it writes at every call would time that line's trips
     * between the CPUs, not the inbox (Go's receiver counts in a local).
     * Sharing one with per_sender (whether it did depended on where the
     * stack put the struct) the row read 82-84 ns a call; apart, 48-63
     * in the same hour. */
    _Alignas(64) long ran;
    long total;              /* calls in all */
    uint64_t t1;             /* when the last one ran */
    _Alignas(64) sem_t done;
    pthread_mutex_t gate_mu;     /* the start line: senders wait for go */
    pthread_cond_t gate;
    int go;
    atomic_int failed;       /* errno of the first failed submission */
    /* pthread: coil's inbox, with a condition variable for the eventfd */
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    struct pt_item *head, **tail;
    int closing;             /* the consumer exits once the list is empty */
} submit_state;

typedef struct pt_item {
    struct pt_item *next;
    coil_callback fn;
    void *arg;
} pt_item;

static void count_call(void *arg)
{
    submit_state *s = arg;
    if (++s->ran == s->total) {
        s->t1 = bench_now_ns();
        sem_post(&s->done);
    }
}

/* A sender waits here until the main thread has started the clock. */
static void wait_for_start(submit_state *s)
{
    pthread_mutex_lock(&s->gate_mu);
    while (!s->go)
        pthread_cond_wait(&s->gate, &s->gate_mu);
    pthread_mutex_unlock(&s->gate_mu);
}

static void open_gate(submit_state *s)
{
    pthread_mutex_lock(&s->gate_mu);
    s->go = 1;
    pthread_cond_broadcast(&s->gate);
    pthread_mutex_unlock(&s->gate_mu);
}

static void note_failure(submit_state *s, int e)
{
    int none = 0;
    atomic_compare_exchange_strong(&s->failed, &none, e);
}

static void *coil_sender(void *arg)
{
    submit_state *s = arg;
    wait_for_start(s);
    coil_loop *loop = s->lt.loop;
    long n = s->per_sender;
    for (long i = 0; i < n; i++)
        if (coil_call_soon_threadsafe(loop, count_call, s) != 0) {
            note_failure(s, errno);
            break;
        }
    return NULL;
}

/* The pthread inbox: append, and wake the consumer if it was empty. */
static int pt_submit(submit_state *s, coil_callback fn, void *arg)
{
    pt_item *it = malloc(sizeof *it);
    if (it == NULL)
        return -1;
    it->next = NULL;
    it->fn = fn;
    it->arg = arg;
    pthread_mutex_lock(&s->mu);
    int was_empty = s->head == NULL;
    *s->tail = it;
    s->tail = &it->next;
    pthread_mutex_unlock(&s->mu);
    if (was_empty)
        pthread_cond_signal(&s->nonempty);
    return 0;
}

static void *pt_sender(void *arg)
{
    submit_state *s = arg;
    wait_for_start(s);
    long n = s->per_sender;
    for (long i = 0; i < n; i++)
        if (pt_submit(s, count_call, s) != 0) {
            note_failure(s, ENOMEM);
            break;
        }
    return NULL;
}

/* Take everything queued at once, run it outside the lock; until told to
 * close and nothing is left. */
static void *pt_consumer(void *arg)
{
    submit_state *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->head == NULL && !s->closing)
            pthread_cond_wait(&s->nonempty, &s->mu);
        pt_item *batch = s->head;
        s->head = NULL;
        s->tail = &s->head;
        pthread_mutex_unlock(&s->mu);
        if (batch == NULL)
            return NULL;
        while (batch != NULL) {
            pt_item *it = batch;
            batch = it->next;
            it->fn(it->arg);
            free(it);
        }
    }
}

/* Start the receiving side: a loop thread or the pthread consumer. */
static int submit_receiver_start(submit_state *s, int use_pthread,
                                 pthread_t *consumer, char *err)
{
    if (!use_pthread)
        return loop_thread_start(&s->lt, err);
    int rc = pthread_create(consumer, NULL, pt_consumer, s);
    return rc == 0 ? 0 : fail_errno(err, "pthread_create", rc);
}

static int submit_receiver_stop(submit_state *s, int use_pthread,
                                pthread_t consumer, char *err)
{
    if (!use_pthread)
        return loop_thread_stop(&s->lt, err);
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_signal(&s->nonempty);
    pthread_mutex_unlock(&s->mu);
    pthread_join(consumer, NULL);
    return 0;
}

int bench_threadsafe_submit(int use_pthread, long senders, long count,
                            uint64_t *elapsed_ns, char *err)
{
    submit_state s;
    pthread_t th[64], consumer;
    long started = 0;
    int rc = 0;

    if (senders < 1 || senders > 64)
        return fail_errno(err, "senders", EINVAL);
    memset(&s, 0, sizeof s);
    s.per_sender = count / senders;
    s.total = s.per_sender * senders;
    sem_init(&s.done, 0, 0);
    pthread_mutex_init(&s.gate_mu, NULL);
    pthread_cond_init(&s.gate, NULL);
    atomic_init(&s.failed, 0);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.nonempty, NULL);
    s.tail = &s.head;

    if (submit_receiver_start(&s, use_pthread, &consumer, err) != 0) {
        rc = -1;
        goto out;
    }
    for (; started < senders; started++) {
        int e = pthread_create(&th[started], NULL,
                               use_pthread ? pt_sender : coil_sender, &s);
        if (e != 0) {
            rc = fail_errno(err, "pthread_create", e);
            s.per_sender = 0;      /* the gate orders this before their loop */
            break;
        }
    }
    /* The clock starts as the senders are let go: their waking up is part
     * of the span, a few microseconds against many milliseconds. */
    uint64_t t0 = bench_now_ns();
    open_gate(&s);
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (rc == 0 && atomic_load(&s.failed) != 0)
        rc = fail_errno(err, use_pthread ? "malloc"
                        : "coil_call_soon_threadsafe", atomic_load(&s.failed));
    if (rc == 0) {
        while (sem_wait(&s.done) != 0)
            ;
        *elapsed_ns = s.t1 - t0;
    }
    if (submit_receiver_stop(&s, use_pthread, consumer, err) != 0)
        rc = -1;
out:
    pthread_cond_destroy(&s.nonempty);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.gate);
    pthread_mutex_destroy(&s.gate_mu);
    sem_destroy(&s.done);
    return rc;
}

/* ------------------------------------------------------ to_thread */

static void *plus_one(void *arg)
{
    return (void *)((uintptr_t)arg + 1);
}

typedef struct offload_state {
    long count;
    const char *failed;
    int err;
    uint64_t elapsed_ns;
} offload_state;

static void *offload_main(void *arg)
{
    offload_state *s = arg;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < s->count; i++) {
        void *in = (void *)(uintptr_t)i, *out = NULL;
        if (coil_to_thread(plus_one, in, &out) != 0) {
            s->failed = "coil_to_thread";
            s->err = errno;
            return NULL;
        }
        if (out != (void *)((uintptr_t)i + 1)) {
            s->failed = "coil_to_thread (wrong result)";
            s->err = EPROTO;
            return NULL;
        }
    }
    s->elapsed_ns = bench_now_ns() - t0;
    return NULL;
}

static int coil_offload(long count, uint64_t *elapsed_ns, char *err)
{
    offload_state s = {count, NULL, 0, 0};
    if (coil_run(offload_main, &s, NULL) != 0)
        return fail_errno(err, "coil_run", errno);
    if (s.failed != NULL)
        return fail_errno(err, s.failed, s.err);
    *elapsed_ns = s.elapsed_ns;
    return 0;
}

/* A pthread pool: jobs in a FIFO under one mutex, workers waiting on
 * `work`, each job's submitter on `finished`. */
typedef struct pool_job {
    struct pool_job *next;
    void *(*fn)(void *);
    void *arg, *result;
    int done;
} pool_job;

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work, finished;
    pool_job *head, **tail;
    int closing;
    pthread_t threads[POOL_THREADS];
    int nthreads;
} pool;

static void *pool_worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->closing)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->head == NULL)
            break;
        pool_job *j = p->head;
        p->head = j->next;
        if (p->head == NULL)
            p->tail = &p->head;
        pthread_mutex_unlock(&p->mu);
        void *r = j->fn(j->arg);
        pthread_mutex_lock(&p->mu);
        j->result = r;
        j->done = 1;
        /* Every submitter waits on the one condition: wake them all, as a
         * pool serving several would have to. */
        pthread_cond_broadcast(&p->finished);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_close(pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->finished);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
}

static int pool_open(pool *p, char *err)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->finished, NULL);
    p->tail = &p->head;
    for (; p->nthreads < POOL_THREADS; p->nthreads++) {
        int rc = pthread_create(&p->threads[p->nthreads], NULL, pool_worker,
                                p);
        if (rc != 0) {
            pool_close(p);
            return fail_errno(err, "pthread_create", rc);
        }
    }
    return 0;
}

static void *pool_call(pool *p, void *(*fn)(void *), void *arg)
{
    pool_job j = {NULL, fn, arg, NULL, 0};
    pthread_mutex_lock(&p->mu);
    *p->tail = &j;
    p->tail = &j.next;
    pthread_cond_signal(&p->work);
    while (!j.done)
        pthread_cond_wait(&p->finished, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return j.result;
}

static int pthread_offload(long count, uint64_t *elapsed_ns, char *err)
{
    pool p;
    int rc = 0;

    if (pool_open(&p, err) != 0)
        return -1;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < count; i++)
        if (pool_call(&p, plus_one, (void *)(uintptr_t)i) !=
            (void *)((uintptr_t)i + 1)) {
            rc = fail_errno(err, "pool (wrong result)", EPROTO);
            break;
        }
    *elapsed_ns = bench_now_ns() - t0;
    pool_close(&p);
    return rc;
}

int bench_to_thread(int use_pthread, long count, uint64_t *elapsed_ns,
                    char *err)
{
    return use_pthread ? pthread_offload(count, elapsed_ns, err)
                       : coil_offload(count, elapsed_ns, err);
}

/* ------------------------------------------------------ lock handoff */

typedef struct handoff_state {
    coil_lock *lock;
    long per_task;
    int last_owner;          /* who took the lock last: 1 or 2 */
    long repeats;            /* times a task took it twice in a row */
    const char *failed;
    int err;
    uint64_t t0, t1;
} handoff_state;

typedef struct handoff_task {
    handoff_state *s;
    int id;
} handoff_task;

static void *handoff_fail(handoff_state *s, const char *call, int e)
{
    if (s->failed == NULL) {
        s->failed = call;
        s->err = e;
    }
    return coil_task_error(e);
}

/* Take the lock, give it back, again.  Each release hands the lock to the
 * other task, which queued for it meanwhile; the releaser then queues
 * behind it.  Only the very first turn needs a yield, to let the other
 * task get into the queue at all. */
static void *handoff_worker(void *arg)
{
    handoff_task *t = arg;
    handoff_state *s = t->s;

    if (s->t0 == 0)
        s->t0 = bench_now_ns();
    for (long i = 0; i < s->per_task; i++) {
        if (coil_lock_acquire(s->lock) != 0)
            return handoff_fail(s, "coil_lock_acquire", errno);
        if (s->last_owner == t->id)
            s->repeats++;
        s->last_owner = t->id;
        if (i == 0 && coil_yield() != 0) {
            coil_lock_release(s->lock);
            return handoff_fail(s, "coil_yield", errno);
        }
        if (coil_lock_release(s->lock) != 0)
            return handoff_fail(s, "coil_lock_release", errno);
    }
    s->t1 = bench_now_ns();
    return NULL;
}

static void *handoff_main(void *arg)
{
    handoff_state *s = arg;
    handoff_task ts[2] = {{s, 1}, {s, 2}};
    coil_task *tasks[2];
    int n = 0;

    if ((s->lock = coil_lock_new()) == NULL)
        return handoff_fail(s, "coil_lock_new", errno);
    for (; n < 2; n++)
        if ((tasks[n] = coil_spawn(handoff_worker, &ts[n])) == NULL) {
            handoff_fail(s, "coil_spawn", errno);
            break;
        }
    for (int i = 0; i < n; i++) {
        coil_await(coil_task_future(tasks[i]), NULL);
        coil_task_release(tasks[i]);
    }
    coil_lock_free(s->lock);
    return NULL;
}

static int coil_handoff(long count, uint64_t *elapsed_ns, char *err)
{
    handoff_state s = {NULL, count / 2 ? count / 2 : 1, 0, 0, NULL, 0, 0, 0};
    if (coil_run(handoff_main, &s, NULL) != 0 && s.failed == NULL)
        return fail_errno(err, "coil_run", errno);
    if (s.failed != NULL)
        return fail_errno(err, s.failed, s.err);
    /* Strict alternation, or the lock did not change hands. */
    if (s.repeats > 0) {
        snprintf(err, BENCH_ERR_MAX, "the lock stayed with one task %ld "
                 "times: not a handoff", s.repeats);
        return -1;
    }
    *elapsed_ns = s.t1 - s.t0;
    return 0;
}

/* Two threads taking turns to hold the mutex; cond_wait gives it up. */
typedef struct pt_handoff {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;                /* 0 or 1: whose turn it is */
    long per_thread;
} pt_handoff;

typedef struct pt_handoff_arg {
    pt_handoff *h;
    int id;
} pt_handoff_arg;

static void *pt_handoff_worker(void *arg)
{
    pt_handoff_arg *a = arg;
    pt_handoff *h = a->h;
    pthread_mutex_lock(&h->mu);
    for (long i = 0; i < h->per_thread; i++) {
        while (h->turn != a->id)
            pthread_cond_wait(&h->cv, &h->mu);
        h->turn = !a->id;
        pthread_cond_signal(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int pthread_handoff(long count, uint64_t *elapsed_ns, char *err)
{
    pt_handoff h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                    count / 2 ? count / 2 : 1};
    pt_handoff_arg args[2] = {{&h, 0}, {&h, 1}};
    pthread_t peer;
    int rc = pthread_create(&peer, NULL, pt_handoff_worker, &args[1]);
    if (rc != 0)
        return fail_errno(err, "pthread_create", rc);
    uint64_t t0 = bench_now_ns();
    pt_handoff_worker(&args[0]);
    pthread_join(peer, NULL);
    *elapsed_ns = bench_now_ns() - t0;
    return 0;
}

int bench_lock_handoff(int use_pthread, long count, uint64_t *elapsed_ns,
                       char *err)
{
    return use_pthread ? pthread_handoff(count, elapsed_ns, err)
                       : coil_handoff(count, elapsed_ns, err);
}

/* ------------------------------------------------------ queue */

typedef struct queue_state {
    coil_queue *q;
    long count;
    const char *failed;
    int err;
    uint64_t t0, t1;
} queue_state;

static void *queue_fail(queue_state *s, const char *call, int e)
{
    if (s->failed == NULL) {
        s->failed = call;
        s->err = e;
    }
    return coil_task_error(e);
}

static void *producer(void *arg)
{
    queue_state *s = arg;
    s->t0 = bench_now_ns();
    for (long i = 1; i <= s->count; i++)
        if (coil_queue_put(s->q, (void *)(uintptr_t)i) != 0)
            return queue_fail(s, "coil_queue_put", errno);
    return NULL;
}

/* Items are 1, 2, 3...: each must come out as the next one. */
static void *consumer(void *arg)
{
    queue_state *s = arg;
    for (long i = 1; i <= s->count; i++) {
        void *item;
        if (coil_queue_get(s->q, &item) != 0)
            return queue_fail(s, "coil_queue_get", errno);
        if (item != (void *)(uintptr_t)i)
            return queue_fail(s, "coil_queue_get (out of order)", EPROTO);
    }
    s->t1 = bench_now_ns();
    return NULL;
}

static void *queue_main(void *arg)
{
    queue_state *s = arg;
    coil_task *tasks[2];
    int n = 0;

    s->q = coil_queue_new(COIL_QUEUE_FIFO, QUEUE_CAP, NULL);
    if (s->q == NULL)
        return queue_fail(s, "coil_queue_new", errno);
    /* The consumer first: it starts out waiting, as a server's would. */
    if ((tasks[n] = coil_spawn(consumer, s)) != NULL)
        n++;
    if (n == 1 && (tasks[n] = coil_spawn(producer, s)) != NULL)
        n++;
    if (n < 2) {
        queue_fail(s, "coil_spawn", errno);
        if (n == 1)
            coil_task_cancel(tasks[0]);
    }
    for (int i = 0; i < n; i++) {
        coil_await(coil_task_future(tasks[i]), NULL);
        coil_task_release(tasks[i]);
    }
    coil_queue_free(s->q);
    return NULL;
}

static int coil_queue_bench(long count, uint64_t *elapsed_ns, char *err)
{
    queue_state s = {NULL, count, NULL, 0, 0, 0};
    if (coil_run(queue_main, &s, NULL) != 0 && s.failed == NULL)
        return fail_errno(err, "coil_run", errno);
    if (s.failed != NULL)
        return fail_errno(err, s.failed, s.err);
    *elapsed_ns = s.t1 - s.t0;
    return 0;
}

/* The textbook bounded buffer: a ring, a mutex, two conditions. */
typedef struct ring {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    void *slot[QUEUE_CAP];
    unsigned head, len;
    long count;
    int out_of_order;
} ring;

static void *ring_consumer(void *arg)
{
    ring *r = arg;
    for (long i = 1; i <= r->count; i++) {
        pthread_mutex_lock(&r->mu);
        while (r->len == 0)
            pthread_cond_wait(&r->not_empty, &r->mu);
        void *item = r->slot[r->head];
        r->head = (r->head + 1) % QUEUE_CAP;
        r->len--;
        pthread_cond_signal(&r->not_full);
        pthread_mutex_unlock(&r->mu);
        if (item != (void *)(uintptr_t)i)
            r->out_of_order = 1;
    }
    return NULL;
}

static int pthread_queue(long count, uint64_t *elapsed_ns, char *err)
{
    ring r;
    pthread_t peer;

    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.not_full, NULL);
    pthread_cond_init(&r.not_empty, NULL);
    r.count = count;
    int rc = pthread_create(&peer, NULL, ring_consumer, &r);
    if (rc != 0)
        return fail_errno(err, "pthread_create", rc);

    uint64_t t0 = bench_now_ns();
    for (long i = 1; i <= count; i++) {
        pthread_mutex_lock(&r.mu);
        while (r.len == QUEUE_CAP)
            pthread_cond_wait(&r.not_full, &r.mu);
        r.slot[(r.head + r.len) % QUEUE_CAP] = (void *)(uintptr_t)i;
        r.len++;
        pthread_cond_signal(&r.not_empty);
        pthread_mutex_unlock(&r.mu);
    }
    pthread_join(peer, NULL);
    *elapsed_ns = bench_now_ns() - t0;
    pthread_cond_destroy(&r.not_empty);
    pthread_cond_destroy(&r.not_full);
    pthread_mutex_destroy(&r.mu);
    if (r.out_of_order)
        return fail_errno(err, "ring (out of order)", EPROTO);
    return 0;
}

int bench_queue(int use_pthread, long count, uint64_t *elapsed_ns, char *err)
{
    return use_pthread ? pthread_queue(count, elapsed_ns, err)
                       : coil_queue_bench(count, elapsed_ns, err);
}
