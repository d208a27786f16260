/*
 * tests/hook_redis_test.c — hiredis's synchronous API from 100 tasks,
 * through the hook layer, against a redis-server the wrapper started
 * (tests/hook_libs_test.sh).  Each task connects and runs BLPOP on an
 * empty list of its own with a 0.05 s timeout: the server holds that
 * client only, so the 100 can overlap — if redisCommand's read yields.
 *
 *     hook_redis_test PORT
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>

#include "check.h"
#include "coil.h"
#include "hook_libs.h"

static int port;

static void blpop(int i)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    CHECK(c && !c->err);
    redisReply *r = redisCommand(c, "BLPOP coil:hook:empty:%d 0.05", i);
    CHECK(r && r->type == REDIS_REPLY_NIL);   /* timed out at the server */
    freeReplyObject(r);
    r = redisCommand(c, "PING");
    CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0);
    freeReplyObject(r);
    redisFree(c);
}

TEST(hiredis_blpop_from_a_hundred_tasks_overlaps)
{
    lib_overlap(blpop, 100, 0.3, "hiredis BLPOP 0.05 s");
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    port = atoi(argv[1]);
    static const test_case tests[] = {T(hiredis_blpop_from_a_hundred_tasks_overlaps)};
    return run_tests(tests, 1, 1, argv);
}
