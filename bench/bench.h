/*
 * bench/bench.h — what the pieces of coil_bench share.
 *
 * coil_bench.c   options, repetitions, statistics, the table and the JSON;
 * bench_switch.c one-thread ping-pong for each context-switch implementation
 *                (and the two-thread one it is compared with);
 * bench_coro.c   coil coroutine create/destroy and the million-coroutine run.
 *
 * Every measuring function does one repetition and returns 0 with the
 * elapsed time, or -1 with a message in err: a benchmark that cannot run
 * (no memory, no thread) is reported, not crashed on.
 */
#ifndef COIL_BENCH_H
#define COIL_BENCH_H

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

#endif /* COIL_BENCH_H */
