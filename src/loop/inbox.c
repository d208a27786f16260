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
 * under a read lock, and works with the loop's inbox (and poller) only
 * while holding that lock.  coil_loop_close takes the write lock to
 * unregister, so once it has it no submitter is inside, and none can get
 * in: the inbox and the loop can then be freed.  The lock prefers writers,
 * so a stream of submitters cannot keep a close waiting.
 *
 * The inbox is a mutex-protected FIFO of items (one lock hold per
 * submission, a short one).  A submitter that finds it empty wakes the
 * loop (eventfd, coalesced): a loop found asleep then sees the item; one
 * that is running drains at its next iteration, and whoever made the inbox
 * non-empty again after a drain wakes it again, so no item waits for an
 * unrelated wake-up.
 *
 * What a drain takes goes to the ready queue as one work item, which runs
 * the callbacks in arrival order: each item is touched once by the loop,
 * not once to queue it and once more to run it.  (In debug mode each goes
 * alone, so that the slow-callback report times and names each one.)  A
 * run item goes back to the submitters for reuse at the next drain, in the
 * lock hold the drain takes anyway, up to SPARE_MAX of them: items malloc'd
 * on one thread and freed on another were most of a flood's cost (glibc
 * locks the allocating thread's arena for each such free).  The count of
 * items not yet run, for the limit, is kept the same way: submissions
 * counted under the lock, runs in a word only the loop writes, which the
 * submitters read only when the limit may be near.
  */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "coil.h"
#include "core/list.h"
#include "loop/inbox.h"
#include "loop/loop.h"
#include "loop/poll.h"

struct coil__inbox {
    coil_loop *loop;              /* registry key */
    coil__poll *poll;
    struct coil__inbox *bucket_next;
    pthread_mutex_t mu;
    coil__inbox_item *head, **tail;           /* under mu */
    coil__inbox_item *spare;      /* run items to reuse: under mu */
    size_t nspare;                /* under mu */
    long submitted;               /* ever: under mu */
    long ran_seen;                /* a value `ran` had: under mu */
    atomic_int pending;           /* head != NULL, readable without mu */
    atomic_long limit;            /* user submissions refused beyond: 0 none */
    char apart[64];               /* the loop's words off the above's line */
    /* The loop thread's own: */
    atomic_long ran;              /* ever run: the loop writes */
    coil__list posted;            /* drained batches, not yet run */
    coil__inbox_item *used, **used_tail;      /* run, for the spares */
    size_t nused;
    int ever;                     /* something was drained once */
};

/* The default bound on callbacks submitted to a loop and not yet run: an
 * coil__inbox_item is ~80 bytes, so a loop that cannot keep up holds at
 * most ~80 MiB of them before submitters hear EAGAIN. */
#define INBOX_LIMIT_DEFAULT (1L << 20)

/* Run items kept for reuse: enough for the bursts a loop that keeps up
 * sees (80 KiB); a flood's excess is freed. */
#define SPARE_MAX 1024

#define BUCKETS 64

static pthread_rwlock_t registry_lock =
    PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static coil__inbox *registry[BUCKETS];

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

/* Registry lock held (read or write). */
static coil__inbox **find(const coil_loop *loop)
{
    coil__inbox **pp = &registry[bucket_of(loop)];
    while (*pp && (*pp)->loop != loop)
        pp = &(*pp)->bucket_next;
    return pp;
}

coil__inbox *coil__inbox_open(coil_loop *loop, coil__poll *poll)
{
    coil__inbox *in = calloc(1, sizeof *in);
    if (!in) {
        errno = ENOMEM;
        return NULL;
    }
    in->loop = loop;
    in->poll = poll;
    pthread_mutex_init(&in->mu, NULL);
    in->tail = &in->head;
    in->used_tail = &in->used;
    atomic_init(&in->pending, 0);
    atomic_init(&in->ran, 0);
    atomic_init(&in->limit, INBOX_LIMIT_DEFAULT);
    coil__list_init(&in->posted);
    pthread_rwlock_wrlock(&registry_lock);
    coil__inbox **pp = find(loop);
    /* A stale entry for the same address cannot exist: close removes it
     * before the memory can be reused. */
    in->bucket_next = *pp;
    *pp = in;
    pthread_rwlock_unlock(&registry_lock);
    return in;
}

/* A run item of the submitters' (not embedded in its arg): kept for the
 * spares, handed over at the next drain. */
static void used_push(coil__inbox *in, coil__inbox_item *it)
{
    it->next = NULL;
    *in->used_tail = it;
    in->used_tail = &it->next;
    in->nused++;
}

static void free_chain(coil__inbox_item *it)
{
    for (coil__inbox_item *next; it; it = next) {
        next = it->next;
        free(it);
    }
}

/* A drained batch: its callbacks in arrival order.  Each item is done
 * with before its callback runs: an embedded one may be freed by it. */
static void batch_run(void *arg)
{
    coil__inbox_item *it = arg;
    coil__inbox *in = it->box;
    long ran = atomic_load_explicit(&in->ran, memory_order_relaxed);
    coil__list_remove(&it->posted);
    for (coil__inbox_item *next; it; it = next) {
        next = it->next;
        coil_callback fn = it->fn;
        void *fn_arg = it->arg;
        if (!it->embedded)
            used_push(in, it);
        atomic_store_explicit(&in->ran, ++ran, memory_order_relaxed);
        fn(fn_arg);
    }
}

/* The loop closed first: drop(arg) instead of fn(arg).  An embedded item
 * goes with its arg, which drop frees. */
static void item_drop(coil__inbox_item *it)
{
    int own = !it->embedded;
    if (it->drop)
        it->drop(it->arg);
    if (own)
        free(it);
}

static void drop_chain(coil__inbox_item *it)
{
    for (coil__inbox_item *next; it; it = next) {
        next = it->next;
        item_drop(it);
    }
}

void coil__inbox_close(coil__inbox *in)
{
    if (!in)
        return;
    pthread_rwlock_wrlock(&registry_lock);
    coil__inbox **pp = find(in->loop);
    if (*pp == in)
        *pp = in->bucket_next;
    pthread_rwlock_unlock(&registry_lock);
    /* Nobody else can reach in now.  Drops may post to other loops. */
    while (!coil__list_empty(&in->posted)) {
        coil__inbox_item *it =
            coil__container_of(in->posted.next, coil__inbox_item, posted);
        coil__list_remove(&it->posted);
        drop_chain(it);
    }
    drop_chain(in->head);
    free_chain(in->spare);
    free_chain(in->used);
    pthread_mutex_destroy(&in->mu);
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

/* Queue a drained chain (it, it->next, ...) as one work item. */
static void post_batch(coil__inbox *in, coil_loop *loop, coil__inbox_item *it)
{
    coil__work_init(&it->work, batch_run, it);
    coil__list_push_back(&in->posted, &it->posted);
    coil__loop_post(loop, &it->work);
}

void coil__inbox_drain(coil__inbox *in, coil_loop *loop)
{
    if (!coil__inbox_pending(in))
        return;
    int keep = in->nused > 0 && in->nused <= SPARE_MAX;
    pthread_mutex_lock(&in->mu);
    coil__inbox_item *it = in->head;
    in->head = NULL;
    in->tail = &in->head;
    atomic_store_explicit(&in->pending, 0, memory_order_relaxed);
    if (keep && in->nspare + in->nused <= SPARE_MAX) {
        *in->used_tail = in->spare;
        in->spare = in->used;
        in->nspare += in->nused;
        in->used = NULL;
    }
    pthread_mutex_unlock(&in->mu);
    free_chain(in->used);             /* more than the spares keep */
    in->used = NULL;
    in->used_tail = &in->used;
    in->nused = 0;
    in->ever = 1;
    if (!coil_loop_get_debug(loop)) {
        post_batch(in, loop, it);
        return;
    }
    for (coil__inbox_item *next; it; it = next) {   /* each timed alone */
        next = it->next;
        it->next = NULL;
        post_batch(in, loop, it);
    }
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

/* Append it (fn, drop, arg set) to the live inbox in: mu held, released
 * here.  Wakes the loop if the inbox was empty. */
static int append(coil__inbox *in, coil__inbox_item *it, int bounded)
{
    if (bounded && over_limit(in)) {
        pthread_mutex_unlock(&in->mu);
        errno = EAGAIN;
        return -1;
    }
    it->box = in;
    it->next = NULL;
    in->submitted++;
    int was_empty = in->head == NULL;
    *in->tail = it;
    in->tail = &it->next;
    if (was_empty)
        atomic_store_explicit(&in->pending, 1, memory_order_release);
    pthread_mutex_unlock(&in->mu);
    if (was_empty && !coil__loop_owned(in->loop))  /* alive: registry lock */
        coil__poll_wake(in->poll);
    return 0;
}

/* The live inbox of loop, registry lock held; NULL with errno ESHUTDOWN. */
static coil__inbox *live_inbox(const coil_loop *loop)
{
    coil__inbox *in = *find(loop);
    if (!in)
        errno = ESHUTDOWN;
    return in;
}

int coil__inbox_submit(coil_loop *loop, coil_callback fn, coil_callback drop,
                       void *arg, int bounded)
{
    int rc = -1;
    pthread_rwlock_rdlock(&registry_lock);
    coil__inbox *in = live_inbox(loop);
    if (!in)
        goto out;
    pthread_mutex_lock(&in->mu);
    coil__inbox_item *it = in->spare;
    if (it) {
        in->spare = it->next;
        in->nspare--;
    } else {
        pthread_mutex_unlock(&in->mu);        /* no spare: malloc outside */
        if (!(it = malloc(sizeof *it))) {
            errno = ENOMEM;
            goto out;
        }
        pthread_mutex_lock(&in->mu);
    }
    *it = (coil__inbox_item){.fn = fn, .drop = drop, .arg = arg};
    if ((rc = append(in, it, bounded)) != 0) {
        int e = errno;
        free(it);
        errno = e;
    }
out:
    pthread_rwlock_unlock(&registry_lock);
    return rc;
}

int coil__inbox_post(coil_loop *loop, coil__inbox_item *it, int bounded)
{
    int rc = -1;
    pthread_rwlock_rdlock(&registry_lock);
    coil__inbox *in = live_inbox(loop);
    if (in) {
        pthread_mutex_lock(&in->mu);
        rc = append(in, it, bounded);
    }
    pthread_rwlock_unlock(&registry_lock);
    return rc;
}

int coil__inbox_stop(coil_loop *loop)
{
    pthread_rwlock_rdlock(&registry_lock);
    coil__inbox *in = *find(loop);
    if (in) {
        coil__loop_mark_stop(loop);
        if (!coil__loop_owned(loop))
            coil__poll_wake(in->poll);
    }
    pthread_rwlock_unlock(&registry_lock);
    if (!in) {
        errno = ESHUTDOWN;
        return -1;
    }
    return 0;
}

int coil__inbox_loop_is_mine(const coil_loop *loop)
{
    pthread_rwlock_rdlock(&registry_lock);
    int mine = *find(loop) != NULL && coil__loop_owned(loop);
    pthread_rwlock_unlock(&registry_lock);
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
    pthread_rwlock_rdlock(&registry_lock);
    coil__inbox *in = *find(loop);
    if (in)
        atomic_store(&in->limit, (long)limit);
    pthread_rwlock_unlock(&registry_lock);
    if (!in) {
        errno = ESHUTDOWN;
        return -1;
    }
    return 0;
}

