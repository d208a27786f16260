/*
 * tests/process_test.c — layer 5: subprocesses (posix_spawn + pidfd) and
 * tasks waiting for signals.
 *
 * Children are standard programs (true, false, sh, cat, sleep).  No sleep()
 * for synchronisation: tasks meet through pipes and exits; a signal is
 * raised by a timer callback.  Without pidfd_open (an old kernel or an
 * emulator lacking it) the subprocess tests are skipped with the reason.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "fd_hog.h"
#include "coil.h"
#include "task_helpers.h"



/* Spawn, or end the test as skipped if the system has no pidfd_open. */
static coil_process *spawn(unsigned flags, char *const argv[])
{
    coil_process *p = coil_process_spawn(argv[0], argv, NULL, flags);
    if (!p && errno == ENOSYS)
        SKIP("pidfd_open(2) is not available here (Linux < 5.3, or an "
             "emulator without it)");
    CHECK(p);
    return p;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The child is reaped and gone: no zombie left to collect. */
static void check_gone(pid_t pid)
{
    siginfo_t info;
    CHECK_ERRNO(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG), ECHILD);
    char path[64];
    struct stat sb;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    CHECK(stat(path, &sb) != 0);
}

/* ------------------------------------------------------------ exit status */

static int exit_status_of(char *const argv[])
{
    coil_process *p = spawn(0, argv);
    int status = -1;
    CHECK(coil_process_wait(p, &status, -1) == 0);
    CHECK(WIFEXITED(status));
    /* Reaped: waiting again gives the same status at once. */
    int again = -1;
    CHECK(coil_process_wait(p, &again, 0) == 0 && again == status);
    CHECK_ERRNO(coil_process_kill(p, SIGTERM), ESRCH);
    pid_t pid = coil_process_pid(p);
    CHECK(coil_process_release(p) == 0);
    check_gone(pid);
    return WEXITSTATUS(status);
}

static void *exit_status_main(void *arg)
{
    (void)arg;
    CHECK(exit_status_of((char *[]){"/bin/true", NULL}) == 0);
    CHECK(exit_status_of((char *[]){"/bin/false", NULL}) == 1);
    CHECK(exit_status_of((char *[]){"/bin/sh", "-c", "exit 7", NULL}) == 7);
    return NULL;
}

TEST(wait_reports_the_exit_status_of_true_false_and_exit_7)
{
    run_main(exit_status_main, NULL);
}

/* --------------------------------------------------------------- pipes */

static void read_all(int fd, char *buf, size_t size)
{
    size_t got = 0;
    ssize_t n;
    while ((n = coil_read(fd, buf + got, size - 1 - got)) > 0)
        got += (size_t)n;
    CHECK(n == 0);
    buf[got] = '\0';
}

static void *capture_main(void *arg)
{
    (void)arg;
    coil_process *p = spawn(COIL_PIPE_STDOUT | COIL_PIPE_STDERR,
                            (char *[]){"/bin/sh", "-c",
                                       "echo hello; echo oops >&2", NULL});
    CHECK_ERRNO(coil_process_stdin(p), EBADF);
    int out = coil_process_stdout(p), err = coil_process_stderr(p);
    CHECK(out >= 0 && err >= 0);
    CHECK(fcntl(out, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(err, F_GETFD) & FD_CLOEXEC);
    char buf[64];
    read_all(out, buf, sizeof buf);
    CHECK(strcmp(buf, "hello\n") == 0);
    read_all(err, buf, sizeof buf);
    CHECK(strcmp(buf, "oops\n") == 0);
    int status;
    CHECK(coil_process_wait(p, &status, -1) == 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    coil_process_release(p);
    return NULL;
}

TEST(stdout_and_stderr_are_captured_through_pipes)
{
    run_main(capture_main, NULL);
}

enum { FEED = 256 * 1024 };  /* more than a pipe holds: both sides wait */

static void *feeder(void *arg)
{
    coil_process *p = arg;
    char *data = malloc(FEED);
    CHECK(data);
    for (size_t i = 0; i < FEED; i++)
        data[i] = (char)('a' + i % 26);
    CHECK(coil_write_all(coil_process_stdin(p), data, FEED, NULL) == FEED);
    CHECK(coil_process_close_pipe(p, 0) == 0);
    CHECK_ERRNO(coil_process_close_pipe(p, 0), EBADF);
    free(data);
    return NULL;
}

static void *feed_main(void *arg)
{
    (void)arg;
    coil_process *p = spawn(COIL_PIPE_STDIN | COIL_PIPE_STDOUT,
                            (char *[]){"/bin/cat", NULL});
    coil_task *f = coil_spawn(feeder, p);
    size_t got = 0;
    char buf[4096];
    ssize_t n;
    while ((n = coil_read(coil_process_stdout(p), buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            CHECK(buf[i] == (char)('a' + (got + (size_t)i) % 26));
        got += (size_t)n;
    }
    CHECK(n == 0 && got == FEED);
    await_task(f);
    int status;
    CHECK(coil_process_wait(p, &status, -1) == 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    coil_process_release(p);
    return NULL;
}

TEST(stdin_is_fed_by_one_task_while_another_reads_stdout)
{
    run_main(feed_main, NULL);
}

/* ------------------------------------------------------- deadline, kill */

static void *deadline_main(void *arg)
{
    (void)arg;
    coil_process *p = spawn(0, (char *[]){"/bin/sleep", "10", NULL});
    coil_time t0 = coil_clock();
    int status = -1;
    CHECK_ERRNO(coil_process_wait(p, &status, coil_clock() + COIL_MSEC(50)),
                ETIMEDOUT);
    coil_time took = coil_clock() - t0;
    CHECK(took >= COIL_MSEC(50) && took < COIL_SEC(5));
    CHECK(status == -1);
    CHECK(coil_process_kill(p, 0) == 0);              /* still there */
    CHECK(coil_process_kill(p, SIGKILL) == 0);
    CHECK(coil_process_wait(p, &status, coil_clock() + COIL_SEC(10)) == 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    pid_t pid = coil_process_pid(p);
    coil_process_release(p);
    check_gone(pid);
    return NULL;
}

TEST(wait_deadline_gives_etimedout_and_the_child_can_then_be_killed_and_reaped)
{
    run_main(deadline_main, NULL);
}

static void *sigterm_main(void *arg)
{
    (void)arg;
    /* The loop blocks signals it routes; the child must not inherit that. */
    int sigs[] = {SIGTERM};
    CHECK_ERRNO(coil_wait_signal(sigs, 1, 0), ETIMEDOUT);  /* routes it */
    coil_process *p = spawn(0, (char *[]){"/bin/sleep", "10", NULL});
    CHECK(coil_process_kill(p, SIGTERM) == 0);
    int status;
    CHECK(coil_process_wait(p, &status, coil_clock() + COIL_SEC(10)) == 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    coil_process_release(p);
    return NULL;
}

TEST(sigterm_shows_in_the_status_even_though_the_loop_blocks_it)
{
    run_main(sigterm_main, NULL);
}

/* ---------------------------------------------------------- cancellation */

typedef struct cancel_case {
    coil_process *p;
    pid_t pid;
    int cleaned;
} cancel_case;

static void release_and_note(void *arg)
{
    cancel_case *c = arg;
    coil_process_release(c->p);
    c->cleaned = 1;
}

static void *waiting_owner(void *arg)
{
    cancel_case *c = arg;
    c->p = spawn(COIL_PIPE_STDIN | COIL_PIPE_STDOUT | COIL_PIPE_STDERR,
                 (char *[]){"/bin/sleep", "10", NULL});
    c->pid = coil_process_pid(c->p);
    coil_cleanup_push(release_and_note, c);
    coil_process_wait(c->p, NULL, -1);
    CHECK(!"not reached: the wait is unwound");
    coil_cleanup_pop(1);
    return NULL;
}

static void *cancel_main(void *arg)
{
    (void)arg;
    int before = open_fds();
    cancel_case c = {0};
    coil_task *t = coil_spawn(waiting_owner, &c);
    while (!c.p)
        CHECK(coil_yield() == 0);
    CHECK(coil_yield() == 0);                     /* it is waiting now */
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(c.cleaned);
    check_gone(c.pid);
    CHECK(open_fds() == before);
    return NULL;
}

TEST(cancelled_waiting_task_releases_the_child_killed_reaped_and_fds_closed)
{
    run_main(cancel_main, NULL);
}

static void *error_mode_waiter(void *arg)
{
    coil_process *p = arg;
    CHECK_ERRNO(coil_process_wait(p, NULL, -1), ECANCELED);
    return NULL;
}

static void *error_mode_main(void *arg)
{
    (void)arg;
    coil_process *p = spawn(0, (char *[]){"/bin/sleep", "10", NULL});
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *t = coil_spawn_attr(&attr, error_mode_waiter, p);
    CHECK(coil_yield() == 0);
    /* One waiter at a time. */
    CHECK_ERRNO(coil_process_wait(p, NULL, coil_clock() + COIL_MSEC(5)),
                EBUSY);
    coil_task_cancel(t);
    await_task(t);
    /* The waiter left nothing behind: this task can wait now. */
    CHECK_ERRNO(coil_process_wait(p, NULL, coil_clock() + COIL_MSEC(5)),
                ETIMEDOUT);
    pid_t pid = coil_process_pid(p);
    coil_process_release(p);                      /* kills and reaps */
    check_gone(pid);
    return NULL;
}

TEST(error_mode_cancel_returns_ecanceled_and_release_kills_a_running_child)
{
    run_main(error_mode_main, NULL);
}

TEST(release_outside_any_task_kills_and_reaps)
{
    int before = open_fds();
    coil_process *p = spawn(COIL_PIPE_STDOUT,
                            (char *[]){"/bin/sleep", "10", NULL});
    pid_t pid = coil_process_pid(p);
    CHECK(pid > 0);
    CHECK_ERRNO(coil_process_wait(p, NULL, -1), EPERM);
    CHECK(coil_process_release(p) == 0);
    check_gone(pid);
    CHECK(open_fds() == before);
}

/* ----------------------------------------------------- wiring children */

static void *wired_main(void *arg)
{
    (void)arg;
    coil_process *a = spawn(COIL_PIPE_STDOUT,
                            (char *[]){"/bin/sh", "-c", "echo wired", NULL});
    int in[3] = {coil_process_stdout(a), -1, -1};
    coil_process *b = coil_process_spawn_stdio(
        "cat", (char *[]){"cat", NULL}, NULL,
        COIL_PIPE_STDOUT | COIL_SPAWN_SEARCH_PATH, in);
    CHECK(b);
    CHECK(coil_process_close_pipe(a, 1) == 0);
    char buf[32];
    read_all(coil_process_stdout(b), buf, sizeof buf);
    CHECK(strcmp(buf, "wired\n") == 0);
    int sa, sb;
    CHECK(coil_process_wait(a, &sa, -1) == 0 && coil_process_wait(b, &sb, -1) == 0);
    CHECK(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    CHECK(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    coil_process_release(a);
    coil_process_release(b);
    return NULL;
}

TEST(one_childs_stdout_becomes_the_next_childs_stdin)
{
    run_main(wired_main, NULL);
}

/* A daemon runs with fds 0 and 1 closed: a pipe made for the child's
 * stderr then takes them (read end 0, write end 1).  The child's 0-2 are
 * wired with dup2 in order, and dup2(log, 1) before dup2(1, 2) would give
 * the child the log as its stderr too: the pipe's end must be copied out
 * of the way first.  Likewise for fds the caller passes: a swap of 0 and
 * 1 must reach the child swapped. */
static void *low_fds_main(void *arg)
{
    (void)arg;
    int keep0 = fcntl(0, F_DUPFD_CLOEXEC, 10);    /* -1 if ctest gave none */
    int keep1 = fcntl(1, F_DUPFD_CLOEXEC, 10);
    int log[2];
    CHECK(pipe2(log, O_CLOEXEC) == 0 && log[0] > 2 && log[1] > 2);
    close(0);
    close(1);
    int stdio[3] = {-1, log[1], -1};
    coil_process *p = coil_process_spawn_stdio(
        "/bin/sh", (char *[]){"/bin/sh", "-c", "echo out; echo err >&2", NULL},
        NULL, COIL_PIPE_STDERR, stdio);
    if (!p && errno == ENOSYS)
        SKIP("pidfd_open(2) is not available here");
    CHECK(p && coil_process_stderr(p) == 0);      /* the case at hand */
    close(log[1]);
    char buf[32];
    read_all(coil_process_stderr(p), buf, sizeof buf);
    CHECK(strcmp(buf, "err\n") == 0);
    read_all(log[0], buf, sizeof buf);
    CHECK(strcmp(buf, "out\n") == 0);
    int status;
    CHECK(coil_process_wait(p, &status, -1) == 0 && status == 0);
    coil_process_release(p);                      /* closes fd 0 */
    close(log[0]);

    /* The caller's own 0 and 1, swapped: the child reads the pipe that is
     * our fd 1 and writes into the one that is our fd 0.  (Both taken
     * first, so that the pipes are made above them.) */
    CHECK(open("/dev/null", O_RDONLY) == 0 && open("/dev/null", O_RDONLY) == 1);
    int to_child[2], from_child[2];
    CHECK(pipe2(to_child, O_CLOEXEC) == 0 && pipe2(from_child, O_CLOEXEC) == 0);
    CHECK(dup3(from_child[1], 0, O_CLOEXEC) == 0);
    CHECK(dup3(to_child[0], 1, O_CLOEXEC) == 1);
    close(from_child[1]);
    close(to_child[0]);
    p = coil_process_spawn_stdio("/bin/cat", (char *[]){"/bin/cat", NULL},
                                 NULL, 0, (int[3]){1, 0, -1});
    CHECK(p);
    close(0);
    close(1);
    CHECK(coil_write_all(to_child[1], "swapped\n", 8, NULL) == 8);
    close(to_child[1]);
    read_all(from_child[0], buf, sizeof buf);
    CHECK(strcmp(buf, "swapped\n") == 0);
    CHECK(coil_process_wait(p, &status, -1) == 0 && status == 0);
    coil_process_release(p);
    close(from_child[0]);
    if (keep0 >= 0)
        CHECK(dup2(keep0, 0) == 0 && close(keep0) == 0);
    if (keep1 >= 0)
        CHECK(dup2(keep1, 1) == 1 && close(keep1) == 0);
    return NULL;
}

TEST(children_get_the_right_fds_when_the_callers_0_and_1_are_closed_or_swapped)
{
    run_main(low_fds_main, NULL);
}

/* ------------------------------------------------------- bad arguments */

TEST(bad_arguments_give_einval)
{
    char *argv[] = {"/bin/true", NULL};
    CHECK_ERRNO(coil_process_spawn(NULL, argv, NULL, 0), EINVAL);
    CHECK_ERRNO(coil_process_spawn("/bin/true", NULL, NULL, 0), EINVAL);
    CHECK_ERRNO(coil_process_spawn("/bin/true", argv, NULL, 1u << 20), EINVAL);
    int fds[3] = {0, -1, -1};
    CHECK_ERRNO(coil_process_spawn_stdio("/bin/true", argv, NULL,
                                         COIL_PIPE_STDIN, fds), EINVAL);
    CHECK_ERRNO(coil_process_stdin(NULL), EINVAL);
    CHECK_ERRNO(coil_process_pid(NULL), EINVAL);
    CHECK_ERRNO(coil_process_kill(NULL, SIGTERM), EINVAL);
    CHECK_ERRNO(coil_process_close_pipe(NULL, 0), EINVAL);
    CHECK(coil_process_release(NULL) == 0);
    coil_process *p = spawn(0, argv);
    CHECK_ERRNO(coil_process_kill(p, -1), EINVAL);
    CHECK_ERRNO(coil_process_close_pipe(p, 3), EINVAL);
    CHECK_ERRNO(coil_process_close_pipe(p, 1), EBADF);
    coil_process_release(p);
}

TEST(spawn_of_a_missing_program_gives_enoent)
{
    char *missing[] = {"/nonexistent/coil-test-program", NULL};
    coil_process *p = coil_process_spawn(missing[0], missing, NULL, 0);
    if (p) {
        /* qemu-user runs posix_spawn's vfork as a fork: the exec error
         * cannot reach the parent, and the child exits 127 instead. */
        pid_t pid = coil_process_pid(p);
        int status = -1;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 127);
        SKIP("posix_spawn cannot report exec errors here (an emulator "
             "running vfork as fork); the child exited 127");
    }
    CHECK(errno == ENOENT || errno == ENOSYS);
    if (errno == ENOSYS)
        SKIP("pidfd_open(2) is not available here");
}

/* A spawn that fails for want of fds closes none of the caller's: the
 * pipe slots it never filled are not fd 0. */
TEST(spawn_failing_with_emfile_leaves_the_callers_fds_open)
{
    char *t[] = {"true", NULL};
    coil_process *ok = coil_process_spawn("true", t, NULL,
                                          COIL_SPAWN_SEARCH_PATH);
    if (!ok && errno == ENOSYS)
        SKIP("pidfd_open(2) is not available here");
    CHECK(ok);                        /* and the pidfd probe is cached */
    CHECK(coil_process_release(ok) == 0);
    if (fcntl(0, F_GETFD) < 0)        /* ctest may start us without one */
        CHECK(open("/dev/null", O_RDONLY) == 0);
    struct stat before, after;
    CHECK(fstat(0, &before) == 0);
    fd_hog hog;
    fd_hog_take(&hog);
    coil_process *p = coil_process_spawn("true", t, NULL,
                                         COIL_SPAWN_SEARCH_PATH |
                                         COIL_PIPE_STDIN | COIL_PIPE_STDOUT);
    CHECK(!p && errno == EMFILE);
    fd_hog_free_all(&hog);
    CHECK(fstat(0, &after) == 0);     /* still open, still the same file */
    CHECK(after.st_ino == before.st_ino && after.st_dev == before.st_dev);
}

/* ------------------------------------------------------ waiting signals */

static void raise_usr1(void *arg)
{
    (void)arg;
    CHECK(kill(getpid(), SIGUSR1) == 0);
}

static void *wait_signal_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR2, SIGUSR1};
    coil_time t0 = coil_clock();      /* before: the delay counts from the call */
    CHECK(coil_call_later(NULL, COIL_MSEC(10), raise_usr1, NULL, NULL) == 0);
    CHECK(coil_wait_signal(sigs, 2, coil_clock() + COIL_SEC(10)) == SIGUSR1);
    CHECK(coil_clock() - t0 >= COIL_MSEC(10));
    /* Thread-directed, too. */
    CHECK(raise(SIGUSR2) == 0);                   /* blocked: queued */
    CHECK(coil_wait_signal(sigs, 2, -1) == SIGUSR2);
    return NULL;
}

TEST(wait_signal_returns_a_signal_raised_by_a_timer_callback)
{
    run_main(wait_signal_main, NULL);
}

static void *signal_deadline_main(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    coil_time t0 = coil_clock();
    CHECK_ERRNO(coil_wait_signal(sigs, 1, coil_clock() + COIL_MSEC(30)),
                ETIMEDOUT);
    coil_time took = coil_clock() - t0;
    CHECK(took >= COIL_MSEC(30) && took < COIL_SEC(5));
    CHECK_ERRNO(coil_wait_signal(sigs, 1, 0), ETIMEDOUT);   /* past */
    return NULL;
}

TEST(wait_signal_deadline_gives_etimedout)
{
    run_main(signal_deadline_main, NULL);
}

static int unwound;

static void note_unwound(void *arg)
{
    (void)arg;
    unwound++;
}

static void *signal_waiter(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1};
    coil_cleanup_push(note_unwound, NULL);
    coil_wait_signal(sigs, 1, -1);
    CHECK(!"not reached");
    coil_cleanup_pop(0);
    return NULL;
}

static int handled;

static void on_usr1(void *arg)
{
    (void)arg;
    handled++;
}

static void *signal_cancel_main(void *arg)
{
    (void)arg;
    coil_loop *loop = coil_loop_current();
    coil_task *t = coil_spawn(signal_waiter, NULL);
    CHECK(coil_yield() == 0);
    coil_task_cancel(t);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(unwound == 1);
    /* No waiter left: a signal now goes to the handler alone. */
    CHECK(coil_loop_add_signal_handler(loop, SIGUSR1, on_usr1, NULL) == 0);
    raise_usr1(NULL);
    while (!handled)
        CHECK(coil_yield() == 0);
    CHECK(handled == 1);
    /* With a waiter, the waiter takes it and the handler does not run. */
    CHECK(coil_call_later(NULL, COIL_MSEC(5), raise_usr1, NULL, NULL) == 0);
    int sigs[] = {SIGUSR1};
    CHECK(coil_wait_signal(sigs, 1, coil_clock() + COIL_SEC(10)) == SIGUSR1);
    CHECK(coil_sleep(COIL_MSEC(5)) == 0);
    CHECK(handled == 1);
    /* Without a handler, one that arrives between waits is kept. */
    CHECK(coil_loop_remove_signal_handler(loop, SIGUSR1) == 1);
    CHECK(coil_wait_signal(sigs, 1, 0) < 0);          /* routes it again */
    raise_usr1(NULL);
    CHECK(coil_sleep(COIL_MSEC(5)) == 0);             /* drained, kept */
    CHECK(coil_wait_signal(sigs, 1, 0) == SIGUSR1);
    /* Removing ends the routing: the mask is as before. */
    CHECK(coil_loop_remove_signal_handler(loop, SIGUSR1) == 0);
    sigset_t mask;
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0);
    CHECK(!sigismember(&mask, SIGUSR1));
    return NULL;
}

TEST(cancelled_signal_waiter_leaves_nothing_and_waiters_come_before_handlers)
{
    run_main(signal_cancel_main, NULL);
}

static void *signal_einval_main(void *arg)
{
    (void)arg;
    int kill_[] = {SIGKILL}, stop[] = {SIGSTOP}, zero[] = {0}, big[] = {NSIG};
    CHECK_ERRNO(coil_wait_signal(NULL, 1, -1), EINVAL);
    CHECK_ERRNO(coil_wait_signal(kill_, 0, -1), EINVAL);
    CHECK_ERRNO(coil_wait_signal(kill_, 1, -1), EINVAL);
    CHECK_ERRNO(coil_wait_signal(stop, 1, -1), EINVAL);
    CHECK_ERRNO(coil_wait_signal(zero, 1, -1), EINVAL);
    CHECK_ERRNO(coil_wait_signal(big, 1, -1), EINVAL);
    return NULL;
}

TEST(wait_signal_bad_arguments_give_einval_and_outside_a_task_eperm)
{
    int sigs[] = {SIGUSR1};
    CHECK_ERRNO(coil_wait_signal(sigs, 1, -1), EPERM);
    run_main(signal_einval_main, NULL);
}

RUN_TESTS(T(wait_reports_the_exit_status_of_true_false_and_exit_7),
          T(stdout_and_stderr_are_captured_through_pipes),
          T(stdin_is_fed_by_one_task_while_another_reads_stdout),
          T(wait_deadline_gives_etimedout_and_the_child_can_then_be_killed_and_reaped),
          T(sigterm_shows_in_the_status_even_though_the_loop_blocks_it),
          T(cancelled_waiting_task_releases_the_child_killed_reaped_and_fds_closed),
          T(error_mode_cancel_returns_ecanceled_and_release_kills_a_running_child),
          T(release_outside_any_task_kills_and_reaps),
          T(one_childs_stdout_becomes_the_next_childs_stdin),
          T(children_get_the_right_fds_when_the_callers_0_and_1_are_closed_or_swapped),
          T(bad_arguments_give_einval),
          T(spawn_of_a_missing_program_gives_enoent),
          T(spawn_failing_with_emfile_leaves_the_callers_fds_open),
          T(wait_signal_returns_a_signal_raised_by_a_timer_callback),
          T(wait_signal_deadline_gives_etimedout),
          T(cancelled_signal_waiter_leaves_nothing_and_waiters_come_before_handlers),
          T(wait_signal_bad_arguments_give_einval_and_outside_a_task_eperm))
