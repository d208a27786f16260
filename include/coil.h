/*
 * coil.h — stackful green threads for Linux.  The whole public API.
 *
 * Layers, bottom up (see docs/DESIGN.md):
 *   0  context switch   coil/ctx.h (usable alone)
 *   1  stacks           mmap'd, guarded, pooled
 *   2  coroutines       a stack + a context + an entry trampoline
 *
 * Conventions, throughout:
 *   - A function returning int returns 0 (or a documented non-negative
 *     value) on success and -1 with errno set on failure.
 *   - A function returning a pointer returns NULL with errno set on failure.
 *   - Bad arguments give EINVAL; nothing in coil crashes on a NULL handle.
 *   - "May suspend" means the call can switch away from the calling
 *     coroutine; every other call returns without switching.
 *   - Objects belong to the thread that created them: using one from
 *     another thread gives EPERM (coroutines never migrate: compilers cache
 *     the address of thread-locals such as errno across calls).
 */
#ifndef COIL_H
#define COIL_H

#include <stddef.h>
#include <coil/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COIL_VERSION_MAJOR 0
#define COIL_VERSION_MINOR 1
#define COIL_VERSION_PATCH 0

/* ======================================================================
 * Stacks (layer 1)
 *
 * Every coroutine runs on its own mmap'd stack.  Pages are committed by the
 * kernel only when touched, so a 64 KiB stack that never goes deeper than a
 * few frames costs one 4 KiB page of memory.  Below every stack lies a guard
 * region; running into it is reported as a stack overflow naming the
 * coroutine (see docs/stacks.md), then the process aborts.
 *
 * How the guard is made is chosen once per process, at the first stack:
 *   COIL_GUARD_MADVISE   madvise(MADV_GUARD_INSTALL), Linux >= 6.13: guards
 *                        inside one large mapping, no extra VMA per stack,
 *                        so a million guarded stacks fit under the stock
 *                        vm.max_map_count of 65530.
 *   COIL_GUARD_MPROTECT  a PROT_NONE page per stack (older kernels).  Each
 *                        splits its mapping, costing a VMA; when half of
 *                        vm.max_map_count is used, new stacks fall back to:
 *   COIL_GUARD_CANARY    no guard page; a canary at the stack's low end is
 *                        checked whenever its coroutine switches away.
 * The madvise guard is trusted only after a probe shows it works (an
 * emulator such as qemu-user may accept the call and ignore it): a write()
 * from a guarded page must fail with EFAULT.  The environment variable
 * COIL_STACK_GUARD=madvise|mprotect|canary forces a mode (for tests).
 * ====================================================================== */

/* Default usable stack size: 64 KiB.  Lazily committed, so its price is
 * address space, not memory; deep enough for printf, qsort and a few
 * kilobytes of locals with room to spare, small enough that a million
 * coroutines take 64 GiB of the 128 TiB address space.  Override per
 * coroutine with coil_coro_attr.stack_size or for the process with the
 * environment variable COIL_STACK_SIZE (bytes; K and M suffixes allowed). */
#define COIL_STACK_DEFAULT_SIZE (64u * 1024u)

/* Largest accepted stack size (1 GiB); larger requests are EINVAL. */
#define COIL_STACK_MAX_SIZE (1024u * 1024u * 1024u)

typedef enum coil_guard_mode {
    COIL_GUARD_MADVISE = 1,
    COIL_GUARD_MPROTECT = 2,
    COIL_GUARD_CANARY = 3
} coil_guard_mode;

/* The guard mode new stacks get, probing on first use.  Does not suspend;
 * cannot fail. */
coil_guard_mode coil_stack_guard_mode(void);

/* The default usable stack size in bytes (COIL_STACK_DEFAULT_SIZE unless
 * COIL_STACK_SIZE says otherwise).  Does not suspend; cannot fail. */
size_t coil_stack_default_size(void);

/* Idle stacks the calling thread's pool keeps committed for reuse (default
 * 64).  A stack released beyond that is still kept for reuse, but its
 * memory is handed back to the kernel (MADV_DONTNEED) first.  0 keeps none
 * committed.  Does not suspend.  Returns 0, or -1 with errno ENOMEM if the
 * pool could not be created. */
int coil_stack_pool_set_max_idle(size_t max_idle);

/* ======================================================================
 * Coroutines (layer 2)
 *
 * A coroutine runs fn(arg) on its own stack.  coil_coro_resume() runs it
 * until it calls coil_coro_yield() or fn returns; the two exchange one
 * void * each way.  Coroutines may resume other coroutines (they nest like
 * calls: a yield returns to whoever resumed).
 * ====================================================================== */

typedef struct coil_coro coil_coro;

/* The body of a coroutine.  Its return value is handed to the resumer. */
typedef void *(*coil_coro_fn)(void *arg);

/* Flags for coil_coro_attr.flags. */
enum {
    /* Switch without saving and restoring the FP control state (MXCSR and
     * x87 control word / FPCR): faster, for code that never changes
     * rounding modes or exception masks.  See coil/ctx.h, point 2. */
    COIL_CORO_NOFP = 1u << 0,
    /* Map a fresh stack instead of taking one from the thread's pool, and
     * unmap it when the coroutine finishes.  For measuring; rarely useful
     * otherwise. */
    COIL_CORO_UNPOOLED = 1u << 1
};

/* Creation attributes.  Zero-initialise, then set what you need; a NULL
 * attr means all defaults. */
typedef struct coil_coro_attr {
    const char *name;   /* copied (up to COIL_NAME_MAX - 1 bytes); NULL or
                           "" gives "coro-<id>" */
    size_t stack_size;  /* usable bytes, rounded up to whole pages;
                           0 = coil_stack_default_size() */
    unsigned flags;     /* COIL_CORO_* */
} coil_coro_attr;

#define COIL_NAME_MAX 48

/* Values of coil_coro_state(). */
enum coil_coro_state {
    COIL_CORO_CREATED = 0,   /* never resumed yet */
    COIL_CORO_RUNNING = 1,   /* the coroutine executing now */
    COIL_CORO_NORMAL = 2,    /* active, but has resumed another coroutine */
    COIL_CORO_SUSPENDED = 3, /* inside coil_coro_yield() */
    COIL_CORO_DEAD = 4       /* fn returned */
};

/* Create a coroutine that will run fn(arg); it does not start until the
 * first coil_coro_resume().  Does not suspend.  Returns the coroutine, or
 * NULL with errno:
 *   EINVAL  fn is NULL, or stack_size exceeds COIL_STACK_MAX_SIZE;
 *   ENOMEM  no memory or address space for the stack or the coroutine
 *           (mmap or madvise failed, or vm.max_map_count was reached). */
coil_coro *coil_coro_create(const coil_coro_attr *attr, coil_coro_fn fn,
                            void *arg);

/* Run co until it yields or finishes.  `in` is what its pending
 * coil_coro_yield() receives; the first resume must pass NULL (fn already
 * has its arg, and a value would be lost).  On return, *out (if out is not
 * NULL) holds what co yielded or, if it finished, fn's return value: tell
 * them apart with coil_coro_state().  A finished coroutine's stack goes back
 * to the pool at once; the coroutine itself stays until destroyed.
 * Suspends the caller (if it is a coroutine) while co runs.
 * Returns 0, or -1 with errno:
 *   EINVAL  co is NULL, co is dead, or `in` is not NULL on the first resume;
 *   EBUSY   co is running, or is one of the coroutines that resumed the
 *           caller (a coroutine cannot resume its own ancestors);
 *   EPERM   co belongs to another thread. */
int coil_coro_resume(coil_coro *co, void *in, void **out);

/* Suspend the calling coroutine, handing `out` to its resumer; returns when
 * it is resumed again, storing the resumer's `in` in *in (if in is not
 * NULL).  Suspends, by definition.  Returns 0, or -1 with errno EPERM when
 * called outside any coroutine (the thread's own stack cannot yield). */
int coil_coro_yield(void *out, void **in);

/* Free co and its stack.  A suspended or never-started coroutine is freed
 * without running any more of its code: whatever it holds leaks unless you
 * arrange otherwise (tasks, in a later layer, unwind on cancellation).
 * Does not suspend.  Returns 0, or -1 with errno:
 *   EINVAL  co is NULL;
 *   EBUSY   co is running or has resumed another coroutine (it is on the
 *           current chain of resumes);
 *   EPERM   co belongs to another thread. */
int coil_coro_destroy(coil_coro *co);

/* The coroutine executing now on this thread, or NULL on the thread's own
 * stack.  Does not suspend; cannot fail. */
coil_coro *coil_coro_current(void);

/* co's name ("" for NULL).  The string lives as long as co. */
const char *coil_coro_name(const coil_coro *co);

/* co's state, or -1 with errno EINVAL for NULL. */
int coil_coro_state(const coil_coro *co);

/* co's usable stack size in bytes, or 0 for NULL. */
size_t coil_coro_stack_size(const coil_coro *co);

#ifdef __cplusplus
}
#endif

#endif /* COIL_H */
