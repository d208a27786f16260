/* An echo server and its clients in one program, one task per connection,
 * all written as plain blocking code.  The server accepts on 127.0.0.1
 * (a kernel-chosen port) and spawns a task per connection that echoes
 * until EOF; CLIENTS client tasks each send MESSAGES messages and check
 * every echo byte for byte.  When the clients are done, main cancels the
 * server: its accept loop unwinds, and a cleanup handler closes the
 * listener.  Out of fds, the server backs off instead of spinning (see
 * "Sockets" in coil.h). */
#include <errno.h>
#include <string.h>

#include "example.h"

enum { CLIENTS = 50, MESSAGES = 200, SIZE = 64 };

static long accepted, echoed_bytes;

static void close_fd(void *arg)
{
    coil_close((int)(intptr_t)arg);
}

/* One connection: echo until the client closes. */
static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    coil_cleanup_push(close_fd, arg);
    while ((n = coil_read(fd, buf, sizeof buf)) > 0) {
        if (coil_write_all(fd, buf, (size_t)n, NULL) < 0)
            break;
        echoed_bytes += n;
    }
    coil_cleanup_pop(1);
    return NULL;
}

static void server_stopped(void *arg)
{
    coil_close((int)(intptr_t)arg);
    printf("server: stopped after %ld connections, %ld bytes echoed\n",
           accepted, echoed_bytes);
    fflush(stdout);
}

static void *server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    coil_time pause = COIL_MSEC(1);
    coil_cleanup_push(server_stopped, arg);
    for (;;) {
        int c = coil_accept(lfd, NULL, NULL);
        if (c >= 0) {
            accepted++;
            pause = COIL_MSEC(1);
            coil_task_release(coil_spawn(echo_conn, (void *)(intptr_t)c));
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                   errno == ENOMEM) {
            coil_sleep(pause);            /* out of fds: back off, retry */
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

/* One client: MESSAGES round trips, each echo checked.  Returns the number
 * of good round trips. */
static void *client(void *arg)
{
    intptr_t id = (intptr_t)arg, good = 0;
    int fd = coil_tcp_dial("127.0.0.1", port, coil_clock() + COIL_SEC(5));
    if (fd < 0) {
        printf("client %ld: dial: %s\n", (long)id, strerror(errno));
        return (void *)good;
    }
    unsigned char out[SIZE], in[SIZE];
    for (int m = 0; m < MESSAGES; m++) {
        for (int i = 0; i < SIZE; i++)
            out[i] = (unsigned char)(id * 7 + m * 3 + i);
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

static void *main_task(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 128, 0);
    if (lfd < 0) {
        printf("listen: %s\n", strerror(errno));
        return coil_task_error(errno);
    }
    port = coil_socket_port(lfd);
    printf("server: listening on 127.0.0.1 (port %s)\n",
           port > 0 ? "chosen by the kernel" : "unknown");
    coil_task *srv = coil_spawn(server, (void *)(intptr_t)lfd);

    coil_task *clients[CLIENTS];
    coil_future *fs[CLIENTS];
    void *results[CLIENTS];
    for (intptr_t i = 0; i < CLIENTS; i++) {
        clients[i] = coil_spawn(client, (void *)i);
        fs[i] = coil_task_future(clients[i]);
    }
    coil_gather(fs, CLIENTS, results, NULL, COIL_GATHER_COLLECT_ERRORS);
    long good = 0, perfect = 0;
    for (int i = 0; i < CLIENTS; i++) {
        good += (long)(intptr_t)results[i];
        perfect += (intptr_t)results[i] == MESSAGES;
        coil_task_release(clients[i]);
    }
    printf("clients: %ld of %d verified all %d echoes\n", perfect,
           (int)CLIENTS, (int)MESSAGES);
    printf("round trips: %ld of %ld\n", good, (long)CLIENTS * MESSAGES);

    coil_task_cancel(srv);                /* clients done: stop the server */
    coil_await(coil_task_future(srv), NULL);
    coil_task_release(srv);
    return NULL;
}

int main(void)
{
    start_clock();
    int r = coil_run(main_task, NULL, NULL);
    printf("coil_run: %d (%s)\n", r, r ? strerror(errno) : "ok");
    printf("TIME: %.2f\n", elapsed());
    return r == 0 ? 0 : 1;
}
