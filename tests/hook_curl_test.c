/*
 * tests/hook_curl_test.c — libcurl's easy API (curl_easy_perform) from
 * 50 tasks, through the hook layer, against tests/slow_http_server.py
 * (each answer delayed 0.2 s; started by tests/hook_libs_test.sh).
 *
 *     hook_curl_test URL EXPECTED_BYTES
 */
#include <curl/curl.h>
#include <stdlib.h>

#include "check.h"
#include "coil.h"
#include "hook_libs.h"

static const char *url;
static long expected;

static size_t count(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    *(long *)arg += (long)(size * n);
    return size * n;
}

static void fetch(int i)
{
    (void)i;
    long got = 0, status = 0;
    CURL *h = curl_easy_init();
    CHECK(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, count);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fprintf(stderr, "curl: %s\n", curl_easy_strerror(rc));
    CHECK(rc == CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    CHECK(status == 200 && got == expected);
    curl_easy_cleanup(h);
}

TEST(curl_easy_perform_from_fifty_tasks_overlaps)
{
    lib_overlap(fetch, 50, 0.3, "curl_easy_perform, 0.2 s server delay");
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    url = argv[1];
    expected = atol(argv[2]);
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == 0);
    static const test_case tests[] = {T(curl_easy_perform_from_fifty_tasks_overlaps)};
    int r = run_tests(tests, 1, 1, argv);
    curl_global_cleanup();
    return r;
}
