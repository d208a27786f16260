/*
 * tests/io_test.c — layer 5: fd readiness and the IO calls.
 *
 * Each test runs its tasks under coil_run.  Sockets are socketpairs, pipes
 * and TCP on 127.0.0.1 only.  No sleep() for synchronisation: tasks meet
 * through the IO itself; coil_sleep only makes one side late on purpose.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "check.h"
#include "coil.h"
#include "pipe_kinds.h"
#include "task_helpers.h"

#define UNIT COIL_MSEC(20)

static coil_time now(void)
{
    return coil_clock();
}


static void pair(int sv[2])
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}


/* ---------------------------------------------------------- ping-pong */

enum { ROUNDS = 1000 };

static void *pinger(void *arg)
{
    int fd = *(int *)arg;
    for (uint32_t i = 0; i < ROUNDS; i++) {
        uint32_t v = i, back;
        CHECK(coil_write(fd, &v, sizeof v) == (ssize_t)sizeof v);
        CHECK(coil_read_full(fd, &back, sizeof back, NULL) == (ssize_t)sizeof back);
        CHECK(back == i + 1);
    }
    return NULL;
}

static void *ponger(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < ROUNDS; i++) {
        uint32_t v;
        CHECK(coil_read_full(fd, &v, sizeof v, NULL) == (ssize_t)sizeof v);
        v++;
        CHECK(coil_write(fd, &v, sizeof v) == (ssize_t)sizeof v);
    }
    return NULL;
}

static void *ping_pong_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    coil_task *a = coil_spawn(pinger, &sv[0]);
    coil_task *b = coil_spawn(ponger, &sv[1]);
    await_task(a);
    await_task(b);
    CHECK(coil_close(sv[0]) == 0 && coil_close(sv[1]) == 0);
    return NULL;
}

TEST(two_tasks_ping_pong_over_a_socketpair)
{
    run_main(ping_pong_main, NULL);
}

/* ------------------------------------------- a reader waits, others run */

static int ticks;

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        CHECK(coil_sleep(UNIT / 5) == 0);
        ticks++;
    }
    return NULL;
}

static void *late_writer(void *arg)
{
    int fd = *(int *)arg;
    CHECK(coil_sleep(2 * UNIT) == 0);
    CHECK(coil_write(fd, "hello", 5) == 5);
    return NULL;
}

static void *waiting_reader(void *arg)
{
    int fd = *(int *)arg;
    char buf[16];
    coil_time t0 = now();
    CHECK(coil_read(fd, buf, sizeof buf) == 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(now() - t0 >= 2 * UNIT);
    CHECK(ticks >= 1);              /* the loop ran others meanwhile (how
                                       many depends on load, not on coil) */
    return NULL;
}

static void *reader_waits_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    ticks = 0;
    coil_task *r = coil_spawn(waiting_reader, &sv[0]);
    coil_task *t = coil_spawn(ticker, NULL);
    coil_task *w = coil_spawn(late_writer, &sv[1]);
    await_task(r);
    await_task(t);
    await_task(w);
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(reader_suspends_until_a_sleeping_writer_writes_while_others_run)
{
    run_main(reader_waits_main, NULL);
}

/* ------------------------------------------------ 10 MB through a pipe */

enum { BIG = 10 * 1024 * 1024 };

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

static void *big_writer(void *arg)
{
    int fd = *(int *)arg;
    unsigned char *buf = malloc(BIG);
    CHECK(buf);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pattern(i);
    size_t done = 0;
    CHECK(coil_write_all(fd, buf, BIG, &done) == BIG && done == BIG);
    CHECK(coil_close(fd) == 0);
    free(buf);
    return NULL;
}

static void *big_reader(void *arg)
{
    int fd = *(int *)arg;
    unsigned char *buf = malloc(BIG + 1);
    CHECK(buf);
    size_t done = 0;
    /* One byte more than is sent: EOF ends it short, with all the data. */
    CHECK(coil_read_full(fd, buf, BIG + 1, &done) == BIG && done == BIG);
    for (size_t i = 0; i < BIG; i++)
        if (buf[i] != pattern(i))
            CHECK(!"data differs");
    free(buf);
    CHECK(coil_close(fd) == 0);
    return NULL;
}

static void *big_pipe_main(void *arg)
{
    (void)arg;
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int kept = dup(p[0]);           /* the read end's open file, after */
    coil_task *r = coil_spawn(big_reader, &p[0]);
    coil_task *w = coil_spawn(big_writer, &p[1]);
    await_task(r);
    await_task(w);
    /* The pipe was read without becoming O_NONBLOCK. */
    int want = pipes_take_nowait() ? 0 : O_NONBLOCK;
    CHECK((fcntl(kept, F_GETFL) & O_NONBLOCK) == want);
    CHECK(close(kept) == 0);
    return NULL;
}

TEST(ten_megabytes_through_a_pipe_with_write_all_and_read_full)
{
    run_main(big_pipe_main, NULL);
}

/* ------------------------------------------------------------ deadlines */

static void *deadline_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    char c;
    coil_time t0 = now();
    CHECK_ERRNO(coil_read_until(sv[0], &c, 1, t0 + 2 * UNIT), ETIMEDOUT);
    coil_time took = now() - t0;
    CHECK(took >= 2 * UNIT - COIL_MSEC(1));
    CHECK(took < 2 * UNIT + COIL_MSEC(500));
    /* A deadline already passed: only the first try. */
    CHECK_ERRNO(coil_read_until(sv[0], &c, 1, 0), ETIMEDOUT);
    /* wait_fd and read_full time out too, read_full keeping its progress. */
    CHECK_ERRNO(coil_wait_fd(sv[0], COIL_READABLE, now() + UNIT), ETIMEDOUT);
    CHECK(write(sv[1], "ab", 2) == 2);
    char buf[4];
    size_t done = 99;
    CHECK_ERRNO(coil_read_full_until(sv[0], buf, 4, &done, now() + UNIT),
                ETIMEDOUT);
    CHECK(done == 2 && memcmp(buf, "ab", 2) == 0);
    /* Still usable: no stale waiter or timer. */
    CHECK(coil_write(sv[1], "x", 1) == 1);
    CHECK(coil_read_until(sv[0], &c, 1, now() + UNIT) == 1 && c == 'x');
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(deadline_expiry_gives_etimedout_and_the_fd_stays_usable)
{
    run_main(deadline_main, NULL);
}

/* ---------------------------------------------------------------- EBADF */

static void *ebadf_main(void *arg)
{
    (void)arg;
    char c = 0;
    CHECK_ERRNO(coil_read(-1, &c, 1), EBADF);
    CHECK_ERRNO(coil_write(1 << 20, &c, 1), EBADF);
    CHECK_ERRNO(coil_wait_fd(-5, COIL_READABLE, -1), EBADF);
    int sv[2];
    pair(sv);
    CHECK(coil_write(sv[1], "z", 1) == 1);
    CHECK(coil_close(sv[1]) == 0);
    CHECK_ERRNO(coil_write(sv[1], &c, 1), EBADF);
    CHECK_ERRNO(coil_close(sv[1]), EBADF);
    CHECK_ERRNO(coil_wait_fd(sv[0], 0, -1), EINVAL);
    CHECK_ERRNO(coil_wait_fd(sv[0], 4, -1), EINVAL);
    CHECK(coil_close(sv[0]) == 0);
    CHECK_ERRNO(coil_read(sv[0], &c, 1), EBADF);
    return NULL;
}

TEST(invalid_or_closed_fd_gives_ebadf)
{
    run_main(ebadf_main, NULL);
}

/* ------------------------------------- closed by another task meanwhile */

static int woke_with;

static void *blocked_reader(void *arg)
{
    int fd = *(int *)arg;
    char c;
    errno = 0;
    ssize_t r = coil_read(fd, &c, 1);
    woke_with = r < 0 ? errno : -1;
    return NULL;
}

static void *blocked_waiter(void *arg)
{
    int fd = *(int *)arg;
    CHECK_ERRNO(coil_wait_fd(fd, COIL_READABLE, now() + COIL_SEC(10)), EBADF);
    return NULL;
}

static void *closed_meanwhile_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    woke_with = 0;
    coil_task *r = coil_spawn(blocked_reader, &sv[0]);
    CHECK(coil_yield() == 0);          /* let it block */
    CHECK(coil_yield() == 0);
    CHECK(woke_with == 0);
    coil_time t0 = now();
    CHECK(coil_close(sv[0]) == 0);
    await_task(r);
    CHECK(woke_with == EBADF);
    /* The same with a deadline armed (its timer goes too). */
    pair(sv);
    coil_task *w = coil_spawn(blocked_waiter, &sv[0]);
    CHECK(coil_yield() == 0);
    CHECK(coil_close(sv[0]) == 0);
    await_task(w);
    CHECK(now() - t0 < COIL_SEC(5));
    coil_close(sv[1]);
    return NULL;
}

TEST(task_waiting_on_an_fd_another_task_closes_wakes_with_ebadf)
{
    run_main(closed_meanwhile_main, NULL);
}

/* ---------------------------------------------------------- peer closes */

static void *peer_closes_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    CHECK(coil_write(sv[1], "bye", 3) == 3);
    CHECK(coil_close(sv[1]) == 0);
    char buf[8];
    CHECK(coil_read(sv[0], buf, sizeof buf) == 3);
    CHECK(coil_read(sv[0], buf, sizeof buf) == 0);     /* EOF */
    CHECK(coil_read(sv[0], buf, sizeof buf) == 0);
    CHECK_ERRNO(coil_write(sv[0], "x", 1), EPIPE);
    CHECK_ERRNO(coil_send(sv[0], "x", 1, 0), EPIPE);
    struct iovec iov = {"x", 1};
    CHECK_ERRNO(coil_writev(sv[0], &iov, 1), EPIPE);
    coil_close(sv[0]);

    /* A pipe: EPIPE, and the SIGPIPE is consumed, not left pending. */
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    CHECK(coil_close(p[0]) == 0);
    CHECK_ERRNO(coil_write(p[1], "x", 1), EPIPE);
    CHECK_ERRNO(coil_writev(p[1], &iov, 1), EPIPE);
    size_t done = 7;
    CHECK_ERRNO(coil_write_all(p[1], "xyz", 3, &done), EPIPE);
    CHECK(done == 0);
    sigset_t pending;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE));
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    CHECK(!sigismember(&mask, SIGPIPE));               /* mask restored */
    coil_close(p[1]);
    return NULL;
}

TEST(peer_that_closes_gives_eof_and_epipe_and_the_process_survives)
{
    signal(SIGPIPE, SIG_DFL);         /* a SIGPIPE would kill the test */
    run_main(peer_closes_main, NULL);
}

/* Mid-transfer: the peer resets with unread data → ECONNRESET, no signal. */
static void *reset_reader(void *arg)
{
    int fd = *(int *)arg;
    char buf[4];
    CHECK(coil_read_full(fd, buf, 4, NULL) == 4);
    /* Close with data unread: TCP sends RST. */
    CHECK(coil_close(fd) == 0);
    return NULL;
}

/* ------------------------------------------------------------ cancelling */

static int cleanup_ran;

static void note_cleanup(void *arg)
{
    (void)arg;
    cleanup_ran++;
}

static void *cancelled_reader(void *arg)
{
    int fd = *(int *)arg;
    char c;
    coil_cleanup_push(note_cleanup, NULL);
    coil_read_until(fd, &c, 1, now() + COIL_SEC(10));
    CHECK(!"not reached: the task is unwound");
    coil_cleanup_pop(0);
    return NULL;
}

static void *second_reader(void *arg)
{
    int fd = *(int *)arg;
    char c;
    CHECK(coil_read(fd, &c, 1) == 1 && c == 'k');
    return (void *)1;
}

static void *cancel_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cleanup_ran = 0;
    coil_task *t = coil_spawn(cancelled_reader, &sv[0]);
    CHECK(coil_yield() == 0);
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    CHECK(coil_future_state(coil_task_future(t)) == COIL_CANCELLED);
    CHECK(cleanup_ran == 1);
    coil_task_release(t);
    /* No stale waiter: a new reader waits (no EBUSY) and is woken. */
    coil_task *r = coil_spawn(second_reader, &sv[0]);
    CHECK(coil_yield() == 0);
    CHECK(coil_write(sv[1], "k", 1) == 1);
    CHECK(await_task(r) == (void *)1);
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(cancelled_reader_runs_its_cleanup_and_leaves_no_stale_waiter)
{
    run_main(cancel_main, NULL);
}

static void *error_mode_reader(void *arg)
{
    int fd = *(int *)arg;
    char c;
    CHECK_ERRNO(coil_read(fd, &c, 1), ECANCELED);
    /* Decided to go on: the fd still works for it. */
    CHECK(coil_task_uncancel() == 0);
    CHECK(coil_read(fd, &c, 1) == 1 && c == 'e');
    return (void *)2;
}

static void *error_mode_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    coil_task *t = coil_spawn_attr(&attr, error_mode_reader, &sv[0]);
    CHECK(coil_yield() == 0);
    CHECK(coil_task_cancel(t) == 1);
    CHECK(coil_yield() == 0);
    CHECK(coil_yield() == 0);
    CHECK(coil_write(sv[1], "e", 1) == 1);
    CHECK(await_task(t) == (void *)2);
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(error_mode_cancel_returns_ecanceled_from_a_blocked_read)
{
    run_main(error_mode_main, NULL);
}

/* ----------------------------------------------------------------- EBUSY */

static void *busy_second(void *arg)
{
    int fd = *(int *)arg;
    char c;
    CHECK_ERRNO(coil_read(fd, &c, 1), EBUSY);
    CHECK_ERRNO(coil_wait_fd(fd, COIL_READABLE | COIL_WRITABLE, -1), EBUSY);
    /* The other direction is free. */
    CHECK(coil_wait_fd(fd, COIL_WRITABLE, -1) == 0);
    return NULL;
}

static void *busy_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    coil_task *first = coil_spawn(second_reader, &sv[0]);
    CHECK(coil_yield() == 0);
    coil_task *second = coil_spawn(busy_second, &sv[0]);
    await_task(second);
    CHECK(coil_write(sv[1], "k", 1) == 1);
    CHECK(await_task(first) == (void *)1);
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(second_task_reading_the_same_fd_gets_ebusy)
{
    run_main(busy_main, NULL);
}

/* -------------------------------------------------- readiness remembered */

static void *remembered_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    char c;
    /* Register the fd (a wait that times out), then let data arrive and
     * the loop see its edge while nobody waits. */
    CHECK_ERRNO(coil_read_until(sv[0], &c, 1, now() + COIL_MSEC(1)), ETIMEDOUT);
    CHECK(write(sv[1], "r", 1) == 1);
    CHECK(coil_sleep(COIL_MSEC(2)) == 0);
    CHECK(coil_wait_fd(sv[0], COIL_READABLE, now() + UNIT) == 0);
    /* Drained behind coil's back: the stale latch is noticed, so the wait
     * times out instead of claiming readiness. */
    CHECK(read(sv[0], &c, 1) == 1 && c == 'r');
    CHECK_ERRNO(coil_wait_fd(sv[0], COIL_READABLE, now() + COIL_MSEC(5)),
                ETIMEDOUT);
    CHECK(coil_wait_fd(sv[0], COIL_WRITABLE, -1) == 0);
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(readiness_that_arrived_while_nobody_waited_is_not_lost)
{
    run_main(remembered_main, NULL);
}

/* --------------------------------------------------------- readv/writev */

static void *vector_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    struct iovec out[2] = {{"hel", 3}, {"lo!", 3}};
    CHECK(coil_writev(sv[1], out, 2) == 6);
    char a[2], b[8];
    struct iovec in[2] = {{a, 2}, {b, 8}};
    CHECK(coil_readv(sv[0], in, 2) == 6);
    CHECK(memcmp(a, "he", 2) == 0 && memcmp(b, "llo!", 4) == 0);
    CHECK(coil_send(sv[1], "s", 1, 0) == 1);
    CHECK(coil_recv(sv[0], a, 1, 0) == 1 && a[0] == 's');
    CHECK_ERRNO(coil_recv(sv[0], a, 1, MSG_DONTWAIT), EAGAIN);
    CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));  /* sockets left as they are */
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(readv_writev_recv_send_behave_as_posix)
{
    run_main(vector_main, NULL);
}

/* ------------------------------------------------------ recvmsg, sendmsg */

/* Send one byte with fd attached as SCM_RIGHTS. */
static ssize_t send_fd(int sock, int fd, coil_time deadline)
{
    char byte = 'F';
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return coil_sendmsg_until(sock, &msg, 0, deadline);
}

/* Late on purpose: the receiver has to suspend in coil_recvmsg. */
static void *fd_sender(void *arg)
{
    int *fds = arg;                       /* socket, fd to pass */
    coil_sleep(2 * UNIT);
    CHECK(send_fd(fds[0], fds[1], -1) == 1);
    return NULL;
}

static void *pass_fd_main(void *arg)
{
    (void)arg;
    int sv[2], pipefd[2];
    pair(sv);
    CHECK(pipe(pipefd) == 0);
    int sender_args[2] = {sv[0], pipefd[1]};
    coil_task *sender = coil_spawn(fd_sender, sender_args);

    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    coil_time t0 = now();
    CHECK(coil_recvmsg(sv[1], &msg, 0) == 1);
    CHECK(now() - t0 >= 2 * UNIT - COIL_MSEC(1));   /* it did wait */
    CHECK(byte == 'F');
    CHECK(!(msg.msg_flags & MSG_CTRUNC));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    CHECK(c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS);
    CHECK(c->cmsg_len == CMSG_LEN(sizeof(int)));
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof got);
    CHECK(got >= 0 && got != pipefd[1]);
    CHECK(fcntl(got, F_GETFD) & FD_CLOEXEC);        /* MSG_CMSG_CLOEXEC */
    await_task(sender);

    /* The received fd is the pipe's write end: what goes in comes out. */
    coil_close(pipefd[1]);
    CHECK(coil_write(got, "via", 3) == 3);
    char buf[3];
    CHECK(coil_read_full(pipefd[0], buf, 3, NULL) == 3);
    CHECK(memcmp(buf, "via", 3) == 0);
    coil_close(got);
    coil_close(pipefd[0]);
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(sendmsg_passes_an_fd_that_recvmsg_receives_close_on_exec)
{
    run_main(pass_fd_main, NULL);
}

static void *msg_deadline_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    char c;
    struct iovec iov = {&c, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    coil_time t0 = now();
    CHECK_ERRNO(coil_recvmsg_until(sv[0], &msg, 0, t0 + 2 * UNIT), ETIMEDOUT);
    coil_time took = now() - t0;
    CHECK(took >= 2 * UNIT - COIL_MSEC(1));
    CHECK(took < 2 * UNIT + COIL_MSEC(500));
    CHECK_ERRNO(coil_recvmsg(sv[0], &msg, MSG_DONTWAIT), EAGAIN);

    /* Fill the socket until the kernel refuses, then sendmsg must wait. */
    static char block[4096];
    struct iovec big = {block, sizeof block};
    struct msghdr out = {.msg_iov = &big, .msg_iovlen = 1};
    while (coil_sendmsg(sv[1], &out, MSG_DONTWAIT) > 0)
        ;
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    t0 = now();
    CHECK_ERRNO(coil_sendmsg_until(sv[1], &out, 0, t0 + 2 * UNIT), ETIMEDOUT);
    CHECK(now() - t0 >= 2 * UNIT - COIL_MSEC(1));

    /* No stale waiter or timer: both directions still work. */
    CHECK(coil_read(sv[0], block, sizeof block) > 0);
    CHECK(coil_recvmsg_until(sv[0], &msg, 0, now() + UNIT) == 1);
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(recvmsg_and_sendmsg_deadlines_give_etimedout_and_the_fd_stays_usable)
{
    run_main(msg_deadline_main, NULL);
}

/* The deadline forms of readv, recv, writev, send and write_all: each
 * waits until its deadline and gives ETIMEDOUT; write_all says how much it
 * wrote first; then data flows both ways again. */
static void check_timed_out_at(coil_time deadline)
{
    CHECK(now() >= deadline - COIL_MSEC(1));
    CHECK(now() < deadline + COIL_MSEC(500));
}

static void *until_forms_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    char c[2];
    struct iovec in = {c, sizeof c};
    coil_time t0 = now();
    CHECK_ERRNO(coil_readv_until(sv[0], &in, 1, t0 + UNIT), ETIMEDOUT);
    check_timed_out_at(t0 + UNIT);
    t0 = now();
    CHECK_ERRNO(coil_recv_until(sv[0], c, 1, MSG_PEEK, t0 + UNIT), ETIMEDOUT);
    check_timed_out_at(t0 + UNIT);

    static char block[4096];
    while (coil_send(sv[1], block, sizeof block, MSG_DONTWAIT) > 0)
        ;
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    struct iovec out = {block, sizeof block};
    t0 = now();
    CHECK_ERRNO(coil_writev_until(sv[1], &out, 1, t0 + UNIT), ETIMEDOUT);
    check_timed_out_at(t0 + UNIT);
    t0 = now();
    CHECK_ERRNO(coil_send_until(sv[1], block, sizeof block, 0, t0 + UNIT),
                ETIMEDOUT);
    check_timed_out_at(t0 + UNIT);
    /* Room for one block made by the reader: write_all of four writes
     * that one and times out on the rest, and says so. */
    size_t drained = 0, done = 99;
    while (drained < sizeof block) {
        ssize_t n = coil_read(sv[0], block, sizeof block - drained);
        CHECK(n > 0);
        drained += (size_t)n;
    }
    static char many[64 * sizeof block];
    t0 = now();
    CHECK_ERRNO(coil_write_all_until(sv[1], many, sizeof many, &done,
                                     t0 + UNIT), ETIMEDOUT);
    check_timed_out_at(t0 + UNIT);
    CHECK(done > 0 && done < sizeof many);

    /* Nothing stale: drain the writer's side, then a byte each way. */
    while (coil_recv(sv[0], block, sizeof block, MSG_DONTWAIT) > 0)
        ;
    CHECK(coil_send_until(sv[1], "x", 1, 0, now() + UNIT) == 1);
    CHECK(coil_readv_until(sv[0], &in, 1, now() + UNIT) == 1 && c[0] == 'x');
    struct iovec one = {c, 1};
    CHECK(coil_writev_until(sv[0], &one, 1, now() + UNIT) == 1);
    CHECK(coil_recv_until(sv[1], c, 1, 0, now() + UNIT) == 1 && c[0] == 'x');
    coil_close(sv[0]);
    coil_close(sv[1]);
    return NULL;
}

TEST(the_until_forms_of_readv_recv_writev_send_and_write_all_time_out)
{
    run_main(until_forms_main, NULL);
}

/* ------------------------------------------------------------------ TCP */

static int listen_loopback(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    *addr = (struct sockaddr_in){.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)addr, sizeof *addr) == 0);
    socklen_t len = sizeof *addr;
    CHECK(getsockname(fd, (struct sockaddr *)addr, &len) == 0);
    CHECK(listen(fd, 16) == 0);
    return fd;
}

static void *tcp_server(void *arg)
{
    int lfd = *(int *)arg;
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int fd = coil_accept(lfd, (struct sockaddr *)&peer, &len);
    CHECK(fd >= 0);
    CHECK(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    char buf[64];
    ssize_t n;
    while ((n = coil_read(fd, buf, sizeof buf)) > 0)
        CHECK(coil_write_all(fd, buf, (size_t)n, NULL) == n);
    CHECK(n == 0);
    CHECK(coil_close(fd) == 0);
    return NULL;
}

static void *tcp_client(void *arg)
{
    struct sockaddr_in *addr = arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK(coil_connect_until(fd, (struct sockaddr *)addr, sizeof *addr,
                             now() + COIL_SEC(5)) == 0);
    for (int i = 0; i < 100; i++) {
        char msg[32], back[32];
        int len = snprintf(msg, sizeof msg, "message %d", i);
        CHECK(coil_write_all(fd, msg, (size_t)len, NULL) == len);
        CHECK(coil_read_full(fd, back, (size_t)len, NULL) == len);
        CHECK(memcmp(msg, back, (size_t)len) == 0);
    }
    CHECK(shutdown(fd, SHUT_WR) == 0);
    char c;
    CHECK(coil_read(fd, &c, 1) == 0);
    CHECK(coil_close(fd) == 0);
    return NULL;
}

static void *tcp_main(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = listen_loopback(&addr);
    coil_task *s = coil_spawn(tcp_server, &lfd);
    coil_task *c = coil_spawn(tcp_client, &addr);
    await_task(c);
    await_task(s);
    /* Nobody connects: accept times out. */
    CHECK_ERRNO(coil_accept_until(lfd, NULL, NULL, now() + COIL_MSEC(5)),
                ETIMEDOUT);
    CHECK(coil_close(lfd) == 0);
    /* Nobody listens there now: connect is refused. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_ERRNO(coil_connect(fd, (struct sockaddr *)&addr, sizeof addr),
                ECONNREFUSED);
    coil_close(fd);
    return NULL;
}

TEST(tcp_accept_and_connect_exchange_on_loopback)
{
    run_main(tcp_main, NULL);
}

static void *reset_main(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = listen_loopback(&addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(coil_connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    int sfd = coil_accept(lfd, NULL, NULL);
    CHECK(sfd >= 0);
    coil_task *r = coil_spawn(reset_reader, &sfd);
    CHECK(coil_write_all(fd, "abcdEXTRA", 9, NULL) == 9);
    await_task(r);
    /* The reset reaches us: a read or write fails, no signal. */
    char buf[4];
    ssize_t n = coil_read(fd, buf, sizeof buf);
    int e = errno;
    CHECK(n < 0 && e == ECONNRESET);
    ssize_t w;
    while ((w = coil_write(fd, "x", 1)) == 1)
        ;
    CHECK(w < 0 && (errno == EPIPE || errno == ECONNRESET));
    coil_close(fd);
    coil_close(lfd);
    return NULL;
}

TEST(peer_reset_mid_transfer_gives_econnreset_without_a_signal)
{
    signal(SIGPIPE, SIG_DFL);
    run_main(reset_main, NULL);
}

/* ---------------------------------------------------------- outside tasks */

TEST(io_calls_outside_a_task_fail_with_eperm)
{
    int sv[2];
    pair(sv);
    char c = 'x';
    struct iovec iov = {&c, 1};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    CHECK_ERRNO(coil_wait_fd(sv[0], COIL_READABLE, -1), EPERM);
    CHECK_ERRNO(coil_read(sv[0], &c, 1), EPERM);
    CHECK_ERRNO(coil_read_until(sv[0], &c, 1, 0), EPERM);
    CHECK_ERRNO(coil_write(sv[0], &c, 1), EPERM);
    CHECK_ERRNO(coil_readv(sv[0], &iov, 1), EPERM);
    CHECK_ERRNO(coil_writev(sv[0], &iov, 1), EPERM);
    CHECK_ERRNO(coil_recv(sv[0], &c, 1, 0), EPERM);
    CHECK_ERRNO(coil_send(sv[0], &c, 1, 0), EPERM);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK_ERRNO(coil_recvmsg(sv[0], &msg, 0), EPERM);
    CHECK_ERRNO(coil_sendmsg(sv[0], &msg, 0), EPERM);
    CHECK_ERRNO(coil_accept(sv[0], NULL, NULL), EPERM);
    CHECK_ERRNO(coil_connect(sv[0], (struct sockaddr *)&addr, sizeof addr),
                EPERM);
    size_t done = 5;
    CHECK_ERRNO(coil_read_full(sv[0], &c, 1, &done), EPERM);
    CHECK(done == 0);
    CHECK_ERRNO(coil_write_all(sv[0], &c, 1, NULL), EPERM);
    CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));      /* untouched */
    /* close never suspends: it works anywhere. */
    CHECK(coil_close(sv[0]) == 0);
    CHECK(coil_close(sv[1]) == 0);
}

/* ------------------------------------- records left stale by close(2) */

/* Every test here arms a watchdog: before the fix, the stale record had
 * coil read a blocking fd and the test hung instead of failing. */
static void watchdog(void)
{
    signal(SIGALRM, SIG_DFL);
    alarm(10);
}

static int blocking(int fd)
{
    return !(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

/* Use both ends of fds through coil (a record each, registered, the
 * reader's last read short so that its next one waits for an edge), then
 * close them with plain close(2). */
static void use_then_close_behind_coils_back(int fds[2])
{
    char buf[8];
    CHECK(coil_write(fds[1], "ab", 2) == 2);
    CHECK(coil_read(fds[0], buf, sizeof buf) == 2);
    CHECK_ERRNO(coil_read_until(fds[0], buf, 1, now() + UNIT / 4), ETIMEDOUT);
    CHECK(close(fds[0]) == 0 && close(fds[1]) == 0);
}

static void *late_z_writer(void *arg)
{
    int fd = *(int *)arg;
    coil_sleep(UNIT);
    CHECK(write(fd, "z", 1) == 1);
    return NULL;
}

/* The new fds (which got the old numbers, blocking): a read whose deadline
 * has passed fails instead of blocking the thread, a read that must wait
 * is woken by data, and both stay as the program made them but usable. */
static void new_owner_works(int fds[2])
{
    char c;
    CHECK(blocking(fds[0]) && blocking(fds[1]));
    CHECK_ERRNO(coil_read_until(fds[0], &c, 1, now() - 1), ETIMEDOUT);
    coil_task *w = coil_spawn(late_z_writer, &fds[1]);
    CHECK(coil_read_until(fds[0], &c, 1, now() + 50 * UNIT) == 1 && c == 'z');
    await_task(w);
    CHECK(coil_write(fds[1], "y", 1) == 1);
    CHECK(coil_read(fds[0], &c, 1) == 1 && c == 'y');
    CHECK(coil_close(fds[0]) == 0 && coil_close(fds[1]) == 0);
}

/* Two fds of a kind: 'p'ipe, 's'ocketpair or named 'f'ifo. */
static void make_kind(char kind, int fds[2])
{
    if (kind == 'p')
        CHECK(pipe(fds) == 0);
    else if (kind == 'f')
        fifo_pair(fds);
    else
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
}

static void *reuse_main(void *arg)
{
    const char *kinds = arg;          /* old, new: see make_kind */
    int old[2], fresh[2];
    watchdog();
    make_kind(kinds[0], old);
    use_then_close_behind_coils_back(old);
    make_kind(kinds[1], fresh);
    CHECK(fresh[0] == old[0] && fresh[1] == old[1]);   /* the same numbers */
    new_owner_works(fresh);
    alarm(0);
    return NULL;
}

TEST(a_pipe_that_reuses_a_plainly_closed_pipes_number_never_blocks_the_loop)
{
    run_main(reuse_main, "pp");
}

TEST(a_pipe_that_reuses_a_plainly_closed_sockets_number_never_blocks_the_loop)
{
    run_main(reuse_main, "sp");
}

TEST(a_socket_that_reuses_a_plainly_closed_pipes_number_never_blocks_the_loop)
{
    run_main(reuse_main, "ps");
}

TEST(a_socket_that_reuses_a_plainly_closed_sockets_number_never_blocks_the_loop)
{
    run_main(reuse_main, "ss");
}

/* Waiting for an fd leaves its mode alone; the first read of a FIFO
 * (which refuses RWF_NOWAIT) switches it to O_NONBLOCK. */
static void *wait_only_main(void *arg)
{
    (void)arg;
    int p[2];
    fifo_pair(p);
    coil_task *w = coil_spawn(late_z_writer, &p[1]);
    CHECK(coil_wait_fd(p[0], COIL_READABLE, now() + 50 * UNIT) == 0);
    await_task(w);
    CHECK(blocking(p[0]));
    char c;
    CHECK(coil_read(p[0], &c, 1) == 1 && c == 'z');
    CHECK(!blocking(p[0]));
    CHECK(coil_close(p[0]) == 0 && coil_close(p[1]) == 0);
    return NULL;
}

TEST(waiting_for_a_fifo_leaves_its_mode_and_its_first_read_switches_it)
{
    run_main(wait_only_main, NULL);
}

/* A pipe's record read with RWF_NOWAIT meets a FIFO, which refuses it,
 * and the other way round: a FIFO's O_NONBLOCK record meets a pipe. */
TEST(a_fifo_that_reuses_a_plainly_closed_pipes_number_never_blocks_the_loop)
{
    run_main(reuse_main, "pf");
}

TEST(a_pipe_that_reuses_a_plainly_closed_fifos_number_never_blocks_the_loop)
{
    run_main(reuse_main, "fp");
}

/* The file replaced while a task already waits on its number: another
 * task closes the socket with plain close(2) and a new socketpair takes
 * the number.  The wait checks its record once it has lasted a while
 * (io.c: VERIFY_PERIOD), finds it stale, registers the new socket and is
 * woken by its data — where a wait that trusted its record never would. */
typedef struct swap_under {
    int old[2], fresh[2];
} swap_under;

static void *swap_under_reader(void *arg)
{
    swap_under *x = arg;
    char c;
    CHECK(coil_read_until(x->old[0], &c, 1, now() + 50 * UNIT) == 1);
    CHECK(c == 'n');
    return NULL;
}

static void *swap_under_main(void *arg)
{
    (void)arg;
    swap_under x;
    watchdog();
    pair(x.old);
    char buf[4];
    CHECK(coil_write(x.old[1], "ab", 2) == 2);        /* make a record */
    CHECK(coil_read(x.old[0], buf, sizeof buf) == 2);
    coil_task *r = coil_spawn(swap_under_reader, &x);
    coil_yield();              /* the reader runs first, finds no data, parks */
    CHECK(close(x.old[0]) == 0 && close(x.old[1]) == 0);
    pair(x.fresh);
    CHECK(x.fresh[0] == x.old[0]);                    /* the same number */
    CHECK(write(x.fresh[1], "n", 1) == 1);
    await_task(r);
    CHECK(coil_close(x.fresh[0]) == 0 && coil_close(x.fresh[1]) == 0);
    alarm(0);
    return NULL;
}

TEST(a_wait_goes_on_when_its_fds_file_is_replaced_under_it)
{
    run_main(swap_under_main, NULL);
}

RUN_TESTS(T(two_tasks_ping_pong_over_a_socketpair),
          T(reader_suspends_until_a_sleeping_writer_writes_while_others_run),
          T(ten_megabytes_through_a_pipe_with_write_all_and_read_full),
          T(deadline_expiry_gives_etimedout_and_the_fd_stays_usable),
          T(invalid_or_closed_fd_gives_ebadf),
          T(task_waiting_on_an_fd_another_task_closes_wakes_with_ebadf),
          T(peer_that_closes_gives_eof_and_epipe_and_the_process_survives),
          T(peer_reset_mid_transfer_gives_econnreset_without_a_signal),
          T(cancelled_reader_runs_its_cleanup_and_leaves_no_stale_waiter),
          T(error_mode_cancel_returns_ecanceled_from_a_blocked_read),
          T(second_task_reading_the_same_fd_gets_ebusy),
          T(readiness_that_arrived_while_nobody_waited_is_not_lost),
          T(readv_writev_recv_send_behave_as_posix),
          T(sendmsg_passes_an_fd_that_recvmsg_receives_close_on_exec),
          T(recvmsg_and_sendmsg_deadlines_give_etimedout_and_the_fd_stays_usable),
          T(the_until_forms_of_readv_recv_writev_send_and_write_all_time_out),
          T(tcp_accept_and_connect_exchange_on_loopback),
          T(io_calls_outside_a_task_fail_with_eperm),
          T(a_pipe_that_reuses_a_plainly_closed_pipes_number_never_blocks_the_loop),
          T(a_pipe_that_reuses_a_plainly_closed_sockets_number_never_blocks_the_loop),
          T(a_socket_that_reuses_a_plainly_closed_pipes_number_never_blocks_the_loop),
          T(a_socket_that_reuses_a_plainly_closed_sockets_number_never_blocks_the_loop),
          T(a_fifo_that_reuses_a_plainly_closed_pipes_number_never_blocks_the_loop),
          T(a_pipe_that_reuses_a_plainly_closed_fifos_number_never_blocks_the_loop),
          T(waiting_for_a_fifo_leaves_its_mode_and_its_first_read_switches_it),
          T(a_wait_goes_on_when_its_fds_file_is_replaced_under_it))
