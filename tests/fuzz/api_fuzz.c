/*
 * tests/fuzz/api_fuzz.c — a libFuzzer target for coil's task-level API.
 *
 * Each input is decoded into a sequence of operations, run by a main task
 * on a fresh loop, on a handful of objects: four task slots, a lock, an
 * event, a bounded queue.  Every result is checked against what coil.h
 * documents (the value, or the errno of a failure); misuse must give the
 * documented errno, never a crash.  Every wait has a deadline and the
 * decoding stops after a time budget, so each input runs in bounded time.
 * At the end everything is cancelled, awaited and freed, and the loop must
 * close with no task left.
 *
 * Build and run: tools/fuzz.sh [seconds] (clang, -DCOIL_FUZZ=ON).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"
#include "require.h"

/* r is 0, or -1 with errno one of the listed values. */
#define REQUIRE_OK_OR(r, ...) REQUIRE((r) == 0 || errno_in(__VA_ARGS__, 0))

/* A call that must fail with -1 (or NULL) and exactly errno e. */
#define REQUIRE_FAILS(expr, e)                                              \
    do {                                                                    \
        errno = 0;                                                          \
        long long r_ = (long long)(intptr_t)(expr);                         \
        REQUIRE((r_ == -1 || r_ == 0) && errno == (e));                     \
    } while (0)

enum { NSLOTS = 4, QUEUE_MAX = 2, MAX_OPS = 96 };

typedef struct fuzz {
    const uint8_t *data;
    size_t size, pos;
    coil_time budget_end;         /* no new operation after it */
    coil_task *slots[NSLOTS];
    coil_lock *lock;
    int main_holds_lock;
    coil_event *event;
    coil_queue *queue;
    int shut_down;
    long puts, gets;              /* successful ones, tasks' included */
} fuzz;

static fuzz *cur;

static int errno_in(int first, ...)
{
    int e = errno;
    __builtin_va_list ap;
    __builtin_va_start(ap, first);
    for (int v = first; v != 0; v = __builtin_va_arg(ap, int))
        if (v == e) {
            __builtin_va_end(ap);
            return 1;
        }
    __builtin_va_end(ap);
    return 0;
}

static unsigned byte(fuzz *f)
{
    return f->pos < f->size ? f->data[f->pos++] : 0;
}

/* A deadline 0-3 ms away. */
static coil_time tiny(unsigned b) { return coil_deadline_in(COIL_USEC(b % 4 * 1000)); }

/* ----------------------------------------------------------- task bodies */

/* A task's script comes in its argument: one byte, kind and parameter.
 * Error-mode tasks may also see ECANCELED from any wait. */
static void *body(void *arg)
{
    unsigned b = (unsigned)(uintptr_t)arg;
    fuzz *f = cur;
    void *item;
    int r;
    switch (b % 8) {
    case 0: return (void *)(uintptr_t)(b + 1);
    case 1:
        r = coil_sleep(COIL_MSEC(b / 8 % 4));
        REQUIRE_OK_OR(r, ECANCELED);
        break;
    case 2:
        r = coil_event_wait_until(f->event, tiny(b / 8));
        REQUIRE_OK_OR(r, ETIMEDOUT, ECANCELED);
        break;
    case 3:
        r = coil_lock_acquire_until(f->lock, tiny(b / 8));
        REQUIRE_OK_OR(r, ETIMEDOUT, ECANCELED);
        if (r == 0) {
            coil_cleanup_push(coil_lock_cleanup, f->lock);
            coil_sleep(COIL_USEC(300));
            coil_cleanup_pop(1);
        }
        break;
    case 4:
        r = coil_queue_get_until(f->queue, &item, tiny(b / 8));
        REQUIRE_OK_OR(r, ETIMEDOUT, ECANCELED, ESHUTDOWN);
        f->gets += r == 0;
        break;
    case 5:
        r = coil_queue_put_until(f->queue, f, tiny(b / 8));
        REQUIRE_OK_OR(r, ETIMEDOUT, ECANCELED, ESHUTDOWN);
        f->puts += r == 0;
        break;
    case 6: return coil_task_error(EIO);
    case 7:
        for (unsigned i = 0; i < b / 8 % 8; i++)
            REQUIRE_OK_OR(coil_yield(), ECANCELED);
        break;
    }
    return NULL;
}

/* A task's outcome as coil reports it: 0, EIO from its script, or
 * ECANCELED. */
static void require_outcome(int r)
{
    REQUIRE_OK_OR(r, EIO, ECANCELED);
}

static coil_task *spawn(unsigned script, unsigned mode)
{
    coil_task_attr a = {.flags = mode & 1 ? COIL_TASK_CANCEL_AS_ERROR : 0};
    coil_task *t = coil_task_spawn(&a, body, (void *)(uintptr_t)script, "body");
    REQUIRE(t);
    return t;
}

/* ------------------------------------------------------------ operations */

static void op_spawn(fuzz *f, unsigned s)
{
    if (!f->slots[s])
        f->slots[s] = spawn(byte(f), byte(f));
}

static void op_cancel(coil_task *t)
{
    int done = coil_future_done(coil_task_future(t));
    int r = coil_task_cancel(t);
    REQUIRE(r == (done ? 0 : 1));
}

static void op_release(fuzz *f, unsigned s)
{
    REQUIRE(coil_task_release(f->slots[s]) == 0);
    f->slots[s] = NULL;
}

/* The main task's own lock use: EDEADLK when it holds it, EPERM when it
 * releases what it does not hold. */
static void op_lock(fuzz *f, unsigned b)
{
    if (b & 1) {
        int r = coil_lock_release(f->lock);
        if (f->main_holds_lock)
            REQUIRE(r == 0);
        else
            REQUIRE(r == -1 && errno == EPERM);
        f->main_holds_lock = 0;
        return;
    }
    int r = coil_lock_acquire_until(f->lock, tiny(b / 2));
    if (f->main_holds_lock) {
        REQUIRE(r == -1 && errno == EDEADLK);
        return;
    }
    REQUIRE_OK_OR(r, ETIMEDOUT);
    f->main_holds_lock = r == 0;
}

static void op_queue(fuzz *f, unsigned b)
{
    void *item;
    int r;
    switch (b % 4) {
    case 0:
        r = coil_queue_put_until(f->queue, f, tiny(b / 4));
        REQUIRE(r == 0 || (f->shut_down ? errno == ESHUTDOWN
                                        : errno == ETIMEDOUT));
        f->puts += r == 0;
        break;
    case 1:
        r = coil_queue_get_until(f->queue, &item, tiny(b / 4));
        REQUIRE(r == 0 || errno == (f->shut_down ? ESHUTDOWN : ETIMEDOUT));
        REQUIRE(r != 0 || item == f);
        f->gets += r == 0;
        break;
    case 2:
        r = coil_queue_try_put(f->queue, f);
        REQUIRE(r == 0 || errno == (f->shut_down ? ESHUTDOWN : EAGAIN));
        f->puts += r == 0;
        break;
    case 3:
        REQUIRE(coil_queue_shutdown(f->queue) == 0);
        f->shut_down = 1;
        break;
    }
}

static void op_event(fuzz *f, unsigned b)
{
    switch (b % 3) {
    case 0: REQUIRE(coil_event_set(f->event) == 0); break;
    case 1: REQUIRE(coil_event_clear(f->event) == 0); break;
    case 2: {
        int was_set = coil_event_is_set(f->event);
        int r = coil_event_wait_until(f->event, tiny(b / 3));
        REQUIRE(r == 0 || (!was_set && errno == ETIMEDOUT));
        break;
    }
    }
}

/* A timeout scope with a tiny deadline around a wait of 0-3 ms. */
static void op_scope(fuzz *f, unsigned b)
{
    coil_timeout scope;
    if (coil_timeout_begin(&scope, COIL_USEC(b % 8 * 250)) == 0) {
        if (b & 8)
            coil_sleep(COIL_MSEC(b / 16 % 4));
        else
            coil_event_wait_until(f->event, tiny(b / 16));
    }
    REQUIRE_OK_OR(coil_timeout_end(&scope), ETIMEDOUT);
    REQUIRE(coil_task_cancelling(coil_task_current()) == 0);
}

/* The futures of the live slots, in fs; returns how many. */
static size_t live(fuzz *f, coil_future **fs)
{
    size_t n = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (f->slots[i])
            fs[n++] = coil_task_future(f->slots[i]);
    return n;
}

static void op_gather(fuzz *f, unsigned b)
{
    coil_future *fs[NSLOTS];
    void *results[NSLOTS];
    int errors[NSLOTS];
    size_t n = live(f, fs);
    int r = coil_gather(fs, n, results, errors, (int)(b & 1));
    if (b & 1) {
        REQUIRE(r == 0);
        for (size_t i = 0; i < n; i++)
            REQUIRE(errors[i] == 0 || errors[i] == EIO ||
                    errors[i] == ECANCELED);
    } else {
        require_outcome(r);
    }
}

static void op_wait(fuzz *f, unsigned b)
{
    coil_future *fs[NSLOTS], *done[NSLOTS], *pending[NSLOTS];
    size_t n = live(f, fs), nd = 99, np = 99;
    REQUIRE(coil_wait(fs, n, (int)(b % 3), COIL_USEC(b / 3 % 4 * 1000), done,
                      &nd, pending, &np) == 0);
    REQUIRE(nd + np == n);
    for (size_t i = 0; i < nd; i++)
        REQUIRE(coil_future_done(done[i]) == 1);
    for (size_t i = 0; i < np; i++)
        REQUIRE(coil_future_done(pending[i]) == 0);
}

static void op_wait_for(fuzz *f, unsigned b)
{
    coil_task *t = f->slots[b % NSLOTS];
    if (!t)
        return;
    int r = coil_wait_for(coil_task_future(t), COIL_USEC(b / 4 % 4 * 1000),
                          NULL);
    REQUIRE_OK_OR(r, EIO, ECANCELED, ETIMEDOUT);
    /* On ETIMEDOUT wait_for has cancelled it and waited for the end. */
    REQUIRE(r != -1 || coil_future_done(coil_task_future(t)) == 1);
}

/* Awaiting a shield with a deadline: the time-out cancels the shield,
 * never the task behind it. */
static void op_shield(fuzz *f, unsigned b)
{
    coil_task *t = f->slots[b % NSLOTS];
    if (!t)
        return;
    int before = coil_task_cancelling(t);
    coil_future *sh = coil_shield(coil_task_future(t));
    REQUIRE(sh);
    int r = coil_wait_for(sh, COIL_USEC(b / 4 % 4 * 500), NULL);
    REQUIRE_OK_OR(r, EIO, ECANCELED, ETIMEDOUT);
    /* The time-out adds no request to t.  Requests t already had may be
     * delivered while we wait (t reached a suspension point), so the
     * count can go down: found by the fuzzer, before=2 now=0. */
    if (r == -1 && errno == ETIMEDOUT)
        REQUIRE(coil_task_cancelling(t) <= before);
    REQUIRE(coil_future_release(sh) == 0);
}

static void op_group(fuzz *f, unsigned b)
{
    coil_group *g = coil_group_new();
    REQUIRE(g);
    for (unsigned i = 0; i <= b % 3; i++) {
        coil_task_attr a = {.flags = 0};
        if (!coil_group_spawn(g, &a, body, (void *)(uintptr_t)byte(f), "body"))
            REQUIRE(errno == ECANCELED);
    }
    require_outcome(coil_group_wait(g));
}

/* Misuse: each call must fail with the errno coil.h gives for it. */
static void op_misuse(fuzz *f, unsigned b)
{
    coil_future *self = coil_task_future(coil_task_current());
    switch (b % 12) {
    case 0: REQUIRE_FAILS(coil_task_cancel(NULL), EINVAL); break;
    case 1: REQUIRE_FAILS(coil_await(self, NULL), EDEADLK); break;
    case 2: REQUIRE_FAILS(coil_gather(&self, 1, NULL, NULL, 0), EDEADLK); break;
    case 3: REQUIRE_FAILS(coil_gather(NULL, 1, NULL, NULL, 0), EINVAL); break;
    case 4: REQUIRE_FAILS(coil_shield_end(), EINVAL); break;
    case 5: REQUIRE_FAILS(coil_queue_put(NULL, f), EINVAL); break;
    case 6: REQUIRE_FAILS(coil_lock_release(NULL), EINVAL); break;
    case 7: REQUIRE_FAILS(coil_event_set(NULL), EINVAL); break;
    case 8: REQUIRE_FAILS(coil_shield(NULL), EINVAL); break;
    case 9: REQUIRE_FAILS(coil_group_wait(NULL), EINVAL); break;
    case 10: REQUIRE_FAILS(coil_barrier_new(0), EINVAL); break;
    case 11: REQUIRE_FAILS(coil_queue_new(7, 1, NULL), EINVAL); break;
    }
}

static void run_op(fuzz *f)
{
    unsigned op = byte(f), b = byte(f), s = b % NSLOTS;
    switch (op % 16) {
    case 0: op_spawn(f, s); break;
    case 1: if (f->slots[s]) op_cancel(f->slots[s]); break;
    case 2: REQUIRE(coil_task_uncancel() == 0); break;
    case 3: REQUIRE(coil_yield() == 0); break;
    case 4: REQUIRE(coil_sleep(COIL_USEC(b % 4 * 1000)) == 0); break;
    case 5: op_lock(f, b); break;
    case 6: op_queue(f, b); break;
    case 7: op_event(f, b); break;
    case 8: op_scope(f, b); break;
    case 9: op_gather(f, b); break;
    case 10: op_wait(f, b); break;
    case 11: op_wait_for(f, b); break;
    case 12: op_shield(f, b); break;
    case 13: op_group(f, b); break;
    case 14: if (f->slots[s]) op_release(f, s); break;
    case 15: op_misuse(f, b); break;
    }
}

/* Cancel and await what is left, check the objects, free them. */
static void finish(fuzz *f)
{
    for (int i = 0; i < NSLOTS; i++) {
        if (!f->slots[i])
            continue;
        coil_task_cancel(f->slots[i]);
        require_outcome(coil_await(coil_task_future(f->slots[i]), NULL));
        op_release(f, (unsigned)i);
    }
    if (f->main_holds_lock)
        REQUIRE(coil_lock_release(f->lock) == 0);
    /* Released tasks run on to their (bounded) ends. */
    coil_time give_up = coil_deadline_in(COIL_SEC(1));
    while (coil_loop_tasks(NULL, NULL, 0) > 1 &&
           coil_loop_time(NULL) < give_up)
        REQUIRE(coil_sleep(COIL_USEC(100)) == 0);
    REQUIRE(coil_loop_tasks(NULL, NULL, 0) == 1);
    REQUIRE(coil_lock_locked(f->lock) == 0);
    REQUIRE(coil_lock_free(f->lock) == 0);
    REQUIRE(coil_event_free(f->event) == 0);
    REQUIRE(f->puts == f->gets + coil_queue_size(f->queue));
    REQUIRE(coil_queue_free(f->queue) == 0);
}

static void *fuzz_main(void *arg)
{
    fuzz *f = arg;
    cur = f;
    REQUIRE((f->lock = coil_lock_new()) && (f->event = coil_event_new()));
    REQUIRE((f->queue = coil_queue_new(COIL_QUEUE_FIFO, QUEUE_MAX, NULL)));
    f->budget_end = coil_deadline_in(COIL_MSEC(50));
    for (int n = 0; n < MAX_OPS && f->pos < f->size &&
                    coil_loop_time(NULL) < f->budget_end; n++)
        run_op(f);
    finish(f);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz f = {.data = data, .size = size};
    coil_loop *loop = coil_loop_new();
    REQUIRE(loop);
    coil_task_attr a = {.loop = loop};
    coil_task *t = coil_task_spawn(&a, fuzz_main, &f, "fuzz_main");
    REQUIRE(t);
    REQUIRE(coil_await(coil_task_future(t), NULL) == 0);
    REQUIRE(coil_task_release(t) == 0);
    REQUIRE(coil_loop_tasks(loop, NULL, 0) == 0);
    REQUIRE(coil_loop_close(loop) == 0);
    return 0;
}
