/*
 * bench/bench_toolbox.c — issue 21's toolbox against what it replaces:
 *
 *   read_line   64-byte lines through a socketpair that a plain thread
 *               fills: coil_stream_read_line in a task, against a
 *               hand-written loop of blocking read() + memchr + memcpy
 *               into the caller's buffer, as read_line hands lines out;
 *   line_echo   a one-connection ping-pong of 64-byte lines; the server
 *               runs in a thread of its own and what is timed is its CPU
 *               time (CLOCK_THREAD_CPUTIME_ID): streams (read_line, write,
 *               flush) against coil's byte echo (coil_read +
 *               coil_write_all, bench_echo.c's server loop).  Both threads
 *               run on coil_bench's pinned CPU: on two CPUs each round
 *               trip's cross-CPU wake-up is in the server's time, and
 *               where the kernel placed the pair moved a repetition from
 *               20 to 29 us (measured, 15 repetitions), four times
 *               the 10% the row is judged by.  On one CPU the
 *               repetitions fell within 8.1-8.6 us;
 *   select_4    values through 4 queues of 16, put round-robin by one task
 *               and taken by another with coil_select, against one queue
 *               of 64 and coil_queue_get (bench_threads.c's queue_64).
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { LINE = 64, CHUNK_LINES = 1024, READ_SIZE = 16 * 1024 };

static int fail_errno(char *err, const char *what, int e)
{
    snprintf(err, BENCH_ERR_MAX, "%s: %s", what, strerror(e));
    return -1;
}

/* One 64-byte line: 63 characters and its '\n'. */
static void make_line(char *p, long i)
{
    memset(p, 'a' + (int)(i % 26), LINE - 1);
    p[LINE - 1] = '\n';
}

/* ------------------------------------------------------------ read_line */

typedef struct feeder {
    int fd;
    long lines;
    int error;
} feeder;

/* Write `lines` lines in chunks of CHUNK_LINES, blocking. */
static void *feed(void *arg)
{
    feeder *f = arg;
    char *chunk = malloc(CHUNK_LINES * LINE);
    if (!chunk) {
        f->error = ENOMEM;
        return NULL;
    }
    for (long i = 0; i < CHUNK_LINES; i++)
        make_line(chunk + i * LINE, i);
    for (long left = f->lines; left > 0;) {
        long n = left < CHUNK_LINES ? left : CHUNK_LINES;
        size_t off = 0, len = (size_t)n * LINE;
        while (off < len) {
            ssize_t w = write(f->fd, chunk + off, len - off);
            if (w < 0) {
                f->error = errno;
                free(chunk);
                return NULL;
            }
            off += (size_t)w;
        }
        left -= n;
    }
    free(chunk);
    return NULL;
}

typedef struct reader {
    int fd;
    long lines;
    uint64_t ns;
    int error;
} reader;

static void *stream_reader(void *arg)
{
    reader *r = arg;
    coil_stream_attr attr = {.read_size = READ_SIZE};
    coil_stream *s = coil_stream_new(r->fd, &attr);
    if (!s) {
        r->error = errno;
        return NULL;
    }
    char line[2 * LINE];
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < r->lines; i++)
        if (coil_stream_read_line(s, line, sizeof line, -1) != LINE) {
            r->error = errno ? errno : EPROTO;
            break;
        }
    r->ns = bench_now_ns() - t0;
    coil_stream_close(s);
    return NULL;
}

/* The hand-written loop: the buffer, memchr for the '\n', the line
 * copied out and NUL-terminated, refill when no '\n' is left. */
static void memchr_reader(reader *r)
{
    char *buf = malloc(READ_SIZE), line[2 * LINE];
    size_t pos = 0, len = 0;
    if (!buf) {
        r->error = ENOMEM;
        return;
    }
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < r->lines;) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        if (nl) {
            size_t n = (size_t)(nl - (buf + pos)) + 1;
            memcpy(line, buf + pos, n);
            line[n] = '\0';
            pos += n;
            i++;
            continue;
        }
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        pos = 0;
        ssize_t got = read(r->fd, buf + len, READ_SIZE - len);
        if (got <= 0) {
            r->error = got < 0 ? errno : EPIPE;
            break;
        }
        len += (size_t)got;
    }
    r->ns = bench_now_ns() - t0;
    free(buf);
}

int bench_read_line(int baseline, long count, uint64_t *elapsed_ns,
                    char *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return fail_errno(err, "socketpair", errno);
    feeder f = {sv[1], count, 0};
    reader r = {sv[0], count, 0, 0};
    pthread_t t;
    int rc = pthread_create(&t, NULL, feed, &f);
    if (rc != 0) {
        close(sv[0]);
        close(sv[1]);
        return fail_errno(err, "pthread_create", rc);
    }
    if (baseline)
        memchr_reader(&r);
    else if (coil_run(stream_reader, &r, NULL) != 0 && !r.error)
        r.error = errno;
    if (r.error)
        shutdown(sv[0], SHUT_RDWR);       /* unblock the feeder */
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    if (r.error || f.error)
        return fail_errno(err, baseline ? "memchr reader" : "read_line",
                          r.error ? r.error : f.error);
    *elapsed_ns = r.ns;
    return 0;
}

/* ------------------------------------------------------------ line_echo */

typedef struct line_server {
    int fd;
    int bytes;                    /* byte echo instead of streams */
    uint64_t cpu_ns;
    int error;
} line_server;

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void echo_lines(line_server *e)
{
    coil_stream *s = coil_stream_new(e->fd, NULL);
    if (!s) {
        e->error = errno;
        return;
    }
    char line[4 * LINE];
    ssize_t n;
    while ((n = coil_stream_read_line(s, line, sizeof line, -1)) > 0) {
        coil_stream_write(s, line, (size_t)n);
        if (coil_stream_flush(s, -1) != 0) {
            e->error = errno;
            break;
        }
    }
    if (n < 0)
        e->error = errno;
    coil_stream_close(s);
}

static void echo_bytes(line_server *e)
{
    char buf[READ_SIZE];
    ssize_t n;
    while ((n = coil_read(e->fd, buf, sizeof buf)) > 0)
        if (coil_write_all(e->fd, buf, (size_t)n, NULL) < 0) {
            e->error = errno;
            return;
        }
    if (n < 0)
        e->error = errno;
}

static void *echo_task(void *arg)
{
    line_server *e = arg;
    uint64_t t0 = thread_cpu_ns();
    if (e->bytes)
        echo_bytes(e);
    else
        echo_lines(e);
    e->cpu_ns = thread_cpu_ns() - t0;
    return NULL;
}

static void *echo_thread(void *arg)
{
    line_server *e = arg;
    if (coil_run(echo_task, e, NULL) != 0 && !e->error)
        e->error = errno;
    return NULL;
}

/* count round trips of one line from this thread, blocking. */
static int ping(int fd, long count)
{
    char out[LINE], in[LINE];
    make_line(out, 0);
    for (long i = 0; i < count; i++) {
        if (write(fd, out, LINE) != LINE)
            return -1;
        for (size_t got = 0; got < LINE;) {
            ssize_t n = read(fd, in + got, LINE - got);
            if (n <= 0) {
                if (n == 0)
                    errno = EPIPE;
                return -1;
            }
            got += (size_t)n;
        }
    }
    return memcmp(in, out, LINE) == 0 ? 0 : (errno = EPROTO, -1);
}

int bench_line_echo(int bytes, long count, uint64_t *cpu_ns, char *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return fail_errno(err, "socketpair", errno);
    line_server e = {sv[0], bytes, 0, 0};
    pthread_t t;
    int rc = pthread_create(&t, NULL, echo_thread, &e);
    if (rc != 0) {
        close(sv[0]);
        close(sv[1]);
        return fail_errno(err, "pthread_create", rc);
    }
    int ping_error = ping(sv[1], count) != 0 ? errno : 0;
    shutdown(sv[1], SHUT_WR);             /* EOF: the server ends */
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    if (ping_error || e.error)
        return fail_errno(err, bytes ? "byte echo" : "line echo",
                          ping_error ? ping_error : e.error);
    *cpu_ns = e.cpu_ns;
    return 0;
}

/* ------------------------------------------------------------- select_4 */

enum { QUEUES = 4, SLOTS = 64 };

typedef struct sel_state {
    int single;
    long count;
    coil_queue *q[QUEUES];
    uint64_t t0, t1;
    int error;
} sel_state;

static void *sel_producer(void *arg)
{
    sel_state *s = arg;
    s->t0 = bench_now_ns();
    for (long i = 1; i <= s->count; i++) {
        coil_queue *q = s->single ? s->q[0] : s->q[i % QUEUES];
        if (coil_queue_put(q, (void *)(intptr_t)i) != 0) {
            s->error = errno;
            break;
        }
    }
    return NULL;
}

static void *sel_consumer(void *arg)
{
    sel_state *s = arg;
    coil_select_case c[QUEUES];
    for (int k = 0; k < QUEUES; k++)
        c[k] = (coil_select_case){.op = COIL_SELECT_GET, .queue = s->q[k]};
    for (long i = 1; i <= s->count && !s->error; i++) {
        void *item;
        if (s->single) {
            if (coil_queue_get(s->q[0], &item) != 0)
                s->error = errno;
        } else {
            int k = coil_select(c, QUEUES, -1);
            if (k < 0)
                s->error = errno;
        }
    }
    if (s->error)                 /* let the producer out */
        for (int k = 0; k < QUEUES && s->q[k]; k++)
            coil_queue_shutdown(s->q[k]);
    s->t1 = bench_now_ns();
    return NULL;
}

static void *sel_main(void *arg)
{
    sel_state *s = arg;
    int nq = s->single ? 1 : QUEUES;
    for (int k = 0; k < nq; k++)
        if (!(s->q[k] = coil_queue_new(COIL_QUEUE_FIFO, SLOTS / nq, NULL))) {
            s->error = errno;
            return NULL;
        }
    /* The consumer first: it starts out waiting, as in queue_64. */
    coil_task *c = coil_spawn(sel_consumer, s);
    coil_task *p = coil_spawn(sel_producer, s);
    if (c)
        coil_await(coil_task_future(c), NULL);
    if (p)
        coil_await(coil_task_future(p), NULL);
    if (!c || !p)
        s->error = ENOMEM;
    coil_task_release(c);
    coil_task_release(p);
    for (int k = 0; k < nq; k++)
        coil_queue_free(s->q[k]);
    return NULL;
}

int bench_select4(int single, long count, uint64_t *elapsed_ns, char *err)
{
    sel_state s = {.single = single, .count = count};
    if (coil_run(sel_main, &s, NULL) != 0 && !s.error)
        s.error = errno;
    if (s.error)
        return fail_errno(err, single ? "queue_get" : "coil_select",
                          s.error);
    *elapsed_ns = s.t1 - s.t0;
    return 0;
}
