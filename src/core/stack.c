/*
 * src/core/stack.c — mapping and pooling coroutine stacks (layer 1).
 *
 * Each thread has a pool.  A pool keeps one class per stack size; a class
 * carves stacks from slabs (one mmap holding many slots) and keeps freed
 * stacks on two LIFO lists: "warm" ones whose pages are still committed
 * (reuse costs nothing), and "cold" ones already handed back to the kernel
 * with MADV_DONTNEED.  A stack goes cold only when more than max_idle
 * stacks have been idle for a whole trim period (see trim_class): handing
 * each one back as it is freed cost a madvise and, on reuse, a page fault
 * for every task of a burst beyond max_idle.  Memory is unmapped only when
 * the thread exits.  Slabs grow geometrically, so a
 * million stacks need a few thousand mappings, which the kernel merges
 * further when they are adjacent.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/stack.h"

#define FIRST_SLAB_SLOTS 8
#define MAX_SLAB_SLOTS 1024
#define MAX_SLAB_BYTES (256u << 20)      /* slabs stay under 256 MiB */
#define DEFAULT_MAX_IDLE 64
/* How long stacks beyond max_idle may stay idle and committed: long enough
 * for a program that spawns in bursts to find them warm at the next burst,
 * short enough that a one-off peak does not hold its memory for long. */
#define TRIM_PERIOD_NS 1000000000LL
static int64_t trim_period = TRIM_PERIOD_NS;  /* tests may shorten it */
/* A thread without a loop (which trims when due, coil__stack_trim_at) has
 * its trims done by its frees: one clock read per this many frees of a
 * stack beyond max_idle. */
#define TRIM_CHECK_FREES 64

typedef struct stack_list {
    coil__stack *items;
    size_t count, cap;
} stack_list;

typedef struct slab {
    char *base;
    size_t len;
} slab;

typedef struct size_class {
    size_t size;                 /* usable bytes per stack */
    stack_list warm, cold;
    size_t low;                  /* fewest warm since the last trim */
    char *carve;                 /* next unused slot in the newest slab */
    size_t carve_left;           /* slots left there */
    size_t next_slots;           /* slots in the next slab */
} size_class;

typedef struct pool {
    size_class *classes;
    size_t nclasses;
    /* The class the last allocation came from, and the size it was asked
     * for (0: the default): a thread mostly spawns one kind of coroutine,
     * so alloc and free find their class without a lookup or a rounding. */
    size_class *last;
    size_t last_request;
    slab *slabs;
    size_t nslabs, slabs_cap;
    size_t max_idle, in_use;
    unsigned carved;             /* slots carved, for their colors */
    int64_t trim_at;             /* CLOCK_MONOTONIC ns of the next trim, 0: none */
    size_t trim_next;            /* a trim cut short: the class to go on with */
    int trim_surplus;            /* ...and whether the classes done had some */
    unsigned surplus_frees;      /* frees beyond max_idle, for TRIM_CHECK_FREES */
} pool;

static __thread pool *thread_pool;
/* Set when the thread's pool went at thread exit: a stack freed after that
 * (by a later TLS destructor) died with the slabs and is only forgotten. */
static __thread int pool_gone;
static __thread int fail_mmaps;          /* test hook */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t pool_key;
static size_t default_size;

/* ------------------------------------------------------------------ sizes */

static size_t page_size(void)
{
    static _Atomic size_t page;   /* threads may race to fill it in */
    size_t p = atomic_load_explicit(&page, memory_order_relaxed);
    if (!p) {
        p = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&page, p, memory_order_relaxed);
    }
    return p;
}

size_t coil__stack_round_size(size_t size)
{
    if (size == 0)
        size = coil_stack_default_size();
    if (size > COIL_STACK_MAX_SIZE)
        return 0;
    size_t page = page_size();
    return (size + page - 1) & ~(page - 1);
}

/* COIL_STACK_SIZE=<n>[K|M]; anything unparsable or out of range is
 * ignored, so a typo cannot make every coroutine fail. */
static size_t parse_size_env(void)
{
    const char *s = getenv("COIL_STACK_SIZE");
    if (!s || !*s)
        return COIL_STACK_DEFAULT_SIZE;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == 'k' || *end == 'K')
        v <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        v <<= 20, end++;
    if (*end || v < 4096 || v > COIL_STACK_MAX_SIZE)
        return COIL_STACK_DEFAULT_SIZE;
    return (size_t)v;
}

static void read_default_size(void)
{
    default_size = parse_size_env();
}

size_t coil_stack_default_size(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_default_size);
    return default_size;
}

/* ------------------------------------------------------------------- mmap */

static void *map_region(size_t len)
{
    if (fail_mmaps > 0) {
        fail_mmaps--;
        errno = ENOMEM;
        return NULL;
    }
    /* NORESERVE: stacks are mostly untouched; do not charge them all
     * against overcommit up front. */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;                  /* EAGAIN/ENOMEM: both "no room" */
        return NULL;
    }
    return p;
}

void coil__stack_set_trim_period(int64_t ns)
{
    trim_period = ns > 0 ? ns : TRIM_PERIOD_NS;
}

void coil__stack_fail_next_mmaps(int n)
{
    fail_mmaps = n;
}

/* ------------------------------------------------------------------ lists */

/* Make room for n more items on l (a trim reserves all it moves first,
 * so that it cannot fail halfway). */
static int list_reserve(stack_list *l, size_t n)
{
    if (l->count + n <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : 16;
    while (cap < l->count + n)
        cap *= 2;
    coil__stack *items = realloc(l->items, cap * sizeof *items);
    if (!items)
        return -1;
    l->items = items;
    l->cap = cap;
    return 0;
}

static int list_push(stack_list *l, const coil__stack *st)
{
    if (list_reserve(l, 1) != 0)
        return -1;
    l->items[l->count++] = *st;
    return 0;
}

static int list_pop(stack_list *l, coil__stack *out)
{
    if (l->count == 0)
        return 0;
    *out = l->items[--l->count];
    return 1;
}

/* ------------------------------------------------------------------ pools */

static void list_release(stack_list *l)
{
    for (size_t j = 0; j < l->count; j++)
        coil__guard_release(l->items[j].lo - COIL__GUARD_SIZE,
                            l->items[j].mode);
    free(l->items);
}

static void pool_destroy(void *arg)
{
    pool *p = arg;
    for (size_t i = 0; i < p->nclasses; i++) {
        list_release(&p->classes[i].warm);
        list_release(&p->classes[i].cold);
    }
    /* Stacks still in use die with their slabs: a thread that exits with
     * live coroutines has abandoned them. */
    for (size_t i = 0; i < p->nslabs; i++)
        munmap(p->slabs[i].base, p->slabs[i].len);
    free(p->slabs);
    free(p->classes);
    free(p);
    thread_pool = NULL;
    pool_gone = 1;
}

static void make_key(void)
{
    pthread_key_create(&pool_key, pool_destroy);
}

static pool *get_pool(void)
{
    if (thread_pool)
        return thread_pool;
    pthread_once(&key_once, make_key);
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->max_idle = DEFAULT_MAX_IDLE;
    pthread_setspecific(pool_key, p);
    thread_pool = p;
    return p;
}

static size_class *get_class(pool *p, size_t size)
{
    for (size_t i = 0; i < p->nclasses; i++)
        if (p->classes[i].size == size)
            return &p->classes[i];
    size_class *classes = realloc(p->classes,
                                  (p->nclasses + 1) * sizeof *classes);
    if (!classes)
        return NULL;
    p->classes = classes;
    p->last = NULL;              /* it may have moved */
    size_class *c = &classes[p->nclasses++];
    memset(c, 0, sizeof *c);
    c->size = size;
    c->next_slots = FIRST_SLAB_SLOTS;
    return c;
}

static int add_slab(pool *p, size_class *c)
{
    size_t slot = COIL__GUARD_SIZE + c->size;
    size_t slots = c->next_slots;
    if (slots * slot > MAX_SLAB_BYTES)
        slots = MAX_SLAB_BYTES / slot ? MAX_SLAB_BYTES / slot : 1;
    if (p->nslabs == p->slabs_cap) {
        size_t cap = p->slabs_cap ? p->slabs_cap * 2 : 16;
        slab *slabs = realloc(p->slabs, cap * sizeof *slabs);
        if (!slabs)
            return -1;
        p->slabs = slabs;
        p->slabs_cap = cap;
    }
    char *base = map_region(slots * slot);
    if (!base)
        return -1;
    p->slabs[p->nslabs++] = (slab){base, slots * slot};
    /* Canary stacks have no guard of their own, so an unbounded overflow
     * runs down through its neighbours; make sure it then faults at the
     * slab's end instead of running on into whatever mapping lies below.
     * (Madvise guards need no help, and this page is inside slot 0's.) */
    if (coil__guard_mode() != COIL_GUARD_MADVISE)
        mprotect(base, page_size(), PROT_NONE);
    c->carve = base;
    c->carve_left = slots;
    if (c->next_slots < MAX_SLAB_SLOTS)
        c->next_slots *= 2;
    return 0;
}

/* A never-used slot: guards are installed lazily, slot by slot, so a slab
 * costs nothing until its stacks are handed out. */
static int carve(pool *p, size_class *c, coil__stack *st)
{
    if (c->carve_left == 0 && add_slab(p, c) != 0)
        return -1;
    char *guard = c->carve;
    c->carve += COIL__GUARD_SIZE + c->size;
    c->carve_left--;
    st->mode = (uint8_t)coil__guard_install(guard);
    st->lo = guard + COIL__GUARD_SIZE;
    st->color = (uint8_t)(p->carved++ % 32u);
    return 0;
}

static int alloc_pooled(coil__stack *st, size_t request, size_t size)
{
    pool *p = get_pool();
    size_class *c = p ? get_class(p, size) : NULL;
    if (!c) {
        errno = ENOMEM;
        return -1;
    }
    p->last = c;
    p->last_request = request;
    int warm = list_pop(&c->warm, st);
    if (warm && c->warm.count < c->low)
        c->low = c->warm.count;
    if (!warm && !list_pop(&c->cold, st)) {
        if (carve(p, c, st) != 0) {
            errno = ENOMEM;
            return -1;
        }
        st->size = size;
        st->pooled = 1;
    }
    p->in_use++;
    return 0;
}

static int alloc_unpooled(coil__stack *st, size_t size)
{
    char *guard = map_region(COIL__GUARD_SIZE + size);
    if (!guard)
        return -1;
    st->mode = (uint8_t)coil__guard_install(guard);
    st->lo = guard + COIL__GUARD_SIZE;
    st->size = size;
    st->pooled = 0;
    st->color = 0;
    return 0;
}

__attribute__((noinline)) static int alloc_slow(coil__stack *st, size_t size,
                                                int pooled)
{
    size_t rounded = coil__stack_round_size(size);
    if (!st || rounded == 0) {
        errno = EINVAL;
        return -1;
    }
    if (coil__guard_thread_init() != 0)
        return -1;
    st->owner = NULL;
    return pooled ? alloc_pooled(st, size, rounded)
                  : alloc_unpooled(st, rounded);
}

int coil__stack_alloc(coil__stack *st, size_t size, int pooled)
{
    /* The hot path, kept apart so that it saves no registers: a warm stack
     * of the class asked for last time. */
    pool *p = thread_pool;
    if (pooled && p && p->last && size == p->last_request && st) {
        stack_list *warm = &p->last->warm;
        if (warm->count > 0) {
            /* Field by field: the caller reads them back at once, and a
             * load from the middle of a 16-byte store may not be
             * forwarded (measured here: about 2 ns a spawn). */
            const coil__stack *idle = &warm->items[--warm->count];
            if (warm->count < p->last->low)
                p->last->low = warm->count;   /* for trim_class */
            st->lo = idle->lo;
            st->size = idle->size;
            st->mode = idle->mode;
            st->pooled = idle->pooled;
            st->color = idle->color;
            st->owner = NULL;
            p->in_use++;
            return 0;
        }
    }
    return alloc_slow(st, size, pooled);
}

/* Hand back the warm stacks of c that stayed idle for the whole period
 * beyond the first max_idle, at most *budget of them (taken off it): the
 * list is LIFO, so the bottom `low` items are exactly those nobody took
 * since the last trim.  The newest ones stay warm.  A batch takes the
 * youngest of the long-idle ones, just below `low`, and closes the gap
 * with what lies above it, never moving more than it takes: taken from
 * the bottom with the rest moved down, every batch moved the whole list,
 * and a million stacks left by a burst took minutes to trim and held up
 * every free meanwhile.  *cut tells whether the budget left some of them due.
 * Returns whether c still has more than max_idle warm. */
static int trim_class(pool *p, size_class *c, size_t *budget, int *cut)
{
    stack_list *w = &c->warm;
    size_t idle = c->low < w->count ? c->low : w->count;
    size_t due = idle > p->max_idle ? idle - p->max_idle : 0;
    size_t n = due < *budget ? due : *budget;
    if (n > 0 && list_reserve(&c->cold, n) != 0)
        n = due = 0;                      /* no room to note them: not now */
    if (n > 0) {
        size_t from = idle - n;
        for (size_t i = from; i < idle; i++) {
            madvise(w->items[i].lo, w->items[i].size, MADV_DONTNEED);
            c->cold.items[c->cold.count++] = w->items[i];
        }
        /* Fill the gap with the top n: a memmove of all that lies above
         * would cost as many as were freed since the period began (a
         * million after a burst: 3.5 ms in one trim call).  Only those n
         * lose their place on the LIFO. */
        size_t above = w->count - idle;
        if (above <= n)
            memmove(&w->items[from], &w->items[idle],
                    above * sizeof *w->items);
        else
            memcpy(&w->items[from], &w->items[w->count - n],
                   n * sizeof *w->items);
        w->count -= n;
        *budget -= n;
    }
    /* Cut short: the rest of the due ones were idle all along and stay
     * due; else a new period starts with what is warm now. */
    *cut = n < due;
    c->low = *cut ? idle - n : w->count;
    return w->count > p->max_idle;
}

/* A trim hands back at most COIL__STACK_TRIM_BATCH stacks (stack.h); one
 * cut short goes on at the next call, from the class it stopped in. */
void coil__stack_pool_trim(int64_t now)
{
    pool *p = thread_pool;
    if (!p || p->trim_at == 0 || now < p->trim_at)
        return;
    size_t budget = COIL__STACK_TRIM_BATCH;
    for (; p->trim_next < p->nclasses; p->trim_next++) {
        int cut = 0;
        int surplus = trim_class(p, &p->classes[p->trim_next], &budget, &cut);
        if (cut) {
            p->trim_at = now;             /* more due in this class */
            return;
        }
        p->trim_surplus |= surplus;
    }
    p->trim_at = p->trim_surplus ? now + trim_period : 0;
    p->trim_next = 0;
    p->trim_surplus = 0;
}

int64_t coil__stack_trim_at(void)
{
    return thread_pool ? thread_pool->trim_at : 0;
}

/* What is idle now is what a trim may hand back when the period ends. */
static void start_trim_period(pool *p)
{
    for (size_t i = 0; i < p->nclasses; i++)
        p->classes[i].low = p->classes[i].warm.count;
    p->trim_at = coil_clock() + trim_period;
}

__thread int coil__stack_loop_trims;

/* A stack was freed beyond max_idle: start a trim period if none runs,
 * or, every TRIM_CHECK_FREES such frees, do a trim that is due, unless a
 * running loop does them: a batch is 32 madvises, each a TLB shootdown
 * across CPUs once the process has other threads (30 us and more on a
 * VM), and done by the frees of a busy fan-out it made every spawn cost
 * 3.7 us instead of 70 ns. */
static void note_surplus(pool *p)
{
    if (p->trim_at == 0)
        start_trim_period(p);
    else if (++p->surplus_frees % TRIM_CHECK_FREES == 0 &&
             !coil__stack_loop_trims)
        coil__stack_pool_trim(coil_clock());
}

__attribute__((noinline)) static void release_pooled(coil__stack *st)
{
    pool *p = thread_pool;
    size_class *c = get_class(p, st->size);
    p->in_use--;
    if (c && list_push(&c->warm, st) == 0) {
        if (c->warm.count > p->max_idle)
            note_surplus(p);
        return;
    }
    /* Out of memory for the list: keep the address range for reuse on the
     * cold list if that has room, with its pages given back. */
    madvise(st->lo, st->size, MADV_DONTNEED);
    if (c && list_push(&c->cold, st) == 0)
        return;
    /* Out of memory even for that: the slot is lost until the thread
     * exits, which is better than failing a free. */
}

__attribute__((noinline)) static void release_unpooled(coil__stack *st)
{
    char *guard = st->lo - COIL__GUARD_SIZE;
    coil__guard_release(guard, st->mode);
    munmap(guard, COIL__GUARD_SIZE + st->size);
    st->lo = NULL;
}

void coil__stack_free(coil__stack *st)
{
    if (!st || !st->lo)
        return;
    if (st->pooled && __builtin_expect(pool_gone, 0)) {
        st->lo = NULL;                /* unmapped with its pool's slabs */
        return;
    }
    coil__guard_check(st);
    if (!st->pooled) {
        release_unpooled(st);
        return;
    }
    /* The hot path: back on the warm list of the class last used, with
     * room there and within max_idle (a list that must grow, or a stack
     * beyond max_idle, takes the slow path). */
    pool *p = thread_pool;
    size_class *c = p->last;
    if (c && c->size == st->size && c->warm.count < p->max_idle &&
        c->warm.count < c->warm.cap) {
        c->warm.items[c->warm.count++] = *st;
        p->in_use--;
    } else {
        release_pooled(st);
    }
    st->lo = NULL;
}

int coil_stack_pool_set_max_idle(size_t max_idle)
{
    pool *p = get_pool();
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    p->max_idle = max_idle;
    for (size_t i = 0; i < p->nclasses && p->trim_at == 0; i++)
        if (p->classes[i].warm.count > max_idle)
            start_trim_period(p);
    return 0;
}

void coil__stack_pool_stats(coil__stack_stats *out)
{
    memset(out, 0, sizeof *out);
    pool *p = thread_pool;
    if (!p)
        return;
    out->in_use = p->in_use;
    out->slabs = p->nslabs;
    for (size_t i = 0; i < p->nclasses; i++) {
        out->idle_warm += p->classes[i].warm.count;
        out->idle_cold += p->classes[i].cold.count;
    }
}
