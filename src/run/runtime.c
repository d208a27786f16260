/*
 * src/run/runtime.c — one loop per core (layer 5): N threads, each running a
 * loop of its own, and spawning onto a chosen one.
 *
 * Everything that crosses threads goes through the loops' inboxes
 * (src/loop/inbox.c) and thread-safe futures (src/thread/thread.c); this
 * file only starts, stops and joins the threads.  Tasks never migrate (see coil.h, "Runtime"): the
 * runtime picks no loop for anyone.
 *
 * Stopping without touching a freed loop.  A worker closes its loop (and
 * so frees it) soon after it sees rt->stopping, and coil_runtime_stop must
 * still call coil_loop_stop on every loop after setting that flag.  The
 * gate orders the two: stop sets the flag and stops the loops under the
 * gate's write lock, and a worker takes the read lock once before closing
 * its loop, which waits out a stop still under way.  Spawns take the read
 * lock too, so none is half-way into a loop that stop has let close: a
 * spawn sees the flag and fails, or finishes before the loop can close.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "coil.h"
#include "core/fork.h"
#include "task/task.h"

typedef struct worker {
    coil_runtime *rt;
    size_t index;
    pthread_t thread;
    int thread_made;              /* pthread_create succeeded */
    coil_loop *loop;              /* set by the worker before it reports */
} worker;

struct coil_runtime {
    size_t n;
    worker *workers;
    /* Start-up handshake: each worker reports once its loop is made. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t reported;              /* under mu */
    int start_error;              /* under mu: first worker failure */
    /* Stop versus spawns and closing loops (see the top of the file). */
    pthread_rwlock_t gate;
    atomic_int stopping;          /* written under the gate's write lock */
    sigset_t starter_mask;        /* of the thread that started the workers */
};

/* --------------------------------------------------------- the workers */

/* The runtime whose worker this thread is, if any: join's EDEADLK. */
static __thread coil_runtime *this_thread_runtime;

static void report(worker *w, coil_loop *loop, int err)
{
    coil_runtime *rt = w->rt;
    pthread_mutex_lock(&rt->mu);
    w->loop = loop;
    if (err && !rt->start_error)
        rt->start_error = err;
    rt->reported++;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

/* Run the loop until the runtime stops.  A coil_loop_stop from elsewhere
 * only ends one run.  A failed poll does not heal: it stops the whole
 * runtime (the loop may not close while the others run on, or a later
 * coil_runtime_stop would touch it freed). */
static void run_until_stopped(coil_runtime *rt, coil_loop *loop)
{
    while (!atomic_load(&rt->stopping))
        if (coil_loop_run_forever(loop) != 0)
            coil_runtime_stop(rt);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    coil_runtime *rt = w->rt;
    this_thread_runtime = rt;
    coil__fork_unblock_since(&rt->starter_mask);    /* core/fork.h */
    char name[16];
    snprintf(name, sizeof name, "coil-loop-%zu", w->index);
    pthread_setname_np(pthread_self(), name);
    coil_loop *loop = coil_loop_new();
    report(w, loop, loop ? 0 : errno);
    if (!loop)
        return NULL;
    run_until_stopped(rt, loop);
    coil__loop_shutdown(loop);
    /* Wait out a coil_runtime_stop that may still be about to stop this
     * loop: only then may it be freed. */
    pthread_rwlock_rdlock(&rt->gate);
    pthread_rwlock_unlock(&rt->gate);
    coil_loop_close(loop);
    return NULL;
}

/* ------------------------------------------------------------ starting */

/* The CPUs the calling thread may run on. */
static void allowed_cpus(cpu_set_t *set)
{
    if (sched_getaffinity(0, sizeof *set, set) != 0) {
        CPU_ZERO(set);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long c = 0; c < (n > 0 ? n : 1) && c < CPU_SETSIZE; c++)
            CPU_SET((int)c, set);
    }
}

/* The i-th CPU of set, counting round it again when i is past its end. */
static int nth_cpu(const cpu_set_t *set, size_t i)
{
    size_t count = (size_t)CPU_COUNT(set);
    size_t want = count ? i % count : 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, set) && want-- == 0)
            return c;
    return 0;
}

/* Signals a worker leaves unblocked: the synchronous ones, which the
 * kernel delivers to the faulting thread regardless — blocked, they would
 * kill the process without the stack-overflow report. */
static void async_signals(sigset_t *set)
{
    static const int synchronous[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                      SIGTRAP, SIGSYS};
    sigfillset(set);
    for (size_t i = 0; i < sizeof synchronous / sizeof synchronous[0]; i++)
        sigdelset(set, synchronous[i]);
}

/* Start worker w's thread, pinned if asked.  Returns 0 or an errno. */
static int start_worker(worker *w, unsigned flags, const cpu_set_t *cpus)
{
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    if (flags & COIL_RUNTIME_PIN) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(nth_cpu(cpus, w->index), &one);
        err = pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    }
    if (!err)
        err = pthread_create(&w->thread, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    w->thread_made = err == 0;
    return err;
}

static void free_runtime(coil_runtime *rt)
{
    pthread_rwlock_destroy(&rt->gate);
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mu);
    free(rt->workers);
    free(rt);
}

static coil_runtime *new_runtime(size_t n)
{
    coil_runtime *rt = calloc(1, sizeof *rt);
    worker *ws = calloc(n, sizeof *ws);
    if (!rt || !ws) {
        free(rt);
        free(ws);
        errno = ENOMEM;
        return NULL;
    }
    rt->n = n;
    rt->workers = ws;
    for (size_t i = 0; i < n; i++) {
        ws[i].rt = rt;
        ws[i].index = i;
    }
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    /* Writers first: a stream of spawns must not hold a stop off. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&rt->gate, &ra);
    pthread_rwlockattr_destroy(&ra);
    atomic_init(&rt->stopping, 0);
    return rt;
}

/* Start every worker and wait until each has reported.  Returns 0, or the
 * first errno (a thread that would not start, or a loop not made). */
static int start_all(coil_runtime *rt, unsigned flags)
{
    cpu_set_t cpus;
    allowed_cpus(&cpus);
    sigset_t blocked, old;
    async_signals(&blocked);
    pthread_sigmask(SIG_BLOCK, &blocked, &old);   /* inherited */
    rt->starter_mask = old;
    coil__fork_program_mask(&rt->starter_mask);
    size_t made;
    int err = 0;
    for (made = 0; made < rt->n; made++)
        if ((err = start_worker(&rt->workers[made], flags, &cpus)) != 0)
            break;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_lock(&rt->mu);
    while (rt->reported < made)
        pthread_cond_wait(&rt->cv, &rt->mu);
    if (!err)
        err = rt->start_error;
    pthread_mutex_unlock(&rt->mu);
    return err;
}

static size_t default_size(void)
{
    cpu_set_t cpus;
    allowed_cpus(&cpus);
    int n = CPU_COUNT(&cpus);
    return n > 0 ? (size_t)n : 1;
}

coil_runtime *coil_runtime_start(size_t nloops, const coil_runtime_attr *attr)
{
    unsigned flags = attr ? attr->flags : 0;
    if (nloops > COIL_RUNTIME_MAX_LOOPS || (flags & ~COIL_RUNTIME_PIN)) {
        errno = EINVAL;
        return NULL;
    }
    coil_runtime *rt = new_runtime(nloops ? nloops : default_size());
    if (!rt)
        return NULL;
    int err = start_all(rt, flags);
    if (err) {
        coil_runtime_stop(rt);
        coil_runtime_join(rt);
        errno = err;
        return NULL;
    }
    return rt;
}

/* ------------------------------------------------------------ using it */

size_t coil_runtime_size(const coil_runtime *rt)
{
    return rt ? rt->n : 0;
}

coil_loop *coil_runtime_loop(coil_runtime *rt, size_t i)
{
    if (!rt || i >= rt->n) {
        errno = EINVAL;
        return NULL;
    }
    if (atomic_load(&rt->stopping)) {
        errno = ESHUTDOWN;
        return NULL;
    }
    return rt->workers[i].loop;
}

coil_tfuture *coil_runtime_spawn_task(coil_runtime *rt, size_t i,
                                      coil_task_fn fn, void *arg,
                                      const char *fn_name)
{
    if (!rt || i >= rt->n || !fn) {
        errno = EINVAL;
        return NULL;
    }
    pthread_rwlock_rdlock(&rt->gate);
    coil_tfuture *tf = NULL;
    if (atomic_load(&rt->stopping))
        errno = ESHUTDOWN;
    else
        tf = coil_task_spawn_threadsafe(rt->workers[i].loop, fn, arg,
                                        fn_name);
    int err = errno;
    pthread_rwlock_unlock(&rt->gate);
    errno = err;
    return tf;
}

/* --------------------------------------------------------------- dumps */

/* One loop's dump, made by a callback on that loop's thread while the
 * caller waits: a loop's tasks may be walked only between its steps. */
typedef struct dump_job {
    coil_loop *loop;
    FILE *out;
    unsigned flags;
    int result, error, done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} dump_job;

static void dump_on_loop(void *arg)
{
    dump_job *d = arg;
    int r = coil_loop_dump_tasks(d->loop, d->out, d->flags);
    pthread_mutex_lock(&d->mu);
    d->result = r;
    d->error = errno;
    d->done = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static int dump_one(coil_loop *loop, FILE *out, unsigned flags)
{
    dump_job d = {loop, out, flags, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER,
                  PTHREAD_COND_INITIALIZER};
    if (coil_call_soon_threadsafe(loop, dump_on_loop, &d) != 0)
        return -1;
    pthread_mutex_lock(&d.mu);
    while (!d.done)
        pthread_cond_wait(&d.cv, &d.mu);
    pthread_mutex_unlock(&d.mu);
    pthread_cond_destroy(&d.cv);
    pthread_mutex_destroy(&d.mu);
    errno = d.error;
    return d.result;
}

int coil_runtime_dump_tasks(coil_runtime *rt, FILE *out, unsigned flags)
{
    if (!rt || !out) {
        errno = EINVAL;
        return -1;
    }
    if (this_thread_runtime == rt) {
        errno = EDEADLK;
        return -1;
    }
    /* The gate keeps every loop open until the last dump is back. */
    pthread_rwlock_rdlock(&rt->gate);
    int total = 0, err = 0;
    if (atomic_load(&rt->stopping))
        err = ESHUTDOWN;
    for (size_t i = 0; i < rt->n && !err; i++) {
        fprintf(out, "coil: runtime loop %zu of %zu\n", i, rt->n);
        int r = dump_one(rt->workers[i].loop, out, flags);
        if (r < 0)
            err = errno;
        else
            total += r;
    }
    pthread_rwlock_unlock(&rt->gate);
    errno = err;
    return err ? -1 : total;
}

/* ------------------------------------------------------------ stopping */

int coil_runtime_stop(coil_runtime *rt)
{
    if (!rt) {
        errno = EINVAL;
        return -1;
    }
    pthread_rwlock_wrlock(&rt->gate);
    if (!atomic_load(&rt->stopping)) {
        atomic_store(&rt->stopping, 1);
        /* No worker closes its loop before we let go of the gate. */
        for (size_t i = 0; i < rt->n; i++)
            if (rt->workers[i].loop)
                coil_loop_stop(rt->workers[i].loop);
    }
    pthread_rwlock_unlock(&rt->gate);
    return 0;
}

int coil_runtime_join(coil_runtime *rt)
{
    if (!rt) {
        errno = EINVAL;
        return -1;
    }
    if (this_thread_runtime == rt) {
        errno = EDEADLK;
        return -1;
    }
    for (size_t i = 0; i < rt->n; i++)
        if (rt->workers[i].thread_made)
            COIL__LIBC(pthread_join(rt->workers[i].thread, NULL));
    free_runtime(rt);
    return 0;
}
