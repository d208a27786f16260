/*
 * bench/bench_file.c — issue 18's file rows: 4 KiB pread()s at random
 * block-aligned offsets of a file the page cache holds, so that what is
 * timed is the path to the kernel and back, not a disk.
 *
 *   one reader   plain pread(2) on one thread, against one task calling
 *                coil_file_pread on each backend;
 *   many readers four plain threads reading at once (their throughput
 *                over both CPUs), against 64 tasks of one loop.
 *
 * coil picks its file backend once per process (COIL_FILE_BACKEND, read
 * at the first coil_file_* call), so each coil row runs in a child: this
 * program again, as `coil_bench --file-worker BACKEND TASKS COUNT PATH`,
 * which warms up, times COUNT reads and prints the JSON line the peers
 * print.  Every read is checked: a block starts with its own index.
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK = 4096, FILL_CHUNK = 1 << 20 };

static int fail_errno(char *err, const char *what, int e)
{
    snprintf(err, BENCH_ERR_MAX, "%s: %s", what, strerror(e));
    return -1;
}

/* Write a chunk of blocks, each starting with its index (8 bytes). */
static void fill_chunk(char *chunk, uint64_t first_block)
{
    for (size_t at = 0; at < FILL_CHUNK; at += BLOCK) {
        uint64_t index = first_block + at / BLOCK;
        memset(chunk + at, (int)(index & 0x7f), BLOCK);
        memcpy(chunk + at, &index, sizeof index);
    }
}

int bench_file_make(long mib, char *path, size_t size, char *err)
{
    const char *dir = getenv("TMPDIR");
    /* /var/tmp, not /tmp: a disk's page cache, where /tmp may be tmpfs. */
    snprintf(path, size, "%s/coil_bench_file.XXXXXX",
             dir && *dir ? dir : "/var/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return fail_errno(err, "mkstemp", errno);
    char *chunk = malloc(FILL_CHUNK);
    if (!chunk) {
        close(fd);
        unlink(path);
        return fail_errno(err, "malloc", ENOMEM);
    }
    int rc = 0;
    for (long i = 0; i < mib && rc == 0; i++) {
        fill_chunk(chunk, (uint64_t)i * (FILL_CHUNK / BLOCK));
        if (write(fd, chunk, FILL_CHUNK) != FILL_CHUNK)
            rc = fail_errno(err, "write", errno ? errno : ENOSPC);
    }
    /* Clean pages: no writeback in the middle of a repetition. */
    if (rc == 0 && fdatasync(fd) != 0)
        rc = fail_errno(err, "fdatasync", errno);
    free(chunk);
    close(fd);
    if (rc != 0)
        unlink(path);
    return rc;
}

/* ------------------------------------------------------------ reading */

/* A reader's random blocks: xorshift64, seeded apart per reader. */
static uint64_t next_block(uint64_t *state, uint64_t nblocks)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x % nblocks;
}

/* Whether buf holds block `index`, all of it read. */
static int block_ok(const char *buf, ssize_t n, uint64_t index)
{
    uint64_t got;
    if (n != BLOCK)
        return 0;
    memcpy(&got, buf, sizeof got);
    return got == index;
}

static int open_blocks(const char *path, uint64_t *nblocks, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return fail_errno(err, path, errno);
    if (fstat(fd, &st) != 0 || st.st_size < BLOCK) {
        close(fd);
        return fail_errno(err, "fstat (file too small?)", errno ? errno
                                                                : EINVAL);
    }
    *nblocks = (uint64_t)st.st_size / BLOCK;
    return fd;
}

/* CPU time used so far by `clock` (CLOCK_PROCESS_CPUTIME_ID: every
 * thread of the process; CLOCK_THREAD_CPUTIME_ID: the caller).  Exact,
 * where getrusage's user/system split is sampled at the tick. */
static uint64_t cpu_ns_of(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --------------------------------------------------- plain threads */

typedef struct plain_reader {
    pthread_t thread;
    int fd;
    uint64_t nblocks, seed;
    long count;
    int error;                /* errno, or EIO for a wrong block */
    uint64_t cpu_ns;          /* the thread's CPU time, when done */
} plain_reader;

static void *plain_read(void *arg)
{
    plain_reader *r = arg;
    char buf[BLOCK];
    uint64_t cpu0 = cpu_ns_of(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < r->count; i++) {
        uint64_t b = next_block(&r->seed, r->nblocks);
        ssize_t n = pread(r->fd, buf, BLOCK, (off_t)(b * BLOCK));
        if (!block_ok(buf, n, b)) {
            r->error = n < 0 ? errno : EIO;
            break;
        }
    }
    r->cpu_ns = cpu_ns_of(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    return NULL;
}

int bench_file_plain(const char *path, int nthreads, long count,
                     uint64_t *elapsed_ns, uint64_t *cpu_ns, char *err)
{
    enum { MAX_THREADS = 16 };
    plain_reader r[MAX_THREADS];
    uint64_t nblocks;
    if (nthreads < 1 || nthreads > MAX_THREADS)
        return fail_errno(err, "bench_file_plain", EINVAL);
    int fd = open_blocks(path, &nblocks, err);
    if (fd < 0)
        return -1;
    for (int i = 0; i < nthreads; i++)
        r[i] = (plain_reader){0, fd, nblocks, 0x9e3779b97f4a7c15u * (i + 1),
                              count / nthreads + (i < count % nthreads), 0, 0};
    int started = 0, rc = 0;
    uint64_t t0 = bench_now_ns();
    if (nthreads == 1) {
        plain_read(&r[0]);          /* on the calling (pinned) thread */
    } else {
        for (; started < nthreads; started++) {
            int e = pthread_create(&r[started].thread, NULL, plain_read,
                                   &r[started]);
            if (e != 0) {
                rc = fail_errno(err, "pthread_create", e);
                break;
            }
        }
        for (int i = 0; i < started; i++)
            pthread_join(r[i].thread, NULL);
    }
    *elapsed_ns = bench_now_ns() - t0;
    *cpu_ns = 0;
    for (int i = 0; i < started || (nthreads == 1 && i < 1); i++)
        *cpu_ns += r[i].cpu_ns;
    close(fd);
    for (int i = 0; i < nthreads && rc == 0; i++)
        if (r[i].error)
            rc = fail_errno(err, r[i].error == EIO ? "pread (wrong block)"
                                                   : "pread", r[i].error);
    return rc;
}

/* ------------------------------------------------------ the coil child */

typedef struct task_reads {
    int fd;
    uint64_t nblocks;
    long ntasks, count;
    int error;                /* the first failure's errno */
    const char *failed;       /* and its call */
} task_reads;

typedef struct task_reader {
    task_reads *all;
    uint64_t seed;
    long count;
} task_reader;

static void *task_read(void *arg)
{
    task_reader *r = arg;
    task_reads *all = r->all;
    char buf[BLOCK];
    for (long i = 0; i < r->count && !all->failed; i++) {
        uint64_t b = next_block(&r->seed, all->nblocks);
        ssize_t n = coil_file_pread(all->fd, buf, BLOCK, (off_t)(b * BLOCK));
        if (!block_ok(buf, n, b)) {
            all->error = n < 0 ? errno : EIO;
            all->failed = n < 0 ? "coil_file_pread"
                                : "coil_file_pread (wrong block)";
        }
    }
    return NULL;
}

/* count reads shared by all->ntasks tasks, started together. */
static int read_in_tasks(task_reads *all, long count)
{
    task_reader *r = calloc((size_t)all->ntasks, sizeof *r);
    coil_task **t = calloc((size_t)all->ntasks, sizeof *t);
    long spawned = 0;
    if (!r || !t) {
        all->error = ENOMEM;
        all->failed = "calloc";
    }
    for (; r && t && spawned < all->ntasks; spawned++) {
        long i = spawned;
        r[i] = (task_reader){all, 0x9e3779b97f4a7c15u * (uint64_t)(i + 1),
                             count / all->ntasks + (i < count % all->ntasks)};
        if (!(t[i] = coil_spawn(task_read, &r[i]))) {
            all->error = errno;
            all->failed = "coil_spawn";
            break;
        }
    }
    for (long i = 0; i < spawned; i++) {
        coil_await(coil_task_future(t[i]), NULL);
        coil_task_release(t[i]);
    }
    free(r);
    free(t);
    return all->failed ? -1 : 0;
}

static void *child_main(void *arg)
{
    task_reads *all = arg;
    long warm = all->count / 10 < all->ntasks ? all->ntasks
                                               : all->count / 10;
    if (read_in_tasks(all, warm) != 0)
        return NULL;
    uint64_t cpu0 = cpu_ns_of(CLOCK_PROCESS_CPUTIME_ID), t0 = bench_now_ns();
    if (read_in_tasks(all, all->count) == 0) {
        uint64_t elapsed = bench_now_ns() - t0;
        printf("{\"elapsed_ns\": %llu, \"count\": %ld, \"cpu_ns\": %llu, "
               "\"backend\": \"%s\"}\n", (unsigned long long)elapsed,
               all->count,
               (unsigned long long)(cpu_ns_of(CLOCK_PROCESS_CPUTIME_ID) - cpu0),
               coil_file_backend());
    }
    return NULL;
}

int bench_file_worker(const char *backend, const char *tasks,
                      const char *count, const char *path)
{
    char err[BENCH_ERR_MAX];
    task_reads all = {-1, 0, atol(tasks), atol(count), 0, NULL};
    if (all.ntasks < 1 || all.count < all.ntasks) {
        fprintf(stderr, "file worker: bad task or read count\n");
        return 2;
    }
    /* Before any coil_file_* call: the backend is chosen at the first. */
    setenv("COIL_FILE_BACKEND", backend, 1);
    if ((all.fd = open_blocks(path, &all.nblocks, err)) < 0) {
        fprintf(stderr, "file worker: %s\n", err);
        return 1;
    }
    const char *want = strcmp(backend, "uring") == 0 ? "io_uring" : backend;
    if (strcmp(coil_file_backend(), want) != 0) {
        fprintf(stderr, "file worker: backend %s asked for, %s in use "
                "(io_uring unavailable here?)\n", want, coil_file_backend());
        return 1;
    }
    if (coil_run(child_main, &all, NULL) != 0) {
        fprintf(stderr, "file worker: coil_run: %s\n", strerror(errno));
        return 1;
    }
    if (all.failed) {
        fprintf(stderr, "file worker: %s: %s\n", all.failed,
                strerror(all.error));
        return 1;
    }
    return 0;
}
