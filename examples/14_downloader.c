/* The seed article's downloader: several HTTP/1.0 GETs at once, one task
 * per URL, each written as plain blocking-style code — dial, send the
 * request, read the status line and headers, then read until EOF, printing
 * progress as the bytes arrive.  Each download has one deadline (-t MS,
 * default 10 s) that covers all of it: the dial, the request and every
 * read.  A download that misses it reports a timeout; the others go on.
 *
 *     14_downloader [blocking] [-t MS] http://127.0.0.1:PORT/PATH ...
 *
 * The response is read through a coil stream: a line at a time for the
 * status line and headers, then chunks of the body — no byte scanning.
 *
 * With "blocking" first, the same tasks use blocking sockets instead (read
 * through stdio, the blocking counterpart of a stream) — the article's
 * urllib mistake.  Each task then
 * holds the loop's only thread until its download ends, so the downloads
 * run one after another and the total is their sum, not the slowest one.
 * (There the deadline becomes SO_RCVTIMEO/SO_SNDTIMEO: per syscall, not
 * per download.)
 *
 * Addresses are numeric (coil does not resolve names), and the bytes are
 * counted, not saved: writing files would be blocking IO of its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <coil.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { MAX_URLS = 64, HEAD_MAX = 8192 };

typedef struct download {
    const char *url;
    char host[64];
    int port;
    const char *path;
    const char *name;              /* the path without its '/', for messages */
    int status;                    /* HTTP status */
    long long length;              /* Content-Length, -1 if absent */
    long long got;                 /* body bytes received */
    int timed_out;
} download;

static int blocking;               /* the "bad" mode */
static coil_time timeout = COIL_SEC(10);
static coil_time start;

static double secs(coil_time t)
{
    return (double)t / 1e9;
}

/* Every line starts with the seconds since the program started, like the
 * article's [time.time()] stamps. */
#define say(...)                                                            \
    do {                                                                    \
        printf("[%6.2f] ", secs(coil_clock() - start));                     \
        printf(__VA_ARGS__);                                                \
        putchar('\n');                                                      \
        fflush(stdout);                                                     \
    } while (0)

/* "http://A.B.C.D:PORT/PATH" into d.  Returns 0, or -1 if it is not one. */
static int parse_url(download *d, const char *url)
{
    const char *p = url;
    d->url = url;
    if (strncmp(p, "http://", 7) != 0)
        return -1;
    p += 7;
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof d->host)
        return -1;
    memcpy(d->host, p, hl);
    d->host[hl] = '\0';
    p += hl;
    d->port = 80;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535)
            return -1;
        d->port = (int)port;
        p = end;
    }
    d->path = *p ? p : "/";
    if (*d->path != '/')
        return -1;
    d->name = d->path[1] ? d->path + 1 : d->path;
    return 0;
}

/* ------------------------------------------------ the two ways to do IO */

/* A connection: a coil stream, or (blocking mode) a blocking socket read
 * through stdio, the blocking world's buffered reader.  Either way the
 * HTTP code below reads lines and chunks; neither frames bytes by hand. */
typedef struct conn {
    coil_stream *s;                /* coil mode */
    int fd;                        /* blocking mode: the socket... */
    FILE *in;                      /* ...and stdio reading it */
} conn;

/* Blocking sockets with SO_*TIMEO say EAGAIN when the time is up. */
static int timeout_errno(void)
{
    return blocking && (errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT
                                                                 : errno;
}

/* The bad way: a blocking socket; every call on it stalls the loop. */
static int blocking_dial(download *d)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)d->port)};
    if (inet_pton(AF_INET, d->host, &sa.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = (time_t)(timeout / COIL_SEC(1)),
                         .tv_usec = (long)(timeout % COIL_SEC(1) / 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Connect c to d's server by the deadline.  0, or -1 with errno. */
static int net_dial(conn *c, download *d, coil_time deadline)
{
    if (!blocking) {
        c->s = coil_stream_dial(d->host, d->port, NULL, deadline);
        return c->s ? 0 : -1;
    }
    c->fd = blocking_dial(d);
    if (c->fd < 0)
        return -1;
    c->in = fdopen(c->fd, "r");
    if (!c->in) {
        close(c->fd);
        return -1;
    }
    return 0;
}

static int net_write_all(conn *c, const char *buf, size_t n,
                         coil_time deadline)
{
    if (!blocking)
        return coil_stream_write(c->s, buf, n) == 0 &&
                       coil_stream_flush(c->s, deadline) == 0 ? 0 : -1;
    while (n > 0) {
        ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            errno = timeout_errno();
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One line, '\n' included, NUL-terminated: its length, 0 at EOF, or -1
 * with errno (EMSGSIZE: longer than size - 1). */
static ssize_t net_read_line(conn *c, char *buf, size_t size,
                             coil_time deadline)
{
    if (!blocking)
        return coil_stream_read_line(c->s, buf, size, deadline);
    if (!fgets(buf, (int)size, c->in)) {
        if (!ferror(c->in))
            return 0;
        errno = timeout_errno();
        return -1;
    }
    size_t len = strlen(buf);
    if (len == size - 1 && buf[len - 1] != '\n') {
        errno = EMSGSIZE;
        return -1;
    }
    return (ssize_t)len;
}

/* Up to n bytes: how many, 0 at EOF, or -1 with errno. */
static ssize_t net_read(conn *c, void *buf, size_t n, coil_time deadline)
{
    if (!blocking)
        return coil_stream_read_some(c->s, buf, n, deadline);
    size_t got = fread(buf, 1, n, c->in);
    if (got == 0 && ferror(c->in)) {
        errno = timeout_errno();
        return -1;
    }
    return (ssize_t)got;
}

static void net_close(conn *c)
{
    if (c->s)
        coil_stream_close(c->s);
    if (c->in)
        fclose(c->in);              /* closes the socket too */
}

/* ------------------------------------------------------------- HTTP/1.0 */

/* Read the status line and the header lines up to the blank one, keeping
 * the status and Content-Length.  0, or -1 with errno (EPROTO: not HTTP,
 * or the connection closed before the headers ended). */
static int read_head(download *d, conn *c, coil_time deadline)
{
    char line[HEAD_MAX];
    int major, minor;
    ssize_t n = net_read_line(c, line, sizeof line, deadline);
    if (n <= 0 || sscanf(line, "HTTP/%d.%d %d", &major, &minor,
                         &d->status) != 3)
        goto bad;
    d->length = -1;
    while ((n = net_read_line(c, line, sizeof line, deadline)) > 0) {
        if (strcmp(line, "\r\n") == 0 || strcmp(line, "\n") == 0)
            return 0;
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            d->length = strtoll(line + 15, NULL, 10);
    }
bad:
    if (n >= 0)
        errno = EPROTO;
    return -1;
}

/* Print a progress line each time another quarter of the body is in. */
static void progress(download *d, int *quarters)
{
    if (d->length <= 0)
        return;
    int q = (int)(d->got * 4 / d->length);
    if (q > *quarters && q > 0) {
        *quarters = q;
        say("%s: %5.1f%% (%lld/%lld)", d->name,
            100.0 * (double)d->got / (double)d->length, d->got, d->length);
    }
}

/* The body, until EOF (HTTP/1.0: the server closes).  0, or -1 with
 * errno (EPROTO: cut short of its Content-Length). */
static int read_body(download *d, conn *c, coil_time deadline)
{
    char chunk[HEAD_MAX];
    int quarters = 0;
    ssize_t n;
    while ((n = net_read(c, chunk, sizeof chunk, deadline)) > 0) {
        d->got += n;
        progress(d, &quarters);
    }
    if (n < 0)
        return -1;
    if (d->length >= 0 && d->got != d->length) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* GET d->url.  Returns 0, or -1 with errno (ETIMEDOUT: the deadline). */
static int fetch(download *d, coil_time deadline)
{
    conn c = {.fd = -1};
    if (net_dial(&c, d, deadline) != 0)
        return -1;
    char req[512];
    int rn = snprintf(req, sizeof req,
                      "GET %s HTTP/1.0\r\nHost: %s:%d\r\n"
                      "User-Agent: coil-downloader\r\n\r\n",
                      d->path, d->host, d->port);
    int r = -1;
    if (rn < 0 || (size_t)rn >= sizeof req)
        errno = EINVAL;
    else if (net_write_all(&c, req, (size_t)rn, deadline) == 0 &&
             read_head(d, &c, deadline) == 0) {
        say("%s: HTTP %d, %lld bytes to come", d->name, d->status, d->length);
        r = read_body(d, &c, deadline);
    }
    int e = errno;
    net_close(&c);
    errno = e;
    return r;
}

/* One download, as the article's download_good(): never raises, reports. */
static void *download_task(void *arg)
{
    download *d = arg;
    coil_time t0 = coil_clock();
    say("queued %s", d->name);
    if (fetch(d, t0 + timeout) != 0) {
        int e = errno;
        if (e == ETIMEDOUT) {
            d->timed_out = 1;
            say("timeout for %s after %.2f s (%lld bytes in)", d->name,
                secs(coil_clock() - t0), d->got);
        } else {
            say("error for %s: %s", d->name, strerror(e));
        }
        return coil_task_error(e);
    }
    if (d->status != 200) {
        say("error for %s: HTTP %d", d->name, d->status);
        return coil_task_error(EPROTO);
    }
    say("completed %s: %lld bytes in %.2f s", d->name, d->got,
        secs(coil_clock() - t0));
    return d;
}

static download downloads[MAX_URLS];
static size_t ndownloads;

static void *main_task(void *arg)
{
    (void)arg;
    coil_task *tasks[MAX_URLS];
    coil_future *fs[MAX_URLS];
    int errors[MAX_URLS];
    for (size_t i = 0; i < ndownloads; i++) {
        tasks[i] = coil_spawn(download_task, &downloads[i]);
        if (!tasks[i]) {
            printf("spawn: %s\n", strerror(errno));
            exit(1);
        }
        fs[i] = coil_task_future(tasks[i]);
    }
    /* asyncio.gather(..., return_exceptions=True) */
    if (coil_gather(fs, ndownloads, NULL, errors,
                    COIL_GATHER_COLLECT_ERRORS) != 0)
        printf("gather: %s\n", strerror(errno));
    size_t ok = 0;
    long long bytes = 0;
    for (size_t i = 0; i < ndownloads; i++) {
        coil_task_release(tasks[i]);
        download *d = &downloads[i];
        if (errors[i] == 0) {
            ok++;
            bytes += d->got;
            printf("result: saved %s (%lld bytes)\n", d->name, d->got);
        } else {
            printf("result: %s %s (%s)\n", d->timed_out ? "timeout" : "error",
                   d->name, strerror(errors[i]));
        }
    }
    printf("total: %zu of %zu downloads completed, %lld bytes, in %.2f s "
           "(%s)\n", ok, ndownloads, bytes, secs(coil_clock() - start),
           blocking ? "blocking" : "coil");
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: 14_downloader [blocking] [-t MS] "
                    "http://A.B.C.D:PORT/PATH ...\n");
    return 2;
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "blocking") == 0) {
        blocking = 1;
        i++;
    }
    if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
        long ms = atol(argv[i + 1]);
        if (ms <= 0)
            return usage();
        timeout = COIL_MSEC(ms);
        i += 2;
    }
    if (i == argc || argc - i > MAX_URLS)
        return usage();
    for (; i < argc; i++)
        if (parse_url(&downloads[ndownloads++], argv[i]) != 0) {
            fprintf(stderr, "14_downloader: not an http://A.B.C.D:PORT/ URL: "
                            "%s\n", argv[i]);
            return 2;
        }
    start = coil_clock();
    int r = coil_run(main_task, NULL, NULL);
    printf("coil_run: %d (%s)\n", r, r == 0 ? "ok" : strerror(errno));
    return r == 0 ? 0 : 1;
}
