/*
 * src/hook/rmutex.c — which task holds a recursive mutex.
 *
 * glibc grants a recursive mutex again to the thread that owns it: in a
 * thread, that is the code that took it, one level down.  With tasks, the
 * owner thread runs many: a task that locks a recursive mutex another
 * task of its thread holds, parked inside its critical section, would be
 * let in beside it.  So for each recursive mutex a task of this thread
 * takes, the thread keeps a note: the mutex, the task, and the mutex's
 * count before the task took it (code below the loop — main before
 * coil_run — may hold it already).  The task holds it while the mutex's
 * owner is this thread and its count is above that base; the hooked
 * unlock drops the note as the count returns to the base, before the
 * unlock (after it, the mutex may already be freed by another thread).
 *
 * lock.c asks here when a task tries a recursive mutex: held by another
 * task of the thread, it is EBUSY, and the task parks as for any mutex
 * this thread holds.  At most HOLDERS notes per thread: a task that
 * takes more recursive mutexes than that at once gets glibc's answer for
 * the rest (docs/hooks.md).  Robust, priority-inheriting and
 * priority-protected recursive mutexes are glibc's as they are.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "hook.h"

enum { HOLDERS = 16 };

typedef struct {
    pthread_mutex_t *mutex;
    coil_task *task;
    unsigned base;                /* the count before the task took it */
} holder;

static __thread holder holders[HOLDERS];
__thread int coil__rmutex_notes;  /* holders in use */

int coil__rmutex_is_recursive(pthread_mutex_t *m)
{
    int kind = __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED);
    return (kind & 127) == PTHREAD_MUTEX_RECURSIVE_NP;
}

static int owned_here(pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == gettid();
}

static unsigned count_of(pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__count, __ATOMIC_RELAXED);
}

static holder *find(pthread_mutex_t *m)
{
    for (int i = 0; i < coil__rmutex_notes; i++)
        if (holders[i].mutex == m)
            return &holders[i];
    return NULL;
}

static void forget(holder *h)
{
    *h = holders[--coil__rmutex_notes];
}

/* The task of this thread that holds m, or NULL: none does (a stale note,
 * left by a cond wait's unlock, is dropped). */
static holder *holding_task(pthread_mutex_t *m)
{
    holder *h = find(m);
    if (h && (!owned_here(m) || count_of(m) <= h->base)) {
        forget(h);
        h = NULL;
    }
    return h;
}

void coil__rmutex_taken(pthread_mutex_t *m, unsigned base)
{
    holder *h = find(m);                  /* a stale note: replace it */
    if (!h && coil__rmutex_notes < HOLDERS)
        h = &holders[coil__rmutex_notes++];
    if (h)
        *h = (holder){m, coil_task_current(), base};
}

int coil__rmutex_trylock(pthread_mutex_t *m)
{
    holder *h = holding_task(m);
    if (h && h->task != coil_task_current())
        return EBUSY;
    unsigned base = owned_here(m) ? count_of(m) : 0;
    int r = LIBC(pthread_mutex_trylock)(m);
    if (r == 0 && !h)
        coil__rmutex_taken(m, base);
    return r;
}

void coil__rmutex_unlocking(pthread_mutex_t *m)
{
    holder *h = find(m);
    if (h && owned_here(m) && count_of(m) <= h->base + 1)
        forget(h);
}
