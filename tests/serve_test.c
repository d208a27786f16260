/*
 * tests/serve_test.c — layer 6: coil_stream_serve, the accept loop with a
 * task per connection.  Clients are tasks of the same loop dialling
 * 127.0.0.1; the tests wait for a state (so many handlers live) by
 * yielding until it holds, never by sleeping.
 */
#include <stdint.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"

#define I(v) ((void *)(intptr_t)(v))

static int port, live, max_live, served, cleaned;
static coil_event *release;       /* NULL: handlers echo at once */

static void handler_gone(void *arg)
{
    (void)arg;
    live--;
    cleaned++;
}

/* Echo lines until EOF, once `release` (if any) is set. */
static void echo_lines(coil_stream *s, void *arg)
{
    (void)arg;
    if (++live > max_live)
        max_live = live;
    coil_cleanup_push(handler_gone, NULL);
    if (release)
        CHECK(coil_event_wait(release) == 0);
    char line[128];
    ssize_t n;
    while ((n = coil_stream_read_line(s, line, sizeof line, -1)) > 0) {
        CHECK(coil_stream_write(s, line, (size_t)n) == 0);
        CHECK(coil_stream_flush(s, -1) == 0);
    }
    served++;
    coil_cleanup_pop(1);
}

static int lfd;

static void *server(void *arg)
{
    coil_serve_attr attr = {.max_conns = (size_t)(intptr_t)arg};
    coil_stream_serve(lfd, &attr, echo_lines, NULL);
    return coil_task_error(errno);        /* in error mode only */
}

static coil_task *start_server(size_t max_conns, unsigned flags)
{
    live = max_live = served = cleaned = 0;
    lfd = coil_tcp_listen("127.0.0.1", 0, 64, 0);
    CHECK(lfd >= 0);
    port = coil_socket_port(lfd);
    coil_task_attr attr = {.flags = flags};
    coil_task *t = coil_task_spawn(&attr, server, I(max_conns), "server");
    CHECK(t);
    return t;
}

/* A client: one line and its echo (arg: the line's number). */
static void *client(void *arg)
{
    coil_stream *s = coil_stream_dial("127.0.0.1", port, NULL, -1);
    CHECK(s);
    char out[32], in[32];
    int len = snprintf(out, sizeof out, "hello %d\n", (int)(intptr_t)arg);
    CHECK(coil_stream_write(s, out, (size_t)len) == 0);
    CHECK(coil_stream_flush(s, -1) == 0);
    CHECK(coil_stream_read_line(s, in, sizeof in, -1) == len);
    CHECK(strcmp(in, out) == 0);
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

/* A client that sends nothing and reads until the server hangs up. */
static void *silent_client(void *arg)
{
    (void)arg;
    coil_stream *s = coil_stream_dial("127.0.0.1", port, NULL, -1);
    CHECK(s);
    char in[32];
    CHECK(coil_stream_read_line(s, in, sizeof in, -1) == 0);   /* EOF */
    CHECK(coil_stream_close(s) == 0);
    return NULL;
}

/* Yield until *count reaches n, for 10 s at most.  Not a number of
 * yields: a yielding task keeps the loop busy, and a busy loop looks at
 * the sockets once per 50 us of its time (scheduler.md), which a
 * thousand yields on a fast machine do not reach. */
static void yield_until(const int *count, int n)
{
    coil_time deadline = coil_clock() + COIL_SEC(10);
    while (*count != n && coil_clock() < deadline)
        CHECK(coil_yield() == 0);
    CHECK(*count == n);
}

static void yield_until_live(int n)
{
    yield_until(&live, n);
}

static void await_cancelled(coil_task *t)
{
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
}

/* ---------------------------------------------------------------- tests */

static void *serves_main(void *arg)
{
    (void)arg;
    coil_task *srv = start_server(0, 0);
    coil_task *c[5];
    for (int i = 0; i < 5; i++)
        c[i] = coil_spawn(client, I(i));
    for (int i = 0; i < 5; i++)
        await_task(c[i]);
    yield_until(&served, 5);
    CHECK(served == 5 && cleaned == 5 && live == 0);
    CHECK(coil_task_cancel(srv) == 1);
    await_cancelled(srv);
    CHECK(coil_close(lfd) == 0);          /* still open: the caller's */
    return NULL;
}

TEST(each_connection_is_served_in_a_task_of_its_own)
{
    run_main(serves_main, NULL);
}

static void *cap_main(void *arg)
{
    (void)arg;
    CHECK((release = coil_event_new()));
    coil_task *srv = start_server(2, 0);
    coil_task *c[5];
    for (int i = 0; i < 5; i++)
        c[i] = coil_spawn(client, I(i));
    yield_until_live(2);
    for (int i = 0; i < 200; i++)         /* the rest stay in the backlog */
        CHECK(coil_yield() == 0);
    CHECK(live == 2 && max_live == 2);
    CHECK(coil_event_set(release) == 0);
    for (int i = 0; i < 5; i++)
        await_task(c[i]);
    yield_until(&served, 5);
    CHECK(served == 5 && max_live == 2);
    CHECK(coil_task_cancel(srv) == 1);
    await_cancelled(srv);
    CHECK(coil_close(lfd) == 0);
    CHECK(coil_event_free(release) == 0);
    release = NULL;
    return NULL;
}

TEST(no_more_than_max_conns_are_served_at_once)
{
    run_main(cap_main, NULL);
}

/* Cancelling the server cancels every live connection and returns only
 * after their cleanup ran and their streams were closed. */
static void *cancel_main(void *arg)
{
    unsigned flags = arg ? COIL_TASK_CANCEL_AS_ERROR : 0;
    coil_task *srv = start_server(0, flags);
    coil_task *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = coil_spawn(silent_client, NULL);
    yield_until_live(3);
    CHECK(coil_task_cancel(srv) == 1);
    if (flags) {
        CHECK_ERRNO(coil_await(coil_task_future(srv), NULL), ECANCELED);
        coil_task_release(srv);
    } else {
        await_cancelled(srv);
    }
    CHECK(live == 0 && cleaned == 3 && served == 0);
    for (int i = 0; i < 3; i++)
        await_task(c[i]);                 /* each saw EOF */
    CHECK(coil_close(lfd) == 0);
    return NULL;
}

TEST(cancelling_the_server_ends_its_connections_first)
{
    run_main(cancel_main, NULL);
}

TEST(cancelling_an_error_mode_server_returns_ecanceled)
{
    run_main(cancel_main, I(1));
}

static void close_listener(void *arg)
{
    (void)arg;
    CHECK(coil_close(lfd) == 0);
}

static void *closed_listener_main(void *arg)
{
    (void)arg;
    coil_task *srv = start_server(0, 0);
    coil_task *c = coil_spawn(silent_client, NULL);
    yield_until_live(1);
    CHECK(coil_call_soon(NULL, close_listener, NULL, NULL) == 0);
    void *v;
    CHECK_ERRNO(coil_await(coil_task_future(srv), &v), EBADF);
    coil_task_release(srv);
    CHECK(live == 0 && cleaned == 1);
    await_task(c);
    return NULL;
}

TEST(closing_the_listener_ends_the_server_after_its_connections)
{
    run_main(closed_listener_main, NULL);
}

static void *bad_args_main(void *arg)
{
    (void)arg;
    CHECK_ERRNO(coil_stream_serve(0, NULL, NULL, NULL), EINVAL);
    coil_stream_attr sa = {.high_water = 10, .low_water = 20};
    coil_serve_attr a = {.stream = &sa};
    CHECK_ERRNO(coil_stream_serve(0, &a, echo_lines, NULL), EINVAL);
    CHECK_ERRNO(coil_stream_serve(-1, NULL, echo_lines, NULL), EBADF);
    return NULL;
}

TEST(bad_arguments_are_einval_and_outside_a_task_eperm)
{
    run_main(bad_args_main, NULL);
    CHECK_ERRNO(coil_stream_serve(0, NULL, echo_lines, NULL), EPERM);
}

RUN_TESTS(T(each_connection_is_served_in_a_task_of_its_own),
          T(no_more_than_max_conns_are_served_at_once),
          T(cancelling_the_server_ends_its_connections_first),
          T(cancelling_an_error_mode_server_returns_ecanceled),
          T(closing_the_listener_ends_the_server_after_its_connections),
          T(bad_arguments_are_einval_and_outside_a_task_eperm))
