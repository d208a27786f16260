/*
 * bench/bench_echo_uv.c — the libuv echo server, a peer of coil's in the
 * echo rows (coil_bench --echo-server libuv).
 *
 * libuv's idiomatic shape: a uv_tcp_t per connection, uv_read_start with
 * an allocation callback, and a uv_write of what was read, the buffer
 * freed in the write's callback.  One buffer per read, as the coil server
 * has one per connection: a 64-byte ping-pong never has two reads of a
 * connection in flight.  Built only where libuv (Debian libuv1-dev) is.
 */
#include "bench.h"

#ifdef COIL_BENCH_HAVE_UV

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define BACKLOG 4096

typedef struct echo_write {
    uv_write_t req;
    uv_buf_t buf;
} echo_write;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(4096);
    buf->len = buf->base ? 4096 : 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void on_written(uv_write_t *req, int status)
{
    echo_write *w = (echo_write *)req;
    uv_stream_t *s = req->handle;
    free(w->buf.base);
    free(w);
    if (status < 0)
        uv_close((uv_handle_t *)s, on_closed);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n <= 0) {
        free(buf->base);
        if (n < 0)
            uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    echo_write *w = malloc(sizeof *w);
    if (!w) {
        free(buf->base);
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    w->buf = uv_buf_init(buf->base, (unsigned)n);
    if (uv_write(&w->req, s, &w->buf, 1, on_written) != 0) {
        free(buf->base);
        free(w);
        uv_close((uv_handle_t *)s, on_closed);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(server->loop, c);
    if (uv_accept(server, (uv_stream_t *)c) != 0 ||
        uv_read_start((uv_stream_t *)c, on_alloc, on_read) != 0)
        uv_close((uv_handle_t *)c, on_closed);
}

int bench_echo_uv_serve(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, BACKLOG, on_connection) != 0) {
        fprintf(stderr, "libuv echo server: cannot listen\n");
        return 1;
    }
    struct sockaddr_in bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    printf("%d\n", ntohs(bound.sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}

#else

#include <stdio.h>

int bench_echo_uv_serve(void)
{
    fprintf(stderr, "coil_bench: built without libuv\n");
    return 2;
}

#endif
