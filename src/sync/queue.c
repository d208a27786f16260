/*
 * src/sync/queue.c — a queue of void * items for the tasks of one loop (layer
 * 5): FIFO, LIFO or priority, bounded or not, with task_done/join and
 * shutdown, on the waiter machinery of src/sync/sync.h.
 *
 * Storage is one array of entries: a ring for FIFO and LIFO, a binary
 * heap for priority (ties broken by put order, so equal items come out
 * FIFO).  Getters wait only on an empty queue, so a put hands its item
 * straight to the first getter.  Putters wait only on a full one; a get
 * grants the first putter a reserved slot (`reserved`), so a later
 * try_put cannot take it, and a putter cancelled before it runs passes
 * its slot on.  An item handed to a getter that is cancelled before it
 * runs goes back to the front; the array always has room for every item
 * handed out (`handed`), so giving one back never allocates.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "coil.h"
#include "core/list.h"
#include "sync/sync.h"
#include "task/task.h"

enum { PUTTER = 1, GETTER };

typedef struct entry {
    void *item;
    unsigned long long seq;       /* put order: FIFO among equal priorities */
} entry;

struct coil_queue {
    coil__sync_obj obj;
    int kind;                     /* COIL_QUEUE_* */
    int shut;
    int (*cmp)(const void *, const void *);
    size_t maxsize;               /* 0: unbounded */
    entry *ring;                  /* FIFO/LIFO: a ring; PRIORITY: a heap */
    size_t cap, head, count;
    size_t reserved;              /* slots granted to putters not yet run */
    size_t handed;                /* items granted to getters not yet run */
    size_t unfinished;            /* put and not yet task_done */
    unsigned long long seq;
    coil__list getters, putters, joiners;
};
_Static_assert(offsetof(coil_queue, obj) == 0, "select.c casts to it");

static int ent_before(const coil_queue *q, const entry *a, const entry *b)
{
    int c = q->cmp(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static entry *at(coil_queue *q, size_t i)
{
    return &q->ring[(q->head + i) % q->cap];
}

/* Make room for one more item than the queue holds and has handed out:
 * every item handed to a getter can come back (the getter cancelled)
 * without allocating. */
static int ring_grow(coil_queue *q)
{
    if (q->count + q->handed < q->cap)
        return 0;
    size_t cap = q->cap ? q->cap * 2 : 16;
    while (cap <= q->count + q->handed)
        cap *= 2;
    entry *r = malloc(cap * sizeof *r);
    if (!r) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < q->count; i++)
        r[i] = *at(q, i);
    free(q->ring);
    q->ring = r;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static void heap_up(coil_queue *q, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_before(q, &q->ring[i], &q->ring[p]))
            break;
        entry t = q->ring[i];
        q->ring[i] = q->ring[p];
        q->ring[p] = t;
        i = p;
    }
}

static void heap_down(coil_queue *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < q->count && ent_before(q, &q->ring[l], &q->ring[m]))
            m = l;
        if (l + 1 < q->count && ent_before(q, &q->ring[l + 1], &q->ring[m]))
            m = l + 1;
        if (m == i)
            return;
        entry t = q->ring[i];
        q->ring[i] = q->ring[m];
        q->ring[m] = t;
        i = m;
    }
}

/* Store e; `front` puts it where the next get takes it (an item given
 * back).  Room was made by ring_grow. */
static void store(coil_queue *q, entry e, int front)
{
    if (q->kind == COIL_QUEUE_PRIORITY) {
        q->ring[q->count] = e;    /* its old seq puts it back in place */
        heap_up(q, q->count++);
    } else if (front && q->kind == COIL_QUEUE_FIFO) {
        q->head = (q->head + q->cap - 1) % q->cap;
        q->ring[q->head] = e;
        q->count++;
    } else {
        *at(q, q->count++) = e;   /* back: LIFO's front is its back */
    }
}

static entry take(coil_queue *q)
{
    entry e;
    if (q->kind == COIL_QUEUE_PRIORITY) {
        e = q->ring[0];
        q->ring[0] = q->ring[--q->count];
        heap_down(q, 0);
    } else if (q->kind == COIL_QUEUE_LIFO) {
        e = *at(q, --q->count);
    } else {
        e = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    return e;
}

static int is_full(const coil_queue *q)
{
    return q->maxsize && q->count + q->reserved >= q->maxsize;
}

/* Give the first waiting putter a slot, if there is room. */
static void admit_putter(coil_queue *q)
{
    coil__sync_waiter *w = coil__sync_first(&q->putters);
    if (w && !is_full(q)) {
        q->reserved++;
        coil__sync_grant(w);
    }
}

/* Hand e to the first getter, or store it (front: an item given back). */
static void deliver_item(coil_queue *q, entry e, int front)
{
    coil__sync_waiter *w = coil__sync_first(&q->getters);
    if (w) {                      /* getters wait only on an empty queue */
        w->item = e.item;
        w->seq = e.seq;
        q->handed++;
        coil__sync_grant(w);
    } else {
        store(q, e, front);
    }
}

static void queue_undo(coil__sync_obj *o, coil__sync_waiter *w)
{
    coil_queue *q = (coil_queue *)o;
    if (w->kind == GETTER) {
        /* The item goes back where it was (room: see ring_grow).  A
         * bounded queue may briefly hold more than maxsize this way. */
        entry e = {w->item, w->seq};
        q->handed--;
        deliver_item(q, e, 1);
    } else if (w->kind == PUTTER) {
        q->reserved--;            /* the slot passes on */
        admit_putter(q);
    }
}

/* For a task dump: "queue 0x.. get (empty)", "queue 0x.. put (full, 8)". */
static void describe_queue(const coil__sync_obj *o, const coil__sync_waiter *w,
                           char *buf, size_t size)
{
    const coil_queue *q = (const coil_queue *)(const void *)o;
    snprintf(buf, size, "queue %p %s (%zu of %zu items)", (const void *)q,
             w->kind == GETTER ? "get" : w->kind == PUTTER ? "put" : "join",
             q->count, q->maxsize);
}

coil_queue *coil_queue_new(int kind, size_t maxsize,
                           int (*cmp)(const void *a, const void *b))
{
    if ((kind != COIL_QUEUE_FIFO && kind != COIL_QUEUE_LIFO &&
         kind != COIL_QUEUE_PRIORITY) ||
        (kind == COIL_QUEUE_PRIORITY) != (cmp != NULL)) {
        errno = EINVAL;
        return NULL;
    }
    coil_queue *q = calloc(1, sizeof *q);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    coil__sync_init(&q->obj, queue_undo, NULL);
    q->obj.describe = describe_queue;
    q->kind = kind;
    q->cmp = cmp;
    q->maxsize = maxsize;
    coil__list_init(&q->getters);
    coil__list_init(&q->putters);
    coil__list_init(&q->joiners);
    return q;
}

int coil_queue_free(coil_queue *q)
{
    if (coil__sync_check_free(q ? &q->obj : NULL) != 0)
        return -1;
    free(q->ring);
    free(q);
    return 0;
}

/* Put e now (room known).  Returns 0, or -1 with errno ENOMEM. */
static int put_now(coil_queue *q, void *item)
{
    /* Room for the item even when a getter takes it at once: if that
     * getter is cancelled, the item is stored back without allocating. */
    if (ring_grow(q) != 0)
        return -1;
    entry e = {item, q->seq++};
    q->unfinished++;
    deliver_item(q, e, 0);
    /* Handed straight to a getter, the item took no room: a granted slot
     * the caller gave up is free again, and the next putter gets it. */
    admit_putter(q);
    return 0;
}

int coil_queue_try_put(coil_queue *q, void *item)
{
    if (coil__sync_check(q ? &q->obj : NULL) != 0)
        return -1;
    if (q->shut) {
        errno = ESHUTDOWN;
        return -1;
    }
    if (is_full(q) || !coil__list_empty(&q->putters)) {
        errno = EAGAIN;
        return -1;
    }
    return put_now(q, item);
}

int coil_queue_put_until(coil_queue *q, void *item, coil_time deadline)
{
    if (coil__sync_check_task(q ? &q->obj : NULL, "coil_queue_put") != 0)
        return -1;
    if (q->shut) {
        errno = ESHUTDOWN;
        return -1;
    }
    if (!is_full(q) && coil__list_empty(&q->putters))
        return put_now(q, item);
    coil__sync_waiter w = {.obj = &q->obj, .kind = PUTTER};
    if (coil__sync_wait(&w, &q->putters, deadline) != 0)
        return -1;
    return coil__queue_put_granted(q, item);
}

int coil__queue_put_granted(coil_queue *q, void *item)
{
    q->reserved--;                /* the slot granted to us */
    int r;
    if (q->shut) {
        errno = ESHUTDOWN;
        r = -1;
    } else {
        r = put_now(q, item);
    }
    if (r != 0)
        admit_putter(q);          /* the slot was not used */
    return r;
}

int coil_queue_put(coil_queue *q, void *item)
{
    return coil_queue_put_until(q, item, -1);
}

/* Take the next item (the queue is not empty) and let a putter in. */
static void *get_now(coil_queue *q)
{
    entry e = take(q);
    admit_putter(q);
    return e.item;
}

int coil_queue_try_get(coil_queue *q, void **out)
{
    if (coil__sync_check(q ? &q->obj : NULL) != 0)
        return -1;
    if (q->count == 0) {
        errno = q->shut ? ESHUTDOWN : EAGAIN;
        return -1;
    }
    void *item = get_now(q);
    if (out)
        *out = item;
    return 0;
}

int coil_queue_get_until(coil_queue *q, void **out, coil_time deadline)
{
    if (coil__sync_check_task(q ? &q->obj : NULL, "coil_queue_get") != 0)
        return -1;
    void *item;
    if (q->count > 0) {
        item = get_now(q);
    } else if (q->shut) {
        errno = ESHUTDOWN;
        return -1;
    } else {
        coil__sync_waiter w = {.obj = &q->obj, .kind = GETTER};
        if (coil__sync_wait(&w, &q->getters, deadline) != 0)
            return -1;
        item = coil__queue_took_item(q, &w);
    }
    if (out)
        *out = item;
    return 0;
}

void *coil__queue_took_item(coil_queue *q, coil__sync_waiter *w)
{
    q->handed--;
    return w->item;
}

coil__list *coil__queue_waitlist(coil_queue *q, coil__sync_waiter *w,
                                 int put)
{
    w->obj = &q->obj;
    w->kind = put ? PUTTER : GETTER;
    return put ? &q->putters : &q->getters;
}

/* What try_get and try_put check, without doing it: a select case that
 * is ready now is performed at once, and one that is not waits, as the
 * plain calls do (getters only on an empty queue, putters only behind a
 * full one). */
int coil__queue_can_get(const coil_queue *q)
{
    return q->count > 0 || q->shut;
}

int coil__queue_can_put(const coil_queue *q)
{
    return q->shut || (!is_full(q) && coil__list_empty(&q->putters));
}

int coil_queue_get(coil_queue *q, void **out)
{
    return coil_queue_get_until(q, out, -1);
}

int coil_queue_size(const coil_queue *q)
{
    if (!q) {
        errno = EINVAL;
        return -1;
    }
    return q->count > INT_MAX ? INT_MAX : (int)q->count;
}

int coil_queue_task_done(coil_queue *q)
{
    if (coil__sync_check(q ? &q->obj : NULL) != 0)
        return -1;
    if (q->unfinished == 0) {
        errno = EINVAL;
        return -1;
    }
    if (--q->unfinished == 0) {
        coil__sync_waiter *w;
        while ((w = coil__sync_first(&q->joiners)))
            coil__sync_grant(w);
    }
    return 0;
}

int coil_queue_join_until(coil_queue *q, coil_time deadline)
{
    if (coil__sync_check_task(q ? &q->obj : NULL, "coil_queue_join") != 0)
        return -1;
    if (q->unfinished == 0)
        return 0;
    coil__sync_waiter w = {.obj = &q->obj};
    return coil__sync_wait(&w, &q->joiners, deadline);
}

int coil_queue_join(coil_queue *q)
{
    return coil_queue_join_until(q, -1);
}

static void shut_out(coil__list *list)
{
    coil__sync_waiter *w;
    while ((w = coil__sync_first(list)))
        coil__sync_serve(w, COIL__W_SHUTDOWN);
}

int coil_queue_shutdown(coil_queue *q)
{
    if (coil__sync_check(q ? &q->obj : NULL) != 0)
        return -1;
    q->shut = 1;
    shut_out(&q->putters);
    shut_out(&q->getters);        /* they wait only on an empty queue */
    return 0;
}
