/*
 * tests/hook_mq_test.c — POSIX message queues in tasks, through the hook
 * layer: a receive or send waits in the loop, not the kernel, and the
 * queue keeps the mode the program gave it.  The other side is always a
 * task of the same loop: a call that slept in the kernel would hang the
 * test until its watchdog.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "hook_helpers.h"
#include "task_helpers.h"

#define TICK COIL_MSEC(5)

enum { DEPTH = 4, SIZE = 64 };

/* A fresh queue of DEPTH messages, its name gone already. */
static mqd_t open_queue(void)
{
    char name[64];
    snprintf(name, sizeof name, "/coil-hook-mq-%d", (int)getpid());
    struct mq_attr a = {.mq_maxmsg = DEPTH, .mq_msgsize = SIZE};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &a);
    CHECK(q != (mqd_t)-1);
    CHECK(mq_unlink(name) == 0);
    return q;
}

static int blocking(mqd_t q)
{
    struct mq_attr a;
    CHECK(mq_getattr(q, &a) == 0);
    return !(a.mq_flags & O_NONBLOCK) && !(kernel_flags(q) & O_NONBLOCK);
}

typedef struct sender {
    mqd_t q;
    int ticks;          /* to wait first */
    int count;          /* messages, "m0", "m1", ... */
    long *counter;      /* counted up every tick meanwhile */
} sender;

static void *send_late(void *arg)
{
    sender *s = arg;
    for (int i = 0; i < s->ticks; i++) {
        coil_sleep(TICK);
        if (s->counter)
            (*s->counter)++;
    }
    for (int i = 0; i < s->count; i++) {
        char m[8];
        int n = snprintf(m, sizeof m, "m%d", i);
        CHECK(mq_send(s->q, m, (size_t)n, 0) == 0);
    }
    return NULL;
}

/* A receive on an empty queue waits while the sender's task runs. */
static void *receive_main(void *arg)
{
    (void)arg;
    mqd_t q = open_queue();
    long ticks = 0;
    sender s = {q, 4, 1, &ticks};
    coil_task *t = coil_spawn(send_late, &s);
    char buf[SIZE];
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 2);
    CHECK(memcmp(buf, "m0", 2) == 0 && ticks == 4);
    await_task(t);
    CHECK(blocking(q));
    CHECK(mq_close(q) == 0);
    return NULL;
}

TEST(mq_receive_waits_in_the_loop_for_a_message)
{
    watchdog();
    run_main(receive_main, NULL);
}

/* mq_timedreceive on a queue nobody sends to: ETIMEDOUT at its time,
 * the loop ticking meanwhile; a bad time is EINVAL at once. */
static void *timed_main(void *arg)
{
    (void)arg;
    mqd_t q = open_queue();
    long ticks = 0;
    sender s = {q, 40, 0, &ticks};            /* ticks only */
    coil_task *t = coil_spawn(send_late, &s);
    struct timespec abs = abs_in(CLOCK_REALTIME, 100);
    char buf[SIZE];
    coil_time t0 = coil_clock();
    CHECK_ERRNO(mq_timedreceive(q, buf, sizeof buf, NULL, &abs), ETIMEDOUT);
    coil_time took = coil_clock() - t0;
    CHECK(took >= COIL_MSEC(95) && ticks >= 5);
    await_task(t);
    struct timespec bad = {0, -1};
    CHECK_ERRNO(mq_timedreceive(q, buf, sizeof buf, NULL, &bad), EINVAL);
    CHECK_ERRNO(mq_timedsend(q, "x", 1, 0, &bad), EINVAL);
    CHECK(mq_close(q) == 0);
    return NULL;
}

TEST(mq_timedreceive_times_out_on_time_while_the_loop_runs)
{
    watchdog();
    run_main(timed_main, NULL);
}

typedef struct receiver {
    mqd_t q;
    int count;
    int got;
} receiver;

static void *receive_some(void *arg)
{
    receiver *r = arg;
    char buf[SIZE];
    for (int i = 0; i < r->count; i++) {
        CHECK(mq_receive(r->q, buf, sizeof buf, NULL) > 0);
        r->got++;
    }
    return NULL;
}

/* Sending into a full queue waits until a receiver makes room; and two
 * tasks may wait on one queue (the second waits in naps). */
static void *full_main(void *arg)
{
    (void)arg;
    mqd_t q = open_queue();
    receiver a = {q, 5, 0}, b = {q, 5, 0};
    coil_task *ra = coil_spawn(receive_some, &a);
    coil_task *rb = coil_spawn(receive_some, &b);
    CHECK(coil_yield() == 0);                 /* both wait now */
    sender s = {q, 0, 3 * DEPTH - 2, NULL};    /* 10: more than it holds */
    send_late(&s);
    await_task(ra);
    await_task(rb);
    CHECK(a.got == 5 && b.got == 5);
    struct mq_attr at;
    CHECK(mq_getattr(q, &at) == 0 && at.mq_curmsgs == 0);
    CHECK(blocking(q));
    CHECK(mq_close(q) == 0);
    return NULL;
}

TEST(mq_send_into_a_full_queue_waits_for_room_and_two_tasks_may_wait)
{
    watchdog();
    run_main(full_main, NULL);
}

RUN_TESTS(T(mq_receive_waits_in_the_loop_for_a_message),
          T(mq_timedreceive_times_out_on_time_while_the_loop_runs),
          T(mq_send_into_a_full_queue_waits_for_room_and_two_tasks_may_wait))
