/*
 * src/io/stream.c — buffered streams (layer 6): the object and its read side.
 * The write side and the socket wrappers are src/stream_write.c.
 *
 * Reads go through coil_read_until, so deadlines, cancellation, EBUSY for
 * a second waiter and coil_close wake-ups are io.c's.  What this file adds
 * is the buffer, and one rule that makes cancellation safe: a read call
 * consumes bytes (moves rpos) only once it is sure to succeed.  Until then
 * it scans the buffer and fills it, and every suspension point is a fill,
 * which only ever appends: a call unwound or failed at any of them leaves
 * the buffer as a later call expects it.  The one exception, a large
 * read_exactly that reads straight into the caller's buffer, puts what it
 * got back into the read buffer on the way out (give_back below).
 *
 * Each read call counts once against the task's cooperative budget
 * (task.h), and the fd reads it makes count as coil_read's do.  Its yield,
 * once the budget is spent, comes after read_enter, under read_leave:
 * the call is inside the stream while it yields, so a second reader gets
 * EBUSY and coil_stream_close refuses to free the stream under it, as
 * they would while it waited; and before anything is consumed.
 *
 * Only the reading task touches rbuf, and a second reader is refused
 * (EBUSY) for the whole call, not only while it waits: the first may be
 * suspended in a read into rbuf, which a second could otherwise move.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"
#include "io/stream.h"
#include "loop/debug.h"
#include "task/task.h"

enum {
    DEFAULT_READ_SIZE = 16 * 1024,     /* Go's bufio uses 4 KiB, asyncio
                                          reads 64 KiB at a time */
    DEFAULT_HIGH_WATER = 64 * 1024     /* asyncio's default */
};

/* ------------------------------------------------------------ the object */

__thread char coil__stream_thread_mark
    __attribute__((tls_model("initial-exec")));

coil_task *coil__stream_task(const coil_stream *s, const char *call)
{
    if (coil__stream_check(s) != 0)
        return NULL;
    coil_task *t = coil__task_self();
    if (!t)
        coil__debug_outside_task(call);
    return t;
}

/* attr's sizes with the defaults filled in, into s (s NULL: only check).
 * 0, or -1 with errno EINVAL. */
int coil__stream_attr(coil_stream *s, const coil_stream_attr *attr)
{
    coil_stream_attr a = attr ? *attr : (coil_stream_attr){0};
    size_t high = a.high_water ? a.high_water : DEFAULT_HIGH_WATER;
    size_t low = a.low_water ? a.low_water : high / 4;
    if ((a.flags & ~(unsigned)COIL_STREAM_OWN_FD) || low > high) {
        errno = EINVAL;
        return -1;
    }
    if (s) {
        s->flags = a.flags;
        s->rsize = a.read_size ? a.read_size : DEFAULT_READ_SIZE;
        s->high = high;
        s->low = low;
    }
    return 0;
}

coil_stream *coil_stream_new(int fd, const coil_stream_attr *attr)
{
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
        errno = EBADF;
        return NULL;
    }
    coil_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (coil__stream_attr(s, attr) != 0) {
        free(s);
        return NULL;
    }
    s->fd = fd;
    s->thread = s->idle_on = &coil__stream_thread_mark;
    return s;
}

int coil_stream_close(coil_stream *s)
{
    if (coil__stream_check(s) != 0)
        return -1;
    if (s->reader || s->writer) {
        errno = EBUSY;
        return -1;
    }
    int r = 0;
    if (s->flags & COIL_STREAM_OWN_FD)
        r = coil_close(s->fd);
    int e = errno;
    free(s->rbuf);
    free(s->wbuf);
    free(s);
    errno = e;
    return r;
}

int coil_stream_fd(const coil_stream *s)
{
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    return s->fd;
}

/* --------------------------------------------------------- the read buffer */

static size_t avail(const coil_stream *s)
{
    return s->rlen - s->rpos;
}

static void consume(coil_stream *s, size_t n)
{
    s->rpos += n;
    if (s->rpos == s->rlen)
        s->rpos = s->rlen = 0;        /* empty: the next fill starts at 0 */
}

/* Room for `need` bytes from rpos, and for at least one more: compact,
 * then grow (doubling, so a long line costs O(n) copies).  Compact also
 * when less than half a read is left at the end: the unread part is then
 * usually the head of one line, cheap to move, while a read into the last
 * few bytes of the buffer would spend a syscall on them (the read + memchr
 * loop that bench/bench_toolbox.c holds read_line against compacts before
 * every read).  Never called while a fill is suspended, so moving rbuf is
 * safe.  0, or -1 with errno ENOMEM. */
static int reserve(coil_stream *s, size_t need)
{
    if (need <= avail(s))
        need = avail(s) + 1;
    int short_tail = s->rcap - s->rlen < s->rsize / 2;
    if (need <= s->rcap - s->rpos && !(short_tail && s->rpos))
        return 0;
    if (s->rpos) {
        memmove(s->rbuf, s->rbuf + s->rpos, avail(s));
        s->rlen -= s->rpos;
        s->rpos = 0;
        if (need <= s->rcap)
            return 0;
    }
    size_t cap = s->rcap ? s->rcap : s->rsize;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *b = realloc(s->rbuf, cap);
    if (!b)
        return -1;
    s->rbuf = b;
    s->rcap = cap;
    return 0;
}

/* Append one read's worth to the buffer (room reserved by the caller).
 * Returns the bytes added, 0 at EOF (remembered), or -1 with errno as
 * coil_read_until.  The only place the read side suspends. */
static ssize_t fill(coil_stream *s, coil_time deadline)
{
    if (s->eof)
        return 0;
    ssize_t n = coil_read_until(s->fd, s->rbuf + s->rlen, s->rcap - s->rlen,
                                deadline);
    if (n > 0)
        s->rlen += (size_t)n;
    else if (n == 0)
        s->eof = 1;
    return n;
}

/* Where the first of len buffered bytes would be, from offset `from`
 * of the unread part, or NULL if there is none (rbuf may not exist yet). */
static char *unread(const coil_stream *s, size_t from)
{
    return avail(s) > from ? s->rbuf + s->rpos + from : NULL;
}

/* Hand out the first n buffered bytes. */
static void take(coil_stream *s, void *buf, size_t n)
{
    if (n == 0)
        return;
    memcpy(buf, s->rbuf + s->rpos, n);
    consume(s, n);
}

/* ------------------------------------------------- entering a read call */

/* The state of one read call, seen by its cleanup handler. */
typedef struct read_call {
    coil_stream *s;
    char *buf;          /* a direct read_exactly's destination */
    size_t got;         /* ...and what it holds */
    int give_back;      /* on the way out, return buf[0, got) to s */
} read_call;

/* Runs on every way out of a read call, unwinding included. */
static void read_leave(void *arg)
{
    read_call *c = arg;
    coil_stream *s = c->s;
    if (c->give_back && c->got > 0) {
        /* The direct path read only into buf, so the buffer is empty,
         * and reserved room for n bytes up front. */
        memcpy(s->rbuf, c->buf, c->got);
        s->rpos = 0;
        s->rlen = c->got;
    }
    s->reader = NULL;
    s->idle_on = s->skip_line ? NULL : s->thread;
}

static int read_enter(coil_stream *s, const char *call)
{
    coil_task *t = coil__stream_task(s, call);
    if (!t)
        return -1;
    if (s->reader) {
        errno = EBUSY;
        return -1;
    }
    s->reader = t;
    s->idle_on = NULL;
    return 0;
}

/* --------------------------------------------------------------- read_some */

static ssize_t read_some(coil_stream *s, void *buf, size_t n,
                         coil_time deadline)
{
    if (avail(s) == 0 && !s->eof) {
        size_t cap = s->rcap ? s->rcap : s->rsize;
        if (n >= cap) {               /* large: skip the copy */
            ssize_t r = coil_read_until(s->fd, buf, n, deadline);
            if (r == 0)
                s->eof = 1;
            return r;
        }
        if (reserve(s, 1) != 0)
            return -1;
        ssize_t r = fill(s, deadline);
        if (r <= 0)
            return r;
    }
    size_t k = avail(s) < n ? avail(s) : n;
    take(s, buf, k);
    return (ssize_t)k;
}

ssize_t coil_stream_read_some(coil_stream *s, void *buf, size_t n,
                              coil_time deadline)
{
    if (!buf && n > 0) {
        errno = EINVAL;
        return -1;
    }
    if (read_enter(s, "coil_stream_read_some") != 0)
        return -1;
    read_call c = {.s = s};
    ssize_t r;
    int e;
    coil_cleanup_push(read_leave, &c);
    r = coil__budget_spend() != 0 ? -1
        : n                       ? read_some(s, buf, n, deadline)
                                  : 0;
    e = errno;
    coil_cleanup_pop(1);
    errno = e;
    return r;
}

/* --------------------------------------------------------------- read_line */

/* Drop the rest of an overlong line, through its '\n'.  0 once it is
 * gone (or EOF came first), or -1 with errno as fill: then skip_line
 * stays set and the next read_line goes on dropping. */
static int skip_line(coil_stream *s, coil_time deadline)
{
    for (;;) {
        char *base = unread(s, 0);
        char *nl = base ? memchr(base, '\n', avail(s)) : NULL;
        if (nl) {
            consume(s, (size_t)(nl - base) + 1);
            break;
        }
        consume(s, avail(s));
        if (s->eof)
            break;
        if (reserve(s, 1) != 0 || fill(s, deadline) < 0)
            return -1;
    }
    s->skip_line = 0;
    return 0;
}

/* An overlong line: drop what of it is buffered; if its '\n' has not come
 * yet, the next read_line drops the rest. */
static ssize_t overrun(coil_stream *s, size_t len, int complete)
{
    consume(s, complete ? len : avail(s));
    s->skip_line = !complete && !s->eof;
    errno = EMSGSIZE;
    return -1;
}

static ssize_t read_line(coil_stream *s, char *buf, size_t size,
                         coil_time deadline)
{
    if (s->skip_line && skip_line(s, deadline) != 0)
        return -1;
    size_t limit = size - 1, scanned = 0;
    for (;;) {
        char *from = unread(s, scanned);
        char *nl = from ? memchr(from, '\n', avail(s) - scanned) : NULL;
        size_t len = nl ? (size_t)(nl - unread(s, 0)) + 1 : avail(s);
        if (nl || s->eof) {
            if (len > limit)
                return overrun(s, len, 1);
            take(s, buf, len);
            buf[len] = '\0';
            return (ssize_t)len;
        }
        /* One byte more than limit decides: a '\n' or more of the line
         * make it too long; EOF instead makes it a last line that fits. */
        if (len > limit)
            return overrun(s, len, 0);
        scanned = len;
        if (reserve(s, len + 1) != 0 || fill(s, deadline) < 0)
            return -1;
    }
}

/* Short lines, on CPUs with SSE2 (every x86-64): the '\n' is looked for
 * in 64-byte windows and the line copied in 16-byte blocks, inline.  Calls
 * to memchr and memcpy cost a 64-byte line more than the scanning and the
 * copying themselves: the values that must live across them (saved
 * registers, spills, reloads), the PLT, and their own set-up for a length
 * they do not know.  A line not found in the first SHORT_LINE bytes, or a
 * buffer holding less than a window, goes the memchr way.  Elsewhere
 * memchr and memcpy do it all. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define COIL_SHORT_LINE_SCAN 1
enum { WINDOW = 64, SHORT_LINE = 2 * WINDOW };

static inline uint64_t newline_bits_16(const char *p)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_set1_epi8('\n')));
}

/* Bit i set: p[i] is a '\n', for the WINDOW bytes at p. */
static inline uint64_t newline_bits(const char *p)
{
    return newline_bits_16(p) | newline_bits_16(p + 16) << 16 |
           newline_bits_16(p + 32) << 32 | newline_bits_16(p + 48) << 48;
}

/* The length through the first '\n' in the n bytes at buf + at if that
 * '\n' is among the first SHORT_LINE bytes and n holds the windows it is
 * in; else 0.  A length, not a pointer: the caller wants one, and the
 * conversions back and forth cost instructions on every line.  Nothing
 * past buf + at + n is read, and with n too small to scan, buf may be
 * NULL (a stream that has not read yet). */
static inline size_t short_line_length(const char *buf, size_t at, size_t n)
{
    uint64_t bits;
    if (n < WINDOW)
        return 0;
    const char *p = buf + at;
    if ((bits = newline_bits(p)) != 0)
        return (size_t)__builtin_ctzll(bits) + 1;
    if (n < 2 * WINDOW || (bits = newline_bits(p + WINDOW)) == 0)
        return 0;
    return WINDOW + (size_t)__builtin_ctzll(bits) + 1;
}

/* Copy n bytes, w <= n <= 2w, as two w-byte moves from both ends that
 * overlap in the middle: w is a constant at every call, so each move is
 * one load and one store. */
static inline void copy_ends(char *d, const char *s, size_t n, size_t w)
{
    memcpy(d, s, w);
    memcpy(d + n - w, s + n - w, w);
}

/* Copy n bytes, 1 <= n <= SHORT_LINE: 16-byte blocks from both ends,
 * overlapping in the middle, or two overlapping words below 16.  Lines
 * over 32 bytes are tested for first: most lines of text protocols are. */
static inline void copy_short(char *d, const char *s, size_t n)
{
    if (n > 32) {
        for (size_t i = 32; i + 32 < n; i += 16)
            memcpy(d + i, s + i, 16);          /* lines over 64 bytes */
        memcpy(d + 16, s + 16, 16);
        memcpy(d + n - 32, s + n - 32, 16);
        copy_ends(d, s, n, 16);
    } else if (n >= 16) {
        copy_ends(d, s, n, 16);
    } else if (n >= 8) {
        copy_ends(d, s, n, 8);
    } else if (n >= 4) {
        copy_ends(d, s, n, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}
#else
#define COIL_SHORT_LINE_SCAN 0
#endif

/* The common case, checked first and cheaply (this is the whole cost of
 * most calls: bench_toolbox's read_line row holds it against a bare
 * memchr + memcpy loop): the stream is this thread's, no other call is
 * reading and no overlong line is being dropped (all three in idle_on),
 * and the caller is a task with budget left (both in the budget's word,
 * which is 0 outside a task: task.h).  Whether anything is buffered is
 * left to the scans, which find no line in nothing.  Then
 * coil_stream_read_line looks for a whole line that fits and hands it out
 * without the cleanup handler that a call which may suspend needs; else
 * read_line_slow makes every check again and reports.  The checks come
 * before the memchr and the copy comes last, so that few values live
 * across the two calls (callgrind counts each one kept as a saved
 * register, a spill and a reload per line). */
static inline int buffered_line_may(const coil_stream *s)
{
    return s->idle_on == &coil__stream_thread_mark && coil__budget_left != 0;
}

/* A read_line that may suspend: under the cleanup handler that leaves the
 * stream to the next reader however the call ends.  Out of line, so that
 * the buffered case above keeps a small frame (most calls are that one). */
static __attribute__((noinline)) ssize_t
read_line_waiting(coil_stream *s, char *buf, size_t size, coil_time deadline)
{
    read_call c = {.s = s};
    ssize_t r;
    int e;
    coil_cleanup_push(read_leave, &c);
    r = coil__budget_spend() != 0 ? -1 : read_line(s, buf, size, deadline);
    e = errno;
    coil_cleanup_pop(1);
    errno = e;
    return r;
}

/* Everything but the buffered case: the checks that report, then the
 * read that may suspend.  Apart, so that coil_stream_read_line's own frame
 * is the buffered case's alone. */
static __attribute__((noinline)) ssize_t
read_line_slow(coil_stream *s, char *buf, size_t size, coil_time deadline)
{
    if (!buf || size < 2) {
        errno = EINVAL;
        return -1;
    }
    if (read_enter(s, "coil_stream_read_line") != 0)
        return -1;
    return read_line_waiting(s, buf, size, deadline);
}

/* The buffered case with memchr: any line length.  Out of line where
 * short lines have their own scan (below), so that theirs makes no call
 * and saves no register. */
#if COIL_SHORT_LINE_SCAN
static __attribute__((noinline))
#else
static inline
#endif
ssize_t read_buffered_line(coil_stream *s, char *buf, size_t size,
                           coil_time deadline)
{
    if (avail(s) == 0)                /* rbuf may be NULL yet */
        return read_line_slow(s, buf, size, deadline);
    const char *base = s->rbuf + s->rpos;
    const char *nl = memchr(base, '\n', avail(s));
    size_t len = (size_t)(nl - base) + 1;
    if (!nl || len >= size)
        return read_line_slow(s, buf, size, deadline);
    /* The copy comes last, so that only len lives on across memcpy. */
    coil__budget_left--;
    consume(s, len);                  /* rbuf stays: base is still good */
    buf[len] = '\0';
    memcpy(buf, base, len);
    return (ssize_t)len;
}

#if COIL_SHORT_LINE_SCAN
/* No short line buffered: give back what coil_stream_read_line counted,
 * and go the memchr way. */
static __attribute__((noinline)) ssize_t
read_line_not_short(coil_stream *s, char *buf, size_t size,
                    coil_time deadline)
{
    coil__budget_left++;
    return read_buffered_line(s, buf, size, deadline);
}
#endif

ssize_t coil_stream_read_line(coil_stream *s, char *buf, size_t size,
                              coil_time deadline)
{
    if (!s || !buf || !buffered_line_may(s))
        return read_line_slow(s, buf, size, deadline);
#if COIL_SHORT_LINE_SCAN
    /* Counted before the scan and given back (out of line) if it finds no
     * short line: the budget's word then need not live across the scan,
     * which left too few registers: three were saved and restored on
     * every line, one is now. */
    coil__budget_left--;
    size_t len = short_line_length(s->rbuf, s->rpos, avail(s));
    if (len != 0 && len < size) {
        const char *base = s->rbuf + s->rpos;
        consume(s, len);              /* rbuf stays: base is still good */
        buf[len] = '\0';
        copy_short(buf, base, len);
        return (ssize_t)len;
    }
    return read_line_not_short(s, buf, size, deadline);
#else
    return read_buffered_line(s, buf, size, deadline);
#endif
}

/* -------------------------------------------------------------- read_until */

static ssize_t read_until(coil_stream *s, const char *delim, size_t dlen,
                          void *buf, size_t size, coil_time deadline)
{
    size_t scanned = 0;
    for (;;) {
        /* A delimiter may straddle the old end: look back dlen - 1. */
        size_t from = scanned >= dlen - 1 ? scanned - (dlen - 1) : 0;
        char *at = unread(s, from);
        char *d = at ? memmem(at, avail(s) - from, delim, dlen) : NULL;
        if (d) {
            size_t len = (size_t)(d - unread(s, 0)) + dlen;
            if (len > size) {
                errno = EMSGSIZE;     /* left buffered, as asyncio does */
                return -1;
            }
            take(s, buf, len);
            return (ssize_t)len;
        }
        if (avail(s) >= size) {
            errno = EMSGSIZE;
            return -1;
        }
        if (s->eof) {
            if (avail(s) == 0)
                return 0;
            errno = EPIPE;            /* no delimiter before EOF */
            return -1;
        }
        scanned = avail(s);
        if (reserve(s, scanned + 1) != 0 || fill(s, deadline) < 0)
            return -1;
    }
}

ssize_t coil_stream_read_until(coil_stream *s, const void *delim,
                               size_t dlen, void *buf, size_t size,
                               coil_time deadline)
{
    if (!delim || !buf || dlen == 0 || size < dlen) {
        errno = EINVAL;
        return -1;
    }
    if (read_enter(s, "coil_stream_read_until") != 0)
        return -1;
    read_call c = {.s = s};
    ssize_t r;
    int e;
    coil_cleanup_push(read_leave, &c);
    r = coil__budget_spend() != 0
            ? -1 : read_until(s, delim, dlen, buf, size, deadline);
    e = errno;
    coil_cleanup_pop(1);
    errno = e;
    return r;
}

/* ------------------------------------------------------------ read_exactly */

/* Wait until n bytes are buffered, or EOF.  0, or -1 with errno as fill. */
static int buffer_up_to(coil_stream *s, size_t n, coil_time deadline)
{
    while (avail(s) < n && !s->eof)
        if (reserve(s, n) != 0 || fill(s, deadline) < 0)
            return -1;
    return 0;
}

/* A count that fits the buffer: gather it there first, so nothing is
 * consumed before all of it is in. */
static ssize_t exactly_buffered(coil_stream *s, char *buf, size_t n,
                                size_t *got, coil_time deadline)
{
    if (buffer_up_to(s, n, deadline) != 0)
        return -1;
    size_t k = avail(s) < n ? avail(s) : n;
    take(s, buf, k);
    *got = k;
    if (k < n) {
        errno = EPIPE;                /* EOF first: the partial read */
        return -1;
    }
    return (ssize_t)n;
}

/* Room to give n bytes back, in an empty buffer: a fresh allocation
 * rather than realloc, which would copy nothing useful.  0, or -1 with
 * errno ENOMEM. */
static int reserve_empty(coil_stream *s, size_t n)
{
    if (s->rcap >= n)
        return 0;
    char *b = malloc(n);
    if (!b)
        return -1;
    free(s->rbuf);
    s->rbuf = b;
    s->rcap = n;
    return 0;
}

/* After a large read the buffer is empty: let its room go rather than
 * keep a one-off size for the stream's life. */
static void shrink(coil_stream *s)
{
    if (s->rcap > s->rsize && avail(s) == 0) {
        free(s->rbuf);
        s->rbuf = NULL;
        s->rcap = 0;
    }
}

/* A large count: what is buffered, then reads straight into buf.  On any
 * way out but success and EOF, read_leave gives buf's bytes back. */
static ssize_t exactly_direct(coil_stream *s, read_call *c, size_t n,
                              size_t *got, coil_time deadline)
{
    c->got = avail(s);
    take(s, c->buf, c->got);
    if (reserve_empty(s, n) != 0) {
        if (c->got > 0)               /* the old buffer held them */
            memcpy(s->rbuf, c->buf, c->got);
        s->rlen = c->got;
        return -1;
    }
    c->give_back = 1;
    while (c->got < n) {
        ssize_t r = s->eof ? 0 : coil_read_until(s->fd, c->buf + c->got,
                                                  n - c->got, deadline);
        if (r < 0)
            return -1;
        if (r == 0) {
            s->eof = 1;
            break;
        }
        c->got += (size_t)r;
    }
    c->give_back = 0;
    *got = c->got;
    shrink(s);
    if (c->got < n) {
        errno = EPIPE;                /* EOF first: the partial read */
        return -1;
    }
    return (ssize_t)n;
}

ssize_t coil_stream_read_exactly(coil_stream *s, void *buf, size_t n,
                                 size_t *got, coil_time deadline)
{
    size_t got_here = 0;
    if (!got)
        got = &got_here;
    *got = 0;
    if ((!buf && n > 0) || n > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (read_enter(s, "coil_stream_read_exactly") != 0)
        return -1;
    read_call c = {.s = s, .buf = buf};
    ssize_t r;
    int e;
    coil_cleanup_push(read_leave, &c);
    size_t cap = s->rcap > s->rsize ? s->rcap : s->rsize;
    if (coil__budget_spend() != 0)
        r = -1;
    else if (n == 0)
        r = 0;
    else if (n < cap)
        r = exactly_buffered(s, buf, n, got, deadline);
    else
        r = exactly_direct(s, &c, n, got, deadline);
    e = errno;
    coil_cleanup_pop(1);
    errno = e;
    return r;
}

/* -------------------------------------------------- peek, at_eof, buffered */

ssize_t coil_stream_peek(coil_stream *s, void *buf, size_t n,
                         coil_time deadline)
{
    if ((!buf && n > 0) || n > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (read_enter(s, "coil_stream_peek") != 0)
        return -1;
    read_call c = {.s = s};
    ssize_t r = -1;
    int e;
    coil_cleanup_push(read_leave, &c);
    if (coil__budget_spend() == 0 && buffer_up_to(s, n, deadline) == 0) {
        r = (ssize_t)(avail(s) < n ? avail(s) : n);
        if (r > 0)
            memcpy(buf, unread(s, 0), (size_t)r);
    }
    e = errno;
    coil_cleanup_pop(1);
    errno = e;
    return r;
}

int coil_stream_at_eof(const coil_stream *s)
{
    if (coil__stream_check(s) != 0)
        return -1;
    return s->eof && avail(s) == 0;
}

ssize_t coil_stream_buffered(const coil_stream *s)
{
    if (coil__stream_check(s) != 0)
        return -1;
    return (ssize_t)avail(s);
}
