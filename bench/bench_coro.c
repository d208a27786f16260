/*
 * bench/bench_coro.c — what a coil coroutine costs to make and to keep.
 *
 * create/destroy: the full life of a coroutine that does nothing: create,
 * one resume that runs it to completion, destroy.  With the thread's stack
 * pool this is mostly bookkeeping; with COIL_CORO_UNPOOLED every cycle maps,
 * guards, faults in and unmaps a stack, which is what the pool saves.
 *
 * scale: a million coroutines parked in coil_coro_yield() at once, each
 * having run far enough to touch its stack.  The number that matters is the
 * memory each one holds; the time per create + first resume comes along.
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- create */

static void *co_return(void *arg)
{
    return arg;
}

int bench_create_destroy(int unpooled, long n, uint64_t *elapsed_ns, char *err)
{
    coil_coro_attr attr = {0};
    attr.flags = unpooled ? COIL_CORO_UNPOOLED : 0;
    const coil_coro_attr *ap = unpooled ? &attr : NULL;

    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        /* A distinct non-NULL value each time, checked on the way out:
         * proof that the body really ran, every cycle. */
        void *arg = (void *)(uintptr_t)(i + 1), *out = NULL;
        coil_coro *co = coil_coro_create(ap, co_return, arg);
        if (co == NULL) {
            snprintf(err, BENCH_ERR_MAX, "coil_coro_create failed after %ld "
                     "cycles: %s", i, strerror(errno));
            return -1;
        }
        if (coil_coro_resume(co, NULL, &out) != 0 || out != arg) {
            snprintf(err, BENCH_ERR_MAX, "coil_coro_resume failed at cycle "
                     "%ld: %s", i, out != arg ? "wrong result" :
                     strerror(errno));
            coil_coro_destroy(co);
            return -1;
        }
        if (coil_coro_destroy(co) != 0) {
            snprintf(err, BENCH_ERR_MAX, "coil_coro_destroy failed at cycle "
                     "%ld: %s", i, strerror(errno));
            return -1;
        }
    }
    *elapsed_ns = bench_now_ns() - t0;
    return 0;
}

/* ---------------------------------------------------------------- scale */

typedef struct mem_status {
    long rss_kb, hwm_kb, pte_kb;
} mem_status;

/* Pull one "Key:   123 kB" field out of /proc/self/status text; -1 if
 * absent. */
static long status_field(const char *text, const char *key)
{
    size_t len = strlen(key);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, key, len) == 0 && p[len] == ':')
            return strtol(p + len + 1, NULL, 10);
    }
    return -1;
}

/* Read with open/read rather than stdio: fopen() mallocs a buffer, and this
 * runs on both sides of the measurement. */
static int read_mem_status(mem_status *m)
{
    char buf[8192];
    ssize_t got = 0, r;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (got < (ssize_t)sizeof buf - 1 &&
           (r = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += r;
    close(fd);
    buf[got] = '\0';
    m->rss_kb = status_field(buf, "VmRSS");
    m->hwm_kb = status_field(buf, "VmHWM");
    m->pte_kb = status_field(buf, "VmPTE");
    return m->rss_kb < 0 || m->hwm_kb < 0 ? -1 : 0;
}

/* Earlier benches (or the allocator's arenas) may have pushed the peak
 * above today's RSS; writing 5 to clear_refs resets VmHWM to the current
 * RSS (Linux >= 4.0) so the peak we read belongs to this run.  Best effort:
 * without it the figure can only come out too high, never too low. */
static int reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

/* Parks in yield on its first resume, so its stack has a live frame. */
static void *co_park(void *arg)
{
    coil_coro_yield(arg, NULL);
    return NULL;
}

int bench_scale(long n, scale_result *r, char *err)
{
    int failed = 0;

    memset(r, 0, sizeof *r);
    r->requested = n;

    /* The handle array is the bench's memory, not coil's: allocate and
     * touch it before the baseline reading so it is not charged to the
     * coroutines (8 bytes each would be). */
    coil_coro **cos = malloc((size_t)n * sizeof *cos);
    if (cos == NULL) {
        snprintf(err, BENCH_ERR_MAX, "no memory for %ld handles", n);
        return -1;
    }
    memset(cos, 0, (size_t)n * sizeof *cos);

    mem_status before, after;
    r->hwm_reset = reset_hwm();
    if (read_mem_status(&before) != 0) {
        snprintf(err, BENCH_ERR_MAX, "cannot read /proc/self/status");
        free(cos);
        return -1;
    }

    uint64_t t0 = bench_now_ns();
    long i;
    for (i = 0; i < n; i++) {
        void *out = NULL;
        cos[i] = coil_coro_create(NULL, co_park, cos);
        if (cos[i] == NULL) {
            int e = errno;
            snprintf(err, BENCH_ERR_MAX, "coil_coro_create failed after %ld "
                     "of %ld coroutines: errno %d (%s)", i, n, e, strerror(e));
            failed = 1;
            break;
        }
        if (coil_coro_resume(cos[i], NULL, &out) != 0 || out != cos) {
            int e = errno;
            snprintf(err, BENCH_ERR_MAX, "coil_coro_resume failed after %ld "
                     "of %ld coroutines: %s", i, n,
                     out != cos ? "did not yield" : strerror(e));
            coil_coro_destroy(cos[i]);
            cos[i] = NULL;
            failed = 1;
            break;
        }
    }
    r->elapsed_ns = bench_now_ns() - t0;
    r->reached = i;

    if (read_mem_status(&after) != 0) {
        after = before;
        if (!failed)
            snprintf(err, BENCH_ERR_MAX, "cannot read /proc/self/status");
        failed = 1;
    }
    r->rss_before_kb = before.rss_kb;
    r->hwm_after_kb = after.hwm_kb;
    r->pte_delta_kb = before.pte_kb >= 0 && after.pte_kb >= 0
                    ? after.pte_kb - before.pte_kb : -1;

    t0 = bench_now_ns();
    for (long j = 0; j < r->reached; j++) {
        if (coil_coro_destroy(cos[j]) != 0 && !failed) {
            snprintf(err, BENCH_ERR_MAX, "coil_coro_destroy failed at %ld: %s",
                     j, strerror(errno));
            failed = 1;
        }
    }
    r->destroy_ns = bench_now_ns() - t0;

    free(cos);
    return failed ? -1 : 0;
}
