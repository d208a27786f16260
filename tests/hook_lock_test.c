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
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

#define UNIT COIL_MSEC(30)

typedef struct {
    pthread_mutex_t mutex;
    int pipe[2];              /* the holder reads a byte from [0] */
    int step;                 /* who did what, in order */
    int holder_unlocked_at, locker_locked_at;
    int lock_result, after_lock, after_err;
} shared;

static void init_mutex(pthread_mutex_t *m, int type)
{
    pthread_mutexattr_t a;
    CHECK(pthread_mutexattr_init(&a) == 0);
    CHECK(pthread_mutexattr_settype(&a, type) == 0);
    CHECK(pthread_mutex_init(m, &a) == 0);
    CHECK(pthread_mutexattr_destroy(&a) == 0);
}

static void shared_init(shared *s, int type)
{
    memset(s, 0, sizeof *s);
    init_mutex(&s->mutex, type);
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

/* A recursive mutex: taken three times, let go of twice, then once more
 * after a few yields, in which the locker must still not get it. */
static void *recursive_holder(void *arg)
{
    shared *s = arg;
    CHECK(pthread_mutex_lock(&s->mutex) == 0);
    CHECK(pthread_mutex_lock(&s->mutex) == 0);    /* its own, again */
    CHECK(pthread_mutex_trylock(&s->mutex) == 0);
    CHECK(pthread_mutex_unlock(&s->mutex) == 0);
    char c;
    CHECK(read(s->pipe[0], &c, 1) == 1);
    CHECK(pthread_mutex_unlock(&s->mutex) == 0);  /* held once more */
    for (int i = 0; i < 10; i++)
        CHECK(coil_yield() == 0);
    s->holder_unlocked_at = ++s->step;
    CHECK(pthread_mutex_unlock(&s->mutex) == 0);
    return NULL;
}

static void *recursive_main(void *arg)
{
    (void)arg;
    shared s;
    shared_init(&s, PTHREAD_MUTEX_RECURSIVE);
    coil_task *h = coil_spawn(recursive_holder, &s);
    CHECK(h != NULL);
    coil_yield();                         /* it holds the lock, parked */
    coil_task *l = coil_spawn(locker, &s);
    CHECK(l != NULL);
    coil_sleep(UNIT);
    CHECK(!task_ended(l) && s.lock_result == -2);      /* it waits */
    CHECK(pthread_mutex_trylock(&s.mutex) == EBUSY);   /* so would this */
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    await_task(l);
    CHECK(s.lock_result == 0 && s.after_lock == 0);
    CHECK(s.holder_unlocked_at == 1 && s.locker_locked_at == 2);
    CHECK(pthread_mutex_trylock(&s.mutex) == 0);       /* nobody holds it */
    CHECK(pthread_mutex_unlock(&s.mutex) == 0);
    shared_free(&s);
    return NULL;
}

/* Held by the thread below its loop: every task of it gets it, as in a
 * thread (the code that holds it is the caller of them all). */
static void *below_the_loop_main(void *arg)
{
    pthread_mutex_t *m = arg;
    CHECK(pthread_mutex_lock(m) == 0);
    CHECK(pthread_mutex_trylock(m) == 0);
    CHECK(pthread_mutex_unlock(m) == 0);
    CHECK(pthread_mutex_unlock(m) == 0);
    CHECK(pthread_mutex_lock(m) == 0);            /* again, from the top */
    CHECK(pthread_mutex_unlock(m) == 0);
    return NULL;
}

TEST(a_recursive_mutex_is_held_by_a_task_not_by_every_task_of_its_thread)
{
    watchdog();
    run_main(recursive_main, NULL);
    if (UNDER_TSAN)
        return;               /* its tasks are fibers: "double lock" */
    pthread_mutex_t m;
    init_mutex(&m, PTHREAD_MUTEX_RECURSIVE);
    CHECK(pthread_mutex_lock(&m) == 0);
    run_main(below_the_loop_main, &m);
    CHECK(pthread_mutex_unlock(&m) == 0);
    CHECK(pthread_mutex_trylock(&m) == 0);        /* nobody holds it */
    CHECK(pthread_mutex_unlock(&m) == 0);
    CHECK(pthread_mutex_destroy(&m) == 0);
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

/* ------------------------------------------------ condition variables */

/* ThreadSanitizer's interceptors look glibc's condition functions up by
 * symbol version (GLIBC_2.3.2), which passes over the hook's unversioned
 * ones: under it, a task's pthread_cond_wait is glibc's. */
#define COND_HOOKS_REACHED (!UNDER_TSAN)

static void cond_watchdog(void)
{
    if (!COND_HOOKS_REACHED)
        SKIP("ThreadSanitizer's interceptors pass over the condition hooks");
    watchdog();
}

typedef struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int ready, woken, result;
    coil_time signalled_at, woken_at;
} flag;

static void flag_init(flag *f, int mutex_type)
{
    memset(f, 0, sizeof *f);
    init_mutex(&f->mutex, mutex_type);
    CHECK(pthread_cond_init(&f->cond, NULL) == 0);
}

static void flag_free(flag *f)
{
    CHECK(pthread_cond_destroy(&f->cond) == 0);
    CHECK(pthread_mutex_destroy(&f->mutex) == 0);
}

/* The classic wait: the predicate, checked under the mutex, in a loop. */
static void *wait_for_flag(void *arg)
{
    flag *f = arg;
    CHECK(pthread_mutex_lock(&f->mutex) == 0);
    while (!f->ready)
        CHECK(pthread_cond_wait(&f->cond, &f->mutex) == 0);
    f->woken++;
    f->woken_at = coil_clock();
    CHECK(pthread_mutex_unlock(&f->mutex) == 0);
    return NULL;
}

static void raise_flag(flag *f, int broadcast)
{
    CHECK(pthread_mutex_lock(&f->mutex) == 0);
    f->ready = 1;
    f->signalled_at = coil_clock();
    CHECK((broadcast ? pthread_cond_broadcast(&f->cond)
                     : pthread_cond_signal(&f->cond)) == 0);
    CHECK(pthread_mutex_unlock(&f->mutex) == 0);
}

enum { RECURSIVE_FLAG = 0x100 };   /* in same_thread_main's arg */

static void *same_thread_main(void *arg)
{
    int waiters = *(int *)arg & 0xff;
    flag f;
    flag_init(&f, *(int *)arg & RECURSIVE_FLAG ? PTHREAD_MUTEX_RECURSIVE
                                                : PTHREAD_MUTEX_NORMAL);
    coil_task *t[3];
    for (int i = 0; i < waiters; i++)
        CHECK((t[i] = coil_spawn(wait_for_flag, &f)) != NULL);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(f.woken == 0);                  /* ...while they wait */
    raise_flag(&f, waiters > 1);
    /* Woken by the signal itself, not by a nap that ran out. */
    for (int i = 0; i < 4 && f.woken < waiters; i++)
        coil_yield();
    CHECK(f.woken == waiters);
    for (int i = 0; i < waiters; i++)
        await_task(t[i]);
    flag_free(&f);
    return NULL;
}

TEST(a_task_waits_on_a_condition_another_task_signals)
{
    int waiters = 1;
    cond_watchdog();
    run_main(same_thread_main, &waiters);
}

TEST(a_broadcast_wakes_every_task_that_waits)
{
    int waiters = 3;
    cond_watchdog();
    run_main(same_thread_main, &waiters);
}

/* The wait lets go of a recursive mutex too: the signaller takes it. */
TEST(so_does_one_whose_mutex_is_recursive)
{
    int waiters = 3 | RECURSIVE_FLAG;
    cond_watchdog();
    run_main(same_thread_main, &waiters);
}

typedef struct {
    flag *f;
    int go[2];
} signaller;

static void *signal_from_a_thread(void *arg)
{
    signaller *s = arg;
    char c;
    CHECK(read(s->go[0], &c, 1) == 1);    /* outside a task: libc's */
    raise_flag(s->f, 0);
    return NULL;
}

static void *other_thread_signal_main(void *arg)
{
    (void)arg;
    flag f;
    flag_init(&f, PTHREAD_MUTEX_NORMAL);
    signaller s = {&f, {-1, -1}};
    CHECK(pipe(s.go) == 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, signal_from_a_thread, &s) == 0);
    coil_task *t = coil_spawn(wait_for_flag, &f);
    coil_sleep(COIL_MSEC(100));           /* its naps grow to their most */
    CHECK(f.woken == 0);
    CHECK(write(s.go[1], "g", 1) == 1);
    await_task(t);
    CHECK(pthread_join(thread, NULL) == 0);
    /* Seen at its next nap's end (5 ms at most), not at the one-second
     * spurious wake-up that covers a signal no nap saw. */
    CHECK(f.woken == 1);
    CHECK(f.woken_at - f.signalled_at < COIL_MSEC(300) * load_slack());
    CHECK(close(s.go[0]) == 0 && close(s.go[1]) == 0);
    flag_free(&f);
    return NULL;
}

TEST(a_signal_from_another_thread_wakes_a_waiting_task_within_a_nap)
{
    cond_watchdog();
    run_main(other_thread_signal_main, NULL);
}

static void *cond_misuse_main(void *arg)
{
    (void)arg;
    flag f;
    flag_init(&f, PTHREAD_MUTEX_ERRORCHECK);
    /* Not holding the mutex: EPERM, as libc says for this kind. */
    CHECK(pthread_cond_wait(&f.cond, &f.mutex) == EPERM);
    /* Cancelled while it waits: unwinds without the mutex. */
    coil_task *t = coil_spawn(wait_for_flag, &f);
    coil_sleep(UNIT);
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(f.woken == 0);
    CHECK(pthread_mutex_trylock(&f.mutex) == 0);
    CHECK(pthread_mutex_unlock(&f.mutex) == 0);
    flag_free(&f);
    return NULL;
}

TEST(a_wait_without_the_mutex_is_eperm_and_a_cancelled_one_leaves_it_free)
{
    cond_watchdog();
    run_main(cond_misuse_main, NULL);
}

/* A timed wait on a condition whose clock is `clock`, for `ms`. */
typedef struct {
    flag *f;
    clockid_t clock;
    int use_clockwait, ms, result;
    coil_time took;
} timed;

static void *timed_waiter(void *arg)
{
    timed *tw = arg;
    struct timespec abs;
    CHECK(clock_gettime(tw->clock, &abs) == 0);
    abs.tv_sec += tw->ms / 1000;
    abs.tv_nsec += (long)(tw->ms % 1000) * 1000000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_nsec -= 1000000000;
        abs.tv_sec++;
    }
    coil_time start = coil_clock();
    CHECK(pthread_mutex_lock(&tw->f->mutex) == 0);
    tw->result = 0;
    while (!tw->f->ready && tw->result == 0)
        tw->result = tw->use_clockwait
            ? pthread_cond_clockwait(&tw->f->cond, &tw->f->mutex, tw->clock, &abs)
            : pthread_cond_timedwait(&tw->f->cond, &tw->f->mutex, &abs);
    CHECK(pthread_mutex_unlock(&tw->f->mutex) == 0);
    tw->took = coil_clock() - start;
    return NULL;
}

static void *timed_main(void *arg)
{
    (void)arg;
    for (int kind = 0; kind < 3; kind++) {
        flag f;
        flag_init(&f, PTHREAD_MUTEX_NORMAL);
        timed tw = {&f, kind == 1 ? CLOCK_MONOTONIC : CLOCK_REALTIME,
                    kind == 2, 200, -2, 0};
        if (kind == 1) {                  /* a condition on the monotonic clock */
            pthread_condattr_t a;
            CHECK(pthread_cond_destroy(&f.cond) == 0);
            CHECK(pthread_condattr_init(&a) == 0);
            CHECK(pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0);
            CHECK(pthread_cond_init(&f.cond, &a) == 0);
            CHECK(pthread_condattr_destroy(&a) == 0);
        }
        /* Nobody signals: ETIMEDOUT at its time, the loop running on. */
        coil_task *t = coil_spawn(timed_waiter, &tw);
        coil_sleep(UNIT);
        CHECK(!task_ended(t));
        await_task(t);
        CHECK(tw.result == ETIMEDOUT);
        CHECK(tw.took >= COIL_MSEC(200));
        CHECK(tw.took < COIL_MSEC(200 + 300) * load_slack());
        /* Signalled first: 0, long before its time. */
        tw.ms = 10000;
        t = coil_spawn(timed_waiter, &tw);
        coil_sleep(UNIT);
        raise_flag(&f, 0);
        await_task(t);
        CHECK(tw.result == 0 && tw.took < COIL_SEC(5));
        flag_free(&f);
    }
    flag f;
    flag_init(&f, PTHREAD_MUTEX_NORMAL);
    struct timespec bad = {0, 1000000000};
    CHECK(pthread_mutex_lock(&f.mutex) == 0);
    CHECK(pthread_cond_timedwait(&f.cond, &f.mutex, &bad) == EINVAL);
    struct timespec past = {0, 0};
    CHECK(pthread_cond_timedwait(&f.cond, &f.mutex, &past) == ETIMEDOUT);
    CHECK(pthread_cond_clockwait(&f.cond, &f.mutex, CLOCK_PROCESS_CPUTIME_ID,
                                 &past) == EINVAL);
    CHECK(pthread_mutex_unlock(&f.mutex) == 0);
    flag_free(&f);
    return NULL;
}

TEST(timed_waits_park_until_their_time_on_the_conditions_clock)
{
    cond_watchdog();
    run_main(timed_main, NULL);
}

/* ------------------------------------------------------- semaphores */

typedef struct {
    sem_t *sem;
    int timeout_ms;               /* 0: sem_wait */
    int r, err;
    coil_time took;
} sem_call;

static void *sem_task(void *arg)
{
    sem_call *c = arg;
    coil_time start = coil_clock();
    if (c->timeout_ms == 0) {
        c->r = sem_wait(c->sem);
    } else {
        struct timespec abs;
        CHECK(clock_gettime(CLOCK_REALTIME, &abs) == 0);
        abs.tv_sec += c->timeout_ms / 1000;
        abs.tv_nsec += (long)(c->timeout_ms % 1000) * 1000000;
        if (abs.tv_nsec >= 1000000000) {
            abs.tv_nsec -= 1000000000;
            abs.tv_sec++;
        }
        c->r = sem_timedwait(c->sem, &abs);
    }
    c->err = errno;
    c->took = coil_clock() - start;
    return NULL;
}

static coil_task *park_sem_task(sem_call *c)
{
    c->r = -2;
    coil_task *t = coil_spawn(sem_task, c);
    CHECK(t != NULL);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(!task_ended(t) && c->r == -2);  /* ...while it waits */
    return t;
}

static sem_t *handler_sem;

static void post_from_handler(int sig)
{
    (void)sig;
    sem_post(handler_sem);                /* async-signal-safe, as it must */
}

static void *sem_main(void *arg)
{
    (void)arg;
    sem_t sem;
    CHECK(sem_init(&sem, 0, 0) == 0);
    /* Another task posts: the waiter takes it. */
    sem_call c = {&sem, 0, 0, 0, 0};
    coil_task *t = park_sem_task(&c);
    CHECK(sem_post(&sem) == 0);
    await_task(t);
    CHECK(c.r == 0);
    /* Nobody posts: ETIMEDOUT at its time, the loop running on. */
    c.timeout_ms = 200;
    t = park_sem_task(&c);
    await_task(t);
    CHECK(c.r == -1 && c.err == ETIMEDOUT);
    CHECK(c.took >= COIL_MSEC(200));
    CHECK(c.took < COIL_MSEC(200 + 300) * load_slack());
    /* A handler, SA_RESTART or not, ends the wait: with EINTR if it ran
     * while the task napped, or with the post it made if it ran between
     * two tries — as a thread's sem_wait takes a post made by a handler
     * that ran before it entered the kernel. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = post_from_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    handler_sem = &sem;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    c.timeout_ms = 0;
    t = park_sem_task(&c);
    CHECK(raise(SIGUSR1) == 0);
    await_task(t);
    CHECK((c.r == -1 && c.err == EINTR) || c.r == 0);
    if (c.r == 0)
        CHECK_ERRNO(sem_trywait(&sem), EAGAIN);   /* it took the post */
    else
        CHECK(sem_trywait(&sem) == 0);            /* the post is there */
    /* A handler that runs while the waiter is between two tries (in its
     * first yields, on no list of parked calls) ends the wait as well: at
     * its first nap, which the mark the call took at its start refuses. */
    sa.sa_handler = count_handler;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    c.r = -2;
    t = coil_spawn(sem_task, &c);
    CHECK(t != NULL);
    CHECK(coil_yield() == 0);             /* it tried once, and yields */
    CHECK(!task_ended(t) && c.r == -2);
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    await_task(t);
    CHECK(c.r == -1 && c.err == EINTR);
    signal(SIGUSR1, SIG_DFL);
    /* Refusals are libc's. */
    struct timespec bad = {0, -1};
    CHECK_ERRNO(sem_timedwait(&sem, &bad), EINVAL);
    CHECK_ERRNO(sem_clockwait(&sem, CLOCK_PROCESS_CPUTIME_ID, &bad), EINVAL);
    CHECK(sem_destroy(&sem) == 0);
    return NULL;
}

TEST(sem_wait_in_a_task_parks_until_a_post_its_time_or_a_handler)
{
    watchdog();
    run_main(sem_main, NULL);
}

RUN_TESTS(T(a_mutex_another_task_holds_across_a_hooked_call_parks_the_locker),
          T(so_does_an_error_checking_mutex_which_says_no_edeadlk),
          T(a_recursive_mutex_is_held_by_a_task_not_by_every_task_of_its_thread),
          T(a_task_cancelled_while_it_waits_for_a_lock_unwinds_without_it),
          T(in_error_mode_it_takes_the_lock_and_meets_the_cancel_after),
          T(a_mutex_another_thread_holds_is_taken_once_it_unlocks),
          T(a_task_waits_on_a_condition_another_task_signals),
          T(a_broadcast_wakes_every_task_that_waits),
          T(so_does_one_whose_mutex_is_recursive),
          T(a_signal_from_another_thread_wakes_a_waiting_task_within_a_nap),
          T(a_wait_without_the_mutex_is_eperm_and_a_cancelled_one_leaves_it_free),
          T(timed_waits_park_until_their_time_on_the_conditions_clock),
          T(sem_wait_in_a_task_parks_until_a_post_its_time_or_a_handler))
