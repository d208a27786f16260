/*
 * tests/loop_only_test.c — the loop on its own (layer 3 and below).
 *
 * A program that names only the loop's API must link only the loop's
 * layers: tests/loop_only_link.sh reads this program's link map and fails
 * if an object of the tasks, futures, IO, sync, thread or run layers came
 * in.  The tests here check that such a program still works: callbacks in
 * order, a timer that fires, a stop, a close.
 */
#include "coil.h"
#include "check.h"

static int order[8], norder;

static void record(void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
}

static void stop(void *loop)
{
    record((void *)99);
    CHECK(coil_loop_stop(loop) == 0);
}

TEST(callbacks_and_a_timer_run_on_a_loop_linked_alone)
{
    coil_loop *loop = coil_loop_new();
    CHECK(loop != NULL);
    coil_time start = coil_clock();
    CHECK(coil_call_later(loop, COIL_MSEC(2), stop, loop, NULL) == 0);
    CHECK(coil_call_soon(loop, record, (void *)1, NULL) == 0);
    CHECK(coil_call_soon(loop, record, (void *)2, NULL) == 0);
    CHECK(coil_loop_run_forever(loop) == 0);
    CHECK(coil_clock() - start >= COIL_MSEC(2));
    CHECK(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 99);
    CHECK(coil_loop_close(loop) == 0);
}

TEST(close_drops_what_never_ran)
{
    coil_loop *loop = coil_loop_new();
    coil_handle *h;
    CHECK(coil_call_later(loop, COIL_SEC(60), record, (void *)7, &h) == 0);
    CHECK(coil_call_soon(loop, record, (void *)8, NULL) == 0);
    norder = 0;
    CHECK(coil_loop_close(loop) == 0);
    CHECK(norder == 0);
    CHECK(coil_handle_cancel(h) == 0);    /* dropped: too late to cancel */
    CHECK(coil_handle_release(h) == 0);
}

RUN_TESTS(T(callbacks_and_a_timer_run_on_a_loop_linked_alone),
          T(close_drops_what_never_ran))
