/*
 * tests/file_model_test.c — coil_file_* against a model of each file.
 *
 * Eight tasks, each with a file of its own, make random sequences of
 * read, pread, write and pwrite (1 byte to a few pages, at offsets inside
 * the file, at its end and past it), fsync and fdatasync, and now and then
 * push the file, or a part of it, out of the page cache (fdatasync, then
 * POSIX_FADV_DONTNEED), so that reads go by turns to the page cache, to
 * the ring or the pool, and to both in one call.  A model of each file's
 * bytes, size and position says what every call must return: the count
 * (short only at the end of the file), the bytes, and where the position
 * is (lseek(SEEK_CUR) must agree).  Eight tasks at once, whose requests
 * the ring batches, then one alone, whose reads try the page cache first.  Some preads run in a timeout scope of 0-200 us
 * (the tasks are in error mode): such a call gives ECANCELED or what the
 * model says, and its buffer is freed at once, so that a late write into
 * it is an ASan report.  At the end each file is read back with plain
 * pread(2) and compared whole.
 *
 * It runs on both backends (file_model: io_uring where the kernel has it,
 * file_model_executor) and prints its seed: COIL_FILE_MODEL_SEED=<n>
 * makes the same choices again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "seeded.h"
#include "task_helpers.h"

enum { NTASKS = 8, NOPS = 400, MAX_FILE = 256 * 1024, MAX_IO = 20000 };

typedef struct model {
    unsigned char data[MAX_FILE];     /* zero past size, as holes read */
    size_t size, pos;
} model;

typedef struct worker {
    uint64_t rng;
    int fd;
    char path[256];
    model m;
    long ops[9], cancelled;
} worker;

static const char *const op_names[9] = {
    "pread", "read", "pwrite", "write", "fsync", "fdatasync", "drop",
    "drop part", "pread in a scope"};

static size_t below(uint64_t *s, size_t n)
{
    return n ? (size_t)(seeded_next(s) % n) : 0;
}

/* A size: mostly small, sometimes pages, sometimes odd lengths across
 * page boundaries. */
static size_t io_size(uint64_t *s)
{
    switch (below(s, 4)) {
    case 0: return 1 + below(s, 64);
    case 1: return 1 + below(s, 4096);
    case 2: return 4096 * (1 + below(s, 4));
    default: return 1 + below(s, MAX_IO);
    }
}

/* An offset: inside the file, at its end or a little past it, within
 * what the model can hold for n bytes. */
static size_t io_offset(uint64_t *s, const model *m, size_t n)
{
    size_t limit = MAX_FILE - n, off;
    switch (below(s, 3)) {
    case 0: off = below(s, m->size + 1); break;
    case 1: off = m->size; break;
    default: off = m->size + below(s, 8192);
    }
    return off < limit ? off : limit;
}

/* What a read of n bytes at off must give. */
static size_t expect_read(const model *m, size_t off, size_t n)
{
    if (off >= m->size)
        return 0;
    return m->size - off < n ? m->size - off : n;
}

static void model_write(model *m, const unsigned char *p, size_t n,
                        size_t off)
{
    memcpy(m->data + off, p, n);
    if (off + n > m->size)
        m->size = off + n;
}

static void check_position(const worker *w)
{
    CHECK(lseek(w->fd, 0, SEEK_CUR) == (off_t)w->m.pos);
}

static void do_pread(worker *w, unsigned char *buf)
{
    size_t n = io_size(&w->rng), off = io_offset(&w->rng, &w->m, n);
    ssize_t r = coil_file_pread(w->fd, buf, n, (off_t)off);
    CHECK(r == (ssize_t)expect_read(&w->m, off, n));
    CHECK(memcmp(buf, w->m.data + off, (size_t)r) == 0);
}

static void do_read(worker *w, unsigned char *buf)
{
    size_t n = io_size(&w->rng);
    if (n > MAX_FILE - w->m.pos)
        n = MAX_FILE - w->m.pos;
    ssize_t r = coil_file_read(w->fd, buf, n);
    CHECK(r == (ssize_t)expect_read(&w->m, w->m.pos, n));
    CHECK(memcmp(buf, w->m.data + w->m.pos, (size_t)r) == 0);
    w->m.pos += (size_t)r;
    check_position(w);
}

static void fill(worker *w, unsigned char *buf, size_t n)
{
    uint64_t v = seeded_next(&w->rng);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(v >> (i % 8 * 8)) ^ (unsigned char)i;
}

static void do_pwrite(worker *w, unsigned char *buf)
{
    size_t n = io_size(&w->rng), off = io_offset(&w->rng, &w->m, n);
    fill(w, buf, n);
    CHECK(coil_file_pwrite(w->fd, buf, n, (off_t)off) == (ssize_t)n);
    model_write(&w->m, buf, n, off);
}

static void do_write(worker *w, unsigned char *buf)
{
    size_t n = io_size(&w->rng);
    if (n > MAX_FILE - w->m.pos)
        n = MAX_FILE - w->m.pos;
    fill(w, buf, n);
    CHECK(coil_file_write(w->fd, buf, n) == (ssize_t)n);
    model_write(&w->m, buf, n, w->m.pos);
    w->m.pos += n;
    check_position(w);
}

/* Push the file's pages (all, or a random part) out of the page cache:
 * the next reads of them go to the ring or the pool, and a read across
 * the edge of the part is served half from the cache. */
static void drop(worker *w, int part)
{
    CHECK(fdatasync(w->fd) == 0);
    off_t off = 0, len = 0;               /* len 0: to the end */
    if (part) {
        off = (off_t)(below(&w->rng, w->m.size + 1) & ~(size_t)4095);
        len = (off_t)(4096 * (1 + below(&w->rng, 8)));
    }
    CHECK(posix_fadvise(w->fd, off, len, POSIX_FADV_DONTNEED) == 0);
}

/* A pread that a timeout scope may cut short: ECANCELED, or the model's
 * answer.  The buffer goes at once either way. */
static void scoped_pread(worker *w)
{
    size_t n = io_size(&w->rng), off = io_offset(&w->rng, &w->m, n);
    unsigned char *buf = malloc(n);
    CHECK(buf);
    coil_timeout scope;
    ssize_t r = -1;
    int err = 0;
    if (coil_timeout_begin(&scope, COIL_USEC(below(&w->rng, 5) * 50)) == 0) {
        r = coil_file_pread(w->fd, buf, n, (off_t)off);
        err = errno;
    }
    int fired = coil_timeout_end(&scope) != 0;
    if (r == -1) {
        CHECK(err == ECANCELED && fired);
        w->cancelled++;
    } else {
        CHECK(r == (ssize_t)expect_read(&w->m, off, n));
        CHECK(memcmp(buf, w->m.data + off, (size_t)r) == 0);
    }
    free(buf);
}

static void *work(void *arg)
{
    worker *w = arg;
    unsigned char *buf = malloc(MAX_IO);
    CHECK(buf);
    w->fd = coil_file_open(w->path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(w->fd >= 0);
    for (int i = 0; i < NOPS; i++) {
        unsigned op = (unsigned)below(&w->rng, 40);
        op = op < 10 ? 0 : op < 16 ? 1 : op < 24 ? 2 : op < 30 ? 3
           : op < 31 ? 4 : op < 32 ? 5 : op < 34 ? 6 : op < 36 ? 7 : 8;
        w->ops[op]++;
        switch (op) {
        case 0: do_pread(w, buf); break;
        case 1: do_read(w, buf); break;
        case 2: do_pwrite(w, buf); break;
        case 3: do_write(w, buf); break;
        case 4: CHECK(coil_file_fsync(w->fd) == 0); break;
        case 5: CHECK(coil_file_fdatasync(w->fd) == 0); break;
        case 6: drop(w, 0); break;
        case 7: drop(w, 1); break;
        default: scoped_pread(w);
        }
    }
    free(buf);
    return NULL;
}

/* The file as the kernel has it, against the model. */
static void check_file(worker *w)
{
    struct stat st;
    CHECK(fstat(w->fd, &st) == 0 && (size_t)st.st_size == w->m.size);
    unsigned char *all = malloc(w->m.size + 1);
    CHECK(all);
    CHECK(pread(w->fd, all, w->m.size + 1, 0) == (ssize_t)w->m.size);
    CHECK(memcmp(all, w->m.data, w->m.size) == 0);
    free(all);
}

typedef struct run {
    worker *w;
    int n;
} run;

static void *model_main(void *arg)
{
    run *r = arg;
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *t[NTASKS];
    for (int i = 0; i < r->n; i++)
        CHECK((t[i] = coil_spawn_attr(&attr, work, &r->w[i])));
    for (int i = 0; i < r->n; i++)
        await_task(t[i]);
    for (int i = 0; i < r->n; i++) {
        check_file(&r->w[i]);
        CHECK(coil_file_close(r->w[i].fd) == 0);
        CHECK(unlink(r->w[i].path) == 0);
    }
    return NULL;
}

/* Where the files go: a disk-backed directory if there is one (on tmpfs
 * the pages cannot leave the cache, and every read would be a cached
 * one). */
static const char *base_dir(void)
{
    const char *t = getenv("TMPDIR");
    if (t && *t)
        return t;
    return access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp";
}

static void run_model(int ntasks)
{
    uint64_t seed = seeded_seed("COIL_FILE_MODEL_SEED");
    printf("  seed %" PRIu64 " (replay: COIL_FILE_MODEL_SEED=%" PRIu64
           "), backend %s\n", seed, seed, coil_file_backend());
    char dir[200];
    snprintf(dir, sizeof dir, "%s/coil_file_model_XXXXXX", base_dir());
    CHECK(mkdtemp(dir) != NULL);
    static worker w[NTASKS];
    for (int i = 0; i < ntasks; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].rng = seeded_state(seed, (uint64_t)i);
        snprintf(w[i].path, sizeof w[i].path, "%s/f%d", dir, i);
    }
    run r = {w, ntasks};
    run_main(model_main, &r);
    CHECK(rmdir(dir) == 0);
    long ops[9] = {0}, cancelled = 0;
    for (int i = 0; i < ntasks; i++) {
        for (int k = 0; k < 9; k++)
            ops[k] += w[i].ops[k];
        cancelled += w[i].cancelled;
    }
    printf("  ");
    for (int k = 0; k < 9; k++)
        printf("%s%s %ld", k ? ", " : "", op_names[k], ops[k]);
    printf(" (%ld cut short)\n", cancelled);
}

/* Eight at once: their requests meet in the ring's batches. */
TEST(random_file_io_from_eight_tasks_matches_a_model)
{
    run_model(NTASKS);
}

/* One alone: no batch forms, so its reads try the page cache first. */
TEST(random_file_io_from_one_task_matches_a_model)
{
    run_model(1);
}

RUN_TESTS(T(random_file_io_from_eight_tasks_matches_a_model),
          T(random_file_io_from_one_task_matches_a_model))
