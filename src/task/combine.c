/*
 * src/task/combine.c — gather, wait, as_completed, wait_for, shield.
 *
 * gather, wait and wait_for share one mechanism, a "watch": a done-callback
 * on every input future counts completions and, once the caller's condition
 * holds (or a timer fires), completes a private wake-up future the caller
 * awaits.  The watch lives in the caller's frame, so it is always taken
 * down before that frame goes away — on return, and by a cleanup handler
 * if the calling task is unwound by cancellation meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "task/future.h"
#include "loop/loop.h"
#include "task/task.h"

/* ---------------------------------------------------------------- watch */

typedef struct watch {
    coil_future *const *fs;
    size_t n;
    int mode;                     /* enum coil_wait_mode */
    size_t completed;             /* entries of fs seen done */
    coil_future *first_failure;   /* in completion order */
    coil_future *wake;            /* completed when the wait is over */
    coil_handle *timer;
    int cancel_on_unwind;         /* gather, wait_for: take the inputs along */
} watch;

static int failed(const coil_future *f)
{
    return f->state == COIL_CANCELLED || (f->state == COIL_DONE && f->error);
}

static int satisfied(const watch *w)
{
    switch (w->mode) {
    case COIL_FIRST_COMPLETED:
        return w->completed > 0 || w->n == 0;
    case COIL_FIRST_EXCEPTION:
        return w->first_failure || w->completed == w->n;
    default:
        return w->completed == w->n;
    }
}

static void note_done(watch *w, coil_future *f)
{
    w->completed++;
    if (!w->first_failure && failed(f))
        w->first_failure = f;
    if (satisfied(w) && !coil_future_done(w->wake))
        coil_future_set_result(w->wake, NULL);
}

static void watch_on_done(coil_future *f, void *arg)
{
    note_done(arg, f);
}

static void watch_on_timeout(void *arg)
{
    watch *w = arg;
    if (!coil_future_done(w->wake))
        coil_future_set_result(w->wake, NULL);
}

static void watch_stop(watch *w)
{
    for (size_t i = 0; i < w->n; i++)
        coil_future_remove_done_callback(w->fs[i], watch_on_done, w);
    coil__timer_disarm(&w->timer);
    coil_future_release(w->wake);
    w->wake = NULL;
}

/* Cleanup handler: the calling task is being unwound inside the wait. */
static void watch_unwound(void *arg)
{
    watch *w = arg;
    coil_future *const *fs = w->fs;
    size_t n = w->n;
    int cancel = w->cancel_on_unwind;
    watch_stop(w);
    for (size_t i = 0; cancel && i < n; i++)
        coil_future_cancel(fs[i]);
}

/* NULLs are EINVAL; the calling task's own future would never complete
 * while it waits for it, so that is EDEADLK (as coil_await says). */
static int check_inputs(coil_future *const *fs, size_t n)
{
    if (!fs && n) {
        errno = EINVAL;
        return -1;
    }
    coil_future *self = coil_task_future(coil_task_current());
    for (size_t i = 0; i < n; i++) {
        if (coil__future_check(fs[i]) != 0)
            return -1;
        if (fs[i] == self) {
            errno = EDEADLK;
            return -1;
        }
    }
    return 0;
}

static int watch_start(watch *w, coil_future *const *fs, size_t n, int mode,
                       coil_time timeout)
{
    memset(w, 0, sizeof *w);
    w->fs = fs;
    w->n = n;
    w->mode = mode;
    coil_loop *loop = n ? fs[0]->loop : NULL;
    if (!(w->wake = coil_future_new(loop)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (coil_future_done(fs[i]))
            note_done(w, fs[i]);
        else if (coil_future_add_done_callback(fs[i], watch_on_done, w) != 0)
            goto fail;
    }
    if (satisfied(w) && !coil_future_done(w->wake))
        coil_future_set_result(w->wake, NULL);
    if (timeout >= 0 &&
        coil_call_later(w->wake->loop, timeout, watch_on_timeout, w,
                        &w->timer) != 0)
        goto fail;
    return 0;
fail:
    watch_stop(w);
    errno = ENOMEM;
    return -1;
}

/* Wait until the watch is over; the watch is stopped on every way out. */
static int watch_wait(watch *w)
{
    int r;
    coil_cleanup_push(watch_unwound, w);
    r = coil_await(w->wake, NULL);
    coil_cleanup_pop(0);
    int e = errno;
    watch_stop(w);
    errno = e;
    return r;
}

/* ---------------------------------------------------------------- gather */

int coil_gather(coil_future *const *fs, size_t n, void **results, int *errors,
                int policy)
{
    if (check_inputs(fs, n) != 0)
        return -1;
    if (policy != COIL_GATHER_FIRST_ERROR &&
        policy != COIL_GATHER_COLLECT_ERRORS) {
        errno = EINVAL;
        return -1;
    }
    watch w;
    int mode = policy == COIL_GATHER_FIRST_ERROR ? COIL_FIRST_EXCEPTION
                                                 : COIL_ALL_COMPLETED;
    if (watch_start(&w, fs, n, mode, -1) != 0)
        return -1;
    w.cancel_on_unwind = 1;
    if (watch_wait(&w) != 0) {
        int e = errno;                    /* error-mode cancel of the caller */
        for (size_t i = 0; e == ECANCELED && i < n; i++)
            coil_future_cancel(fs[i]);
        errno = e;
        return -1;
    }
    coil_future *first_failure = w.first_failure;
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        int err = coil_future_result(fs[i], &v) == 0 ? 0 : errno;
        if (results)
            results[i] = err ? NULL : v;
        if (errors)
            errors[i] = err;
    }
    if (policy == COIL_GATHER_FIRST_ERROR && first_failure) {
        int err = coil_future_result(first_failure, NULL) == 0 ? 0 : errno;
        for (size_t i = 0; i < n; i++)
            coil_future_cancel(fs[i]);
        errno = err;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ wait */

int coil_wait(coil_future *const *fs, size_t n, int mode, coil_time timeout,
              coil_future **done, size_t *ndone, coil_future **pending,
              size_t *npending)
{
    if (check_inputs(fs, n) != 0)
        return -1;
    if (mode < COIL_ALL_COMPLETED || mode > COIL_FIRST_EXCEPTION) {
        errno = EINVAL;
        return -1;
    }
    watch w;
    if (watch_start(&w, fs, n, mode, timeout) != 0 || watch_wait(&w) != 0)
        return -1;
    size_t d = 0, p = 0;
    for (size_t i = 0; i < n; i++) {
        if (coil_future_done(fs[i])) {
            if (done)
                done[d] = fs[i];
            d++;
        } else {
            if (pending)
                pending[p] = fs[i];
            p++;
        }
    }
    if (ndone)
        *ndone = d;
    if (npending)
        *npending = p;
    return 0;
}

/* -------------------------------------------------------------- wait_for */

int coil_wait_for(coil_future *f, coil_time timeout, void **out)
{
    if (check_inputs(&f, 1) != 0)
        return -1;
    watch w;
    if (watch_start(&w, &f, 1, COIL_FIRST_COMPLETED, timeout) != 0)
        return -1;
    w.cancel_on_unwind = 1;
    if (watch_wait(&w) != 0) {
        int e = errno;
        coil_future_cancel(f);            /* error-mode cancel of the caller */
        errno = e;
        return -1;
    }
    if (!coil_future_done(f)) {
        coil_future_cancel(f);
        /* Let its cancellation finish (cleanup handlers and all).  Shielded,
         * so that an ECANCELED from the await can only be f's; a request
         * for the caller that arrives meanwhile is delivered at the end. */
        int in_task = coil_task_current() != NULL;
        if (in_task)
            coil_shield_begin();
        int r = coil_await(f, out);
        int e = errno;
        if (in_task && coil_shield_end() != 0)
            return -1;                    /* the caller's own: ECANCELED */
        if (r == 0) {
            errno = 0;                    /* not the cancellation's ECANCELED */
            return 0;                     /* it completed after all */
        }
        errno = e == ECANCELED ? ETIMEDOUT : e;
        return -1;
    }
    return coil_future_result(f, out);
}

/* ------------------------------------------------------------ as_completed */

struct coil_as_completed {
    coil_future **fs;
    size_t n;
    coil_future **ready;          /* completed, not yet handed out */
    size_t nready, handed;
    coil_future *wake;            /* set while next() waits */
    coil_handle *timer;           /* its deadline, while next() waits */
    coil_time deadline;           /* loop time, or -1 */
};

static void ac_on_done(coil_future *f, void *arg)
{
    coil_as_completed *ac = arg;
    ac->ready[ac->nready++] = f;
    if (ac->wake && !coil_future_done(ac->wake))
        coil_future_set_result(ac->wake, NULL);
}

coil_as_completed *coil_as_completed_new(coil_future *const *fs, size_t n,
                                         coil_time timeout)
{
    if (check_inputs(fs, n) != 0)
        return NULL;
    coil_as_completed *ac = calloc(1, sizeof *ac);
    if (!ac || !(ac->fs = calloc(n + 1, sizeof *ac->fs)) ||
        !(ac->ready = calloc(n + 1, sizeof *ac->ready)))
        goto fail;
    if (n)
        memcpy(ac->fs, fs, n * sizeof *fs);
    ac->n = n;
    ac->deadline = -1;
    if (n && timeout >= 0)
        ac->deadline = coil__time_after(coil_loop_time(fs[0]->loop), timeout);
    for (size_t i = 0; i < n; i++) {
        if (coil_future_done(fs[i]))
            ac->ready[ac->nready++] = fs[i];
        else if (coil_future_add_done_callback(fs[i], ac_on_done, ac) != 0)
            goto fail;
    }
    return ac;
fail:
    coil_as_completed_free(ac);
    errno = ENOMEM;
    return NULL;
}

static void ac_timeout(void *arg)
{
    coil_future *wake = arg;
    if (!coil_future_done(wake))
        coil_future_set_result(wake, NULL);
}

static void ac_unwound(void *arg)
{
    coil_as_completed *ac = arg;
    coil__timer_disarm(&ac->timer);
    coil_future_release(ac->wake);
    ac->wake = NULL;
}

int coil_as_completed_next(coil_as_completed *ac, coil_future **out)
{
    if (!ac || !out) {
        errno = EINVAL;
        return -1;
    }
    if (ac->handed == ac->n) {
        errno = ENOENT;
        return -1;
    }
    if (ac->handed == ac->nready) {
        coil_loop *loop = ac->fs[0]->loop;
        if (!(ac->wake = coil_future_new(loop)))
            return -1;
        if (ac->deadline >= 0 &&
            coil_call_at(loop, ac->deadline, ac_timeout, ac->wake, &ac->timer) != 0) {
            ac_unwound(ac);
            return -1;
        }
        int r;
        coil_cleanup_push(ac_unwound, ac);
        r = coil_await(ac->wake, NULL);
        coil_cleanup_pop(1);
        if (r != 0)
            return -1;
        if (ac->handed == ac->nready) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    *out = ac->ready[ac->handed++];
    return 0;
}

void coil_as_completed_free(coil_as_completed *ac)
{
    if (!ac)
        return;
    for (size_t i = 0; ac->fs && i < ac->n; i++)
        coil_future_remove_done_callback(ac->fs[i], ac_on_done, ac);
    free(ac->fs);
    free(ac->ready);
    free(ac);
}

/* ----------------------------------------------------------- task group */

struct coil_group {
    coil_loop *loop;
    coil_task **tasks;
    size_t n, cap;
    coil_future **fs;             /* group_join's view of tasks */
    size_t fs_cap;
    int failure;                  /* first failure's errno, 0 if none */
    int cancelling;               /* after a failure, or being unwound */
    coil_cleanup catcher;         /* in the owning task's cleanup chain */
    int in_chain;
};

static void group_cancel_all(coil_group *g)
{
    g->cancelling = 1;
    for (size_t i = 0; i < g->n; i++)
        coil_task_cancel(g->tasks[i]);
}

/* The first task to fail makes the group cancel the others.  Cancellations
 * the group made itself are not failures. */
static void group_on_done(coil_future *f, void *arg)
{
    coil_group *g = arg;
    if (g->failure || !failed(f) || (f->state == COIL_CANCELLED && g->cancelling))
        return;
    g->failure = f->state == COIL_CANCELLED ? ECANCELED : f->error;
    group_cancel_all(g);
}

/* Wait for every task, including those that tasks of the group spawn into
 * it while it waits (the crawler pattern); the caller's own cancellation
 * may interrupt.  The futures array belongs to the group, so a wait that
 * unwinds leaves nothing for the unwinding to free. */
static int group_join(coil_group *g)
{
    size_t n;
    do {
        n = g->n;
        if (n > g->fs_cap) {
            coil_future **fs = realloc(g->fs, n * sizeof *fs);
            if (!fs) {
                errno = ENOMEM;
                return -1;
            }
            g->fs = fs;
            g->fs_cap = n;
        }
        for (size_t i = 0; i < n; i++)
            g->fs[i] = coil_task_future(g->tasks[i]);
        if (coil_wait(g->fs, n, COIL_ALL_COMPLETED, -1, NULL, NULL, NULL,
                      NULL) != 0)
            return -1;
    } while (g->n != n);
    return 0;
}

static void group_free(coil_group *g)
{
    if (g->in_chain)
        coil__cleanup_remove(&g->catcher);
    for (size_t i = 0; i < g->n; i++) {
        coil_future_remove_done_callback(coil_task_future(g->tasks[i]),
                                         group_on_done, g);
        coil_task_release(g->tasks[i]);
    }
    free(g->tasks);
    free(g->fs);
    free(g);
}

/* Cleanup handler: the owner is unwound before (or inside) the wait.  The
 * tasks are cancelled and waited for (cleanup may suspend), so none
 * outlives the scope that made it. */
static void group_unwound(void *arg)
{
    coil_group *g = arg;
    g->in_chain = 0;                  /* unwinding popped it */
    group_cancel_all(g);
    while (group_join(g) != 0 && errno == ENOMEM)
        coil_yield();
    group_free(g);
}

coil_group *coil_group_new(void)
{
    coil_task *owner = coil_task_current();
    coil_loop *loop = owner ? coil_task_future(owner)->loop
                            : coil__loop_resolve(NULL);
    if (!loop)
        return NULL;
    coil_group *g = calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    g->loop = loop;
    if (owner) {
        g->catcher = (coil_cleanup){group_unwound, g, NULL, 0};
        coil__cleanup_push(&g->catcher);
        g->in_chain = 1;
    }
    return g;
}

coil_task *coil_group_spawn(coil_group *g, const coil_task_attr *attr,
                            coil_task_fn fn, void *arg, const char *fn_name)
{
    if (!g) {
        errno = EINVAL;
        return NULL;
    }
    if (g->cancelling) {
        errno = ECANCELED;
        return NULL;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        coil_task **tasks = realloc(g->tasks, cap * sizeof *tasks);
        if (!tasks) {
            errno = ENOMEM;
            return NULL;
        }
        g->tasks = tasks;
        g->cap = cap;
    }
    coil_task_attr a = attr ? *attr : (coil_task_attr){0};
    a.loop = g->loop;
    coil_task *t = coil_task_spawn(&a, fn, arg, fn_name);
    if (!t)
        return NULL;
    if (coil_future_add_done_callback(coil_task_future(t), group_on_done, g)) {
        coil_task_cancel(t);
        coil_task_release(t);
        errno = ENOMEM;
        return NULL;
    }
    g->tasks[g->n++] = t;
    return t;
}

int coil_group_cancel(coil_group *g)
{
    if (!g) {
        errno = EINVAL;
        return -1;
    }
    if (!g->failure)
        g->failure = ECANCELED;       /* what wait reports */
    group_cancel_all(g);
    return 0;
}

int coil_group_wait(coil_group *g)
{
    if (!g) {
        errno = EINVAL;
        return -1;
    }
    int r = group_join(g);
    if (r != 0) {
        /* The caller was cancelled (error mode) or out of memory: take the
         * tasks down with it, shielded so that their cleanup completes. */
        int e = errno;
        group_cancel_all(g);
        coil_shield_begin();
        while (group_join(g) != 0 && errno == ENOMEM)
            coil_yield();
        coil_shield_end();
        group_free(g);
        errno = e;
        return -1;
    }
    int failure = g->failure;
    group_free(g);
    if (failure) {
        errno = failure;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- shield */

static void copy_outcome(coil_future *f, void *arg)
{
    coil_future *s = arg;
    if (!coil_future_done(s)) {
        void *v = NULL;
        if (f->state == COIL_CANCELLED)
            coil_future_cancel(s);
        else if (coil_future_result(f, &v) != 0)  /* marks the error read */
            coil_future_set_error(s, errno);
        else
            coil_future_set_result(s, v);
    }
    coil_future_release(s);               /* the callback's reference */
}

coil_future *coil_shield(coil_future *f)
{
    if (!f) {
        errno = EINVAL;
        return NULL;
    }
    coil_future *s = coil_future_new(f->loop);
    if (!s)
        return NULL;
    coil_future_retain(s);
    if (coil_future_add_done_callback(f, copy_outcome, s) != 0) {
        coil_future_release(s);
        coil_future_release(s);
        return NULL;
    }
    return s;
}
