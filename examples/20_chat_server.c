/* A line-based chat server: every line a client sends goes to every other
 * client, as "client-N: line".  Try it with a few `nc 127.0.0.1 PORT`.
 *
 *     20_chat_server [-p PORT] [-l LIMIT]
 *
 * PORT 0 (the default) lets the kernel choose; the first line printed says
 * which.  Each client has two tasks over one coil stream: a reader that
 * reads lines and broadcasts them, and a writer that flushes what the
 * others broadcast to it.  Broadcasting only appends to each receiver's
 * write buffer (coil_stream_write never waits), so a client that stops
 * reading slows nobody down: its unsent bytes pile up in its own buffer,
 * and once they pass LIMIT bytes (default 256 KiB) it is disconnected.
 * coil_stream_serve runs the accept loop and a task per client (the
 * reader), and closes each client's stream when its task is over.
 * Ctrl-C cancels the main task; coil_stream_serve then cancels every
 * client's task and waits for their cleanup before the program ends. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <coil.h>

enum { LINE_MAX_LEN = 1024, KERNEL_SNDBUF = 64 * 1024 };

typedef struct client {
    coil_stream *s;                /* coil_stream_serve's: it closes it */
    coil_task *reader, *writer;    /* reader: the connection's own task */
    coil_event *wake;              /* something to flush */
    int id;
    int dropped;
    int left;                      /* it hung up (not dropped, not Ctrl-C) */
    struct client *prev, *next;
} client;

/* Everyone connected.  A client is listed while its reader runs: the
 * reader lists it first thing and unlists it on its way out. */
static client *clients;
static int online, next_id = 1;
static size_t limit = 256 * 1024;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("chat: ");
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
}

/* ---------------------------------------------------------- the writer */

/* Flush whatever the others broadcast, whenever they say there is some.
 * A slow peer holds up only this task. */
static void *writer(void *arg)
{
    client *c = arg;
    for (;;) {
        if (coil_event_wait(c->wake) != 0)
            return NULL;
        coil_event_clear(c->wake);
        if (coil_stream_flush(c->s, -1) != 0)
            return NULL;           /* gone: the reader sees it too */
    }
}

/* ----------------------------------------------------------- broadcast */

/* A client over its limit: cancel its reader, whose cleanup (client_gone)
 * stops the writer and closes the connection. */
static void drop(client *c)
{
    c->dropped = 1;
    say("dropped client-%d: it stopped reading (%zd bytes unsent)", c->id,
        coil_stream_write_pending(c->s));
    coil_task_cancel(c->reader);
}

/* Queue text to every client but `from`.  Never waits. */
static void broadcast(const client *from, const char *text, size_t n)
{
    for (client *o = clients; o; o = o->next) {
        if (o == from || o->dropped)
            continue;
        if (coil_stream_write(o->s, text, n) != 0)
            continue;              /* its connection broke: its reader ends */
        if ((size_t)coil_stream_write_pending(o->s) > limit)
            drop(o);
        else
            coil_event_set(o->wake);
    }
}

static void announce(const client *c, const char *what)
{
    char text[64];
    int n = snprintf(text, sizeof text, "* client-%d %s\n", c->id, what);
    broadcast(c, text, (size_t)n);
}

/* ----------------------------------------------------------- the reader */

/* Runs however the reader ends (EOF, an error, dropped, Ctrl-C): unlink
 * and stop the writer; coil_stream_serve closes the stream after. */
static void client_gone(void *arg)
{
    client *c = arg;
    if (c->prev)
        c->prev->next = c->next;
    else
        clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->left)
        announce(c, "left");
    if (c->writer) {
        coil_task_cancel(c->writer);
        coil_await(coil_task_future(c->writer), NULL);   /* its unwinding */
        coil_task_release(c->writer);
    }
    coil_event_free(c->wake);
    say("client-%d gone (%d online)", c->id, --online);
    free(c);
}

static void chat(client *c)
{
    char line[LINE_MAX_LEN + 32];
    int prefix = snprintf(line, sizeof line, "client-%d: ", c->id);
    for (;;) {
        ssize_t n = coil_stream_read_line(c->s, line + prefix,
                                          sizeof line - (size_t)prefix, -1);
        if (n == 0 || (n < 0 && errno != EMSGSIZE))
            return;                /* EOF or a broken connection */
        if (n < 0)
            continue;              /* an overlong line: dropped */
        if (line[prefix + n - 1] != '\n')
            line[prefix + n++] = '\n';     /* the last line, at EOF */
        /* No coil_yield() needed here for a sender whose socket always
         * has data: read_line counts against the task's cooperative
         * budget and yields every 128 calls (coil_budget_set), so the
         * writers flush between bursts of at most that many lines. */
        broadcast(c, line, (size_t)(prefix + n));
    }
}

/* A new connection: listed.  Returns it, or NULL with errno. */
static client *join(coil_stream *s)
{
    client *c = calloc(1, sizeof *c);
    if (!c || !(c->wake = coil_event_new())) {
        free(c);
        return NULL;
    }
    c->s = s;
    c->reader = coil_task_current();
    c->id = next_id++;
    /* Left alone, the kernel grows a socket's send buffer up to
     * net.ipv4.tcp_wmem's maximum (4 MiB here) for a peer that does not
     * read: bound it, so such a peer shows in our own buffer soon. */
    int sndbuf = KERNEL_SNDBUF;
    setsockopt(coil_stream_fd(s), SOL_SOCKET, SO_SNDBUF, &sndbuf,
               sizeof sndbuf);
    c->next = clients;
    if (clients)
        clients->prev = c;
    clients = c;
    online++;
    say("client-%d joined (%d online)", c->id, online);
    announce(c, "joined");
    return c;
}

/* A connection's task, run by coil_stream_serve. */
static void reader(coil_stream *s, void *arg)
{
    (void)arg;
    client *c = join(s);
    if (!c)
        return;
    coil_cleanup_push(client_gone, c);
    if ((c->writer = coil_spawn(writer, c))) {
        chat(c);                   /* a drop or Ctrl-C unwinds from here */
        c->left = 1;
    }
    coil_cleanup_pop(1);
}

/* ------------------------------------------------------------- serving */

/* Ctrl-C (or any cancellation of main).  coil_stream_serve's own cleanup
 * runs first: by now every client's task has ended and its stream is
 * closed. */
static void shut_down(void *arg)
{
    coil_close((int)(intptr_t)arg);
    say("shut down");
}

static void *main_task(void *arg)
{
    int port = (int)(intptr_t)arg;
    int lfd = coil_tcp_listen("127.0.0.1", port, 128, 0);
    if (lfd < 0) {
        say("listen: %s", strerror(errno));
        return coil_task_error(errno);
    }
    say("listening on 127.0.0.1:%d", coil_socket_port(lfd));
    coil_cleanup_push(shut_down, (void *)(intptr_t)lfd);
    coil_stream_serve(lfd, NULL, reader, NULL);
    say("serve: %s", strerror(errno));        /* only on a lasting error */
    coil_cleanup_pop(1);
    return NULL;
}

int main(int argc, char **argv)
{
    long port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-p") == 0)
            port = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-l") == 0)
            limit = (size_t)atol(argv[i + 1]);
    }
    if (port < 0 || port > 65535 || limit == 0 || argc % 2 == 0) {
        fprintf(stderr, "usage: 20_chat_server [-p PORT] [-l LIMIT]\n");
        return 2;
    }
    int r = coil_run(main_task, (void *)(intptr_t)port, NULL);
    /* Ctrl-C is how this server is meant to end. */
    return r == 0 || errno == EINTR ? 0 : 1;
}
