/*
 * tests/hook_rwlock_test.c — the hook layer's rwlocks, timed mutex
 * locks and spinlocks (src/hook/lock.c): a task that locks what another
 * task of its thread holds across a hooked call parks, instead of
 * blocking or spinning the thread (which would keep the holder from ever
 * unlocking) or, as glibc's rwlocks do when the thread is the writer,
 * failing with EDEADLK; a timed lock ends at its time with the loop
 * running meanwhile.
 *
 * The holder waits in a hooked read for a byte that the test writes only
 * after its own task ran on while the other task waited: a lock that
 * blocked the thread would keep the byte from ever coming, and the
 * watchdog fails the test instead of letting it hang.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

#define UNIT COIL_MSEC(30)

/* The ways to take a lock that the tests go through. */
enum {
    MUTEX, MUTEX_TIMED, MUTEX_CLOCK,
    READ, WRITE, READ_TIMED, WRITE_TIMED, READ_CLOCK, WRITE_CLOCK,
    SPIN,
};

typedef struct {
    pthread_mutex_t mutex;
    pthread_rwlock_t rw;
    pthread_spinlock_t spin;
    int pipe[2];              /* the holder reads a byte from [0] */
    int step;                 /* who did what, in order */
    int holder_unlocked_at, locker_locked_at;
    int hold, take;           /* how the holder holds, the locker takes */
    int timeout_ms;           /* the locker's, for the timed ways */
    int result;               /* the locker's lock call's: -2 until it returns */
    coil_time took;
} shared;

static int is_mutex(int way)
{
    return way <= MUTEX_CLOCK;
}

static int take(shared *s, int way, int timeout_ms)
{
    struct timespec rt = abs_in(CLOCK_REALTIME, timeout_ms);
    struct timespec mono = abs_in(CLOCK_MONOTONIC, timeout_ms);
    switch (way) {
    case MUTEX: return pthread_mutex_lock(&s->mutex);
    case MUTEX_TIMED: return pthread_mutex_timedlock(&s->mutex, &rt);
    case MUTEX_CLOCK:
        return pthread_mutex_clocklock(&s->mutex, CLOCK_MONOTONIC, &mono);
    case READ: return pthread_rwlock_rdlock(&s->rw);
    case WRITE: return pthread_rwlock_wrlock(&s->rw);
    case READ_TIMED: return pthread_rwlock_timedrdlock(&s->rw, &rt);
    case WRITE_TIMED: return pthread_rwlock_timedwrlock(&s->rw, &rt);
    case READ_CLOCK:
        return pthread_rwlock_clockrdlock(&s->rw, CLOCK_MONOTONIC, &mono);
    case SPIN: return pthread_spin_lock(&s->spin);
    default:
        return pthread_rwlock_clockwrlock(&s->rw, CLOCK_MONOTONIC, &mono);
    }
}

static void release(shared *s, int way)
{
    if (way == SPIN)
        CHECK(pthread_spin_unlock(&s->spin) == 0);
    else if (is_mutex(way))
        CHECK(pthread_mutex_unlock(&s->mutex) == 0);
    else
        CHECK(pthread_rwlock_unlock(&s->rw) == 0);
}

static void shared_init(shared *s, int hold, int take_way, int timeout_ms)
{
    memset(s, 0, sizeof *s);
    CHECK(pthread_mutex_init(&s->mutex, NULL) == 0);
    CHECK(pthread_rwlock_init(&s->rw, NULL) == 0);
    CHECK(pthread_spin_init(&s->spin, PTHREAD_PROCESS_PRIVATE) == 0);
    CHECK(pipe(s->pipe) == 0);
    s->hold = hold;
    s->take = take_way;
    s->timeout_ms = timeout_ms;
    s->result = -2;
}

static void shared_free(shared *s)
{
    CHECK(pthread_mutex_destroy(&s->mutex) == 0);
    CHECK(pthread_rwlock_destroy(&s->rw) == 0);
    CHECK(pthread_spin_destroy(&s->spin) == 0);
    CHECK(close(s->pipe[0]) == 0 && close(s->pipe[1]) == 0);
}

/* Lock, wait in a hooked read inside the critical section, unlock. */
static void *holder(void *arg)
{
    shared *s = arg;
    CHECK(take(s, s->hold, 1000) == 0);
    char c;
    CHECK(read(s->pipe[0], &c, 1) == 1);
    s->holder_unlocked_at = ++s->step;
    release(s, s->hold);
    return NULL;
}

static void *locker(void *arg)
{
    shared *s = arg;
    coil_time start = coil_clock();
    int r = take(s, s->take, s->timeout_ms);
    s->took = coil_clock() - start;
    s->result = r;
    if (r == 0) {
        s->locker_locked_at = ++s->step;
        release(s, s->take);
    }
    return NULL;
}

/* holder takes its lock and parks in read; locker then waits for its
 * own, and the loop runs on meanwhile. */
static void start_both(shared *s, coil_task **h, coil_task **l)
{
    *h = coil_spawn(holder, s);
    CHECK(*h != NULL);
    coil_yield();                         /* it holds the lock, parked */
    CHECK(!task_ended(*h));
    *l = coil_spawn(locker, s);
    CHECK(*l != NULL);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(!task_ended(*l) && s->result == -2);   /* ...it waits */
}

/* The locker gets the lock once the holder, let go on, unlocks. */
static void contend(int hold, int take_way)
{
    shared s;
    shared_init(&s, hold, take_way, 10000);
    coil_task *h, *l;
    start_both(&s, &h, &l);
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    await_task(l);
    CHECK(s.result == 0);
    CHECK(s.holder_unlocked_at == 1 && s.locker_locked_at == 2);
    shared_free(&s);
}

static void *writer_after_reader_main(void *arg)
{
    (void)arg;
    contend(READ, WRITE);
    contend(READ, WRITE_TIMED);
    contend(READ_CLOCK, WRITE_CLOCK);
    return NULL;
}

TEST(a_writer_parks_while_another_task_reads_across_a_hooked_call)
{
    watchdog();
    run_main(writer_after_reader_main, NULL);
}

static void *reader_after_writer_main(void *arg)
{
    (void)arg;
    contend(WRITE, READ);
    contend(WRITE, WRITE);
    contend(WRITE_TIMED, READ_TIMED);
    contend(WRITE_CLOCK, READ_CLOCK);
    return NULL;
}

TEST(a_task_parks_while_another_task_of_its_thread_writes_not_edeadlk)
{
    watchdog();
    run_main(reader_after_writer_main, NULL);
}

/* A timed lock the holder keeps past its time: ETIMEDOUT at that time,
 * and the loop ran on meanwhile (a thread blocked in the kernel for the
 * whole time would have let this task tick once at most). */
static void time_out(int hold, int take_way)
{
    shared s;
    shared_init(&s, hold, take_way, 200);
    coil_task *h, *l;
    start_both(&s, &h, &l);
    int ticks = 1 + ticks_until_ended(l, UNIT);   /* 1: the park's sleep */
    await_task(l);
    CHECK(s.result == ETIMEDOUT);
    CHECK(s.took >= COIL_MSEC(200));
    CHECK(within((double)s.took, COIL_MSEC(200), COIL_MSEC(200 + 300)));
    CHECK(ticks >= 4);
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    shared_free(&s);
}

static void *timeouts_main(void *arg)
{
    (void)arg;
    time_out(MUTEX, MUTEX_TIMED);
    time_out(MUTEX, MUTEX_CLOCK);
    time_out(READ, WRITE_TIMED);
    time_out(WRITE, READ_CLOCK);
    contend(MUTEX, MUTEX_TIMED);
    return NULL;
}

TEST(timed_locks_end_at_their_time_while_the_loop_runs_on)
{
    watchdog();
    run_main(timeouts_main, NULL);
}

/* What libc refuses, refused alike; what it grants at once, granted. */
static void *refusals_main(void *arg)
{
    (void)arg;
    shared s;
    shared_init(&s, WRITE, READ, 0);
    struct timespec bad = {0, 1000000000};
    struct timespec past = {0, 0};
    /* Free: taken at once, whatever the time says (as glibc's mutex). */
    CHECK(pthread_mutex_timedlock(&s.mutex, &bad) == 0);
    /* Held by this task (a deadlock in a thread too): a bad time is
     * EINVAL, a time long past ETIMEDOUT, each at once. */
    CHECK(pthread_mutex_timedlock(&s.mutex, &bad) == EINVAL);
    CHECK(pthread_mutex_timedlock(&s.mutex, &past) == ETIMEDOUT);
    CHECK(pthread_mutex_clocklock(&s.mutex, CLOCK_PROCESS_CPUTIME_ID,
                                  &past) == EINVAL);
    CHECK(pthread_mutex_unlock(&s.mutex) == 0);
    CHECK(pthread_rwlock_timedwrlock(&s.rw, &bad) == EINVAL);  /* at once */
    CHECK(pthread_rwlock_wrlock(&s.rw) == 0);
    /* This task writes: in a thread EDEADLK, in a task the writer might
     * be another: the time decides. */
    CHECK(pthread_rwlock_timedrdlock(&s.rw, &bad) == EINVAL);
    CHECK(pthread_rwlock_timedrdlock(&s.rw, &past) == ETIMEDOUT);
    CHECK(pthread_rwlock_clockwrlock(&s.rw, CLOCK_PROCESS_CPUTIME_ID,
                                     &past) == EINVAL);
    CHECK(pthread_rwlock_unlock(&s.rw) == 0);
    CHECK(pthread_rwlock_rdlock(&s.rw) == 0);     /* readers share */
    CHECK(pthread_rwlock_rdlock(&s.rw) == 0);
    CHECK(pthread_rwlock_unlock(&s.rw) == 0);
    CHECK(pthread_rwlock_unlock(&s.rw) == 0);
    CHECK(pthread_rwlock_trywrlock(&s.rw) == 0);
    CHECK(pthread_rwlock_unlock(&s.rw) == 0);
    shared_free(&s);
    return NULL;
}

TEST(bad_times_and_clocks_are_einval_and_a_free_lock_is_taken_at_once)
{
    watchdog();
    run_main(refusals_main, NULL);
}

/* A task cancelled while it waits for the write lock unwinds without it. */
static void *cancelled_main(void *arg)
{
    (void)arg;
    shared s;
    shared_init(&s, READ, WRITE, 0);
    coil_task *h, *l;
    start_both(&s, &h, &l);
    CHECK(coil_task_cancel(l) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(l), NULL), ECANCELED);
    coil_task_release(l);
    CHECK(s.result == -2);
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    CHECK(pthread_rwlock_trywrlock(&s.rw) == 0);  /* nobody holds it */
    CHECK(pthread_rwlock_unlock(&s.rw) == 0);
    shared_free(&s);
    return NULL;
}

TEST(a_task_cancelled_while_it_waits_for_a_write_lock_unwinds_without_it)
{
    watchdog();
    run_main(cancelled_main, NULL);
}

/* ------------------------------------------------- another thread's */

typedef struct {
    pthread_rwlock_t *rw;
    int ready[2];
} thread_writer;

static void *write_briefly(void *arg)
{
    thread_writer *tw = arg;
    CHECK(pthread_rwlock_wrlock(tw->rw) == 0);
    CHECK(write(tw->ready[1], "w", 1) == 1);
    usleep(20000);            /* the subject: a lock held for 20 ms */
    CHECK(pthread_rwlock_unlock(tw->rw) == 0);
    return NULL;
}

static void *other_thread_main(void *arg)
{
    (void)arg;
    pthread_rwlock_t rw;
    CHECK(pthread_rwlock_init(&rw, NULL) == 0);
    thread_writer tw = {&rw, {-1, -1}};
    CHECK(pipe(tw.ready) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, write_briefly, &tw) == 0);
    char c;
    CHECK(read(tw.ready[0], &c, 1) == 1);         /* it holds the lock */
    struct timespec abs = abs_in(CLOCK_REALTIME, 10000);
    CHECK(pthread_rwlock_timedrdlock(&rw, &abs) == 0);
    CHECK(pthread_rwlock_unlock(&rw) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(close(tw.ready[0]) == 0 && close(tw.ready[1]) == 0);
    CHECK(pthread_rwlock_destroy(&rw) == 0);
    return NULL;
}

TEST(a_write_lock_another_thread_holds_is_waited_for_and_then_taken)
{
    watchdog();
    run_main(other_thread_main, NULL);
}

/* A spinlock: spun on for ever in a thread whose task holds it parked. */
static void *spin_main(void *arg)
{
    (void)arg;
    contend(SPIN, SPIN);
    return NULL;
}

TEST(a_spinlock_another_task_holds_parks_the_locker_instead_of_spinning)
{
    watchdog();
    run_main(spin_main, NULL);
}

/* pthread_once: an initializer that parks, and a second task meanwhile. */
static int once_pipe[2], once_runs, once_seen_done;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void once_init(void)
{
    char c;
    CHECK(read(once_pipe[0], &c, 1) == 1);   /* parks its task */
    once_runs++;
}

static void *once_task(void *arg)
{
    (void)arg;
    CHECK(pthread_once(&once, once_init) == 0);
    CHECK(once_runs == 1);                /* done when it returns */
    once_seen_done++;
    return NULL;
}

static void *once_main(void *arg)
{
    (void)arg;
    CHECK(pipe(once_pipe) == 0);
    coil_task *a = coil_spawn(once_task, NULL);
    coil_task *b = coil_spawn(once_task, NULL);
    CHECK(a && b);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(!task_ended(a) && !task_ended(b) && once_seen_done == 0);
    CHECK(write(once_pipe[1], "x", 1) == 1);
    await_task(a);
    await_task(b);
    CHECK(once_runs == 1 && once_seen_done == 2);
    CHECK(pthread_once(&once, once_init) == 0 && once_runs == 1);
    CHECK(close(once_pipe[0]) == 0 && close(once_pipe[1]) == 0);
    return NULL;
}

TEST(pthread_once_whose_initializer_parks_makes_a_second_task_wait)
{
    if (UNDER_TSAN)
        SKIP("ThreadSanitizer's pthread_once is its own, not the hook's");
    watchdog();
    run_main(once_main, NULL);
}

RUN_TESTS(T(a_writer_parks_while_another_task_reads_across_a_hooked_call),
          T(a_task_parks_while_another_task_of_its_thread_writes_not_edeadlk),
          T(timed_locks_end_at_their_time_while_the_loop_runs_on),
          T(bad_times_and_clocks_are_einval_and_a_free_lock_is_taken_at_once),
          T(a_task_cancelled_while_it_waits_for_a_write_lock_unwinds_without_it),
          T(a_write_lock_another_thread_holds_is_waited_for_and_then_taken),
          T(a_spinlock_another_task_holds_parks_the_locker_instead_of_spinning),
          T(pthread_once_whose_initializer_parks_makes_a_second_task_wait))
