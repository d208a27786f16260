/*
 * tests/chaos_test.c — 10,000 tasks doing random mixes of everything coil
 * offers (sleeps, every sync primitive, coil_select over queues and events,
 * pipe and socketpair IO, child tasks, groups, timeout scopes, wait_for,
 * gather, shield, cleanup handlers that suspend) while driver tasks cancel
 * random tasks, fire timeouts and coil_close random fds.  Every wait has a
 * deadline, so the run is bounded; at the end the invariants that no
 * interleaving may break are checked: every task ended, the loop closes
 * with nothing pending, locks free, semaphores back at their start, queue
 * items conserved, each cleanup handler ran exactly once or was popped, no
 * fd leaked.
 *
 * The seed is printed; COIL_CHAOS_SEED=<n> replays it (the interleaving
 * also depends on timing, so a replay makes the same choices, not
 * necessarily the same schedule).
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "check.h"
#include "coil.h"
#include "seeded.h"

enum { NLOCK = 4, NSEM = 4, SEM_START = 3, NEVENT = 4, NQUEUE = 2,
       QUEUE_MAX = 8, NPAIR = 8, BARRIER_PARTIES = 3, MAX_DEPTH = 2,
       NDRIVERS = 7 };

/* The operations a task picks from: leaves first, then the ones that
 * spawn or nest (only leaves below MAX_DEPTH, which bounds the run). */
enum { OP_SLEEP, OP_YIELD, OP_LOCK, OP_SEM, OP_EVENT, OP_COND, OP_BARRIER,
       OP_PUT, OP_GET, OP_READ, OP_WRITE, OP_POKE, OP_SHIELD_REGION,
       OP_SELECT, NLEAF,
       OP_AWAIT = NLEAF, OP_GROUP, OP_SCOPE, OP_WAIT_FOR, OP_GATHER,
       OP_SHIELD, OP_CLEANUP, NOPS };

static const char *const op_names[NOPS] = {
    "sleep", "yield", "lock", "sem", "event", "cond", "barrier", "put",
    "get", "read", "write", "poke", "shield_region", "select", "await",
    "group",
    "scope", "wait_for", "gather", "shield", "cleanup"};

/* One chaos run: its objects and its counters.  Everything here is
 * touched only by the loop's own thread. */
typedef struct chaos {
    uint64_t seed, rng;           /* rng: the drivers' and handlers' */
    long ntasks;
    int threaded;                 /* on a runtime: others spawn here too */
    coil_task **workers;
    coil_lock *locks[NLOCK];
    coil_sem *sems[NSEM];
    coil_event *events[NEVENT];
    coil_lock *cond_lock;
    coil_cond *cond;
    coil_barrier *barrier;
    coil_queue *queues[NQUEUE];
    int pairs[NPAIR][2];          /* -1 while closed */
    int is_socket[NPAIR];
    volatile int stop;
    coil_time until;              /* workers start no new work after it */
    long ops[NOPS], children, cancels, closes, timeouts, scope_fired;
    long puts[NQUEUE], gets[NQUEUE];
    long pushed, ran, popped;
    long children_live;           /* started and not yet ended */
} chaos;

/* The run of this thread's loop (one per loop; each loop has a thread). */
static __thread chaos *cur;

static unsigned pick(uint64_t *s, unsigned n)
{
    return (unsigned)(seeded_next(s) % n);
}

/* A short random delay and a deadline that close: the waits mostly time
 * out or get what they wait for within a couple of milliseconds. */
static coil_time small(uint64_t *s) { return COIL_USEC(pick(s, 1500)); }
static coil_time soon(uint64_t *s) { return coil_deadline_in(small(s)); }

static void do_op(chaos *c, uint64_t *s, int depth);

/* ------------------------------------------------------------ children */

static void child_ended(void *arg) { ((chaos *)arg)->children_live--; }

static void *child(void *arg)
{
    chaos *c = cur;
    uint64_t s = (uint64_t)(uintptr_t)arg | 1;
    /* Counted from its start (a child cancelled before it starts never
     * runs) to its end, unwound or not: the run's end waits for them. */
    c->children_live++;
    coil_cleanup_push(child_ended, c);
    do_op(c, &s, MAX_DEPTH);
    coil_cleanup_pop(1);
    /* Some children fail, so groups and gather see errors too. */
    return pick(&s, 8) == 0 ? coil_task_error(EIO) : arg;
}

static coil_task *spawn_child(chaos *c, uint64_t *s)
{
    c->children++;
    coil_task *t = coil_spawn(child, (void *)(uintptr_t)seeded_next(s));
    CHECK(t);
    return t;
}

static void release_task(void *t) { coil_task_release(t); }

/* ------------------------------------------------------- leaf operations */

static void sem_cleanup(void *s) { CHECK(coil_sem_release(s) == 0); }

static void op_lock(chaos *c, uint64_t *s)
{
    coil_lock *l = c->locks[pick(s, NLOCK)];
    if (coil_lock_acquire_until(l, soon(s)) != 0)
        return;
    coil_cleanup_push(coil_lock_cleanup, l);
    coil_sleep(small(s) / 4);
    coil_cleanup_pop(1);
}

static void op_sem(chaos *c, uint64_t *s)
{
    coil_sem *m = c->sems[pick(s, NSEM)];
    if (coil_sem_acquire_until(m, soon(s)) != 0)
        return;
    coil_cleanup_push(sem_cleanup, m);
    coil_sleep(small(s) / 2);
    coil_cleanup_pop(1);
}

static void op_cond(chaos *c, uint64_t *s)
{
    if (coil_lock_acquire_until(c->cond_lock, soon(s)) != 0)
        return;
    /* cond_wait holds the lock again on every way out, unwinding too. */
    coil_cleanup_push(coil_lock_cleanup, c->cond_lock);
    coil_cond_wait_until(c->cond, c->cond_lock, soon(s));
    coil_cleanup_pop(1);
}

static void op_put(chaos *c, uint64_t *s)
{
    unsigned q = pick(s, NQUEUE);
    if (coil_queue_put_until(c->queues[q], (void *)1, soon(s)) == 0)
        c->puts[q]++;
}

static void op_get(chaos *c, uint64_t *s)
{
    unsigned q = pick(s, NQUEUE);
    void *item = NULL;
    if (coil_queue_get_until(c->queues[q], &item, soon(s)) == 0) {
        CHECK(item == (void *)1);
        c->gets[q]++;
    }
}

/* coil_select (or, one time in four, coil_select_try) over one to four
 * cases: gets and puts on the queues, event waits, workers' ends.  Whatever ends it — a
 * case, the deadline, a cancellation in either mode — the queues' counts
 * at the end prove that exactly the case it returned was done. */
static void op_select(chaos *c, uint64_t *s)
{
    coil_select_case cases[4];
    unsigned n = 1 + pick(s, 4);
    for (unsigned i = 0; i < n; i++) {
        unsigned kind = pick(s, 4), which = pick(s, NQUEUE);
        if (kind == 0)
            cases[i] = (coil_select_case){.op = COIL_SELECT_GET,
                                          .queue = c->queues[which]};
        else if (kind == 1)
            cases[i] = (coil_select_case){.op = COIL_SELECT_PUT,
                                          .queue = c->queues[which],
                                          .item = (void *)1};
        else if (kind == 2)
            cases[i] = (coil_select_case){.op = COIL_SELECT_EVENT,
                                          .event = c->events[pick(s, NEVENT)]};
        else                          /* a worker's end (maybe its own) */
            cases[i] = (coil_select_case){
                .op = COIL_SELECT_FUTURE,
                .future = coil_task_future(
                    c->workers[pick(s, (unsigned)c->ntasks)])};
    }
    int k = pick(s, 4) == 0 ? coil_select_try(cases, n)
                            : coil_select(cases, n, soon(s));
    if (k < 0) {
        CHECK(errno == ETIMEDOUT || errno == EAGAIN || errno == ECANCELED);
        return;
    }
    CHECK((unsigned)k < n && cases[k].error == 0);
    if (cases[k].op == COIL_SELECT_FUTURE)
        CHECK(coil_future_done(cases[k].future) == 1);
    for (unsigned q = 0; q < NQUEUE; q++) {
        if (cases[k].queue != c->queues[q])
            continue;
        if (cases[k].op == COIL_SELECT_GET) {
            CHECK(cases[k].item == (void *)1);
            c->gets[q]++;
        } else {
            c->puts[q]++;
        }
    }
}

/* IO on whatever fd the slot holds now: a closer may take it away (EBADF)
 * or another task may wait on it already (EBUSY); both are fine. */
static void op_io(chaos *c, uint64_t *s, int write)
{
    unsigned p = pick(s, NPAIR);
    int side = c->is_socket[p] ? (int)pick(s, 2) : write;
    int fd = c->pairs[p][side];
    if (fd < 0)
        return;
    char buf[64] = {0};
    size_t n = 1 + pick(s, sizeof buf);
    if (write)
        coil_write_until(fd, buf, n, soon(s));
    else
        coil_read_until(fd, buf, n, soon(s));
}

/* What the drivers also do: let event and condition waiters through. */
static void poke(chaos *c, uint64_t *s)
{
    coil_event *e = c->events[pick(s, NEVENT)];
    CHECK((pick(s, 2) ? coil_event_set(e) : coil_event_clear(e)) == 0);
    CHECK(coil_cond_notify(c->cond, pick(s, 3)) == 0);
}

static void op_shield_region(uint64_t *s)
{
    if (coil_shield_begin() != 0)
        return;
    coil_sleep(small(s) / 4);
    coil_shield_end();      /* a request that came meanwhile lands here */
}

/* ---------------------------------------------------- nesting operations */

static void op_await(chaos *c, uint64_t *s)
{
    coil_task *t = spawn_child(c, s);
    coil_cleanup_push(release_task, t);
    coil_await(coil_task_future(t), NULL);
    coil_cleanup_pop(1);
}

static void op_group(chaos *c, uint64_t *s)
{
    coil_group *g = coil_group_new();
    CHECK(g);
    unsigned n = 1 + pick(s, 3);
    for (unsigned i = 0; i < n; i++) {
        c->children++;
        if (!coil_group_go(g, child, (void *)(uintptr_t)seeded_next(s)))
            CHECK(errno == ECANCELED);   /* a failed child cancels the group */
    }
    coil_group_wait(g);
}

static void op_scope(chaos *c, uint64_t *s, int depth)
{
    coil_timeout scope;
    if (coil_timeout_begin(&scope, small(s)) == 0)
        do_op(c, s, depth + 1);
    if (coil_timeout_end(&scope) != 0 && errno == ETIMEDOUT)
        c->scope_fired++;
}

static void op_wait_for(chaos *c, uint64_t *s)
{
    coil_task *t = spawn_child(c, s);
    coil_cleanup_push(release_task, t);
    if (coil_wait_for(coil_task_future(t), small(s), NULL) != 0 &&
        errno == ETIMEDOUT)
        c->timeouts++;
    coil_cleanup_pop(1);
}

typedef struct gathered {
    coil_task *t[3];
    size_t n;
} gathered;

static void release_gathered(void *arg)
{
    gathered *g = arg;
    for (size_t i = 0; i < g->n; i++)
        coil_task_release(g->t[i]);
}

static void op_gather(chaos *c, uint64_t *s)
{
    gathered g = {.n = 0};
    coil_future *fs[3];
    size_t n = 1 + pick(s, 3);
    for (; g.n < n; g.n++) {
        g.t[g.n] = spawn_child(c, s);
        fs[g.n] = coil_task_future(g.t[g.n]);
    }
    coil_cleanup_push(release_gathered, &g);
    int errors[3];
    coil_gather(fs, n, NULL, errors, (int)pick(s, 2));
    coil_cleanup_pop(1);
}

typedef struct shielded {
    coil_task *t;
    coil_future *outer;
} shielded;

static void release_shielded(void *arg)
{
    shielded *sh = arg;
    coil_future_release(sh->outer);
    coil_task_release(sh->t);
}

static void op_shield(chaos *c, uint64_t *s)
{
    shielded sh = {spawn_child(c, s), NULL};
    sh.outer = coil_shield(coil_task_future(sh.t));
    CHECK(sh.outer);
    coil_cleanup_push(release_shielded, &sh);
    coil_await(sh.outer, NULL);
    coil_cleanup_pop(1);
}

/* A cleanup handler that suspends; counted when it starts, since a
 * handler run by pop(1) may itself be unwound while it sleeps. */
static void suspending_handler(void *arg)
{
    chaos *c = arg;
    c->ran++;
    coil_sleep(small(&c->rng) / 4);
}

static void op_cleanup(chaos *c, uint64_t *s, int depth)
{
    int execute = (int)pick(s, 2);
    c->pushed++;
    coil_cleanup_push(suspending_handler, c);
    do_op(c, s, depth + 1);
    if (!execute)
        c->popped++;
    coil_cleanup_pop(execute);
}

static void do_op(chaos *c, uint64_t *s, int depth)
{
    int op = (int)pick(s, depth >= MAX_DEPTH ? NLEAF : NOPS);
    c->ops[op]++;
    switch (op) {
    case OP_SLEEP: coil_sleep(small(s)); break;
    case OP_YIELD: coil_yield(); break;
    case OP_LOCK: op_lock(c, s); break;
    case OP_SEM: op_sem(c, s); break;
    case OP_EVENT:
        coil_event_wait_until(c->events[pick(s, NEVENT)], soon(s));
        break;
    case OP_COND: op_cond(c, s); break;
    case OP_BARRIER: coil_barrier_wait_until(c->barrier, soon(s)); break;
    case OP_PUT: op_put(c, s); break;
    case OP_GET: op_get(c, s); break;
    case OP_READ: op_io(c, s, 0); break;
    case OP_WRITE: op_io(c, s, 1); break;
    case OP_POKE: poke(c, s); break;
    case OP_SHIELD_REGION: op_shield_region(s); break;
    case OP_SELECT: op_select(c, s); break;
    case OP_AWAIT: op_await(c, s); break;
    case OP_GROUP: op_group(c, s); break;
    case OP_SCOPE: op_scope(c, s, depth); break;
    case OP_WAIT_FOR: op_wait_for(c, s); break;
    case OP_GATHER: op_gather(c, s); break;
    case OP_SHIELD: op_shield(c, s); break;
    case OP_CLEANUP: op_cleanup(c, s, depth); break;
    }
}

static void *worker(void *arg)
{
    chaos *c = cur;
    uint64_t s = (c->seed ^ ((uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL)) | 1;
    unsigned n = 1 + pick(&s, 40);
    /* The time budget bounds the run on a slow or loaded machine. */
    for (unsigned i = 0; i < n && coil_loop_time(NULL) < c->until; i++)
        do_op(c, &s, 0);
    return arg;
}

/* --------------------------------------------------------------- drivers */

static void make_pair(chaos *c, unsigned p)
{
    if (c->is_socket[p])
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         0, c->pairs[p]) == 0);
    else
        CHECK(pipe2(c->pairs[p], O_NONBLOCK | O_CLOEXEC) == 0);
}

static void close_pair(chaos *c, unsigned p)
{
    for (int i = 0; i < 2; i++) {
        CHECK(coil_close(c->pairs[p][i]) == 0);
        c->pairs[p][i] = -1;
    }
}

static void *canceller(void *arg)
{
    chaos *c = arg;
    while (!c->stop) {
        coil_sleep(small(&c->rng) / 3);
        /* In bursts: one loop iteration with 10,000 tasks is long. */
        for (unsigned n = pick(&c->rng, 20); n > 0; n--)
            if (coil_task_cancel(c->workers[pick(&c->rng,
                                                 (unsigned)c->ntasks)]) == 1)
                c->cancels++;
    }
    return NULL;
}

/* Fires timeouts at workers from outside: wait_for cancels on expiry. */
static void *timeouter(void *arg)
{
    chaos *c = arg;
    while (!c->stop) {
        coil_task *t = c->workers[pick(&c->rng, (unsigned)c->ntasks)];
        if (coil_wait_for(coil_task_future(t), small(&c->rng), NULL) != 0 &&
            errno == ETIMEDOUT)
            c->timeouts++;
        coil_sleep(small(&c->rng) / 3);
    }
    return NULL;
}

/* Closes a random pair (waking its waiters with EBADF) and makes a new. */
static void *closer(void *arg)
{
    chaos *c = arg;
    while (!c->stop) {
        coil_sleep(small(&c->rng) / 2);
        for (unsigned n = 1 + pick(&c->rng, 3); n > 0; n--) {
            unsigned p = pick(&c->rng, NPAIR);
            close_pair(c, p);
            c->closes++;
            make_pair(c, p);
        }
    }
    return NULL;
}

static void *poker(void *arg)
{
    chaos *c = arg;
    while (!c->stop) {
        coil_sleep(small(&c->rng) / 3);
        poke(c, &c->rng);
    }
    return NULL;
}

/* ------------------------------------------------------------ the run */

static void make_objects(chaos *c)
{
    for (int i = 0; i < NLOCK; i++)
        CHECK((c->locks[i] = coil_lock_new()));
    for (int i = 0; i < NSEM; i++)
        CHECK((c->sems[i] = coil_sem_new_bounded(SEM_START)));
    for (int i = 0; i < NEVENT; i++)
        CHECK((c->events[i] = coil_event_new()));
    CHECK((c->cond_lock = coil_lock_new()) && (c->cond = coil_cond_new()));
    CHECK((c->barrier = coil_barrier_new(BARRIER_PARTIES)));
    for (int i = 0; i < NQUEUE; i++)
        CHECK((c->queues[i] = coil_queue_new(i, QUEUE_MAX, NULL)));
    for (unsigned p = 0; p < NPAIR; p++) {
        c->is_socket[p] = p % 2;
        make_pair(c, p);
    }
}

/* The invariants on the objects, then free them (a free fails with EBUSY
 * while anybody still waits). */
static void check_and_free_objects(chaos *c)
{
    for (int i = 0; i < NLOCK; i++) {
        CHECK(coil_lock_locked(c->locks[i]) == 0);
        CHECK(coil_lock_free(c->locks[i]) == 0);
    }
    for (int i = 0; i < NSEM; i++) {
        CHECK(coil_sem_value(c->sems[i]) == SEM_START);
        CHECK(coil_sem_free(c->sems[i]) == 0);
    }
    for (int i = 0; i < NEVENT; i++)
        CHECK(coil_event_free(c->events[i]) == 0);
    CHECK(coil_lock_locked(c->cond_lock) == 0);
    CHECK(coil_cond_free(c->cond) == 0 && coil_lock_free(c->cond_lock) == 0);
    CHECK(coil_barrier_waiting(c->barrier) == 0);
    CHECK(coil_barrier_free(c->barrier) == 0);
    for (int i = 0; i < NQUEUE; i++) {
        CHECK(c->puts[i] == c->gets[i] + coil_queue_size(c->queues[i]));
        CHECK(coil_queue_free(c->queues[i]) == 0);
    }
    CHECK(c->pushed == c->ran + c->popped);
    for (unsigned p = 0; p < NPAIR; p++)
        close_pair(c, p);
}

/* Wait (bounded) until the children are gone too: those of unwound
 * tasks, or behind a shield, may still be running their own clean-up. */
static void wait_for_stragglers(chaos *c)
{
    coil_time give_up = coil_deadline_in(COIL_SEC(30));
    while (c->children_live > 0 && coil_loop_time(NULL) < give_up)
        coil_sleep(COIL_MSEC(1));
    CHECK(c->children_live == 0);
    /* Alone on the loop, unless other threads spawn onto it. */
    while (!c->threaded && coil_loop_tasks(NULL, NULL, 0) > 1 &&
           coil_loop_time(NULL) < give_up)
        coil_yield();
    CHECK(c->threaded || coil_loop_tasks(NULL, NULL, 0) == 1);
}

static void *chaos_main(void *arg)
{
    chaos *c = arg;
    cur = c;
    c->rng = c->seed | 1;
    c->until = coil_deadline_in(COIL_SEC(12));
    make_objects(c);
    CHECK((c->workers = calloc((size_t)c->ntasks, sizeof *c->workers)));
    for (long i = 0; i < c->ntasks; i++) {
        /* A quarter get cancellation as an error instead of unwinding. */
        coil_task_attr a = {.flags = i % 4 == 0 ? COIL_TASK_CANCEL_AS_ERROR : 0};
        CHECK((c->workers[i] = coil_task_spawn(&a, worker, (void *)(intptr_t)i,
                                               "worker")));
    }
    coil_task_fn drivers_fn[NDRIVERS] = {canceller, timeouter, timeouter,
                                         timeouter, timeouter, closer, poker};
    coil_task *drivers[NDRIVERS];
    for (int i = 0; i < NDRIVERS; i++)
        CHECK((drivers[i] = coil_task_spawn(NULL, drivers_fn[i], c, "driver")));
    for (long i = 0; i < c->ntasks; i++)
        coil_await(coil_task_future(c->workers[i]), NULL);
    c->stop = 1;
    for (int i = 0; i < NDRIVERS; i++) {
        CHECK(coil_await(coil_task_future(drivers[i]), NULL) == 0);
        coil_task_release(drivers[i]);
    }
    for (long i = 0; i < c->ntasks; i++) {
        CHECK(coil_future_done(coil_task_future(c->workers[i])) == 1);
        coil_task_release(c->workers[i]);
    }
    free(c->workers);
    wait_for_stragglers(c);
    check_and_free_objects(c);
    return NULL;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void print_counts(const char *what, const chaos *c, coil_time took)
{
    long total = 0;
    for (int i = 0; i < NOPS; i++)
        total += c->ops[i];
    printf("  %s: seed %" PRIu64 " (replay: COIL_CHAOS_SEED=%" PRIu64 "), "
           "%.2f s\n  tasks %ld + children %ld, operations %ld:", what,
           c->seed, c->seed, (double)took / 1e9, c->ntasks, c->children,
           total);
    for (int i = 0; i < NOPS; i++)
        printf(" %s %ld", op_names[i], c->ops[i]);
    printf("\n  cancels %ld, timeouts fired %ld (+%ld scopes), closes %ld, "
           "queue puts %ld, cleanup handlers %ld (ran %ld, popped %ld)\n",
           c->cancels, c->timeouts, c->scope_fired, c->closes,
           c->puts[0] + c->puts[1], c->pushed, c->ran, c->popped);
    fflush(stdout);
}

TEST(chaos_tasks_keep_every_invariant)
{
    int fds_before = count_fds();
    chaos c = {.seed = seeded_seed("COIL_CHAOS_SEED"),
               .ntasks = scaled(10000)};
    printf("  seed %" PRIu64 "\n", c.seed);
    fflush(stdout);
    coil_time t0 = coil_clock();
    coil_loop *loop = coil_loop_new();
    CHECK(loop);
    coil_task_attr a = {.loop = loop};
    coil_task *t = coil_task_spawn(&a, chaos_main, &c, "chaos_main");
    CHECK(t);
    CHECK(coil_await(coil_task_future(t), NULL) == 0);
    coil_task_release(t);
    CHECK(coil_loop_tasks(loop, NULL, 0) == 0);
    CHECK(coil_loop_close(loop) == 0);
    CHECK(count_fds() == fds_before);
    print_counts("one loop", &c, coil_clock() - t0);
}

/* ------------------------------------------------- with plain threads */

enum { NLOOPS = 2, NTHREADS = 2 };

typedef struct submitter {
    coil_runtime *rt;
    long calls;          /* per loop */
    atomic_long delivered[NLOOPS];
} submitter;

static void bump(void *arg) { atomic_fetch_add((atomic_long *)arg, 1); }

static void *small_task(void *arg)
{
    coil_sleep(COIL_USEC(100));
    return arg;
}

/* Hammers both loops with callbacks and tasks from a plain thread. */
static void *submit(void *arg)
{
    submitter *sb = arg;
    for (long i = 0; i < sb->calls; i++) {
        for (size_t l = 0; l < NLOOPS; l++) {
            coil_loop *loop = coil_runtime_loop(sb->rt, l);
            CHECK(loop);
            CHECK(coil_call_soon_threadsafe(loop, bump,
                                            &sb->delivered[l]) == 0);
            if (i % 16)
                continue;
            coil_tfuture *tf = coil_spawn_threadsafe(loop, small_task, sb);
            void *v = NULL;
            CHECK(tf && coil_tfuture_wait(tf, COIL_SEC(60), &v) == 0);
            CHECK(v == sb);
            coil_tfuture_release(tf);
        }
    }
    /* A task spawned after the last callback: when it has run, so have
     * they (one thread's submissions run in order). */
    for (size_t l = 0; l < NLOOPS; l++) {
        coil_tfuture *tf = coil_spawn_threadsafe(coil_runtime_loop(sb->rt, l),
                                                 small_task, sb);
        CHECK(tf && coil_tfuture_wait(tf, COIL_SEC(60), NULL) == 0);
        coil_tfuture_release(tf);
    }
    return NULL;
}

TEST(chaos_on_a_runtime_with_threads_submitting)
{
    int fds_before = count_fds();
    uint64_t seed = seeded_seed("COIL_CHAOS_SEED");
    printf("  seed %" PRIu64 "\n", seed);
    fflush(stdout);
    coil_time t0 = coil_clock();
    coil_runtime *rt = coil_runtime_start(NLOOPS, NULL);
    CHECK(rt);
    static chaos c[NLOOPS];
    coil_tfuture *mains[NLOOPS];
    for (size_t i = 0; i < NLOOPS; i++) {
        c[i] = (chaos){.seed = seed + i, .ntasks = scaled(2000), .threaded = 1};
        CHECK((mains[i] = coil_runtime_spawn(rt, i, chaos_main, &c[i])));
    }
    static submitter sb;
    sb.rt = rt;
    sb.calls = scaled(20000);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, submit, &sb) == 0);
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    for (size_t i = 0; i < NLOOPS; i++) {
        CHECK(coil_tfuture_wait(mains[i], COIL_SEC(120), NULL) == 0);
        coil_tfuture_release(mains[i]);
    }
    CHECK(coil_runtime_stop(rt) == 0 && coil_runtime_join(rt) == 0);
    /* Callbacks from one thread run in order, and each thread ended on a
     * task spawned after its last callback: all of them have run. */
    for (size_t l = 0; l < NLOOPS; l++)
        CHECK(atomic_load(&sb.delivered[l]) == NTHREADS * sb.calls);
    CHECK(count_fds() == fds_before);
    for (size_t i = 0; i < NLOOPS; i++)
        print_counts(i ? "loop 1" : "loop 0", &c[i], coil_clock() - t0);
    printf("  threadsafe callbacks %ld, threadsafe tasks %ld\n",
           NLOOPS * NTHREADS * sb.calls,
           NLOOPS * NTHREADS * ((sb.calls + 15) / 16));
}

RUN_TESTS(T(chaos_tasks_keep_every_invariant),
          T(chaos_on_a_runtime_with_threads_submitting))
