/*
 * bench/coil_bench.c — coil's numbers, in one run.
 *
 *   switch                 ns per one-way context switch: coil, coil_nofp,
 *                          Boost.Context's fcontext, glibc ucontext, and two
 *                          threads handing off through semaphores;
 *   create_destroy_pooled  ns per coil_coro_create + resume to completion +
 *   create_destroy_fresh   coil_coro_destroy, with the stack pool and without;
 *   scale                  a million parked coroutines: RSS bytes each, and
 *                          ns per create + first resume.
 *
 * Each measurement is warmed up once, then repeated, its repetitions
 * interleaved with those of the rows it is compared with (see measure());
 * the table gives the median and the minimum per operation over the
 * repetitions.  The median is the figure to quote, the minimum shows how
 * much of it is noise.
 *
 * Pinning: the single-thread benches run pinned to the CPU the program
 * started on (sched_setaffinity), so that a migration halfway through a
 * repetition cannot add a cold cache to it.  The pthread bench runs with the
 * original mask: pinning both threads to one CPU would measure the
 * scheduler's same-CPU switch, not the cross-CPU wake-up a thread-per-task
 * program pays.  --no-pin turns pinning off.
 *
 * Exit status: 0 if everything ran, 1 if any bench failed (reported in the
 * table and the JSON), 2 on bad usage.
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#define ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#define ARCH_NAME "aarch64"
#else
#define ARCH_NAME "unknown"
#endif

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- options */

typedef struct options {
    long switches;     /* per repetition, for the fast switch impls */
    long reps;
    long creates;      /* pooled create/destroy cycles per repetition */
    long scale;        /* coroutines in the scale run */
    int pin;
    const char *only;  /* NULL, "switch", "create" or "scale" */
    const char *json;
} options;

/* Fresh create/destroy maps and unmaps a stack per cycle, ~20x the pooled
 * cost: it gets this fraction of the cycles, for a similar run time. */
#define FRESH_DIVISOR 20

static void usage(FILE *f)
{
    fprintf(f,
"usage: coil_bench [options]\n"
"  --switches N   switches per repetition (default 10000000; ucontext runs\n"
"                 N/10 and pthread N/50, as the table shows)\n"
"  --reps N       repetitions per measurement (default 11)\n"
"  --creates N    pooled create/destroy cycles per repetition (default\n"
"                 1000000; the fresh variant runs N/%d)\n"
"  --scale N      coroutines in the scale run (default 1000000)\n"
"  --quick        tiny counts: a smoke test that takes a second or two\n"
"  --only WHAT    run only switch, create or scale\n"
"  --no-pin       do not pin the single-thread benches to one CPU\n"
"  --json FILE    also write the results as a JSON array to FILE\n",
            FRESH_DIVISOR);
}

static int parse_count(const char *opt, const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (s == NULL || errno != 0 || end == s || *end != '\0' || v < 1) {
        fprintf(stderr, "coil_bench: %s needs a positive number\n", opt);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    /* Explicit counts win over --quick whatever the order, so remember
     * them apart and apply the defaults last. */
    long switches = 0, reps = 0, creates = 0, scale = 0;
    int quick = 0;

    o->pin = 1;
    o->only = NULL;
    o->json = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--quick") == 0) {
            quick = 1;
            continue;
        }
        if (strcmp(a, "--no-pin") == 0) {
            o->pin = 0;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }

        /* Every other option takes the next argument as its value. */
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        long *count = NULL;
        if (strcmp(a, "--switches") == 0)
            count = &switches;
        else if (strcmp(a, "--reps") == 0)
            count = &reps;
        else if (strcmp(a, "--creates") == 0)
            count = &creates;
        else if (strcmp(a, "--scale") == 0)
            count = &scale;
        else if (strcmp(a, "--json") == 0 && v != NULL)
            o->json = v;
        else if (strcmp(a, "--only") == 0 && v != NULL &&
                 (strcmp(v, "switch") == 0 || strcmp(v, "create") == 0 ||
                  strcmp(v, "scale") == 0))
            o->only = v;
        else {
            fprintf(stderr, "coil_bench: bad option '%s%s%s'\n", a,
                    v ? " " : "", v ? v : "");
            usage(stderr);
            return -1;
        }
        if (count != NULL && parse_count(a, v, count) != 0) {
            usage(stderr);
            return -1;
        }
    }
    o->switches = switches ? switches : quick ? 20000 : 10000000;
    o->reps = reps ? reps : 11;   /* medians of a noisy VM settle by ~11 */
    o->creates = creates ? creates : quick ? 2000 : 1000000;
    o->scale = scale ? scale : quick ? 2000 : 1000000;
    return 0;
}

static int wanted(const options *o, const char *what)
{
    return o->only == NULL || strcmp(o->only, what) == 0;
}

/* ---------------------------------------------------------------- pinning */

static cpu_set_t orig_mask;
static int have_orig_mask;
static int pin_cpu = -1;

static void pin_setup(int want)
{
    have_orig_mask = sched_getaffinity(0, sizeof orig_mask, &orig_mask) == 0;
    if (want && have_orig_mask)
        pin_cpu = sched_getcpu();
}

/* Pin the calling thread (threads it creates inherit the mask) or give it
 * its original mask back. */
static void pin(int on)
{
    if (pin_cpu < 0)
        return;
    if (on) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(pin_cpu, &one);
        sched_setaffinity(0, sizeof one, &one);
    } else {
        sched_setaffinity(0, sizeof orig_mask, &orig_mask);
    }
}

/* ---------------------------------------------------------------- results */

typedef struct row {
    const char *bench, *impl;
    long count;            /* operations per repetition */
    long reps;
    int ok;                /* median_ns and min_ns are valid */
    double median_ns, min_ns;
    double ratio;          /* median / boost_fcontext's; < 0: none */
    double rss_per_coro;   /* scale only; < 0: none */
    char error[BENCH_ERR_MAX];
} row;

#define MAX_ROWS 16
static row rows[MAX_ROWS];
static size_t nrows;

static row *new_row(const char *bench, const char *impl, long count,
                    long reps)
{
    row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    r->bench = bench;
    r->impl = impl;
    r->count = count;
    r->reps = reps;
    r->ratio = -1;
    r->rss_per_coro = -1;
    return r;
}

static const row *find_row(const char *bench, const char *impl)
{
    for (size_t i = 0; i < nrows; i++)
        if (strcmp(rows[i].bench, bench) == 0 &&
            strcmp(rows[i].impl, impl) == 0 && rows[i].ok)
            return &rows[i];
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One repetition of some bench: `count` operations, elapsed time out. */
typedef int (*rep_fn)(const void *ctx, long count, uint64_t *elapsed_ns,
                      char *err);

/* One row being measured. */
typedef struct job {
    row *r;               /* r->count operations per rep, r->reps reps */
    rep_fn fn;
    const void *ctx;
    int threaded;         /* runs with the original CPU mask */
    double *per_op;       /* ns per operation, one sample per rep */
} job;

static int job_rep(job *j, long count, uint64_t *ns)
{
    pin(!j->threaded);
    int rc = j->fn(j->ctx, count, ns, j->r->error);
    pin(1);
    return rc;
}

/* Measure a group of rows together: warm each up, then run repetition i of
 * every row before repetition i + 1 of any.  On a shared or virtual machine
 * the speed drifts (clock, neighbours); interleaving spreads the drift over
 * all rows alike instead of favouring whichever ran in a quiet moment, and
 * the ratios between rows are what this bench is for.  Fills in each row's
 * median and minimum per operation, or its error. */
static void measure(job *jobs, size_t n)
{
    uint64_t ns;

    for (size_t k = 0; k < n; k++) {
        job *j = &jobs[k];
        j->per_op = malloc((size_t)j->r->reps * sizeof *j->per_op);
        if (j->per_op == NULL) {
            snprintf(j->r->error, sizeof j->r->error, "out of memory");
            continue;
        }
        /* A tenth of a repetition first: lazy PLT binding, the first page
         * faults on stacks and pools, cold caches and predictors would
         * otherwise all land in repetition one. */
        long warm = j->r->count / 10 < 2 ? 2 : j->r->count / 10;
        job_rep(j, warm, &ns);
    }

    for (long i = 0; i < jobs[0].r->reps; i++) {
        for (size_t k = 0; k < n; k++) {
            job *j = &jobs[k];
            if (j->r->error[0])
                continue;       /* failed: keep its first message */
            if (job_rep(j, j->r->count, &ns) == 0)
                j->per_op[i] = (double)ns / (double)j->r->count;
        }
    }

    for (size_t k = 0; k < n; k++) {
        job *j = &jobs[k];
        row *r = j->r;
        if (!r->error[0]) {
            qsort(j->per_op, (size_t)r->reps, sizeof *j->per_op, cmp_double);
            r->min_ns = j->per_op[0];
            r->median_ns = r->reps % 2 ? j->per_op[r->reps / 2]
                : (j->per_op[r->reps / 2 - 1] + j->per_op[r->reps / 2]) / 2;
            r->ok = 1;
        }
        free(j->per_op);
        j->per_op = NULL;
    }
}

/* ---------------------------------------------------------------- the table */

static void print_header(const options *o)
{
    coil_guard_mode g = coil_stack_guard_mode();
    printf("coil_bench: %s, %ld repetitions, coil stack guard: %s\n",
           ARCH_NAME, o->reps,
           g == COIL_GUARD_MADVISE ? "madvise"
           : g == COIL_GUARD_MPROTECT ? "mprotect" : "canary");
    if (pin_cpu >= 0)
        printf("single-thread benches pinned to CPU %d\n", pin_cpu);
    else
        printf("not pinned\n");
    if (wanted(o, "switch") && !bench_have_boost)
        printf("boost_fcontext: skipped (built without libboost_context)\n");
    printf("\n%-22s %-15s %10s %10s %10s %9s %11s\n", "bench", "impl",
           "count/rep", "median ns", "min ns", "vs boost", "RSS B/coro");
    fflush(stdout);
}

static void print_row(const row *r)
{
    printf("%-22s %-15s %10ld ", r->bench, r->impl, r->count);
    if (r->ok) {
        printf("%10.2f %10.2f", r->median_ns, r->min_ns);
        if (r->ratio >= 0)
            printf(" %8.2fx", r->ratio);
        else
            printf(" %9s", "-");
        if (r->rss_per_coro >= 0)
            printf(" %11.1f", r->rss_per_coro);
    }
    if (r->error[0])
        printf("%sFAILED: %s", r->ok ? "\n    " : "", r->error);
    printf("\n");
    fflush(stdout);
}

/* ---------------------------------------------------------------- switch */

static int switch_rep(const void *ctx, long count, uint64_t *ns, char *err)
{
    const switch_impl *impl = ctx;
    return impl->run(count & ~1L, ns, err);
}

static void run_switch(const options *o)
{
    job jobs[MAX_ROWS];
    size_t n = bench_switch_impl_count;

    for (size_t i = 0; i < n; i++) {
        const switch_impl *impl = &bench_switch_impls[i];
        long count = o->switches / impl->divisor;
        count = count < 2 ? 2 : count & ~1L;     /* whole round trips */
        jobs[i] = (job){new_row("switch", impl->name, count, o->reps),
                        switch_rep, impl, impl->threaded, NULL};
    }
    measure(jobs, n);

    const row *boost = find_row("switch", "boost_fcontext");
    for (size_t i = 0; i < n; i++) {
        row *r = jobs[i].r;
        if (r->ok && boost != NULL)
            r->ratio = r->median_ns / boost->median_ns;
        print_row(r);
    }
}

/* ---------------------------------------------------------------- create */

static int create_rep(const void *ctx, long count, uint64_t *ns, char *err)
{
    return bench_create_destroy(*(const int *)ctx, count, ns, err);
}

static void run_create(const options *o)
{
    static const int pooled = 0, fresh = 1;
    long nfresh = o->creates / FRESH_DIVISOR ? o->creates / FRESH_DIVISOR : 1;

    job jobs[2] = {
        {new_row("create_destroy_pooled", "coil", o->creates, o->reps),
         create_rep, &pooled, 0, NULL},
        {new_row("create_destroy_fresh", "coil", nfresh, o->reps),
         create_rep, &fresh, 0, NULL},
    };
    measure(jobs, 2);
    print_row(jobs[0].r);
    print_row(jobs[1].r);
}

/* ---------------------------------------------------------------- scale */

static void run_scale(const options *o)
{
    scale_result s;
    row *r = new_row("scale", "coil", o->scale, 1);
    int rc = bench_scale(o->scale, &s, r->error);

    if (s.reached > 0) {
        /* One repetition: the median is the minimum. */
        r->ok = 1;
        r->median_ns = r->min_ns = (double)s.elapsed_ns / (double)s.reached;
        r->rss_per_coro = (double)(s.hwm_after_kb - s.rss_before_kb) *
                          1024.0 / (double)s.reached;
    }
    if (rc != 0 && r->error[0] == '\0')
        snprintf(r->error, sizeof r->error, "failed");
    print_row(r);
    if (s.reached > 0) {
        printf("    %ld coroutines parked: VmRSS before %ld kB, VmHWM after "
               "%ld kB%s\n", s.reached, s.rss_before_kb, s.hwm_after_kb,
               s.hwm_reset ? "" : " (VmHWM could not be reset: may be high)");
        if (s.pte_delta_kb >= 0)
            printf("    page tables +%ld kB (%.1f B per coroutine, not part "
                   "of RSS)\n", s.pte_delta_kb,
                   (double)s.pte_delta_kb * 1024.0 / (double)s.reached);
        printf("    destroy: %.1f ns per coroutine\n",
               (double)s.destroy_ns / (double)s.reached);
    }
    fflush(stdout);
}

/* ---------------------------------------------------------------- targets */

/* The project's goals, checked against what was just measured.  Printed
 * for the reader; nothing here changes a number or the exit status. */
static void print_targets(void)
{
    const row *coil = find_row("switch", "coil");
    const row *nofp = find_row("switch", "coil_nofp");
    const row *boost = find_row("switch", "boost_fcontext");
    const row *uc = find_row("switch", "ucontext");
    const row *scale = find_row("scale", "coil");

    if (!coil && !scale)
        return;
    printf("\ntargets (medians):\n");
    if (coil && boost)
        printf("  coil / boost_fcontext       %7.3fx   target <= 1.0x   %s\n",
               coil->ratio, coil->ratio <= 1.0 ? "met" : "MISSED");
    if (nofp && boost)
        printf("  coil_nofp / boost_fcontext  %7.3fx   target <= 0.6x   %s\n",
               nofp->ratio, nofp->ratio <= 0.6 ? "met" : "MISSED");
    if (coil && uc) {
        double speedup = uc->median_ns / coil->median_ns;
        printf("  ucontext / coil             %7.1fx   target >= 20x    %s\n",
               speedup, speedup >= 20 ? "met" : "MISSED");
    }
    if (scale && scale->rss_per_coro >= 0)
        printf("  RSS per parked coroutine    %7.0f B  target <= 6144 B %s%s\n",
               scale->rss_per_coro,
               scale->rss_per_coro <= 6144 ? "met" : "MISSED",
               scale->count >= 1000000 ? "" : " (run had < 1M coroutines)");
}

/* ---------------------------------------------------------------- JSON */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* One object per row: {"bench", "impl", "median_ns", "min_ns"}, plus
 * "rss_bytes_per_coroutine" for scale.  A failed row keeps the same keys
 * (null where nothing was measured) and adds "error". */
static int write_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "coil_bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "[\n");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        fprintf(f, "  {\"bench\": ");
        json_string(f, r->bench);
        fprintf(f, ", \"impl\": ");
        json_string(f, r->impl);
        if (r->ok)
            fprintf(f, ", \"median_ns\": %.3f, \"min_ns\": %.3f",
                    r->median_ns, r->min_ns);
        else
            fprintf(f, ", \"median_ns\": null, \"min_ns\": null");
        if (strcmp(r->bench, "scale") == 0) {
            if (r->rss_per_coro >= 0)
                fprintf(f, ", \"rss_bytes_per_coroutine\": %.1f",
                        r->rss_per_coro);
            else
                fprintf(f, ", \"rss_bytes_per_coroutine\": null");
        }
        if (r->error[0]) {
            fprintf(f, ", \"error\": ");
            json_string(f, r->error);
        }
        fprintf(f, "}%s\n", i + 1 < nrows ? "," : "");
    }
    fprintf(f, "]\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "coil_bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    options o;
    int status = 0;

    if (parse_options(argc, argv, &o) != 0)
        return 2;

    pin_setup(o.pin);
    pin(1);
    print_header(&o);

    if (wanted(&o, "switch"))
        run_switch(&o);
    if (wanted(&o, "create"))
        run_create(&o);
    /* Last: it leaves a million stacks' worth of address space in the
     * thread's pool, which nothing after it should have to share. */
    if (wanted(&o, "scale"))
        run_scale(&o);

    print_targets();

    for (size_t i = 0; i < nrows; i++)
        if (rows[i].error[0])
            status = 1;
    if (o.json != NULL) {
        if (write_json(o.json) != 0)
            status = 1;
        else
            printf("\nJSON written to %s\n", o.json);
    }
    return status;
}
