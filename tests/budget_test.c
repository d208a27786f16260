/*
 * tests/budget_test.c — the cooperative budget (src/task/budget.c,
 * coil_budget_set): a task that completes N counted calls without
 * suspending yields once at the next, before that call does anything;
 * calls documented not to suspend never yield and never deliver
 * cancellation; and a connection that floods its server no longer starves
 * the others (which it does with the budget off).
 */
#include "check.h"

#include <coil.h>

#include "task_helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/poll.h>
#include <sys/socket.h>

/* ------------------------------------------------------------ the knob */

TEST(the_budget_is_128_by_default_and_settable)
{
    CHECK(coil_budget() == 128);
    CHECK(coil_budget_set(7) == 128);
    CHECK(coil_budget() == 7);
    CHECK(coil_budget_set(0) == 7);
    CHECK(coil_budget() == 0);                   /* off */
    CHECK(coil_budget_set(128) == 0);
}

/* The environment is read as the library loads: ask a fresh process. */
static void print_budget_and_exit(void)
{
    printf("%u\n", coil_budget());
    fflush(stdout);
    _exit(0);
}

static unsigned budget_with_env(const char *value)
{
    int out[2];
    CHECK(pipe(out) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        setenv("COIL_BUDGET", value, 1);
        setenv("BUDGET_TEST_PRINT", "1", 1);
        execl("/proc/self/exe", "budget_test", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[32] = {0};
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    close(out[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    /* qemu-user runs this test's binary, but the kernel cannot exec it
     * again without a binfmt_misc entry for the CPU: */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        SKIP("cannot exec a fresh copy of the test (qemu-user without "
             "binfmt_misc?)");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && n > 0);
    return (unsigned)strtoul(buf, NULL, 10);
}

TEST(the_environment_sets_the_budget_as_the_library_loads)
{
    CHECK(budget_with_env("9") == 9);
    CHECK(budget_with_env("0") == 0);
    CHECK(budget_with_env("lots") == 128);       /* unparsable: default */
    CHECK(budget_with_env("-3") == 128);
}

/* ------------------------------------- one yield per budget, to a peer */

/* The peer: ready all the time (it yields in a loop), it notes how many
 * operations the worker had done each time it got the CPU while the
 * worker was busy. */
static int worker_busy, peer_stop, ops_done;
static int peer_log[16], peer_runs;

static void *peer(void *arg)
{
    (void)arg;
    while (!peer_stop) {
        if (worker_busy && peer_runs < 16)
            peer_log[peer_runs++] = ops_done;
        coil_yield();
    }
    return NULL;
}

static void peer_reset(void)
{
    worker_busy = peer_stop = ops_done = peer_runs = 0;
}

/* A pipe holding n bytes. */
static void full_pipe(int p[2], size_t n)
{
    CHECK(pipe(p) == 0);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    while (n > 0) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        CHECK(write(p[1], buf, k) == (ssize_t)k);
        n -= k;
    }
}

static void *n_plus_1_reads(void *arg)
{
    (void)arg;
    unsigned n = coil_budget();
    int p[2];
    full_pipe(p, n * 2 + 2);
    peer_reset();
    coil_task *pt = coil_spawn(peer, NULL);
    CHECK(coil_yield() == 0);            /* the peer is up; our budget full */
    worker_busy = 1;
    char c;
    for (unsigned i = 0; i < n + 1; i++) {
        CHECK(coil_read(p[0], &c, 1) == 1);      /* data at once, always */
        ops_done++;
    }
    worker_busy = 0;
    CHECK(peer_runs == 1);               /* exactly one yield... */
    CHECK(peer_log[0] == (int)n);        /* ...before the (N+1)th read */
    /* The next yield comes N reads later: the budget was full again. */
    worker_busy = 1;
    for (unsigned i = 0; i < n; i++) {
        CHECK(coil_read(p[0], &c, 1) == 1);
        ops_done++;
    }
    worker_busy = 0;
    CHECK(peer_runs == 2 && peer_log[1] == (int)(2 * n));
    peer_stop = 1;
    await_task(pt);
    coil_close(p[0]);
    coil_close(p[1]);
    return NULL;
}

TEST(n_plus_1_immediate_reads_yield_exactly_once_to_a_waiting_peer)
{
    run_main(n_plus_1_reads, NULL);
}

static void *real_suspension_refills(void *arg)
{
    (void)arg;
    unsigned n = coil_budget();
    int p[2];
    full_pipe(p, 4 * n);
    peer_reset();
    coil_task *pt = coil_spawn(peer, NULL);
    CHECK(coil_yield() == 0);
    char c;
    for (int round = 0; round < 3; round++) {
        for (unsigned i = 0; i < n; i++)   /* N: the budget, not more */
            CHECK(coil_read(p[0], &c, 1) == 1);
        worker_busy = 1;
        CHECK(coil_yield() == 0);          /* a suspension of our own */
        worker_busy = 0;
    }
    CHECK(peer_runs == 3);                 /* ours only: none forced */
    peer_stop = 1;
    await_task(pt);
    coil_close(p[0]);
    coil_close(p[1]);
    return NULL;
}

TEST(the_budget_is_full_again_after_every_suspension)
{
    run_main(real_suspension_refills, NULL);
}

/* Lines served from a stream's buffer count, one per call. */
static void *buffered_lines(void *arg)
{
    (void)arg;
    unsigned n = coil_budget();
    int p[2];
    CHECK(pipe(p) == 0);
    for (unsigned i = 0; i < n + 1; i++)
        CHECK(write(p[1], "x\n", 2) == 2);
    coil_stream *s = coil_stream_new(p[0], NULL);
    CHECK(s);
    char c;
    CHECK(coil_stream_peek(s, &c, 1, -1) == 1);   /* all of it buffered */
    peer_reset();
    coil_task *pt = coil_spawn(peer, NULL);
    CHECK(coil_yield() == 0);
    worker_busy = 1;
    char line[8];
    for (unsigned i = 0; i < n + 1; i++) {
        CHECK(coil_stream_read_line(s, line, sizeof line, -1) == 2);
        ops_done++;
    }
    worker_busy = 0;
    CHECK(peer_runs == 1 && peer_log[0] == (int)n);
    peer_stop = 1;
    await_task(pt);
    CHECK(coil_stream_close(s) == 0);
    coil_close(p[0]);
    close(p[1]);
    return NULL;
}

TEST(stream_reads_from_the_buffer_count_and_yield_once_per_budget)
{
    run_main(buffered_lines, NULL);
}

/* A raw coroutine that a task resumes is no task: its calls neither count
 * against the task's budget nor refill it (coil_coro_resume hides the
 * count and gives it back), so the task still yields once per budget. */
static void *raw_reads(void *arg)
{
    int fd = *(int *)arg;
    char c;
    for (int i = 0; i < 3; i++)
        CHECK_ERRNO(coil_read(fd, &c, 1), EPERM);
    return arg;
}

static void *raw_coroutine_between(void *arg)
{
    (void)arg;
    unsigned n = coil_budget();
    int p[2];
    full_pipe(p, 2 * n + 2);
    peer_reset();
    coil_task *pt = coil_spawn(peer, NULL);
    CHECK(coil_yield() == 0);
    worker_busy = 1;
    char c;
    for (unsigned i = 0; i < n + 1; i++) {
        if (i == n / 2) {
            coil_coro *co = coil_coro_create(NULL, raw_reads, &p[0]);
            void *out = NULL;
            CHECK(co && coil_coro_resume(co, NULL, &out) == 0 &&
                  out == &p[0]);
            CHECK(coil_coro_destroy(co) == 0);
        }
        CHECK(coil_read(p[0], &c, 1) == 1);
        ops_done++;
    }
    worker_busy = 0;
    CHECK(peer_runs == 1 && peer_log[0] == (int)n);
    peer_stop = 1;
    await_task(pt);
    coil_close(p[0]);
    coil_close(p[1]);
    return NULL;
}

TEST(a_raw_coroutine_neither_spends_nor_refills_its_tasks_budget)
{
    run_main(raw_coroutine_between, NULL);
}

static void *budget_off(void *arg)
{
    (void)arg;
    CHECK(coil_budget_set(0) == 128);
    int p[2];
    full_pipe(p, 10000);
    peer_reset();
    coil_task *pt = coil_spawn(peer, NULL);
    CHECK(coil_yield() == 0);
    worker_busy = 1;
    char c;
    for (int i = 0; i < 10000; i++)
        CHECK(coil_read(p[0], &c, 1) == 1);
    worker_busy = 0;
    CHECK(peer_runs == 0);                 /* never: the old behaviour */
    peer_stop = 1;
    await_task(pt);
    coil_close(p[0]);
    coil_close(p[1]);
    coil_budget_set(128);
    return NULL;
}

TEST(budget_0_turns_the_forced_yield_off)
{
    run_main(budget_off, NULL);
}

/* --------------------------------------------- cancellation and the yield */

/* A task with its budget spent and a cancellation request pending
 * (error mode): every call documented not to suspend (and the sync calls
 * that need not wait, which "Synchronisation" promises do not suspend)
 * goes through without yielding and without ECANCELED; the first counted
 * call then yields, delivers the request and consumes nothing. */
static void *spent_and_cancelled(void *arg)
{
    (void)arg;
    unsigned n = coil_budget();
    int p[2];
    full_pipe(p, n);
    CHECK(write(p[1], "ABC", 3) == 3);
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    CHECK(write(sp[1], "z", 1) == 1);
    coil_lock *l = coil_lock_new();
    coil_sem *sem = coil_sem_new(2);
    coil_event *ev = coil_event_new();
    coil_queue *q = coil_queue_new(COIL_QUEUE_FIFO, 0, NULL);
    coil_stream *s = coil_stream_new(p[1], NULL);
    CHECK(l && sem && ev && q && s);
    peer_reset();
    coil_task *pt = coil_spawn(peer, NULL);
    CHECK(coil_yield() == 0);
    worker_busy = 1;
    char buf[8];
    for (unsigned i = 0; i < n; i++)     /* the whole budget */
        CHECK(coil_read(p[0], buf, 1) == 1);
    CHECK(coil_task_cancel(coil_task_current()) == 1);
    /* Documented not to suspend: */
    CHECK(coil_stream_write(s, "w", 1) == 0);
    CHECK(coil_stream_buffered(s) == 0);
    CHECK(coil_lock_try_acquire(l) == 0);
    CHECK(coil_lock_release(l) == 0);
    CHECK(coil_sem_try_acquire(sem) == 0);
    CHECK(coil_sem_release(sem) == 0);
    CHECK(coil_event_set(ev) == 0);
    CHECK(coil_queue_try_put(q, buf) == 0);
    void *item;
    CHECK(coil_queue_try_get(q, &item) == 0 && item == buf);
    CHECK(coil_queue_put(q, buf) == 0);          /* unbounded: no wait */
    /* "Calls that do not need to wait return without suspending": */
    CHECK(coil_lock_acquire(l) == 0);
    CHECK(coil_lock_release(l) == 0);
    CHECK(coil_sem_acquire(sem) == 0);
    CHECK(coil_event_wait(ev) == 0);
    CHECK(coil_queue_get(q, &item) == 0);
    /* MSG_DONTWAIT asks not to wait: not counted, not a yield. */
    CHECK(coil_recv(sp[0], buf, 1, MSG_DONTWAIT) == 1 && buf[0] == 'z');
    CHECK(peer_runs == 0);               /* nothing yielded so far */
    /* The first counted call: its yield is a suspension point, and the
     * request is delivered there (as coil_yield delivers one: before
     * switching), before the read takes anything. */
    CHECK_ERRNO(coil_read(p[0], buf, 1), ECANCELED);
    CHECK(peer_runs == 0);
    /* The budget is still spent: the next call yields, for real now, and
     * nothing was lost: the bytes are all still there, in order. */
    CHECK(coil_read(p[0], buf, 3) == 3 && memcmp(buf, "ABC", 3) == 0);
    CHECK(peer_runs == 1);
    worker_busy = 0;
    peer_stop = 1;
    await_task(pt);
    CHECK(coil_stream_close(s) == 0);
    coil_lock_free(l);
    coil_sem_free(sem);
    coil_event_free(ev);
    coil_queue_free(q);
    coil_close(p[0]);
    coil_close(p[1]);
    close(sp[0]);
    close(sp[1]);
    return NULL;
}

static void *spawn_error_mode(void *arg)
{
    coil_task_attr a = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    await_task(coil_spawn_attr(&a, (coil_task_fn)arg, NULL));
    return NULL;
}

TEST(cancellation_is_not_delivered_where_a_call_does_not_suspend)
{
    run_main(spawn_error_mode, (void *)spent_and_cancelled);
}

/* Default mode: the forced yield unwinds the task, and a stream read it
 * was in consumes nothing. */
static int unwound;
static coil_stream *unwind_stream;

static void note_unwound(void *arg)
{
    (void)arg;
    unwound = 1;
}

static void *read_lines_until_cancelled(void *arg)
{
    (void)arg;
    unsigned n = coil_budget();
    char line[8];
    coil_cleanup_push(note_unwound, NULL);
    for (unsigned i = 0; i < n; i++)
        CHECK(coil_stream_read_line(unwind_stream, line, sizeof line, -1) == 2);
    CHECK(coil_task_cancel(coil_task_current()) == 1);
    coil_stream_read_line(unwind_stream, line, sizeof line, -1);
    CHECK(!"not reached: the forced yield unwinds");
    coil_cleanup_pop(0);
    return NULL;
}

static void *unwind_main(void *arg)
{
    (void)arg;
    unsigned n = coil_budget();
    int p[2];
    CHECK(pipe(p) == 0);
    for (unsigned i = 0; i < n; i++)
        CHECK(write(p[1], "x\n", 2) == 2);
    CHECK(write(p[1], "last\n", 5) == 5);
    unwind_stream = coil_stream_new(p[0], NULL);
    CHECK(unwind_stream);
    char c;
    CHECK(coil_stream_peek(unwind_stream, &c, 1, -1) == 1);
    coil_task *t = coil_spawn(read_lines_until_cancelled, NULL);
    CHECK(t);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(unwound);
    char line[8];
    CHECK(coil_stream_read_line(unwind_stream, line, sizeof line, -1) == 5);
    CHECK(strcmp(line, "last\n") == 0);
    CHECK(coil_stream_close(unwind_stream) == 0);
    coil_close(p[0]);
    close(p[1]);
    return NULL;
}

TEST(a_forced_yield_that_unwinds_consumes_nothing)
{
    run_main(unwind_main, NULL);
}

/* ------------------------------------------------------------ the flood */

/* One server loop (this thread) with CLIENTS echo connections and one
 * flood connection: a pipe that a peer thread keeps full as fast as it
 * can.  The clients run round trips from a loop of their own on another
 * thread.  With the budget, every round trip completes, quickly, while
 * the flood goes on; without it, the flood reader never waits and no
 * round trip is served while it reads. */
enum { CLIENTS = 100, ROUNDS = 20, FLOOD_READ = 16 };

typedef struct world {
    int srv[CLIENTS], cli[CLIENTS];      /* socketpair ends */
    int flood[2];                        /* pipe: [0] server, [1] writer */
    size_t flood_size;                   /* the pipe's capacity */
    int ctl[2];                          /* client loop -> server: 1 byte
                                            when warmed up, 1 when done */
    atomic_int writer_stop;
    sem_t flood_full;
    /* server side (its thread) */
    long served;                         /* round trips echoed */
    int flood_stop;
    long flood_reads;
    long served_at_flood_start, served_at_flood_end;
    long flood_reads_at_ready, flood_reads_at_done;
    int flood_running_at_done;
    long pending_at_flood_end;           /* request bytes left unread */
    unsigned budget;
    /* client side (its thread), read after join */
    atomic_long trips;
    atomic_long max_latency;
    atomic_int failures;
} world;

static void *flood_writer(void *arg)
{
    world *w = arg;
    static char chunk[65536];
    memset(chunk, 'f', sizeof chunk);
    int fl = fcntl(w->flood[1], F_GETFL);
    CHECK(fcntl(w->flood[1], F_SETFL, fl | O_NONBLOCK) == 0);
    while (write(w->flood[1], chunk, sizeof chunk) > 0 || errno != EAGAIN)
        ;
    while (write(w->flood[1], chunk, 1) > 0)   /* to the last byte */
        ;
    sem_post(&w->flood_full);
    while (!atomic_load(&w->writer_stop)) {
        if (write(w->flood[1], chunk, sizeof chunk) < 0) {
            CHECK(errno == EAGAIN);
            struct pollfd pf = {.fd = w->flood[1], .events = POLLOUT};
            poll(&pf, 1, 20);                    /* the stop flag's turn */
        }
    }
    return NULL;
}

/* ---- the server's tasks */

static world *W;

static void *echo(void *arg)
{
    int fd = *(int *)arg;
    char buf[64];
    for (;;) {
        ssize_t n = coil_read(fd, buf, sizeof buf);
        if (n <= 0)
            return NULL;
        W->served++;
        if (coil_write_all(fd, buf, (size_t)n, NULL) != n)
            return NULL;
    }
}

static long pending_requests(void)
{
    long sum = 0;
    for (int i = 0; i < CLIENTS; i++) {
        int k = 0;
        CHECK(ioctl(W->srv[i], FIONREAD, &k) == 0);
        sum += k;
    }
    return sum;
}

/* Reads the flood FLOOD_READ bytes at a time.  With the budget off it
 * reads what the pipe held when it started (it cannot find the pipe
 * empty, so it never waits), and on, past that, while no request is
 * waiting, within a deadline; then it stops by itself: this cannot hang.
 * With the budget on it reads until told to stop. */
static void *flood_reader(void *arg)
{
    (void)arg;
    char buf[FLOOD_READ];
    W->served_at_flood_start = W->served;
    long sure = (long)(W->flood_size / FLOOD_READ);
    coil_time until = coil_clock() + COIL_SEC(2);
    while (!W->flood_stop) {
        CHECK(coil_read(W->flood[0], buf, sizeof buf) > 0);
        W->flood_reads++;
        if (W->budget == 0 && W->flood_reads >= sure &&
            (pending_requests() > 0 || coil_clock() > until))
            break;
    }
    W->served_at_flood_end = W->served;
    W->pending_at_flood_end = pending_requests();
    return NULL;
}

static void *server_main(void *arg)
{
    (void)arg;
    coil_task *echoes[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        CHECK((echoes[i] = coil_spawn(echo, &W->srv[i])) != NULL);
    char b;
    CHECK(coil_read(W->ctl[0], &b, 1) == 1);     /* clients warmed up */
    W->flood_reads_at_ready = W->flood_reads;
    coil_task *flood = coil_spawn(flood_reader, NULL);
    CHECK(flood);
    CHECK(coil_read(W->ctl[0], &b, 1) == 1);     /* every round trip done */
    W->flood_reads_at_done = W->flood_reads;
    W->flood_running_at_done =
        coil_future_state(coil_task_future(flood)) != COIL_DONE;
    W->flood_stop = 1;
    await_task(flood);
    for (int i = 0; i < CLIENTS; i++)
        await_task(echoes[i]);                  /* EOF: the clients left */
    return NULL;
}

/* ---- the clients' loop */

static int round_trip(int fd)
{
    coil_time t0 = coil_clock();
    char c = 'q';
    if (coil_write(fd, &c, 1) != 1 ||
        coil_read_until(fd, &c, 1, t0 + COIL_SEC(20)) != 1) {
        atomic_fetch_add(&W->failures, 1);
        return -1;
    }
    coil_time lat = coil_clock() - t0;
    long max = atomic_load(&W->max_latency);
    while (lat > max && !atomic_compare_exchange_weak(&W->max_latency, &max,
                                                      lat))
        ;
    return 0;
}

static void *warm_up(void *arg)
{
    round_trip(*(int *)arg);
    return NULL;
}

static void *client(void *arg)
{
    for (int r = 0; r < ROUNDS; r++) {
        if (round_trip(*(int *)arg) != 0)
            return NULL;
        atomic_fetch_add(&W->trips, 1);
    }
    return NULL;
}

static void run_clients(coil_task_fn fn)
{
    coil_task *t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        CHECK((t[i] = coil_spawn(fn, &W->cli[i])) != NULL);
    for (int i = 0; i < CLIENTS; i++)
        await_task(t[i]);
}

static void *clients_main(void *arg)
{
    (void)arg;
    run_clients(warm_up);
    atomic_store(&W->max_latency, 0);
    CHECK(coil_write(W->ctl[1], "r", 1) == 1);
    run_clients(client);
    CHECK(coil_write(W->ctl[1], "d", 1) == 1);
    for (int i = 0; i < CLIENTS; i++)
        coil_close(W->cli[i]);
    return NULL;
}

static void *clients_thread(void *arg)
{
    (void)arg;
    run_main(clients_main, NULL);
    return NULL;
}

static void run_flood(world *w, unsigned budget)
{
    W = w;
    w->budget = budget;
    coil_budget_set(budget);
    for (int i = 0; i < CLIENTS; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        w->srv[i] = sv[0];
        w->cli[i] = sv[1];
    }
    CHECK(pipe(w->flood) == 0 && pipe(w->ctl) == 0);
    fcntl(w->flood[1], F_SETPIPE_SZ, 1 << 20);  /* best effort */
    int size = fcntl(w->flood[1], F_GETPIPE_SZ);
    CHECK(size > 0);
    w->flood_size = (size_t)size;
    CHECK(sem_init(&w->flood_full, 0, 0) == 0);
    pthread_t writer, clients;
    CHECK(pthread_create(&writer, NULL, flood_writer, w) == 0);
    while (sem_wait(&w->flood_full) != 0)
        ;                                        /* the pipe is full */
    CHECK(pthread_create(&clients, NULL, clients_thread, NULL) == 0);
    run_main(server_main, NULL);
    CHECK(pthread_join(clients, NULL) == 0);
    atomic_store(&w->writer_stop, 1);
    CHECK(pthread_join(writer, NULL) == 0);
    for (int i = 0; i < CLIENTS; i++)
        close(w->srv[i]);
    close(w->flood[0]);
    close(w->flood[1]);
    close(w->ctl[0]);
    close(w->ctl[1]);
    sem_destroy(&w->flood_full);
    coil_budget_set(128);
}

TEST(a_flood_does_not_starve_round_trips_with_the_budget)
{
    static world w;
    run_flood(&w, 128);
    CHECK(atomic_load(&w.failures) == 0);
    CHECK(atomic_load(&w.trips) == CLIENTS * ROUNDS);   /* all of them */
    double ms = (double)atomic_load(&w.max_latency) / 1e6;
    printf("  max round trip %.2f ms under the flood, %ld flood reads "
           "meanwhile\n", ms, w.flood_reads_at_done - w.flood_reads_at_ready);
    CHECK(ms < 1000 * load_slack());                    /* bounded */
    /* ...while the flood went on being read, in the same loop. */
    CHECK(w.flood_running_at_done);
    CHECK(w.flood_reads_at_done - w.flood_reads_at_ready >= 1000);
}

TEST(without_the_budget_a_flood_starves_round_trips)
{
    static world w;
    run_flood(&w, 0);
    printf("  %ld flood reads without a wait; round trips served meanwhile: "
           "%ld, request bytes left waiting: %ld\n", w.flood_reads,
           w.served_at_flood_end - w.served_at_flood_start,
           w.pending_at_flood_end);
    /* Not one round trip was served while the flood reader ran, though
     * requests were waiting: the starvation the budget is for. */
    CHECK(w.flood_reads >= (long)(w.flood_size / FLOOD_READ));
    CHECK(w.served_at_flood_end == w.served_at_flood_start);
    CHECK(w.pending_at_flood_end > 0);
    /* Once it stopped, everyone was served. */
    CHECK(atomic_load(&w.failures) == 0);
    CHECK(atomic_load(&w.trips) == CLIENTS * ROUNDS);
}

static const test_case tests[] = {
    T(the_budget_is_128_by_default_and_settable),
    T(the_environment_sets_the_budget_as_the_library_loads),
    T(n_plus_1_immediate_reads_yield_exactly_once_to_a_waiting_peer),
    T(the_budget_is_full_again_after_every_suspension),
    T(stream_reads_from_the_buffer_count_and_yield_once_per_budget),
    T(a_raw_coroutine_neither_spends_nor_refills_its_tasks_budget),
    T(budget_0_turns_the_forced_yield_off),
    T(cancellation_is_not_delivered_where_a_call_does_not_suspend),
    T(a_forced_yield_that_unwinds_consumes_nothing),
    T(a_flood_does_not_starve_round_trips_with_the_budget),
    T(without_the_budget_a_flood_starves_round_trips),
};

int main(int argc, char **argv)
{
    if (getenv("BUDGET_TEST_PRINT"))
        print_budget_and_exit();
    return run_tests(tests, sizeof tests / sizeof tests[0], argc, argv);
}
