/*
 * tests/hook_child_test.c — the hook layer and child processes
 * (src/hook/child.c, src/hook/shell.c): waitpid and its kin, system,
 * popen and pclose park the calling task while the child runs, and give
 * libc's answers.
 *
 * Each child here waits for a line that the test writes only once the
 * task waiting for that child has had time to park: a wait that blocked
 * the loop's thread would keep the line from ever being written, and the
 * watchdog fails the test instead of letting it hang.
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define UNIT COIL_MSEC(30)

extern char **environ;

/* A child running `sh -c script` with the pipe whose write end goes to
 * *feed as its stdin. */
static pid_t start_child(const char *script, int *feed)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, p[0], 0) == 0);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)script, NULL};
    pid_t pid;
    CHECK(posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    CHECK(close(p[0]) == 0);
    *feed = p[1];
    return pid;
}

/* Write a line to fd and close it. */
static void send_line(int fd, const char *line)
{
    size_t n = strlen(line);
    CHECK(write(fd, line, n) == (ssize_t)n);
    CHECK(close(fd) == 0);
}

/* A pipe, and a path to its read (0) or write (1) end that a shell can
 * open: /proc/PID/fd/N opens the pipe itself. */
typedef struct {
    int fd[2];
    char path[2][64];
} named_pipe;

static void named_pipe_open(named_pipe *np)
{
    CHECK(pipe(np->fd) == 0);
    for (int i = 0; i < 2; i++)
        snprintf(np->path[i], sizeof np->path[i], "/proc/%d/fd/%d",
                 (int)getpid(), np->fd[i]);
}

/* ------------------------------------------------------------ waits */

enum { BY_WAITPID, BY_WAIT, BY_WAIT3, BY_WAIT4, BY_WAITID_PID,
       BY_WAITID_PIDFD, BY_WAITID_ALL, BY_STOPS, BY_CONTINUES, KINDS };

typedef struct {
    int kind;
    pid_t pid;
    int pidfd;
    pid_t r;
    int status, err;
    siginfo_t info;
} waiter;

static void *wait_task(void *arg)
{
    waiter *w = arg;
    struct rusage ru;
    switch (w->kind) {
    case BY_WAITPID: w->r = waitpid(w->pid, &w->status, 0); break;
    case BY_WAIT: w->r = wait(&w->status); break;
    case BY_WAIT3: w->r = wait3(&w->status, 0, &ru); break;
    case BY_WAIT4: w->r = wait4(w->pid, &w->status, 0, &ru); break;
    case BY_WAITID_PID:
        w->r = waitid(P_PID, (id_t)w->pid, &w->info, WEXITED);
        break;
    case BY_WAITID_PIDFD:
        w->r = waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &w->info, WEXITED);
        break;
    case BY_WAITID_ALL: w->r = waitid(P_ALL, 0, &w->info, WEXITED); break;
    case BY_STOPS: w->r = waitpid(w->pid, &w->status, WUNTRACED); break;
    case BY_CONTINUES: w->r = waitpid(w->pid, &w->status, WCONTINUED); break;
    }
    w->err = errno;
    return NULL;
}

/* Start a waiter of that kind for pid; it must park. */
static coil_task *park_waiter(waiter *w, int kind, pid_t pid)
{
    w->kind = kind;
    w->pid = pid;
    w->r = -2;
    coil_task *t = coil_spawn(wait_task, w);
    CHECK(t != NULL);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(!task_ended(t) && w->r == -2);  /* ...and the waiter waits */
    return t;
}

static void check_exited(const waiter *w, pid_t pid, int code)
{
    if (w->kind >= BY_WAITID_PID && w->kind <= BY_WAITID_ALL) {
        CHECK(w->r == 0 && w->info.si_pid == pid);
        CHECK(w->info.si_code == CLD_EXITED && w->info.si_status == code);
    } else {
        CHECK(w->r == pid);
        CHECK(WIFEXITED(w->status) && WEXITSTATUS(w->status) == code);
    }
}

static void *each_wait_main(void *arg)
{
    (void)arg;
    for (int kind = BY_WAITPID; kind <= BY_WAITID_ALL; kind++) {
        int feed;
        pid_t pid = start_child("read x; exit 7", &feed);
        waiter w = {.pidfd = -1};
        if (kind == BY_WAITID_PIDFD) {
            w.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
            CHECK(w.pidfd >= 0 || errno == ENOSYS);
            if (w.pidfd < 0)
                kind = BY_WAITID_PID;     /* an emulator without pidfds */
        }
        coil_task *t = park_waiter(&w, kind, pid);
        send_line(feed, "go\n");
        await_task(t);
        check_exited(&w, pid, 7);
        if (w.pidfd >= 0)
            CHECK(close(w.pidfd) == 0);
    }
    return NULL;
}

TEST(each_kind_of_wait_parks_the_task_until_the_child_exits)
{
    watchdog();
    run_main(each_wait_main, NULL);
}

static void *stops_main(void *arg)
{
    (void)arg;
    int feed;
    pid_t pid = start_child("read x; exit 0", &feed);
    waiter w;
    coil_task *t = park_waiter(&w, BY_STOPS, pid);
    CHECK(kill(pid, SIGSTOP) == 0);
    await_task(t);
    CHECK(w.r == pid && WIFSTOPPED(w.status) && WSTOPSIG(w.status) == SIGSTOP);
    t = park_waiter(&w, BY_CONTINUES, pid);
    CHECK(kill(pid, SIGCONT) == 0);
    await_task(t);
    CHECK(w.r == pid && WIFCONTINUED(w.status));
    t = park_waiter(&w, BY_WAITPID, pid);
    send_line(feed, "go\n");
    await_task(t);
    check_exited(&w, pid, 0);
    return NULL;
}

TEST(waitpid_with_wuntraced_or_wcontinued_sees_stops_and_continues)
{
    watchdog();
    run_main(stops_main, NULL);
}

static void *errors_main(void *arg)
{
    (void)arg;
    int status;
    siginfo_t info;
    CHECK_ERRNO(waitpid(-1, &status, 0), ECHILD);     /* no children */
    CHECK_ERRNO(wait(&status), ECHILD);
    CHECK_ERRNO(waitpid(getppid(), &status, 0), ECHILD);
    int feed;
    pid_t pid = start_child("read x; exit 0", &feed);
    CHECK_ERRNO(waitpid(pid, &status, 0x4000000), EINVAL);
    CHECK_ERRNO(waitid(P_PID, (id_t)pid, &info, 0), EINVAL);
    CHECK(waitpid(pid, &status, WNOHANG) == 0);       /* libc's, at once */
    send_line(feed, "go\n");
    CHECK(waitid(P_PID, (id_t)pid, NULL, WEXITED) == 0);
    CHECK_ERRNO(waitpid(pid, &status, 0), ECHILD);    /* reaped */
    return NULL;
}

TEST(waits_that_libc_refuses_fail_at_once_with_its_errno)
{
    watchdog();
    run_main(errors_main, NULL);
}

/* ---------------------------------------------------------- signals */

static void *eintr_main(void *arg)
{
    (void)arg;
    int feed;
    pid_t pid = start_child("read x; exit 3", &feed);
    waiter on_fd, on_timer;
    /* With SA_RESTART, waitpid goes on waiting (on its pidfd or its
     * timer); without, it fails with EINTR. */
    handle_counting(SIGUSR1, SA_RESTART);
    coil_task *a = park_waiter(&on_fd, BY_WAITPID, pid);
    coil_task *b = park_waiter(&on_timer, BY_WAIT, -1);
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    coil_sleep(UNIT);
    CHECK(!task_ended(a) && !task_ended(b));
    handle_counting(SIGUSR1, 0);
    CHECK(raise(SIGUSR1) == 0 && handled == 2);
    await_task(a);
    await_task(b);
    CHECK(on_fd.r == -1 && on_fd.err == EINTR);
    CHECK(on_timer.r == -1 && on_timer.err == EINTR);
    signal(SIGUSR1, SIG_DFL);
    send_line(feed, "go\n");
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 3);
    return NULL;
}

TEST(a_handler_without_sa_restart_interrupts_a_wait_and_one_with_it_does_not)
{
    watchdog();
    run_main(eintr_main, NULL);
}

/* ----------------------------------------------------------- system */

typedef struct {
    const char *cmd;
    int r, err;
} shell_call;

static void *system_task(void *arg)
{
    shell_call *c = arg;
    c->r = system(c->cmd);
    c->err = errno;
    return NULL;
}

static void *system_main(void *arg)
{
    (void)arg;
    CHECK(system(NULL) != 0);
    int r = system("exit 3");
    CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 3);
    r = system("/nonexistent/command 2>/dev/null");
    CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 127);
    r = system("-c 2>/dev/null");         /* an operand, not an option */
    CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 127);

    named_pipe np;
    named_pipe_open(&np);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "read x < %s; exit 4", np.path[0]);
    shell_call c = {.cmd = cmd, .r = -2};
    coil_task *t = coil_spawn(system_task, &c);
    coil_sleep(UNIT);
    CHECK(!task_ended(t) && c.r == -2);   /* the loop ran meanwhile */
    send_line(np.fd[1], "go\n");
    await_task(t);
    CHECK(WIFEXITED(c.r) && WEXITSTATUS(c.r) == 4);
    CHECK(close(np.fd[0]) == 0);
    return NULL;
}

TEST(system_in_a_task_parks_it_while_the_command_runs)
{
    watchdog();
    run_main(system_main, NULL);
}

/* A task cancelled in system(): the shell is killed and reaped. */
static void *cancel_system_main(void *arg)
{
    (void)arg;
    named_pipe np;
    named_pipe_open(&np);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "echo $$ > %s; exec sleep 1000", np.path[1]);
    shell_call c = {.cmd = cmd, .r = -2};
    coil_task *t = coil_spawn(system_task, &c);
    char buf[32] = {0};
    CHECK(read(np.fd[0], buf, sizeof buf - 1) > 0);   /* parks */
    pid_t shell = (pid_t)atoi(buf);
    CHECK(shell > 0 && kill(shell, 0) == 0);
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(c.r == -2);                     /* unwound out of system */
    CHECK_ERRNO(kill(shell, 0), ESRCH);   /* not even a zombie */
    CHECK(close(np.fd[0]) == 0 && close(np.fd[1]) == 0);
    return NULL;
}

TEST(a_task_cancelled_in_system_kills_and_reaps_the_shell)
{
    watchdog();
    run_main(cancel_system_main, NULL);
}

/* ------------------------------------------------------------ popen */

typedef struct {
    const char *cmd;
    char line[64];
    int lines, status, fileno_is;
    int by_fclose;            /* close with fclose at once, not pclose */
} popen_call;

static void *popen_reader(void *arg)
{
    popen_call *c = arg;
    FILE *f = popen(c->cmd, "re");
    CHECK(f != NULL);
    c->fileno_is = fileno(f);
    if (c->by_fclose) {
        /* Through a pointer: GCC rightly warns of fclose on popen's
         * stream, which is what this checks the hooks survive. */
        int (*volatile close_stream)(FILE *) = fclose;
        c->status = close_stream(f);      /* waits for the command too */
        return NULL;
    }
    while (fgets(c->line, sizeof c->line, f))
        c->lines++;
    c->status = pclose(f);
    return NULL;
}

static void *popen_read_main(void *arg)
{
    (void)arg;
    named_pipe np;
    named_pipe_open(&np);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "read x < %s; echo got $x; exit 5", np.path[0]);
    popen_call c = {.cmd = cmd, .status = -2};
    coil_task *t = coil_spawn(popen_reader, &c);
    coil_sleep(UNIT);
    CHECK(!task_ended(t) && c.lines == 0); /* fgets parked, the loop ran */
    send_line(np.fd[1], "hello\n");
    await_task(t);
    CHECK(c.lines == 1 && strcmp(c.line, "got hello\n") == 0);
    CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 5);
    CHECK(c.fileno_is == -1);             /* a cookie stream (docs/hooks.md) */
    CHECK(close(np.fd[0]) == 0);
    /* A plain fclose waits for the command as pclose does, parked. */
    named_pipe_open(&np);
    snprintf(cmd, sizeof cmd, "read x < %s; exit 5", np.path[0]);
    popen_call f = {.cmd = cmd, .status = -2, .by_fclose = 1};
    t = coil_spawn(popen_reader, &f);
    coil_sleep(UNIT);
    CHECK(!task_ended(t) && f.status == -2);
    send_line(np.fd[1], "again\n");
    await_task(t);
    CHECK(f.status != -2);
    CHECK(close(np.fd[0]) == 0);
    return NULL;
}

TEST(popen_reads_park_the_task_and_pclose_gives_the_status)
{
    watchdog();
    run_main(popen_read_main, NULL);
}

static void *popen_write_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/coil-popen-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cat > %s", path);
    FILE *f = popen(cmd, "w");
    CHECK(f != NULL);
    enum { LINES = 40000 };               /* ~1 MiB: many pipefuls */
    for (int i = 0; i < LINES; i++)
        CHECK(fprintf(f, "line %08d of the test\n", i) > 0);
    CHECK(pclose(f) == 0);
    FILE *back = fdopen(fd, "r");
    CHECK(back != NULL);
    char line[64], want[64];
    int i = 0;
    while (fgets(line, sizeof line, back)) {
        snprintf(want, sizeof want, "line %08d of the test\n", i++);
        CHECK(strcmp(line, want) == 0);
    }
    CHECK(i == LINES);
    CHECK(fclose(back) == 0 && unlink(path) == 0);

    errno = 0;
    CHECK(popen("true", "rw") == NULL && errno == EINVAL);
    CHECK(popen("true", "x") == NULL && errno == EINVAL);
    CHECK(popen("true", "") == NULL && errno == EINVAL);
    CHECK(popen(NULL, "r") == NULL && errno == EINVAL);
    return NULL;
}

TEST(popen_for_writing_delivers_every_byte_and_bad_modes_are_einval)
{
    watchdog();
    run_main(popen_write_main, NULL);
}

typedef struct {
    const char *cmd;
    int status;
} pclose_call;

static void *popen_then_pclose(void *arg)
{
    pclose_call *c = arg;
    FILE *f = popen(c->cmd, "r");
    CHECK(f != NULL);
    c->status = pclose(f);                /* the command still runs */
    return NULL;
}

/* pclose waits shielded: a cancel that comes meanwhile unwinds the task
 * only once the command has been reaped. */
static void *cancel_pclose_main(void *arg)
{
    (void)arg;
    named_pipe go, id;
    named_pipe_open(&go);
    named_pipe_open(&id);
    char cmd[192];
    snprintf(cmd, sizeof cmd, "echo $$ > %s; read x < %s; exit 6",
             id.path[1], go.path[0]);
    pclose_call c = {.cmd = cmd, .status = -2};
    coil_task *t = coil_spawn(popen_then_pclose, &c);
    char buf[32] = {0};
    CHECK(read(id.fd[0], buf, sizeof buf - 1) > 0);
    pid_t shell = (pid_t)atoi(buf);
    CHECK(shell > 0);
    /* The task went from popen to pclose without a suspension: it was
     * parked in pclose before the shell could say its pid. */
    CHECK(coil_task_cancel(t) == 1);
    coil_sleep(UNIT);
    CHECK(!task_ended(t) && kill(shell, 0) == 0); /* it stays there */
    send_line(go.fd[1], "go\n");
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(c.status == -2);                /* unwound as pclose returned */
    CHECK_ERRNO(kill(shell, 0), ESRCH);   /* reaped */
    CHECK(close(go.fd[0]) == 0);
    CHECK(close(id.fd[0]) == 0 && close(id.fd[1]) == 0);
    return NULL;
}

TEST(pclose_reaps_the_command_before_a_cancel_unwinds_the_task)
{
    watchdog();
    run_main(cancel_pclose_main, NULL);
}

/* ------------------------------------------------------ outside tasks */

TEST(outside_a_task_system_popen_and_waitpid_are_libcs)
{
    watchdog();
    int r = system("exit 7");
    CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 7);
    FILE *f = popen("echo hi", "r");
    CHECK(f != NULL && fileno(f) >= 0);   /* glibc's own stream */
    char line[16];
    CHECK(fgets(line, sizeof line, f) && strcmp(line, "hi\n") == 0);
    CHECK(pclose(f) == 0);
    int feed, status;
    pid_t pid = start_child("read x; exit 2", &feed);
    send_line(feed, "go\n");
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 2);
}

RUN_TESTS(T(each_kind_of_wait_parks_the_task_until_the_child_exits),
          T(waitpid_with_wuntraced_or_wcontinued_sees_stops_and_continues),
          T(waits_that_libc_refuses_fail_at_once_with_its_errno),
          T(a_handler_without_sa_restart_interrupts_a_wait_and_one_with_it_does_not),
          T(system_in_a_task_parks_it_while_the_command_runs),
          T(a_task_cancelled_in_system_kills_and_reaps_the_shell),
          T(popen_reads_park_the_task_and_pclose_gives_the_status),
          T(popen_for_writing_delivers_every_byte_and_bad_modes_are_einval),
          T(pclose_reaps_the_command_before_a_cancel_unwinds_the_task),
          T(outside_a_task_system_popen_and_waitpid_are_libcs))
