/*
 * bench/bench_switch.c — the cost of one context switch, many ways.
 *
 * Every implementation plays the same game: the main flow sends a number to
 * a peer, the peer sends back that number plus one, and the main flow adds
 * up the answers.  A round trip is two switches.  The sum is checked against
 * the closed form afterwards, so the loop does provably real work and no
 * compiler can drop it; the add costs a cycle against tens.
 *
 * The single-thread implementations share one 64 KiB mmap'd stack.  Each
 * repetition makes a fresh peer on it and simply abandons the old one: the
 * peer loops forever and nothing refers to it once the main flow has moved
 * on, so there is nothing to tear down.
 */
#include "bench.h"

/* The fcontext backend's inline switch, for the coil_fcontext row, in
 * whichever backend's build. */
#ifdef COIL_BENCH_HAVE_BOOST
#define COIL__CTX_WANT_FCONTEXT 1
#endif
#include <coil/ctx.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define PEER_STACK_SIZE (64u * 1024u)

static char *peer_stack;

/* The shared peer stack, mapped on first use. */
static char *get_peer_stack(char *err)
{
    if (peer_stack == NULL) {
        void *p = mmap(NULL, PEER_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            snprintf(err, BENCH_ERR_MAX, "mmap of the peer stack: %s",
                     strerror(errno));
            return NULL;
        }
        peer_stack = p;
    }
    return peer_stack;
}

/* Sum of (i + 1) for i in [0, trips): what a correct echo loop adds up. */
static uintptr_t expected_sum(long trips)
{
    return (uintptr_t)trips * (uintptr_t)(trips + 1) / 2;
}

static int check_sum(uintptr_t sum, long trips, char *err)
{
    if (sum == expected_sum(trips))
        return 0;
    snprintf(err, BENCH_ERR_MAX, "echo sum %lu, expected %lu: a switch lost "
             "or garbled its value", (unsigned long)sum,
             (unsigned long)expected_sum(trips));
    return -1;
}

/* ---------------------------------------------------------------- coil */

typedef void *(*coil_switch_fn)(coil_ctx *, const coil_ctx *, void *);

static coil_ctx coil_main, coil_peer;

/* What a program writing coil_ctx_switch(...) or coil_ctx_switch_nofp(...)
 * gets: on x86_64 the header's macros put the switch inline at the call
 * site (ctx.h point 6); elsewhere these are calls.  The *_call rows time
 * the out-of-line functions, which a function pointer or another language
 * reaches. */
static inline __attribute__((always_inline)) void *
full_as_written(coil_ctx *from, const coil_ctx *to, void *arg)
{
    return coil_ctx_switch(from, to, arg);
}

static inline __attribute__((always_inline)) void *
nofp_as_written(coil_ctx *from, const coil_ctx *to, void *arg)
{
    return coil_ctx_switch_nofp(from, to, arg);
}

/* Every coil variant shares these two bodies.  always_inline with a
 * constant `sw` makes each caller a direct call to its own switch (or the
 * inline switch itself), exactly like the Boost loop below; a call through
 * a pointer would tax coil alone. */
static inline __attribute__((always_inline)) void
coil_echo_loop(coil_switch_fn sw, void *arg)
{
    for (;;)
        arg = sw(&coil_peer, &coil_main, (void *)((uintptr_t)arg + 1));
}

static inline __attribute__((always_inline)) int
coil_pingpong(coil_switch_fn sw, coil_ctx_entry echo, long switches,
              uint64_t *elapsed_ns, char *err)
{
    char *stack = get_peer_stack(err);
    if (stack == NULL)
        return -1;
    if (coil_ctx_make(&coil_peer, stack, PEER_STACK_SIZE, echo, NULL,
                      NULL) != 0) {
        snprintf(err, BENCH_ERR_MAX, "coil_ctx_make: %s", strerror(errno));
        return -1;
    }

    long trips = switches / 2;
    uintptr_t sum = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++)
        sum += (uintptr_t)sw(&coil_main, &coil_peer, (void *)(uintptr_t)i);
    *elapsed_ns = bench_now_ns() - t0;
    return check_sum(sum, trips, err);
}

static void *coil_echo_full(void *data, void *arg)
{
    (void)data;
    coil_echo_loop(full_as_written, arg);
    return NULL;
}

static void *coil_echo_full_call(void *data, void *arg)
{
    (void)data;
    coil_echo_loop(coil_ctx_switch, arg);        /* the function itself */
    return NULL;
}

static void *coil_echo_nofp(void *data, void *arg)
{
    (void)data;
    coil_echo_loop(nofp_as_written, arg);
    return NULL;
}

static void *coil_echo_nofp_call(void *data, void *arg)
{
    (void)data;
    coil_echo_loop(coil_ctx_switch_nofp, arg);   /* the function itself */
    return NULL;
}

static int run_coil(long switches, uint64_t *elapsed_ns, char *err)
{
    return coil_pingpong(full_as_written, coil_echo_full, switches,
                         elapsed_ns, err);
}

static int run_coil_call(long switches, uint64_t *elapsed_ns, char *err)
{
    return coil_pingpong(coil_ctx_switch, coil_echo_full_call, switches,
                         elapsed_ns, err);
}

static int run_coil_nofp(long switches, uint64_t *elapsed_ns, char *err)
{
    return coil_pingpong(nofp_as_written, coil_echo_nofp, switches,
                         elapsed_ns, err);
}

static int run_coil_nofp_call(long switches, uint64_t *elapsed_ns, char *err)
{
    return coil_pingpong(coil_ctx_switch_nofp, coil_echo_nofp_call, switches,
                         elapsed_ns, err);
}

#if defined(__x86_64__) && !COIL_CTX_FCONTEXT
/* The full switch under each MXCSR policy (ctx.h point 2), whatever the
 * library picked for this CPU: the rows that justify its pick. */
static int run_coil_policy(int policy, long switches, uint64_t *elapsed_ns,
                           char *err)
{
    int was = coil_ctx_fp_policy(policy);
    int rc = run_coil(switches, elapsed_ns, err);
    coil_ctx_fp_policy(was);
    return rc;
}

static int run_coil_compare(long switches, uint64_t *elapsed_ns, char *err)
{
    return run_coil_policy(COIL_CTX_FP_COMPARE, switches, elapsed_ns, err);
}

static int run_coil_reload(long switches, uint64_t *elapsed_ns, char *err)
{
    return run_coil_policy(COIL_CTX_FP_RELOAD, switches, elapsed_ns, err);
}
#endif

/* ---------------------------------------------------------------- Boost */

#ifdef COIL_BENCH_HAVE_BOOST
/* Boost.Context's C-level API (fcontext, Boost >= 1.61), declared here so
 * that the bench needs the library but no C++ headers.  make_fcontext takes
 * the TOP of the stack.  A jump returns the context that jumped to us and
 * the value it passed. */
typedef void *fcontext_t;
typedef struct {
    fcontext_t fctx;
    void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static void boost_echo(transfer_t t)
{
    /* Must never return: Boost calls exit() when a context function does. */
    for (;;)
        t = jump_fcontext(t.fctx, (void *)((uintptr_t)t.data + 1));
}

static int run_boost(long switches, uint64_t *elapsed_ns, char *err)
{
    char *stack = get_peer_stack(err);
    if (stack == NULL)
        return -1;
    fcontext_t peer = make_fcontext(stack + PEER_STACK_SIZE, PEER_STACK_SIZE,
                                    boost_echo);

    long trips = switches / 2;
    uintptr_t sum = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++) {
        transfer_t t = jump_fcontext(peer, (void *)(uintptr_t)i);
        peer = t.fctx;          /* where the peer is suspended now */
        sum += (uintptr_t)t.data;
    }
    *elapsed_ns = bench_now_ns() - t0;
    return check_sum(sum, trips, err);
}

/* coil's API over the fcontext backend, as a program of that build gets
 * it (ctx.h's inline switch; coil_ctx_make from bench_fcontext.c, the
 * library's code under another name): the seam's cost on top of the
 * Boost switch just above, whatever backend libcoil has. */
int bench_fctx_make(coil_ctx *ctx, void *stack, size_t size,
                    coil_ctx_entry entry, void *data, coil_ctx *link);

static void *fctx_echo(void *data, void *arg)
{
    (void)data;
    coil_echo_loop(coil__fctx_switch_inline, arg);
    return NULL;
}

static int run_coil_fcontext(long switches, uint64_t *elapsed_ns, char *err)
{
    char *stack = get_peer_stack(err);
    if (stack == NULL)
        return -1;
    if (bench_fctx_make(&coil_peer, stack, PEER_STACK_SIZE, fctx_echo, NULL,
                        NULL) != 0) {
        snprintf(err, BENCH_ERR_MAX, "coil_ctx_make: %s", strerror(errno));
        return -1;
    }
    long trips = switches / 2;
    uintptr_t sum = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++)
        sum += (uintptr_t)coil__fctx_switch_inline(&coil_main, &coil_peer,
                                                   (void *)(uintptr_t)i);
    *elapsed_ns = bench_now_ns() - t0;
    return check_sum(sum, trips, err);
}
#endif

/* ---------------------------------------------------------------- ucontext */

/* makecontext() passes only int arguments, so the value travels in a
 * global; swapcontext() is an opaque call, which orders it well enough. */
static ucontext_t uc_main, uc_peer;
static uintptr_t uc_value;

static void uc_echo(void)
{
    for (;;) {
        uc_value++;
        swapcontext(&uc_peer, &uc_main);
    }
}

static int run_ucontext(long switches, uint64_t *elapsed_ns, char *err)
{
    char *stack = get_peer_stack(err);
    if (stack == NULL)
        return -1;
    if (getcontext(&uc_peer) != 0) {
        snprintf(err, BENCH_ERR_MAX, "getcontext: %s", strerror(errno));
        return -1;
    }
    uc_peer.uc_stack.ss_sp = stack;
    uc_peer.uc_stack.ss_size = PEER_STACK_SIZE;
    uc_peer.uc_link = NULL;
    makecontext(&uc_peer, uc_echo, 0);

    long trips = switches / 2;
    uintptr_t sum = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++) {
        uc_value = (uintptr_t)i;
        swapcontext(&uc_main, &uc_peer);
        sum += uc_value;
    }
    *elapsed_ns = bench_now_ns() - t0;
    return check_sum(sum, trips, err);
}

/* ---------------------------------------------------------------- threads */

/* The OS baseline: the same echo between two threads, each handing control
 * to the other through a semaphore (a futex underneath).  A "switch" is one
 * handoff: post the other's semaphore, then sleep on our own.  The threads
 * are not pinned, so on a multi-core machine this measures a cross-CPU
 * wake-up, which is what a thread-per-task design pays. */
static sem_t th_ping, th_pong;
static uintptr_t th_value;   /* ordered by the semaphores, no atomics needed */
static int th_stop;

static void sem_wait_intr(sem_t *s)
{
    while (sem_wait(s) != 0 && errno == EINTR)
        ;
}

static void *th_echo(void *unused)
{
    (void)unused;
    for (;;) {
        sem_wait_intr(&th_ping);
        if (th_stop)
            return NULL;
        th_value++;
        sem_post(&th_pong);
    }
}

static int run_pthread(long switches, uint64_t *elapsed_ns, char *err)
{
    pthread_t peer;
    int rc;

    sem_init(&th_ping, 0, 0);
    sem_init(&th_pong, 0, 0);
    th_stop = 0;
    if ((rc = pthread_create(&peer, NULL, th_echo, NULL)) != 0) {
        snprintf(err, BENCH_ERR_MAX, "pthread_create: %s", strerror(rc));
        sem_destroy(&th_ping);
        sem_destroy(&th_pong);
        return -1;
    }

    /* One untimed round trip, so the peer's start-up is not measured. */
    th_value = 0;
    sem_post(&th_ping);
    sem_wait_intr(&th_pong);

    long trips = switches / 2;
    uintptr_t sum = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < trips; i++) {
        th_value = (uintptr_t)i;
        sem_post(&th_ping);
        sem_wait_intr(&th_pong);
        sum += th_value;
    }
    *elapsed_ns = bench_now_ns() - t0;

    th_stop = 1;
    sem_post(&th_ping);
    pthread_join(peer, NULL);
    sem_destroy(&th_ping);
    sem_destroy(&th_pong);
    return check_sum(sum, trips, err);
}

/* ---------------------------------------------------------------- the list */

const switch_impl bench_switch_impls[] = {
#ifdef COIL_BENCH_HAVE_BOOST
    {"boost_fcontext", 1, 0, run_boost},
    {"coil_fcontext", 1, 0, run_coil_fcontext},
#endif
    {"coil", 1, 0, run_coil},
    {"coil_nofp", 1, 0, run_coil_nofp},
    {"coil_call", 1, 0, run_coil_call},
    {"coil_nofp_call", 1, 0, run_coil_nofp_call},
#if defined(__x86_64__) && !COIL_CTX_FCONTEXT
    {"coil_fp_compare", 1, 0, run_coil_compare},
    {"coil_fp_reload", 1, 0, run_coil_reload},
#endif
    /* ~100x slower than the rest (a sigprocmask syscall per switch). */
    {"ucontext", 10, 0, run_ucontext},
    /* ~1000x slower: every handoff sleeps in and wakes from the kernel. */
    {"pthread", 50, 1, run_pthread},
};

const size_t bench_switch_impl_count =
    sizeof bench_switch_impls / sizeof bench_switch_impls[0];

#ifdef COIL_BENCH_HAVE_BOOST
const int bench_have_boost = 1;
#else
const int bench_have_boost = 0;
#endif
