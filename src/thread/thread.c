/*
 * src/thread/thread.c — across threads (layer 5): the loops' inboxes,
 * coil_call_soon_threadsafe, and thread-safe futures for tasks spawned
 * from other threads.
 *
 * Reaching a loop from another thread.  A coil_loop * held by another
 * thread may be freed at any moment by its owner, so a submitter never
 * dereferences it: it looks the pointer up in a registry of live loops,
 * under a read lock, and works with the loop's inbox (and poller) only
 * while holding that lock.  coil_loop_close takes the write lock to
 * unregister, so once it has it no submitter is inside, and none can get
 * in: the inbox and the loop can then be freed.  The lock prefers writers,
 * so a stream of submitters cannot keep a close waiting.
 *
 * The inbox is a mutex-protected FIFO of malloc'd items (one lock hold per
 * submission, a short one).  A submitter that finds it empty wakes the
 * loop (eventfd, coalesced): a loop found asleep then sees the item; one
 * that is running drains at its next iteration, and whoever made the inbox
 * non-empty again after a drain wakes it again, so no item waits for an
 * unrelated wake-up.
 *
 * Thread-safe futures (coil_tfuture) are a mutex, a condition variable and
 * a list of waiting tasks on other loops.  A plain thread blocks on the
 * condition variable; a task registers a waiter and awaits a local future
 * of its own loop, which the completing loop completes by posting to that
 * loop's inbox — the awaiting loop never blocks.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "coil.h"
#include "core/list.h"
#include "loop/loop.h"
#include "loop/poll.h"
#include "loop/inbox.h"

/* ---------------------------------------------------------- the inbox */


typedef struct item {
    struct item *next;            /* in the inbox, until drained */
    coil__inbox *box;             /* counts it while outstanding */
    coil__work work;              /* in the ready queue, once drained */
    coil__list posted;            /* in inbox->posted while in the queue */
    coil_callback fn;
    coil_callback drop;           /* instead of fn if the loop closes */
    void *arg;
    int embedded;                 /* inside its arg's memory: not freed here */
} item;

struct coil__inbox {
    coil_loop *loop;              /* registry key */
    coil__poll *poll;
    struct coil__inbox *bucket_next;
    pthread_mutex_t mu;
    item *head, **tail;           /* under mu */
    atomic_int pending;           /* head != NULL, readable without mu */
    coil__list posted;            /* drained, not yet run: loop thread */
    atomic_long outstanding;      /* submitted, not yet run */
    atomic_long limit;            /* user submissions refused beyond: 0 none */
};

/* The default bound on callbacks submitted to a loop and not yet run: an
 * item is ~80 bytes, so a loop that cannot keep up holds at most ~80 MiB
 * of them before submitters hear EAGAIN. */
#define INBOX_LIMIT_DEFAULT (1L << 20)

#define BUCKETS 64

static pthread_rwlock_t registry_lock =
    PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static coil__inbox *registry[BUCKETS];

static unsigned bucket_of(const coil_loop *loop)
{
    uintptr_t p = (uintptr_t)loop;
    return (unsigned)((p >> 4) ^ (p >> 10)) % BUCKETS;
}

/* Registry lock held (read or write). */
static coil__inbox **find(const coil_loop *loop)
{
    coil__inbox **pp = &registry[bucket_of(loop)];
    while (*pp && (*pp)->loop != loop)
        pp = &(*pp)->bucket_next;
    return pp;
}

coil__inbox *coil__inbox_open(coil_loop *loop, coil__poll *poll)
{
    coil__inbox *in = calloc(1, sizeof *in);
    if (!in) {
        errno = ENOMEM;
        return NULL;
    }
    in->loop = loop;
    in->poll = poll;
    pthread_mutex_init(&in->mu, NULL);
    in->tail = &in->head;
    atomic_init(&in->pending, 0);
    atomic_init(&in->outstanding, 0);
    atomic_init(&in->limit, INBOX_LIMIT_DEFAULT);
    coil__list_init(&in->posted);
    pthread_rwlock_wrlock(&registry_lock);
    coil__inbox **pp = find(loop);
    /* A stale entry for the same address cannot exist: close removes it
     * before the memory can be reused. */
    in->bucket_next = *pp;
    *pp = in;
    pthread_rwlock_unlock(&registry_lock);
    return in;
}

static void item_run(void *arg)
{
    item *it = arg;
    coil__list_remove(&it->posted);
    atomic_fetch_sub_explicit(&it->box->outstanding, 1, memory_order_relaxed);
    coil_callback fn = it->fn;
    void *fn_arg = it->arg;
    if (!it->embedded)
        free(it);
    fn(fn_arg);
}

/* The loop closed first: drop(arg) instead of fn(arg).  An embedded item
 * goes with its arg, which drop frees. */
static void item_drop(item *it)
{
    int own = !it->embedded;
    if (it->drop)
        it->drop(it->arg);
    if (own)
        free(it);
}

void coil__inbox_close(coil__inbox *in)
{
    if (!in)
        return;
    pthread_rwlock_wrlock(&registry_lock);
    coil__inbox **pp = find(in->loop);
    if (*pp == in)
        *pp = in->bucket_next;
    pthread_rwlock_unlock(&registry_lock);
    /* Nobody else can reach in now.  Drops may post to other loops. */
    while (!coil__list_empty(&in->posted)) {
        item *it = coil__container_of(in->posted.next, item, posted);
        coil__list_remove(&it->posted);
        item_drop(it);
    }
    for (item *it = in->head, *next; it; it = next) {
        next = it->next;
        item_drop(it);
    }
    pthread_mutex_destroy(&in->mu);
    free(in);
}

int coil__inbox_pending(coil__inbox *in)
{
    return in && atomic_load_explicit(&in->pending, memory_order_acquire);
}

const atomic_int *coil__inbox_flag(coil__inbox *in)
{
    return &in->pending;
}

void coil__inbox_drain(coil__inbox *in, coil_loop *loop)
{
    if (!coil__inbox_pending(in))
        return;
    pthread_mutex_lock(&in->mu);
    item *it = in->head;
    in->head = NULL;
    in->tail = &in->head;
    atomic_store_explicit(&in->pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&in->mu);
    for (; it; it = it->next) {
        coil__work_init(&it->work, item_run, it);
        coil__list_push_back(&in->posted, &it->posted);
        coil__loop_post(loop, &it->work);
    }
}

/* Whether a user's submission must be refused: the loop is that far
 * behind.  Internal posts (results, wake-ups) are never refused: losing
 * one would lose an outcome somebody waits for. */
static int over_limit(coil__inbox *in)
{
    long limit = atomic_load_explicit(&in->limit, memory_order_relaxed);
    return limit > 0 &&
           atomic_load_explicit(&in->outstanding, memory_order_relaxed) >=
               limit;
}

/* Post fn(arg) to loop from any thread; drop(arg), if not NULL, runs
 * instead (on loop's thread, at its close) if loop closes first.  A
 * `bounded` post (the user's) is refused past the loop's inbox limit.
 * Returns 0, or -1 with errno ESHUTDOWN (no such live loop), EAGAIN
 * (bounded, over the limit) or ENOMEM. */
static int post_item(coil_loop *loop, item *it, int bounded);

static int submit(coil_loop *loop, coil_callback fn, coil_callback drop,
                  void *arg, int bounded)
{
    item *it = malloc(sizeof *it);
    if (!it) {
        errno = ENOMEM;
        return -1;
    }
    *it = (item){.fn = fn, .drop = drop, .arg = arg};
    if (post_item(loop, it, bounded) != 0) {
        int e = errno;
        free(it);
        errno = e;
        return -1;
    }
    return 0;
}

/* submit() with the caller's item (fn, drop, arg set; next NULL): a post
 * that must not fail for want of memory brings its own.  Returns 0, or -1
 * with errno ESHUTDOWN or EAGAIN (bounded), the item untouched then. */
static int post_item(coil_loop *loop, item *it, int bounded)
{
    pthread_rwlock_rdlock(&registry_lock);
    coil__inbox *in = *find(loop);
    if (!in || (bounded && over_limit(in))) {
        pthread_rwlock_unlock(&registry_lock);
        errno = in ? EAGAIN : ESHUTDOWN;
        return -1;
    }
    it->box = in;
    atomic_fetch_add_explicit(&in->outstanding, 1, memory_order_relaxed);
    pthread_mutex_lock(&in->mu);
    int was_empty = in->head == NULL;
    *in->tail = it;
    in->tail = &it->next;
    atomic_store_explicit(&in->pending, 1, memory_order_release);
    pthread_mutex_unlock(&in->mu);
    if (was_empty && !coil__loop_owned(loop))   /* loop is alive: locked */
        coil__poll_wake(in->poll);
    pthread_rwlock_unlock(&registry_lock);
    return 0;
}

int coil__inbox_stop(coil_loop *loop)
{
    pthread_rwlock_rdlock(&registry_lock);
    coil__inbox *in = *find(loop);
    if (in) {
        coil__loop_mark_stop(loop);
        if (!coil__loop_owned(loop))
            coil__poll_wake(in->poll);
    }
    pthread_rwlock_unlock(&registry_lock);
    if (!in) {
        errno = ESHUTDOWN;
        return -1;
    }
    return 0;
}

/* Whether loop is alive and this thread's, without touching a freed loop. */
static int loop_is_mine(const coil_loop *loop)
{
    pthread_rwlock_rdlock(&registry_lock);
    int mine = *find(loop) != NULL && coil__loop_owned(loop);
    pthread_rwlock_unlock(&registry_lock);
    return mine;
}

int coil_call_soon_threadsafe(coil_loop *loop, coil_callback fn, void *arg)
{
    if (!loop || !fn) {
        errno = EINVAL;
        return -1;
    }
    return submit(loop, fn, NULL, arg, 1);
}

int coil__call_soon_threadsafe_always(coil_loop *loop, coil_callback fn,
                                      void *arg)
{
    return submit(loop, fn, NULL, arg, 0);
}

int coil_loop_set_inbox_limit(coil_loop *loop, size_t limit)
{
    if (!loop || limit > LONG_MAX) {
        errno = EINVAL;
        return -1;
    }
    pthread_rwlock_rdlock(&registry_lock);
    coil__inbox *in = *find(loop);
    if (in)
        atomic_store(&in->limit, (long)limit);
    pthread_rwlock_unlock(&registry_lock);
    if (!in) {
        errno = ESHUTDOWN;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------ thread-safe futures */

enum { TF_PENDING, TF_DONE, TF_CANCELLED };

/* A task on some loop waiting for a tfuture: `local` is a future of that
 * loop, completed (through that loop's inbox) when the tfuture is. */
typedef struct waiter {
    struct waiter *next;
    coil_loop *loop;
    coil_future *local;           /* the waiter's reference */
    item note;                    /* the notification: completing a tfuture
                                     allocates nothing, so it cannot lose a
                                     waiter for want of memory */
} waiter;

struct coil_tfuture {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint refs;
    int state;                    /* TF_*, under mu */
    int error;
    void *result;
    waiter *waiters;              /* under mu */
    int cancel_requested;         /* under mu */
    coil_loop *loop;              /* the task's loop */
    /* The task's loop thread only: */
    coil_task *task;
    int cancel_sent;
    coil_task_fn fn;
    void *arg;
    const char *fn_name;
};

static coil_tfuture *tf_new(coil_loop *loop)
{
    coil_tfuture *tf = calloc(1, sizeof *tf);
    if (!tf) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&tf->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);  /* coil_time's clock */
    pthread_cond_init(&tf->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&tf->refs, 1);
    tf->state = TF_PENDING;
    tf->loop = loop;
    return tf;
}

coil_tfuture *coil_tfuture_retain(coil_tfuture *tf)
{
    if (tf)
        atomic_fetch_add_explicit(&tf->refs, 1, memory_order_relaxed);
    return tf;
}

int coil_tfuture_release(coil_tfuture *tf)
{
    if (!tf ||
        atomic_fetch_sub_explicit(&tf->refs, 1, memory_order_acq_rel) != 1)
        return 0;
    pthread_cond_destroy(&tf->cv);
    pthread_mutex_destroy(&tf->mu);
    free(tf);
    return 0;
}

/* On the waiter's loop: wake the task awaiting w->local. */
static void waiter_notify(void *arg)
{
    waiter *w = arg;
    coil_future_set_result(w->local, NULL);   /* EALREADY if it gave up */
    coil_future_release(w->local);
    free(w);
}

/* Its loop closed before the notification ran: the awaiting task is
 * abandoned with it. */
static void waiter_drop(void *arg)
{
    waiter *w = arg;
    coil_future_release(w->local);
    free(w);
}

/* Complete tf (first completion wins) and tell everyone waiting. */
static void tf_complete(coil_tfuture *tf, int state, void *result, int error)
{
    pthread_mutex_lock(&tf->mu);
    if (tf->state != TF_PENDING) {
        pthread_mutex_unlock(&tf->mu);
        return;
    }
    tf->state = state;
    tf->result = result;
    tf->error = error;
    waiter *ws = tf->waiters;
    tf->waiters = NULL;
    pthread_cond_broadcast(&tf->cv);
    pthread_mutex_unlock(&tf->mu);
    while (ws) {
        waiter *w = ws;
        ws = w->next;
        w->note = (item){.fn = waiter_notify, .drop = waiter_drop, .arg = w,
                         .embedded = 1};
        if (post_item(w->loop, &w->note, 0) != 0)
            waiter_drop(w);     /* its loop is gone, and its task with it */
    }
}

static void on_task_done(coil_future *f, void *arg)
{
    coil_tfuture *tf = arg;
    void *result = NULL;
    if (coil_future_result(f, &result) == 0)
        tf_complete(tf, TF_DONE, result, 0);
    else if (errno == ECANCELED)
        tf_complete(tf, TF_CANCELLED, NULL, ECANCELED);
    else
        tf_complete(tf, TF_DONE, NULL, errno);
    coil_task_release(tf->task);
    tf->task = NULL;
    coil_tfuture_release(tf);     /* the spawn's reference */
}

/* Loop thread: deliver a cancellation asked for from elsewhere, once. */
static void send_cancel(coil_tfuture *tf)
{
    pthread_mutex_lock(&tf->mu);
    int wanted = tf->cancel_requested;
    pthread_mutex_unlock(&tf->mu);
    if (wanted && tf->task && !tf->cancel_sent) {
        tf->cancel_sent = 1;
        coil_task_cancel(tf->task);
    }
}

/* On the target loop: spawn the task and watch it. */
static void spawn_on_loop(void *arg)
{
    coil_tfuture *tf = arg;
    coil_task_attr attr = {.loop = tf->loop};
    coil_task *t = coil_task_spawn(&attr, tf->fn, tf->arg, tf->fn_name);
    if (!t || coil_future_add_done_callback(coil_task_future(t),
                                            on_task_done, tf) != 0) {
        int err = errno;
        if (t) {
            coil_task_cancel(t);
            coil_task_release(t);
        }
        tf_complete(tf, TF_DONE, NULL, err);
        coil_tfuture_release(tf);
        return;
    }
    tf->task = t;
    send_cancel(tf);              /* a request that came before the task */
}

static void spawn_drop(void *arg)
{
    tf_complete(arg, TF_DONE, NULL, ESHUTDOWN);
    coil_tfuture_release(arg);
}

coil_tfuture *coil_task_spawn_threadsafe(coil_loop *loop, coil_task_fn fn,
                                         void *arg, const char *fn_name)
{
    if (!loop || !fn) {
        errno = EINVAL;
        return NULL;
    }
    coil_tfuture *tf = tf_new(loop);
    if (!tf)
        return NULL;
    tf->fn = fn;
    tf->arg = arg;
    tf->fn_name = fn_name ? fn_name : "?";
    atomic_store(&tf->refs, 2);   /* the caller's, and the spawn's */
    if (submit(loop, spawn_on_loop, spawn_drop, tf, 1) != 0) {
        int err = errno;
        atomic_store(&tf->refs, 1);
        coil_tfuture_release(tf);
        errno = err;
        return NULL;
    }
    return tf;
}

static void cancel_on_loop(void *arg)
{
    send_cancel(arg);
    coil_tfuture_release(arg);
}

static void cancel_drop(void *arg)
{
    coil_tfuture_release(arg);
}

int coil_tfuture_cancel(coil_tfuture *tf)
{
    if (!tf) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&tf->mu);
    int pending = tf->state == TF_PENDING;
    int first = pending && !tf->cancel_requested;
    tf->cancel_requested |= pending;
    pthread_mutex_unlock(&tf->mu);
    if (!pending)
        return 0;
    if (first) {
        coil_tfuture_retain(tf);
        if (submit(tf->loop, cancel_on_loop, cancel_drop, tf, 0) != 0) {
            int err = errno;
            pthread_mutex_lock(&tf->mu);
            tf->cancel_requested = 0;     /* not sent: a retry must send it */
            pthread_mutex_unlock(&tf->mu);
            coil_tfuture_release(tf);
            errno = err;
            return -1;
        }
    }
    return 1;
}

/* tf's outcome; mu held, tf done. */
static int outcome(coil_tfuture *tf, void **out)
{
    if (tf->error) {
        errno = tf->error;
        return -1;
    }
    if (out)
        *out = tf->result;
    return 0;
}

int coil_tfuture_result(coil_tfuture *tf, void **out)
{
    if (!tf) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&tf->mu);
    int r;
    if (tf->state == TF_PENDING) {
        errno = EAGAIN;
        r = -1;
    } else {
        r = outcome(tf, out);
    }
    pthread_mutex_unlock(&tf->mu);
    return r;
}

int coil_tfuture_done(coil_tfuture *tf)
{
    if (!tf) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&tf->mu);
    int done = tf->state != TF_PENDING;
    pthread_mutex_unlock(&tf->mu);
    return done;
}

/* A plain thread: sleep on the condition variable. */
static int wait_blocking(coil_tfuture *tf, coil_time timeout, void **out)
{
    struct timespec until;
    if (timeout >= 0) {
        coil_time t = coil__time_after(coil_clock(), timeout);
        until.tv_sec = (time_t)(t / COIL_SEC(1));
        until.tv_nsec = (long)(t % COIL_SEC(1));
    }
    pthread_mutex_lock(&tf->mu);
    int err = 0;
    while (tf->state == TF_PENDING && err == 0)
        err = timeout < 0 ? pthread_cond_wait(&tf->cv, &tf->mu)
                          : pthread_cond_timedwait(&tf->cv, &tf->mu, &until);
    int r;
    if (tf->state != TF_PENDING) {
        r = outcome(tf, out);
    } else {
        errno = err;               /* ETIMEDOUT */
        r = -1;
    }
    pthread_mutex_unlock(&tf->mu);
    return r;
}

typedef struct waiting {
    coil_tfuture *tf;
    waiter *w;
    coil_future *local;           /* the waiting task's reference */
} waiting;

/* After the wait, returned from or unwound: drop the task's reference to
 * its local future, and take w off tf's list if the completer has not
 * taken it (then the notification owns it).  Compares pointers only: w
 * may already be freed. */
static void waiter_forget(void *arg)
{
    waiting *wg = arg;
    coil_future_release(wg->local);
    pthread_mutex_lock(&wg->tf->mu);
    waiter *found = NULL;
    for (waiter **pp = &wg->tf->waiters; *pp; pp = &(*pp)->next)
        if (*pp == wg->w) {
            found = *pp;
            *pp = found->next;
            break;
        }
    pthread_mutex_unlock(&wg->tf->mu);
    if (found)
        waiter_drop(found);
}

/* A task: await a local future that tf's completion completes. */
static int wait_in_task(coil_tfuture *tf, coil_time timeout, void **out)
{
    coil_future *local = coil_future_new(NULL);
    waiter *w = malloc(sizeof *w);
    if (!local || !w) {
        coil_future_release(local);
        free(w);
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_lock(&tf->mu);
    if (tf->state != TF_PENDING) {
        int r = outcome(tf, out);
        int err = errno;
        pthread_mutex_unlock(&tf->mu);
        coil_future_release(local);
        free(w);
        errno = err;
        return r;
    }
    w->loop = coil_loop_current();
    w->local = coil_future_retain(local);
    w->next = tf->waiters;
    tf->waiters = w;
    pthread_mutex_unlock(&tf->mu);

    waiting wg = {tf, w, local};
    int r, err;
    coil_cleanup_push(waiter_forget, &wg);
    r = timeout < 0 ? coil_await(local, NULL)
                    : coil_wait_for(local, timeout, NULL);
    err = errno;
    coil_cleanup_pop(1);
    pthread_mutex_lock(&tf->mu);
    if (tf->state != TF_PENDING && (r == 0 || err == ETIMEDOUT)) {
        r = outcome(tf, out);
        err = errno;
    }
    pthread_mutex_unlock(&tf->mu);
    errno = err;
    return r;
}

int coil_tfuture_wait(coil_tfuture *tf, coil_time timeout, void **out)
{
    if (!tf) {
        errno = EINVAL;
        return -1;
    }
    if (coil_task_current())
        return wait_in_task(tf, timeout, out);
    /* The loop that would complete tf is this thread's and is not
     * running a task: blocking here would wait for ever. */
    if (loop_is_mine(tf->loop) && !coil_tfuture_done(tf)) {
        errno = EDEADLK;
        return -1;
    }
    return wait_blocking(tf, timeout, out);
}
