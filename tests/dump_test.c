/*
 * tests/dump_test.c — coil_dump_tasks: which task is stuck, on what, and
 * where, read from its saved context; the same through COIL_DUMP_SIGNAL
 * while the program keeps serving.
 *
 * The three user functions are exported (ENABLE_EXPORTS) and noinline,
 * with work after each call so that no call is a tail call: their frames
 * must all be on the stuck task's stack, whether names come from libdw or
 * from dladdr (under qemu, where libdw is not installed for the target).
 */
#include <fcntl.h>
#include <pthread.h>
#include <alloca.h>
#include <signal.h>

#include "check.h"
#include "coil.h"

enum { TASKS = 100 };

int stuck_level1(int fd);
int stuck_level2(int fd);
int stuck_level3(int fd);

static int pipe_fds[2];
static volatile int sink;

__attribute__((noinline)) int stuck_level3(int fd)
{
    char c;
    int r = (int)coil_read(fd, &c, 1);
    sink = r;
    return r + sink;
}

__attribute__((noinline)) int stuck_level2(int fd)
{
    int r = stuck_level3(fd);
    sink = r;
    return r + 1;
}

__attribute__((noinline)) int stuck_level1(int fd)
{
    int r = stuck_level2(fd);
    sink = r;
    return r + 1;
}

static void *stuck_task(void *arg)
{
    (void)arg;
    stuck_level1(pipe_fds[0]);
    return NULL;
}

static void *idle_task(void *arg)
{
    coil_sleep(COIL_SEC(3600) + (coil_time)(intptr_t)arg);
    return NULL;
}

/* 99 idle tasks and the stuck one, in the middle; returns them. */
static void spawn_all(coil_task **tasks)
{
    CHECK(pipe(pipe_fds) == 0);
    for (int i = 0; i < TASKS; i++) {
        coil_task_attr attr = {.name = i == TASKS / 2 ? "stuck" : NULL};
        tasks[i] = i == TASKS / 2
                       ? coil_spawn_attr(&attr, stuck_task, NULL)
                       : coil_spawn_attr(&attr, idle_task, (void *)(intptr_t)i);
        CHECK(tasks[i]);
    }
    for (int i = 0; i < 3; i++)
        coil_yield();                 /* every task runs to its wait */
}

static void end_all(coil_task **tasks)
{
    for (int i = 0; i < TASKS; i++) {
        coil_task_cancel(tasks[i]);
        coil_await(coil_task_future(tasks[i]), NULL);
        coil_task_release(tasks[i]);
    }
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* The stuck task's part of a dump: from its header to the next task's. */
static const char *stuck_entry(const char *dump, char *buf, size_t size)
{
    const char *at = strstr(dump, "'stuck' fn=stuck_task");
    CHECK(at);
    const char *end = strstr(at + 1, "\ntask ");
    size_t n = end ? (size_t)(end - at) : strlen(at);
    CHECK(n < size);
    memcpy(buf, at, n);
    buf[n] = '\0';
    return buf;
}

static void check_stuck_entry(const char *dump, int fd)
{
    static char entry[8192];
    stuck_entry(dump, entry, sizeof entry);
    char want[64];
    snprintf(want, sizeof want, "waits on fd %d readable", fd);
    if (!strstr(entry, want))
        fprintf(stderr, "no \"%s\" in:\n%s\n", want, entry);
    CHECK(strstr(entry, want));
    CHECK(strstr(entry, "no deadline"));
    CHECK(strstr(entry, "cancellation: none requested"));
#if COIL_CTX_FCONTEXT
    /* Over fcontext a suspended stack is not walked, and the dump says so
     * (src/core/backtrace.c). */
    CHECK(strstr(entry, "no backtrace: the fcontext backend"));
    return;
#endif
    const char *l3 = strstr(entry, "stuck_level3");
    const char *l2 = strstr(entry, "stuck_level2");
    const char *l1 = strstr(entry, "stuck_level1");
    if (!(l3 && l2 && l1 && l3 < l2 && l2 < l1))
        fprintf(stderr, "backtrace out of order or incomplete:\n%s\n", entry);
    CHECK(l3 && l2 && l1 && l3 < l2 && l2 < l1);
    CHECK(strstr(entry, "coil_read"));
}

static void *dump_main(void *arg)
{
    (void)arg;
    coil_task *tasks[TASKS];
    spawn_all(tasks);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK(out);
    CHECK(coil_dump_tasks(out, 0) == TASKS + 1);   /* and main */
    fclose(out);
    CHECK(strstr(text, "coil: 101 live tasks on loop"));
    CHECK(strstr(text, "'main' fn=main: running (making this dump)"));
    CHECK(strstr(text, "sleep: timer in 1.00 h") == NULL);  /* see below */
    CHECK(strstr(text, "waits on sleep: timer in "));
    check_stuck_entry(text, pipe_fds[0]);
    free(text);
    end_all(tasks);
    return NULL;
}

TEST(dump_names_the_stuck_reader_its_fd_and_its_three_callers)
{
    CHECK(coil_run(dump_main, NULL, NULL) == 0);
}

static void *brief_main(void *arg)
{
    (void)arg;
    coil_task *tasks[TASKS];
    spawn_all(tasks);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK(coil_dump_tasks(out, COIL_DUMP_NO_BACKTRACE) == TASKS + 1);
    fclose(out);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK(lines == TASKS + 2);        /* the header, a line per task */
    CHECK(!strstr(text, "#0"));
    free(text);
    end_all(tasks);
    return NULL;
}

TEST(dump_without_backtraces_is_a_line_per_task)
{
    CHECK(coil_run(brief_main, NULL, NULL) == 0);
}

TEST(dump_refuses_bad_arguments_and_other_threads_loops)
{
    CHECK_ERRNO(coil_dump_tasks(NULL, 0), EINVAL);
    CHECK_ERRNO(coil_dump_tasks(stderr, 0x100), EINVAL);
    coil_loop *loop = coil_loop_new();
    CHECK(loop);
    FILE *null = fopen("/dev/null", "w");
    CHECK(null);
    CHECK(coil_loop_dump_tasks(loop, null, 0) == 0);
    fclose(null);
    coil_loop_close(loop);
}

static void *runtime_sleeper(void *arg)
{
    (void)arg;
    coil_sleep(COIL_SEC(3600));
    return NULL;
}

TEST(runtime_dump_walks_every_loop_on_its_own_thread)
{
    coil_runtime *rt = coil_runtime_start(2, NULL);
    CHECK(rt);
    coil_tfuture *tf[2];
    for (size_t i = 0; i < 2; i++)
        CHECK((tf[i] = coil_runtime_spawn_task(rt, i, runtime_sleeper, NULL,
                                               "runtime_sleeper")));
    char *text = NULL;
    size_t len = 0;
    int n = 0;
    /* Spawning is asynchronous: dump until both sleepers are in and
     * asleep.  A dump may count a task that is made but has not run yet
     * (its spawn and the dump's request can arrive in one inbox run). */
    int asleep = 0;
    for (int tries = 0; tries < 1000 && (n < 2 || asleep < 2); tries++) {
        free(text);
        FILE *out = open_memstream(&text, &len);
        n = coil_runtime_dump_tasks(rt, out, 0);
        fclose(out);
        asleep = 0;
        for (const char *p = text;
             (p = strstr(p, "fn=runtime_sleeper: suspended")) != NULL; p++)
            asleep++;
    }
    CHECK(n == 2 && asleep == 2);
    CHECK(strstr(text, "coil: runtime loop 0 of 2"));
    CHECK(strstr(text, "coil: runtime loop 1 of 2"));
    CHECK(strstr(text, "fn=runtime_sleeper: suspended"));
    CHECK(strstr(text, "waits on sleep: timer in "));
    free(text);
    CHECK_ERRNO(coil_runtime_dump_tasks(NULL, stderr, 0), EINVAL);
    coil_runtime_stop(rt);
    CHECK(coil_runtime_join(rt) == 0);
    for (size_t i = 0; i < 2; i++)
        coil_tfuture_release(tf[i]);
}

/* ------------------------------------------- COIL_DUMP_SIGNAL, serving */

static int served;

/* Echo one byte at a time: the service that must keep running. */
static void *echo_task(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c;
    while (coil_read(fd, &c, 1) == 1) {
        served++;
        coil_write(fd, &c, 1);
    }
    return NULL;
}

static void ask(int fd, char c)
{
    char back = 0;
    CHECK(coil_write(fd, &c, 1) == 1);
    CHECK(coil_read(fd, &back, 1) == 1);
    CHECK(back == c);
}

static void *signal_main(void *arg)
{
    (void)arg;
    coil_task *tasks[TASKS];
    spawn_all(tasks);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    coil_task *echo = coil_spawn(echo_task, (void *)(intptr_t)sv[1]);
    fprintf(stderr, "stuck on fd %d\n", pipe_fds[0]);   /* for the parent */
    ask(sv[0], 'a');
    CHECK(raise(SIGUSR1) == 0);       /* blocked here: the loop's signalfd */
    ask(sv[0], 'b');                  /* served across the dump */
    ask(sv[0], 'c');
    CHECK(served == 3);
    coil_task_cancel(echo);
    coil_await(coil_task_future(echo), NULL);
    coil_task_release(echo);
    close(sv[0]);
    close(sv[1]);
    end_all(tasks);
    return NULL;
}

static void signal_body(void)
{
    setenv("COIL_DUMP_SIGNAL", "SIGUSR1", 1);
    CHECK(coil_run(signal_main, NULL, NULL) == 0);
}

TEST(dump_signal_prints_the_dump_and_the_program_keeps_serving)
{
    static char err[1 << 20];
    int status = run_capturing_stderr(signal_body, err, sizeof err);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "%s", err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strstr(err, "coil: 102 live tasks on loop"));
    CHECK(strstr(err, "'main' fn=main: suspended"));
    CHECK(strstr(err, "fn=echo_task: "));
    int fd = -1;
    CHECK(sscanf(err, "stuck on fd %d", &fd) == 1);
    check_stuck_entry(err, fd);
}

/* ------------------------------------------------ debug: stack census */

static size_t census_depth;

static void *deep_task(void *arg)
{
    (void)arg;
    volatile char *buf = alloca(census_depth);   /* on the real stack,
                                                    ASan's fake one or not */
    for (size_t i = 0; i < census_depth; i += 512)
        buf[i] = 1;
    buf[0] = 1;
    return NULL;
}

static void *census_main(void *arg)
{
    (void)arg;
    coil_task *t = coil_spawn(deep_task, NULL);
    coil_await(coil_task_future(t), NULL);
    coil_task_release(t);
    coil_dump_tasks(stderr, COIL_DUMP_NO_BACKTRACE);
    return NULL;
}

static void census_body(void)
{
    setenv("COIL_DEBUG", "1", 1);
    CHECK(coil_run(census_main, NULL, NULL) == 0);
}

/* "deep_task: 40.3 KiB of 64.0 KiB deepest in 1 task": KiB used. */
static double census_kib(const char *text, double *of)
{
    const char *at = strstr(text, "coil: stack census: deep_task: ");
    CHECK(at);
    double used = -1;
    CHECK(sscanf(at, "coil: stack census: deep_task: %lf KiB of %lf KiB "
                     "deepest in 1 task", &used, of) == 2);
    return used;
}

TEST(census_reports_a_deep_task_at_its_true_depth_within_a_page)
{
    static char text[16384];
    census_depth = 40 * 1024;
    int status = run_capturing_stderr(census_body, text, sizeof text);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double of = 0, used = census_kib(text, &of);
    long page_kib = sysconf(_SC_PAGESIZE) / 1024;
    if (!(used >= 40 && used < 40 + 2.0 * (double)page_kib))
        fprintf(stderr, "%s", text);
    /* The frames above the buffer add a little; the page rounding at most
     * one page. */
    CHECK(used >= 40 && used < 40 + 2.0 * (double)page_kib);
    CHECK(!strstr(text, "within 10%"));
}

TEST(census_warns_once_about_a_task_within_ten_percent_of_its_stack)
{
    static char text[16384];
    census_depth = 59 * 1024;         /* of the default 64 KiB: 92% */
    int status = run_capturing_stderr(census_body, text, sizeof text);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double of = 0;
    census_kib(text, &of);
    if (of != 64.0)
        SKIP("the default stack is not 64 KiB in this build");
    CHECK(strstr(text, "stack census: a task of deep_task reached "));
    CHECK(strstr(text, "within 10% of overflowing"));
}

RUN_TESTS(T(dump_names_the_stuck_reader_its_fd_and_its_three_callers),
          T(dump_without_backtraces_is_a_line_per_task),
          T(dump_refuses_bad_arguments_and_other_threads_loops),
          T(runtime_dump_walks_every_loop_on_its_own_thread),
          T(dump_signal_prints_the_dump_and_the_program_keeps_serving),
          T(census_reports_a_deep_task_at_its_true_depth_within_a_page),
          T(census_warns_once_about_a_task_within_ten_percent_of_its_stack))
