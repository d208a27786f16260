/*
 * src/task/local.c — task-local storage (layer 4): a value per task and
 * key, with a destructor run when the task ends; pthread's keys for
 * tasks, Boost.Fiber's fiber_specific_ptr, asyncio's contextvars without
 * the inheritance.
 *
 * Keys are process-wide, as pthread's are, so a library can make one
 * once and use it from the tasks of every loop: a fixed table of slots
 * under a mutex.  A key is its slot plus the slot's generation, so a key
 * that was freed never matches a value stored under the slot's next
 * owner.  Each task holds an array indexed by slot, made on its first
 * set; get and set touch only that array (they need no lock), and only
 * a task that set something pays anything when it ends.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "coil.h"
#include "task/task_impl.h"

#define SLOT_BITS 8
#define SLOTS (1u << SLOT_BITS)

/* Rounds of destructors at a task's end, for destructors that set values
 * again (PTHREAD_DESTRUCTOR_ITERATIONS is 4 as well). */
#define ROUNDS 4

typedef struct slot {
    unsigned gen;                 /* bumped when freed; 0: never used */
    int used;
    void (*destructor)(void *);
} slot;

static slot slots[SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct entry {
    coil_task_key key;            /* the key the value was set under */
    void *value;
} entry;

typedef struct coil__locals coil__locals;

struct coil__locals {
    size_t n;
    entry e[];
};

static unsigned slot_of(coil_task_key key)
{
    return key & (SLOTS - 1);
}

int coil_task_key_new(coil_task_key *key, void (*destructor)(void *))
{
    if (!key) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&slots_lock);
    for (unsigned i = 0; i < SLOTS; i++) {
        slot *s = &slots[i];
        unsigned gen = s->gen + 1;
        if (s->used || gen > (~0u >> SLOT_BITS))
            continue;             /* a slot whose generations ran out */
        s->used = 1;
        s->gen = gen;
        s->destructor = destructor;
        *key = gen << SLOT_BITS | i;
        pthread_mutex_unlock(&slots_lock);
        return 0;
    }
    pthread_mutex_unlock(&slots_lock);
    errno = EAGAIN;
    return -1;
}

/* Whether key names a live key; the caller holds slots_lock. */
static int live(coil_task_key key)
{
    const slot *s = &slots[slot_of(key)];
    return s->used && s->gen == key >> SLOT_BITS;
}

int coil_task_key_free(coil_task_key key)
{
    pthread_mutex_lock(&slots_lock);
    int ok = live(key);
    if (ok)
        slots[slot_of(key)].used = 0;
    pthread_mutex_unlock(&slots_lock);
    if (!ok) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Room in t's array for key's slot.  Returns 0, or -1 with errno
 * ENOMEM. */
static int make_room(coil_task *t, unsigned i)
{
    size_t n = t->locals ? t->locals->n : 0;
    if (i < n)
        return 0;
    size_t want = n ? n : 4;
    while (want <= i)
        want *= 2;
    coil__locals *l = realloc(t->locals, sizeof *l + want * sizeof l->e[0]);
    if (!l) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t k = n; k < want; k++)
        l->e[k] = (entry){0, NULL};
    l->n = want;
    t->locals = l;
    return 0;
}

int coil_task_local_set(coil_task_key key, void *value)
{
    coil_task *t = coil_task_current();
    if (!t) {
        errno = EPERM;
        return -1;
    }
    pthread_mutex_lock(&slots_lock);
    int ok = live(key);
    pthread_mutex_unlock(&slots_lock);
    if (!ok) {
        errno = EINVAL;
        return -1;
    }
    if (make_room(t, slot_of(key)) != 0)
        return -1;
    t->locals->e[slot_of(key)] = (entry){key, value};
    return 0;
}

void *coil_task_local_get(coil_task_key key)
{
    coil_task *t = coil_task_current();
    if (!t) {
        errno = EPERM;
        return NULL;
    }
    unsigned i = slot_of(key);
    if (!t->locals || i >= t->locals->n || t->locals->e[i].key != key)
        return NULL;
    return t->locals->e[i].value;
}

/* The destructor to run for a value stored under key, or NULL (a key
 * freed since, or made without one). */
static void (*destructor_of(coil_task_key key))(void *)
{
    pthread_mutex_lock(&slots_lock);
    void (*d)(void *) = live(key) ? slots[slot_of(key)].destructor : NULL;
    pthread_mutex_unlock(&slots_lock);
    return d;
}

/* One round: take every value out, then destroy it.  Returns whether a
 * destructor ran (it may have set values again). */
static int destroy_round(coil_task *t)
{
    int ran = 0;
    for (size_t i = 0; i < t->locals->n; i++) {
        entry e = t->locals->e[i];
        if (!e.value)
            continue;
        t->locals->e[i].value = NULL;     /* before: it may set again */
        void (*d)(void *) = destructor_of(e.key);
        if (d) {
            d(e.value);
            ran = 1;
        }
    }
    return ran;
}

void coil__task_locals_end(coil_task *t)
{
    for (int r = 0; r < ROUNDS && destroy_round(t); r++)
        ;
    free(t->locals);
    t->locals = NULL;
}
