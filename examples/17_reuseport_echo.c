/* One loop per core serving one port.  A runtime starts a loop per CPU
 * (two at least, so that there is something to share); every loop opens
 * its own listener on the same 127.0.0.1 port with SO_REUSEPORT and runs
 * an echo server there, one task per connection.  The kernel hashes each
 * new connection to one of the listeners, so the loops share the clients
 * without ever handing a connection (or a task) to each other: tasks never
 * migrate between threads (DESIGN.md).
 *
 * The clients run on the main thread's own loop (coil_run): CONNECTIONS
 * tasks each make MESSAGES round trips and check every echo.  Then main
 * stops the runtime — each loop cancels its server and connection tasks,
 * whose cleanup closes their fds — joins it, and prints what each loop
 * served. */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "example.h"

enum { CONNECTIONS = 64, MESSAGES = 20, SIZE = 64 };

/* One per loop.  Only that loop's thread touches it while the runtime
 * runs; main reads it once the runtime has been joined. */
typedef struct server {
    int port;                     /* to listen on; 0: the kernel picks */
    int lfd;
    long accepted;
    long echoed;                  /* bytes */
    int closed;                   /* the listener's cleanup ran */
} server;

static void close_listener(void *arg)
{
    server *s = arg;
    coil_close(s->lfd);
    s->closed = 1;
}

/* On the server's loop: listen, and return the port. */
static void *open_listener(void *arg)
{
    server *s = arg;
    s->lfd = coil_tcp_listen("127.0.0.1", s->port, 128, COIL_REUSEPORT);
    if (s->lfd < 0)
        return coil_task_error(errno);
    return (void *)(intptr_t)coil_socket_port(s->lfd);
}

typedef struct conn {
    server *s;
    int fd;
} conn;

static void close_conn(void *arg)
{
    conn *c = arg;
    coil_close(c->fd);
    free(c);
}

/* One connection: echo until the client closes. */
static void *echo_conn(void *arg)
{
    conn *c = arg;
    char buf[4096];
    ssize_t n;
    coil_cleanup_push(close_conn, c);
    while ((n = coil_read(c->fd, buf, sizeof buf)) > 0) {
        if (coil_write_all(c->fd, buf, (size_t)n, NULL) < 0)
            break;
        c->s->echoed += n;
    }
    coil_cleanup_pop(1);
    return NULL;
}

/* Accept for ever (until the runtime stops and cancels us), one task per
 * connection, on this loop.  Out of fds: back off (coil.h, "Sockets"). */
static void *serve(void *arg)
{
    server *s = arg;
    coil_time pause = COIL_MSEC(1);
    coil_cleanup_push(close_listener, s);
    for (;;) {
        int fd = coil_accept(s->lfd, NULL, NULL);
        conn *c = fd >= 0 ? malloc(sizeof *c) : NULL;
        if (c) {
            *c = (conn){s, fd};
            s->accepted++;
            pause = COIL_MSEC(1);
            coil_task *t = coil_spawn(echo_conn, c);
            if (!t)
                close_conn(c);
            coil_task_release(t);
        } else if (fd >= 0) {
            coil_close(fd);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                   errno == ENOMEM) {
            coil_sleep(pause);
            if (pause < COIL_MSEC(100))
                pause *= 2;
        } else if (errno != ECONNABORTED && errno != EINTR) {
            printf("server: accept: %s\n", strerror(errno));
            break;
        }
    }
    coil_cleanup_pop(1);
    return NULL;
}

static int port;

/* One client connection: MESSAGES round trips, each echo checked.
 * Returns the number of good ones. */
static void *client(void *arg)
{
    intptr_t id = (intptr_t)arg, good = 0;
    int fd = coil_tcp_dial("127.0.0.1", port, coil_clock() + COIL_SEC(10));
    if (fd < 0) {
        printf("client %ld: dial: %s\n", (long)id, strerror(errno));
        return (void *)good;
    }
    unsigned char out[SIZE], in[SIZE];
    for (int m = 0; m < MESSAGES; m++) {
        for (int i = 0; i < SIZE; i++)
            out[i] = (unsigned char)(id * 13 + m * 5 + i);
        if (coil_write_all(fd, out, SIZE, NULL) != SIZE ||
            coil_read_full(fd, in, SIZE, NULL) != SIZE) {
            printf("client %ld: %s\n", (long)id, strerror(errno));
            break;
        }
        if (memcmp(in, out, SIZE) != 0) {
            printf("client %ld: echo mismatch in message %d\n", (long)id, m);
            break;
        }
        good++;
    }
    coil_close(fd);
    return (void *)good;
}

/* The clients, on main's own loop. */
static void *clients(void *arg)
{
    (void)arg;
    coil_task *ts[CONNECTIONS];
    coil_future *fs[CONNECTIONS];
    void *results[CONNECTIONS];
    for (intptr_t i = 0; i < CONNECTIONS; i++) {
        ts[i] = coil_spawn(client, (void *)i);
        fs[i] = coil_task_future(ts[i]);
    }
    coil_gather(fs, CONNECTIONS, results, NULL, COIL_GATHER_COLLECT_ERRORS);
    long perfect = 0;
    for (int i = 0; i < CONNECTIONS; i++) {
        perfect += (intptr_t)results[i] == MESSAGES;
        coil_task_release(ts[i]);
    }
    printf("clients: %ld of %d connections verified all %d echoes\n",
           perfect, (int)CONNECTIONS, (int)MESSAGES);
    return NULL;
}

/* Loop i opens its listener (on the shared port, once loop 0 has one). */
static int listen_on(coil_runtime *rt, server *s, size_t i)
{
    void *got = NULL;
    coil_tfuture *f = coil_runtime_spawn(rt, i, open_listener, s);
    int r = f ? coil_tfuture_wait(f, -1, &got) : -1;
    if (r != 0) {
        printf("loop %zu: listen: %s\n", i, strerror(errno));
    } else {
        port = (int)(intptr_t)got;
        printf("loop %zu: listening on 127.0.0.1 with SO_REUSEPORT%s\n", i,
               i ? " (the same port)" : "");
    }
    coil_tfuture_release(f);
    return r;
}

static int cpus(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

int main(void)
{
    start_clock();
    /* One loop per CPU; two on a single-CPU machine, to show the sharing. */
    coil_runtime *rt = coil_runtime_start(cpus() < 2 ? 2 : 0, NULL);
    if (!rt) {
        perror("coil_runtime_start");
        return 1;
    }
    size_t n = coil_runtime_size(rt);
    printf("runtime: %zu loops, each on a thread of its own\n", n);
    server *servers = calloc(n, sizeof *servers);
    coil_tfuture **serving = calloc(n, sizeof *serving);
    int ok = servers && serving;
    for (size_t i = 0; ok && i < n; i++) {
        servers[i].port = port;             /* 0 for loop 0 */
        ok = listen_on(rt, &servers[i], i) == 0;
    }
    for (size_t i = 0; ok && i < n; i++)
        ok = (serving[i] = coil_runtime_spawn(rt, i, serve, &servers[i]))
             != NULL;
    if (ok && coil_run(clients, NULL, NULL) != 0)
        printf("coil_run: %s\n", strerror(errno));

    coil_runtime_stop(rt);                  /* cancels every server task */
    coil_runtime_join(rt);
    printf("runtime: stopped and joined\n");
    long total = 0, bytes = 0;
    size_t busy = 0;
    for (size_t i = 0; ok && i < n; i++) {
        int cancelled = coil_tfuture_wait(serving[i], 0, NULL) != 0 &&
                        errno == ECANCELED;
        printf("loop %zu: %ld connections, %ld bytes echoed, %s\n", i,
               servers[i].accepted, servers[i].echoed,
               cancelled && servers[i].closed ? "cancelled, listener closed"
                                              : "NOT cancelled cleanly");
        total += servers[i].accepted;
        bytes += servers[i].echoed;
        busy += servers[i].accepted > 0;
        coil_tfuture_release(serving[i]);
    }
    printf("connections served: %ld of %d\n", total, (int)CONNECTIONS);
    printf("bytes echoed: %ld of %ld\n", bytes,
           (long)CONNECTIONS * MESSAGES * SIZE);
    printf("loops that served connections: %zu of %zu\n", busy, n);
    printf("TIME: %.2f\n", elapsed());
    free(servers);
    free(serving);
    return ok ? 0 : 1;
}
