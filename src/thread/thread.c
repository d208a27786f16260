/*
 * src/thread/thread.c — across threads (layer 5): thread-safe futures
 * for tasks spawned from other threads (the inboxes they travel by are
 * the loop's: src/loop/inbox.c).
 *
 * Thread-safe futures (coil_tfuture) are a mutex, a condition variable and
 * a list of waiting tasks on other loops.  A plain thread blocks on the
 * condition variable; a task registers a waiter and awaits a local future
 * of its own loop, which the completing loop completes by posting to that
 * loop's inbox — the awaiting loop never blocks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coil.h"
#include "core/list.h"
#include "loop/loop.h"
#include "loop/inbox.h"
#include "loop/spin.h"
#include "task/task.h"

/* ------------------------------------------------ thread-safe futures */

enum { TF_PENDING, TF_DONE, TF_CANCELLED };

/* A tfuture's references and whether its outcome is published, in one
 * word: the completer publishes the outcome and lets go of its reference
 * in one atomic step, after its last touch of the future.  So a waiter
 * that sees the outcome finds the completer gone, and its own release is
 * normally the last: the thread that allocated the future frees it.  (The
 * loop's thread freeing it into the waiter's malloc arena contended with
 * the waiter's next allocation: futex calls on a third of the round trips
 * of a spawn + wait.) */
#define TF_REF 1u
#define TF_SETTLED (1u << 31)

/* A task on some loop waiting for a tfuture: `local` is a future of that
 * loop, completed (through that loop's inbox) when the tfuture is. */
typedef struct waiter {
    struct waiter *next;
    coil_loop *loop;
    coil_future *local;           /* the waiter's reference */
    coil__inbox_item note;        /* the notification: completing a tfuture
                                     allocates nothing, so it cannot lose a
                                     waiter for want of memory */
} waiter;

struct coil_tfuture {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint word;             /* references | TF_SETTLED */
    int state;                    /* TF_*: under mu (TF_SETTLED follows) */
    int error;
    void *result;
    waiter *waiters;              /* under mu */
    int cancel_requested;         /* under mu */
    int sleepers;                 /* plain threads in cond_wait: mu */
    coil_time settled_at;         /* when settled, if sleepers: mu */
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
    atomic_init(&tf->word, TF_REF);
    tf->state = TF_PENDING;
    tf->loop = loop;
    return tf;
}

coil_tfuture *coil_tfuture_retain(coil_tfuture *tf)
{
    if (tf)
        atomic_fetch_add_explicit(&tf->word, TF_REF, memory_order_relaxed);
    return tf;
}

static void tf_free(coil_tfuture *tf)
{
    pthread_cond_destroy(&tf->cv);
    pthread_mutex_destroy(&tf->mu);
    free(tf);
}

/* Add `change` to tf's word and free tf if no reference is left. */
static void tf_let_go(coil_tfuture *tf, unsigned change)
{
    unsigned was = atomic_fetch_add_explicit(&tf->word, change,
                                             memory_order_acq_rel);
    if (((was + change) & ~TF_SETTLED) == 0)
        tf_free(tf);
}

int coil_tfuture_release(coil_tfuture *tf)
{
    if (tf)
        tf_let_go(tf, -TF_REF);
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

/* Complete tf (first completion wins), tell everyone waiting, and let go
 * of the spawn's reference, which the caller held: tf may be gone on
 * return. */
static void tf_settle(coil_tfuture *tf, int state, void *result, int error)
{
    pthread_mutex_lock(&tf->mu);
    int first = tf->state == TF_PENDING;
    waiter *ws = NULL;
    if (first) {
        tf->result = result;
        tf->error = error;
        tf->state = state;
        if (tf->sleepers)                /* for their spin's window */
            tf->settled_at = coil_clock();
        ws = tf->waiters;
        tf->waiters = NULL;
        pthread_cond_broadcast(&tf->cv);
    }
    pthread_mutex_unlock(&tf->mu);
    /* Last, in one step (TF_SETTLED's comment says why). */
    tf_let_go(tf, (first ? TF_SETTLED : 0u) - TF_REF);
    while (ws) {
        waiter *w = ws;
        ws = w->next;
        w->note.one = (coil__inbox_slot){waiter_notify, waiter_drop, w};
        if (coil__inbox_post(w->loop, &w->note, 0) != 0)
            waiter_drop(w);     /* its loop is gone, and its task with it */
    }
}

static void on_task_done(coil_future *f, void *arg)
{
    coil_tfuture *tf = arg;
    void *result = NULL;
    int state = TF_DONE, error = 0;
    if (coil_future_result(f, &result) != 0) {
        error = errno;
        state = error == ECANCELED ? TF_CANCELLED : TF_DONE;
    }
    coil_task_release(tf->task);
    tf->task = NULL;
    tf_settle(tf, state, result, error);   /* and the spawn's reference */
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
        tf_settle(tf, TF_DONE, NULL, err);
        return;
    }
    tf->task = t;
    send_cancel(tf);              /* a request that came before the task */
}

static void spawn_drop(void *arg)
{
    tf_settle(arg, TF_DONE, NULL, ESHUTDOWN);
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
    atomic_store(&tf->word, 2 * TF_REF);  /* the caller's, the spawn's */
    if (coil__inbox_submit(loop, spawn_on_loop, spawn_drop, tf, 1) != 0) {
        int err = errno;
        atomic_store(&tf->word, TF_REF);
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
        if (coil__inbox_submit(tf->loop, cancel_on_loop, cancel_drop, tf, 0) != 0) {
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

/* tf's outcome; tf done, and mu held or TF_SETTLED seen by an acquire
 * load (the outcome is written before it, once). */
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

/* A plain thread's spin window for replies (spin.h): it grows each time
 * the thread slept and was woken by the completion, and shrinks when a spin
 * runs out, so a thread whose replies take long soon stops spinning. */
static __thread coil__spin reply_spin;

static int settled(void *arg)
{
    coil_tfuture *tf = arg;
    return (atomic_load_explicit(&tf->word, memory_order_acquire) &
            TF_SETTLED) != 0;
}

/* Before sleeping, watch tf for the spin window (never past the timeout):
 * a reply that lands in it costs neither side a futex call.  Returns
 * whether tf settled. */
static int spin_for(coil_tfuture *tf, coil_time timeout)
{
    coil_time window = coil__spin_window(&reply_spin);
    if (timeout >= 0 && window > timeout)
        window = timeout;
    if (window <= 0)
        return settled(tf);
    if (coil__spin_wait(settled, tf, window))
        return 1;
    coil__spin_missed(&reply_spin);
    return 0;
}

/* A plain thread: spin briefly, then sleep on the condition variable. */
static int wait_blocking(coil_tfuture *tf, coil_time timeout, void **out)
{
    struct timespec until;
    coil_time start = coil_clock();      /* the limit's base, and the
                                            window's adapting */
    if (timeout >= 0) {
        coil_time t = coil__time_after(start, timeout);
        until.tv_sec = (time_t)(t / COIL_SEC(1));
        until.tv_nsec = (long)(t % COIL_SEC(1));
    }
    if (spin_for(tf, timeout)) {
        /* Settled (an acquire load of TF_SETTLED, set after the outcome
         * was written): the outcome is final, and is read without the
         * lock that the loop's thread has just released. */
        return outcome(tf, out);
    }
    pthread_mutex_lock(&tf->mu);
    int err = 0, slept = 0;
    while (tf->state == TF_PENDING && err == 0) {
        tf->sleepers++;
        err = timeout < 0 ? pthread_cond_wait(&tf->cv, &tf->mu)
                          : pthread_cond_timedwait(&tf->cv, &tf->mu, &until);
        tf->sleepers--;
        slept = 1;
    }
    if (slept && tf->state != TF_PENDING)   /* spin.h: when it came */
        coil__spin_slept_since(&reply_spin, start, tf->settled_at);
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

static void describe_tfuture(const void *obj, coil_time now, char *buf,
                             size_t size)
{
    (void)now;
    snprintf(buf, size, "tfuture %p (completed by another thread)", obj);
}

static const coil__wait_kind tfuture_wait = {describe_tfuture, 1};

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
    coil__task_note_wait(&tfuture_wait, tf);
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
    if (coil__inbox_loop_is_mine(tf->loop) && !coil_tfuture_done(tf)) {
        errno = EDEADLK;
        return -1;
    }
    return wait_blocking(tf, timeout, out);
}
