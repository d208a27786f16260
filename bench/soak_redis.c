/*
 * bench/soak_redis.c — the Redis half of the soak (tools/soak.sh redis):
 * the seeds' master-worker on hiredis's synchronous API, every worker a
 * task (the hook layer makes redisCommand suspend only its task), run
 * for a long time while the script restarts redis-server under it.
 *
 *     coil_soak_redis PORT SECONDS [WORKERS]
 *
 * The master keeps up to 64 jobs queued (RPUSH soak:jobs) and collects
 * results (BLPOP soak:results); WORKERS tasks (default 20) take jobs
 * (BLPOP, 1 s timeout so that they see the end), "work" 1 ms (usleep,
 * hooked) and push the result.  Any Redis error — the server went away
 * mid-command — makes that task drop its connection and redial every
 * 100 ms until the server is back.  Every 10 s it prints the jobs done
 * and the redials; it exits 1 if, after the first 30 s, any 30 s window
 * completed no job (a task stuck on a dead connection), else 0.
 */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coil.h"

enum { MAX_QUEUED = 64, WINDOWS = 1024 };

static int port;
static volatile int stopping;
static long done, redials, windows[WINDOWS];
static coil_time started;

/* A connection to the server, waiting for it as long as it is down;
 * NULL only once the run is over. */
static redisContext *dial(void)
{
    for (;;) {
        if (stopping)
            return NULL;
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        if (c && !c->err)
            return c;
        redisFree(c);
        usleep(100000);                   /* hooked: this task only */
    }
}

/* Run a command; on a connection error drop c (the caller redials). */
static redisReply *command(redisContext **c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(*c, fmt, ap);
    va_end(ap);
    if (!r) {
        redisFree(*c);
        *c = NULL;
        redials++;
    }
    return r;
}

static void note_done(void)
{
    long w = (long)((coil_clock() - started) / COIL_SEC(30));
    done++;
    windows[w < WINDOWS ? w : WINDOWS - 1]++;
}

static void *worker(void *arg)
{
    (void)arg;
    redisContext *c = NULL;
    while (!stopping) {
        if (!c && !(c = dial()))
            break;
        redisReply *r = command(&c, "BLPOP soak:jobs 1");
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);           /* a timeout, or a lost server */
            continue;
        }
        usleep(1000);
        freeReplyObject(command(&c, "RPUSH soak:results %s",
                                r->element[1]->str));
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

/* Queue jobs while fewer than MAX_QUEUED wait; collect one result. */
static void master_step(redisContext **c, long *next)
{
    redisReply *r = command(c, "LLEN soak:jobs");
    long queued = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    for (; *c && queued < MAX_QUEUED; queued++)
        freeReplyObject(command(c, "RPUSH soak:jobs %ld", (*next)++));
    if (!*c)
        return;
    r = command(c, "BLPOP soak:results 1");
    if (r && r->type == REDIS_REPLY_ARRAY)
        note_done();
    freeReplyObject(r);
}

static void *reporter(void *arg)
{
    long seconds = (long)arg;
    for (long t = 10; t <= seconds; t += 10) {
        coil_sleep_until(started + COIL_SEC(t));
        printf("%5ld s: %ld jobs done, %ld redials\n", t, done, redials);
        fflush(stdout);
    }
    stopping = 1;
    return NULL;
}

static void *master(void *arg)
{
    long seconds = (long)arg, workers = 20, next = 0;
    const char *w = getenv("SOAK_WORKERS");
    if (w && atol(w) > 0)
        workers = atol(w);
    started = coil_clock();
    coil_task *rep = coil_spawn(reporter, (void *)seconds);
    coil_task **ws = calloc((size_t)workers, sizeof *ws);
    for (long i = 0; i < workers; i++)
        ws[i] = coil_spawn(worker, NULL);
    redisContext *c = NULL;
    while (!stopping) {
        if (!c && !(c = dial()))
            break;
        master_step(&c, &next);
    }
    redisFree(c);
    for (long i = 0; i < workers; i++) {
        coil_await(coil_task_future(ws[i]), NULL);
        coil_task_release(ws[i]);
    }
    coil_await(coil_task_future(rep), NULL);
    coil_task_release(rep);
    free(ws);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: coil_soak_redis PORT SECONDS\n");
        return 2;
    }
    port = atoi(argv[1]);
    long seconds = atol(argv[2]);
    if (coil_run(master, (void *)seconds, NULL) != 0)
        return 1;
    printf("done: %ld jobs, %ld redials\n", done, redials);
    int stuck = 0;
    for (long w = 1; w < seconds / 30 && w < WINDOWS; w++)
        if (windows[w] == 0) {
            printf("soak: no job done between %ld and %ld s\n", w * 30,
                   w * 30 + 30);
            stuck = 1;
        }
    return stuck || done == 0;
}
