/*
 * src/thread/executor.c — the executor (layer 5): a bounded pool of threads that
 * runs blocking functions for tasks (coil_to_thread, asyncio's to_thread).
 *
 * One pool per process, shared by the tasks of every loop on every thread,
 * started at the first coil_to_thread.  Its queue is a mutex-protected FIFO
 * of job records with a capacity; a submitter that finds it full does not
 * block its loop: it registers a slot waiter and awaits a local future.
 * A pool thread that takes a job off the queue frees a slot, reserves it
 * for the longest-waiting submitter (so nobody overtakes a waiter) and
 * wakes that submitter through its loop's inbox (coil_call_soon_threadsafe).
 *
 * The calling task awaits a local future too; the pool thread that ran fn
 * posts the completion to the caller's loop, which completes the future
 * there.  Cancellation of the waiting task returns at once:
 *   - a job still queued is taken off the queue (fn never runs);
 *   - a job running is marked abandoned: its late result goes to the
 *     abandon callback (if any) and is otherwise dropped;
 *   - a completion already posted finds the caller gone and does the same.
 * Job records and slot waiters are each shared by two parties (the caller
 * and the pool side) and freed by whichever lets go last (atomic counts).
 * coil objects (the local futures) are only ever touched on the caller's
 * loop thread: the caller owns them, and hands them back to nobody.
 *
 * A pool thread with nothing to do spins for a while (loop/spin.h) before
 * it sleeps on the condition variable, as pool.idle (one at a time: one
 * spinner catches the next job as well as four would).  A submitter that
 * finds it there takes it (an atomic exchange, no lock) and hands it the
 * job itself (never queued: it takes no slot) and a flag instead of a
 * futex wake-up; the spinner runs it without taking mu.  A thread becomes
 * the spinner under mu, having seen the queue empty, and one that gives up
 * takes itself back with a compare-and-swap (or, beaten to it, waits for
 * the job on its way) and then looks at the queue under mu before it
 * sleeps, so a job is never left with every thread asleep.  A job's end
 * takes no lock either (its state, below).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coil.h"
#include "core/fork.h"
#include "core/list.h"
#include "loop/inbox.h"
#include "task/task.h"
#include "loop/spin.h"

#define DEFAULT_THREADS 4
#define DEFAULT_QUEUE 256
#define MAX_THREADS 1024
#define MAX_QUEUE (1u << 20)

/* A job's state.  QUEUED -> RUNNING under mu (taken off the queue, or
 * handed); then, without mu, the pool thread's DONE and the caller's
 * ABANDONED race, and whichever comes second sees the other: a finished
 * job's completion costs neither side the pool mutex. */
enum { J_QUEUED, J_RUNNING, J_DONE, J_ABANDONED };

typedef struct job {
    coil__list link;              /* in pool.queue while J_QUEUED (mu) */
    atomic_int refs;              /* caller + pool side */
    atomic_int state;             /* J_* */
    void *(*fn)(void *);
    void *arg;
    void *result;                 /* written by the pool thread, read after
                                     the completion was posted */
    void (*abandon)(void *arg, void *result);
    coil_loop *loop;              /* the caller's */
    int caller_cpu;               /* sched_getcpu() where it was asked */
    int ran_cpu;                  /* and where fn ran (-1: unknown) */
    coil_time queued_at;          /* when it joined the queue (mu) */
    coil_future *fut;             /* loop thread only; NULL once abandoned */
    int delivered;                /* fut was completed (loop thread) */
    coil__reply reply;            /* job_complete, watched or posted */
} job;

/* For a task dump: "executor job blocking_fn(0x..)"; the pool thread may
 * be running it, so only the fields set before it was queued are read. */
static void describe_job(const void *obj, coil_time now, char *buf,
                         size_t size)
{
    (void)now;
    const job *j = obj;
    Dl_info at;
    if (dladdr((void *)(size_t)j->fn, &at) && at.dli_sname)
        snprintf(buf, size, "executor job %s(%p)", at.dli_sname, j->arg);
    else
        snprintf(buf, size, "executor job %p(%p)", (void *)(size_t)j->fn,
                 j->arg);
}

static void describe_slot(const void *obj, coil_time now, char *buf,
                          size_t size)
{
    (void)obj;
    (void)now;
    snprintf(buf, size, "a free slot in the executor's full queue");
}

static const coil__wait_kind job_wait_kind = {describe_job, 1};
static const coil__wait_kind slot_wait_kind = {describe_slot, 1};
/* A pool thread spinning for a job: on its stack, in pool.idle. */
typedef struct spinner {
    struct job *job;              /* the job handed to it */
    atomic_int handed;            /* job is set (stored after job) */
} spinner;

typedef struct slot_waiter {
    coil__list link;              /* in pool.waiters until woken (mu) */
    atomic_int refs;              /* caller + the wake-up */
    int woken;                    /* holds a reserved slot (mu) */
    coil_loop *loop;
    coil_future *fut;             /* loop thread only */
} slot_waiter;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work;
    coil__list queue;             /* of job */
    coil__list waiters;           /* of slot_waiter, FIFO */
    /* The one spinning thread, not handed a job yet, or NULL: set under
     * mu (with the queue seen empty), taken by an exchange without it. */
    spinner *_Atomic idle;
    size_t queued;                /* jobs in queue */
    size_t reserved;              /* slots promised to woken waiters */
    size_t threads, cap;
    int started;                  /* threads running (0: not yet) */
    sigset_t starter_mask;        /* of the thread that started them */
} pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .queue = {&pool.queue, &pool.queue},
    .waiters = {&pool.waiters, &pool.waiters},
    .threads = DEFAULT_THREADS,
    .cap = DEFAULT_QUEUE,
};

/* ------------------------------------------------------------ settings */

/* A setting may change only before the pool starts: after that, EBUSY. */
static int set_before_start(size_t *setting, size_t n, size_t max)
{
    if (n < 1 || n > max) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&pool.mu);
    int busy = pool.started;
    if (!busy)
        *setting = n;
    pthread_mutex_unlock(&pool.mu);
    if (busy) {
        errno = EBUSY;
        return -1;
    }
    return 0;
}

int coil_executor_set_threads(size_t n)
{
    return set_before_start(&pool.threads, n, MAX_THREADS);
}

int coil_executor_set_queue_size(size_t n)
{
    return set_before_start(&pool.cap, n, MAX_QUEUE);
}

/* ------------------------------------------------------------- helpers */

static void pause_briefly(void)
{
    struct timespec ts = {0, 1000000L};
    nanosleep(&ts, NULL);
}

static void job_unref(job *j)
{
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1)
        free(j);
}

static void waiter_unref(slot_waiter *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1)
        free(w);
}

/* Post fn(arg) to loop.  ENOMEM is retried (a waiting task must hear);
 * returns -1 only if the loop is gone (and the task waiting on it with
 * it). */
static int post(coil_loop *loop, coil_callback fn, void *arg)
{
    for (;;) {
        if (coil__call_soon_threadsafe_always(loop, fn, arg) == 0)
            return 0;
        if (errno != ENOMEM)
            return -1;
        pause_briefly();
    }
}

/* Loop thread of w: its reserved slot is ready. */
static void waiter_wake(void *arg)
{
    slot_waiter *w = arg;
    if (w->fut)
        (void)coil_future_set_result(w->fut, NULL);
    waiter_unref(w);
}

/* mu held: reserve free slots for the longest waiters; move them to
 * *wake for waking after unlock. */
static void reserve_locked(coil__list *wake)
{
    while (!coil__list_empty(&pool.waiters) &&
           pool.queued + pool.reserved < pool.cap) {
        coil__list *n = pool.waiters.next;
        coil__list_remove(n);
        slot_waiter *w = coil__container_of(n, slot_waiter, link);
        w->woken = 1;
        pool.reserved++;
        coil__list_push_back(wake, n);
    }
}

static void wake_all(coil__list *wake)
{
    while (!coil__list_empty(wake)) {
        coil__list *n = wake->next;
        coil__list_remove(n);
        slot_waiter *w = coil__container_of(n, slot_waiter, link);
        if (post(w->loop, waiter_wake, w) != 0) {
            /* Its loop is closed: nobody will use the slot. */
            coil__list more;
            coil__list_init(&more);
            pthread_mutex_lock(&pool.mu);
            pool.reserved--;
            reserve_locked(&more);
            pthread_mutex_unlock(&pool.mu);
            waiter_unref(w);
            wake_all(&more);
        }
    }
}

/* ------------------------------------------------------- pool threads */

/* Loop thread of j: the result is in. */
static void job_complete(void *arg)
{
    job *j = arg;
    int here = sched_getcpu();
    coil__inbox_note_reply(coil__loop_inbox(j->loop),
                           here >= 0 && here == j->ran_cpu);
    if (j->fut) {
        j->delivered = 1;
        (void)coil_future_set_result(j->fut, NULL);
    } else if (j->abandon)
        j->abandon(j->arg, j->result);
    job_unref(j);
}

static int was_handed(void *arg)
{
    spinner *me = arg;
    return atomic_load_explicit(&me->handed, memory_order_acquire);
}

/* mu held: take the first queued job, if any, and reserve the slot it
 * frees for the longest slot waiter (moved to *wake). */
static job *take_queued(coil__list *wake)
{
    if (coil__list_empty(&pool.queue))
        return NULL;
    coil__list *n = pool.queue.next;
    coil__list_remove(n);
    pool.queued--;
    job *j = coil__container_of(n, job, link);
    atomic_store_explicit(&j->state, J_RUNNING, memory_order_relaxed);
    reserve_locked(wake);
    return j;
}

/* mu held, the queue empty.  If the window allows and no other thread
 * spins, spin until a submitter hands this thread a job: returns it
 * with mu released (the submitter marked it running; it never touched
 * the queue).  Otherwise, or if none came, returns NULL with mu held,
 * having slept on the condition variable unless the queue filled
 * meanwhile; the queue may still be empty then (another thread took the
 * job, or a spurious wake-up). */
static job *wait_for_job(coil__spin *sp, int no_spin)
{
    coil_time window = no_spin ? 0 : coil__spin_window_probing(sp);
    coil_time start = coil_clock();      /* for the window's adapting */
    /* One spinner catches the next job as well as four would: the others
     * would only take the CPU from the threads that make the jobs. */
    if (window > 0 &&
        atomic_load_explicit(&pool.idle, memory_order_relaxed) == NULL) {
        spinner me = {.job = NULL};
        atomic_init(&me.handed, 0);
        atomic_store_explicit(&pool.idle, &me, memory_order_release);
        pthread_mutex_unlock(&pool.mu);
        if (coil__spin_wait(was_handed, &me, window)) {
            coil__spin_caught(sp, start);
            return me.job;               /* no lock taken: the fast path */
        }
        spinner *expect = &me;
        if (!atomic_compare_exchange_strong(&pool.idle, &expect, NULL)) {
            /* A submitter took it: the job is on its way. */
            while (!coil__spin_wait(was_handed, &me, window))
                ;
            return me.job;
        }
        pthread_mutex_lock(&pool.mu);
        coil__spin_missed(sp);
        if (!coil__list_empty(&pool.queue))
            return NULL;
    }
    pthread_cond_wait(&pool.work, &pool.mu);
    if (!coil__list_empty(&pool.queue)) {    /* spin.h: when it came */
        job *first = coil__container_of(pool.queue.next, job, link);
        coil__spin_slept_since(sp, start, first->queued_at);
    }
    return NULL;
}

/* The next job to run, handed or taken off the queue; mu not held.
 * no_spin: sleep at once if there is none. */
static job *next_job(coil__spin *sp, int no_spin)
{
    coil__list wake;
    coil__list_init(&wake);
    pthread_mutex_lock(&pool.mu);
    job *j;
    while ((j = take_queued(&wake)) == NULL)
        if ((j = wait_for_job(sp, no_spin)) != NULL)
            return j;                    /* handed: mu released, no slot */
    pthread_mutex_unlock(&pool.mu);
    wake_all(&wake);
    return j;
}

static void *pool_main(void *unused)
{
    (void)unused;
    coil__fork_unblock_since(&pool.starter_mask);   /* core/fork.h */
    coil__spin spin = {0};
    int no_spin = 0;
    for (;;) {
        job *j = next_job(&spin, no_spin);
        /* On its caller's CPU, this thread's spin for the next job would
         * only keep that CPU from the caller, who makes the job: it
         * sleeps instead, and the caller's loop does not spin for this
         * reply either (job_complete).  The kernel puts a thread it
         * wakes near its waker, and without this a pool thread could
         * stay on the loop's CPU for hundreds of calls, each ~15 us. */
        j->ran_cpu = sched_getcpu();
        no_spin = j->ran_cpu >= 0 && j->ran_cpu == j->caller_cpu;
        void *r = j->fn(j->arg);
        j->result = r;
        if (atomic_exchange_explicit(&j->state, J_DONE,
                                     memory_order_acq_rel) == J_ABANDONED) {
            if (j->abandon)
                j->abandon(j->arg, r);
            job_unref(j);
        } else if (!coil__reply_send(&j->reply) &&
                   post(j->loop, job_complete, j) != 0) {
            job_unref(j);   /* the caller's loop is closed */
        }
    }
    return NULL;
}

/* mu held.  Start the pool's threads, with every signal blocked in them
 * (signals belong to the loops' signalfds).  Returns 0, or -1 with errno
 * as pthread_create if not even one thread started. */
static int start_locked(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pool.starter_mask = old;
    coil__fork_program_mask(&pool.starter_mask);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    size_t made = 0;
    int err = 0;
    for (size_t i = 0; i < pool.threads; i++) {
        pthread_t t;
        err = pthread_create(&t, &attr, pool_main, NULL);
        if (err)
            break;
        made++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!made) {
        errno = err;
        return -1;
    }
    pool.threads = made;
    pool.started = 1;
    return 0;
}

/* ------------------------------------------------------------ callers */

/* After a slot wait, returned from or unwound. */
typedef struct slot_wait {
    slot_waiter *w;
    int keep;                     /* keep the reserved slot (success) */
} slot_wait;

static void slot_wait_end(void *arg)
{
    slot_wait *sw = arg;
    slot_waiter *w = sw->w;
    coil__list wake;
    coil__list_init(&wake);
    pthread_mutex_lock(&pool.mu);
    if (!w->woken) {
        coil__list_remove(&w->link);
        waiter_unref(w);          /* the wake-up's: it will never come */
    } else if (!sw->keep) {
        pool.reserved--;          /* pass the slot on */
        reserve_locked(&wake);
    }
    pthread_mutex_unlock(&pool.mu);
    wake_all(&wake);
    coil_future_release(w->fut);
    w->fut = NULL;
    waiter_unref(w);
}

/* Once coil_to_thread's wait is over, returned from or unwound. */
typedef struct job_wait {
    job *j;
    int kept;                     /* the caller took the result */
} job_wait;

/* A job still queued when its caller stops waiting: take it off the queue
 * unless a pool thread took it meanwhile.  Returns the state it found. */
static int unqueue(job *j)
{
    coil__list wake;
    coil__list_init(&wake);
    pthread_mutex_lock(&pool.mu);
    int state = atomic_load_explicit(&j->state, memory_order_relaxed);
    if (state == J_QUEUED) {
        coil__list_remove(&j->link);
        pool.queued--;
        reserve_locked(&wake);
    }
    pthread_mutex_unlock(&pool.mu);
    wake_all(&wake);
    return state;
}

static void job_wait_end(void *arg)
{
    job_wait *jw = arg;
    job *j = jw->j;
    coil__inbox *in = coil__loop_inbox(j->loop);
    coil__inbox_expect_replies(in, -1);
    coil__inbox_drop_reply(in, &j->reply);
    coil_future_release(j->fut);
    j->fut = NULL;
    int state = atomic_load_explicit(&j->state, memory_order_acquire);
    if (state == J_QUEUED)
        state = unqueue(j);
    /* Running: tell the pool thread, unless it finished meanwhile. */
    if (state == J_RUNNING &&
        !atomic_compare_exchange_strong_explicit(&j->state, &state,
                                                 J_ABANDONED,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire))
        state = J_DONE;
    if (state == J_QUEUED) {
        if (j->abandon)
            j->abandon(j->arg, NULL);
        job_unref(j);             /* the pool's: fn will never run */
    } else if (j->delivered && !jw->kept && j->abandon) {
        /* The result arrived, but the cancellation won. */
        j->abandon(j->arg, j->result);
    }
    /* Otherwise the pool thread (J_RUNNING) or the posted completion
     * (J_DONE, not delivered yet: it finds fut NULL) hands the result to
     * abandon. */
    job_unref(j);
}

/* Hand j straight to the spinning pool thread, if there is one: no
 * syscall, no lock, and the queue is not touched (it runs at once).
 * Returns 1 if handed. */
static int hand(job *j)
{
    if (atomic_load_explicit(&pool.idle, memory_order_relaxed) == NULL)
        return 0;
    spinner *s = atomic_exchange_explicit(&pool.idle, NULL,
                                          memory_order_acquire);
    if (s == NULL)
        return 0;
    atomic_store_explicit(&j->state, J_RUNNING, memory_order_relaxed);
    s->job = j;
    atomic_store_explicit(&s->handed, 1, memory_order_release);
    return 1;
}

/* mu held, j ready to go: hand it over, else queue it and wake a sleeping
 * thread.  Returns 1 if handed. */
static int hand_or_queue(job *j)
{
    if (hand(j))
        return 1;
    j->queued_at = coil_clock();
    coil__list_push_back(&pool.queue, &j->link);
    pool.queued++;
    pthread_cond_signal(&pool.work);
    return 0;
}

/* Wait for a queue slot and enqueue j.  Returns 0, or -1 with errno
 * (ECANCELED in error mode, ENOMEM); unwinds if cancelled otherwise. */
static int enqueue(job *j)
{
    if (hand(j))
        return 0;                 /* a thread was spinning: no lock at all */
    pthread_mutex_lock(&pool.mu);
    if (!pool.started && start_locked() != 0) {
        int err = errno;
        pthread_mutex_unlock(&pool.mu);
        errno = err;
        return -1;
    }
    int reserved = 0;
    for (;;) {
        if (reserved ||
            (coil__list_empty(&pool.waiters) &&
             pool.queued + pool.reserved < pool.cap)) {
            if (reserved)
                pool.reserved--;
            /* Handed, j took no queue slot: a slot reserved for us is
             * free again, for the next waiter. */
            coil__list wake;
            coil__list_init(&wake);
            if (hand_or_queue(j) && reserved)
                reserve_locked(&wake);
            pthread_mutex_unlock(&pool.mu);
            wake_all(&wake);
            return 0;
        }
        /* Full (or others wait first): wait, suspended, for a slot. */
        slot_waiter *w = calloc(1, sizeof *w);
        coil_future *fut = w ? coil_future_new(NULL) : NULL;
        if (!fut) {
            pthread_mutex_unlock(&pool.mu);
            free(w);
            errno = ENOMEM;
            return -1;
        }
        atomic_init(&w->refs, 2);
        w->loop = coil_loop_current();
        w->fut = fut;
        coil__list_push_back(&pool.waiters, &w->link);
        pthread_mutex_unlock(&pool.mu);

        slot_wait sw = {w, 0};
        int r, err;
        coil_cleanup_push(slot_wait_end, &sw);
        coil__task_note_wait(&slot_wait_kind, NULL);
        r = coil_await(fut, NULL);
        err = errno;
        sw.keep = r == 0;
        coil_cleanup_pop(1);
        if (r != 0) {
            errno = err;
            return -1;
        }
        reserved = 1;
        pthread_mutex_lock(&pool.mu);
    }
}

/* j never reached the queue. */
static void enqueue_unwound(void *arg)
{
    job *j = arg;
    coil__inbox_drop_reply(coil__loop_inbox(j->loop), &j->reply);
    coil_future_release(j->fut);
    if (j->abandon)
        j->abandon(j->arg, NULL);
    free(j);
}

int coil_to_thread_ex(void *(*fn)(void *), void *arg, void **result,
                      void (*abandon)(void *arg, void *result))
{
    int err = !fn ? EINVAL : !coil_task_current() ? EPERM : 0;
    job *j = NULL;
    coil_future *fut = NULL;
    if (!err) {
        j = calloc(1, sizeof *j);
        fut = j ? coil_future_new(NULL) : NULL;
        if (!fut)
            err = ENOMEM;
    }
    if (err) {
        free(j);
        if (abandon)
            abandon(arg, NULL);
        errno = err;
        return -1;
    }
    atomic_init(&j->refs, 2);
    coil__list_init(&j->link);
    atomic_init(&j->state, J_QUEUED);
    j->fn = fn;
    j->arg = arg;
    j->abandon = abandon;
    j->loop = coil_loop_current();
    j->caller_cpu = sched_getcpu();
    j->fut = fut;
    /* Before the job can reach a pool thread: its reply may be watched. */
    coil__inbox_add_reply(coil__loop_inbox(j->loop), &j->reply,
                          job_complete, j);
    /* Unwinding out of the slot wait must not leak j either. */
    int r;
    coil_cleanup_push(enqueue_unwound, j);
    r = enqueue(j);
    err = errno;
    coil_cleanup_pop(0);
    if (r != 0) {
        enqueue_unwound(j);
        errno = err;
        return -1;
    }
    job_wait jw = {j, 0};
    coil__inbox_expect_replies(coil__loop_inbox(j->loop), 1);
    coil_cleanup_push(job_wait_end, &jw);
    coil__task_note_wait(&job_wait_kind, j);
    r = coil_await(fut, NULL);
    err = errno;
    if (r == 0) {
        jw.kept = 1;
        if (result)
            *result = j->result;
    }
    coil_cleanup_pop(1);
    errno = err;
    return r;
}

int coil_to_thread(void *(*fn)(void *), void *arg, void **result)
{
    return coil_to_thread_ex(fn, arg, result, NULL);
}
