/*
 * src/task/census.c — how deep the tasks of each function go, in debug
 * mode, so that stack sizes can be chosen from data.
 *
 * Instead of painting each stack at spawn (a write to every page, which
 * commits the whole stack), the census asks the kernel which pages of an
 * ended task's stack are resident (mincore): stacks are committed lazily,
 * so the lowest resident page is the deepest the task reached, to within
 * a page.  In debug mode the pages are then given back (MADV_DONTNEED),
 * so that the next task on a pooled or kept stack starts from nothing.
 * The lowest page is left out of both: a canary may live there.  Release
 * builds run none of this unless COIL_DEBUG is on (t->debug).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loop/debug.h"
#include "task/census.h"

enum { SLOTS = 256 };

typedef struct entry {
    const char *fn;           /* the spawn's fn name: a string for ever */
    size_t deepest, size;
    unsigned long tasks;
    int warned;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry table[SLOTS];    /* open addressing by fn's address */

/* Bytes from the top of st down to its lowest resident page. */
static size_t depth_of(const coil__stack *st, size_t page)
{
    size_t pages = st->size / page;
    unsigned char small[256], *vec = pages <= sizeof small ? small
                                                           : malloc(pages);
    size_t depth = 0;
    if (vec && mincore(st->lo, st->size, vec) == 0)
        for (size_t i = 1; i < pages; i++)
            if (vec[i] & 1) {
                depth = st->size - i * page;
                break;
            }
    if (vec != small)
        free(vec);
    return depth;
}

static entry *slot_for(const char *fn)
{
    size_t h = ((uintptr_t)fn >> 3) % SLOTS;
    for (size_t i = 0; i < SLOTS; i++) {
        entry *e = &table[(h + i) % SLOTS];
        if (e->fn == fn || !e->fn)
            return e;
    }
    return NULL;              /* more functions than slots: not counted */
}

static void format_kib(char *buf, size_t size, size_t bytes)
{
    snprintf(buf, size, "%.1f KiB", (double)bytes / 1024.0);
}

void coil__census_record(const char *fn, const coil__stack *st)
{
    if (!st->lo || !fn)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t depth = depth_of(st, page);
    if (st->size > 2 * page)
        madvise(st->lo + page, st->size - 2 * page, MADV_DONTNEED);
    pthread_mutex_lock(&lock);
    entry *e = slot_for(fn);
    int warn = 0;
    if (e) {
        e->fn = fn;
        e->tasks++;
        if (depth > e->deepest)
            e->deepest = depth;
        e->size = st->size;
        warn = !e->warned && depth * 10 >= st->size * 9;
        e->warned |= warn;
    }
    pthread_mutex_unlock(&lock);
    if (warn) {
        char used[32], of[32];
        format_kib(used, sizeof used, depth);
        format_kib(of, sizeof of, st->size);
        coil__debug_report("stack census: a task of %s reached %s of its %s "
                           "stack, within 10%% of overflowing: give it a "
                           "bigger one (coil_task_attr.stack_size, or "
                           "COIL_STACK_SIZE)", fn, used, of);
    }
}

void coil__census_print(FILE *out)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < SLOTS; i++) {
        const entry *e = &table[i];
        if (!e->fn)
            continue;
        char used[32], of[32];
        format_kib(used, sizeof used, e->deepest);
        format_kib(of, sizeof of, e->size);
        fprintf(out, "coil: stack census: %s: %s of %s deepest in %lu "
                "task%s\n", e->fn, used, of, e->tasks,
                e->tasks == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&lock);
}
