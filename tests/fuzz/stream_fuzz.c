/*
 * tests/fuzz/stream_fuzz.c — coil's streams against a model of a byte
 * string.
 *
 * Each input decodes into a byte stream (from a small alphabet, so that
 * lines, "\r\n" and the delimiters come often), the stream's read-buffer
 * size, how a writer task cuts the bytes into writes (chunk sizes, drains,
 * flushes, yields and short pauses: so the reader sees them arrive in
 * every kind of piece) and a list of read operations: read_line,
 * read_until, read_exactly, peek, read_some, and the at_eof/buffered
 * queries, one in eight with a deadline 0-200 us away.  The writer sends
 * through a coil_stream on one end of a socketpair (half the time with the
 * kernel's least buffers, so that its sends block and drain waits, after
 * which at most high_water bytes are left unsent), the reader runs the
 * operations on a coil_stream over the other end, and a model that holds
 * the whole byte string says what each must give: the value, the bytes,
 * the errno (EMSGSIZE, EPIPE, EINVAL), and how far the stream has moved.
 * What depends on timing is checked as a range: read_some returns 1 to n
 * of the next bytes, and a read with a short deadline either does what
 * the model says or fails with ETIMEDOUT having consumed nothing.  After
 * read_line's EMSGSIZE the next operation is always a read_line: coil.h
 * leaves the rest of the overlong line to it, and what another call would
 * see there depends on how much had arrived.  The reader then reads
 * everything left and compares it too.
 *
 * Built two ways: a libFuzzer target in the fuzz build (tools/fuzz.sh),
 * and with STREAM_FUZZ_MAIN a plain program that runs random inputs from
 * a seed, which is the `stream_fuzz` test of the default suite
 * (COIL_STREAM_FUZZ_SEED=<seed> replays a run it printed; given files, it
 * runs each as one input).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE                   /* memmem */
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coil.h"
#include "require.h"
#include "../seeded.h"

enum { MAX_DATA = 4096, MAX_OPS = 64, BIG = 512 };

/* The decoder: input bytes in order, zeros once they run out. */
typedef struct input {
    const uint8_t *p;
    size_t n, at;
} input;

static unsigned next(input *in)
{
    return in->at < in->n ? in->p[in->at++] : 0;
}

/* The model: the whole byte string and how much of it the reader has
 * taken.  skip: read_line failed with EMSGSIZE on the line at pos and the
 * next read_line drops the rest of it. */
typedef struct model {
    char data[MAX_DATA];
    size_t len, pos;
    int skip;
} model;

static size_t line_end(const model *m, size_t from)
{
    const char *nl = memchr(m->data + from, '\n', m->len - from);
    return nl ? (size_t)(nl - m->data) + 1 : m->len;
}

typedef struct run {
    input in;
    model m;
    int fds[2];
    size_t read_size, high_water;
    /* The writer's plan, decoded before anything runs. */
    size_t nchunks;
    struct { size_t len; unsigned then; } chunks[MAX_DATA];
    /* The reader's. */
    size_t nops;
    struct { unsigned op, a, b; } ops[MAX_OPS];
    coil_time deadline;           /* the current read's */
    int timed;                    /* ...and whether it may pass */
    int naps;                     /* the writer's pauses so far */
    int small_buffers;            /* the socket's, set to the least */
} run;

/* What the inputs made the stream do, for the plain program's summary:
 * a run that never reaches an outcome tests nothing of it. */
enum { LINE, LINE_LONG, UNTIL, UNTIL_LONG, UNTIL_EOF, EXACTLY, EXACTLY_EOF,
       PEEK, SOME, TIMEOUT, NOUTCOMES };
static long outcomes[NOUTCOMES];

static const char alphabet[] = "a\nb\r-=\n-";  /* 8: '\n' and '-' twice */
static const char *const delims[] = {"-", "=-", "\r\n", "--="};

static coil_time soon(void)
{
    /* Every wait here ends as soon as the writer gets on: a deadline
     * turns a hang into a failure that says where. */
    return coil_deadline_in(COIL_SEC(10));
}

/* A read whose deadline passed: -1, ETIMEDOUT, and (coil.h) nothing
 * consumed, which the caller checks by leaving the model as it was. */
static int timed_out(run *r, ssize_t got)
{
    if (got != -1 || errno != ETIMEDOUT)
        return 0;
    REQUIRE(r->timed);
    outcomes[TIMEOUT]++;
    return 1;
}

/* ---------------------------------------------------------------- writer */

static void *writer(void *arg)
{
    run *r = arg;
    coil_stream_attr attr = {.high_water = r->high_water};
    coil_stream *s = coil_stream_new(r->fds[1], &attr);
    REQUIRE(s != NULL);
    size_t at = 0;
    for (size_t i = 0; i < r->nchunks; i++) {
        REQUIRE(coil_stream_write(s, r->m.data + at, r->chunks[i].len) == 0);
        at += r->chunks[i].len;
        switch (r->chunks[i].then % 8 < 4 ? r->chunks[i].then % 8
                                          : r->chunks[i].then % 8 == 7 ? 4
                                                                       : 3) {
        case 0:
            break;                    /* more to the write buffer first */
        case 1:
            /* Back-pressure: whatever it waited for, no more than
             * high_water is left (at most low_water if it had to wait). */
            REQUIRE(coil_stream_drain(s, soon()) == 0);
            REQUIRE(coil_stream_write_pending(s) <= (ssize_t)r->high_water);
            break;
        case 2:
            REQUIRE(coil_stream_flush(s, soon()) == 0);
            REQUIRE(coil_stream_write_pending(s) == 0);
            break;
        case 3:
            REQUIRE(coil_stream_flush(s, soon()) == 0);
            REQUIRE(coil_yield() == 0);   /* let the reader see this much */
            break;
        default:
            /* A pause the reader's short deadlines may run out in, mid-
             * read: a few per input, or the fuzzer would mostly sleep. */
            REQUIRE(coil_stream_flush(s, soon()) == 0);
            if (r->naps++ < 4)
                REQUIRE(coil_sleep(COIL_USEC(150)) == 0);
        }
    }
    REQUIRE(at == r->m.len);
    REQUIRE(coil_stream_write_eof(s, soon()) == 0);
    REQUIRE(coil_stream_write_pending(s) == 0);
    REQUIRE(coil_stream_close(s) == 0);
    return NULL;
}

/* ------------------------------------------------------- the operations */

static void check_line(run *r, coil_stream *s, size_t size)
{
    model *m = &r->m;
    char buf[BIG + 2];
    size_t was_pos = m->pos;
    int was_skip = m->skip;
    if (m->skip) {
        m->pos = line_end(m, m->pos);
        m->skip = 0;
    }
    ssize_t got = coil_stream_read_line(s, buf, size, r->deadline);
    if (timed_out(r, got)) {
        /* Whether the skip was done or is still to do, the next
         * read_line ends up past the same '\n'. */
        m->pos = was_pos;
        m->skip = was_skip;
        return;
    }
    if (m->pos == m->len) {
        REQUIRE(got == 0);
        return;
    }
    size_t want = line_end(m, m->pos) - m->pos;
    if (want > size - 1) {
        REQUIRE(got == -1 && errno == EMSGSIZE);
        m->skip = 1;
        outcomes[LINE_LONG]++;
        return;
    }
    REQUIRE(got == (ssize_t)want);
    REQUIRE(memcmp(buf, m->data + m->pos, want) == 0 && buf[want] == '\0');
    m->pos += want;
    outcomes[LINE]++;
}

static void check_until(run *r, coil_stream *s, unsigned which, size_t size)
{
    model *m = &r->m;
    const char *delim = delims[which % 4];
    size_t dlen = strlen(delim);
    char buf[BIG];
    ssize_t got = coil_stream_read_until(s, delim, dlen, buf, size,
                                         r->deadline);
    if (size < dlen) {
        REQUIRE(got == -1 && errno == EINVAL);
        return;
    }
    if (timed_out(r, got))
        return;
    const char *d = memmem(m->data + m->pos, m->len - m->pos, delim, dlen);
    size_t rest = m->len - m->pos;
    if (d) {
        size_t want = (size_t)(d - (m->data + m->pos)) + dlen;
        if (want > size) {
            REQUIRE(got == -1 && errno == EMSGSIZE);  /* nothing consumed */
            outcomes[UNTIL_LONG]++;
            return;
        }
        REQUIRE(got == (ssize_t)want);
        REQUIRE(memcmp(buf, m->data + m->pos, want) == 0);
        m->pos += want;
        outcomes[UNTIL]++;
    } else if (rest == 0) {
        REQUIRE(got == 0);
    } else if (rest >= size) {
        REQUIRE(got == -1 && errno == EMSGSIZE);
        outcomes[UNTIL_LONG]++;
    } else {
        REQUIRE(got == -1 && errno == EPIPE);         /* left buffered */
        outcomes[UNTIL_EOF]++;
    }
}

static void check_exactly(run *r, coil_stream *s, size_t n)
{
    model *m = &r->m;
    char buf[BIG];
    size_t got_n = 12345;
    ssize_t got = coil_stream_read_exactly(s, buf, n, &got_n, r->deadline);
    if (timed_out(r, got)) {
        REQUIRE(got_n == 0);
        return;
    }
    size_t rest = m->len - m->pos;
    if (rest >= n) {
        REQUIRE(got == (ssize_t)n && got_n == n);
        outcomes[EXACTLY]++;
    } else {
        REQUIRE(got == -1 && errno == EPIPE && got_n == rest);
        n = rest;
        outcomes[EXACTLY_EOF]++;
    }
    REQUIRE(memcmp(buf, m->data + m->pos, n) == 0);
    m->pos += n;
}

static void check_peek(run *r, coil_stream *s, size_t n)
{
    model *m = &r->m;
    char buf[BIG];
    ssize_t got = coil_stream_peek(s, buf, n, r->deadline);
    if (timed_out(r, got))
        return;
    size_t rest = m->len - m->pos, want = n < rest ? n : rest;
    REQUIRE(got == (ssize_t)want);
    REQUIRE(memcmp(buf, m->data + m->pos, want) == 0);
    outcomes[PEEK]++;
}

static void check_some(run *r, coil_stream *s, size_t n)
{
    model *m = &r->m;
    char buf[BIG];
    ssize_t got = coil_stream_read_some(s, buf, n, r->deadline);
    if (timed_out(r, got))
        return;
    size_t rest = m->len - m->pos;
    if (n == 0 || rest == 0) {
        REQUIRE(got == 0);
        return;
    }
    REQUIRE(got >= 1 && (size_t)got <= n && (size_t)got <= rest);
    REQUIRE(memcmp(buf, m->data + m->pos, (size_t)got) == 0);
    m->pos += (size_t)got;
    outcomes[SOME]++;
}

/* What the queries may say without waiting: never more buffered than the
 * model has left, and EOF only once everything was taken. */
static void check_queries(run *r, coil_stream *s)
{
    model *m = &r->m;
    ssize_t buffered = coil_stream_buffered(s);
    int at_eof = coil_stream_at_eof(s);
    REQUIRE(buffered >= 0 && (at_eof == 0 || at_eof == 1));
    if (m->skip)
        return;                       /* how much was dropped is not known */
    REQUIRE((size_t)buffered <= m->len - m->pos);
    if (at_eof)
        REQUIRE(m->pos == m->len && buffered == 0);
}

/* ---------------------------------------------------------------- reader */

static void *reader(void *arg)
{
    run *r = arg;
    coil_stream_attr attr = {.read_size = r->read_size};
    coil_stream *s = coil_stream_new(r->fds[0], &attr);
    REQUIRE(s != NULL);
    coil_task *w = coil_spawn(writer, r);
    REQUIRE(w != NULL);
    for (size_t i = 0; i < r->nops; i++) {
        unsigned a = r->ops[i].a, b = r->ops[i].b;
        /* Small sizes mostly, around the read buffer's; now and then one
         * past it, which takes the direct-read and growing paths. */
        size_t n = a & 0x80 ? (b * 2u) % BIG : b % 48;
        unsigned op = r->m.skip ? 0 : r->ops[i].op % 6;
        /* A read in eight with a deadline 0 to 200 us away: reads cut
         * short in every state, which must consume nothing. */
        r->timed = (r->ops[i].op & 0x70) == 0x70;
        r->deadline = r->timed ? coil_deadline_in(COIL_USEC(b % 5 * 50))
                               : soon();
        switch (op) {
        case 0:
            check_line(r, s, 2 + n % (BIG - 1));
            break;
        case 1:
            check_until(r, s, a, n);
            break;
        case 2:
            check_exactly(r, s, n);
            break;
        case 3:
            check_peek(r, s, n);
            break;
        case 4:
            check_some(r, s, n);
            break;
        default:
            check_queries(r, s);
        }
    }
    r->timed = 0;
    r->deadline = soon();
    while (r->m.skip)                 /* drops the rest of the long line */
        check_line(r, s, BIG);
    while (r->m.pos < r->m.len)
        check_some(r, s, BIG);
    check_some(r, s, BIG);            /* EOF: 0 */
    REQUIRE(coil_stream_at_eof(s) == 1);
    REQUIRE(coil_await(coil_task_future(w), NULL) == 0);
    coil_task_release(w);
    REQUIRE(coil_stream_close(s) == 0);
    return NULL;
}

/* ---------------------------------------------------------------- decode */

static void decode(run *r)
{
    input *in = &r->in;
    unsigned b = next(in);
    r->read_size = b == 255 ? 0 : 1 + b % 64;     /* 0: the default */
    b = next(in);
    r->high_water = 1 + b * 4u;
    r->small_buffers = b & 1;
    /* Short byte strings mostly (up to 191 bytes), long ones too. */
    size_t len = next(in);
    if (len >= 192)
        len = ((len - 192) << 8 | next(in)) % MAX_DATA;
    r->nops = next(in) % (MAX_OPS + 1);
    for (size_t i = 0; i < r->nops; i++) {
        r->ops[i].op = next(in);
        r->ops[i].a = next(in);
        r->ops[i].b = next(in);
    }
    r->nchunks = 0;
    for (size_t at = 0; at < len;) {
        unsigned c = next(in);
        size_t piece = c & 0x80 ? 1 + (c & 0x7f) * 8u : 1 + c % 16;
        if (piece > len - at)
            piece = len - at;
        r->chunks[r->nchunks].len = piece;
        r->chunks[r->nchunks].then = next(in);
        r->nchunks++;
        at += piece;
    }
    /* The bytes last: an input that runs out early still has its plan. */
    for (size_t i = 0; i < len; i++) {
        unsigned c = next(in);
        r->m.data[i] = c & 0x80 ? (char)(c & 0x7f) : alphabet[c % 8];
    }
    r->m.len = len;
    r->m.pos = 0;
    r->m.skip = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run r;                     /* big: not on the fuzzer's stack */
    memset(&r, 0, sizeof r);
    r.in = (input){data, size, 0};
    decode(&r);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r.fds) == 0);
    if (r.small_buffers) {
        /* The kernel's least (a few KiB): writes block while the reader
         * lags, and drain and flush wait for it. */
        int one = 1;
        REQUIRE(setsockopt(r.fds[1], SOL_SOCKET, SO_SNDBUF, &one,
                           sizeof one) == 0);
        REQUIRE(setsockopt(r.fds[0], SOL_SOCKET, SO_RCVBUF, &one,
                           sizeof one) == 0);
    }
    REQUIRE(coil_run(reader, &r, NULL) == 0);
    /* The streams do not own the fds. */
    REQUIRE(close(r.fds[0]) == 0 && close(r.fds[1]) == 0);
    return 0;
}

#ifdef STREAM_FUZZ_MAIN
/* Random inputs from a seed (tests/seeded.h), so that a seed printed by a
 * failed run replays it exactly. */
static uint64_t rng_state;

static uint64_t rng(void)
{
    return seeded_next(&rng_state);
}

/* Each file named, as one input (a fuzzer's finding, a corpus seed). */
static int run_files(int argc, char **argv)
{
    static uint8_t buf[1 << 16];
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        REQUIRE(f != NULL);
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        printf("ok   %s\n", argv[i]);
    }
    printf("%d passed, 0 failed\n", argc - 1);
    return 0;
}

static int running_under_tsan(void)
{
#if defined(__SANITIZE_THREAD__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return 1;
#endif
#endif
    return 0;
}

static const char *const outcome_names[NOUTCOMES] = {
    "lines", "overlong lines", "records", "overlong records",
    "records cut by EOF", "exact reads", "exact reads cut by EOF", "peeks",
    "read_somes", "time-outs"};

int main(int argc, char **argv)
{
    if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9'))
        return run_files(argc, argv);
    uint64_t seed = seeded_seed("COIL_STREAM_FUZZ_SEED");
    long runs = argc > 1 ? atol(argv[1]) : 5000;
    if (getenv("COIL_TEST_EMULATED") || running_under_tsan())
        runs /= 10;                   /* ten times slower there */
    printf("seed %llu (replay: COIL_STREAM_FUZZ_SEED=%llu)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    fflush(stdout);
    rng_state = seed ? seed : 1;
    static uint8_t buf[8192];
    for (long i = 0; i < runs; i++) {
        /* Short inputs and long ones: the plan first, the bytes after. */
        size_t n = rng() % 4 == 0 ? rng() % sizeof buf : rng() % 512;
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rng();
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("%ld inputs, every result as the model says:", runs);
    for (int k = 0; k < NOUTCOMES; k++) {
        printf("%s %ld %s", k ? "," : "", outcomes[k], outcome_names[k]);
        REQUIRE(runs < 1000 || outcomes[k] > 0);
    }
    printf("\n1 passed, 0 failed\n");
    return 0;
}
#endif
