/*
 * tests/hook_pg_test.c — libpq (PQconnectdb, PQexec) from 50 tasks,
 * through the hook layer, against a PostgreSQL that
 * tests/hook_libs_test.sh initdb'ed into a temp dir (Unix socket only).
 * Each task connects and runs SELECT pg_sleep(0.05).
 *
 *     hook_pg_test CONNINFO
 */
#include <libpq-fe.h>
#include <stdlib.h>

#include "check.h"
#include "coil.h"
#include "hook_libs.h"

static const char *conninfo;

static void query(int i)
{
    (void)i;
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        fprintf(stderr, "libpq: %s", PQerrorMessage(c));
    CHECK(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT pg_sleep(0.05), 42");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
    CHECK(strcmp(PQgetvalue(r, 0, 1), "42") == 0);
    PQclear(r);
    PQfinish(c);
}

TEST(libpq_pg_sleep_from_fifty_tasks_overlaps)
{
    lib_overlap(query, 50, 0.4, "libpq connect + pg_sleep(0.05)");
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    conninfo = argv[1];
    static const test_case tests[] = {T(libpq_pg_sleep_from_fifty_tasks_overlaps)};
    return run_tests(tests, 1, 1, argv);
}
