/*
 * bench/bench.h — what the pieces of coil_bench share.
 *
 * coil_bench.c   options, repetitions, statistics, the table and the JSON;
 * bench_switch.c one-thread ping-pong for each context-switch implementation
 *                (and the two-thread one it is compared with);
 * bench_coro.c   coil coroutine create/destroy and the million-coroutine run;
 * bench_sched.c  coil's scheduler: yield, spawn + await, sleep precision;
 * bench_peer.c   the same in Go and asyncio (sched.go, sched.py), run as
 *                child processes.
 *
 * Every measuring function does one repetition and returns 0 with the
 * elapsed time, or -1 with a message in err: a benchmark that cannot run
 * (no memory, no thread) is reported, not crashed on.
 */
#ifndef COIL_BENCH_H
#define COIL_BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_ERR_MAX 160

/* Nanoseconds from CLOCK_MONOTONIC. */
uint64_t bench_now_ns(void);

/* ---------------------------------------------------------------- switches */

typedef struct switch_impl {
    const char *name;      /* the "impl" column */
    int divisor;           /* runs switches / divisor: the slow ones would
                              otherwise take minutes for the same precision */
    int threaded;          /* uses a second thread, so must not be pinned */
    /* One repetition of `switches` one-way transfers (an even number);
     * *elapsed_ns covers the transfers only, not the setup. */
    int (*run)(long switches, uint64_t *elapsed_ns, char *err);
} switch_impl;

/* Implementations in report order, boost_fcontext (the yardstick, when
 * built in) first. */
extern const switch_impl bench_switch_impls[];
extern const size_t bench_switch_impl_count;
extern const int bench_have_boost;

/* ---------------------------------------------------------------- coroutines */

/* n cycles of coil_coro_create + resume to completion + coil_coro_destroy,
 * with default attributes (pooled stack) or COIL_CORO_UNPOOLED (fresh). */
int bench_create_destroy(int unpooled, long n, uint64_t *elapsed_ns, char *err);

typedef struct scale_result {
    long requested;        /* coroutines asked for */
    long reached;          /* coroutines created and parked in yield */
    uint64_t elapsed_ns;   /* creating + first-resuming `reached` of them */
    uint64_t destroy_ns;   /* destroying them all again */
    long rss_before_kb;    /* VmRSS just before the first create */
    long hwm_after_kb;     /* VmHWM once all are parked */
    long pte_delta_kb;     /* growth of VmPTE (page tables, not in RSS) */
    int hwm_reset;         /* 1 if VmHWM was reset first (clear_refs) */
} scale_result;

/* Create n coroutines, each resumed once so that it waits in
 * coil_coro_yield(), measure memory, destroy them.  On failure, *r still
 * describes what was reached before it. */
int bench_scale(long n, scale_result *r, char *err);

/* ---------------------------------------------------------------- scheduler */

/* count coil_yield()s shared by ntasks tasks (count / ntasks each) under
 * coil_run.  *elapsed_ns runs from the first task's return from a first,
 * untimed yield (when all tasks have started) to the last task's last. */
int bench_yield(long ntasks, long count, uint64_t *elapsed_ns, char *err);

/* count rounds of coil_spawn(a task returning at once), coil_await it,
 * coil_task_release it: from a main task under coil_run, or (outside = 1)
 * from the thread's own stack, where each await runs the default loop. */
int bench_spawn_await(int outside, long count, uint64_t *elapsed_ns,
                      char *err);

/* count coil_sleep(delay_ns) in a task under coil_run; overshoot_ns[i]
 * gets how much longer than delay_ns sleep i took, by coil_clock(). */
int bench_sleep(long count, int64_t delay_ns, int64_t *overshoot_ns,
                char *err);

/* ---------------------------------------------------------------- peers */

/* Another runtime running the scheduler benches (bench_peer.c). */
typedef struct bench_peer {
    const char *impl;          /* the "impl" column: go, python_asyncio */
    int ok;                    /* usable; if not, note says why */
    char version[48];          /* as the runtime reports it */
    char exe[PATH_MAX];        /* the program, or the interpreter */
    char script[PATH_MAX];     /* the interpreter's script; "" for go */
    char note[BENCH_ERR_MAX];
} bench_peer;

/* Find, build and try both peers.  Cannot fail: a peer that cannot run
 * gets ok = 0 and a note. */
void bench_peers_setup(bench_peer *go, bench_peer *python);

/* Run one measurement, args (NULL-terminated) naming it: {"yield", "2",
 * "2000000", NULL}.  0 with the JSON line it printed in line, or -1 with a
 * message in err. */
int bench_peer_run(const bench_peer *p, const char *const *args, char *line,
                   size_t size, char *err);

/* The number after "key": in a JSON line: 0 and *out, or -1 if absent. */
int bench_json_number(const char *line, const char *key, double *out);

/* The integers of the array after "key": in a JSON line, at most max of
 * them: how many were stored, or -1 if absent, malformed or too long. */
long bench_json_int_array(const char *line, const char *key, int64_t *out,
                          long max);

/* Remove what setup left in the temporary directory. */
void bench_peers_cleanup(void);

#endif /* COIL_BENCH_H */
