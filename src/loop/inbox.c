/*
 * src/loop/inbox.c — how other threads reach a loop (layer 3): its inbox,
 * coil_call_soon_threadsafe, coil_loop_stop from afar.
 *
 * Below the tasks (DESIGN.md puts cross-thread wake-ups in the loop): the
 * loop drains its inbox every iteration, and a loop that knows only work
 * items must not call up into a layer of thread-safe futures to do so.
 *
 * Reaching a loop from another thread.  A coil_loop * held by another
 * thread may be freed at any moment by its owner, so a submitter never
 * dereferences it: it looks the pointer up in a registry of live loops,
 * a hash table whose every bucket has a lock, and works with the loop's
 * inbox (and poller) only while holding its bucket's lock.  That one lock
 * also guards the inbox's queue: a submission takes one lock, not a
 * registry lock and then an inbox lock (with four threads submitting,
 * the two contended locks were most of a submission's cost).
 * coil_loop_close takes the bucket's lock to unregister, so once it has
 * it no submitter is inside, and none can get in: the inbox and the loop
 * can then be freed.
 *
 * The inbox is a FIFO of slots (fn, drop, arg) in chunks of CHUNK_SLOTS
 * under that lock: one short lock hold per submission.  A submitter that
 * finds it empty wakes the loop (eventfd, coalesced): a loop found asleep
 * then sees the slot; one that is running drains at its next iteration,
 * and whoever made the inbox non-empty again after a drain wakes it
 * again, so no callback waits for an unrelated wake-up.
 *
 * Why chunks of slots, and batches.  The loop reads what other threads
 * wrote: each cache line it reads comes from another core.  A list of
 * malloc'd items cost a line or two per callback, fetched one after the
 * other (the next item's address is in the one before), and the drain
 * walked the list once to queue each item and the loop once more to run
 * it; glibc's malloc and free on different threads (a free locks the
 * allocating thread's arena) did the rest.  Now a callback is 24 bytes
 * beside the one before it, a drain queues what it took as one work item
 * that runs the callbacks in order, and a drained chunk goes back to the
 * submitters for reuse, at the next drain, in the lock hold that takes
 * anyway (up to SPARE_CHUNKS).  The count of callbacks not yet run, for
 * the limit, is kept the same way: submissions counted under the lock,
 * runs in a word only the loop writes, which submitters read only when
 * the limit may be near.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"
#include "core/list.h"
#include "loop/inbox.h"
#include "loop/loop.h"
#include "loop/poll.h"

/* Three cache lines, each written from one side as far as it can be:
 * every line both a submitter and the drain write moves between their
 * CPUs at each hand-off (~0.24 us apiece on the VM the benches run on),
 * so all such words share one line, and the rest keep off it. */
struct coil__inbox {
    /* Written by submitters and the drain (under mu), one line. */
    _Alignas(64) coil_loop *loop; /* registry key (read-only) */
    pthread_mutex_t *mu;          /* its registry bucket's lock (read-only) */
    coil__inbox_chunk *head, *tail;           /* under mu */
    coil__inbox_chunk *spare;     /* drained chunks to reuse: under mu */
    long submitted;               /* ever: under mu */
    atomic_long limit;            /* user submissions refused beyond: 0 none */
    atomic_int pending;           /* head != NULL, readable without mu */
    unsigned nspare;              /* under mu */
    /* Submitters' (and registry walks'): the drain never writes here. */
    _Alignas(64) coil__poll *poll;
    struct coil__inbox *bucket_next;
    long ran_seen;                /* a value `ran` had: under mu */
    /* The loop thread's own: */
    _Alignas(64) atomic_long ran; /* ever run: the loop writes */
    coil__list posted;            /* drained batches, not yet run */
    coil__inbox_chunk *used;      /* run, for the spares */
    int ever;                     /* something was drained once */
};

/* The default bound on callbacks submitted to a loop and not yet run: one
 * takes ~27 bytes (its slot and its share of a chunk), so a loop that
 * cannot keep up holds at most ~27 MiB of them before submitters hear
 * EAGAIN. */
#define INBOX_LIMIT_DEFAULT (1L << 20)

/* Slots per chunk, and drained chunks kept for reuse: a loop that keeps
 * up reuses the same few; a flood's excess is freed (about 50 KiB kept). */
#define CHUNK_SLOTS 32
#define SPARE_CHUNKS 64

/* A chunk the inbox allocates: its slots follow the header. */
typedef struct chunk {
    coil__inbox_chunk c;
    coil__inbox_slot slots[CHUNK_SLOTS];
} chunk;

#define BUCKETS 64

static coil__inbox *registry[BUCKETS];

/* Each bucket's lock, on a cache line of its own. */
static struct {
    _Alignas(64) pthread_mutex_t mu;
} bucket_locks[BUCKETS] = {[0 ... BUCKETS - 1] = {PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP}};

/* Where a debugger finds every live loop without debug info for coil:
 * tools/gdb/coil-gdb.py reads these words from memory (a live process or
 * a core) and walks the registry's buckets.  Never read by coil itself;
 * `used` keeps it in a static link. */
__attribute__((visibility("default"), used)) const struct {
    uintptr_t version;
    const void *table;
    uintptr_t buckets, inbox_loop, inbox_next;
} coil__gdb_loops = {1, registry, BUCKETS, offsetof(coil__inbox, loop),
                     offsetof(coil__inbox, bucket_next)};

static unsigned bucket_of(const coil_loop *loop)
{
    uintptr_t p = (uintptr_t)loop;
    return (unsigned)((p >> 4) ^ (p >> 10)) % BUCKETS;
}

static pthread_mutex_t *bucket_lock(const coil_loop *loop)
{
    return &bucket_locks[bucket_of(loop)].mu;
}

/* loop's bucket lock held. */
static coil__inbox **find(const coil_loop *loop)
{
    coil__inbox **pp = &registry[bucket_of(loop)];
    while (*pp && (*pp)->loop != loop)
        pp = &(*pp)->bucket_next;
    return pp;
}

coil__inbox *coil__inbox_open(coil_loop *loop, coil__poll *poll)
{
    coil__inbox *in = aligned_alloc(_Alignof(coil__inbox), sizeof *in);
    if (!in) {
        errno = ENOMEM;
        return NULL;
    }
    memset(in, 0, sizeof *in);
    in->loop = loop;
    in->poll = poll;
    in->mu = bucket_lock(loop);
    atomic_init(&in->pending, 0);
    atomic_init(&in->ran, 0);
    atomic_init(&in->limit, INBOX_LIMIT_DEFAULT);
    coil__list_init(&in->posted);
    pthread_mutex_lock(in->mu);
    coil__inbox **pp = find(loop);
    /* A stale entry for the same address cannot exist: close removes it
     * before the memory can be reused. */
    in->bucket_next = *pp;
    *pp = in;
    pthread_mutex_unlock(in->mu);
    return in;
}

static void free_chain(coil__inbox_chunk *c)
{
    for (coil__inbox_chunk *next; c; c = next) {
        next = c->next;
        free(c);
    }
}

/* A drained batch: the chunks from c on, their callbacks in arrival
 * order.  An embedded chunk's one slot is read before its callback runs
 * and never after: the callback may free it. */
void coil__inbox_run(void *arg)
{
    coil__inbox_chunk *c = arg;
    coil__inbox *in = c->box;
    long ran = atomic_load_explicit(&in->ran, memory_order_relaxed);
    coil__list_remove(&c->posted);
    for (coil__inbox_chunk *next; c; c = next) {
        next = c->next;
        unsigned n = c->n;
        int embedded = c->embedded;
        const coil__inbox_slot *slot = c->slot;
        for (unsigned i = 0; i < n; i++) {
            coil_callback fn = slot[i].fn;
            void *fn_arg = slot[i].arg;
            atomic_store_explicit(&in->ran, ++ran, memory_order_relaxed);
            coil__loop_call(in->loop, fn, fn_arg);
        }
        if (!embedded) {
            c->next = in->used;
            in->used = c;
        }
    }
}

/* The loop closed first: drop(arg) instead of fn(arg) for each slot. */
static void drop_chain(coil__inbox_chunk *c)
{
    for (coil__inbox_chunk *next; c; c = next) {
        next = c->next;
        unsigned n = c->n;
        int embedded = c->embedded;
        for (unsigned i = 0; i < n; i++)
            if (c->slot[i].drop)
                c->slot[i].drop(c->slot[i].arg);  /* embedded: frees c */
        if (!embedded)
            free(c);
    }
}

void coil__inbox_close(coil__inbox *in)
{
    if (!in)
        return;
    pthread_mutex_lock(in->mu);
    coil__inbox **pp = find(in->loop);
    if (*pp == in)
        *pp = in->bucket_next;
    pthread_mutex_unlock(in->mu);
    /* Nobody else can reach in now.  Drops may post to other loops. */
    while (!coil__list_empty(&in->posted)) {
        coil__inbox_chunk *c =
            coil__container_of(in->posted.next, coil__inbox_chunk, posted);
        coil__list_remove(&c->posted);
        drop_chain(c);
    }
    drop_chain(in->head);
    free_chain(in->spare);
    free_chain(in->used);
    free(in);
}

int coil__inbox_pending(coil__inbox *in)
{
    return in && atomic_load_explicit(&in->pending, memory_order_acquire);
}

int coil__inbox_ever_used(const coil__inbox *in)
{
    return in && in->ever;
}

const atomic_int *coil__inbox_flag(coil__inbox *in)
{
    return &in->pending;
}

void coil__inbox_drain(coil__inbox *in, coil_loop *loop)
{
    if (!coil__inbox_pending(in))
        return;
    pthread_mutex_lock(in->mu);
    coil__inbox_chunk *c = in->head;
    in->head = in->tail = NULL;
    atomic_store_explicit(&in->pending, 0, memory_order_relaxed);
    while (in->used && in->nspare < SPARE_CHUNKS) {   /* back for reuse */
        coil__inbox_chunk *u = in->used;
        in->used = u->next;
        u->next = in->spare;
        in->spare = u;
        in->nspare++;
    }
    pthread_mutex_unlock(in->mu);
    free_chain(in->used);             /* more than the spares keep */
    in->used = NULL;
    in->ever = 1;
    coil__work_init(&c->work, coil__inbox_run, c);
    coil__list_push_back(&in->posted, &c->posted);
    coil__loop_post(loop, &c->work);
}

/* Whether a user's submission must be refused: the loop is that far
 * behind.  Internal posts (results, wake-ups) are never refused: losing
 * one would lose an outcome somebody waits for.  Under mu: `ran` is read
 * only when what was last seen of it leaves the limit in reach. */
static int over_limit(coil__inbox *in)
{
    long limit = atomic_load_explicit(&in->limit, memory_order_relaxed);
    if (limit <= 0 || in->submitted - in->ran_seen < limit)
        return 0;
    in->ran_seen = atomic_load_explicit(&in->ran, memory_order_relaxed);
    return in->submitted - in->ran_seen >= limit;
}

/* c (empty, or an embedded one with its slot filled) becomes the tail. */
static void link_chunk(coil__inbox *in, coil__inbox_chunk *c)
{
    c->next = NULL;
    c->box = in;
    if (in->tail)
        in->tail->next = c;
    else
        in->head = c;
    in->tail = c;
}

static void chunk_init(chunk *k)
{
    k->c.n = 0;
    k->c.cap = CHUNK_SLOTS;
    k->c.embedded = 0;
    k->c.slot = k->slots;
}

/* A free slot at the tail, taking a spare chunk if the tail is full; NULL
 * if that needs a new chunk.  mu held. */
static coil__inbox_slot *room(coil__inbox *in)
{
    coil__inbox_chunk *t = in->tail;
    if (t && t->n < t->cap)
        return &t->slot[t->n++];
    if (!(t = in->spare))
        return NULL;
    in->spare = t->next;
    in->nspare--;
    t->n = 0;
    link_chunk(in, t);
    return &t->slot[t->n++];
}

/* The slot is filled: count it, wake the loop if the inbox was empty
 * (under mu, which keeps the loop alive: once per drain, and only a
 * flag's store if the loop is spinning), release mu. */
static void posted(coil__inbox *in)
{
    in->submitted++;
    if (!atomic_load_explicit(&in->pending, memory_order_relaxed)) {
        atomic_store_explicit(&in->pending, 1, memory_order_release);
        if (!coil__loop_owned(in->loop))
            coil__poll_wake(in->poll);
    }
    pthread_mutex_unlock(in->mu);
}

/* The live inbox of loop, with its lock taken; NULL with errno
 * ESHUTDOWN, or EAGAIN if bounded and over the limit. */
static coil__inbox *lock_inbox(const coil_loop *loop, int bounded)
{
    pthread_mutex_t *mu = bucket_lock(loop);
    pthread_mutex_lock(mu);
    coil__inbox *in = *find(loop);
    if (!in || (bounded && over_limit(in))) {
        pthread_mutex_unlock(mu);
        errno = in ? EAGAIN : ESHUTDOWN;
        return NULL;
    }
    return in;
}

int coil__inbox_submit(coil_loop *loop, coil_callback fn, coil_callback drop,
                       void *arg, int bounded)
{
    coil__inbox *in = lock_inbox(loop, bounded);
    if (!in)
        return -1;
    coil__inbox_slot *slot = room(in);
    if (!slot) {
        /* malloc outside the lock; the loop may close meanwhile */
        pthread_mutex_unlock(in->mu);
        chunk *k = malloc(sizeof *k);
        if (!k) {
            errno = ENOMEM;
            return -1;
        }
        if (!(in = lock_inbox(loop, bounded))) {
            free(k);
            return -1;
        }
        chunk_init(k);
        link_chunk(in, &k->c);    /* the old tail may have room again: */
        slot = &k->c.slot[k->c.n++];          /* left partly filled */
    }
    *slot = (coil__inbox_slot){fn, drop, arg};
    posted(in);
    return 0;
}

int coil__inbox_post(coil_loop *loop, coil__inbox_item *it, int bounded)
{
    coil__inbox *in = lock_inbox(loop, bounded);
    if (!in)
        return -1;
    coil__inbox_slot *slot = room(in);
    if (slot) {
        *slot = it->one;
    } else {                      /* no memory is needed: its own chunk */
        it->chunk = (coil__inbox_chunk){.n = 1, .cap = 1, .embedded = 1,
                                        .slot = &it->one};
        link_chunk(in, &it->chunk);
    }
    posted(in);
    return 0;
}

int coil__inbox_stop(coil_loop *loop)
{
    coil__inbox *in = lock_inbox(loop, 0);
    if (!in)
        return -1;
    coil__loop_mark_stop(loop);
    if (!coil__loop_owned(loop))
        coil__poll_wake(in->poll);
    pthread_mutex_unlock(in->mu);
    return 0;
}

int coil__inbox_loop_is_mine(const coil_loop *loop)
{
    pthread_mutex_t *mu = bucket_lock(loop);
    pthread_mutex_lock(mu);
    int mine = *find(loop) != NULL && coil__loop_owned(loop);
    pthread_mutex_unlock(mu);
    return mine;
}

int coil_call_soon_threadsafe(coil_loop *loop, coil_callback fn, void *arg)
{
    if (!loop || !fn) {
        errno = EINVAL;
        return -1;
    }
    return coil__inbox_submit(loop, fn, NULL, arg, 1);
}

int coil__call_soon_threadsafe_always(coil_loop *loop, coil_callback fn,
                                      void *arg)
{
    return coil__inbox_submit(loop, fn, NULL, arg, 0);
}

int coil_loop_set_inbox_limit(coil_loop *loop, size_t limit)
{
    if (!loop || limit > LONG_MAX) {
        errno = EINVAL;
        return -1;
    }
    coil__inbox *in = lock_inbox(loop, 0);
    if (!in)
        return -1;
    atomic_store(&in->limit, (long)limit);
    pthread_mutex_unlock(in->mu);
    return 0;
}

