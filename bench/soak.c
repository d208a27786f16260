/*
 * bench/soak.c — the two halves of tools/soak.sh's echo soak.
 *
 *   coil_soak server PORTFILE
 *       An echo server on 127.0.0.1 (a kernel-chosen port, written to
 *       PORTFILE), one task per connection, until SIGTERM.
 *   coil_soak client PORT CONNS SECONDS
 *       CONNS connections, each a task that sends a 64-byte message with
 *       its sequence number, checks the echo byte for byte, and pauses
 *       50-150 ms (a soak looks for growth over time, not for a rate),
 *       for SECONDS; every 64th round trip a connection is closed
 *       and dialled again, so accept, close and the fd records turn over
 *       too.  Prints one line of totals and exits 1 on any mismatch or
 *       error.
 *
 * tools/soak.sh samples the server's RSS and fd count while this runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"

enum { MSG = 64, REDIAL_EVERY = 64 };

/* ----------------------------------------------------------------- server */

static void close_fd(void *arg)
{
    coil_close((int)(intptr_t)arg);
}

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    coil_cleanup_push(close_fd, arg);
    while ((n = coil_read(fd, buf, sizeof buf)) > 0)
        if (coil_write_all(fd, buf, (size_t)n, NULL) < 0)
            break;
    coil_cleanup_pop(1);
    return NULL;
}

static void *accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    coil_time pause = COIL_MSEC(1);
    for (;;) {
        int c = coil_accept(lfd, NULL, NULL);
        if (c >= 0) {
            pause = COIL_MSEC(1);
            coil_task *t = coil_spawn(echo_conn, (void *)(intptr_t)c);
            if (t)
                coil_task_release(t);
            else
                coil_close(c);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                   errno == ENOBUFS) {
            coil_sleep(pause);
            if (pause < COIL_MSEC(100))
                pause *= 2;
        } else if (errno != ECONNABORTED && errno != EINTR) {
            return coil_task_error(errno);
        }
    }
}

static void *server_main(void *arg)
{
    const char *portfile = arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 1024, 0);
    if (lfd < 0)
        return coil_task_error(errno);
    FILE *f = fopen(portfile, "w");
    if (!f || fprintf(f, "%d\n", coil_socket_port(lfd)) < 0 || fclose(f))
        return coil_task_error(EIO);
    coil_task *acc = coil_spawn(accept_loop, (void *)(intptr_t)lfd);
    int sig = SIGTERM;
    coil_wait_signal(&sig, 1, -1);        /* until the script says stop */
    coil_task_cancel(acc);
    coil_await(coil_task_future(acc), NULL);
    coil_task_release(acc);
    coil_close(lfd);
    return NULL;
}

/* ----------------------------------------------------------------- client */

static int port;
static coil_time until;
static long round_trips, redials, failures;

static int dial(void)
{
    return coil_tcp_dial("127.0.0.1", port, coil_deadline_in(COIL_SEC(10)));
}

static int one_round(int fd, unsigned long seq)
{
    char out[MSG], in[MSG];
    memset(out, 'a' + (int)(seq % 26), sizeof out);
    memcpy(out, &seq, sizeof seq);
    if (coil_write_all(fd, out, sizeof out, NULL) != MSG ||
        coil_read_full_until(fd, in, sizeof in, NULL,
                             coil_deadline_in(COIL_SEC(10))) != MSG)
        return -1;
    return memcmp(in, out, sizeof in) == 0 ? 0 : -1;
}

static void *client_conn(void *arg)
{
    unsigned long seq = (unsigned long)(uintptr_t)arg << 32;
    unsigned rnd = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    int fd = dial();
    while (fd >= 0 && coil_clock() < until) {
        if (one_round(fd, seq++) != 0) {
            fprintf(stderr, "coil_soak: round trip failed: %s\n",
                    strerror(errno));
            failures++;
            break;
        }
        round_trips++;
        if (seq % REDIAL_EVERY == 0) {
            coil_close(fd);
            fd = dial();
            redials++;
        }
        rnd = rnd * 1103515245u + 12345u;
        coil_sleep(COIL_MSEC(50 + (rnd >> 16) % 101));
    }
    if (fd < 0) {
        fprintf(stderr, "coil_soak: dial failed: %s\n", strerror(errno));
        failures++;
    } else {
        coil_close(fd);
    }
    return NULL;
}

static void *client_main(void *arg)
{
    long conns = (long)(intptr_t)arg;
    coil_task **t = calloc((size_t)conns, sizeof *t);
    if (!t)
        return coil_task_error(ENOMEM);
    for (long i = 0; i < conns; i++)
        t[i] = coil_spawn(client_conn, (void *)(intptr_t)(i + 1));
    for (long i = 0; i < conns; i++) {
        if (t[i])
            coil_await(coil_task_future(t[i]), NULL);
        else
            failures++;
        coil_task_release(t[i]);
    }
    free(t);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        sigset_t term;                    /* to the loop's signalfd only */
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &term, NULL);
        if (coil_run(server_main, argv[2], NULL) != 0) {
            perror("coil_soak server");
            return 1;
        }
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "client") == 0) {
        port = atoi(argv[2]);
        long conns = atol(argv[3]);
        until = coil_clock() + COIL_SEC(atol(argv[4]));
        if (coil_run(client_main, (void *)(intptr_t)conns, NULL) != 0)
            perror("coil_soak client");
        printf("client: %ld round trips, %ld redials, %ld failures\n",
               round_trips, redials, failures);
        return failures ? 1 : 0;
    }
    fprintf(stderr, "usage: coil_soak server PORTFILE\n"
                    "       coil_soak client PORT CONNS SECONDS\n");
    return 2;
}
