/*
 * tests/runtime_test.c — layer 5 runtime: N loops on N threads, spawning on
 * a chosen loop, tasks that never migrate, awaiting across loops, and
 * stopping (tasks still alive are cancelled and their cleanup runs; a
 * spawn racing the stop never leaves a future pending for ever; a start
 * that fails leaves no thread or fd behind).
 *
 * The main thread here runs no loop: it blocks on the thread-safe futures.
 * Semaphores, not sleeps, say when a task has got somewhere.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "coil.h"
#include "fork_mask.h"

/* ------------------------------------------------------------- helpers */

/* Wait (blocking) for f, which must succeed; release it; its result. */
static void *result_of(coil_tfuture *f)
{
    void *v = NULL;
    CHECK(f != NULL);
    CHECK(coil_tfuture_wait(f, COIL_SEC(30), &v) == 0);
    coil_tfuture_release(f);
    return v;
}

/* Wait for f, which must fail; release it; its errno. */
static int error_of(coil_tfuture *f)
{
    CHECK(f != NULL);
    errno = 0;
    CHECK(coil_tfuture_wait(f, COIL_SEC(30), NULL) == -1);
    int err = errno;
    coil_tfuture_release(f);
    return err;
}

static void stop_and_join(coil_runtime *rt)
{
    CHECK(coil_runtime_stop(rt) == 0);
    CHECK(coil_runtime_join(rt) == 0);
}

static void sem_wait_n(sem_t *s, int n)
{
    for (int i = 0; i < n; i++)
        while (sem_wait(s) != 0)
            ;
}

/* Entries of a /proc directory, "." and ".." aside. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A thread that pthread_join has returned for can linger in /proc for a
 * moment (the kernel wakes the joiner before it unlists the thread): wait
 * for the count, boundedly. */
static int threads_settle_to(int want)
{
    int n = 0;
    for (int i = 0; i < 500; i++) {
        if ((n = count_entries("/proc/self/task")) == want)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return n;
}

/* The thread count once joined threads have left /proc (under qemu-user
 * that takes a while): the same on two looks 50 ms apart. */
static int stable_thread_count(void)
{
    int before = count_entries("/proc/self/task");
    for (int i = 0; i < 100; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        int now = count_entries("/proc/self/task");
        if (now == before)
            break;
        before = now;
    }
    return before;
}

/* ------------------------------------------------- loops and threads */

typedef struct where {
    pthread_t thread, thread_after;
    coil_loop *loop, *loop_after;
} where;

/* Where the task runs, before and after suspending a few ways. */
static void *note_where(void *arg)
{
    where *w = arg;
    w->thread = pthread_self();
    w->loop = coil_loop_current();
    CHECK(coil_yield() == 0);
    CHECK(coil_sleep(COIL_MSEC(1)) == 0);
    CHECK(coil_yield() == 0);
    w->thread_after = pthread_self();
    w->loop_after = coil_loop_current();
    return arg;
}

TEST(each_loop_runs_on_a_thread_of_its_own_and_tasks_stay_there)
{
    enum { N = 3 };
    coil_runtime *rt = coil_runtime_start(N, NULL);
    CHECK(rt != NULL);
    CHECK(coil_runtime_size(rt) == N);
    where w[N];
    coil_tfuture *f[N];
    for (size_t i = 0; i < N; i++)
        f[i] = coil_runtime_spawn(rt, i, note_where, &w[i]);
    for (size_t i = 0; i < N; i++) {
        CHECK(result_of(f[i]) == &w[i]);
        CHECK(w[i].loop != NULL);
        CHECK(w[i].loop == coil_runtime_loop(rt, i));
        CHECK(!pthread_equal(w[i].thread, pthread_self()));
        CHECK(pthread_equal(w[i].thread, w[i].thread_after));
        CHECK(w[i].loop == w[i].loop_after);
        for (size_t j = 0; j < i; j++) {
            CHECK(!pthread_equal(w[i].thread, w[j].thread));
            CHECK(w[i].loop != w[j].loop);
        }
    }
    stop_and_join(rt);
}

TEST(zero_loops_means_one_per_cpu_the_caller_may_use)
{
    cpu_set_t cpus;
    CHECK(sched_getaffinity(0, sizeof cpus, &cpus) == 0);
    coil_runtime *rt = coil_runtime_start(0, NULL);
    CHECK(rt != NULL);
    CHECK(coil_runtime_size(rt) == (size_t)CPU_COUNT(&cpus));
    stop_and_join(rt);
}

static int nth_allowed_cpu(const cpu_set_t *set, size_t i)
{
    size_t want = i % (size_t)CPU_COUNT(set);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, set) && want-- == 0)
            return c;
    return -1;
}

static void *affinity_of_my_thread(void *arg)
{
    cpu_set_t *set = arg;
    CHECK(pthread_getaffinity_np(pthread_self(), sizeof *set, set) == 0);
    return NULL;
}

TEST(pinning_puts_loop_i_on_the_ith_allowed_cpu_wrapping_round)
{
    cpu_set_t allowed;
    CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    size_t n = (size_t)CPU_COUNT(&allowed) + 1;    /* one more: wraps */
    coil_runtime_attr attr = {.flags = COIL_RUNTIME_PIN};
    coil_runtime *rt = coil_runtime_start(n, &attr);
    CHECK(rt != NULL);
    for (size_t i = 0; i < n; i++) {
        cpu_set_t got;
        result_of(coil_runtime_spawn(rt, i, affinity_of_my_thread, &got));
        CHECK(CPU_COUNT(&got) == 1);
        CHECK(CPU_ISSET(nth_allowed_cpu(&allowed, i), &got));
    }
    stop_and_join(rt);
}

/* --------------------------------------------------------- outcomes */

static void *twice(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}

static void *fail_with_eio(void *arg)
{
    (void)arg;
    CHECK(coil_sleep(COIL_MSEC(1)) == 0);
    return coil_task_error(EIO);
}

TEST(results_and_errors_come_back_through_thread_safe_futures)
{
    coil_runtime *rt = coil_runtime_start(2, NULL);
    CHECK(rt != NULL);
    coil_tfuture *a = coil_runtime_spawn(rt, 0, twice, (void *)21);
    coil_tfuture *b = coil_runtime_spawn(rt, 1, twice, (void *)50);
    coil_tfuture *bad = coil_runtime_spawn(rt, 1, fail_with_eio, NULL);
    CHECK((intptr_t)result_of(a) == 42);
    CHECK((intptr_t)result_of(b) == 100);
    CHECK(error_of(bad) == EIO);
    stop_and_join(rt);
}

/* A task of a runtime's loop that forks: the loop threads start with the
 * asynchronous signals blocked (they are the loops'), which the child
 * must not keep for what it execs (fork_mask.h). */
TEST(a_child_forked_in_a_runtimes_task_gets_the_programs_signal_mask)
{
    block_sigusr2();
    coil_runtime *rt = coil_runtime_start(1, NULL);
    CHECK(rt != NULL);
    int status = (int)(intptr_t)result_of(coil_runtime_spawn(rt, 0,
                                                             fork_and_look,
                                                             NULL));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    stop_and_join(rt);
}

TEST(bad_arguments_are_einval)
{
    coil_runtime_attr unknown = {.flags = 0x80};
    CHECK_ERRNO(coil_runtime_start(COIL_RUNTIME_MAX_LOOPS + 1, NULL), EINVAL);
    CHECK_ERRNO(coil_runtime_start(1, &unknown), EINVAL);
    CHECK(coil_runtime_size(NULL) == 0);
    CHECK_ERRNO(coil_runtime_loop(NULL, 0), EINVAL);
    CHECK_ERRNO(coil_runtime_spawn(NULL, 0, twice, NULL), EINVAL);
    CHECK_ERRNO(coil_runtime_stop(NULL), EINVAL);
    CHECK_ERRNO(coil_runtime_join(NULL), EINVAL);

    coil_runtime *rt = coil_runtime_start(2, NULL);
    CHECK(rt != NULL);
    CHECK_ERRNO(coil_runtime_loop(rt, 2), EINVAL);
    CHECK_ERRNO(coil_runtime_spawn(rt, 2, twice, NULL), EINVAL);
    CHECK_ERRNO(coil_runtime_spawn(rt, (size_t)-1, twice, NULL), EINVAL);
    CHECK_ERRNO(coil_runtime_spawn_task(rt, 0, NULL, NULL, "none"), EINVAL);
    CHECK((intptr_t)result_of(coil_runtime_spawn(rt, 1, twice, (void *)1)) ==
          2);                       /* still works after the refusals */
    stop_and_join(rt);
}

/* ---------------------------------------------------- across loops */

typedef struct relay {
    coil_runtime *rt;
    atomic_int a_waiting;
    pthread_t a_thread, c_thread;
    int c_saw_a_waiting;
} relay;

/* C, on loop 0: can only run while A (also on loop 0) is suspended. */
static void *task_c(void *arg)
{
    relay *r = arg;
    r->c_thread = pthread_self();
    r->c_saw_a_waiting = atomic_load(&r->a_waiting);
    return NULL;
}

/* B, on loop 1: finishes only once C has run. */
static void *task_b(void *arg)
{
    CHECK(coil_tfuture_wait(arg, COIL_SEC(30), NULL) == 0);
    return (void *)42;
}

/* A, on loop 0: awaits B.  Were the wait to block loop 0, C could never
 * run, B never finish, and the wait would time out. */
static void *task_a(void *arg)
{
    relay *r = arg;
    r->a_thread = pthread_self();
    coil_tfuture *c = coil_runtime_spawn(r->rt, 0, task_c, r);
    coil_tfuture *b = coil_runtime_spawn(r->rt, 1, task_b, c);
    CHECK(c && b);
    atomic_store(&r->a_waiting, 1);
    void *v = NULL;
    int rc = coil_tfuture_wait(b, COIL_SEC(10), &v);
    atomic_store(&r->a_waiting, 0);
    CHECK(rc == 0);
    CHECK(pthread_equal(pthread_self(), r->a_thread));   /* no migration */
    coil_tfuture_release(b);
    coil_tfuture_release(c);
    return v;
}

TEST(a_task_awaiting_another_loop_suspends_and_its_loop_runs_on)
{
    relay r = {.rt = coil_runtime_start(2, NULL)};
    CHECK(r.rt != NULL);
    atomic_init(&r.a_waiting, 0);
    CHECK((intptr_t)result_of(coil_runtime_spawn(r.rt, 0, task_a, &r)) == 42);
    CHECK(r.c_saw_a_waiting == 1);
    CHECK(pthread_equal(r.c_thread, r.a_thread));
    stop_and_join(r.rt);
}

/* ---------------------------------------------------------- stopping */

static atomic_int cleaned;
static sem_t sleeping;

static void slow_cleanup(void *arg)
{
    (void)arg;
    /* Cleanup may suspend: the loop is still running it. */
    CHECK(coil_sleep(COIL_MSEC(1)) == 0);
    atomic_fetch_add(&cleaned, 1);
}

static void *sleep_for_an_hour(void *arg)
{
    coil_cleanup_push(slow_cleanup, arg);
    sem_post(&sleeping);
    coil_sleep(COIL_SEC(3600));
    coil_cleanup_pop(0);
    return (void *)1;
}

TEST(stop_cancels_the_tasks_still_alive_and_runs_their_cleanup)
{
    enum { LOOPS = 2, PER_LOOP = 4 };
    atomic_init(&cleaned, 0);
    sem_init(&sleeping, 0, 0);
    coil_runtime *rt = coil_runtime_start(LOOPS, NULL);
    CHECK(rt != NULL);
    coil_tfuture *f[LOOPS * PER_LOOP];
    for (size_t i = 0; i < LOOPS * PER_LOOP; i++) {
        f[i] = coil_runtime_spawn(rt, i % LOOPS, sleep_for_an_hour, NULL);
        CHECK(f[i] != NULL);
    }
    sem_wait_n(&sleeping, LOOPS * PER_LOOP);    /* every one is asleep */
    coil_time t0 = coil_clock();
    stop_and_join(rt);
    CHECK(coil_clock() - t0 < COIL_SEC(20));
    CHECK(atomic_load(&cleaned) == LOOPS * PER_LOOP);
    for (size_t i = 0; i < LOOPS * PER_LOOP; i++) {
        CHECK(coil_tfuture_done(f[i]) == 1);
        CHECK(error_of(f[i]) == ECANCELED);
    }
    sem_destroy(&sleeping);
}

TEST(after_stop_spawns_and_loop_lookups_fail_with_eshutdown)
{
    coil_runtime *rt = coil_runtime_start(2, NULL);
    CHECK(rt != NULL);
    coil_loop *loop0 = coil_runtime_loop(rt, 0);
    CHECK(loop0 != NULL);
    CHECK(coil_runtime_stop(rt) == 0);
    CHECK(coil_runtime_stop(rt) == 0);             /* harmless twice */
    CHECK_ERRNO(coil_runtime_spawn(rt, 0, twice, NULL), ESHUTDOWN);
    CHECK_ERRNO(coil_runtime_loop(rt, 1), ESHUTDOWN);
    CHECK(coil_runtime_size(rt) == 2);
    CHECK(coil_runtime_join(rt) == 0);
    /* The loop is closed and unregistered: submitting to it is refused. */
    CHECK_ERRNO(coil_spawn_threadsafe(loop0, twice, NULL), ESHUTDOWN);
}

typedef struct racer {
    coil_runtime *rt;
    sem_t going;                  /* posted once, after the first spawns */
    coil_tfuture **f;
    size_t n;
} racer;

enum { RACE_MAX = 1 << 20 };

/* Spawn quick tasks on both loops until the runtime refuses. */
static void *spawn_until_refused(void *arg)
{
    racer *r = arg;
    r->f = malloc(RACE_MAX * sizeof *r->f);
    CHECK(r->f != NULL);
    while (r->n < RACE_MAX) {
        coil_tfuture *f = coil_runtime_spawn(r->rt, r->n % 2, twice,
                                             (void *)1);
        if (!f) {
            CHECK(errno == ESHUTDOWN);
            break;
        }
        r->f[r->n++] = f;
        if (r->n == 100)
            sem_post(&r->going);
    }
    return NULL;
}

TEST(spawns_racing_a_stop_each_complete_none_is_left_pending)
{
    racer r = {.rt = coil_runtime_start(2, NULL)};
    CHECK(r.rt != NULL);
    sem_init(&r.going, 0, 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, spawn_until_refused, &r) == 0);
    sem_wait_n(&r.going, 1);
    CHECK(coil_runtime_stop(r.rt) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(coil_runtime_join(r.rt) == 0);
    CHECK(r.n >= 100 && r.n < RACE_MAX);
    /* Some may have run before the stop, or none: that is the race. */
    for (size_t i = 0; i < r.n; i++) {
        void *v = NULL;
        CHECK(coil_tfuture_done(r.f[i]) == 1);
        if (coil_tfuture_result(r.f[i], &v) == 0)
            CHECK((intptr_t)v == 2);
        else                      /* cancelled, or never made */
            CHECK(errno == ECANCELED || errno == ESHUTDOWN);
        coil_tfuture_release(r.f[i]);
    }
    free(r.f);
    sem_destroy(&r.going);
}

typedef struct self_stop {
    coil_runtime *rt;
    int join_errno;
} self_stop;

static void *join_then_stop_own_runtime(void *arg)
{
    self_stop *s = arg;
    errno = 0;
    CHECK(coil_runtime_join(s->rt) == -1);
    s->join_errno = errno;
    CHECK(coil_runtime_stop(s->rt) == 0);
    return NULL;
}

TEST(a_loop_may_stop_its_runtime_but_not_join_it)
{
    self_stop s = {coil_runtime_start(2, NULL), 0};
    CHECK(s.rt != NULL);
    coil_tfuture *f = coil_runtime_spawn(s.rt, 1, join_then_stop_own_runtime,
                                         &s);
    CHECK(f != NULL);
    CHECK(coil_runtime_join(s.rt) == 0);    /* the task's stop ends it */
    CHECK(result_of(f) == NULL);
    CHECK(s.join_errno == EDEADLK);
}

/* ------------------------------------------------------ failed start */

/* Let the process open only `more` further fds, returning the old limit:
 * the `more` lowest free fd numbers are the only ones left below it. */
static struct rlimit allow_only_more_fds(int more)
{
    struct rlimit old;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    int fds[16], highest = -1;
    CHECK(more <= 16);
    for (int i = 0; i < more; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fds[i] >= 0);
        highest = fds[i] > highest ? fds[i] : highest;
    }
    for (int i = 0; i < more; i++)
        close(fds[i]);
    struct rlimit tight = {(rlim_t)highest + 1, old.rlim_max};
    CHECK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
    return old;
}

TEST(a_failed_start_leaves_no_thread_or_fd_behind)
{
    /* A first runtime, so that what starts once per process (ThreadSanitizer
     * starts a thread of its own at the first pthread_create) is counted. */
    stop_and_join(coil_runtime_start(1, NULL));
    int threads = stable_thread_count();
    int fds = count_entries("/proc/self/fd");
    /* Room for a loop or two (an epoll fd and an eventfd each), not 16. */
    struct rlimit old = allow_only_more_fds(5);
    errno = 0;
    coil_runtime *rt = coil_runtime_start(16, NULL);
    int err = errno;
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK(rt == NULL);
    CHECK(err == EMFILE);
    CHECK(threads_settle_to(threads) == threads);
    CHECK(count_entries("/proc/self/fd") == fds);
    /* And with fds to spare, the same start works. */
    rt = coil_runtime_start(16, NULL);
    CHECK(rt != NULL);
    stop_and_join(rt);
    CHECK(threads_settle_to(threads) == threads);
}

RUN_TESTS(T(each_loop_runs_on_a_thread_of_its_own_and_tasks_stay_there),
          T(zero_loops_means_one_per_cpu_the_caller_may_use),
          T(pinning_puts_loop_i_on_the_ith_allowed_cpu_wrapping_round),
          T(results_and_errors_come_back_through_thread_safe_futures),
          T(bad_arguments_are_einval),
          T(a_child_forked_in_a_runtimes_task_gets_the_programs_signal_mask),
          T(a_task_awaiting_another_loop_suspends_and_its_loop_runs_on),
          T(stop_cancels_the_tasks_still_alive_and_runs_their_cleanup),
          T(after_stop_spawns_and_loop_lookups_fail_with_eshutdown),
          T(spawns_racing_a_stop_each_complete_none_is_left_pending),
          T(a_loop_may_stop_its_runtime_but_not_join_it),
          T(a_failed_start_leaves_no_thread_or_fd_behind))
