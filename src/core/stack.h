/*
 * src/core/stack.h — layer 1: coroutine stacks (internal).
 *
 * A stack slot is a guard region followed by the usable stack:
 *
 *     low addresses                                     high addresses
 *     | guard (COIL__GUARD_SIZE) | usable stack (size) ...... top |
 *                                ^ lo                 grows down ^
 *
 * The guard is a madvise guard region, a PROT_NONE page range, or plain
 * memory whose top bytes hold a canary (coil_guard_mode in coil.h).  The
 * same geometry in every mode keeps the allocator mode-agnostic and means a
 * small overflow in canary mode lands in the gap, not in a neighbour.
 *
 * Pooled stacks are carved from slabs (one mapping, many slots) and reused;
 * unpooled ones get a mapping each.  stack.c owns allocation and pooling,
 * stack_guard.c owns guards, canaries and the overflow report.
 */
#ifndef COIL_STACK_H
#define COIL_STACK_H

#include <stddef.h>
#include <stdint.h>
#include "coil.h"

/* Everything coil__ is internal to the library, shared library included. */
#pragma GCC visibility push(hidden)

/* Guard below every stack.  Guards cost address space, not memory (in
 * canary mode one page of it is touched), so they are generous: a frame
 * that skips a few pages still lands in one.  On aarch64 it must be 64 KiB:
 * GCC's -fstack-clash-protection there assumes a guard that big and lets
 * probes be up to 64 KiB apart.  Elsewhere probes are 4 KiB apart (GCC 12
 * does not probe at all on riscv64: tests/overflow_test.c). */
#if defined(__aarch64__)
#define COIL__GUARD_SIZE (64u * 1024u)
#else
#define COIL__GUARD_SIZE (16u * 1024u)
#endif

typedef struct coil__stack {
    char *lo;             /* lowest usable byte; NULL when none */
    size_t size;          /* usable bytes, a page multiple */
    uint8_t mode;         /* coil_guard_mode of this stack's guard */
    uint8_t pooled;       /* carved from a pool slab (else its own mapping) */
    uint8_t color;        /* 0..31, fixed per stack: see coro.c */
    const char *owner;    /* name for overflow reports (set by coro.c) */
} coil__stack;

/* The stack the calling thread is executing on, or NULL for the thread's
 * own stack.  coro.c sets it at every switch; the fault handler reads it.
 * initial-exec TLS: a signal handler may read it without allocating. */
extern __thread const coil__stack *coil__stack_running
    __attribute__((tls_model("initial-exec")));

/* --- stack.c: allocation and pooling ----------------------------------- */

/* Give st a stack of at least `size` usable bytes (0 = default), from the
 * calling thread's pool or, if !pooled, freshly mapped.  Also makes sure the
 * thread can report overflows (coil__guard_thread_init).  Returns 0, or -1
 * with errno EINVAL (size too big) or ENOMEM. */
int coil__stack_alloc(coil__stack *st, size_t size, int pooled);

/* Return st's memory (to the pool, or to the kernel if unpooled), checking
 * its canary first.  st->lo becomes NULL.  NULL-lo stacks are ignored. */
void coil__stack_free(coil__stack *st);

/* Stacks idle beyond the pool's max_idle stay committed until they have
 * been idle for a whole trim period (a second); then a trim hands their
 * memory back (MADV_DONTNEED).  coil__stack_trim_at gives the calling
 * thread's next trim time (CLOCK_MONOTONIC ns), 0 if there is nothing to
 * trim; coil__stack_pool_trim(now) does the trim if it is due by `now`.
 * A loop calls both before it polls, so an idle loop wakes for its trims;
 * elsewhere the frees beyond max_idle do them.  Never fail.  One call
 * hands back at most COIL__STACK_TRIM_BATCH stacks, so that a trim never
 * holds up a loop for long (1,000 stacks took 2-4 ms in one go); if more
 * are due, the next trim time is `now`, and the loop's next poll does not
 * sleep before it. */
enum { COIL__STACK_TRIM_BATCH = 32 };
/* Non-zero while a loop runs on the calling thread (loop.c counts its
 * runs in and out): then only its polls trim, when the wait has room. */
extern __thread int coil__stack_loop_trims;
int64_t coil__stack_trim_at(void);
void coil__stack_pool_trim(int64_t now);

/* Round a requested size the way coil__stack_alloc does; 0 if too big. */
size_t coil__stack_round_size(size_t size);

/* Counters for tests and diagnostics, for the calling thread's pool. */
typedef struct coil__stack_stats {
    size_t in_use;        /* handed out and not freed */
    size_t idle_warm;     /* free, memory still committed */
    size_t idle_cold;     /* free, memory returned with MADV_DONTNEED */
    size_t slabs;         /* mappings made for slabs */
} coil__stack_stats;
void coil__stack_pool_stats(coil__stack_stats *out);

/* Test hook: trim periods of ns from now on (<= 0: back to a second).
 * Not thread-safe: call it before any thread uses a pool. */
void coil__stack_set_trim_period(int64_t ns);

/* Test hook: make the next n mmap calls of the allocator fail with ENOMEM. */
void coil__stack_fail_next_mmaps(int n);

/* --- stack_guard.c: guards, canaries, overflow reports ------------------- */

/* The process-wide mode for new guards (probes and reads COIL_STACK_GUARD
 * on first call). */
coil_guard_mode coil__guard_mode(void);

/* Make [guard_lo, guard_lo + COIL__GUARD_SIZE) a guard, in the process
 * mode if possible, else degrading MADVISE -> MPROTECT -> CANARY.  Returns
 * the mode achieved; never fails. */
coil_guard_mode coil__guard_install(char *guard_lo);

/* Undo what coil__guard_install did for a guard about to be unmapped or
 * reused (gives back the mprotect budget). */
void coil__guard_release(char *guard_lo, coil_guard_mode mode);

/* Write the overflow report for st and abort.  Async-signal-safe. */
__attribute__((noreturn)) void coil__guard_report_overflow(
    const coil__stack *st, const char *detail);

/* The canary: CANARY_WORDS words at the top of a canary stack's guard gap,
 * right below lo, each the secret xor its own address. */
enum { COIL__GUARD_CANARY_WORDS = 16 };      /* 128 bytes */
extern uintptr_t coil__guard_canary_secret;

static inline int coil__guard_canary_intact(const char *lo)
{
    const uintptr_t *c = (const uintptr_t *)(const void *)lo -
                         COIL__GUARD_CANARY_WORDS;
    for (int i = 0; i < COIL__GUARD_CANARY_WORDS; i++)
        if (c[i] != (coil__guard_canary_secret ^ (uintptr_t)&c[i]))
            return 0;
    return 1;
}

/* Abort with an overflow report if st is a canary stack whose canary is
 * broken.  Cheap: one branch for guarded stacks.  Inline all through, the
 * report (which does not return) its only call: a coroutine switch checks
 * the stack it leaves, and a call that returned would make the compiler
 * save registers around it on every switch. */
static inline void coil__guard_check(const coil__stack *st)
{
    if (__builtin_expect(st->mode == COIL_GUARD_CANARY, 0) && st->lo &&
        !coil__guard_canary_intact(st->lo))
        coil__guard_report_overflow(st, "its stack canary was overwritten");
}

/* Prepare the calling thread for overflow reports: an alternate signal
 * stack (unless it has one) and, once per process, the SIGSEGV/SIGBUS
 * handler.  Returns 0, or -1 with errno ENOMEM. */
int coil__guard_thread_init(void);

#pragma GCC visibility pop

#endif /* COIL_STACK_H */
