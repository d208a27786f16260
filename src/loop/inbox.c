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
 * can then be freed.  The bucket locks are spin locks (spin.h), released
 * by a plain store: a submission holds one for a few stores, and the
 * eventfd write that wakes a sleeping loop (once per look, not per
 * callback) is the longest hold there is.
 *
 * The inbox is a FIFO of slots (fn, drop, arg) in chunks of CHUNK_SLOTS.
 * Submitters append under that lock, one short hold each; the loop reads
 * without it.  A slot is published by its fn, stored last with release,
 * and a chunk by the link to it (the one before's `next`, or `first` when
 * the inbox was empty), so the loop follows links and reads slots with
 * acquire loads and never waits for a submitter.  Why: a round trip
 * between threads is a chain of cache misses, each ~0.24 us on the VM the
 * benches run on, and the loop taking the bucket lock to drain put two or
 * three more in the chain (the lock line, contended by the submitter that
 * had just kicked it, and the chunk's header): a callback from a plain
 * thread answered through a spinning flag took 1.4 us, the floor for two
 * CPUs being 0.48.  The loop takes the lock only to hand the chunks it has
 * read past back for reuse, once per CHUNK_SLOTS callbacks.
 *
 * Waking.  `pending` set is the loop's promise to look at the inbox
 * again before it sleeps.  A submitter that finds it clear sets it and
 * wakes the loop (eventfd, coalesced; a flag's store if the loop is
 * spinning); one that finds it set does nothing more.  The loop takes the
 * promise back by clearing the flag, with a full fence before it looks
 * for slots, as the submitter has between publishing its slot and reading
 * `pending`: either the loop sees the slot or the submitter sees the flag
 * clear and wakes it.  When it does that depends on what it waits for:
 *   - Usually at each look (coil__inbox_drain): a flood's submitters then
 *     kick the loop once per look and find their slots' lines to
 *     themselves while the loop spins on the kick.
 *   - While a task of the loop waits for a reply from another thread (the
 *     executor's, counted by coil__inbox_expect_replies), only just before
 *     it sleeps (coil__inbox_may_sleep, which looks again after clearing,
 *     and keeps the promise if something came).  Its spin before sleeping
 *     watches the slots themselves (coil__inbox_arrived), and the pool
 *     thread that answers finds the flag set: the reply moves the slot's
 *     line alone, not the flag's and the poller's spin word as well.  A
 *     coil_to_thread round trip, fastest of a run: 1.05-1.85 -> 0.84-0.92
 *     us.  (Watching the slots in every spin slowed a one-thread flood
 *     of coil_call_soon_threadsafe by a sixth: the loop read each slot's
 *     line as it was being filled.)
 *
 * Watched replies.  A reply the loop knows is coming (an executor job's
 * result: coil__inbox_add_reply) need not come through a slot at all: the
 * loop's spin watches the reply's own state word, and the sender that
 * finds it watched only changes that word.  It is one line moved, the one
 * the sender wrote the result in, where a post also takes the bucket lock
 * and writes a slot whose line the loop holds, with a full fence between.
 * A reply is watched only while the loop spins (from watch to unwatch),
 * and one atomic word decides who delivers it:
 *   IDLE     not watched: a send makes it POSTED and the sender posts it;
 *   WATCHED  the loop spins on it: a send makes it SEEN, and the loop,
 *            having seen SEEN, runs it at its next drain;
 * the loop's unwatch turns WATCHED back into IDLE, and one that turned
 * SEEN first is its to run.  Only MAX_WATCHED replies at a time are
 * watched (a spin reads each one's line); the rest are posted as before.
 *
 * Running.  A look that finds a slot queues the inbox's one work item
 * (coil__inbox_run), which runs what it finds in order, at most RUN_MAX
 * callbacks before it queues itself again behind the loop's other work.
 * The count of callbacks not yet run, for the limit, is kept apart:
 * submissions counted under the lock, runs in a word only the loop
 * writes, which submitters read only when the limit may be near.
 */
#include <errno.h>
#include <limits.h>
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
#include "loop/spin.h"

/* Three cache lines, each written from one side as far as it can be:
 * every line both a submitter and the loop write moves between their CPUs
 * at each hand-off, so such words share one line and the rest keep off
 * it. */
struct coil__inbox {
    /* Submitters', and the loop's when it clears pending or gives back
     * chunks. */
    _Alignas(64) coil_loop *loop; /* registry key (read-only) */
    coil__spin_lock *mu;          /* its registry bucket's lock (read-only) */
    coil__inbox_chunk *tail;      /* the last chunk linked, or NULL: mu */
    coil__inbox_chunk *_Atomic first; /* linked when tail was NULL: mu */
    coil__inbox_chunk *spare;     /* chunks to reuse: mu */
    long submitted;               /* ever: mu */
    atomic_long limit;            /* user submissions refused beyond: 0 none */
    atomic_int pending;           /* set by a submitter that must wake us */
    unsigned tail_n;              /* tail's slots handed out: mu */
    /* Submitters' (and registry walks'); the loop's only when it gives
     * chunks back, once per CHUNK_SLOTS callbacks. */
    _Alignas(64) coil__poll *poll;
    struct coil__inbox *bucket_next;
    long ran_seen;                /* a value `ran` had: mu */
    unsigned nspare;              /* mu (no room on the line above) */
    /* The loop thread's own. */
    _Alignas(64) atomic_long ran; /* ever run: the loop writes */
    coil__inbox_chunk *rd;        /* the chunk it reads, or NULL: first's */
    unsigned rd_i;                /* the next slot of rd to read */
    coil__inbox_chunk *used;      /* read past, to give back as spares */
    coil__work run;               /* coil__inbox_run, queued or not */
    int ever;                     /* a submitter asked for a look once */
    unsigned replies_due;         /* coil__inbox_expect_replies */
    int reply_here;               /* coil__inbox_note_reply */
    coil__list replies;           /* coil__inbox_add_reply's, up to */
    unsigned nreplies;            /* MAX_WATCHED */
    coil__list came;              /* SEEN, taken off replies: to run */
};

/* A watched reply's state ("Watched replies" above). */
enum { REPLY_IDLE, REPLY_WATCHED, REPLY_SEEN, REPLY_POSTED };
#define MAX_WATCHED 8

/* The default bound on callbacks submitted to a loop and not yet run: one
 * takes ~27 bytes (its slot and its share of a chunk), so a loop that
 * cannot keep up holds at most ~27 MiB of them before submitters hear
 * EAGAIN. */
#define INBOX_LIMIT_DEFAULT (1L << 20)

/* Slots per chunk, and drained chunks kept for reuse: a loop that keeps
 * up reuses the same few; a flood's excess is freed (about 50 KiB kept). */
#define CHUNK_SLOTS 32
#define SPARE_CHUNKS 64
/* Callbacks one run of the inbox's work item takes before it lets the
 * loop's other work go first: a flood from other threads cannot hold the
 * loop's own tasks back for longer than that. */
#define RUN_MAX 1024

/* A chunk the inbox allocates: its slots follow the header. */
typedef struct chunk {
    coil__inbox_chunk c;
    coil__inbox_slot slots[CHUNK_SLOTS];
} chunk;

#define BUCKETS 64

static coil__inbox *registry[BUCKETS];

/* Each bucket's lock, on a cache line of its own. */
static struct {
    _Alignas(64) coil__spin_lock mu;
} bucket_locks[BUCKETS];

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

static coil__spin_lock *bucket_lock(const coil_loop *loop)
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
    atomic_init(&in->first, NULL);
    atomic_init(&in->pending, 0);
    atomic_init(&in->ran, 0);
    atomic_init(&in->limit, INBOX_LIMIT_DEFAULT);
    coil__list_init(&in->replies);
    coil__list_init(&in->came);
    coil__work_init(&in->run, coil__inbox_run, in);
    coil__spin_lock_take(in->mu);
    coil__inbox **pp = find(loop);
    /* A stale entry for the same address cannot exist: close removes it
     * before the memory can be reused. */
    in->bucket_next = *pp;
    *pp = in;
    coil__spin_lock_drop(in->mu);
    return in;
}

static void free_chain(coil__inbox_chunk *c)
{
    for (coil__inbox_chunk *next; c; c = next) {
        next = atomic_load_explicit(&c->next, memory_order_relaxed);
        free(c);
    }
}

/* ------------------------------------------------- the loop's reading */

/* A slot's fn: non-NULL once it is published. */
static coil_callback published(const coil__inbox_slot *slot)
{
    return __atomic_load_n(&slot->fn, __ATOMIC_ACQUIRE);
}

/* The chunk the loop reads, taking up first if it had none; NULL if the
 * inbox is empty. */
static coil__inbox_chunk *reading(coil__inbox *in)
{
    if (!in->rd) {
        in->rd = atomic_load_explicit(&in->first, memory_order_acquire);
        in->rd_i = 0;
    }
    return in->rd;
}

/* The loop read past the last slot of c, an embedded chunk, which its
 * callback may free once it runs: unlink it now, under the lock, since
 * submitters may still link to it if it is the tail. */
static void leave_embedded(coil__inbox *in, coil__inbox_chunk *c)
{
    coil__spin_lock_take(in->mu);
    coil__inbox_chunk *next = atomic_load_explicit(&c->next,
                                                   memory_order_relaxed);
    if (!next) {                      /* the tail: the inbox is empty */
        in->tail = NULL;
        atomic_store_explicit(&in->first, NULL, memory_order_relaxed);
    }
    coil__spin_lock_drop(in->mu);
    in->rd = next;
    in->rd_i = 0;
}

/* The next published slot, its place taken (and, in a chunk of the
 * inbox's, cleared for reuse): 1 with *out filled, or 0 if none is
 * published yet.  Chunks read past go to `used`. */
static int next_slot(coil__inbox *in, coil__inbox_slot *out)
{
    coil__inbox_chunk *c;
    while ((c = reading(in)) != NULL) {
        unsigned i = in->rd_i;
        coil__inbox_slot *slot = i < c->cap ? &c->slot[i] : NULL;
        coil_callback fn = slot ? published(slot) : NULL;
        if (!fn) {
            /* Not published, or past this chunk's end: it has one only
             * once a later chunk is linked (its count is final then). */
            coil__inbox_chunk *next =
                atomic_load_explicit(&c->next, memory_order_acquire);
            if (!next)
                return 0;
            if (i < c->n) {           /* filled before the link */
                fn = published(slot);
            } else {
                in->rd = next;
                in->rd_i = 0;
                c->next = in->used;   /* no submitter reaches c now */
                in->used = c;
                continue;
            }
        }
        *out = (coil__inbox_slot){fn, slot->drop, slot->arg};
        in->rd_i = i + 1;
        if (c->embedded)
            leave_embedded(in, c);    /* before fn: fn may free c */
        else
            __atomic_store_n(&slot->fn, NULL, __ATOMIC_RELAXED);
        return 1;
    }
    return 0;
}

/* Whether a slot is published that the loop has not taken: peeks as
 * next_slot reads, taking nothing. */
static int readable(coil__inbox *in)
{
    coil__inbox_chunk *c = reading(in);
    if (!c)
        return 0;
    if (in->rd_i < c->cap && published(&c->slot[in->rd_i]))
        return 1;
    return atomic_load_explicit(&c->next, memory_order_acquire) != NULL;
}

/* Give the chunks read past back to the submitters (up to SPARE_CHUNKS;
 * the rest are freed). */
static void give_back(coil__inbox *in)
{
    coil__inbox_chunk *keep = in->used;
    in->used = NULL;
    coil__spin_lock_take(in->mu);
    while (keep && in->nspare < SPARE_CHUNKS) {
        coil__inbox_chunk *u = keep;
        keep = atomic_load_explicit(&u->next, memory_order_relaxed);
        atomic_store_explicit(&u->next, in->spare, memory_order_relaxed);
        in->spare = u;
        in->nspare++;
    }
    coil__spin_lock_drop(in->mu);
    free_chain(keep);
}

/* The inbox's work item: run published callbacks in order, each through
 * coil__loop_call (so debug mode times each), at most RUN_MAX of them;
 * then queue itself again if more are there. */
void coil__inbox_run(void *arg)
{
    coil__inbox *in = arg;
    long ran = atomic_load_explicit(&in->ran, memory_order_relaxed);
    coil__inbox_slot s;
    int n = 0;
    while (n < RUN_MAX && next_slot(in, &s)) {
        atomic_store_explicit(&in->ran, ++ran, memory_order_relaxed);
        n++;
        coil__loop_call(in->loop, s.fn, s.arg);
    }
    if (in->used)
        give_back(in);
    if (n == RUN_MAX && readable(in))
        coil__loop_post(in->loop, &in->run);
}

void coil__inbox_close(coil__inbox *in)
{
    if (!in)
        return;
    coil__spin_lock_take(in->mu);
    coil__inbox **pp = find(in->loop);
    if (*pp == in)
        *pp = in->bucket_next;
    coil__spin_lock_drop(in->mu);
    /* Nobody else can reach in now, and every slot handed out is filled.
     * drop(arg) instead of fn(arg) for each not run.  Drops may post to
     * other loops. */
    coil__inbox_slot s;
    while (next_slot(in, &s))
        if (s.drop)
            s.drop(s.arg);            /* an embedded one's frees its chunk */
    coil__inbox_chunk *c = in->rd;    /* the tail, read to its end */
    if (c && !c->embedded)
        free(c);
    free_chain(in->spare);
    free_chain(in->used);
    free(in);
}

int coil__inbox_has_work(coil__inbox *in)
{
    if (!in)
        return 0;
    if (!coil__list_empty(&in->came))
        return 1;
    return atomic_load_explicit(&in->pending, memory_order_acquire) &&
           (!in->replies_due || readable(in));
}

/* ------------------------------------------------- watched replies */

static coil__reply *reply_of(coil__list *n)
{
    return coil__container_of(n, coil__reply, link);
}

static int reply_state(coil__reply *r)
{
    return atomic_load_explicit(&r->state, memory_order_acquire);
}

void coil__inbox_add_reply(coil__inbox *in, coil__reply *r,
                           coil_callback fn, void *arg)
{
    r->fn = fn;
    r->arg = arg;
    atomic_store_explicit(&r->state, REPLY_IDLE, memory_order_relaxed);
    coil__list_init(&r->link);
    if (in->nreplies < MAX_WATCHED) {
        coil__list_push_back(&in->replies, &r->link);
        in->nreplies++;
    }
}

void coil__inbox_drop_reply(coil__inbox *in, coil__reply *r)
{
    /* Not listed (never added, or run), or SEEN: then it is on came,
     * where it stays, to run as a posted reply would. */
    if (coil__list_empty(&r->link) || reply_state(r) == REPLY_SEEN)
        return;
    coil__list_remove(&r->link);
    in->nreplies--;
}

int coil__reply_send(coil__reply *r)
{
    /* The loop may start or stop watching meanwhile: the compare-and-
     * exchange settles which came first. */
    int now = atomic_load_explicit(&r->state, memory_order_relaxed);
    for (;;) {
        int to = now == REPLY_WATCHED ? REPLY_SEEN : REPLY_POSTED;
        if (atomic_compare_exchange_weak_explicit(&r->state, &now, to,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed))
            return to == REPLY_SEEN;
    }
}

/* Start watching the listed replies not sent yet. */
static void watch_replies(coil__inbox *in)
{
    coil__list_each(n, &in->replies) {
        int idle = REPLY_IDLE;
        atomic_compare_exchange_strong_explicit(
            &reply_of(n)->state, &idle, REPLY_WATCHED,
            memory_order_relaxed, memory_order_relaxed);
    }
}

static int replies_came(coil__inbox *in)
{
    coil__list_each(n, &in->replies)
        if (reply_state(reply_of(n)) == REPLY_SEEN)
            return 1;
    return 0;
}

int coil__inbox_unwatch(void *arg)
{
    coil__inbox *in = arg;
    int came = 0;
    for (coil__list *n = in->replies.next, *next; n != &in->replies;
         n = next) {
        next = n->next;
        coil__reply *r = reply_of(n);
        int watched = REPLY_WATCHED;
        if (atomic_compare_exchange_strong_explicit(
                &r->state, &watched, REPLY_IDLE, memory_order_acquire,
                memory_order_acquire) ||
            watched != REPLY_SEEN)
            continue;                 /* IDLE again, or POSTED: a post */
        coil__list_remove(n);         /* SEEN: the loop's to run */
        in->nreplies--;
        coil__list_push_back(&in->came, n);
        came++;
    }
    return came;
}

/* Run the replies the spin caught, in the order it took them. */
static void run_came(coil__inbox *in, coil_loop *loop)
{
    while (!coil__list_empty(&in->came)) {
        coil__list *n = in->came.next;
        coil__list_remove(n);
        coil__reply *r = reply_of(n);
        coil__loop_call(loop, r->fn, r->arg);
    }
}

int coil__inbox_arrived(void *arg)
{
    coil__inbox *in = arg;
    return readable(in) || (in->nreplies && replies_came(in));
}

int coil__inbox_watch(void *arg)
{
    coil__inbox *in = arg;
    if (in->replies_due && in->reply_here)
        return COIL__POLL_NO_SPIN;    /* may_sleep takes the promise back */
    if (!in->replies_due)
        return 0;                     /* drain took the promise back */
    if (in->nreplies)
        watch_replies(in);
    return 1;
}

void coil__inbox_note_reply(coil__inbox *in, int here)
{
    in->reply_here = here;
}

void coil__inbox_expect_replies(coil__inbox *in, int delta)
{
    in->replies_due += (unsigned)delta;
}

/* Clear pending, with the full fence that pairs with a submitter's
 * between publishing its slot and reading pending ("Waking" above). */
static void take_promise_back(coil__inbox *in)
{
    atomic_store_explicit(&in->pending, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}

int coil__inbox_may_sleep(void *arg)
{
    coil__inbox *in = arg;
    if (!in->replies_due ||       /* drain took the promise back */
        !atomic_load_explicit(&in->pending, memory_order_relaxed))
        return 1;                 /* a submitter that comes wakes the loop */
    take_promise_back(in);
    if (!readable(in))
        return 1;
    atomic_store_explicit(&in->pending, 1, memory_order_relaxed);
    return 0;
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
    if (!coil__list_empty(&in->came))
        run_came(in, loop);
    /* Clear: nothing arrived since the loop last took its promise back,
     * or a submitter is about to wake it. */
    if (!atomic_load_explicit(&in->pending, memory_order_acquire))
        return;
    if (!in->replies_due)
        take_promise_back(in);
    in->ever = 1;
    if (!coil__work_queued(&in->run) && readable(in))
        coil__loop_post(loop, &in->run);
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

/* c becomes the tail (its slots are handed out from tail_n on); the old
 * tail's count is final from now on, and the loop may read past it.
 * mu held. */
static void link_chunk(coil__inbox *in, coil__inbox_chunk *c)
{
    atomic_store_explicit(&c->next, NULL, memory_order_relaxed);
    if (in->tail) {
        in->tail->n = in->tail_n;
        atomic_store_explicit(&in->tail->next, c, memory_order_release);
    } else {
        atomic_store_explicit(&in->first, c, memory_order_release);
    }
    in->tail = c;
    in->tail_n = 0;
}

static void chunk_init(chunk *k)
{
    k->c.n = 0;
    k->c.cap = CHUNK_SLOTS;
    k->c.embedded = 0;
    k->c.slot = k->slots;
    for (unsigned i = 0; i < CHUNK_SLOTS; i++)
        __atomic_store_n(&k->slots[i].fn, NULL, __ATOMIC_RELAXED);
}

/* A free slot at the tail, taking a spare chunk if the tail is full; NULL
 * if that needs a new chunk.  mu held. */
static coil__inbox_slot *room(coil__inbox *in)
{
    coil__inbox_chunk *t = in->tail;
    if (t && in->tail_n < t->cap)
        return &t->slot[in->tail_n++];
    if (!(t = in->spare))
        return NULL;
    in->spare = atomic_load_explicit(&t->next, memory_order_relaxed);
    in->nspare--;
    link_chunk(in, t);
    return &t->slot[in->tail_n++];
}

/* Publish a slot handed out by room (fn stored last, with release), count
 * it, wake the loop if it may not look again by itself (under mu, which
 * keeps the loop alive: once per look, and only a flag's store if the loop
 * is spinning), release mu. */
static void publish(coil__inbox *in, coil__inbox_slot *slot,
                    const coil__inbox_slot *what)
{
    slot->drop = what->drop;
    slot->arg = what->arg;
    __atomic_store_n(&slot->fn, what->fn, __ATOMIC_RELEASE);
    in->submitted++;
    atomic_thread_fence(memory_order_seq_cst);   /* the header's "Waking" */
    if (!atomic_load_explicit(&in->pending, memory_order_relaxed)) {
        atomic_store_explicit(&in->pending, 1, memory_order_release);
        if (!coil__loop_owned(in->loop))
            coil__poll_wake(in->poll);
    }
    coil__spin_lock_drop(in->mu);
}

/* The live inbox of loop, with its lock taken; NULL with errno
 * ESHUTDOWN, or EAGAIN if bounded and over the limit. */
static coil__inbox *lock_inbox(const coil_loop *loop, int bounded)
{
    coil__spin_lock *mu = bucket_lock(loop);
    coil__spin_lock_take(mu);
    coil__inbox *in = *find(loop);
    if (!in || (bounded && over_limit(in))) {
        coil__spin_lock_drop(mu);
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
        coil__spin_lock_drop(in->mu);
        chunk *k = malloc(sizeof *k);
        if (!k) {
            errno = ENOMEM;
            return -1;
        }
        chunk_init(k);
        if (!(in = lock_inbox(loop, bounded))) {
            free(k);
            return -1;
        }
        /* The tail may have room again (another submitter linked a
         * spare): it is closed at what it has, and the loop reads past. */
        link_chunk(in, &k->c);
        slot = &k->c.slot[in->tail_n++];
    }
    publish(in, slot, &(coil__inbox_slot){fn, drop, arg});
    return 0;
}

int coil__inbox_post(coil_loop *loop, coil__inbox_item *it, int bounded)
{
    coil__inbox *in = lock_inbox(loop, bounded);
    if (!in)
        return -1;
    coil__inbox_slot *slot = room(in);
    if (!slot) {                  /* no memory is needed: its own chunk */
        it->chunk = (coil__inbox_chunk){.cap = 1, .embedded = 1,
                                        .slot = &it->own};
        __atomic_store_n(&it->own.fn, NULL, __ATOMIC_RELAXED);
        link_chunk(in, &it->chunk);
        slot = &it->own;
        in->tail_n = 1;
    }
    publish(in, slot, &it->one);
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
    coil__spin_lock_drop(in->mu);
    return 0;
}

int coil__inbox_loop_is_mine(const coil_loop *loop)
{
    /* A thread that never made a loop owns none: no need for the bucket
     * lock, which every submitter to that bucket takes. */
    if (!coil__thread_made_a_loop())
        return 0;
    coil__spin_lock *mu = bucket_lock(loop);
    coil__spin_lock_take(mu);
    int mine = *find(loop) != NULL && coil__loop_owned(loop);
    coil__spin_lock_drop(mu);
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
    coil__spin_lock_drop(in->mu);
    return 0;
}

