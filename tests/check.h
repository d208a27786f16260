/*
 * tests/check.h — the test harness: plain C, no longjmp.
 *
 * A check that fails prints file:line and the expression, then aborts: a
 * longjmp-based framework cannot unwind across coroutine stacks.  To keep
 * one failure from hiding the rest, every test runs in a forked child
 * (COIL_TEST_NOFORK=1 runs them in-process, for gdb).  The runner prints a
 * line per test and closes with "N passed, N failed"; `prog NAME` runs the
 * tests whose names contain NAME.
 */
#ifndef COIL_TEST_CHECK_H
#define COIL_TEST_CHECK_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond))                                                        \
            check_failed(__FILE__, __LINE__, #cond);                        \
    } while (0)

/* A call that must fail with -1 (or NULL) and errno == e. */
#define CHECK_ERRNO(expr, e)                                                \
    do {                                                                    \
        errno = 0;                                                          \
        long long check_r_ = (long long)(intptr_t)(expr);                   \
        if (!((check_r_ == -1 || check_r_ == 0) && errno == (e))) {         \
            fprintf(stderr, "%s:%d: expected errno %s, got r=%lld errno=%d" \
                    " (%s)\n", __FILE__, __LINE__, #e, check_r_, errno,     \
                    strerror(errno));                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

__attribute__((noreturn, unused)) static void
check_failed(const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}

/* End the current test as skipped, saying why.  Only for conditions outside
 * coil (a tool that cannot emulate something), never to hide a failure. */
#define SKIP(reason)                                                        \
    do {                                                                    \
        printf("  skipped: %s\n", reason);                                 \
        fflush(NULL);                                                       \
        _exit(77);                                                          \
    } while (0)

/* Run body() in a forked child with its stderr sent to buf (NUL-ended,
 * truncated to size - 1 bytes) and return the child's wait status: for
 * behaviour that must end a process, such as an abort with a message. */
__attribute__((unused)) static int
run_capturing_stderr(void (*body)(void), char *buf, size_t size)
{
    int err[2];
    CHECK(pipe(err) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        body();
        _exit(0);
    }
    close(err[1]);
    size_t got = 0;
    ssize_t n;
    while (got < size - 1 && (n = read(err[0], buf + got, size - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(err[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return status;
}

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST(name) static void name(void)
#define T(name) {#name, name}

enum { FAILED, PASSED, SKIPPED };

/* A test child ends with _exit, which skips LeakSanitizer's own check at
 * exit: run it here, so a leak fails the test that made it (ASan builds;
 * elsewhere the symbol is absent and this does nothing). */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static const char *leaks_expected_because;

/* The test leaks on purpose (say why): a task abandoned with its loop. */
#define LEAKS_EXPECTED(reason) (leaks_expected_because = (reason))

static int leak_check(void)
{
    if (!__lsan_do_recoverable_leak_check || leaks_expected_because)
        return 0;
    const char *opts = getenv("ASAN_OPTIONS");
    if (opts && strstr(opts, "detect_leaks=0"))
        return 0;
    return __lsan_do_recoverable_leak_check() ? 1 : 0;
}

static int run_one(const test_case *t, int fork_each)
{
    if (!fork_each) {
        t->fn();
        return PASSED;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return FAILED;
    }
    if (pid == 0) {
        t->fn();
        fflush(NULL);
        _exit(leak_check());
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return PASSED;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        return SKIPPED;
    if (WIFSIGNALED(status))
        fprintf(stderr, "  (%s died by signal %d)\n", t->name,
                WTERMSIG(status));
    else
        fprintf(stderr, "  (%s exited with %d)\n", t->name,
                WEXITSTATUS(status));
    return FAILED;
}

__attribute__((unused)) static int
run_tests(const test_case *tests, size_t n, int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    const char *nofork = getenv("COIL_TEST_NOFORK");
    int fork_each = !(nofork && *nofork == '1');
    int count[3] = {0, 0, 0};
    static const char *label[3] = {"FAIL", "ok  ", "skip"};
    for (size_t i = 0; i < n; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        int outcome = run_one(&tests[i], fork_each);
        printf("%s %s\n", label[outcome], tests[i].name);
        fflush(stdout);
        count[outcome]++;
    }
    if (count[SKIPPED])
        printf("%d passed, %d failed, %d skipped\n", count[PASSED],
               count[FAILED], count[SKIPPED]);
    else
        printf("%d passed, %d failed\n", count[PASSED], count[FAILED]);
    int failed = count[FAILED];
    return failed ? 1 : 0;
}

#define RUN_TESTS(...)                                                      \
    int main(int argc, char **argv)                                         \
    {                                                                       \
        static const test_case tests_[] = {__VA_ARGS__};                    \
        return run_tests(tests_, sizeof tests_ / sizeof tests_[0], argc,    \
                         argv);                                             \
    }

/* How much wider an upper time bound may be on a machine busier than its
 * cores (CI is never promised an idle one): the 1-minute load average per
 * core, read now, between 1 and 4.  Lower bounds never widen: a wait is
 * never shorter under load. */
__attribute__((unused)) static double load_slack(void)
{
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = 0;
        fclose(f);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double s = cores > 0 ? load / (double)cores : 1;
    return s < 1 ? 1 : s > 4 ? 4 : s;
}

/* lo <= v < hi, hi widened by load_slack() (v, lo, hi in any one unit). */
__attribute__((unused)) static int within(double v, double lo, double hi)
{
    double s = load_slack();
    if (v >= hi && v < lo + (hi - lo) * s)
        printf("  %.2f is past %.2f, within it %.2fx wider at this load\n",
               v, hi, s);
    return v >= lo && v < lo + (hi - lo) * s;
}

/* Scale factor for the big tests: COIL_TEST_SCALE=0.1 under slow tools. */
__attribute__((unused)) static long scaled(long n)
{
    const char *s = getenv("COIL_TEST_SCALE");
    double f = s ? atof(s) : 1.0;
    long v = (long)(n * (f > 0 ? f : 1.0));
    return v > 0 ? v : 1;
}

#endif
