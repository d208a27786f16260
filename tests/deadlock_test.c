/*
 * tests/deadlock_test.c — coil_run's deadlock report: EDEADLK and who
 * waits on what when the loop's tasks can only wait for each other; no
 * report while anything outside them may still wake the loop.
 *
 * The "outside" cases let a little time pass in another thread before it
 * wakes the loop (a task on a runtime's loop, or pthread_kill): a rule
 * that ignored the outside way would report at once, during that time.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "check.h"
#include "coil.h"

static char err[1 << 16];

/* ------------------------------------------ a lock-order deadlock */

static coil_lock *first, *second;

static void *alpha(void *arg)
{
    (void)arg;
    CHECK(coil_lock_acquire(first) == 0);
    coil_yield();                     /* beta takes second meanwhile */
    coil_lock_acquire(second);        /* never: beta holds it */
    return NULL;
}

static void *beta(void *arg)
{
    (void)arg;
    CHECK(coil_lock_acquire(second) == 0);
    coil_yield();
    coil_lock_acquire(first);
    return NULL;
}

static void *lock_order_main(void *arg)
{
    (void)arg;
    first = coil_lock_new();
    second = coil_lock_new();
    fprintf(stderr, "locks %p %p\n", (void *)first, (void *)second);
    coil_task_attr a = {.name = "alpha"}, b = {.name = "beta"};
    coil_task *ta = coil_spawn_attr(&a, alpha, NULL);
    coil_task *tb = coil_spawn_attr(&b, beta, NULL);
    coil_await(coil_task_future(ta), NULL);
    coil_await(coil_task_future(tb), NULL);
    return NULL;
}

static void lock_order_body(void)
{
    errno = 0;
    int r = coil_run(lock_order_main, NULL, NULL);
    fprintf(stderr, "coil_run: %d %s\n", r, strerrorname_np(errno));
}

TEST(lock_order_deadlock_ends_coil_run_with_EDEADLK_naming_tasks_and_locks)
{
    int status = run_capturing_stderr(lock_order_body, err, sizeof err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    void *l1 = NULL, *l2 = NULL;
    CHECK(sscanf(err, "locks %p %p", &l1, &l2) == 2);
    char held_by_alpha[64], held_by_beta[64];
    snprintf(held_by_alpha, sizeof held_by_alpha, "lock %p held by 'alpha'", l1);
    snprintf(held_by_beta, sizeof held_by_beta, "lock %p held by 'beta'", l2);
    if (!strstr(err, held_by_alpha) || !strstr(err, held_by_beta))
        fprintf(stderr, "%s", err);
    CHECK(strstr(err, "coil: deadlock: every task of coil_run's loop waits"));
    CHECK(strstr(err, "'alpha' fn=alpha: suspended"));
    CHECK(strstr(err, "'beta' fn=beta: suspended"));
    CHECK(strstr(err, held_by_alpha));        /* beta waits for alpha's */
    CHECK(strstr(err, held_by_beta));         /* alpha waits for beta's */
    CHECK(strstr(err, "'main' fn=main: suspended"));
    CHECK(strstr(err, "coil_run: -1 EDEADLK"));
}

/* A task awaiting itself through another is refused at once (EDEADLK from
 * coil_await); a task waiting on an event nobody will set is the
 * simplest report. */
static void *event_main(void *arg)
{
    (void)arg;
    coil_event *e = coil_event_new();
    coil_event_wait(e);
    return NULL;
}

static void event_body(void)
{
    errno = 0;
    int r = coil_run(event_main, NULL, NULL);
    fprintf(stderr, "coil_run: %d %s\n", r, strerrorname_np(errno));
}

TEST(a_main_task_waiting_on_an_event_nobody_sets_is_reported)
{
    int status = run_capturing_stderr(event_body, err, sizeof err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strstr(err, "waits on event 0x"));
    CHECK(strstr(err, "coil_run: -1 EDEADLK"));
}


/* --------------------------------------- outside wake-ups: no report */

static pthread_t loop_thread;

/* Interrupt coil_run's loop after a while, as Ctrl-C would. */
static void *interrupt_later(void *arg)
{
    (void)arg;
    struct timespec t = {0, 150 * 1000 * 1000};
    nanosleep(&t, NULL);
    pthread_kill(loop_thread, SIGINT);
    return NULL;
}

static void run_interrupted(coil_task_fn fn)
{
    loop_thread = pthread_self();
    pthread_t helper;
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);   /* the helper takes none */
    CHECK(pthread_create(&helper, NULL, interrupt_later, NULL) == 0);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    errno = 0;
    int r = coil_run(fn, NULL, NULL);
    fprintf(stderr, "coil_run: %d %s\n", r, strerrorname_np(errno));
    pthread_join(helper, NULL);
}

static void set_event(void *e)
{
    coil_event_set(e);
}

static void *far_timer_main(void *arg)
{
    (void)arg;
    coil_handle *h = NULL;
    coil_event *e = coil_event_new();
    CHECK(coil_call_later(NULL, COIL_SEC(3600), set_event, e,
                          &h) == 0);
    coil_event_wait(e);               /* the timer could set it, in an hour */
    coil_handle_cancel(h);
    coil_handle_release(h);
    coil_event_free(e);
    return NULL;
}

static void far_timer_body(void)
{
    run_interrupted(far_timer_main);
}

TEST(no_report_while_a_timer_is_pending_however_far)
{
    int status = run_capturing_stderr(far_timer_body, err, sizeof err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!strstr(err, "deadlock"));
    CHECK(strstr(err, "coil_run: -1 EINTR"));
}

static void *fd_main(void *arg)
{
    (void)arg;
    int p[2];
    CHECK(pipe(p) == 0);
    char c;
    coil_read(p[0], &c, 1);           /* never ready */
    return NULL;
}

static void fd_body(void)
{
    run_interrupted(fd_main);
}

TEST(no_report_for_a_task_waiting_on_an_fd_that_never_becomes_ready)
{
    int status = run_capturing_stderr(fd_body, err, sizeof err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!strstr(err, "deadlock"));
    CHECK(strstr(err, "coil_run: -1 EINTR"));
}

static void event_body_opted_out_interrupted(void)
{
    setenv("COIL_DEADLOCK_REPORT", "0", 1);
    run_interrupted(event_main);      /* nothing else would end it */
}

TEST(the_report_can_be_turned_off)
{
    int status = run_capturing_stderr(event_body_opted_out_interrupted, err,
                                      sizeof err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!strstr(err, "deadlock"));
    CHECK(strstr(err, "coil_run: -1 EINTR"));
}

/* A task on another thread's loop that takes a while, then finishes. */
static void *slow_elsewhere(void *arg)
{
    (void)arg;
    coil_sleep(COIL_MSEC(150));
    return (void *)42;
}

static coil_runtime *rt;

static void *tfuture_main(void *arg)
{
    (void)arg;
    coil_tfuture *tf = coil_runtime_spawn_task(rt, 0, slow_elsewhere, NULL,
                                               "slow_elsewhere");
    CHECK(tf);
    void *out = NULL;
    CHECK(coil_tfuture_wait(tf, -1, &out) == 0);
    CHECK(out == (void *)42);
    coil_tfuture_release(tf);
    return NULL;
}

static void tfuture_body(void)
{
    rt = coil_runtime_start(1, NULL);
    CHECK(rt);
    errno = 0;
    int r = coil_run(tfuture_main, NULL, NULL);
    fprintf(stderr, "coil_run: %d\n", r);
    coil_runtime_stop(rt);
    coil_runtime_join(rt);
}

TEST(no_report_for_a_task_waiting_on_another_threads_tfuture)
{
    int status = run_capturing_stderr(tfuture_body, err, sizeof err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!strstr(err, "deadlock"));
    CHECK(strstr(err, "coil_run: 0"));
}

RUN_TESTS(T(lock_order_deadlock_ends_coil_run_with_EDEADLK_naming_tasks_and_locks),
          T(a_main_task_waiting_on_an_event_nobody_sets_is_reported),
          T(no_report_while_a_timer_is_pending_however_far),
          T(no_report_for_a_task_waiting_on_an_fd_that_never_becomes_ready),
          T(the_report_can_be_turned_off),
          T(no_report_for_a_task_waiting_on_another_threads_tfuture))
