/*
 * tests/select_test.c — layer 5: coil_select over queue gets and puts,
 * events and futures.
 *
 * Each test runs under coil_run.  settle() lets the other tasks run until
 * they block; a selecting task is served and cancelled in one step of the
 * main task, before it can run, which is the window where a select could
 * perform a case and still report cancellation.  "No case left behind" is
 * checked by freeing the objects: a queue or event with a waiter still on
 * it refuses with EBUSY.
 */
#include <stdint.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

#define I(v) ((void *)(intptr_t)(v))

static void settle(void)
{
    for (int i = 0; i < 5; i++)
        CHECK(coil_yield() == 0);
}

static coil_select_case get_case(coil_queue *q)
{
    return (coil_select_case){.op = COIL_SELECT_GET, .queue = q};
}

static coil_select_case put_case(coil_queue *q, void *item)
{
    return (coil_select_case){.op = COIL_SELECT_PUT, .queue = q,
                              .item = item};
}

static coil_queue *fifo(size_t maxsize)
{
    coil_queue *q = coil_queue_new(COIL_QUEUE_FIFO, maxsize, NULL);
    CHECK(q);
    return q;
}

/* ------------------------------------------------------------ argument */

static void *bad_input_main(void *arg)
{
    (void)arg;
    coil_queue *q = fifo(0);
    coil_select_case c[2] = {get_case(q), {.op = 99, .queue = q}};
    CHECK_ERRNO(coil_select(NULL, 1, -1), EINVAL);
    CHECK_ERRNO(coil_select(c, 0, -1), EINVAL);
    CHECK_ERRNO(coil_select(c, 2, -1), EINVAL);          /* unknown op */
    c[1] = (coil_select_case){.op = COIL_SELECT_EVENT};  /* no event */
    CHECK_ERRNO(coil_select(c, 2, -1), EINVAL);
    c[1] = (coil_select_case){.op = COIL_SELECT_FUTURE};
    CHECK_ERRNO(coil_select_try(c, 2), EINVAL);
    c[1] = (coil_select_case){.op = COIL_SELECT_PUT};    /* no queue */
    CHECK_ERRNO(coil_select_try(c, 2), EINVAL);
    CHECK(coil_queue_free(q) == 0);
    return NULL;
}

TEST(bad_cases_are_einval)
{
    run_main(bad_input_main, NULL);
}

TEST(select_outside_a_task_is_eperm_but_try_works)
{
    coil_queue *q = fifo(0);
    coil_select_case c[1] = {get_case(q)};
    CHECK_ERRNO(coil_select(c, 1, -1), EPERM);
    CHECK_ERRNO(coil_select_try(c, 1), EAGAIN);
    CHECK(coil_queue_try_put(q, I(7)) == 0);
    CHECK_ERRNO(coil_select(c, 1, -1), EPERM);       /* even when ready */
    CHECK(coil_select_try(c, 1) == 0);
    CHECK(c[0].item == I(7) && c[0].error == 0);
    CHECK(coil_queue_free(q) == 0);
}

/* ------------------------------------------------------- non-blocking */

static void *try_main(void *arg)
{
    (void)arg;
    coil_queue *a = fifo(0), *full = fifo(1);
    coil_event *e = coil_event_new();
    CHECK(coil_queue_try_put(full, I(1)) == 0);
    coil_select_case c[3] = {get_case(a), put_case(full, I(2)),
                             {.op = COIL_SELECT_EVENT, .event = e}};
    CHECK_ERRNO(coil_select_try(c, 3), EAGAIN);
    CHECK(coil_queue_size(full) == 1);                   /* nothing put */
    CHECK(coil_event_set(e) == 0);
    CHECK(coil_select_try(c, 3) == 2);
    CHECK(coil_event_is_set(e) == 1);                    /* not consumed */
    CHECK(coil_event_clear(e) == 0);
    CHECK(coil_queue_try_get(full, NULL) == 0);
    CHECK(coil_select_try(c, 3) == 1);
    CHECK(coil_queue_size(full) == 1);
    CHECK(coil_queue_try_get(full, &c[0].item) == 0 && c[0].item == I(2));
    CHECK(coil_queue_free(a) == 0 && coil_queue_free(full) == 0);
    CHECK(coil_event_free(e) == 0);
    return NULL;
}

TEST(try_form_does_one_ready_case_or_eagain)
{
    run_main(try_main, NULL);
}

/* ------------------------------------------------------------ waiting */

static coil_queue *qs[4];

static void *put_later(void *arg)
{
    CHECK(coil_queue_put(qs[(intptr_t)arg], I(100 + (intptr_t)arg)) == 0);
    return NULL;
}

static void *wait_get_main(void *arg)
{
    (void)arg;
    qs[0] = fifo(0);
    qs[1] = fifo(0);
    coil_task *t = coil_spawn(put_later, I(1));
    coil_select_case c[2] = {get_case(qs[0]), get_case(qs[1])};
    CHECK(coil_select(c, 2, -1) == 1);
    CHECK(c[1].item == I(101) && c[1].error == 0);
    await_task(t);
    CHECK(coil_queue_size(qs[0]) == 0 && coil_queue_size(qs[1]) == 0);
    CHECK(coil_queue_free(qs[0]) == 0);                  /* left its list */
    CHECK(coil_queue_free(qs[1]) == 0);
    return NULL;
}

TEST(select_waits_for_the_first_get)
{
    run_main(wait_get_main, NULL);
}

static void *get_later(void *arg)
{
    void *v;
    CHECK(coil_queue_get(qs[(intptr_t)arg], &v) == 0);
    return v;
}

static void *put_full_main(void *arg)
{
    (void)arg;
    qs[0] = fifo(0);
    qs[1] = fifo(1);
    CHECK(coil_queue_put(qs[1], I(1)) == 0);
    coil_task *t = coil_spawn(get_later, I(1));
    coil_select_case c[2] = {get_case(qs[0]), put_case(qs[1], I(2))};
    CHECK(coil_select(c, 2, -1) == 1);
    CHECK(c[1].error == 0);
    CHECK(await_task(t) == I(1));
    void *v;
    CHECK(coil_queue_try_get(qs[1], &v) == 0 && v == I(2));
    CHECK(coil_queue_free(qs[0]) == 0 && coil_queue_free(qs[1]) == 0);
    return NULL;
}

TEST(select_puts_into_a_full_queue_once_there_is_room)
{
    run_main(put_full_main, NULL);
}

static coil_event *ev;
static coil_future *fut;

static void *set_event(void *arg)
{
    (void)arg;
    CHECK(coil_event_set(ev) == 0);
    return NULL;
}

static void *event_future_main(void *arg)
{
    (void)arg;
    qs[0] = fifo(0);
    ev = coil_event_new();
    fut = coil_future_new(NULL);
    coil_select_case c[3] = {get_case(qs[0]),
                             {.op = COIL_SELECT_EVENT, .event = ev},
                             {.op = COIL_SELECT_FUTURE, .future = fut}};
    coil_task *t = coil_spawn(set_event, NULL);
    CHECK(coil_select(c, 3, -1) == 1);
    await_task(t);
    /* The future's done-callback went with the select. */
    CHECK(coil_future_remove_done_callback(fut, NULL, NULL) == 0);
    CHECK(coil_event_clear(ev) == 0);
    CHECK(coil_future_set_result(fut, I(5)) == 0);
    CHECK(coil_select(c, 3, -1) == 2);
    void *v;
    CHECK(coil_future_result(fut, &v) == 0 && v == I(5));
    CHECK(coil_queue_free(qs[0]) == 0 && coil_event_free(ev) == 0);
    coil_future_release(fut);
    return NULL;
}

TEST(select_on_an_event_and_a_future)
{
    run_main(event_future_main, NULL);
}

static void cancel_future(void *f)
{
    CHECK(coil_future_cancel(f) == 1);
}

static void shut_queue(void *q)
{
    CHECK(coil_queue_shutdown(q) == 0);
}

static void *future_later_main(void *arg)
{
    (void)arg;
    ev = coil_event_new();
    fut = coil_future_new(NULL);
    coil_select_case c[2] = {{.op = COIL_SELECT_EVENT, .event = ev},
                             {.op = COIL_SELECT_FUTURE, .future = fut}};
    coil_handle *h;
    CHECK(coil_call_later(NULL, COIL_MSEC(1),
                          cancel_future, fut, &h) == 0);
    CHECK(coil_select(c, 2, -1) == 1);
    CHECK(coil_future_state(fut) == COIL_CANCELLED);
    coil_handle_release(h);
    CHECK(coil_event_free(ev) == 0);
    coil_future_release(fut);
    return NULL;
}

TEST(select_wakes_when_a_future_completes)
{
    run_main(future_later_main, NULL);
}

/* Two selecting tasks on the same two queues, one item in each: each
 * task gets exactly one, so no item is served twice or lost. */
static void *select_once(void *arg)
{
    (void)arg;
    coil_select_case c[2] = {get_case(qs[0]), get_case(qs[1])};
    int i = coil_select(c, 2, -1);
    CHECK(i == 0 || i == 1);
    return c[i].item;
}

static void *two_selectors_main(void *arg)
{
    (void)arg;
    qs[0] = fifo(0);
    qs[1] = fifo(0);
    coil_task *a = coil_spawn(select_once, NULL);
    coil_task *b = coil_spawn(select_once, NULL);
    settle();
    CHECK(coil_queue_put(qs[0], I(1)) == 0);
    CHECK(coil_queue_put(qs[1], I(2)) == 0);
    intptr_t x = (intptr_t)await_task(a), y = (intptr_t)await_task(b);
    CHECK(x + y == 3 && x != y);
    CHECK(coil_queue_size(qs[0]) == 0 && coil_queue_size(qs[1]) == 0);
    CHECK(coil_queue_free(qs[0]) == 0 && coil_queue_free(qs[1]) == 0);
    return NULL;
}

TEST(each_item_goes_to_exactly_one_selecting_task)
{
    run_main(two_selectors_main, NULL);
}

static void *many_cases_main(void *arg)
{
    (void)arg;
    enum { N = 20 };
    coil_queue *q[N];
    coil_select_case c[N];
    for (int i = 0; i < N; i++) {
        q[i] = fifo(0);
        c[i] = get_case(q[i]);
    }
    qs[0] = q[N - 3];
    coil_task *t = coil_spawn(put_later, I(0));
    CHECK(coil_select(c, N, -1) == N - 3);
    CHECK(c[N - 3].item == I(100));
    await_task(t);
    for (int i = 0; i < N; i++)
        CHECK(coil_queue_free(q[i]) == 0);
    return NULL;
}

TEST(select_over_more_cases_than_fit_on_the_stack)
{
    run_main(many_cases_main, NULL);
}

/* ----------------------------------------------------------- deadline */

static void *deadline_main(void *arg)
{
    (void)arg;
    coil_queue *q = fifo(0);
    coil_select_case c[1] = {get_case(q)};
    coil_loop *loop = coil_loop_current();
    coil_time t0 = coil_loop_time(loop);
    CHECK_ERRNO(coil_select(c, 1, t0 + COIL_MSEC(20)), ETIMEDOUT);
    CHECK(coil_loop_time(loop) >= t0 + COIL_MSEC(20));
    CHECK(coil_queue_free(q) == 0);                      /* withdrawn */
    q = fifo(0);
    c[0] = get_case(q);
    t0 = coil_loop_time(loop);
    CHECK_ERRNO(coil_select(c, 1, 0), ETIMEDOUT);        /* already past */
    CHECK(coil_loop_time(loop) == t0);                   /* did not wait */
    CHECK(coil_queue_try_put(q, I(3)) == 0);
    CHECK(coil_select(c, 1, 0) == 0 && c[0].item == I(3));
    CHECK(coil_queue_free(q) == 0);
    return NULL;
}

TEST(deadline_ends_the_select_with_etimedout)
{
    run_main(deadline_main, NULL);
}

/* ------------------------------------------------------------ shutdown */

static void *shutdown_main(void *arg)
{
    (void)arg;
    qs[0] = fifo(0);
    qs[1] = fifo(0);
    CHECK(coil_queue_try_put(qs[1], I(1)) == 0);
    CHECK(coil_queue_shutdown(qs[1]) == 0);
    coil_select_case c[2] = {get_case(qs[0]), get_case(qs[1])};
    /* Items left are drained first, then the case fires with ESHUTDOWN. */
    CHECK(coil_select(c, 2, -1) == 1 && c[1].error == 0 && c[1].item == I(1));
    CHECK(coil_select(c, 2, -1) == 1 && c[1].error == ESHUTDOWN);
    coil_select_case p[1] = {put_case(qs[1], I(2))};
    CHECK(coil_select_try(p, 1) == 0 && p[0].error == ESHUTDOWN);
    /* A queue shut down while the task waits wakes it. */
    coil_handle *h;
    CHECK(coil_call_later(NULL, COIL_MSEC(1),
                          shut_queue, qs[0], &h) == 0);
    c[1] = get_case(qs[0]);
    c[0] = (coil_select_case){.op = COIL_SELECT_EVENT,
                              .event = ev = coil_event_new()};
    CHECK(coil_select(c, 2, -1) == 1 && c[1].error == ESHUTDOWN);
    coil_handle_release(h);
    CHECK(coil_queue_free(qs[0]) == 0 && coil_queue_free(qs[1]) == 0);
    CHECK(coil_event_free(ev) == 0);
    return NULL;
}

TEST(a_shut_down_queue_fires_its_case_with_eshutdown)
{
    run_main(shutdown_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int selected = -2;

static void *select_get_or_put(void *arg)
{
    (void)arg;
    coil_select_case c[3] = {get_case(qs[0]), put_case(qs[1], I(9)),
                             {.op = COIL_SELECT_EVENT, .event = ev}};
    selected = coil_select(c, 3, -1);
    return NULL;
}

/* Serve the selecting task through case `serve` and cancel it in the same
 * step: it must end having performed nothing. */
static void *cancel_main(void *arg)
{
    intptr_t mode = (intptr_t)arg >> 4, serve = (intptr_t)arg & 15;
    qs[0] = fifo(0);
    qs[1] = fifo(1);
    ev = coil_event_new();
    CHECK(coil_queue_put(qs[1], I(1)) == 0);
    selected = -2;
    coil_task_attr attr = {.flags = mode ? COIL_TASK_CANCEL_AS_ERROR : 0};
    coil_task *t = coil_task_spawn(&attr, select_get_or_put, NULL, "sel");
    settle();
    void *v;
    if (serve == 0)
        CHECK(coil_queue_put(qs[0], I(5)) == 0);    /* handed to it */
    else if (serve == 1)
        CHECK(coil_queue_try_get(qs[1], &v) == 0);  /* a slot reserved */
    else if (serve == 2)
        CHECK(coil_event_set(ev) == 0);
    CHECK(coil_task_cancel(t) == 1);
    if (mode) {
        await_task(t);
        CHECK(selected == -1);
    } else {
        CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
        coil_task_release(t);
        CHECK(selected == -2);
    }
    if (serve == 0) {
        CHECK(coil_queue_try_get(qs[0], &v) == 0 && v == I(5));
    } else if (serve == 1) {
        CHECK(coil_queue_size(qs[1]) == 0);         /* 9 was not put */
        CHECK(coil_queue_try_put(qs[1], I(2)) == 0);  /* the slot is free */
    } else {
        CHECK(coil_queue_size(qs[1]) == 1);
    }
    CHECK(coil_queue_size(qs[0]) == 0);
    CHECK(coil_queue_free(qs[0]) == 0 && coil_queue_free(qs[1]) == 0);
    CHECK(coil_event_free(ev) == 0);
    return NULL;
}

TEST(cancelled_while_waiting_performs_nothing)
{
    run_main(cancel_main, I(3));
    run_main(cancel_main, I(16 | 3));
}

TEST(cancelled_after_a_get_was_handed_over_gives_the_item_back)
{
    run_main(cancel_main, I(0));
    run_main(cancel_main, I(16 | 0));
}

TEST(cancelled_after_a_put_slot_was_granted_puts_nothing)
{
    run_main(cancel_main, I(1));
    run_main(cancel_main, I(16 | 1));
}

TEST(cancelled_after_its_event_was_set_reports_cancellation)
{
    run_main(cancel_main, I(2));
    run_main(cancel_main, I(16 | 2));
}

/* ------------------------------------------------------------ fairness */

enum { ROUNDS = 10000 };

static void *fair_ready_main(void *arg)
{
    (void)arg;
    coil_select_case c[4];
    int hits[4] = {0};
    for (int i = 0; i < 4; i++) {
        qs[i] = fifo(0);
        CHECK(coil_queue_put(qs[i], I(i)) == 0);
        c[i] = get_case(qs[i]);
    }
    for (int r = 0; r < ROUNDS; r++) {
        int i = coil_select(c, 4, -1);
        CHECK(i >= 0 && i < 4 && c[i].item == I(i));
        hits[i]++;
        CHECK(coil_queue_put(qs[i], I(i)) == 0);        /* all stay ready */
    }
    printf("  4 ready cases over %d rounds: %d %d %d %d\n", ROUNDS, hits[0],
           hits[1], hits[2], hits[3]);
    /* Uniform: 2500 each, standard deviation about 43. */
    for (int i = 0; i < 4; i++)
        CHECK(hits[i] > 2000 && hits[i] < 3000);
    for (int i = 0; i < 4; i++)
        CHECK(coil_queue_free(qs[i]) == 0);
    return NULL;
}

TEST(ready_cases_are_chosen_uniformly_over_10000_rounds)
{
    run_main(fair_ready_main, NULL);
}

/* More ready cases than the scan keeps in its array: the reservoir past
 * it must stay uniform too. */
static void *fair_many_main(void *arg)
{
    (void)arg;
    enum { N = 20, R = 20000 };
    coil_queue *q[N];
    coil_select_case c[N];
    int hits[N] = {0};
    for (int i = 0; i < N; i++) {
        q[i] = fifo(0);
        CHECK(coil_queue_put(q[i], I(i)) == 0);
        c[i] = get_case(q[i]);
    }
    for (int r = 0; r < R; r++) {
        int i = coil_select(c, N, -1);
        CHECK(i >= 0 && i < N && c[i].item == I(i));
        hits[i]++;
        CHECK(coil_queue_put(q[i], I(i)) == 0);
    }
    /* 1000 each, standard deviation about 31. */
    for (int i = 0; i < N; i++)
        CHECK(hits[i] > 700 && hits[i] < 1300);
    for (int i = 0; i < N; i++)
        CHECK(coil_queue_free(q[i]) == 0);
    return NULL;
}

TEST(twenty_ready_cases_are_chosen_uniformly_too)
{
    run_main(fair_many_main, NULL);
}

/* Two producers that never stop, one consumer selecting over both: the
 * consumer, waiting, is served by whichever puts first, and neither
 * producer is starved. */
static int stop;

static void *producer(void *arg)
{
    while (!stop)
        if (coil_queue_put(qs[(intptr_t)arg], arg) != 0)
            break;
    return NULL;
}

static void *fair_wait_main(void *arg)
{
    (void)arg;
    qs[0] = fifo(1);
    qs[1] = fifo(1);
    stop = 0;
    coil_task *p0 = coil_spawn(producer, I(0));
    coil_task *p1 = coil_spawn(producer, I(1));
    coil_select_case c[2] = {get_case(qs[0]), get_case(qs[1])};
    int hits[2] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        int i = coil_select(c, 2, -1);
        CHECK(i == 0 || i == 1);
        hits[i]++;
        if (r % 3 == 0)
            CHECK(coil_yield() == 0);
    }
    printf("  2 producers over %d rounds: %d %d\n", ROUNDS, hits[0],
           hits[1]);
    CHECK(hits[0] > ROUNDS / 4 && hits[1] > ROUNDS / 4);
    stop = 1;
    coil_queue_shutdown(qs[0]);
    coil_queue_shutdown(qs[1]);
    await_task(p0);
    await_task(p1);
    CHECK(coil_queue_free(qs[0]) == 0 && coil_queue_free(qs[1]) == 0);
    return NULL;
}

TEST(busy_producers_share_a_selecting_consumer)
{
    run_main(fair_wait_main, NULL);
}

RUN_TESTS(T(bad_cases_are_einval),
          T(select_outside_a_task_is_eperm_but_try_works),
          T(try_form_does_one_ready_case_or_eagain),
          T(select_waits_for_the_first_get),
          T(select_puts_into_a_full_queue_once_there_is_room),
          T(select_on_an_event_and_a_future),
          T(select_wakes_when_a_future_completes),
          T(each_item_goes_to_exactly_one_selecting_task),
          T(select_over_more_cases_than_fit_on_the_stack),
          T(deadline_ends_the_select_with_etimedout),
          T(a_shut_down_queue_fires_its_case_with_eshutdown),
          T(cancelled_while_waiting_performs_nothing),
          T(cancelled_after_a_get_was_handed_over_gives_the_item_back),
          T(cancelled_after_a_put_slot_was_granted_puts_nothing),
          T(cancelled_after_its_event_was_set_reports_cancellation),
          T(ready_cases_are_chosen_uniformly_over_10000_rounds),
          T(twenty_ready_cases_are_chosen_uniformly_too),
          T(busy_producers_share_a_selecting_consumer))
