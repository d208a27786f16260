/*
 * tests/stream_test.c — layer 5: buffered streams (coil_stream_*).
 *
 * Each test runs its tasks under coil_run, over pipes and socketpairs.  To
 * make a read see exactly one piece of the input, the feeding task writes
 * the piece and then yields until the pipe is empty again (FIONREAD says
 * 0): the stream has read it.  No sleep stands in for that; coil_sleep
 * appears only where a deadline must pass.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

static void pair(int sv[2])
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}

static void make_pipe(int p[2])
{
    CHECK(pipe2(p, O_CLOEXEC) == 0);
}

/* Yield until nothing is left unread in fd (the stream took it all). */
static void wait_taken(int rfd)
{
    for (int i = 0; i < 100000; i++) {
        int n = -1;
        CHECK(ioctl(rfd, FIONREAD, &n) == 0);
        if (n == 0)
            return;
        CHECK(coil_yield() == 0);
    }
    CHECK(!"the stream never read what was written");
}

/* A feeder: writes pieces of text, one read's worth each, then closes. */
typedef struct feed {
    int wfd, rfd;
    const char *text;
    size_t len;
    const size_t *cuts;     /* ascending offsets where a piece ends */
    size_t ncuts;
} feed;

static void *feeder(void *arg)
{
    feed *f = arg;
    size_t at = 0;
    for (size_t i = 0; i <= f->ncuts; i++) {
        size_t end = i < f->ncuts ? f->cuts[i] : f->len;
        if (end > at)
            CHECK(coil_write_all(f->wfd, f->text + at, end - at, NULL) ==
                  (ssize_t)(end - at));
        at = end;
        wait_taken(f->rfd);
    }
    CHECK(coil_close(f->wfd) == 0);
    return NULL;
}

/* A stream over a fresh pipe's read end, fed by a feeder task. */
static coil_stream *fed_stream(feed *f, const coil_stream_attr *attr,
                               coil_task **t)
{
    int p[2];
    make_pipe(p);
    f->rfd = p[0];
    f->wfd = p[1];
    coil_stream_attr a = attr ? *attr : (coil_stream_attr){0};
    a.flags |= COIL_STREAM_OWN_FD;
    coil_stream *s = coil_stream_new(p[0], &a);
    CHECK(s);
    *t = coil_spawn(feeder, f);
    CHECK(*t);
    return s;
}

/* ------------------------------------------------------------- read_line */

static const char lines_text[] = "alpha\nbe\r\nc\n\nlast";
static const char *const lines_want[] = {"alpha\n", "be\r\n", "c\n", "\n",
                                         "last"};

/* Read every line of lines_text fed in pieces cut at cuts[]. */
static void check_lines(const size_t *cuts, size_t ncuts)
{
    feed f = {.text = lines_text, .len = sizeof lines_text - 1, .cuts = cuts,
              .ncuts = ncuts};
    coil_task *t;
    coil_stream *s = fed_stream(&f, NULL, &t);
    char buf[64];
    for (size_t i = 0; i < sizeof lines_want / sizeof lines_want[0]; i++) {
        ssize_t n = coil_stream_read_line(s, buf, sizeof buf, -1);
        CHECK(n == (ssize_t)strlen(lines_want[i]));
        CHECK(strcmp(buf, lines_want[i]) == 0);
    }
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 0);
    CHECK(coil_stream_at_eof(s) == 1);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
}

static void *lines_main(void *arg)
{
    (void)arg;
    size_t len = sizeof lines_text - 1;
    check_lines(NULL, 0);
    for (size_t i = 1; i < len; i++)
        for (size_t j = i; j < len; j++) {
            size_t cuts[2] = {i, j};
            check_lines(cuts, 2);
        }
    size_t every[sizeof lines_text];
    for (size_t i = 0; i < len; i++)
        every[i] = i + 1;
    check_lines(every, len);
    return NULL;
}

TEST(lines_split_across_reads_in_every_position_lf_and_crlf)
{
    run_main(lines_main, NULL);
}

/* Lines many times the read buffer's size: the buffer grows for them. */
static void *long_lines_main(void *arg)
{
    (void)arg;
    static char text[3 * 1000 + 1];
    for (int l = 0; l < 3; l++) {
        memset(text + l * 1000, 'a' + l, 999);
        text[l * 1000 + 999] = '\n';
    }
    size_t cuts[] = {100, 1500, 2999};
    feed f = {.text = text, .len = 3000, .cuts = cuts, .ncuts = 3};
    coil_stream_attr attr = {.read_size = 16};
    coil_task *t;
    coil_stream *s = fed_stream(&f, &attr, &t);
    char buf[1001];
    for (int l = 0; l < 3; l++) {
        CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 1000);
        CHECK(memcmp(buf, text + l * 1000, 1000) == 0);
    }
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 0);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

TEST(lines_longer_than_the_read_buffer_grow_it)
{
    run_main(long_lines_main, NULL);
}

/* A line over the limit fails with EMSGSIZE and is dropped whole — also
 * its tail that arrives only later — and the next line reads fine. */
static void *overrun_main(void *arg)
{
    (void)arg;
    static char text[256];
    size_t n = 0;
    n += (size_t)sprintf(text + n, "short\n");
    memset(text + n, 'x', 40);                      /* tail comes later */
    n += 40;
    size_t cut1 = n;
    memset(text + n, 'y', 40);
    n += 40;
    n += (size_t)sprintf(text + n, "\nafter\n");
    memset(text + n, 'z', 30);                      /* '\n' in one read */
    n += 30;
    n += (size_t)sprintf(text + n, "\nend\n");
    size_t cuts[] = {cut1};
    feed f = {.text = text, .len = n, .cuts = cuts, .ncuts = 1};
    coil_task *t;
    coil_stream *s = fed_stream(&f, NULL, &t);
    char buf[16];
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 6);
    CHECK(strcmp(buf, "short\n") == 0);
    CHECK_ERRNO(coil_stream_read_line(s, buf, sizeof buf, -1), EMSGSIZE);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 6);
    CHECK(strcmp(buf, "after\n") == 0);
    CHECK_ERRNO(coil_stream_read_line(s, buf, sizeof buf, -1), EMSGSIZE);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 4);
    CHECK(strcmp(buf, "end\n") == 0);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 0);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

TEST(a_line_over_the_limit_is_emsgsize_and_the_stream_goes_on)
{
    run_main(overrun_main, NULL);
}

static void *exact_fit_main(void *arg)
{
    (void)arg;
    feed f = {.text = "0123456789abcd\n0123456789abcde\nok", .len = 33};
    coil_task *t;
    coil_stream *s = fed_stream(&f, NULL, &t);
    char buf[16];
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 15);
    CHECK_ERRNO(coil_stream_read_line(s, buf, sizeof buf, -1), EMSGSIZE);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 2);
    CHECK(strcmp(buf, "ok") == 0);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

TEST(a_line_of_size_minus_one_fits_one_more_byte_does_not)
{
    run_main(exact_fit_main, NULL);
}

/* A last line without its '\n' that fills size - 1 exactly, its bytes read
 * before the EOF comes (a socket's FIN after the data): it fits, and is
 * returned once the EOF shows that no '\n' follows.  It used to be
 * EMSGSIZE and dropped (found by tests/fuzz/stream_fuzz.c). */
static void *exact_fit_last_main(void *arg)
{
    (void)arg;
    static const size_t cut[] = {5};
    feed f = {.text = "ab\ncdefghijklmnopq", .len = 18, .cuts = cut,
              .ncuts = 1};
    coil_task *t;
    coil_stream *s = fed_stream(&f, NULL, &t);
    char buf[16];
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 3);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 15);
    CHECK(strcmp(buf, "cdefghijklmnopq") == 0);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 0);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

TEST(a_last_line_of_size_minus_one_fits_when_its_eof_comes_later)
{
    run_main(exact_fit_last_main, NULL);
}

/* Every line length from 1 to 300 bytes, all in the buffer at once: the
 * buffered case's scans and copies (16-byte blocks on x86-64, up to 128
 * bytes; memchr beyond) hand out each line whole, write nothing past its
 * NUL, and a line one byte too long for the caller (odd lengths from 3
 * here) is EMSGSIZE, dropped, with the next line intact. */
enum { MAX_LEN = 300, SLACK = 40 };

static void make_length_line(char *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        p[i] = (char)((len * 7 + i * 13) % 251 + 1);
        if (p[i] == '\n')
            p[i] = '\r';
    }
    p[len - 1] = '\n';
}

static void *lengths_main(void *arg)
{
    (void)arg;
    static char text[MAX_LEN * (MAX_LEN + 1) / 2];
    size_t at = 0;
    for (size_t len = 1; len <= MAX_LEN; len++, at += len - 1)
        make_length_line(text + at, len);
    feed f = {.text = text, .len = at};
    coil_stream_attr attr = {.read_size = sizeof text};
    coil_task *t;
    coil_stream *s = fed_stream(&f, &attr, &t);
    char buf[MAX_LEN + 1 + SLACK];
    at = 0;
    for (size_t len = 1; len <= MAX_LEN; at += len, len++) {
        memset(buf, 0xA5, sizeof buf);
        int short_by_one = len % 2 && len > 1;   /* size 1 is EINVAL */
        ssize_t n = coil_stream_read_line(s, buf, short_by_one ? len : len + 1,
                                          -1);
        if (short_by_one) {
            CHECK(n == -1 && errno == EMSGSIZE);
            continue;
        }
        CHECK(n == (ssize_t)len);
        CHECK(memcmp(buf, text + at, len) == 0 && buf[len] == '\0');
        for (size_t i = len + 1; i < sizeof buf; i++)
            CHECK((unsigned char)buf[i] == 0xA5);
    }
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 0);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

TEST(every_line_length_to_300_comes_out_whole_and_writes_nothing_past_it)
{
    run_main(lengths_main, NULL);
}

/* ------------------------------------------------------------ read_until */

static const char delim_text[] = "one--B--tw-o---B--x-B-B--B----B--tail";
static const char delim[] = "--B--";

static void check_records(const size_t *cuts, size_t ncuts)
{
    feed f = {.text = delim_text, .len = sizeof delim_text - 1, .cuts = cuts,
              .ncuts = ncuts};
    coil_task *t;
    coil_stream *s = fed_stream(&f, NULL, &t);
    const char *rest = delim_text;
    char buf[64];
    for (;;) {
        const char *d = strstr(rest, delim);
        if (!d)
            break;
        size_t len = (size_t)(d - rest) + 5;
        CHECK(coil_stream_read_until(s, delim, 5, buf, sizeof buf, -1) ==
              (ssize_t)len);
        CHECK(memcmp(buf, rest, len) == 0);
        rest += len;
    }
    /* EOF before another delimiter: EPIPE, the tail left buffered. */
    CHECK_ERRNO(coil_stream_read_until(s, delim, 5, buf, sizeof buf, -1),
                EPIPE);
    CHECK(coil_stream_buffered(s) == (ssize_t)strlen(rest));
    CHECK(coil_stream_read_some(s, buf, sizeof buf, -1) ==
          (ssize_t)strlen(rest));
    CHECK(memcmp(buf, rest, strlen(rest)) == 0);
    CHECK(coil_stream_read_until(s, delim, 5, buf, sizeof buf, -1) == 0);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
}

static void *records_main(void *arg)
{
    (void)arg;
    size_t len = sizeof delim_text - 1;
    for (size_t i = 1; i < len; i++)
        for (size_t j = i; j < len; j += 3) {
            size_t cuts[2] = {i, j};
            check_records(cuts, 2);
        }
    size_t every[sizeof delim_text];
    for (size_t i = 0; i < len; i++)
        every[i] = i + 1;
    check_records(every, len);
    return NULL;
}

TEST(a_multibyte_delimiter_split_across_reads_is_found)
{
    run_main(records_main, NULL);
}

/* asyncio's readuntil: an overlong record is EMSGSIZE and stays buffered. */
static void *until_overrun_main(void *arg)
{
    (void)arg;
    feed f = {.text = "0123456789\r\n\r\nok\r\n\r\n", .len = 20};
    coil_task *t;
    coil_stream *s = fed_stream(&f, NULL, &t);
    char buf[8];
    CHECK_ERRNO(coil_stream_read_until(s, "\r\n\r\n", 4, buf, sizeof buf, -1),
                EMSGSIZE);
    CHECK(coil_stream_buffered(s) >= 8);
    CHECK(coil_stream_read_exactly(s, buf, 8, NULL, -1) == 8);
    CHECK(memcmp(buf, "01234567", 8) == 0);
    CHECK(coil_stream_read_until(s, "\r\n\r\n", 4, buf, sizeof buf, -1) == 6);
    CHECK(memcmp(buf, "89\r\n\r\n", 6) == 0);
    CHECK(coil_stream_read_until(s, "\r\n\r\n", 4, buf, sizeof buf, -1) == 6);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

TEST(read_until_overrun_is_emsgsize_and_leaves_the_bytes_buffered)
{
    run_main(until_overrun_main, NULL);
}

/* ---------------------------------------------- read_exactly, peek, eof */

static void *exactly_eof_main(void *arg)
{
    (void)arg;
    /* Small (buffered path) and large (direct path, read_size 16). */
    for (int large = 0; large <= 1; large++) {
        static char text[100];
        for (int i = 0; i < 100; i++)
            text[i] = (char)('A' + i % 26);
        size_t cuts[] = {7, 60};
        feed f = {.text = text, .len = large ? 100 : 10, .cuts = cuts,
                  .ncuts = large ? 2 : 0};
        coil_stream_attr attr = {.read_size = 16};
        coil_task *t;
        coil_stream *s = fed_stream(&f, &attr, &t);
        char buf[200];
        size_t want = large ? 150 : 12, got = 12345;
        CHECK(coil_stream_read_exactly(s, buf, 3, &got, -1) == 3 && got == 3);
        CHECK_ERRNO(coil_stream_read_exactly(s, buf, want, &got, -1), EPIPE);
        CHECK(got == f.len - 3);
        CHECK(memcmp(buf, text + 3, got) == 0);
        CHECK(coil_stream_at_eof(s) == 1);
        CHECK_ERRNO(coil_stream_read_exactly(s, buf, 1, &got, -1), EPIPE);
        CHECK(got == 0);
        CHECK(coil_stream_read_exactly(s, buf, 0, &got, -1) == 0);
        await_task(t);
        CHECK(coil_stream_close(s) == 0);
    }
    return NULL;
}

TEST(read_exactly_at_early_eof_is_epipe_with_the_partial_count)
{
    run_main(exactly_eof_main, NULL);
}

static void *peek_main(void *arg)
{
    (void)arg;
    size_t cuts[] = {2, 4};
    feed f = {.text = "hello world", .len = 11, .cuts = cuts, .ncuts = 2};
    coil_task *t;
    coil_stream *s = fed_stream(&f, NULL, &t);
    char buf[32];
    CHECK(coil_stream_at_eof(s) == 0);
    CHECK(coil_stream_peek(s, buf, 5, -1) == 5);      /* waits for 5 */
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(coil_stream_peek(s, buf, 3, -1) == 3);      /* still there */
    CHECK(memcmp(buf, "hel", 3) == 0);
    CHECK(coil_stream_read_exactly(s, buf, 6, NULL, -1) == 6);
    CHECK(memcmp(buf, "hello ", 6) == 0);
    CHECK(coil_stream_peek(s, buf, 20, -1) == 5);     /* EOF came first */
    CHECK(memcmp(buf, "world", 5) == 0);
    CHECK(coil_stream_at_eof(s) == 0);                /* still buffered */
    CHECK(coil_stream_read_some(s, buf, sizeof buf, -1) == 5);
    CHECK(coil_stream_at_eof(s) == 1);
    CHECK(coil_stream_peek(s, buf, 4, -1) == 0);
    CHECK(coil_stream_read_some(s, buf, sizeof buf, -1) == 0);
    await_task(t);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

TEST(peek_waits_for_n_bytes_and_consumes_nothing_and_at_eof_follows)
{
    run_main(peek_main, NULL);
}

/* A read larger than the buffer with nothing buffered goes straight into
 * the caller's buffer: one read returns more than the buffer could hold. */
static void *direct_main(void *arg)
{
    (void)arg;
    enum { BIG = 200 * 1000 };
    int sv[2];
    pair(sv);
    int size = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    char *out = malloc(BIG), *in = malloc(BIG);
    CHECK(out && in);
    for (int i = 0; i < BIG; i++)
        out[i] = (char)(i * 7 + i / 251);
    coil_stream_attr attr = {.read_size = 4096, .flags = COIL_STREAM_OWN_FD};
    coil_stream *s = coil_stream_new(sv[0], &attr);
    CHECK(s);
    CHECK(coil_write_all(sv[1], out, 20000, NULL) == 20000);
    ssize_t n = coil_stream_read_some(s, in, BIG, -1);
    CHECK(n > 4096);                          /* more than the buffer holds */
    CHECK(memcmp(in, out, (size_t)n) == 0);
    size_t done = (size_t)n;
    CHECK(coil_write_all(sv[1], out + done, BIG - done, NULL) ==
          (ssize_t)(BIG - done));
    CHECK(coil_stream_read_exactly(s, in + done, BIG - done, NULL, -1) ==
          (ssize_t)(BIG - done));
    CHECK(memcmp(in, out, BIG) == 0);
    CHECK(coil_stream_buffered(s) == 0);
    free(in);
    free(out);
    CHECK(coil_stream_close(s) == 0);
    coil_close(sv[1]);
    return NULL;
}

TEST(large_reads_with_an_empty_buffer_go_straight_to_the_caller)
{
    run_main(direct_main, NULL);
}

/* ------------------------------------------------------------ write side */

/* The byte at offset p of the test streams: varied, with a '\n' now and
 * then, so that lines and counts both make sense over it. */
static char pattern(size_t p)
{
    return p % 89 == 88 ? '\n' : (char)('!' + (p * 131 + p / 4099) % 90);
}

static void fill_pattern(char *buf, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(from + i);
}

static int matches_pattern(const char *buf, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != pattern(from + i))
            return 0;
    return 1;
}

/* Read fd to EOF, checking every byte against the pattern from `from`.
 * Returns the count. */
static size_t read_pattern_to_eof(int fd, size_t from)
{
    static char buf[65536];
    size_t at = from;
    ssize_t n;
    while ((n = coil_read(fd, buf, sizeof buf)) > 0) {
        CHECK(matches_pattern(buf, at, (size_t)n));
        at += (size_t)n;
    }
    CHECK(n == 0);
    return at - from;
}

static void *pattern_reader(void *arg)
{
    return (void *)(uintptr_t)read_pattern_to_eof(*(int *)arg, 0);
}

enum { HIGH = 64 * 1024, LOW = 16 * 1024, CHUNK = 4096 };

typedef struct backpressure {
    coil_stream *s;
    size_t total;
    int in_drain;           /* the writer is inside drain */
    int seen_stuck;         /* main saw it held there, peer not reading */
    int checked_release;    /* the writer checked the drain that was held */
} backpressure;

static void *bp_writer(void *arg)
{
    backpressure *b = arg;
    char chunk[CHUNK];
    for (size_t at = 0; at < b->total; at += CHUNK) {
        fill_pattern(chunk, at, CHUNK);
        CHECK(coil_stream_write(b->s, chunk, CHUNK) == 0);
        b->in_drain = 1;
        int seen_before = b->seen_stuck;
        CHECK(coil_stream_drain(b->s, -1) == 0);
        b->in_drain = 0;
        ssize_t left = coil_stream_write_pending(b->s);
        CHECK(left <= HIGH);                 /* never returns above high */
        if (b->seen_stuck && !seen_before) {
            CHECK(left <= LOW);              /* held: released at low */
            b->checked_release = 1;
        }
    }
    CHECK(coil_stream_write_eof(b->s, -1) == 0);
    CHECK(coil_stream_write_pending(b->s) == 0);
    return NULL;
}

static void *backpressure_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    int small = 16 * 1024;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    coil_stream_attr attr = {.high_water = HIGH, .low_water = LOW,
                             .flags = COIL_STREAM_OWN_FD};
    backpressure b = {.s = coil_stream_new(sv[0], &attr),
                      .total = 4u << 20};
    CHECK(b.s);
    coil_task *w = coil_spawn(bp_writer, &b);
    /* The writer never yields but in drain: once it is there across a
     * yield, it is held, the peer having read nothing. */
    for (int i = 0; i < 1000 && !b.in_drain; i++)
        CHECK(coil_yield() == 0);
    CHECK(b.in_drain);
    CHECK(coil_yield() == 0);
    CHECK(b.in_drain);
    CHECK(coil_stream_write_pending(b.s) > HIGH);
    b.seen_stuck = 1;
    CHECK(read_pattern_to_eof(sv[1], 0) == b.total);
    await_task(w);
    CHECK(b.checked_release);
    CHECK(coil_stream_close(b.s) == 0);
    coil_close(sv[1]);
    return NULL;
}

TEST(drain_holds_a_writer_above_high_water_until_low_water)
{
    run_main(backpressure_main, NULL);
}

static void *write_eof_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    coil_stream *s = coil_stream_new(sv[0], NULL);
    CHECK(s);
    CHECK(coil_stream_write(s, "bye", 3) == 0);
    CHECK(coil_stream_write_pending(s) == 3);
    CHECK(coil_stream_write_eof(s, -1) == 0);
    char buf[8];
    CHECK(coil_read(sv[1], buf, sizeof buf) == 3 && memcmp(buf, "bye", 3) == 0);
    CHECK(coil_read(sv[1], buf, sizeof buf) == 0);      /* the peer's EOF */
    CHECK_ERRNO(coil_stream_write(s, "x", 1), EPIPE);
    /* The read side still works. */
    CHECK(coil_write(sv[1], "reply\n", 6) == 6);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == 6);
    CHECK(coil_stream_close(s) == 0);                   /* not owned */
    CHECK(coil_close(sv[0]) == 0 && coil_close(sv[1]) == 0);
    /* Not a socket: ENOTSOCK, after the bytes went out. */
    int p[2];
    make_pipe(p);
    s = coil_stream_new(p[1], &(coil_stream_attr){.flags = COIL_STREAM_OWN_FD});
    CHECK(coil_stream_write(s, "ab", 2) == 0);
    CHECK_ERRNO(coil_stream_write_eof(s, -1), ENOTSOCK);
    CHECK(coil_read(p[0], buf, sizeof buf) == 2);
    CHECK(coil_stream_close(s) == 0);
    CHECK(coil_close(p[0]) == 0);
    return NULL;
}

TEST(write_eof_flushes_and_the_peer_reads_eof)
{
    run_main(write_eof_main, NULL);
}

/* A write error breaks the write side for good, with that errno. */
static void *broken_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    coil_stream *s = coil_stream_new(sv[0], NULL);
    CHECK(coil_close(sv[1]) == 0);
    CHECK(coil_stream_write(s, "x", 1) == 0);
    CHECK_ERRNO(coil_stream_flush(s, -1), EPIPE);
    CHECK(coil_stream_write_pending(s) == 0);
    CHECK_ERRNO(coil_stream_write(s, "x", 1), EPIPE);
    CHECK_ERRNO(coil_stream_drain(s, -1), EPIPE);
    CHECK(coil_stream_close(s) == 0);
    CHECK(coil_close(sv[0]) == 0);
    return NULL;
}

TEST(a_failed_write_breaks_the_write_side_with_its_errno)
{
    run_main(broken_main, NULL);
}

/* -------------------------------------------------------------- deadlines */

/* The call failed with ETIMEDOUT after about `wait`. */
#define CHECK_TIMED_OUT(call, t0, wait)                                     \
    do {                                                                    \
        CHECK_ERRNO(call, ETIMEDOUT);                                       \
        double ms_ = (double)(coil_clock() - (t0)) / 1e6;                   \
        CHECK(within(ms_, (double)(wait) / 1e6,                             \
                     (double)(wait) / 1e6 + 150));                          \
    } while (0)

static void *read_deadlines_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    coil_stream_attr attr = {.read_size = 16, .flags = COIL_STREAM_OWN_FD};
    coil_stream *s = coil_stream_new(sv[0], &attr);
    char buf[128];
    size_t got = 99;
    coil_time w = COIL_MSEC(30), t0;
    CHECK(coil_write(sv[1], "part", 4) == 4);
    t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_read_line(s, buf, sizeof buf, t0 + w), t0, w);
    t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_read_until(s, "::", 2, buf, sizeof buf, t0 + w),
                    t0, w);
    t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_read_exactly(s, buf, 10, &got, t0 + w), t0, w);
    CHECK(got == 0);
    t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_peek(s, buf, 10, t0 + w), t0, w);
    /* Direct path (100 > read_size): what it read goes back. */
    t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_read_exactly(s, buf, 100, &got, t0 + w), t0, w);
    CHECK(got == 0);
    CHECK(coil_stream_buffered(s) == 4);              /* nothing consumed */
    CHECK(coil_stream_read_exactly(s, buf, 4, NULL, -1) == 4);
    t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_read_some(s, buf, sizeof buf, t0 + w), t0, w);
    /* A passed deadline still takes what is there. */
    CHECK(coil_write(sv[1], "line\n", 5) == 5);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, 0) == 5);
    CHECK(coil_stream_close(s) == 0);
    coil_close(sv[1]);
    return NULL;
}

TEST(every_read_call_times_out_at_its_deadline_consuming_nothing)
{
    run_main(read_deadlines_main, NULL);
}

static void *write_deadlines_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    int small = 16 * 1024;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    coil_stream_attr attr = {.high_water = 1024, .flags = COIL_STREAM_OWN_FD};
    coil_stream *s = coil_stream_new(sv[0], &attr);
    enum { N = 1 << 20 };
    char *data = malloc(N);
    fill_pattern(data, 0, N);
    CHECK(coil_stream_write(s, data, N) == 0);
    coil_time w = COIL_MSEC(30), t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_flush(s, t0 + w), t0, w);
    ssize_t left = coil_stream_write_pending(s);
    CHECK(left > 0 && left < N);
    t0 = coil_clock();
    CHECK_TIMED_OUT(coil_stream_drain(s, t0 + w), t0, w);
    CHECK(coil_stream_write_pending(s) == left);      /* nothing moved */
    free(data);
    /* The bytes still go out whole and in order once the peer reads. */
    coil_task *r = coil_spawn(pattern_reader, &sv[1]);
    CHECK(coil_stream_write_eof(s, -1) == 0);
    CHECK(await_task(r) == (void *)(uintptr_t)N);
    CHECK(coil_stream_close(s) == 0);
    coil_close(sv[1]);
    return NULL;
}

TEST(flush_and_drain_time_out_keeping_every_unsent_byte)
{
    run_main(write_deadlines_main, NULL);
}

/* ----------------------------------------------------------- cancellation */

/* 10 MB (scaled) through a pair of streams while a third task cancels the
 * reader and the writer at random moments, mid-read and mid-drain.  In
 * error mode each goes on after ECANCELED; in the default mode each is
 * unwound and a fresh task takes over where the last completed call left
 * off.  Every byte must arrive once, in order. */
typedef struct xfer {
    coil_stream *in, *out;
    size_t total;
    size_t rpos, wpos;      /* bytes read / handed to write, so far */
    uint32_t rseed, wseed;
    int error_mode;
    int wdone;
} xfer;

static uint32_t next_rand(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

/* Is there a '\n' (pattern's, every 89th byte) in [from, total)? */
static int newline_ahead(size_t from, size_t total)
{
    return from + (88 - from % 89) < total;
}

/* One read call of a random kind; returns what it read into buf.  The
 * tail after the pattern's last '\n' is read by count: a line read there
 * would rightly fail with EPIPE at EOF (no delimiter before it). */
static ssize_t random_read(xfer *x, char *buf, size_t cap)
{
    size_t want = 1 + next_rand(&x->rseed) % (cap - 1);
    size_t left = x->total - x->rpos;
    unsigned kinds = newline_ahead(x->rpos, x->total) ? 4 : 2;
    switch (next_rand(&x->rseed) % kinds) {
    case 0:
        return coil_stream_read_exactly(x->in, buf, want < left ? want : left,
                                        NULL, -1);
    case 1:
        return coil_stream_read_some(x->in, buf, want, -1);
    case 2:
        return coil_stream_read_line(x->in, buf, cap, -1);  /* lines < 90 */
    default:
        return coil_stream_read_until(x->in, "\n", 1, buf, cap, -1);
    }
}

static void *x_reader(void *arg)
{
    xfer *x = arg;
    static char buf[3 * 4096];
    while (x->rpos < x->total) {
        ssize_t n = random_read(x, buf, sizeof buf);
        if (n < 0) {
            if (errno != ECANCELED || !x->error_mode)
                fprintf(stderr, "x_reader: read failed at %zu of %zu: %s"
                        " (error mode %d)\n", x->rpos, x->total,
                        strerror(errno), x->error_mode);
            CHECK(errno == ECANCELED && x->error_mode);
            continue;
        }
        CHECK(n > 0);
        CHECK(matches_pattern(buf, x->rpos, (size_t)n));
        x->rpos += (size_t)n;
    }
    char c;
    while (coil_stream_read_some(x->in, &c, 1, -1) != 0)
        CHECK(errno == ECANCELED);
    return NULL;
}

static void *x_writer(void *arg)
{
    xfer *x = arg;
    static char chunk[40000];
    while (x->wpos < x->total) {
        size_t n = 1 + next_rand(&x->wseed) % sizeof chunk;
        if (n > x->total - x->wpos)
            n = x->total - x->wpos;
        fill_pattern(chunk, x->wpos, n);
        CHECK(coil_stream_write(x->out, chunk, n) == 0);
        x->wpos += n;
        if (coil_stream_drain(x->out, -1) != 0)
            CHECK(errno == ECANCELED && x->error_mode);
    }
    while (coil_stream_write_eof(x->out, -1) != 0)
        CHECK(errno == ECANCELED && x->error_mode);
    x->wdone = 1;
    return NULL;
}

/* Cancel t now and then; in the default mode replace it when it was
 * unwound.  Returns t, or its successor, or NULL once it finished. */
static coil_task *poke(coil_task *t, coil_task_fn fn, xfer *x, int *cancels)
{
    if (!t)
        return NULL;
    int state = coil_future_state(coil_task_future(t));
    if (state == COIL_DONE) {
        await_task(t);
        return NULL;
    }
    if (state == COIL_CANCELLED) {
        coil_task_release(t);
        coil_task_attr a = {.flags = 0};
        return coil_spawn_attr(&a, fn, x);
    }
    if (next_rand(&x->rseed) % 3 == 0 && coil_task_cancel(t) == 1)
        (*cancels)++;
    return t;
}

static void *cancel_main(void *arg)
{
    int error_mode = (int)(intptr_t)arg;
    int sv[2];
    pair(sv);
    coil_stream_attr own = {.flags = COIL_STREAM_OWN_FD, .read_size = 4096};
    xfer x = {.in = coil_stream_new(sv[0], &own),
              .out = coil_stream_new(sv[1], &own),
              .total = (size_t)scaled(10 << 20), .rseed = 1, .wseed = 2,
              .error_mode = error_mode};
    coil_task_attr a = {.flags = error_mode ? COIL_TASK_CANCEL_AS_ERROR : 0};
    coil_task *r = coil_spawn_attr(&a, x_reader, &x);
    coil_task *w = coil_spawn_attr(&a, x_writer, &x);
    int cancels = 0;
    while (r || w) {
        CHECK(coil_yield() == 0);
        r = poke(r, x_reader, &x, &cancels);
        w = poke(w, x_writer, &x, &cancels);
    }
    CHECK(x.rpos == x.total && x.wdone);
    CHECK(cancels > 10);
    printf("  %zu bytes intact through %d cancellations\n", x.total, cancels);
    CHECK(coil_stream_close(x.in) == 0 && coil_stream_close(x.out) == 0);
    return NULL;
}

TEST(cancelled_mid_read_and_mid_drain_in_error_mode_nothing_is_lost)
{
    run_main(cancel_main, (void *)1);
}

TEST(unwound_mid_read_and_mid_drain_nothing_is_lost)
{
    run_main(cancel_main, (void *)0);
}

/* ------------------------------------------------------------------ EBUSY */

static void *busy_reader(void *arg)
{
    char buf[16];
    CHECK(coil_stream_read_line(arg, buf, sizeof buf, -1) == 2);
    return NULL;
}

static void *busy_flusher(void *arg)
{
    CHECK(coil_stream_flush(arg, -1) == 0);
    return NULL;
}

static void *busy_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    int small = 16 * 1024;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    coil_stream *s = coil_stream_new(sv[0], NULL);
    char buf[16];
    coil_task *r = coil_spawn(busy_reader, s);
    CHECK(coil_yield() == 0);
    CHECK(coil_write(sv[1], "x", 1) == 1);             /* buffered, no line */
    CHECK(coil_yield() == 0 && coil_yield() == 0);
    CHECK_ERRNO(coil_stream_read_some(s, buf, sizeof buf, -1), EBUSY);
    CHECK_ERRNO(coil_stream_peek(s, buf, 1, -1), EBUSY);
    CHECK_ERRNO(coil_stream_read_line(s, buf, sizeof buf, -1), EBUSY);
    CHECK_ERRNO(coil_stream_close(s), EBUSY);
    CHECK(coil_write(sv[1], "\n", 1) == 1);
    await_task(r);
    /* A writer held in flush: a second is EBUSY, a write appends. */
    enum { N = 1 << 20 };
    char *data = malloc(N);
    fill_pattern(data, 0, N);
    CHECK(coil_stream_write(s, data, N - 10) == 0);
    coil_task *f = coil_spawn(busy_flusher, s);
    CHECK(coil_yield() == 0);
    CHECK_ERRNO(coil_stream_flush(s, -1), EBUSY);
    CHECK_ERRNO(coil_stream_drain(s, -1), EBUSY);
    CHECK_ERRNO(coil_stream_write_eof(s, -1), EBUSY);
    CHECK_ERRNO(coil_stream_close(s), EBUSY);
    CHECK(coil_stream_write(s, data + N - 10, 10) == 0);
    coil_task *rd = coil_spawn(pattern_reader, &sv[1]);
    await_task(f);
    CHECK(coil_stream_write_eof(s, -1) == 0);
    CHECK(await_task(rd) == (void *)(uintptr_t)N);
    free(data);
    CHECK(coil_stream_close(s) == 0);
    CHECK(coil_close(sv[0]) == 0 && coil_close(sv[1]) == 0);
    return NULL;
}

TEST(a_second_reader_or_writer_is_ebusy_and_write_appends_meanwhile)
{
    run_main(busy_main, NULL);
}

/* -------------------------------------------------------------- bad input */

static void *other_thread(void *arg)
{
    coil_stream *s = arg;
    char c;
    CHECK_ERRNO(coil_stream_write(s, "x", 1), EPERM);
    CHECK_ERRNO(coil_stream_buffered(s), EPERM);
    CHECK_ERRNO(coil_stream_read_some(s, &c, 1, -1), EPERM);
    CHECK_ERRNO(coil_stream_close(s), EPERM);
    return NULL;
}

static void null_stream_is_einval(void)
{
    char b[4];
    CHECK_ERRNO(coil_stream_close(NULL), EINVAL);
    CHECK_ERRNO(coil_stream_fd(NULL), EINVAL);
    CHECK_ERRNO(coil_stream_read_some(NULL, b, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_line(NULL, b, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_until(NULL, "x", 1, b, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_exactly(NULL, b, 4, NULL, -1), EINVAL);
    CHECK_ERRNO(coil_stream_peek(NULL, b, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_at_eof(NULL), EINVAL);
    CHECK_ERRNO(coil_stream_buffered(NULL), EINVAL);
    CHECK_ERRNO(coil_stream_write(NULL, b, 4), EINVAL);
    CHECK_ERRNO(coil_stream_drain(NULL, -1), EINVAL);
    CHECK_ERRNO(coil_stream_flush(NULL, -1), EINVAL);
    CHECK_ERRNO(coil_stream_write_eof(NULL, -1), EINVAL);
    CHECK_ERRNO(coil_stream_write_pending(NULL), EINVAL);
}

static void *bad_input_main(void *arg)
{
    coil_stream *s = arg;
    char b[4];
    null_stream_is_einval();
    CHECK_ERRNO(coil_stream_read_some(s, NULL, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_line(s, NULL, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_line(s, b, 1, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_until(s, NULL, 1, b, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_until(s, "x", 0, b, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_until(s, "xyz", 3, b, 2, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_until(s, "x", 1, NULL, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_exactly(s, NULL, 4, NULL, -1), EINVAL);
    CHECK_ERRNO(coil_stream_read_exactly(s, b, (size_t)-1, NULL, -1), EINVAL);
    CHECK_ERRNO(coil_stream_peek(s, NULL, 4, -1), EINVAL);
    CHECK_ERRNO(coil_stream_write(s, NULL, 4), EINVAL);
    CHECK_ERRNO(coil_stream_dial("127.0.0.1", 1,
                                 &(coil_stream_attr){.flags = 0x100}, -1),
                EINVAL);
    CHECK_ERRNO(coil_stream_accept(-1, NULL, -1), EBADF);
    return NULL;
}

TEST(bad_input_is_einval_ebadf_or_eperm_never_a_crash)
{
    CHECK_ERRNO(coil_stream_new(-1, NULL), EBADF);
    int p[2];
    make_pipe(p);
    close(p[1]);
    CHECK_ERRNO(coil_stream_new(p[1], NULL), EBADF);
    CHECK_ERRNO(coil_stream_new(p[0], &(coil_stream_attr){.flags = 0x100}),
                EINVAL);
    CHECK_ERRNO(coil_stream_new(p[0], &(coil_stream_attr){.high_water = 10,
                                                          .low_water = 11}),
                EINVAL);
    coil_stream *s = coil_stream_new(p[0], NULL);
    CHECK(s && coil_stream_fd(s) == p[0]);
    /* Outside a task: what may wait is EPERM; write only buffers. */
    char c;
    CHECK_ERRNO(coil_stream_read_some(s, &c, 1, -1), EPERM);
    CHECK_ERRNO(coil_stream_flush(s, -1), EPERM);
    CHECK(coil_stream_write(s, "x", 1) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, other_thread, s) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    run_main(bad_input_main, s);
    CHECK(coil_stream_close(s) == 0);
    close(p[0]);
}

/* A line buffered is still refused outside a task: to a callback on the
 * loop's own stack after tasks ran there, and to a raw coroutine that a
 * task resumes (buffered_line_may's fast check must not let them by); the
 * lines stay for the task, in order. */
enum { LONG_LINE = 80 };              /* over the SSE2 scan's 64-byte window */

static void refused_line(void *arg)
{
    char buf[2 * LONG_LINE];
    CHECK_ERRNO(coil_stream_read_line(arg, buf, sizeof buf, -1), EPERM);
    CHECK_ERRNO(coil_stream_read_some(arg, buf, 1, -1), EPERM);
}

static void *refused_line_coro(void *arg)
{
    refused_line(arg);
    return arg;
}

static void *lines_refused_main(void *arg)
{
    (void)arg;
    int p[2];
    make_pipe(p);
    char line[LONG_LINE];
    for (int i = 0; i < 4; i++) {
        memset(line, 'a' + i, sizeof line - 1);
        line[sizeof line - 1] = '\n';
        CHECK(write(p[1], line, sizeof line) == (ssize_t)sizeof line);
    }
    coil_stream *s = coil_stream_new(p[0], NULL);
    char buf[2 * LONG_LINE];
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == LONG_LINE &&
          buf[0] == 'a');
    CHECK(coil_stream_buffered(s) == 3 * LONG_LINE);
    CHECK(coil_call_soon(coil_loop_current(), refused_line, s, NULL) == 0);
    CHECK(coil_yield() == 0);          /* the callback ran meanwhile */
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == LONG_LINE &&
          buf[0] == 'b');
    coil_coro *co = coil_coro_create(NULL, refused_line_coro, s);
    void *out = NULL;
    CHECK(co && coil_coro_resume(co, NULL, &out) == 0 && out == s);
    CHECK(coil_coro_destroy(co) == 0);
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == LONG_LINE &&
          buf[0] == 'c');
    CHECK(coil_stream_read_line(s, buf, sizeof buf, -1) == LONG_LINE &&
          buf[0] == 'd');
    CHECK(coil_stream_close(s) == 0);
    coil_close(p[0]);
    close(p[1]);
    return NULL;
}

TEST(a_buffered_line_is_eperm_outside_a_task_and_stays_for_the_task)
{
    run_main(lines_refused_main, NULL);
}

static void *closed_reader(void *arg)
{
    char buf[8];
    CHECK_ERRNO(coil_stream_read_line(arg, buf, sizeof buf, -1), EBADF);
    return NULL;
}

static void *closed_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    coil_stream *s = coil_stream_new(sv[0], NULL);
    coil_task *r = coil_spawn(closed_reader, s);
    CHECK(coil_yield() == 0);
    CHECK(coil_close(sv[0]) == 0);
    await_task(r);
    CHECK(coil_stream_close(s) == 0);
    CHECK(coil_close(sv[1]) == 0);
    return NULL;
}

TEST(an_fd_closed_under_a_waiting_read_gives_ebadf)
{
    run_main(closed_main, NULL);
}

/* --------------------------------------------------------- dial / accept */

static void *echo_lines(void *arg)
{
    int lfd = *(int *)arg;
    coil_stream *s = coil_stream_accept(lfd, NULL, -1);
    CHECK(s);
    char line[64];
    ssize_t n;
    while ((n = coil_stream_read_line(s, line, sizeof line, -1)) > 0) {
        CHECK(coil_stream_write(s, line, (size_t)n) == 0);
        CHECK(coil_stream_drain(s, -1) == 0);
    }
    CHECK(n == 0);
    CHECK(coil_stream_write_eof(s, -1) == 0);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

static void *dial_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 8, 0);
    CHECK(lfd >= 0);
    coil_task *srv = coil_spawn(echo_lines, &lfd);
    coil_stream *c = coil_stream_dial("127.0.0.1", coil_socket_port(lfd),
                                      NULL, coil_deadline_in(COIL_SEC(5)));
    CHECK(c);
    CHECK(coil_stream_write(c, "ping\npong\n", 10) == 0);
    CHECK(coil_stream_write_eof(c, -1) == 0);
    char line[64];
    CHECK(coil_stream_read_line(c, line, sizeof line, -1) == 5);
    CHECK(strcmp(line, "ping\n") == 0);
    CHECK(coil_stream_read_line(c, line, sizeof line, -1) == 5);
    CHECK(strcmp(line, "pong\n") == 0);
    CHECK(coil_stream_read_line(c, line, sizeof line, -1) == 0);
    CHECK(coil_stream_at_eof(c) == 1);
    await_task(srv);
    CHECK(coil_stream_close(c) == 0);
    /* Refused once the listener is gone: NULL. */
    int port = coil_socket_port(lfd);
    CHECK(coil_close(lfd) == 0);
    CHECK_ERRNO(coil_stream_dial("127.0.0.1", port, NULL,
                                 coil_deadline_in(COIL_SEC(5))),
                ECONNREFUSED);
    return NULL;
}

TEST(dial_and_accept_make_streams_that_own_their_sockets)
{
    run_main(dial_main, NULL);
}

RUN_TESTS(T(lines_split_across_reads_in_every_position_lf_and_crlf),
          T(lines_longer_than_the_read_buffer_grow_it),
          T(a_line_over_the_limit_is_emsgsize_and_the_stream_goes_on),
          T(a_line_of_size_minus_one_fits_one_more_byte_does_not),
          T(a_last_line_of_size_minus_one_fits_when_its_eof_comes_later),
          T(every_line_length_to_300_comes_out_whole_and_writes_nothing_past_it),
          T(a_multibyte_delimiter_split_across_reads_is_found),
          T(read_until_overrun_is_emsgsize_and_leaves_the_bytes_buffered),
          T(read_exactly_at_early_eof_is_epipe_with_the_partial_count),
          T(peek_waits_for_n_bytes_and_consumes_nothing_and_at_eof_follows),
          T(large_reads_with_an_empty_buffer_go_straight_to_the_caller),
          T(drain_holds_a_writer_above_high_water_until_low_water),
          T(write_eof_flushes_and_the_peer_reads_eof),
          T(a_failed_write_breaks_the_write_side_with_its_errno),
          T(every_read_call_times_out_at_its_deadline_consuming_nothing),
          T(flush_and_drain_time_out_keeping_every_unsent_byte),
          T(cancelled_mid_read_and_mid_drain_in_error_mode_nothing_is_lost),
          T(unwound_mid_read_and_mid_drain_nothing_is_lost),
          T(a_second_reader_or_writer_is_ebusy_and_write_appends_meanwhile),
          T(bad_input_is_einval_ebadf_or_eperm_never_a_crash),
          T(a_buffered_line_is_eperm_outside_a_task_and_stays_for_the_task),
          T(an_fd_closed_under_a_waiting_read_gives_ebadf),
          T(dial_and_accept_make_streams_that_own_their_sockets))
