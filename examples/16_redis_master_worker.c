/* The seed article's master-worker, on a real Redis.  The master pushes
 * jobs (each a sleep of some units, the article's do_some_work) onto a
 * Redis list; two worker tasks take them with BLMOVE and run them at the
 * same time, so jobs of 5, 1 and 1 units finish in about 5 units.  Ctrl-C
 * stops everything, and a job a worker had taken but not finished goes
 * back on the list: nothing is lost.
 *
 *     16_redis_master_worker [-h HOST] [-p PORT] [UNITS ...]
 *
 * HOST and PORT default to $REDIS_HOST and $REDIS_PORT, else
 * 127.0.0.1:6379; the jobs default to 5 1 1 (a unit is a second, or
 * $COIL_UNIT_MS ms: example.h).  Exit status: 0 when every job is done,
 * 130 after Ctrl-C, 1 on an error (Redis gone, say).
 *
 * RESP travels over plain coil sockets: requests are made by hiredis's
 * redisFormatCommand and replies parsed by its IO-free redisReader, fed
 * with what coil_read returns.  hiredis never touches the socket.
 *
 * The reliable queue.  Job "ID:UNITS" goes from coil:jobs to the worker's
 * own coil:processing:N (BLMOVE: the move is atomic, so a taken job is
 * always on one of the lists), and when it is done one MULTI/EXEC both
 * appends its line to coil:results and removes it from processing.  A
 * cancelled worker (Ctrl-C, or the master stopping it) puts back whatever
 * its processing list holds, from a cleanup handler, on a fresh
 * connection: the worker's own one may have been cancelled half-way
 * through a command, so whatever it would read next is unknown.  Before
 * moving anything, the handler has the server kill the old connection
 * (CLIENT KILL ID): a BLMOVE or an EXEC that the old connection had sent
 * then either ran already — and its effect is in Redis to be seen — or
 * never will.  That, and one processing list per worker, is why no job is
 * lost or recorded twice even when the cancellation lands mid-command (a
 * job cut short is run again from the start: at-least-once).
 * (A worker killed outright leaves its job in coil:processing:N; a real
 * deployment would sweep those lists back at start-up.) */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "example.h"

#define JOBS_KEY "coil:jobs"
#define RESULTS_KEY "coil:results"

enum { WORKERS = 2, MAX_JOBS = 64, MAX_UNITS = 100000 };

/* How long the put-back may take: a Redis that stopped answering must not
 * hold up the shutdown for ever. */
#define PUT_BACK_TIMEOUT COIL_SEC(5)

static const char *redis_host = "127.0.0.1";
static int redis_port = 6379;
static long job_units[MAX_JOBS];
static int njobs;

/* Every line carries the time since start, in units. */
#define say(...)                                                            \
    do {                                                                    \
        printf("[%6.2f] ", elapsed());                                      \
        printf(__VA_ARGS__);                                                \
        putchar('\n');                                                      \
        fflush(stdout);                                                     \
    } while (0)

/* ------------------------------------------------- a RESP connection */

typedef struct redis_conn {
    int fd;                   /* -1 when closed */
    redisReader *reader;      /* hiredis's parser; owns the unparsed bytes */
    long long id;             /* CLIENT ID, for CLIENT KILL */
    coil_time deadline;       /* for every call on it; negative: none */
    char error[160];          /* what the last failure was */
} redis_conn;

/* Record why c failed, and return -1 with errno err. */
static int conn_fail(redis_conn *c, int err, const char *what)
{
    snprintf(c->error, sizeof c->error, "%s", what);
    errno = err;
    return -1;
}

static int conn_fail_errno(redis_conn *c, const char *op)
{
    int err = errno;
    snprintf(c->error, sizeof c->error, "%s: %s (%s)", op,
             strerrorname_np(err), strerror(err));
    errno = err;
    return -1;
}

static void free_command(void *cmd)
{
    redisFreeCommand(cmd);
}

/* Read until the reader holds one whole reply.  Returns it (the caller
 * frees it with freeReplyObject), or NULL with errno and c->error. */
static redisReply *read_reply(redis_conn *c)
{
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
            conn_fail(c, EPROTO, c->reader->errstr);
            return NULL;
        }
        if (reply)
            return reply;
        char buf[4096];
        ssize_t n = coil_read_until(c->fd, buf, sizeof buf, c->deadline);
        if (n == 0) {
            conn_fail(c, ECONNRESET, "read: EOF (the server closed the connection)");
            return NULL;
        }
        if (n < 0) {
            conn_fail_errno(c, "read");
            return NULL;
        }
        if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
            conn_fail(c, ENOMEM, c->reader->errstr);
            return NULL;
        }
    }
}

/* Send one command (redisFormatCommand's format: %s for a string
 * argument, %d for an int...) and wait for its reply.  Returns the reply
 * (freeReplyObject it), or NULL with errno and c->error.  May suspend. */
static redisReply *redis_command(redis_conn *c, const char *fmt, ...)
{
    char *cmd;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) {
        conn_fail(c, len == -1 ? ENOMEM : EINVAL, "cannot format the command");
        return NULL;
    }
    ssize_t sent;
    /* The write may suspend, and a cancelled task unwinds out of it. */
    coil_cleanup_push(free_command, cmd);
    sent = coil_write_all_until(c->fd, cmd, (size_t)len, NULL, c->deadline);
    coil_cleanup_pop(1);
    if (sent < 0) {
        conn_fail_errno(c, "write");
        return NULL;
    }
    return read_reply(c);
}

/* Take reply (maybe NULL, from a failed command): 0 if it is anything but
 * an error, else -1 with errno EPROTO and the server's message in
 * c->error (or as the failed command).  Frees it. */
static int reply_ok(redis_conn *c, redisReply *reply)
{
    if (!reply)
        return -1;
    int ok = reply->type != REDIS_REPLY_ERROR;
    if (!ok)
        conn_fail(c, EPROTO, reply->str);
    freeReplyObject(reply);
    return ok ? 0 : -1;
}

static void redis_close(redis_conn *c)
{
    if (c->fd >= 0)
        coil_close(c->fd);
    c->fd = -1;
    if (c->reader)
        redisReaderFree(c->reader);
    c->reader = NULL;
}

/* reply if it has the type wanted; else NULL with errno EPROTO and
 * c->error saying what came instead (reply is then freed).  A NULL reply,
 * from a failed command, passes through with its errno. */
static redisReply *expect_reply(redis_conn *c, redisReply *reply, int type)
{
    if (!reply || reply->type == type)
        return reply;
    conn_fail(c, EPROTO, reply->type == REDIS_REPLY_ERROR
                             ? reply->str : "unexpected reply type");
    freeReplyObject(reply);
    return NULL;
}

/* Connect c to the server and learn its client id.  c must be closed (fd
 * -1, no reader); a task cancelled in here leaves c for redis_close.
 * Returns 0, or -1 with errno and c->error (c is then closed).  May
 * suspend. */
static int redis_open(redis_conn *c, coil_time deadline)
{
    c->deadline = deadline;
    c->id = 0;
    c->fd = coil_tcp_dial(redis_host, redis_port, deadline);
    if (c->fd < 0)
        return conn_fail_errno(c, "connect");
    c->reader = redisReaderCreate();
    redisReply *reply = !c->reader ? NULL
        : expect_reply(c, redis_command(c, "CLIENT ID"), REDIS_REPLY_INTEGER);
    if (!reply) {
        int err = c->reader ? errno : ENOMEM;
        if (!c->reader)
            conn_fail(c, err, "out of memory");
        redis_close(c);
        errno = err;
        return -1;
    }
    c->id = reply->integer;
    freeReplyObject(reply);
    return 0;
}

static void close_conn(void *c)
{
    redis_close(c);
}

/* ------------------------------------------------------------ workers */

typedef struct worker {
    int id;                   /* 1, 2, ... */
    char processing[32];      /* its own processing list */
    char job[256];            /* "ID:UNITS" while it runs one, else "" */
    redis_conn conn;
    coil_task *task;
} worker;

static worker workers[WORKERS];
static int jobs_done;
static coil_future *all_done;  /* set when jobs_done reaches njobs */

/* On a connection that is not w's own: make sure w's old connection can
 * no longer change anything, then move its in-flight jobs back to the
 * head of the queue (the end BLMOVE takes from).  Returns how many were
 * moved, or -1 with errno and c->error. */
static int put_back(worker *w, redis_conn *c)
{
    /* An error reply ("No such client") is fine: the server already
     * dropped the old connection. */
    redisReply *reply = redis_command(c, "CLIENT KILL ID %lld", w->conn.id);
    if (!reply)
        return -1;
    freeReplyObject(reply);
    for (int moved = 0;; moved++) {
        reply = redis_command(c, "LMOVE %s %s RIGHT RIGHT", w->processing,
                              JOBS_KEY);
        if (reply && reply->type == REDIS_REPLY_NIL) {   /* empty now */
            freeReplyObject(reply);
            return moved;
        }
        reply = expect_reply(c, reply, REDIS_REPLY_STRING);
        if (!reply)
            return -1;
        say("worker %d: put job %s back on %s", w->id, reply->str, JOBS_KEY);
        freeReplyObject(reply);
    }
}

/* Cleanup handler: w was cancelled.  Runs on w's stack, and may suspend:
 * a second cancellation does not cut the put-back short. */
static void worker_cancelled(void *arg)
{
    worker *w = arg;
    redis_conn fresh = {.fd = -1};
    int moved = -1;
    /* Client ids start at 1: with none, w never got as far as a BLMOVE. */
    if (w->conn.id == 0) {
        say("worker %d: stopped before it took a job", w->id);
        redis_close(&w->conn);
        return;
    }
    if (redis_open(&fresh, coil_clock() + PUT_BACK_TIMEOUT) == 0)
        moved = put_back(w, &fresh);
    if (moved < 0) {
        say("worker %d: cannot put jobs back: %s", w->id, fresh.error);
        if (w->job[0])
            say("worker %d: job %s is left on %s", w->id, w->job,
                w->processing);
    } else if (moved == 0) {
        say("worker %d: stopped, no job in flight", w->id);
    }
    redis_close(&fresh);
    redis_close(&w->conn);
}

/* Take the next job, blocking until there is one.  Returns its units, or
 * -1 with errno and w->conn.error. */
static long take_job(worker *w)
{
    redisReply *reply = redis_command(&w->conn, "BLMOVE %s %s RIGHT LEFT 0",
                                      JOBS_KEY, w->processing);
    reply = expect_reply(&w->conn, reply, REDIS_REPLY_STRING);
    if (!reply)
        return -1;
    snprintf(w->job, sizeof w->job, "%s", reply->str);
    freeReplyObject(reply);
    const char *colon = strchr(w->job, ':');
    return colon ? strtol(colon + 1, NULL, 10) : 0;
}

/* Record the result and drop the job from processing, atomically.
 * Returns 0, or -1 with errno and w->conn.error. */
static int finish_job(worker *w, double took)
{
    redis_conn *c = &w->conn;
    char result[sizeof w->job + 64];
    snprintf(result, sizeof result, "job %s done by worker %d in %.2f units",
             w->job, w->id, took);
    if (reply_ok(c, redis_command(c, "MULTI")) < 0 ||
        reply_ok(c, redis_command(c, "RPUSH %s %s", RESULTS_KEY, result)) < 0 ||
        reply_ok(c, redis_command(c, "LREM %s 1 %s", w->processing, w->job)) < 0)
        return -1;
    /* EXEC answers nil, not an array, if the transaction was aborted. */
    return reply_ok(c, expect_reply(c, redis_command(c, "EXEC"),
                                    REDIS_REPLY_ARRAY));
}

/* The article's worker: take a job, "Wait" its units, record it; again,
 * until cancelled or Redis fails. */
static void *work(void *arg)
{
    worker *w = arg;
    long units;
    int err;
    coil_cleanup_push(worker_cancelled, w);
    if (redis_open(&w->conn, -1) == 0) {
        say("worker %d: waiting for jobs on %s", w->id, JOBS_KEY);
        while ((units = take_job(w)) >= 0) {
            say("worker %d: took job %s, Wait %ld", w->id, w->job, units);
            coil_time start = coil_clock();
            coil_sleep(units * unit());
            double took = (double)(coil_clock() - start) / (double)unit();
            if (finish_job(w, took) < 0)
                break;
            say("worker %d: Done job %s after %.2f units", w->id, w->job, took);
            w->job[0] = '\0';
            if (++jobs_done == njobs)
                coil_future_set_result(all_done, NULL);
        }
    }
    err = errno;
    coil_cleanup_pop(0);
    say("worker %d: redis error: %s", w->id, w->conn.error);
    if (w->job[0])
        say("worker %d: job %s is left on %s", w->id, w->job, w->processing);
    redis_close(&w->conn);
    return coil_task_error(err);
}

/* ------------------------------------------------------------- master */

/* LPUSH each job: the workers take from the other end, oldest first.
 * Returns 0 or an errno value. */
static int push_jobs(void)
{
    redis_conn c = {.fd = -1};
    int err = 0;
    coil_cleanup_push(close_conn, &c);
    if (redis_open(&c, -1) < 0)
        err = errno;
    for (int i = 0; i < njobs && !err; i++) {
        char job[32];
        snprintf(job, sizeof job, "%d:%ld", i + 1, job_units[i]);
        if (reply_ok(&c, redis_command(&c, "LPUSH %s %s", JOBS_KEY, job)) < 0)
            err = errno;
        else
            say("master: pushed job %s", job);
    }
    if (err)
        say("master: redis error: %s", c.error);
    coil_cleanup_pop(1);
    return err;
}

/* Wait until every job is done or a worker fails.  Returns 0, or the
 * failed worker's error. */
static int wait_for_jobs(void)
{
    coil_future *fs[WORKERS + 1] = {all_done};
    for (int i = 0; i < WORKERS; i++)
        fs[i + 1] = coil_task_future(workers[i].task);
    if (coil_wait(fs, WORKERS + 1, COIL_FIRST_COMPLETED, -1, NULL, NULL,
                  NULL, NULL) < 0)
        return errno;
    if (coil_future_done(all_done)) {
        say("master: all %d jobs done in %.2f units", njobs, elapsed());
        return 0;
    }
    for (int i = 1; i <= WORKERS; i++) {
        if (coil_future_done(fs[i]) && coil_future_result(fs[i], NULL) < 0) {
            int err = errno;
            say("master: worker %d failed (%s); stopping", i,
                strerrorname_np(err));
            return err;
        }
    }
    return EPROTO;   /* workers end only by failing: cannot happen */
}

/* Cancel the workers and wait until their cleanup has run. */
static void stop_workers(void)
{
    coil_future *fs[WORKERS];
    int errors[WORKERS];
    size_t n = 0;
    for (int i = 0; i < WORKERS; i++) {
        if (workers[i].task) {
            coil_task_cancel(workers[i].task);
            fs[n++] = coil_task_future(workers[i].task);
        }
    }
    coil_gather(fs, n, NULL, errors, COIL_GATHER_COLLECT_ERRORS);
}

static void release_all(void *arg)
{
    (void)arg;
    for (int i = 0; i < WORKERS; i++)
        coil_task_release(workers[i].task);
    coil_future_release(all_done);
}

static void *master(void *arg)
{
    (void)arg;
    all_done = coil_future_new(NULL);
    if (!all_done)
        return coil_task_error(errno);
    int err = 0;
    for (int i = 0; i < WORKERS; i++) {
        worker *w = &workers[i];
        *w = (worker){.id = i + 1, .conn = {.fd = -1}};
        snprintf(w->processing, sizeof w->processing, "coil:processing:%d",
                 w->id);
        char name[16];
        snprintf(name, sizeof name, "worker-%d", w->id);
        coil_task_attr attr = {.name = name};
        w->task = coil_spawn_attr(&attr, work, w);
        if (!w->task)
            err = errno;
    }
    /* Ctrl-C unwinds master out of any call below; coil_run then cancels
     * the workers itself, and their cleanup puts their jobs back. */
    coil_cleanup_push(release_all, NULL);
    if (!err)
        err = push_jobs();
    if (!err)
        err = wait_for_jobs();
    stop_workers();
    coil_cleanup_pop(1);
    return err ? coil_task_error(err) : NULL;
}

/* ---------------------------------------------------------------- main */

static int parse_args(int argc, char **argv)
{
    const char *env = getenv("REDIS_HOST");
    if (env && *env)
        redis_host = env;
    env = getenv("REDIS_PORT");
    if (env && *env)
        redis_port = atoi(env);
    int opt;
    while ((opt = getopt(argc, argv, "h:p:")) != -1) {
        if (opt == 'h')
            redis_host = optarg;
        else if (opt == 'p')
            redis_port = atoi(optarg);
        else
            return -1;
    }
    for (int i = optind; i < argc; i++) {
        char *end;
        long u = strtol(argv[i], &end, 10);
        if (njobs == MAX_JOBS || *end || end == argv[i] || u < 0 ||
            u > MAX_UNITS)
            return -1;
        job_units[njobs++] = u;
    }
    if (njobs == 0) {
        long seed_jobs[] = {5, 1, 1};   /* the article's lpush 5, 1, 1 */
        njobs = 3;
        memcpy(job_units, seed_jobs, sizeof seed_jobs);
    }
    return redis_port > 0 && redis_port < 65536 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0) {
        fprintf(stderr, "usage: %s [-h HOST] [-p PORT] [UNITS ...]\n"
                        "  (each UNITS an integer 0..%d, at most %d jobs)\n",
                argv[0], MAX_UNITS, MAX_JOBS);
        return 2;
    }
    start_clock();
    say("master: %d jobs, %d workers, redis at %s:%d", njobs, WORKERS,
        redis_host, redis_port);
    int r = coil_run(master, NULL, NULL);
    int err = errno;
    say("coil_run: %d (%s)", r, r ? strerrorname_np(err) : "ok");
    printf("TIME: %.2f\n", elapsed());
    return r == 0 ? 0 : err == EINTR ? 130 : 1;
}
