/*
 * src/io/serve.c — coil_stream_serve (layer 6): an accept loop that runs
 * a task per connection, at most max_conns at once.
 *
 * The cap is a semaphore taken before each accept and given back when a
 * connection's task has ended, so at the cap the server simply does not
 * accept and the kernel's backlog holds the callers.  A connection is
 * accounted for by a done-callback on its task's future, not by code in
 * the task: a task cancelled before it ever ran runs none of its own code
 * (no cleanup handler either), and its stream must still be closed and
 * its slot given back.  The server's record lives in the serving task's
 * frame, which it does not leave before the last connection's callback
 * has run: its exit handler cancels the connections and waits, shielded,
 * for the count to reach zero.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "coil.h"
#include "core/list.h"
#include "io/stream.h"
#include "loop/debug.h"

enum { DEFAULT_MAX_CONNS = 1024 };

#define PAUSE_MIN COIL_MSEC(1)
#define PAUSE_MAX COIL_MSEC(100)

typedef struct server {
    coil_stream_handler fn;
    void *arg;
    coil_sem *slots;              /* one permit per connection allowed */
    coil_event *idle;             /* set while no connection is live */
    coil__list conns;
    size_t live;
    int cancelled;                /* a cancel arrived during the exit */
} server;

typedef struct conn {
    coil__list link;              /* in server.conns */
    server *srv;
    coil_stream *s;               /* NULL once closed */
    coil_task *task;
} conn;

/* ------------------------------------------------------ one connection */

static void conn_close(void *arg)
{
    conn *c = arg;
    if (c->s) {
        coil_stream_close(c->s);
        c->s = NULL;
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    coil_cleanup_push(conn_close, c);
    c->srv->fn(c->s, c->srv->arg);
    coil_cleanup_pop(1);
    return NULL;
}

/* The connection's task has ended, however it did. */
static void conn_done(coil_future *f, void *arg)
{
    (void)f;
    conn *c = arg;
    server *srv = c->srv;
    conn_close(c);                /* cancelled before it ran */
    coil__list_remove(&c->link);
    coil_future_result(f, NULL);  /* an error is the handler's business */
    coil_task_release(c->task);
    free(c);
    coil_sem_release(srv->slots);
    if (--srv->live == 0)
        coil_event_set(srv->idle);
}

/* Run a task for s.  Returns 0, or -1 with errno (s left open). */
static int start_conn(server *srv, coil_stream *s, const coil_task_attr *ta)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return -1;
    }
    *c = (conn){.srv = srv, .s = s};
    c->task = coil_task_spawn(ta, conn_main, c, "coil_stream_serve");
    if (!c->task) {
        free(c);
        return -1;
    }
    if (coil_future_add_done_callback(coil_task_future(c->task), conn_done,
                                      c) != 0) {
        c->s = NULL;              /* the caller closes it */
        coil_task_cancel(c->task);
        coil_task_release(c->task);
        free(c);
        errno = ENOMEM;
        return -1;
    }
    coil__list_push_back(&srv->conns, &c->link);
    srv->live++;
    coil_event_clear(srv->idle);
    return 0;
}

/* --------------------------------------------------------------- serving */

/* Out of some resource: the next accept may well succeed after a pause. */
static int accept_will_recover(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS ||
           err == ENOMEM;
}

/* The peer gave up before we accepted: skip it. */
static int accept_skippable(int err)
{
    return err == ECONNABORTED || err == EINTR || err == EPROTO ||
           err == EPERM;
}

/* Accept and start connections until something lasting goes wrong.
 * Returns -1 with errno (ECANCELED in error mode; unwinds otherwise). */
static int accept_loop(server *srv, int lfd, const coil_serve_attr *attr)
{
    coil_time pause = PAUSE_MIN;
    for (;;) {
        if (coil_sem_acquire(srv->slots) != 0)
            return -1;
        coil_stream *s = coil_stream_accept(lfd, attr->stream, -1);
        if (s && start_conn(srv, s, attr->task) == 0) {
            pause = PAUSE_MIN;
            continue;
        }
        int err = errno;
        if (s)
            coil_stream_close(s);
        coil_sem_release(srv->slots);
        if (err == ECANCELED || (!accept_will_recover(err) &&
                                 !accept_skippable(err))) {
            errno = err;
            return -1;
        }
        if (accept_will_recover(err)) {
            if (coil_sleep(pause) != 0)
                return -1;
            pause = pause * 2 > PAUSE_MAX ? PAUSE_MAX : pause * 2;
        }
    }
}

/* On every way out of the server: end every connection and wait for
 * them.  Shielded, so a cancellation arriving now cannot cut the wait
 * short (while unwinding, none is delivered anyway); one that does
 * arrive is delivered at the end, after everything is freed. */
static void server_exit(void *arg)
{
    server *srv = arg;
    coil_shield_begin();
    coil__list_each(pos, &srv->conns)
        coil_task_cancel(coil__container_of(pos, conn, link)->task);
    while (srv->live > 0)
        coil_event_wait(srv->idle);
    coil_event_free(srv->idle);
    coil_sem_free(srv->slots);
    if (coil_shield_end() != 0)
        srv->cancelled = 1;       /* error mode: report ECANCELED */
}

/* Set up srv.  0, or -1 with errno ENOMEM. */
static int server_init(server *srv, size_t max_conns)
{
    coil__list_init(&srv->conns);
    srv->live = 0;
    srv->cancelled = 0;
    if (max_conns > UINT_MAX)
        max_conns = UINT_MAX;
    srv->slots = coil_sem_new((unsigned)max_conns);
    srv->idle = coil_event_new();
    if (!srv->slots || !srv->idle) {
        coil_sem_free(srv->slots);
        coil_event_free(srv->idle);
        errno = ENOMEM;
        return -1;
    }
    coil_event_set(srv->idle);
    return 0;
}

int coil_stream_serve(int lfd, const coil_serve_attr *attr,
                      coil_stream_handler fn, void *arg)
{
    coil_serve_attr a = attr ? *attr : (coil_serve_attr){0};
    if (!fn || coil__stream_attr(NULL, a.stream) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (!coil_task_current())
        return coil__debug_outside_task("coil_stream_serve");
    server srv = {.fn = fn, .arg = arg};
    if (server_init(&srv, a.max_conns ? a.max_conns : DEFAULT_MAX_CONNS))
        return -1;
    int err;
    coil_cleanup_push(server_exit, &srv);
    accept_loop(&srv, lfd, &a);
    err = errno;
    coil_cleanup_pop(1);
    errno = srv.cancelled ? ECANCELED : err;
    return -1;
}
