/*
 * src/loop/debug.c — debug mode: who held the loop, who misused what.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/libc.h"
#include "loop/debug.h"

int coil__debug_env(void)
{
    /* Cached; loops on several threads may race to fill it in, with the
     * same value, so a relaxed atomic is enough. */
    static atomic_int value = -1;
    int v = atomic_load_explicit(&value, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("COIL_DEBUG");
        v = e && *e && strcmp(e, "0") != 0;
        atomic_store_explicit(&value, v, memory_order_relaxed);
    }
    return v;
}

coil_time coil__debug_slow_env(void)
{
    static _Atomic coil_time value = -1;      /* cached, as above */
    coil_time v = atomic_load_explicit(&value, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("COIL_DEBUG_SLOW_MS");
        char *end = NULL;
        double ms = e ? strtod(e, &end) : 0;
        v = e && end != e && *end == '\0' && ms > 0 && ms < 1e9
                ? (coil_time)(ms * 1e6)
                : COIL_MSEC(100);
        atomic_store_explicit(&value, v, memory_order_relaxed);
    }
    return v;
}

void coil__debug_report(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof msg - 2)
        n = (int)sizeof msg - 2;
    msg[n++] = '\n';
    /* One write: reports from several threads do not interleave. */
    ssize_t ignored = write(STDERR_FILENO, "coil: ", 6);
    ignored = write(STDERR_FILENO, msg, (size_t)n);
    (void)ignored;
}

static coil__debug_describer describers[4];
static int ndescribers;

/* From constructors, before any thread exists: no lock. */
void coil__debug_add_describer(coil__debug_describer d)
{
    if (ndescribers == (int)(sizeof describers / sizeof describers[0]))
        abort();
    describers[ndescribers++] = d;
}

void coil__debug_name_callback(coil_callback fn, void *arg, char *buf,
                               size_t size)
{
    for (int i = 0; i < ndescribers; i++)
        if (describers[i](fn, arg, buf, size))
            return;
    Dl_info info;
    if (dladdr((void *)(size_t)fn, &info) && info.dli_sname)
        snprintf(buf, size, "callback %s(%p)", info.dli_sname, arg);
    else
        snprintf(buf, size, "callback %p(%p)", (void *)(size_t)fn, arg);
}

void coil__format_duration(char *buf, size_t size, coil_time ns)
{
    if (ns >= COIL_SEC(1))
        snprintf(buf, size, "%.2f s", (double)ns / 1e9);
    else if (ns >= COIL_MSEC(1))
        snprintf(buf, size, "%lld ms", (long long)(ns / 1000000));
    else if (ns >= 1000)
        snprintf(buf, size, "%lld us", (long long)(ns / 1000));
    else
        snprintf(buf, size, "%lld ns", (long long)ns);
}

void coil__format_delay(char *buf, size_t size, coil_time delay)
{
    char d[24];
    coil__format_duration(d, sizeof d, delay < 0 ? -delay : delay);
    snprintf(buf, size, delay < 0 ? "passed %s ago" : "in %s", d);
}

void coil__format_fd_target(char *buf, size_t size, int fd)
{
    char link[32], target[128];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t t = COIL__LIBC(readlink(link, target, sizeof target - 1));
    target[t > 0 ? t : 0] = '\0';
    snprintf(buf, size, "%s%s%s", t > 0 ? " (" : "", target,
             t > 0 ? ")" : "");
}

int coil__debug_outside_task(const char *call)
{
    coil_loop *loop = coil_loop_current();
    if (coil_loop_get_debug(loop ? loop : NULL) == 1)
        coil__debug_report("%s() called outside a task%s: it must run inside "
                           "one (coil_spawn or coil_run)", call,
                           coil_coro_current()
                               ? " (from a raw coil_coro, which is not a "
                                 "task even when a task resumed it)"
                               : "");
    errno = EPERM;
    return -1;
}

#ifdef COIL_DEBUG_CHECKS
void coil__debug_check_live(unsigned magic, const char *call, const void *p)
{
    if (magic == COIL__MAGIC_LIVE)
        return;
    coil__debug_report("%s(%p): %s", call, p,
                       magic == COIL__MAGIC_DEAD
                           ? "already released (released twice?)"
                           : "not a live coil object");
    abort();
}

/* Freed objects wait here so that a second release still finds them
 * poisoned; 4096 of them at a time, per thread.  A thread's ring is freed
 * when the thread exits: its TLS goes, and LeakSanitizer would report
 * whatever the ring still held as leaked. */
static __thread void *ring[4096];
static __thread size_t next;
static __thread int ring_registered;
static pthread_once_t ring_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t ring_key;

static void ring_free_at_exit(void *unused)
{
    (void)unused;
    for (size_t i = 0; i < sizeof ring / sizeof ring[0]; i++) {
        free(ring[i]);
        ring[i] = NULL;
    }
}

static void make_ring_key(void)
{
    pthread_key_create(&ring_key, ring_free_at_exit);
}

void coil__debug_quarantine(void *p)
{
    if (!ring_registered) {
        ring_registered = 1;
        pthread_once(&ring_key_once, make_ring_key);
        pthread_setspecific(ring_key, ring);
    }
    free(ring[next]);
    ring[next] = p;
    next = (next + 1) % (sizeof ring / sizeof ring[0]);
}
#endif
