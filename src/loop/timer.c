/*
 * src/loop/timer.c — a binary min-heap of timers (layer 3).
 *
 * The heap is an array: the children of slot i are 2i+1 and 2i+2, and no
 * timer is due before its parent.  A binary heap rather than a timer wheel:
 * deadlines have nanosecond resolution and any range, and a wheel would
 * round them or need a heap behind it anyway.
 */
#include <errno.h>
#include <stdlib.h>

#include "loop/timer.h"

#define MIN_CAP 64

static int earlier(const coil__timer *a, const coil__timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(coil__timer_heap *h, size_t i, coil__timer *t)
{
    h->items[i] = t;
    t->slot = i;
}

/* Move t up from slot i until its parent is due no later than it. */
static void sift_up(coil__timer_heap *h, size_t i, coil__timer *t)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

/* Move t down from slot i until no child is due before it. */
static void sift_down(coil__timer_heap *h, size_t i, coil__timer *t)
{
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && earlier(h->items[child + 1], h->items[child]))
            child++;
        if (!earlier(h->items[child], t))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, t);
}

static int resize(coil__timer_heap *h, size_t cap)
{
    coil__timer **items = realloc(h->items, cap * sizeof *items);
    if (!items)
        return -1;
    h->items = items;
    h->cap = cap;
    return 0;
}

int coil__timers_push(coil__timer_heap *h, coil__timer *t)
{
    if (h->len == h->cap &&
        resize(h, h->cap ? 2 * h->cap : MIN_CAP) != 0) {
        errno = ENOMEM;
        return -1;
    }
    t->seq = h->next_seq++;
    sift_up(h, h->len++, t);
    return 0;
}

void coil__timers_remove(coil__timer_heap *h, coil__timer *t)
{
    size_t i = t->slot;
    coil__timer *last = h->items[--h->len];
    t->slot = COIL__TIMER_NONE;
    if (last != t) {
        /* The last timer fills the hole; it may belong above or below. */
        if (i > 0 && earlier(last, h->items[(i - 1) / 2]))
            sift_up(h, i, last);
        else
            sift_down(h, i, last);
    }
    /* Give memory back after a burst (100,000 timers that all fired);
     * halving at a quarter full keeps push and remove amortised O(1). */
    if (h->cap > MIN_CAP && h->len < h->cap / 4)
        resize(h, h->cap / 2);          /* failing to shrink is harmless */
}

void coil__timers_free(coil__timer_heap *h)
{
    free(h->items);
    coil__timers_init(h);
}
