/* The seed article's Redis master-worker once more, written as a new user
 * would write it with no async library at all: hiredis's plain
 * synchronous API (redisConnect, redisCommand), usleep for the work, and
 * every worker a task.  Linked with libcoil_hook.so (docs/hooks.md), each
 * redisCommand that waits for Redis — a BLPOP holding a worker until a
 * job comes — suspends only its task, so the workers run at the same
 * time: jobs of 5, 1 and 1 units with two workers take about 5 units, not
 * 7.  Compare examples/16, which drives hiredis's IO-free parser over
 * coil sockets by hand.
 *
 *     19_blocking_libraries [-h HOST] [-p PORT] [UNITS ...]
 *
 * HOST and PORT default to 127.0.0.1:6379; jobs default to 5 1 1 (a unit
 * is a second, or $COIL_UNIT_MS ms; times count from when both workers
 * are connected and the jobs are pushed).  Exit status 0 when every job is
 * done, 1 on a Redis error.  The lists it uses (coil19:*) are emptied
 * first. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "example.h"

enum { WORKERS = 2, MAX_JOBS = 64 };

static const char *host = "127.0.0.1";
static int port = 6379;
static coil_sem *connected;            /* a worker is ready for jobs */

/* A connection, or exit: an example's error handling. */
static redisContext *connect_or_die(void)
{
    redisContext *c = redisConnect(host, port);      /* hooked: yields */
    if (!c || c->err) {
        fprintf(stderr, "redis: %s\n", c ? c->errstr : "out of memory");
        exit(1);
    }
    return c;
}

/* Run a command and check it worked; the reply is the caller's. */
static redisReply *command(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "redis: %s\n", r ? r->str : c->errstr);
        exit(1);
    }
    return r;
}

/* A worker: take a job ("ID:UNITS") with BLPOP, "work" (usleep, hooked),
 * report it; "stop" ends it. */
static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    redisContext *c = connect_or_die();
    coil_sem_release(connected);
    for (;;) {
        redisReply *r = command(c, "BLPOP coil19:jobs 0");
        const char *job = r->element[1]->str;
        if (strcmp(job, "stop") == 0) {
            freeReplyObject(r);
            break;
        }
        long units = atol(strchr(job, ':') + 1);
        printf("%.2f worker %ld: took job %s\n", elapsed(), id, job);
        fflush(stdout);
        usleep((useconds_t)(units * unit() / 1000));
        printf("%.2f worker %ld: done job %s\n", elapsed(), id, job);
        fflush(stdout);
        freeReplyObject(command(c, "RPUSH coil19:results %s", job));
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static long jobs[MAX_JOBS];
static int njobs;

static void *master(void *arg)
{
    (void)arg;
    redisContext *c = connect_or_die();
    freeReplyObject(command(c, "DEL coil19:jobs coil19:results"));
    coil_task *w[WORKERS];
    connected = coil_sem_new(0);
    for (long i = 0; i < WORKERS; i++)
        w[i] = coil_spawn(worker, (void *)(intptr_t)(i + 1));
    for (int i = 0; i < WORKERS; i++)    /* the jobs' clock starts here */
        coil_sem_acquire(connected);
    start_clock();
    for (int i = 0; i < njobs; i++)
        freeReplyObject(command(c, "RPUSH coil19:jobs %d:%ld", i + 1, jobs[i]));
    for (int i = 0; i < njobs; i++)      /* wait for each result */
        freeReplyObject(command(c, "BLPOP coil19:results 0"));
    printf("%.2f master: all %d jobs done in %.2f units\n", elapsed(), njobs,
           elapsed());
    for (int i = 0; i < WORKERS; i++)
        freeReplyObject(command(c, "RPUSH coil19:jobs stop"));
    for (int i = 0; i < WORKERS; i++) {
        coil_await(coil_task_future(w[i]), NULL);
        coil_task_release(w[i]);
    }
    coil_sem_free(connected);
    redisFree(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "h:p:")) != -1) {
        if (opt == 'h')
            host = optarg;
        else if (opt == 'p')
            port = atoi(optarg);
        else
            return 2;
    }
    for (int i = optind; i < argc && njobs < MAX_JOBS; i++)
        jobs[njobs++] = atol(argv[i]);
    if (njobs == 0) {
        static const long seed[] = {5, 1, 1};
        memcpy(jobs, seed, sizeof seed);
        njobs = 3;
    }
    start_clock();
    return coil_run(master, NULL, NULL) == 0 ? 0 : 1;
}
