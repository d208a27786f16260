/*
 * tests/file_test.c — layer 5 files: coil_file_* run their syscalls on
 * the executor.  Round trips of a few MiB, pread/pwrite at offsets, the
 * errors, read_all/write_all, the loop running while a pool thread is
 * stuck in a FIFO, and cancellation of a blocked read: the task returns
 * at once and the late bytes never land in its buffer (the ASan build
 * would report a write into the freed one).
 *
 * Every test runs in a process of its own (check.h forks), in a fresh
 * mkdtemp directory that it removes at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define NO_LEAKS() CHECK(__lsan_do_recoverable_leak_check() == 0)
#else
#define NO_LEAKS() ((void)0)
#endif

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "io/file_uring.h"

/* ------------------------------------------------------- temp files */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/coil_file_XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

/* dir/name, in one of a few rotating static buffers. */
static const char *in_dir(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ & 3];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            CHECK(unlink(in_dir(e->d_name)) == 0);
    closedir(d);
    CHECK(rmdir(dir) == 0);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 2654435761u + seed) >> 13);
}

/* A pool function that does nothing: with a one-thread pool, its return
 * proves every job submitted before it (and its abandon) has finished. */
static void *nothing(void *arg)
{
    return arg;
}

static void drain_pool(void)
{
    CHECK(coil_to_thread(nothing, NULL, NULL) == 0);
}

/* ---------------------------------------------------- round trips */

enum { BIG = 3 * 1024 * 1024 + 123 };

static void *round_trip_main(void *arg)
{
    (void)arg;
    unsigned char *out = malloc(BIG), *in = malloc(BIG);
    CHECK(out && in);
    fill_pattern(out, BIG, 7);
    int fd = coil_file_open(in_dir("big"), O_CREAT | O_WRONLY | O_TRUNC,
                            0600);
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* In uneven chunks, handling short writes as POSIX allows. */
    for (size_t done = 0; done < BIG;) {
        size_t chunk = BIG - done < 200000 ? BIG - done : 200000;
        ssize_t w = coil_file_write(fd, out + done, chunk);
        CHECK(w > 0);
        done += (size_t)w;
    }
    CHECK(coil_file_fsync(fd) == 0);
    CHECK(coil_file_fdatasync(fd) == 0);
    CHECK(coil_file_close(fd) == 0);

    fd = coil_file_open(in_dir("big"), O_RDONLY, 0);
    CHECK(fd >= 0);
    size_t got = 0;
    for (;;) {
        ssize_t r = coil_file_read(fd, in + got, BIG - got < 65536
                                                  ? BIG - got : 65536);
        CHECK(r >= 0);
        if (r == 0)
            break;
        got += (size_t)r;
    }
    CHECK(got == BIG);
    CHECK(memcmp(in, out, BIG) == 0);
    char extra;
    CHECK(coil_file_read(fd, &extra, 1) == 0);     /* EOF stays EOF */
    CHECK(coil_file_close(fd) == 0);
    free(out);
    free(in);
    return NULL;
}

TEST(write_then_read_a_few_mib)
{
    make_dir();
    run_main(round_trip_main, NULL);
    remove_dir();
}

static void *offsets_main(void *arg)
{
    (void)arg;
    int fd = coil_file_open(in_dir("sparse"), O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0);
    CHECK(coil_file_pwrite(fd, "hello", 5, 10) == 5);
    CHECK(coil_file_pwrite(fd, "world", 5, 100000) == 5);
    char buf[16];
    CHECK(coil_file_pread(fd, buf, 5, 100000) == 5);
    CHECK(memcmp(buf, "world", 5) == 0);
    CHECK(coil_file_pread(fd, buf, 16, 8) == 16);
    CHECK(memcmp(buf, "\0\0hello\0\0\0\0\0\0\0\0\0", 16) == 0);
    CHECK(coil_file_pread(fd, buf, 16, 100003) == 2);   /* short at EOF */
    CHECK(memcmp(buf, "ld", 2) == 0);
    CHECK(coil_file_pread(fd, buf, 16, 200000) == 0);
    /* pread/pwrite leave the file position alone: still at 0. */
    CHECK(coil_file_read(fd, buf, 3) == 3);
    CHECK(memcmp(buf, "\0\0\0", 3) == 0);
    CHECK(coil_file_write(fd, "abc", 3) == 3);         /* at 3 */
    CHECK(coil_file_pread(fd, buf, 8, 0) == 8);
    CHECK(memcmp(buf, "\0\0\0abc\0\0", 8) == 0);
    CHECK(coil_file_read(fd, buf, 0) == 0);
    CHECK(coil_file_close(fd) == 0);
    struct stat st;
    CHECK(stat(in_dir("sparse"), &st) == 0 && st.st_size == 100005);
    return NULL;
}

TEST(pread_pwrite_at_offsets)
{
    make_dir();
    run_main(offsets_main, NULL);
    remove_dir();
}

/* --------------------------------------------------------- errors */

static void *errors_main(void *arg)
{
    (void)arg;
    char buf[8];
    CHECK_ERRNO(coil_file_read(-1, buf, 8), EBADF);
    CHECK_ERRNO(coil_file_read(1000, buf, 8), EBADF);    /* not open */
    CHECK_ERRNO(coil_file_write(1000, "x", 1), EBADF);
    CHECK_ERRNO(coil_file_pread(-5, buf, 8, 0), EBADF);
    CHECK_ERRNO(coil_file_pwrite(-5, buf, 8, 0), EBADF);
    CHECK_ERRNO(coil_file_fsync(-1), EBADF);
    CHECK_ERRNO(coil_file_fsync(1000), EBADF);
    CHECK_ERRNO(coil_file_close(-1), EBADF);
    CHECK_ERRNO(coil_file_close(1000), EBADF);
    CHECK_ERRNO(coil_file_open(in_dir("missing"), O_RDONLY, 0), ENOENT);
    CHECK_ERRNO(coil_file_open(NULL, O_RDONLY, 0), EINVAL);

    int fd = coil_file_open(in_dir("f"), O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0);
    CHECK_ERRNO(coil_file_read(fd, NULL, 8), EINVAL);
    CHECK_ERRNO(coil_file_write(fd, NULL, 8), EINVAL);
    CHECK_ERRNO(coil_file_pread(fd, buf, 8, -1), EINVAL);
    CHECK_ERRNO(coil_file_pwrite(fd, buf, 8, -1), EINVAL);
    CHECK_ERRNO(coil_file_open(in_dir("f"), O_CREAT | O_EXCL | O_WRONLY,
                               0600), EEXIST);
    CHECK(coil_file_close(fd) == 0);
    CHECK_ERRNO(coil_file_read(fd, buf, 8), EBADF);      /* closed */

    fd = coil_file_open(in_dir("f"), O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK_ERRNO(coil_file_write(fd, "x", 1), EBADF);     /* read-only */
    CHECK(coil_file_close(fd) == 0);
    fd = coil_file_open(dir, O_RDONLY | O_DIRECTORY, 0);
    CHECK(fd >= 0);
    CHECK_ERRNO(coil_file_read(fd, buf, 8), EISDIR);
    CHECK(coil_file_close(fd) == 0);

    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_ERRNO(coil_file_pread(p[0], buf, 8, 0), ESPIPE);
    close(p[0]);
    close(p[1]);

    void *data = (void *)1;
    size_t len = 1;
    CHECK_ERRNO(coil_file_read_all(in_dir("missing"), &data, &len, 100),
                ENOENT);
    CHECK(data == NULL && len == 0);
    CHECK_ERRNO(coil_file_read_all(NULL, &data, &len, 100), EINVAL);
    CHECK_ERRNO(coil_file_read_all(in_dir("f"), NULL, &len, 100), EINVAL);
    CHECK_ERRNO(coil_file_read_all(in_dir("f"), &data, NULL, 100), EINVAL);
    CHECK_ERRNO(coil_file_write_all(NULL, "x", 1, 0), EINVAL);
    CHECK_ERRNO(coil_file_write_all(in_dir("f"), NULL, 1, 0), EINVAL);
    CHECK_ERRNO(coil_file_write_all(in_dir("f"), "x", 1, O_RDWR), EINVAL);
    CHECK_ERRNO(coil_file_write_all(in_dir("f"), "x", 1, O_CREAT), EINVAL);
    CHECK_ERRNO(coil_file_write_all(in_dir("nodir/f"), "x", 1, 0), ENOENT);
    return NULL;
}

TEST(errors_ebadf_einval_enoent)
{
    make_dir();
    run_main(errors_main, NULL);
    remove_dir();
}

/* ------------------------------------------------ read_all, write_all */

static void *whole_main(void *arg)
{
    (void)arg;
    enum { N = 2 * 1024 * 1024 + 5 };
    unsigned char *out = malloc(N);
    CHECK(out);
    fill_pattern(out, N, 3);
    CHECK(coil_file_write_all(in_dir("w"), out, N, 0) == 0);
    void *data = NULL;
    size_t len = 0;
    CHECK(coil_file_read_all(in_dir("w"), &data, &len, N) == 0);
    CHECK(len == N && memcmp(data, out, N) == 0);
    CHECK(((char *)data)[N] == '\0');
    free(data);

    /* One byte over the limit: EFBIG, nothing handed out. */
    data = (void *)1;
    CHECK_ERRNO(coil_file_read_all(in_dir("w"), &data, &len, N - 1), EFBIG);
    CHECK(data == NULL && len == 0);

    /* Truncating by default, appending with O_APPEND, EEXIST with O_EXCL. */
    CHECK(coil_file_write_all(in_dir("w"), "abc", 3, 0) == 0);
    CHECK(coil_file_write_all(in_dir("w"), "def", 3, O_APPEND) == 0);
    CHECK(coil_file_read_all(in_dir("w"), &data, &len, 100) == 0);
    CHECK(len == 6 && strcmp(data, "abcdef") == 0);
    free(data);
    CHECK_ERRNO(coil_file_write_all(in_dir("w"), "x", 1, O_EXCL), EEXIST);
    CHECK(coil_file_write_all(in_dir("new"), "x", 1, O_EXCL | O_SYNC) == 0);
    CHECK(coil_file_write_all(in_dir("empty"), NULL, 0, 0) == 0);
    CHECK(coil_file_read_all(in_dir("empty"), &data, &len, 0) == 0);
    CHECK(len == 0 && data && ((char *)data)[0] == '\0');
    free(data);

    /* A file whose size stat does not know (/proc): read until EOF, the
     * limit checked as it grows. */
    CHECK(coil_file_read_all("/proc/self/maps", &data, &len, 1 << 24) == 0);
    CHECK(len > 0 && strlen(data) == len);
    size_t maps_len = len;
    free(data);
    CHECK_ERRNO(coil_file_read_all("/proc/self/maps", &data, &len,
                                   maps_len / 2), EFBIG);
    CHECK(data == NULL);
    free(out);
    return NULL;
}

TEST(write_all_then_read_all_equal_and_efbig)
{
    make_dir();
    run_main(whole_main, NULL);
    remove_dir();
}

/* ------------------------------------- the loop runs meanwhile (FIFO) */

static atomic_int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    for (;;) {
        coil_sleep(COIL_MSEC(5));
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

/* Writes to the FIFO only after a pause, through the executor too. */
static void *late_writer(void *arg)
{
    (void)arg;
    coil_sleep(COIL_MSEC(150));
    int fd = coil_file_open(in_dir("fifo"), O_WRONLY, 0);
    CHECK(fd >= 0);
    CHECK(coil_file_write(fd, "ping", 4) == 4);
    CHECK(coil_file_close(fd) == 0);
    return NULL;
}

static void *fifo_main(void *arg)
{
    (void)arg;
    CHECK(mkfifo(in_dir("fifo"), 0600) == 0);
    coil_task *tick = coil_spawn(ticker, NULL);
    coil_task *writer = coil_spawn(late_writer, NULL);
    CHECK(tick && writer);
    coil_time t0 = coil_clock();
    /* Both the open (no writer yet) and the read block a pool thread. */
    int fd = coil_file_open(in_dir("fifo"), O_RDONLY, 0);
    CHECK(fd >= 0);
    char buf[16] = {0};
    ssize_t got = 0, r;
    while ((r = coil_file_read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += r;
    CHECK(r == 0);
    CHECK(got == 4 && strcmp(buf, "ping") == 0);
    coil_time took = coil_clock() - t0;
    CHECK(took >= COIL_MSEC(150));
    /* ~30 ticks if the loop ran freely; well above 1 shows it was not
     * blocked by the open or the read. */
    CHECK(atomic_load(&ticks) >= 5);
    CHECK(coil_file_close(fd) == 0);
    await_task(writer);
    coil_task_cancel(tick);
    coil_task_release(tick);
    return NULL;
}

/* A task dump says what a task blocked in a file read waits for: the
 * ring's request (call, fd, path, size), or the executor's job. */
static void *fifo_reader(void *arg)
{
    char buf[16];
    coil_file_read((int)(intptr_t)arg, buf, sizeof buf);
    return NULL;
}

static void *dump_main(void *arg)
{
    (void)arg;
    CHECK(mkfifo(in_dir("dumped"), 0600) == 0);
    int fd = open(in_dir("dumped"), O_RDWR | O_CLOEXEC);   /* no wait */
    CHECK(fd >= 0);
    coil_task *t = coil_spawn(fifo_reader, (void *)(intptr_t)fd);
    CHECK(t);
    CHECK(coil_sleep(COIL_MSEC(20)) == 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK(out);
    CHECK(coil_dump_tasks(out, COIL_DUMP_NO_BACKTRACE) == 2);
    CHECK(fclose(out) == 0);
    char want[160];
    if (strcmp(coil_file_backend(), "io_uring") == 0)
        snprintf(want, sizeof want, "waits on io_uring read of fd %d (%s), "
                 "16 bytes", fd, in_dir("dumped"));
    else
        snprintf(want, sizeof want, "waits on executor job");
    if (!strstr(text, want))
        printf("  no '%s' in:\n%s", want, text);
    CHECK(strstr(text, want));
    free(text);
    coil_task_cancel(t);
    CHECK(coil_await(coil_task_future(t), NULL) == -1 && errno == ECANCELED);
    coil_task_release(t);
    /* The executor's read is still in read(2): a byte lets it end, and
     * coil_file_close waits for it (close(2) here would race with it). */
    CHECK(write(fd, "x", 1) == 1);
    CHECK(coil_file_close(fd) == 0);
    drain_pool();
    return NULL;
}

TEST(a_dump_names_the_file_read_a_task_waits_for)
{
    make_dir();
    run_main(dump_main, NULL);
    remove_dir();
}

TEST(loop_runs_while_a_fifo_read_blocks)
{
    make_dir();
    run_main(fifo_main, NULL);
    remove_dir();
}

/* ------------------------------------------------ cancellation */

/* The FIFO, opened O_RDWR (never blocks: we are our own writer). */
static int fifo_fd = -1;
static char kept_buf[64];           /* outlives the reader: must stay 'x' */

static void open_fifo(void)
{
    CHECK(mkfifo(in_dir("fifo"), 0600) == 0);
    fifo_fd = open(in_dir("fifo"), O_RDWR | O_CLOEXEC);
    CHECK(fifo_fd >= 0);
}

static int fifo_pending(void)
{
    int n = -1;
    CHECK(ioctl(fifo_fd, FIONREAD, &n) == 0);
    return n;
}

/* Reads one byte (which proves the pool thread is up and idle), then
 * blocks reading into a buffer: heap (freed at once on ECANCELED) in
 * error mode, kept_buf when unwound. */
static void *blocked_reader(void *arg)
{
    int error_mode = arg != NULL;
    char first;
    CHECK(coil_file_read(fifo_fd, &first, 1) == 1 && first == 'a');
    if (error_mode) {
        char *buf = malloc(64);
        CHECK(buf);
        memset(buf, 'x', 64);
        ssize_t r = coil_file_read(fifo_fd, buf, 64);
        CHECK(r == -1 && errno == ECANCELED);
        for (int i = 0; i < 64; i++)
            CHECK(buf[i] == 'x');
        free(buf);       /* the late bytes must not land here */
        return (void *)1;
    }
    coil_file_read(fifo_fd, kept_buf, sizeof kept_buf);
    CHECK(0);            /* unwound */
    return NULL;
}

static void *cancel_read_main(void *arg)
{
    unsigned flags = (unsigned)(uintptr_t)arg;
    int error_mode = (flags & COIL_TASK_CANCEL_AS_ERROR) != 0;
    memset(kept_buf, 'x', sizeof kept_buf);
    CHECK(write(fifo_fd, "a", 1) == 1);
    coil_task_attr attr = {.flags = flags};
    coil_task *t = coil_spawn_attr(&attr, blocked_reader,
                                   error_mode ? (void *)1 : NULL);
    CHECK(t);
    while (fifo_pending() != 0)     /* the first read consumed 'a' */
        coil_sleep(COIL_MSEC(1));
    coil_sleep(COIL_MSEC(50));      /* the second read: on the pool thread */
    coil_time t0 = coil_clock();
    CHECK(coil_task_cancel(t) == 1);
    void *v = NULL;
    int r = coil_await(coil_task_future(t), &v);
    coil_time took = coil_clock() - t0;
    if (error_mode)
        CHECK(r == 0 && v == (void *)1);
    else
        CHECK(r == -1 && errno == ECANCELED);
    /* No byte was ever written for that read: it could only return
     * because the cancellation let it go.  Promptly: */
    CHECK(took < COIL_MSEC(500));
    coil_task_release(t);
    if (strcmp(coil_file_backend(), "io_uring") == 0) {
        /* The ring withdrew the read (ASYNC_CANCEL): the late bytes stay
         * in the FIFO, the close goes through once the kernel let go. */
        CHECK(coil_file_close(fifo_fd) == 0);
        coil_sleep(COIL_MSEC(20));
        CHECK(fcntl(fifo_fd, F_GETFD) == -1 && errno == EBADF);
        for (size_t i = 0; i < sizeof kept_buf; i++)
            CHECK(kept_buf[i] == 'x');
        return NULL;
    }
    /* Closing now must not release the fd number under the late read: the
     * close waits for it (and an open meanwhile gets another number). */
    CHECK(coil_file_close(fifo_fd) == 0);
    CHECK(fcntl(fifo_fd, F_GETFD) >= 0);
    int other = open(in_dir("other"), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    CHECK(other >= 0 && other != fifo_fd);   /* (the pool is busy) */
    close(other);

    /* Now the late bytes: the abandoned read (still in read(2) on the one
     * pool thread) takes them into its own buffer and drops them. */
    char late[64];
    memset(late, 'L', sizeof late);
    CHECK(write(fifo_fd, late, sizeof late) == (ssize_t)sizeof late);
    drain_pool();
    int pending = -1;
    CHECK(ioctl(fifo_fd, FIONREAD, &pending) == -1 && errno == EBADF);
    for (size_t i = 0; i < sizeof kept_buf; i++)
        CHECK(kept_buf[i] == 'x');
    return NULL;
}

static void cancel_read_test(unsigned flags)
{
    CHECK(coil_executor_set_threads(1) == 0);
    make_dir();
    open_fifo();
    run_main(cancel_read_main, (void *)(uintptr_t)flags);
    remove_dir();
    NO_LEAKS();
}

TEST(cancel_blocked_read_error_mode_buffer_untouched)
{
    cancel_read_test(COIL_TASK_CANCEL_AS_ERROR);
}

TEST(cancel_blocked_read_unwinds_buffer_untouched)
{
    cancel_read_test(0);
}

/* An open cancelled while it waits for a FIFO's writer: the fd it gets
 * later is closed for the caller that has gone (the writer then sees no
 * reader left: EPIPE). */
static void *blocked_opener(void *arg)
{
    (void)arg;
    coil_file_open(in_dir("fifo"), O_RDONLY, 0);
    CHECK(0);
    return NULL;
}

static void *cancel_open_main(void *arg)
{
    (void)arg;
    CHECK(mkfifo(in_dir("fifo"), 0600) == 0);
    drain_pool();                   /* the pool thread is up */
    coil_task *t = coil_spawn(blocked_opener, NULL);
    CHECK(t);
    coil_sleep(COIL_MSEC(50));      /* the open: on the pool thread */
    CHECK(coil_task_cancel(t) == 1);
    CHECK(coil_await(coil_task_future(t), NULL) == -1 && errno == ECANCELED);
    coil_task_release(t);
    /* A reader is inside open(2): a non-blocking writer may open now. */
    int w = open(in_dir("fifo"), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    CHECK(w >= 0);
    drain_pool();                   /* the late open ended, fd closed */
    CHECK_ERRNO(write(w, "x", 1), EPIPE);
    close(w);
    return NULL;
}

TEST(cancelled_open_closes_the_late_fd)
{
    signal(SIGPIPE, SIG_IGN);
    CHECK(coil_executor_set_threads(1) == 0);
    make_dir();
    run_main(cancel_open_main, NULL);
    remove_dir();
    NO_LEAKS();
}

/* Many writers and readers at once, some cancelled at random points:
 * every call either completes or is cancelled, nothing leaks. */
static void *writer_reader(void *arg)
{
    intptr_t i = (intptr_t)arg;
    char name[16], data[4096], back[4096];
    snprintf(name, sizeof name, "f%ld", (long)i);
    fill_pattern((unsigned char *)data, sizeof data, (unsigned)i);
    int fd = coil_file_open(in_dir(name), O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    for (int k = 0; k < 8; k++)
        CHECK(coil_file_pwrite(fd, data, sizeof data, k * 4096) == 4096);
    for (int k = 0; k < 8; k++) {
        CHECK(coil_file_pread(fd, back, sizeof back, k * 4096) == 4096);
        CHECK(memcmp(back, data, sizeof data) == 0);
    }
    CHECK(coil_file_close(fd) == 0);
    return NULL;
}

static void *many_main(void *arg)
{
    (void)arg;
    enum { N = 40 };
    coil_task *t[N];
    for (int i = 0; i < N; i++)
        CHECK((t[i] = coil_spawn(writer_reader, (void *)(intptr_t)i)));
    coil_sleep(COIL_MSEC(3));
    for (int i = 0; i < N; i += 3)
        coil_task_cancel(t[i]);
    int completed = 0;
    for (int i = 0; i < N; i++) {
        int r = coil_await(coil_task_future(t[i]), NULL);
        CHECK(r == 0 || (i % 3 == 0 && errno == ECANCELED));
        completed += r == 0;
        coil_task_release(t[i]);
    }
    CHECK(completed >= N - (N + 2) / 3);
    drain_pool();
    return NULL;
}

TEST(many_tasks_some_cancelled_nothing_leaks)
{
    make_dir();
    run_main(many_main, NULL);
    remove_dir();
    NO_LEAKS();
}

/* ------------------------------------------- reads the cache serves */

/* A read whose first half is in the page cache and second half is not
 * (dropped with POSIX_FADV_DONTNEED once written back): the cache's part
 * comes first, without waiting, and the call still returns the whole, as
 * POSIX promises of a regular file short of its end.  4 MiB halves: the
 * page cache keeps a file in folios of up to 2 MiB, and a folio only
 * partly advised away stays. */
static void *half_cached_main(void *arg)
{
    (void)arg;
    enum { HALF = 4 * 1024 * 1024 };
    unsigned char *out = malloc(2 * HALF), *in = malloc(2 * HALF);
    CHECK(out && in);
    fill_pattern(out, 2 * HALF, 3);
    CHECK(coil_file_write_all(in_dir("half"), out, 2 * HALF, 0) == 0);
    int fd = coil_file_open(in_dir("half"), O_RDONLY, 0);
    CHECK(fd >= 0);
    for (int round = 0; round < 3; round++) {
        CHECK(fdatasync(fd) == 0);
        CHECK(posix_fadvise(fd, HALF, HALF, POSIX_FADV_DONTNEED) == 0);
        memset(in, 0, 2 * HALF);
        CHECK(coil_file_pread(fd, in, 2 * HALF, 0) == 2 * HALF);
        CHECK(memcmp(in, out, 2 * HALF) == 0);
        /* And at the file position, which moves by the whole. */
        CHECK(posix_fadvise(fd, HALF, HALF, POSIX_FADV_DONTNEED) == 0);
        CHECK(lseek(fd, 0, SEEK_SET) == 0);
        memset(in, 0, 2 * HALF);
        CHECK(coil_file_read(fd, in, 2 * HALF) == 2 * HALF);
        CHECK(memcmp(in, out, 2 * HALF) == 0);
        CHECK(lseek(fd, 0, SEEK_CUR) == 2 * HALF);
    }
    CHECK(coil_file_close(fd) == 0);
    free(out);
    free(in);
    return NULL;
}

/* What a pipe has is what a read returns, as read(2) gives it: the rest
 * of a short read is only waited for in a regular file (the task would
 * otherwise wait here for ever, the writer being this very task). */
static void *pipe_part_main(void *arg)
{
    (void)arg;
    int p[2];
    char buf[64];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "part", 4) == 4);
    CHECK(coil_file_read(p[0], buf, sizeof buf) == 4);
    CHECK(memcmp(buf, "part", 4) == 0);
    close(p[0]);
    close(p[1]);
    /* And a regular file's end: short, without a second trip. */
    CHECK(coil_file_write_all(in_dir("end"), "0123456789", 10, 0) == 0);
    int fd = coil_file_open(in_dir("end"), O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK(coil_file_read(fd, buf, sizeof buf) == 10);
    CHECK(coil_file_read(fd, buf, sizeof buf) == 0);
    CHECK(coil_file_close(fd) == 0);
    return NULL;
}

TEST(a_pipe_read_returns_what_the_pipe_has)
{
    make_dir();
    run_main(pipe_part_main, NULL);
    remove_dir();
}

TEST(a_read_half_in_the_cache_returns_the_whole)
{
    make_dir();
    run_main(half_cached_main, NULL);
    remove_dir();
}

/* A task reading a cached file, with nothing else ready, completes each
 * read without suspending; its budget still makes it yield, and the loop
 * then looks at its clock, so a task asleep meanwhile wakes on time. */
typedef struct sleeper_count {
    atomic_int wakes;
    atomic_int stop;
} sleeper_count;

static void *sleeper(void *arg)
{
    sleeper_count *c = arg;
    while (!c->stop) {
        CHECK(coil_sleep(COIL_MSEC(1)) == 0);
        c->wakes++;
    }
    return NULL;
}

static void *budget_reader_main(void *arg)
{
    (void)arg;
    static char data[4096];
    CHECK(coil_file_write_all(in_dir("small"), data, sizeof data, 0) == 0);
    int fd = coil_file_open(in_dir("small"), O_RDONLY, 0);
    CHECK(fd >= 0);
    sleeper_count c = {0, 0};
    coil_task *t = coil_spawn(sleeper, &c);
    CHECK(t);
    CHECK(coil_yield() == 0);           /* the sleeper is asleep now */
    coil_time end = coil_clock() + COIL_MSEC(200);
    long reads = 0;
    char buf[512];
    while (coil_clock() < end) {
        CHECK(coil_file_pread(fd, buf, sizeof buf, 0) == sizeof buf);
        reads++;
    }
    c.stop = 1;
    printf("  %ld reads in 200 ms, the 1 ms sleeper woke %d times\n", reads,
           c.wakes);
    /* Generous: 200 at best; 178-185 measured, 27 when a spent budget
     * did not make the loop read its clock (a timer then waited up to 32
     * budgets, ~8 ms), 0 without the budget. */
    CHECK(c.wakes >= 50);
    await_task(t);
    CHECK(coil_file_close(fd) == 0);
    return NULL;
}

TEST(a_task_reading_a_cached_file_lets_a_sleeper_wake)
{
    make_dir();
    run_main(budget_reader_main, NULL);
    remove_dir();
}

/* Many tasks reading at once (on the ring: one batch per turn of the
 * loop), some cancelled while their reads wait in the batch: every read
 * that completes has its own block, nothing leaks. */
enum { READERS = 64, BLOCKS = 256 };

static void *block_reader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned x = (unsigned)fd * 2654435761u + (unsigned)(intptr_t)&arg;
    for (int i = 0; i < 50; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t block = (x >> 8) % BLOCKS, got[1024];
        CHECK(coil_file_pread(fd, got, sizeof got, (off_t)block * 4096) ==
              sizeof got);
        for (int k = 0; k < 1024; k++)
            CHECK(got[k] == block * 1024 + (uint32_t)k);
    }
    return NULL;
}

static void *many_readers_main(void *arg)
{
    (void)arg;
    uint32_t *words = malloc(BLOCKS * 4096);
    CHECK(words);
    for (uint32_t i = 0; i < BLOCKS * 1024; i++)
        words[i] = i;
    CHECK(coil_file_write_all(in_dir("blocks"), words, BLOCKS * 4096, 0) ==
          0);
    free(words);
    int fd = coil_file_open(in_dir("blocks"), O_RDONLY, 0);
    CHECK(fd >= 0);
    coil_task *t[READERS];
    for (int i = 0; i < READERS; i++)
        CHECK((t[i] = coil_spawn(block_reader, (void *)(intptr_t)fd)));
    /* Every reader runs up to its first read, and waits there. */
    CHECK(coil_yield() == 0);
    for (int i = 0; i < READERS; i += 3)
        coil_task_cancel(t[i]);
    for (int i = 0; i < READERS; i++) {
        int r = coil_await(coil_task_future(t[i]), NULL);
        CHECK(r == 0 || (i % 3 == 0 && errno == ECANCELED));
        coil_task_release(t[i]);
    }
    CHECK(coil_file_close(fd) == 0);
    drain_pool();
    return NULL;
}

TEST(many_tasks_read_their_own_blocks_some_cancelled_waiting)
{
    make_dir();
    run_main(many_readers_main, NULL);
    remove_dir();
    NO_LEAKS();
}

/* coil_file_pread remembers that an fd takes offsets, and coil_file_close
 * forgets it: a pipe that gets the number next is ESPIPE, not read.  With
 * a peer task ready, so that the reads go to the ring's batch (a read
 * made alone asks the kernel directly, which says ESPIPE itself). */
static void *busy_peer(void *arg)
{
    atomic_int *stop = arg;
    while (!*stop)
        CHECK(coil_yield() == 0);
    return NULL;
}

static void *reused_number_main(void *arg)
{
    (void)arg;
    char buf[8];
    atomic_int stop = 0;
    coil_task *peer = coil_spawn(busy_peer, &stop);
    CHECK(peer);
    CHECK(coil_file_write_all(in_dir("r"), "reused!!", 8, 0) == 0);
    int fd = coil_file_open(in_dir("r"), O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK(coil_file_pread(fd, buf, sizeof buf, 0) == 8);
    CHECK(memcmp(buf, "reused!!", 8) == 0);
    CHECK(coil_file_close(fd) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(p[0] == fd);                  /* the lowest free number */
    CHECK(write(p[1], "pipe", 4) == 4);
    CHECK_ERRNO(coil_file_pread(p[0], buf, sizeof buf, 0), ESPIPE);
    CHECK(read(p[0], buf, sizeof buf) == 4);   /* still in the pipe */
    close(p[0]);
    close(p[1]);
    stop = 1;
    await_task(peer);
    return NULL;
}

TEST(a_closed_fd_number_reused_by_a_pipe_is_espipe)
{
    make_dir();
    run_main(reused_number_main, NULL);
    remove_dir();
}

/* Whether a read beside other ready work joins a ring batch or asks the
 * page cache inline: COIL_FILE_READ_BATCH's word where it gives one (the
 * suite runs with each), the probe's timing otherwise; never without a
 * ring.  Alone, a read never joins a batch. */
static void *read_batch_main(void *arg)
{
    (void)arg;
    const char *want = getenv("COIL_FILE_READ_BATCH");
    int ring = strcmp(coil_file_backend(), "io_uring") == 0;
    CHECK(coil__uring_batching() == 0);          /* nothing else ready */
    atomic_int stop = 0;
    coil_task *peer = coil_spawn(busy_peer, &stop);
    CHECK(peer);
    CHECK(coil_yield() == 0);                    /* the peer is ready now */
    int batch = coil__uring_batching();
    printf("  COIL_FILE_READ_BATCH=%s: reads beside other work %s\n",
           want ? want : "(unset)",
           batch ? "join a ring batch" : "ask the page cache inline");
    if (!ring || (want && strcmp(want, "never") == 0))
        CHECK(batch == 0);
    else if (want && strcmp(want, "always") == 0)
        CHECK(batch == 1);
    stop = 1;
    await_task(peer);
    return NULL;
}

TEST(reads_beside_other_work_batch_as_the_probe_or_environment_says)
{
    run_main(read_batch_main, NULL);
}

/* ------------------------------------------- outside a task */

static atomic_int callback_errno;

static void in_callback(void *arg)
{
    (void)arg;
    errno = 0;
    callback_errno = coil_file_fsync(0) == -1 ? errno : 0;
}

/* In a pool function: no loop runs there, so the call runs inline. */
static void *on_pool_thread(void *arg)
{
    (void)arg;
    void *data = NULL;
    size_t len = 0;
    if (coil_file_read_all(in_dir("plain"), &data, &len, 100) != 0)
        return NULL;
    return data;
}

static void *outside_main(void *arg)
{
    (void)arg;
    CHECK(coil_call_soon(NULL, in_callback, NULL, NULL) == 0);
    coil_sleep(COIL_MSEC(1));
    CHECK(callback_errno == EPERM);    /* it would block the loop */
    void *data = NULL;
    CHECK(coil_to_thread(on_pool_thread, NULL, &data) == 0);
    CHECK(data && strcmp(data, "plain") == 0);
    free(data);
    return NULL;
}

TEST(outside_a_task_inline_without_loop_eperm_in_callback)
{
    make_dir();
    /* No loop at all: plain blocking calls. */
    CHECK(coil_file_write_all(in_dir("plain"), "plain", 5, 0) == 0);
    int fd = coil_file_open(in_dir("plain"), O_RDONLY, 0);
    CHECK(fd >= 0);
    char buf[8] = {0};
    CHECK(coil_file_read(fd, buf, sizeof buf) == 5);
    CHECK(strcmp(buf, "plain") == 0);
    CHECK(coil_file_close(fd) == 0);
    run_main(outside_main, NULL);
    remove_dir();
}

/* ------------------------------------------------- which backend */

/* pread past the end: short, then 0 — on the ring as on the executor. */
static void *short_main(void *arg)
{
    (void)arg;
    CHECK(coil_file_write_all(in_dir("s"), "0123456789", 10, 0) == 0);
    int fd = coil_file_open(in_dir("s"), O_RDONLY, 0);
    CHECK(fd >= 0);
    char buf[16];
    CHECK(coil_file_pread(fd, buf, sizeof buf, 6) == 4);
    CHECK(memcmp(buf, "6789", 4) == 0);
    CHECK(coil_file_pread(fd, buf, sizeof buf, 10) == 0);
    CHECK(coil_file_pread(fd, buf, sizeof buf, 1000) == 0);
    CHECK(coil_file_close(fd) == 0);
    return NULL;
}

TEST(short_reads_at_the_end_then_zero)
{
    make_dir();
    run_main(short_main, NULL);
    remove_dir();
}

/* The suite runs once per backend (tests/CMakeLists.txt); this says which
 * one ran, and checks the choice: the executor when asked for it, or
 * when coil was built without liburing (the cross builds, whose emulator
 * would refuse io_uring anyway). */
TEST(the_backend_is_the_one_asked_for_where_the_build_and_kernel_allow)
{
    const char *want = getenv("COIL_FILE_BACKEND");
    const char *got = coil_file_backend();
    printf("  COIL_FILE_BACKEND=%s: coil_file_* run on %s\n",
           want ? want : "(unset)", got);
    CHECK(strcmp(got, "io_uring") == 0 || strcmp(got, "executor") == 0);
    if (want && strcmp(want, "executor") == 0)
        CHECK(strcmp(got, "executor") == 0);
#ifndef COIL_TEST_HAVE_URING
    CHECK(strcmp(got, "executor") == 0);
#endif
}

RUN_TESTS(T(the_backend_is_the_one_asked_for_where_the_build_and_kernel_allow),
          T(short_reads_at_the_end_then_zero),
          T(write_then_read_a_few_mib), T(pread_pwrite_at_offsets),
          T(errors_ebadf_einval_enoent),
          T(write_all_then_read_all_equal_and_efbig),
          T(loop_runs_while_a_fifo_read_blocks),
          T(a_dump_names_the_file_read_a_task_waits_for),
          T(cancel_blocked_read_error_mode_buffer_untouched),
          T(cancel_blocked_read_unwinds_buffer_untouched),
          T(cancelled_open_closes_the_late_fd),
          T(many_tasks_some_cancelled_nothing_leaks),
          T(a_pipe_read_returns_what_the_pipe_has),
          T(a_read_half_in_the_cache_returns_the_whole),
          T(a_task_reading_a_cached_file_lets_a_sleeper_wake),
          T(many_tasks_read_their_own_blocks_some_cancelled_waiting),
          T(a_closed_fd_number_reused_by_a_pipe_is_espipe),
          T(reads_beside_other_work_batch_as_the_probe_or_environment_says),
          T(outside_a_task_inline_without_loop_eperm_in_callback))
