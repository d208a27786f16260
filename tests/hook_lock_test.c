/*
 * tests/hook_lock_test.c — the hook layer's pthread_mutex_lock
 * (src/hook/lock.c): a task that locks a mutex another task of its thread
 * holds across a hooked call parks, instead of blocking the thread, which
 * would keep the holder from ever unlocking it.
 *
 * The holder waits in a hooked read for a byte that the test writes only
 * after its own task ran on while the other task waited for the lock: a
 * lock that blocked the thread would keep the byte from ever coming, and
 * the watchdog fails the test instead of letting it hang.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

#define UNIT COIL_MSEC(30)

static void watchdog(void)
{
    signal(SIGALRM, SIG_DFL);
    alarm(60);                /* a lock that blocked the loop: fail, not hang */
}

typedef struct {
    pthread_mutex_t mutex;
    int pipe[2];              /* the holder reads a byte from [0] */
    int step;                 /* who did what, in order */
    int holder_unlocked_at, locker_locked_at;
    int lock_result, after_lock, after_err;
} shared;

static void shared_init(shared *s, int type)
{
    memset(s, 0, sizeof *s);
    pthread_mutexattr_t a;
    CHECK(pthread_mutexattr_init(&a) == 0);
    CHECK(pthread_mutexattr_settype(&a, type) == 0);
    CHECK(pthread_mutex_init(&s->mutex, &a) == 0);
    CHECK(pthread_mutexattr_destroy(&a) == 0);
    CHECK(pipe(s->pipe) == 0);
    s->lock_result = -2;
}

static void shared_free(shared *s)
{
    CHECK(pthread_mutex_destroy(&s->mutex) == 0);
    CHECK(close(s->pipe[0]) == 0 && close(s->pipe[1]) == 0);
}

/* Lock, wait in a hooked read inside the critical section, unlock. */
static void *holder(void *arg)
{
    shared *s = arg;
    CHECK(pthread_mutex_lock(&s->mutex) == 0);
    char c;
    CHECK(read(s->pipe[0], &c, 1) == 1);
    s->holder_unlocked_at = ++s->step;
    CHECK(pthread_mutex_unlock(&s->mutex) == 0);
    return NULL;
}

static void *locker(void *arg)
{
    shared *s = arg;
    s->lock_result = pthread_mutex_lock(&s->mutex);
    s->locker_locked_at = ++s->step;
    /* In error mode a cancel that came meanwhile waits for the next
     * suspension point, here, with the lock held. */
    s->after_lock = coil_sleep(0);
    s->after_err = errno;
    CHECK(pthread_mutex_unlock(&s->mutex) == 0);
    return NULL;
}

static int task_ended(coil_task *t)
{
    return coil_future_done(coil_task_future(t));
}

/* holder takes the mutex and parks in read; locker then waits for it. */
static void start_both(shared *s, coil_task **h, coil_task **l,
                       unsigned locker_flags)
{
    *h = coil_spawn(holder, s);
    CHECK(*h != NULL);
    coil_yield();                         /* it holds the lock, parked */
    coil_task_attr attr = {.flags = locker_flags};
    *l = coil_task_spawn(&attr, locker, s, "locker");
    CHECK(*l != NULL);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(!task_ended(*l) && s->lock_result == -2);   /* ...it waits */
}

static void *contended_main(void *arg)
{
    int type = *(int *)arg;
    shared s;
    shared_init(&s, type);
    coil_task *h, *l;
    start_both(&s, &h, &l, 0);
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    await_task(l);
    CHECK(s.lock_result == 0 && s.after_lock == 0);
    CHECK(s.holder_unlocked_at == 1 && s.locker_locked_at == 2);
    shared_free(&s);
    return NULL;
}

TEST(a_mutex_another_task_holds_across_a_hooked_call_parks_the_locker)
{
    int type = PTHREAD_MUTEX_NORMAL;
    watchdog();
    run_main(contended_main, &type);
}

TEST(so_does_an_error_checking_mutex_which_says_no_edeadlk)
{
    int type = PTHREAD_MUTEX_ERRORCHECK;
    watchdog();
    run_main(contended_main, &type);
}

static void *cancelled_main(void *arg)
{
    int as_error = *(int *)arg;
    shared s;
    shared_init(&s, PTHREAD_MUTEX_NORMAL);
    coil_task *h, *l;
    start_both(&s, &h, &l, as_error ? COIL_TASK_CANCEL_AS_ERROR : 0);
    CHECK(coil_task_cancel(l) == 1);
    coil_sleep(UNIT);
    if (as_error) {
        /* Still waiting: it has no ECANCELED to return for a lock. */
        CHECK(!task_ended(l) && s.lock_result == -2);
        CHECK(write(s.pipe[1], "x", 1) == 1);
        await_task(h);
        await_task(l);
        CHECK(s.lock_result == 0 && s.locker_locked_at == 2);
        CHECK(s.after_lock == -1 && s.after_err == ECANCELED);
    } else {
        /* Unwound out of the wait, without the lock. */
        CHECK_ERRNO(coil_await(coil_task_future(l), NULL), ECANCELED);
        coil_task_release(l);
        CHECK(s.lock_result == -2);
        CHECK(write(s.pipe[1], "x", 1) == 1);
        await_task(h);
    }
    CHECK(pthread_mutex_trylock(&s.mutex) == 0);  /* nobody holds it */
    CHECK(pthread_mutex_unlock(&s.mutex) == 0);
    shared_free(&s);
    return NULL;
}

TEST(a_task_cancelled_while_it_waits_for_a_lock_unwinds_without_it)
{
    int as_error = 0;
    watchdog();
    run_main(cancelled_main, &as_error);
}

TEST(in_error_mode_it_takes_the_lock_and_meets_the_cancel_after)
{
    int as_error = 1;
    watchdog();
    run_main(cancelled_main, &as_error);
}

/* ------------------------------------------------- another thread's */

typedef struct {
    pthread_mutex_t *mutex;
    int ready[2];
} thread_holder;

static void *hold_briefly(void *arg)
{
    thread_holder *th = arg;
    CHECK(pthread_mutex_lock(th->mutex) == 0);
    CHECK(write(th->ready[1], "h", 1) == 1);
    usleep(20000);            /* the subject: a lock held for 20 ms */
    CHECK(pthread_mutex_unlock(th->mutex) == 0);
    return NULL;
}

static void *other_thread_main(void *arg)
{
    (void)arg;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    thread_holder th = {&m, {-1, -1}};
    CHECK(pipe(th.ready) == 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, hold_briefly, &th) == 0);
    char c;
    CHECK(read(th.ready[0], &c, 1) == 1);         /* it holds m */
    CHECK(pthread_mutex_lock(&m) == 0);           /* libc's: blocks */
    CHECK(pthread_mutex_unlock(&m) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(close(th.ready[0]) == 0 && close(th.ready[1]) == 0);
    return NULL;
}

TEST(a_mutex_another_thread_holds_is_taken_once_it_unlocks)
{
    watchdog();
    run_main(other_thread_main, NULL);
}

RUN_TESTS(T(a_mutex_another_task_holds_across_a_hooked_call_parks_the_locker),
          T(so_does_an_error_checking_mutex_which_says_no_edeadlk),
          T(a_task_cancelled_while_it_waits_for_a_lock_unwinds_without_it),
          T(in_error_mode_it_takes_the_lock_and_meets_the_cancel_after),
          T(a_mutex_another_thread_holds_is_taken_once_it_unlocks))
