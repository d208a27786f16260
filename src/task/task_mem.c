/*
 * src/task/task_mem.c — where a task's memory and stack come from (layer
 * 4): a per-thread cache of task memory, and stacks kept in it.
 *
 * Spawning is a hot path (a task per connection, per request), so the
 * memory of a task that ended is kept for the next spawn, and so is its
 * stack, a few per thread: no malloc, no trip through the stack pool.
 * task.c asks for memory at spawn (coil__task_alloc), gives it back when
 * the last reference goes (coil__task_free), and ends a task's coroutine
 * through coil__task_fini_coro, which decides whether the stack is kept.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/coro.h"
#include "core/stack.h"
#include "task/task.h"
#include "task/task_impl.h"

/* ------------------------------------------------------------ kept stacks */

/* A task that ended keeps its stack, a few per thread, and the next spawn
 * that gets its memory from the task cache (below) takes the stack over
 * with it: no trip through the stack pool on either side, which is a tenth
 * of a short task's life (spawn + await 66 -> 60 ns measured).  The stack
 * waits in the task's memory while its handle is held and then in the
 * cache; the few kept are on top of the pool's max_idle.  Debug-check
 * builds keep none, as they cache no task memory. */
#ifdef COIL_DEBUG_CHECKS
enum { KEPT_STACKS_MAX = 0 };
#else
enum { KEPT_STACKS_MAX = 8 };
#endif
static __thread int kept_stacks;

/* Only for an ended task (t->coro NULL): its coroutine's stack is kept. */
static int has_kept_stack(const coil_task *t)
{
    return t->coro_storage.stack.lo != NULL;
}

static void free_kept_stack(coil_task *t)
{
    if (has_kept_stack(t)) {
        coil__stack_free(&t->coro_storage.stack);
        kept_stacks--;
    }
}

/* At spawn, t's memory fresh from task_alloc: a stack kept there becomes
 * the new coroutine's if it is of the size asked for, else it goes. */
static void adopt_kept_stack(coil_task *t, size_t request)
{
    if (has_kept_stack(t)) {
        kept_stacks--;
        if (t->stack_request != request)
            coil__stack_free(&t->coro_storage.stack);
    }
    t->stack_request = request;
}

/* ------------------------------------------------------------ task memory */

/* Task memory is kept for reuse, a few dozen per thread: spawning is a hot
 * path (a task per connection, per request), and malloc and free cost as
 * much as the rest of a short task's life.  A task is freed on its loop's
 * thread (coil_task_release is loop-thread only), so the cache needs no
 * lock; what it holds at thread exit is freed then.  Debug-check builds
 * skip it, so that AddressSanitizer sees every use after free. */
#ifndef COIL_DEBUG_CHECKS
enum { TASK_CACHE_MAX = 64 };

/* Entries [0, bare) hold no kept stack, [bare, n) do: a spawn pops from
 * the top, so it gets a kept stack whenever one is cached.  Without the
 * split, a burst of more tasks than KEPT_STACKS_MAX leaves the stackless
 * ones on top and the kept stacks buried under them for good, and every
 * later spawn goes to the pool (spawn + await 60 -> 66 ns measured). */
typedef struct task_cache {
    coil_task *free[TASK_CACHE_MAX];
    int n, bare;
} task_cache;

static __thread task_cache *thread_cache;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;

/* At thread exit.  The stacks kept in the tasks are left alone: they die
 * with the pool's slabs, which may be gone already. */
static void cache_drop(void *arg)
{
    task_cache *c = arg;
    while (c->n > 0)
        free(c->free[--c->n]->mem);
    free(c);
    thread_cache = NULL;
}

static void make_cache_key(void)
{
    pthread_key_create(&cache_key, cache_drop);
}

static task_cache *cache_get(void)
{
    if (!thread_cache) {
        pthread_once(&cache_key_once, make_cache_key);
        thread_cache = calloc(1, sizeof *thread_cache);
        if (thread_cache)
            pthread_setspecific(cache_key, thread_cache);
    }
    return thread_cache;
}
#endif

/* Memory for a task, or NULL with errno ENOMEM. */
static coil_task *task_alloc(void)
{
#ifndef COIL_DEBUG_CHECKS
    task_cache *c = thread_cache;
    if (c && c->n > 0) {
        coil_task *t = c->free[--c->n];
        if (c->bare > c->n)
            c->bare = c->n;
        return t;
    }
#endif
    /* At the start of a cache line: task_impl.h packs what a hand-off
     * touches into the first four.  Aligned by hand in malloc's memory:
     * aligned_alloc is glibc's memalign, which made a burst of 1,000
     * spawns a quarter slower. */
    char *mem = malloc(sizeof(coil_task) + 48);  /* malloc's are 16-aligned */
    if (!mem) {
        errno = ENOMEM;
        return NULL;
    }
    coil_task *t = (coil_task *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    t->mem = mem;
    t->coro_storage.stack.lo = NULL;
    return t;
}

static void task_free(coil_task *t)
{
#ifndef COIL_DEBUG_CHECKS
    task_cache *c = cache_get();
    if (c && c->n < TASK_CACHE_MAX) {
        if (has_kept_stack(t)) {
            c->free[c->n++] = t;
        } else {                      /* below the ones with a stack */
            c->free[c->n++] = c->free[c->bare];
            c->free[c->bare++] = t;
        }
        return;
    }
#endif
    free_kept_stack(t);
    free(t->mem);
}

/* --------------------------------------------------------- what task.c asks */

coil_task *coil__task_alloc(size_t stack_request)
{
    coil_task *t = task_alloc();
    if (t)
        adopt_kept_stack(t, stack_request);
    return t;
}

void coil__task_free(coil_task *t)
{
    task_free(t);
}

void coil__task_fini_coro(coil_task *t)
{
    int keep = kept_stacks < KEPT_STACKS_MAX && t->coro->stack.lo;
    coil__coro_fini(t->coro, keep);
    kept_stacks += keep;
    t->coro = NULL;
}

int coil__task_kept_stacks(int *max)
{
    if (max)
        *max = KEPT_STACKS_MAX;
    return kept_stacks;
}
