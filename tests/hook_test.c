/*
 * tests/hook_test.c — the hook layer (src/hook/): plain libc calls made
 * in tasks suspend the task, and keep the semantics the program asked for.
 *
 * Linked with libcoil_hook.so, so every read(), poll(), sleep() here and
 * in the libraries below is the hook's.  Loopback and socketpairs only.
 * A ticker task counts how often the loop got round while a task sat in
 * a "blocking" call: a call that blocked the thread would leave it at 0.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/poll.h>          /* <poll.h> would be src/loop/poll.h */
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "pipe_kinds.h"
#include "task_helpers.h"

#define UNIT COIL_MSEC(50)

static coil_time now(void)
{
    return coil_clock();
}

/* The kernel's flags, past the hook's F_GETFL. */
static int kernel_flags(int fd)
{
    return (int)syscall(SYS_fcntl, fd, F_GETFL);
}

static void watchdog(void)
{
    signal(SIGALRM, SIG_DFL);
    alarm(30);                /* a call that blocked the loop: fail, not hang */
}

/* ------------------------------------------------------------ ticker */

static volatile long ticks;
static volatile int ticking;

static void *ticker(void *arg)
{
    (void)arg;
    while (ticking) {
        ticks++;
        coil_sleep(COIL_MSEC(5));
    }
    return NULL;
}

static coil_task *start_ticker(void)
{
    ticks = 0;
    ticking = 1;
    return coil_spawn(ticker, NULL);
}

static long stop_ticker(coil_task *t)
{
    ticking = 0;
    await_task(t);
    return ticks;
}

/* ------------------------------------------------- reads that wait */

typedef struct {
    int fd;
    coil_time delay;
    const char *data;
} late_write;

static void *write_late(void *arg)
{
    late_write *lw = arg;
    coil_sleep(lw->delay);
    CHECK(write(lw->fd, lw->data, strlen(lw->data)) == (ssize_t)strlen(lw->data));
    return NULL;
}

/* A read of p[0] that waits for a late write: the loop runs meanwhile,
 * and the program still sees the blocking fd it made. */
static void read_late(int p[2])
{
    coil_task *tk = start_ticker();
    late_write lw = {p[1], 4 * UNIT, "hi"};
    coil_task *w = coil_spawn(write_late, &lw);
    char buf[8];
    CHECK(read(p[0], buf, sizeof buf) == 2 && memcmp(buf, "hi", 2) == 0);
    await_task(w);
    CHECK(stop_ticker(tk) >= 5);          /* the loop ran while we waited */
    CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
}

static void *blocking_read_main(void *arg)
{
    (void)arg;
    int p[2];
    CHECK(pipe(p) == 0);
    read_late(p);
    /* Underneath, a pipe is left blocking where the kernel lets coil read
     * it with RWF_NOWAIT, */
    int want = pipes_take_nowait() ? 0 : O_NONBLOCK;
    CHECK((kernel_flags(p[0]) & O_NONBLOCK) == want);
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);
    /* and a named FIFO, which refuses that flag, is made non-blocking. */
    fifo_pair(p);
    read_late(p);
    CHECK(kernel_flags(p[0]) & O_NONBLOCK);
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);
    return NULL;
}

TEST(a_blocking_read_in_a_task_suspends_it_and_the_loop_runs_on)
{
    watchdog();
    run_main(blocking_read_main, NULL);
}

/* What a program built with _FORTIFY_SOURCE calls for read() and poll()
 * into buffers of known size. */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
extern int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);

static void *fortified_main(void *arg)
{
    (void)arg;
    int p[2], s[2];
    CHECK(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    coil_task *tk = start_ticker();
    late_write lw = {p[1], 4 * UNIT, "hi"};
    coil_task *w = coil_spawn(write_late, &lw);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    CHECK(__poll_chk(&pf, 1, -1, sizeof pf) == 1 && (pf.revents & POLLIN));
    char buf[8];
    CHECK(__read_chk(p[0], buf, sizeof buf, sizeof buf) == 2);
    await_task(w);
    CHECK(stop_ticker(tk) >= 5);          /* the loop ran while we waited */
    tk = start_ticker();
    late_write ls = {s[1], 4 * UNIT, "yo"};
    w = coil_spawn(write_late, &ls);
    CHECK(__recv_chk(s[0], buf, sizeof buf, sizeof buf, 0) == 2 &&
          memcmp(buf, "yo", 2) == 0);
    await_task(w);
    CHECK(stop_ticker(tk) >= 5);
    close(p[0]), close(p[1]), close(s[0]), close(s[1]);
    return NULL;
}

TEST(fortified_reads_and_polls_yield_too)
{
    watchdog();
    run_main(fortified_main, NULL);
}

static void *nonblock_main(void *arg)
{
    (void)arg;
    int sv[2], p[2];
    char c;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_ERRNO(read(sv[0], &c, 1), EAGAIN);
    CHECK_ERRNO(recv(sv[0], &c, 1, 0), EAGAIN);
    CHECK(pipe(p) == 0);
    CHECK(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK) == 0);
    CHECK_ERRNO(read(p[0], &c, 1), EAGAIN);
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    /* And back to blocking: the read waits again. */
    CHECK(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_NONBLOCK) == 0);
    CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
    late_write lw = {p[1], UNIT, "x"};
    coil_task *w = coil_spawn(write_late, &lw);
    CHECK(read(p[0], &c, 1) == 1 && c == 'x');
    await_task(w);
    /* ioctl(FIONBIO) is the other way to ask. */
    int on = 1;
    CHECK(ioctl(p[0], FIONBIO, &on) == 0);
    CHECK_ERRNO(read(p[0], &c, 1), EAGAIN);
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    close(sv[0]), close(sv[1]), close(p[0]), close(p[1]);
    return NULL;
}

TEST(an_fd_the_program_set_nonblocking_still_gets_eagain)
{
    watchdog();
    run_main(nonblock_main, NULL);
}

/* MSG_DONTWAIT on a blocking socket asks for EAGAIN at once, in a task and
 * out of one, even once coil has made the fd O_NONBLOCK underneath: the
 * call used to wait in poll(2) for data, holding the loop's thread.  And
 * writev of nothing is 0 even after a shutdown, as the kernel answers it
 * (the hook's sendmsg form said EPIPE).  Found by hook_diff. */
static void *dontwait_main(void *arg)
{
    (void)arg;
    int sv[2];
    char c;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_ERRNO(recv(sv[0], &c, 1, MSG_DONTWAIT), EAGAIN);
    late_write lw = {sv[1], UNIT, "x"};
    coil_task *w = coil_spawn(write_late, &lw);
    CHECK(read(sv[0], &c, 1) == 1 && c == 'x');   /* coil manages it now */
    await_task(w);
    CHECK_ERRNO(recv(sv[0], &c, 1, MSG_DONTWAIT), EAGAIN);
    struct msghdr m = {.msg_iov = &(struct iovec){&c, 1}, .msg_iovlen = 1};
    CHECK_ERRNO(recvmsg(sv[0], &m, MSG_DONTWAIT), EAGAIN);
    CHECK(shutdown(sv[0], SHUT_WR) == 0);
    CHECK(writev(sv[0], &(struct iovec){&c, 0}, 1) == 0);
    close(sv[0]), close(sv[1]);
    return NULL;
}

TEST(msg_dontwait_is_eagain_at_once_and_an_empty_writev_is_0)
{
    watchdog();
    run_main(dontwait_main, NULL);
}

/* ----------------------------------------------------------- timeouts */

static void *rcvtimeo_main(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct timeval tv = {0, 200000};
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    coil_task *tk = start_ticker();
    char c;
    coil_time t0 = now();
    CHECK_ERRNO(read(sv[0], &c, 1), EAGAIN);
    coil_time took = now() - t0;
    CHECK(took >= COIL_MSEC(199) && took < COIL_MSEC(200) + COIL_SEC(2));
    CHECK(stop_ticker(tk) >= 10);
    close(sv[0]), close(sv[1]);
    return NULL;
}

TEST(so_rcvtimeo_expiry_gives_eagain_on_time)
{
    watchdog();
    run_main(rcvtimeo_main, NULL);
}

/* A listener with backlog 0 that never accepts: once its queue is full
 * the kernel drops SYNs, and a blocking connect hangs in retransmission
 * until SO_SNDTIMEO ends it with EINPROGRESS (socket(7)). */
static void *connect_timeout_main(void *arg)
{
    (void)arg;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(lfd, 0) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    coil_task *tk = start_ticker();
    int fds[8], n = 0, timed_out = 0;
    struct timeval tv = {0, 300000};
    while (n < 8 && !timed_out) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
        coil_time t0 = now();
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            fds[n++] = fd;                /* queued, unaccepted */
            continue;
        }
        CHECK(errno == EINPROGRESS);
        coil_time took = now() - t0;
        CHECK(took >= COIL_MSEC(299) && took < COIL_MSEC(300) + COIL_SEC(2));
        timed_out = 1;
        close(fd);
    }
    CHECK(timed_out);
    CHECK(stop_ticker(tk) >= 10);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(lfd);
    return NULL;
}

TEST(a_connect_to_a_full_backlog_times_out_at_its_so_sndtimeo)
{
    watchdog();
    run_main(connect_timeout_main, NULL);
}

/* ------------------------------------------ fds closed under a waiter */

typedef struct {
    int fd;
    int err;
    ssize_t r;
} reader_result;

static void *reader(void *arg)
{
    reader_result *rr = arg;
    char c;
    rr->r = read(rr->fd, &c, 1);
    rr->err = errno;
    return NULL;
}

/* A socketpair sv whose sv[0] a task reads (parked in read() once this
 * returns, into *rr), and a pipe `other` to dup onto it. */
static coil_task *park_a_reader(int sv[2], int other[2], reader_result *rr)
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(pipe(other) == 0);
    *rr = (reader_result){sv[0], 0, 0};
    coil_task *t = coil_spawn(reader, rr);
    coil_sleep(UNIT);
    return t;
}

/* t, parked on an fd just closed, was woken by the close itself: not 50
 * to 100 ms later by the IO layer's sweep for stale records (src/io/io.c),
 * which would give the same EBADF. */
static void check_woken_at_once(coil_task *t)
{
    for (int i = 0; i < 3 && !coil_future_done(coil_task_future(t)); i++)
        coil_yield();
    CHECK(coil_future_done(coil_task_future(t)));
}

static void *retire_main(void *arg)
{
    int use_dup2 = *(int *)arg;
    int sv[2], other[2];
    reader_result rr;
    coil_task *t = park_a_reader(sv, other, &rr);
    if (use_dup2)
        CHECK(dup2(other[0], sv[0]) == sv[0]);
    else
        CHECK(close(sv[0]) == 0);
    check_woken_at_once(t);
    await_task(t);
    CHECK(rr.r == -1 && rr.err == EBADF);
    if (use_dup2) {                       /* the number is the pipe's now */
        CHECK(write(other[1], "p", 1) == 1);
        char c;
        CHECK(read(sv[0], &c, 1) == 1 && c == 'p');
        close(sv[0]);
    }
    close(sv[1]), close(other[0]), close(other[1]);
    return NULL;
}

TEST(dup2_onto_an_fd_another_task_reads_wakes_it_with_ebadf)
{
    int use_dup2 = 1;
    watchdog();
    run_main(retire_main, &use_dup2);
}

TEST(close_of_an_fd_another_task_reads_wakes_it_with_ebadf)
{
    int use_dup2 = 0;
    watchdog();
    run_main(retire_main, &use_dup2);
}

/* A dup2 or dup3 that fails closes nothing: a task reading the target
 * reads on, and the mode the program set on it stays. */
static void *failed_dup_main(void *arg)
{
    (void)arg;
    int sv[2], other[2];
    reader_result rr;
    coil_task *t = park_a_reader(sv, other, &rr);
    CHECK_ERRNO(dup3(other[0], sv[0], O_NONBLOCK), EINVAL);  /* bad flags */
    coil_sleep(UNIT);
    CHECK(!coil_future_done(coil_task_future(t)));  /* still reading */
    CHECK(write(sv[1], "r", 1) == 1);
    await_task(t);
    CHECK(rr.r == 1);
    /* The program's O_NONBLOCK survives a dup3 that failed. */
    CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
    CHECK_ERRNO(dup3(other[0], sv[0], O_NONBLOCK), EINVAL);
    CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    char c;
    CHECK_ERRNO(read(sv[0], &c, 1), EAGAIN);
    close(sv[0]), close(sv[1]), close(other[0]), close(other[1]);
    return NULL;
}

TEST(a_failed_dup3_closes_nothing_and_keeps_the_targets_mode)
{
    watchdog();
    run_main(failed_dup_main, NULL);
}

/* close_range and closefrom close what they cover, however wide: a task
 * reading an fd among them wakes with EBADF.  Far above the fds the loop
 * and the test use, so that closing "all from there" closes only it. */
enum { HIGH_FD = 1000 };

static void *close_range_main(void *arg)
{
    int use_closefrom = *(int *)arg;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(dup2(sv[0], HIGH_FD) == HIGH_FD && close(sv[0]) == 0);
    reader_result rr = {HIGH_FD, 0, 0};
    coil_task *t = coil_spawn(reader, &rr);
    coil_sleep(UNIT);
    /* Calls that close nothing wake nobody. */
    if (close_range(HIGH_FD, HIGH_FD, CLOSE_RANGE_CLOEXEC) != 0) {
        CHECK(errno == ENOSYS);           /* an emulator without it */
        CHECK(close(HIGH_FD) == 0);
        await_task(t);
        SKIP("close_range(2) is not available");
    }
    CHECK(fcntl(HIGH_FD, F_GETFD) & FD_CLOEXEC);
    CHECK_ERRNO(close_range(HIGH_FD, HIGH_FD, 0x80), EINVAL);
    CHECK_ERRNO(close_range(HIGH_FD, HIGH_FD - 1, 0), EINVAL);
    coil_sleep(UNIT);
    CHECK(!coil_future_done(coil_task_future(t)));
    if (use_closefrom)
        closefrom(HIGH_FD);
    else
        CHECK(close_range(HIGH_FD, ~0u, 0) == 0);
    check_woken_at_once(t);
    await_task(t);
    CHECK(rr.r == -1 && rr.err == EBADF);
    CHECK_ERRNO(fcntl(HIGH_FD, F_GETFD), EBADF);
    close(sv[1]);
    return NULL;
}

TEST(close_range_of_an_fd_another_task_reads_wakes_it_with_ebadf)
{
    int use_closefrom = 0;
    watchdog();
    run_main(close_range_main, &use_closefrom);
}

TEST(closefrom_below_an_fd_another_task_reads_wakes_it_with_ebadf)
{
    int use_closefrom = 1;
    watchdog();
    run_main(close_range_main, &use_closefrom);
}

/* -------------------------------------------------------------- poll */

static void *poll_main(void *arg)
{
    (void)arg;
    int p[3][2];
    struct pollfd fds[3];
    for (int i = 0; i < 3; i++) {
        CHECK(pipe(p[i]) == 0);
        fds[i] = (struct pollfd){.fd = p[i][0], .events = POLLIN};
    }
    coil_task *tk = start_ticker();
    coil_time t0 = now();
    CHECK(poll(fds, 3, 200) == 0);        /* nothing: the timeout */
    CHECK(now() - t0 >= COIL_MSEC(199));
    late_write lw = {p[1][1], 2 * UNIT, "1"};
    coil_task *w = coil_spawn(write_late, &lw);
    CHECK(poll(fds, 3, 10000) == 1);
    CHECK(fds[0].revents == 0 && fds[1].revents == POLLIN && fds[2].revents == 0);
    await_task(w);
    /* One fd: through coil's own record of it. */
    lw = (late_write){p[2][1], UNIT, "2"};
    w = coil_spawn(write_late, &lw);
    CHECK(poll(&fds[2], 1, -1) == 1 && fds[2].revents == POLLIN);
    await_task(w);
    CHECK(stop_ticker(tk) >= 20);
    for (int i = 0; i < 3; i++)
        close(p[i][0]), close(p[i][1]);
    return NULL;
}

/* poll only waits: a FIFO or an eventfd it waited for keeps its mode
 * (the open file may be another process's too); a read switches it. */
static void *poll_mode_main(void *arg)
{
    (void)arg;
    int p[2];
    fifo_pair(p);
    late_write lw = {p[1], UNIT, "f"};
    coil_task *w = coil_spawn(write_late, &lw);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    CHECK(poll(&pf, 1, -1) == 1 && (pf.revents & POLLIN));
    await_task(w);
    CHECK(!(kernel_flags(p[0]) & O_NONBLOCK));
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == 'f');
    CHECK(kernel_flags(p[0]) & O_NONBLOCK);
    CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));  /* the program's view */
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);
    int e = eventfd(0, EFD_CLOEXEC);
    CHECK(e >= 0);
    pf = (struct pollfd){.fd = e, .events = POLLOUT};
    CHECK(poll(&pf, 1, -1) == 1 && (pf.revents & POLLOUT));
    CHECK(!(kernel_flags(e) & O_NONBLOCK));
    CHECK(close(e) == 0);
    return NULL;
}

TEST(poll_leaves_a_fifos_and_an_eventfds_mode_alone)
{
    watchdog();
    run_main(poll_mode_main, NULL);
}

TEST(poll_on_several_fds_waits_in_the_loop_and_reports_the_ready_one)
{
    watchdog();
    run_main(poll_main, NULL);
}

/* A library with an epoll fd of its own, and one that uses select. */
static void *epoll_select_main(void *arg)
{
    (void)arg;
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]}, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
    coil_task *tk = start_ticker();
    coil_time t0 = now();
    CHECK(epoll_wait(ep, out, 4, 100) == 0);        /* the timeout */
    CHECK(now() - t0 >= COIL_MSEC(99));
    late_write lw = {p[1], 2 * UNIT, "e"};
    coil_task *w = coil_spawn(write_late, &lw);
    CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.fd == p[0]);
    await_task(w);
    lw = (late_write){q[1], 2 * UNIT, "s"};
    w = coil_spawn(write_late, &lw);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);                    /* ready already: "e" unread */
    FD_SET(q[0], &rd);
    CHECK(select(q[0] + 1, &rd, NULL, NULL, NULL) >= 1);
    CHECK(FD_ISSET(p[0], &rd));
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == 'e');
    FD_ZERO(&rd);
    FD_SET(q[0], &rd);
    CHECK(select(q[0] + 1, &rd, NULL, NULL, NULL) == 1 && FD_ISSET(q[0], &rd));
    await_task(w);
    CHECK(stop_ticker(tk) >= 20);
    close(ep), close(p[0]), close(p[1]), close(q[0]), close(q[1]);
    return NULL;
}

TEST(epoll_wait_on_a_librarys_epoll_fd_and_select_wait_in_the_loop)
{
    watchdog();
    run_main(epoll_select_main, NULL);
}

/* ------------------------------------------------------------- writes */

enum { BIG = 4 << 20 };

static void *slow_reader(void *arg)
{
    int fd = *(int *)arg;
    static char buf[65536];
    size_t got = 0;
    while (got < BIG) {
        coil_sleep(COIL_MSEC(1));
        ssize_t r = read(fd, buf, sizeof buf);
        CHECK(r > 0);
        got += (size_t)r;
    }
    return NULL;
}

static void *write_all_main(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char *big = calloc(1, BIG);
    coil_task *r = coil_spawn(slow_reader, &sv[1]);
    /* A blocking write returns once all of it is written. */
    CHECK(write(sv[0], big, BIG) == BIG);
    await_task(r);
    /* With SO_SNDTIMEO and nobody reading: what fitted, then the end. */
    struct timeval tv = {0, 100000};
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
    ssize_t n = write(sv[0], big, BIG);
    CHECK(n > 0 && n < BIG);
    CHECK_ERRNO(write(sv[0], big, BIG), EAGAIN);
    free(big);
    close(sv[0]), close(sv[1]);
    return NULL;
}

TEST(a_blocking_write_writes_everything_and_so_sndtimeo_cuts_it_short)
{
    watchdog();
    run_main(write_all_main, NULL);
}

/* ------------------------------------------- cancellation and scopes */

static void *cancelled_reader(void *arg)
{
    int fd = *(int *)arg;
    char c;
    read(fd, &c, 1);
    CHECK(!"not reached: cancellation unwinds");
    return NULL;
}

static void *cancel_main(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    coil_task *t = coil_spawn(cancelled_reader, &sv[0]);
    coil_sleep(UNIT);
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    /* Error mode: ECANCELED from the call itself. */
    coil_task_attr attr = {.flags = COIL_TASK_CANCEL_AS_ERROR};
    reader_result rr = {sv[0], 0, 0};
    t = coil_spawn_attr(&attr, reader, &rr);
    coil_sleep(UNIT);
    CHECK(coil_task_cancel(t) == 1);
    await_task(t);
    CHECK(rr.r == -1 && rr.err == ECANCELED);
    /* A timeout scope cuts a sleep() and a read() off. */
    coil_timeout scope;
    coil_time t0 = now();
    if (coil_timeout_begin(&scope, UNIT) == 0) {
        char c;
        read(sv[0], &c, 1);
        CHECK(!"not reached");
    }
    CHECK_ERRNO(coil_timeout_end(&scope), ETIMEDOUT);
    if (coil_timeout_begin(&scope, UNIT) == 0) {
        sleep(100);
        CHECK(!"not reached");
    }
    CHECK_ERRNO(coil_timeout_end(&scope), ETIMEDOUT);
    CHECK(now() - t0 < COIL_SEC(5));
    close(sv[0]), close(sv[1]);
    return NULL;
}

TEST(cancellation_unwinds_hooked_calls_or_gives_ecanceled_and_scopes_cut_them)
{
    watchdog();
    run_main(cancel_main, NULL);
}

/* ------------------------------------------------------ huge timeouts */

/* A timeout too long for a 64-bit count of ns is "for ever" to the kernel:
 * the hooked calls must wait too, where the product used to wrap into a
 * deadline long past and the call returned at once.  Each wait below is
 * ended by a UNIT-long timeout scope, which must be what ends it. */
static void huge_wait(int kind, int pfd, int sfd)
{
    struct timespec ts = {LONG_MAX, 999999999};
    struct timeval tv = {LONG_MAX, 999999};
    struct pollfd pf = {pfd, POLLIN, 0};
    fd_set rd;
    char c;
    switch (kind) {
    case 0:
        nanosleep(&ts, NULL);
        CHECK(!"nanosleep returned");
        break;
    case 1:
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        CHECK(!"clock_nanosleep returned");
        break;
    case 2:
        clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
        CHECK(!"clock_nanosleep (absolute) returned");
        break;
    case 3:
        ppoll(&pf, 1, &ts, NULL);
        CHECK(!"ppoll returned");
        break;
    case 4:
        FD_ZERO(&rd);
        FD_SET(pfd, &rd);
        select(pfd + 1, &rd, NULL, NULL, &tv);
        CHECK(!"select returned");
        break;
    default:
        read(sfd, &c, 1);                 /* SO_RCVTIMEO of LONG_MAX s */
        CHECK(!"read returned");
    }
}

/* Negative times are EINVAL, in a task as from libc: they used to be
 * deadlines already past (a timeout of 0). */
static void check_negative_times_einval(int pfd)
{
    struct timespec neg = {-1, 0};
    struct timeval negtv = {-1, 0};
    struct pollfd pf = {pfd, POLLIN, 0};
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(pfd, &rd);
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &neg, NULL) == EINVAL);
    CHECK_ERRNO(nanosleep(&neg, NULL), EINVAL);
    CHECK_ERRNO(ppoll(&pf, 1, &neg, NULL), EINVAL);
    CHECK_ERRNO(select(pfd + 1, &rd, NULL, NULL, &negtv), EINVAL);
}

static void *huge_timeouts_main(void *arg)
{
    (void)arg;
    int p[2], sv[2];
    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct timeval forever = {LONG_MAX, 0};
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &forever,
                     sizeof forever) == 0);
    for (int kind = 0; kind < 6; kind++) {
        coil_timeout scope;
        coil_time t0 = now();
        if (coil_timeout_begin(&scope, UNIT) == 0)
            huge_wait(kind, p[0], sv[0]);
        CHECK_ERRNO(coil_timeout_end(&scope), ETIMEDOUT);
        CHECK(now() - t0 >= UNIT - COIL_MSEC(1));
    }
    check_negative_times_einval(p[0]);
    close(p[0]), close(p[1]), close(sv[0]), close(sv[1]);
    return NULL;
}

TEST(huge_timeouts_wait_and_negative_ones_are_einval)
{
    watchdog();
    int p[2];
    CHECK(pipe(p) == 0);
    check_negative_times_einval(p[0]);    /* libc's answers: the same */
    close(p[0]), close(p[1]);
    run_main(huge_timeouts_main, NULL);
}

/* ------------------------------------------------------------- sleeps */

static void *sleeper(void *arg)
{
    switch (*(int *)arg % 4) {
    case 0: CHECK(usleep(200000) == 0); break;
    case 1: {
        struct timespec ts = {0, 200000000};
        CHECK(nanosleep(&ts, NULL) == 0);
        break;
    }
    case 2: {
        struct timespec ts = {0, 200000000};
        CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == 0);
        break;
    }
    default:
        CHECK(poll(NULL, 0, 200) == 0);
    }
    return NULL;
}

static void *sleeps_main(void *arg)
{
    (void)arg;
    int ids[40];
    coil_task *t[40];
    coil_time t0 = now();
    sleeper(&(int){0});                   /* one alone: the reference */
    coil_time one = now() - t0;
    t0 = now();
    for (int i = 0; i < 40; i++) {
        ids[i] = i;
        t[i] = coil_spawn(sleeper, &ids[i]);
    }
    for (int i = 0; i < 40; i++)
        await_task(t[i]);
    coil_time took = now() - t0;
    printf("  40 sleeps of 0.2 s: %.3f s (one alone %.3f s)\n", took / 1e9,
           one / 1e9);
    CHECK(took >= COIL_MSEC(199) && took < one * 10);   /* serial: 40x */
    return NULL;
}

TEST(sleeps_in_forty_tasks_overlap)
{
    watchdog();
    run_main(sleeps_main, NULL);
}

/* -------------------------------------------------------- getaddrinfo */

static void *resolve(void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    CHECK(getaddrinfo("localhost", "80", &hints, &res) == 0);
    CHECK(res && (res->ai_family == AF_INET || res->ai_family == AF_INET6));
    freeaddrinfo(res);
    struct hostent he, *hp = NULL;
    char buf[1024];
    int herr;
    CHECK(gethostbyname_r("localhost", &he, buf, sizeof buf, &hp, &herr) == 0);
    CHECK(hp == &he && he.h_addr_list[0] != NULL);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
    CHECK(getnameinfo((struct sockaddr *)&sin, sizeof sin, host, sizeof host,
                      serv, sizeof serv, NI_NAMEREQD) == 0);
    CHECK(host[0] != '\0');                /* a name: NI_NAMEREQD */
    CHECK(serv[0] != '\0');
    return NULL;
}

static void *gai_main(void *arg)
{
    (void)arg;
    enum { N = 100 };
    coil_task *t[N];
    coil_task *tk = start_ticker();
    for (int i = 0; i < N; i++)
        t[i] = coil_spawn(resolve, NULL);
    for (int i = 0; i < N; i++)
        await_task(t[i]);
    /* The ticker went round while lookups ran on the executor. */
    CHECK(stop_ticker(tk) >= 1);
    struct hostent *h = gethostbyname("localhost");
    CHECK(h && h->h_addr_list[0]);
    return NULL;
}

TEST(getaddrinfo_from_a_hundred_tasks_runs_on_the_executor)
{
    watchdog();
    run_main(gai_main, NULL);
}

/* ------------------------------------------------------ regular files */

static int threads_now(void)
{
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* gethostbyaddr(_r) and gethostbyname2(_r) run on the executor too: its
 * pool thread appears with the first lookup (this test's process has
 * none before), and the answers are libc's. */
static void *byaddr_main(void *arg)
{
    (void)arg;
    int before = threads_now();
    struct in_addr lo = {htonl(INADDR_LOOPBACK)};
    struct hostent *h = gethostbyaddr(&lo, sizeof lo, AF_INET);
    CHECK(h && h->h_name && h->h_name[0]);
    CHECK(threads_now() > before);
    char name[256];
    snprintf(name, sizeof name, "%s", h->h_name);
    struct hostent he, *hp = NULL;
    char buf[1024];
    int herr;
    CHECK(gethostbyaddr_r(&lo, sizeof lo, AF_INET, &he, buf, sizeof buf, &hp,
                          &herr) == 0);
    CHECK(hp == &he && strcmp(he.h_name, name) == 0);
    h = gethostbyname2("localhost", AF_INET);
    CHECK(h && h->h_addrtype == AF_INET && h->h_length == 4);
    CHECK(gethostbyname2_r("localhost", AF_INET, &he, buf, sizeof buf, &hp,
                           &herr) == 0);
    CHECK(hp == &he && memcmp(he.h_addr_list[0], &lo, 4) == 0);
    return NULL;
}

TEST(gethostbyaddr_and_gethostbyname2_run_on_the_executor)
{
    watchdog();
    run_main(byaddr_main, NULL);
}

static void *file_main(void *arg)
{
    int expect_pool = *(int *)arg;
    char path[] = "/tmp/coil_hook_file_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    int before = threads_now();
    CHECK(write(fd, "file data", 9) == 9);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    char buf[16] = {0};
    CHECK(read(fd, buf, sizeof buf) == 9 && memcmp(buf, "file data", 9) == 0);
    CHECK(!(kernel_flags(fd) & O_NONBLOCK));      /* left alone */
    /* The executor's threads start at its first job. */
    CHECK(expect_pool ? threads_now() > before : threads_now() == before);
    CHECK(close(fd) == 0);
    CHECK_ERRNO(read(fd, buf, 1), EBADF);
    return NULL;
}

TEST(regular_files_stay_synchronous_by_default)
{
    int pool = 0;
    watchdog();
    unsetenv("COIL_HOOK_FILES");
    run_main(file_main, &pool);
}

TEST(regular_files_go_to_the_executor_with_coil_hook_files)
{
    int pool = 1;
    watchdog();
    setenv("COIL_HOOK_FILES", "executor", 1);
    run_main(file_main, &pool);
}

/* ----------------------------------------------------- outside tasks */

typedef struct {
    int fd;
    char got;
    ssize_t r;
} thread_read;

static void *thread_reader(void *arg)
{
    thread_read *tr = arg;
    tr->r = read(tr->fd, &tr->got, 1);    /* libc's read: blocks the thread */
    return NULL;
}

TEST(outside_a_task_the_calls_are_libcs)
{
    watchdog();
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(!(kernel_flags(p[0]) & O_NONBLOCK));
    /* A plain thread blocks in read() until another writes. */
    thread_read tr = {p[0], 0, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_reader, &tr) == 0);
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);                 /* libc's: no loop here */
    CHECK(tr.r == 0);                     /* still blocked */
    CHECK(write(p[1], "t", 1) == 1);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(tr.r == 1 && tr.got == 't');
    CHECK(!(kernel_flags(p[0]) & O_NONBLOCK));   /* coil never touched it */
    char c;
    int nb[2];
    CHECK(pipe2(nb, O_NONBLOCK) == 0);
    CHECK_ERRNO(read(nb[0], &c, 1), EAGAIN);
    CHECK_ERRNO(read(-1, &c, 1), EBADF);
    CHECK(poll(NULL, 0, 10) == 0);
    close(p[0]), close(p[1]), close(nb[0]), close(nb[1]);
}

/* An fd a task used (a named FIFO: so coil made it non-blocking) still
 * blocks for a plain thread, as the program expects of it. */
static void *shared_fd_main(void *arg)
{
    int *p = arg;
    late_write lw = {p[1], UNIT, "a"};
    coil_task *w = coil_spawn(write_late, &lw);
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    await_task(w);
    CHECK(kernel_flags(p[0]) & O_NONBLOCK);
    return NULL;
}

TEST(a_plain_thread_still_blocks_on_an_fd_coil_made_nonblocking)
{
    watchdog();
    int p[2];
    fifo_pair(p);
    run_main(shared_fd_main, p);
    thread_read tr = {p[0], 0, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_reader, &tr) == 0);
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    CHECK(tr.r == 0);                     /* waiting, not EAGAIN */
    CHECK(write(p[1], "b", 1) == 1);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(tr.r == 1 && tr.got == 'b');
    close(p[0]), close(p[1]);
}

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

typedef struct {
    int fd;
    ssize_t r;
    int err;
} blocked;

static void *hooked_read(void *arg)
{
    blocked *b = arg;
    char buf[4];
    b->r = read(b->fd, buf, sizeof buf);
    b->err = errno;
    return NULL;
}

static void *coils_read(void *arg)
{
    blocked *b = arg;
    char buf[4];
    b->r = coil_read(b->fd, buf, sizeof buf);
    b->err = errno;
    return NULL;
}

static void *hooked_poll(void *arg)
{
    blocked *b = arg;
    struct pollfd p = {.fd = b->fd, .events = POLLIN};
    b->r = poll(&p, 1, -1);
    b->err = errno;
    return NULL;
}

static void *hooked_sleep(void *arg)
{
    blocked *b = arg;
    b->r = sleep(100);                    /* the seconds left if cut short */
    return NULL;
}

static void *hooked_write(void *arg)
{
    blocked *b = arg;
    static char big[4 << 20];
    b->r = write(b->fd, big, sizeof big);
    b->err = errno;
    return NULL;
}

typedef struct {
    int p[2];
    blocked b;
    coil_task *t;
} parked_call;

/* Start fn in a task on a fresh pipe (or socketpair) of its own. */
static void park(parked_call *c, void *(*fn)(void *), int sockets)
{
    CHECK((sockets ? socketpair(AF_UNIX, SOCK_STREAM, 0, c->p) : pipe(c->p)) == 0);
    c->b = (blocked){.fd = fn == hooked_write ? c->p[1] : c->p[0], .r = -2};
    c->t = coil_spawn(fn, &c->b);
    CHECK(c->t != NULL);
}

static void finish(parked_call *c)
{
    await_task(c->t);
    close(c->p[0]), close(c->p[1]);
}

static void *kill_loop_thread(void *arg)
{
    CHECK(pthread_kill(*(pthread_t *)arg, SIGUSR1) == 0);
    return NULL;
}

static void *eintr_main(void *arg)
{
    (void)arg;
    struct sigaction sa, back;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;              /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    CHECK(sigaction(SIGUSR1, NULL, &back) == 0);
    CHECK(back.sa_handler == on_usr1 && !(back.sa_flags & SA_SIGINFO));

    parked_call rd, pl, sl, own, wr;
    park(&rd, hooked_read, 0);
    park(&pl, hooked_poll, 0);
    park(&sl, hooked_sleep, 0);
    park(&own, coils_read, 0);
    park(&wr, hooked_write, 1);
    coil_yield();                         /* each runs, and parks */
    CHECK(rd.b.r == -2 && pl.b.r == -2 && sl.b.r == -2 && wr.b.r == -2);
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    finish(&rd);
    CHECK(rd.b.r == -1 && rd.b.err == EINTR);
    finish(&pl);
    CHECK(pl.b.r == -1 && pl.b.err == EINTR);
    finish(&sl);
    CHECK(sl.b.r >= 99 && sl.b.r <= 100);  /* sleep(): the seconds left */
    finish(&wr);                          /* what went before the signal */
    CHECK(wr.b.r > 0 && wr.b.r < 4 << 20);
    /* coil's own calls are not the program's blocking calls: untouched. */
    coil_yield();
    CHECK(own.b.r == -2);
    CHECK(write(own.p[1], "x", 1) == 1);
    finish(&own);
    CHECK(own.b.r == 1);

    /* A call that began after the handler ran is not interrupted by it;
     * one parked while the loop's thread sleeps in epoll_wait is, by a
     * signal another thread sends. */
    parked_call late;
    park(&late, hooked_read, 0);
    coil_yield();
    pthread_t self = pthread_self(), killer;
    CHECK(pthread_create(&killer, NULL, kill_loop_thread, &self) == 0);
    finish(&late);
    CHECK(pthread_join(killer, NULL) == 0);
    CHECK(late.b.r == -1 && late.b.err == EINTR && handled == 2);
    return NULL;
}

TEST(a_signal_handler_without_sa_restart_interrupts_hooked_calls_with_eintr)
{
    watchdog();
    run_main(eintr_main, NULL);
}

static void *restart_main(void *arg)
{
    (void)arg;
    struct sigaction sa, back;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    CHECK(sigaction(SIGUSR1, NULL, &back) == 0);
    CHECK(back.sa_handler == on_usr1 && (back.sa_flags & SA_RESTART));
#ifndef __SANITIZE_THREAD__  /* ThreadSanitizer's own signal() drops SA_RESTART */
    /* glibc's signal() has BSD semantics: SA_RESTART, here too. */
    CHECK(signal(SIGUSR1, on_usr1) == on_usr1);
    CHECK(sigaction(SIGUSR1, NULL, &back) == 0);
    CHECK(back.sa_handler == on_usr1 && (back.sa_flags & SA_RESTART));
#endif
    parked_call rd, sl;
    park(&rd, hooked_read, 0);
    park(&sl, hooked_sleep, 0);
    coil_yield();
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    finish(&sl);                          /* sleeps are never restarted */
    CHECK(sl.b.r >= 99 && sl.b.r <= 100);
    coil_yield();
    CHECK(rd.b.r == -2);                  /* the read was: it still waits */
    CHECK(write(rd.p[1], "ab", 2) == 2);
    finish(&rd);
    CHECK(rd.b.r == 2);
    /* SIG_IGN is not a handler: nothing is wrapped or interrupted. */
    CHECK(signal(SIGUSR1, SIG_IGN) == on_usr1);
    park(&rd, hooked_read, 0);
    coil_yield();
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    coil_yield();
    CHECK(rd.b.r == -2);
    CHECK(write(rd.p[1], "c", 1) == 1);
    finish(&rd);
    CHECK(rd.b.r == 1);
    return NULL;
}

TEST(a_handler_with_sa_restart_interrupts_only_sleeps_and_polls)
{
    watchdog();
    run_main(restart_main, NULL);
}

/* ------------------------------------------------------------- fork */

/* Writes its process id into a pipe every 5 ms while `ticking`: if a copy
 * of it ever ran in a forked child, the child's id would show up. */
static void *pid_reporter(void *arg)
{
    int fd = *(int *)arg;
    pid_t me;
    while (ticking) {
        me = getpid();
        CHECK(write(fd, &me, sizeof me) == (ssize_t)sizeof me);
        coil_sleep(COIL_MSEC(5));
    }
    return NULL;
}

static void forked_child(int fd)
{
    /* Outside any task now, as POSIX has a child of a threaded program:
     * this read blocks the child (its parent answers later), and no
     * task of the parent's runs meanwhile... */
    char c;
    int ok = read(fd, &c, 1) == 1 && c == 'x' &&
             coil_task_current() == NULL && coil_loop_current() == NULL;
    /* ...and the signal coil_run routed through its signalfd (SIGINT,
     * blocked in the loop's thread) is not blocked for what it execs. */
    sigset_t mask;
    ok = ok && pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 &&
         !sigismember(&mask, SIGINT);
    _exit(ok ? 0 : 1);
}

static void *fork_main(void *arg)
{
    (void)arg;
    int p[2], ids[2];
    CHECK(pipe(p) == 0 && pipe2(ids, O_NONBLOCK) == 0);
    sigset_t mask;
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0);
    CHECK(sigismember(&mask, SIGINT));        /* coil_run's signalfd has it */
    ticking = 1;
    coil_task *reporter = coil_spawn(pid_reporter, &ids[1]);
    coil_yield();                             /* it runs, and sleeps */
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0)
        forked_child(p[0]);
    coil_sleep(4 * UNIT);                     /* the child blocks in read */
    CHECK(write(p[1], "x", 1) == 1);
    int status = -1;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ticking = 0;
    await_task(reporter);
    pid_t id;
    int reports = 0;
    while (read(ids[0], &id, sizeof id) == (ssize_t)sizeof id) {
        CHECK(id == getpid());
        reports++;
    }
    CHECK(reports >= 5);
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);
    CHECK(close(ids[0]) == 0 && close(ids[1]) == 0);
    return NULL;
}

TEST(a_child_forked_in_a_task_is_outside_any_task_and_runs_none_of_the_parents)
{
    watchdog();
    run_main(fork_main, NULL);
}

RUN_TESTS(T(a_blocking_read_in_a_task_suspends_it_and_the_loop_runs_on),
          T(fortified_reads_and_polls_yield_too),
          T(an_fd_the_program_set_nonblocking_still_gets_eagain),
          T(msg_dontwait_is_eagain_at_once_and_an_empty_writev_is_0),
          T(so_rcvtimeo_expiry_gives_eagain_on_time),
          T(a_connect_to_a_full_backlog_times_out_at_its_so_sndtimeo),
          T(dup2_onto_an_fd_another_task_reads_wakes_it_with_ebadf),
          T(close_of_an_fd_another_task_reads_wakes_it_with_ebadf),
          T(a_failed_dup3_closes_nothing_and_keeps_the_targets_mode),
          T(close_range_of_an_fd_another_task_reads_wakes_it_with_ebadf),
          T(closefrom_below_an_fd_another_task_reads_wakes_it_with_ebadf),
          T(poll_leaves_a_fifos_and_an_eventfds_mode_alone),
          T(poll_on_several_fds_waits_in_the_loop_and_reports_the_ready_one),
          T(epoll_wait_on_a_librarys_epoll_fd_and_select_wait_in_the_loop),
          T(a_blocking_write_writes_everything_and_so_sndtimeo_cuts_it_short),
          T(cancellation_unwinds_hooked_calls_or_gives_ecanceled_and_scopes_cut_them),
          T(huge_timeouts_wait_and_negative_ones_are_einval),
          T(sleeps_in_forty_tasks_overlap),
          T(getaddrinfo_from_a_hundred_tasks_runs_on_the_executor),
          T(gethostbyaddr_and_gethostbyname2_run_on_the_executor),
          T(regular_files_stay_synchronous_by_default),
          T(regular_files_go_to_the_executor_with_coil_hook_files),
          T(outside_a_task_the_calls_are_libcs),
          T(a_plain_thread_still_blocks_on_an_fd_coil_made_nonblocking),
          T(a_signal_handler_without_sa_restart_interrupts_hooked_calls_with_eintr),
          T(a_handler_with_sa_restart_interrupts_only_sleeps_and_polls),
          T(a_child_forked_in_a_task_is_outside_any_task_and_runs_none_of_the_parents))
