/*
 * tests/net_test.c — layer 5: the socket helpers (src/io/net.c).
 *
 * Loopback only, always: 127.0.0.1, ::1 and Unix sockets.  Each test runs
 * its tasks under coil_run; the big ones fork where one process would not
 * hold all the fds, or to keep an fd limit they lower to themselves.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fd_hog.h"
#include "coil.h"
#include "task_helpers.h"

static coil_time now(void)
{
    return coil_clock();
}



/* Every byte of message k of connection i, so a mixed-up echo shows. */
static void fill(unsigned char *buf, size_t n, long i, int k)
{
    for (size_t j = 0; j < n; j++)
        buf[j] = (unsigned char)(i * 131 + k * 17 + (long)j * 7);
}

/* --------------------------------------------------------- echo server */

/* Echo everything until EOF, then close.  Closing is a cleanup handler so
 * that a handler still running when coil_run shuts down leaks nothing. */
static void close_fd(void *arg)
{
    coil_close((int)(intptr_t)arg);
}

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    coil_cleanup_push(close_fd, arg);
    ssize_t n;
    while ((n = coil_read(fd, buf, sizeof buf)) > 0)
        if (coil_write_all(fd, buf, (size_t)n, NULL) != n)
            break;
    coil_cleanup_pop(1);
    return NULL;
}

/* Accept forever, one echo task per connection. */
static void *echo_server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int c = coil_accept(lfd, NULL, NULL);
        CHECK(c >= 0);
        coil_task_release(coil_spawn(echo_conn, (void *)(intptr_t)c));
    }
    return NULL;
}

/* Dial, send a message, read the echo back, compare. */
static void exchange(int fd, long i)
{
    unsigned char out[300], in[300];
    for (int k = 0; k < 3; k++) {
        fill(out, sizeof out, i, k);
        CHECK(coil_write_all(fd, out, sizeof out, NULL) == (ssize_t)sizeof out);
        CHECK(coil_read_full(fd, in, sizeof in, NULL) == (ssize_t)sizeof in);
        CHECK(memcmp(in, out, sizeof in) == 0);
    }
}

typedef struct listen_case {
    const char *addr;       /* for listen */
    const char *dial;       /* for dial */
} listen_case;

static void *tcp_exchange_main(void *arg)
{
    const listen_case *lc = arg;
    int lfd = coil_tcp_listen(lc->addr, 0, 16, 0);
    CHECK(lfd >= 0);
    CHECK(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    int port = coil_socket_port(lfd);
    CHECK(port > 0);
    coil_task *srv = coil_spawn(echo_server, (void *)(intptr_t)lfd);
    for (long i = 0; i < 3; i++) {
        int fd = coil_tcp_dial(lc->dial, port, now() + COIL_SEC(5));
        CHECK(fd >= 0);
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        exchange(fd, i);
        CHECK(coil_close(fd) == 0);
    }
    coil_task_cancel(srv);
    coil_task_release(srv);
    CHECK(coil_close(lfd) == 0);
    return NULL;
}

TEST(ipv4_listen_dial_and_echo)
{
    listen_case lc = {"127.0.0.1", "127.0.0.1"};
    run_main(tcp_exchange_main, &lc);
}

/* A loopback TCP listener, a socket dialled to it and the one accepted
 * from it. */
static void loopback_pair(int *lfd, int *cfd, int *sfd)
{
    *lfd = coil_tcp_listen("127.0.0.1", 0, 4, 0);
    CHECK(*lfd >= 0);
    *cfd = coil_tcp_dial("127.0.0.1", coil_socket_port(*lfd),
                         now() + COIL_SEC(5));
    CHECK(*cfd >= 0);
    *sfd = coil_accept(*lfd, NULL, NULL);
    CHECK(*sfd >= 0);
}

/* A short read from a TCP socket lets the next read wait for the poller
 * instead of trying its syscall (src/io/io.c): data that comes later, data
 * already sent by then, and the peer's close must all still be seen. */
static coil_event *drained_got_later;

static void *drained_peer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    coil_sleep(COIL_MSEC(20));                 /* the reader is parked */
    CHECK(coil_write_all(fd, "later", 5, NULL) == 5);
    CHECK(coil_event_wait(drained_got_later) == 0);
    CHECK(coil_write_all(fd, "then", 4, NULL) == 4);
    CHECK(coil_write_all(fd, "!", 1, NULL) == 1);
    CHECK(shutdown(fd, SHUT_WR) == 0);
    return NULL;
}

static void *drained_main(void *arg)
{
    (void)arg;
    int lfd, cfd, sfd;
    loopback_pair(&lfd, &cfd, &sfd);
    char buf[64];
    CHECK(coil_write_all(cfd, "first", 5, NULL) == 5);
    CHECK(coil_read(sfd, buf, sizeof buf) == 5);   /* short: emptied */
    drained_got_later = coil_event_new();
    coil_task *peer = coil_spawn(drained_peer, (void *)(intptr_t)cfd);
    CHECK(coil_read(sfd, buf, sizeof buf) == 5 && memcmp(buf, "later", 5) == 0);
    coil_event_set(drained_got_later);
    size_t got = 0;
    ssize_t n;
    while ((n = coil_read(sfd, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    CHECK(n == 0 && got == 5 && memcmp(buf, "then!", 5) == 0);
    await_task(peer);
    coil_event_free(drained_got_later);
    CHECK(coil_close(sfd) == 0 && coil_close(cfd) == 0 && coil_close(lfd) == 0);
    return NULL;
}

/* Misuse that coil survives: an fd used with coil, then closed with a
 * plain close(2), leaves a record of its number behind, registered with
 * epoll.  A socket coil makes next gets that number; its waits must still
 * be woken (the stale registration went away with the old file). */
static void *fresh_writer(void *arg)
{
    coil_sleep(COIL_MSEC(20));                 /* the reader is parked */
    CHECK(coil_write_all((int)(intptr_t)arg, "fresh", 5, NULL) == 5);
    return NULL;
}

static void *stale_record_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 4, 0);
    CHECK(lfd >= 0);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(coil_wait_fd(p[1], COIL_WRITABLE, now() + COIL_SEC(5)) == 0);
    CHECK(close(p[1]) == 0);                   /* not coil_close */
    int cfd = coil_tcp_dial("127.0.0.1", coil_socket_port(lfd),
                            now() + COIL_SEC(5));
    CHECK(cfd >= 0);                 /* was ETIMEDOUT: connect's wait hung */
    CHECK(cfd == p[1]);                        /* the lowest free number */
    CHECK(close(p[0]) == 0);
    int sfd = coil_accept(lfd, NULL, NULL);
    CHECK(sfd >= 0);
    coil_task *w = coil_spawn(fresh_writer, (void *)(intptr_t)sfd);
    char buf[8];
    CHECK(coil_read_until(cfd, buf, sizeof buf, now() + COIL_SEC(5)) == 5);
    CHECK(memcmp(buf, "fresh", 5) == 0);
    await_task(w);
    CHECK(coil_close(sfd) == 0 && coil_close(cfd) == 0 && coil_close(lfd) == 0);
    return NULL;
}

TEST(a_socket_coil_makes_does_not_inherit_a_stale_record_of_its_number)
{
    run_main(stale_record_main, NULL);
}

TEST(reads_after_a_short_read_still_see_later_data_and_the_close)
{
    run_main(drained_main, NULL);
}

/* Read syscalls this process has made so far (/proc/self/io's syscr), or
 * -1 where the kernel keeps no such count.  Sampling costs one read, which
 * the kernel counts once the value is made: callers subtract it. */
static long read_syscalls(void)
{
    char buf[512];
    int fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "syscr:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

/* coil reads sockets with recv(MSG_DONTWAIT), which /proc/self/io does
 * not count: this program's own recv counts them (coil_static binds to
 * it), then calls libc's. */
static long recv_calls;

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    static ssize_t (*libc_recv)(int, void *, size_t, int);
    if (!libc_recv)
        libc_recv = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT,
                                                                 "recv");
    recv_calls++;
    return libc_recv(fd, buf, n, flags);
}

/* Read syscalls of either kind. */
static long reads_made(void)
{
    return read_syscalls() + recv_calls;
}

typedef struct {
    int fd;
    int reader_parked;             /* set by the reader before it reads */
} late_writer;

static void *write_late(void *arg)
{
    late_writer *lw = arg;
    CHECK(lw->reader_parked);      /* ran after the reader, not before */
    CHECK(coil_write_all(lw->fd, "b", 1, NULL) == 1);
    return NULL;
}

/* The read after a short one must cost one read syscall, not an EAGAIN
 * first: for sockets from coil_accept as well as from coil_tcp_dial. */
static void expect_one_read_per_message(int reader, int writer)
{
    char buf[64];
    CHECK(coil_write_all(writer, "a", 1, NULL) == 1);
    CHECK(coil_read(reader, buf, sizeof buf) == 1);   /* short: emptied */
    late_writer lw = {writer, 0};
    coil_task *t = coil_spawn(write_late, &lw);
    CHECK(t);
    long base0 = reads_made(), base1 = reads_made();
    long before = reads_made();
    lw.reader_parked = 1;
    CHECK(coil_read(reader, buf, sizeof buf) == 1 && buf[0] == 'b');
    long after = reads_made();
    await_task(t);
    CHECK(after - before - (base1 - base0) == 1);
}

static void *one_read_main(void *arg)
{
    (void)arg;
    int lfd, cfd, sfd;
    loopback_pair(&lfd, &cfd, &sfd);
    expect_one_read_per_message(sfd, cfd);
    expect_one_read_per_message(cfd, sfd);
    CHECK(coil_close(sfd) == 0 && coil_close(cfd) == 0 && coil_close(lfd) == 0);
    return NULL;
}

TEST(a_read_after_a_short_read_makes_one_syscall_not_two)
{
    if (read_syscalls() < 0)
        SKIP("this kernel keeps no read count in /proc/self/io");
    run_main(one_read_main, NULL);
}

/* coil_read and coil_write_all make their syscalls themselves on an fd
 * the task has used before (src/io/io.c): a full send buffer must still be
 * waited out and every byte arrive in order, and reads in small pieces
 * must see them all, the end included. */
#define STREAM_BYTES (8u << 20)

static unsigned char stream_byte(size_t i)
{
    return (unsigned char)((i * 2654435761u) >> 11);
}

static void *stream_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char *buf = malloc(STREAM_BYTES);
    CHECK(buf);
    for (size_t i = 0; i < STREAM_BYTES; i++)
        buf[i] = stream_byte(i);
    CHECK(coil_write(fd, buf, 1) == 1);          /* now a used fd */
    size_t done = 0;
    CHECK(coil_write_all(fd, buf + 1, STREAM_BYTES - 1, &done) ==
              (ssize_t)(STREAM_BYTES - 1) && done == STREAM_BYTES - 1);
    CHECK(shutdown(fd, SHUT_WR) == 0);
    free(buf);
    return NULL;
}

static void *stream_main(void *arg)
{
    (void)arg;
    int lfd, cfd, sfd;
    loopback_pair(&lfd, &cfd, &sfd);
    coil_task *w = coil_spawn(stream_writer, (void *)(intptr_t)cfd);
    CHECK(w);
    unsigned char buf[1000];
    size_t got = 0, waits_seen = 0;
    ssize_t n;
    while ((n = coil_read(sfd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != stream_byte(got + (size_t)i))
                CHECK(!"stream data differs");
        got += (size_t)n;
        if (got % (1u << 20) < sizeof buf) {
            coil_sleep(COIL_MSEC(2));   /* let the writer's buffer fill */
            waits_seen++;
        }
    }
    CHECK(n == 0 && got == STREAM_BYTES && waits_seen >= 4);
    await_task(w);
    CHECK(coil_close(sfd) == 0 && coil_close(cfd) == 0 && coil_close(lfd) == 0);
    return NULL;
}

TEST(write_all_and_reads_on_a_used_tcp_socket_carry_eight_megabytes_intact)
{
    run_main(stream_main, NULL);
}

TEST(listen_on_any_ipv4_address_by_default)
{
    listen_case lc = {NULL, "127.0.0.1"};
    run_main(tcp_exchange_main, &lc);
    listen_case empty = {"", "127.0.0.1"};
    run_main(tcp_exchange_main, &empty);
}

/* Some sandboxes run without IPv6, or without an address on lo. */
static void need_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        static char why[128];
        snprintf(why, sizeof why, "IPv6 loopback ::1 cannot be bound here (%s)",
                 strerror(errno));
        SKIP(why);
    }
    close(fd);
}

TEST(ipv6_listen_dial_and_echo)
{
    need_ipv6_loopback();
    listen_case lc = {"::1", "::1"};
    run_main(tcp_exchange_main, &lc);
}

/* ------------------------------------------------------------- failures */

static void *refused_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 1, 0);
    CHECK(lfd >= 0);
    int port = coil_socket_port(lfd);
    CHECK(coil_close(lfd) == 0);          /* nobody listens there now */
    CHECK_ERRNO(coil_tcp_dial("127.0.0.1", port, now() + COIL_SEC(5)),
                ECONNREFUSED);
    return NULL;
}

TEST(dial_to_a_closed_port_is_refused)
{
    run_main(refused_main, NULL);
}

/* A listener with backlog 0 that never accepts: once its accept queue is
 * full the kernel drops further SYNs, so the next connect hangs in SYN
 * retransmission, and only the deadline ends it. */
static void *dial_timeout_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 0, 0);
    CHECK(lfd >= 0);
    int port = coil_socket_port(lfd);
    int fds[8], nfds = 0, timed_out = 0;
    for (int i = 0; i < 8 && !timed_out; i++) {
        coil_time t0 = now(), wait = COIL_MSEC(150);
        int fd = coil_tcp_dial("127.0.0.1", port, t0 + wait);
        if (fd >= 0) {
            fds[nfds++] = fd;             /* queued, unaccepted */
            continue;
        }
        CHECK(errno == ETIMEDOUT);
        coil_time took = now() - t0;
        CHECK(took >= wait - COIL_MSEC(1));
        CHECK(took < wait + COIL_SEC(2));
        timed_out = 1;
    }
    CHECK(timed_out);
    CHECK(nfds >= 1);                     /* the queue held some first */
    for (int i = 0; i < nfds; i++)
        CHECK(coil_close(fds[i]) == 0);
    CHECK(coil_close(lfd) == 0);
    return NULL;
}

TEST(dial_gives_up_at_its_deadline_when_the_backlog_is_full)
{
    run_main(dial_timeout_main, NULL);
}

static int open_fds(void)
{
    int n = 0;
    char path[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

static int hung_port;

static void *dial_forever(void *arg)
{
    (void)arg;
    coil_tcp_dial("127.0.0.1", hung_port, -1);   /* cancelled in here */
    return NULL;
}

/* Fill a never-accepting listener's queue, then cancel a task whose dial
 * hangs: unwinding must close the socket the dial made. */
static void *unwound_dial_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 0, 0);
    hung_port = coil_socket_port(lfd);
    int queued[8], nq = 0;
    for (; nq < 8; nq++) {
        queued[nq] = coil_tcp_dial("127.0.0.1", hung_port,
                                   coil_loop_time(NULL) + COIL_MSEC(100));
        if (queued[nq] < 0)
            break;                        /* the queue is full now */
    }
    int before = open_fds();
    coil_task *t = coil_spawn(dial_forever, NULL);
    coil_sleep(COIL_MSEC(50));            /* it is hanging in connect */
    CHECK(open_fds() == before + 1);
    coil_task_cancel(t);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    CHECK(open_fds() == before);
    coil_task_release(t);
    for (int i = 0; i < nq; i++)
        coil_close(queued[i]);
    coil_close(lfd);
    return NULL;
}

TEST(a_dial_unwound_by_cancellation_leaks_no_fd)
{
    run_main(unwound_dial_main, NULL);
}

static void *bad_input_main(void *arg)
{
    (void)arg;
    const char *bad[] = {"localhost", "127.0.0", "1.2.3.4.5", "::1::2",
                         "[::1]", "127.0.0.1 ", "256.0.0.1", "fe80::1%lo"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERRNO(coil_tcp_listen(bad[i], 0, 1, 0), EINVAL);
        if (i > 0)    /* dial resolves host names (executor_test) */
            CHECK_ERRNO(coil_tcp_dial(bad[i], 80, now() + COIL_SEC(1)),
                        EINVAL);
        CHECK_ERRNO(coil_udp_bind(bad[i], 0), EINVAL);
    }
    CHECK_ERRNO(coil_tcp_dial(NULL, 80, -1), EINVAL);
    CHECK_ERRNO(coil_tcp_dial("", 80, -1), EINVAL);
    CHECK_ERRNO(coil_tcp_dial("127.0.0.1", 0, -1), EINVAL);
    CHECK_ERRNO(coil_tcp_dial("127.0.0.1", 65536, -1), EINVAL);
    CHECK_ERRNO(coil_tcp_dial("127.0.0.1", -1, -1), EINVAL);
    CHECK_ERRNO(coil_tcp_listen("127.0.0.1", -1, 1, 0), EINVAL);
    CHECK_ERRNO(coil_tcp_listen("127.0.0.1", 65536, 1, 0), EINVAL);
    CHECK_ERRNO(coil_tcp_listen("127.0.0.1", 0, -1, 0), EINVAL);
    CHECK_ERRNO(coil_tcp_listen("127.0.0.1", 0, 1, 0x80), EINVAL);
    CHECK_ERRNO(coil_udp_bind("127.0.0.1", 70000), EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    const char *bad_paths[] = {NULL, "", "@", longpath};
    for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
        CHECK_ERRNO(coil_unix_listen(bad_paths[i], 1), EINVAL);
        CHECK_ERRNO(coil_unix_dial(bad_paths[i], -1), EINVAL);
    }
    CHECK_ERRNO(coil_unix_listen("@coil-net-test-neg", -1), EINVAL);
    CHECK_ERRNO(coil_socket_port(-1), EBADF);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_ERRNO(coil_socket_port(sv[0]), EINVAL);   /* not IPv4/IPv6 */
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

TEST(bad_addresses_ports_and_paths_are_einval)
{
    run_main(bad_input_main, NULL);
}

TEST(dial_outside_a_task_is_eperm_and_leaves_nothing_open)
{
    int probe = dup(0);
    CHECK(probe >= 0);
    close(probe);
    CHECK_ERRNO(coil_tcp_dial("127.0.0.1", 9, -1), EPERM);
    CHECK_ERRNO(coil_unix_dial("@coil-net-none", -1), EPERM);
    int again = dup(0);
    CHECK(again == probe);                /* no fd was leaked */
    close(again);
}

TEST(reuseport_lets_two_listeners_share_a_port)
{
    int a = coil_tcp_listen("127.0.0.1", 0, 4, COIL_REUSEPORT);
    CHECK(a >= 0);
    int port = coil_socket_port(a);
    int b = coil_tcp_listen("127.0.0.1", port, 4, COIL_REUSEPORT);
    CHECK(b >= 0);
    CHECK(coil_socket_port(b) == port);
    CHECK_ERRNO(coil_tcp_listen("127.0.0.1", port, 4, 0), EADDRINUSE);
    CHECK(coil_close(a) == 0 && coil_close(b) == 0);
}

/* ------------------------------------------------------------------ unix */

static void *unix_main(void *arg)
{
    const char *path = arg;
    int lfd = coil_unix_listen(path, 8);
    CHECK(lfd >= 0);
    if (path[0] != '@')
        CHECK_ERRNO(coil_unix_listen(path, 8), EADDRINUSE);
    coil_task *srv = coil_spawn(echo_server, (void *)(intptr_t)lfd);
    for (long i = 0; i < 3; i++) {
        int fd = coil_unix_dial(path, now() + COIL_SEC(5));
        CHECK(fd >= 0);
        exchange(fd, i);
        CHECK(coil_close(fd) == 0);
    }
    coil_task_cancel(srv);
    coil_task_release(srv);
    CHECK(coil_close(lfd) == 0);
    if (path[0] != '@') {
        CHECK(unlink(path) == 0);
        CHECK_ERRNO(coil_unix_dial(path, now() + COIL_SEC(1)), ENOENT);
    } else {
        CHECK_ERRNO(coil_unix_dial(path, now() + COIL_SEC(1)), ECONNREFUSED);
    }
    return NULL;
}

TEST(unix_stream_socket_file_listen_dial_and_echo)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/coil-net-%ld.sock", (long)getpid());
    unlink(path);
    run_main(unix_main, path);
}

TEST(unix_stream_abstract_name_listen_dial_and_echo)
{
    char path[64];
    snprintf(path, sizeof path, "@coil-net-%ld", (long)getpid());
    run_main(unix_main, path);
}

/* ------------------------------------------------------------------- udp */

typedef struct udp_pair {
    int a, b;
} udp_pair;

/* Waits (really suspends: nothing has been sent yet) for one datagram and
 * sends it back to where it came from. */
static void *udp_reflector(void *arg)
{
    udp_pair *p = arg;
    char buf[512];
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    ssize_t n = coil_recvfrom_until(p->b, buf, sizeof buf, 0,
                                    (struct sockaddr *)&from, &fromlen,
                                    now() + COIL_SEC(5));
    CHECK(n == 100);
    CHECK(((struct sockaddr_in *)&from)->sin_port ==
          htons((uint16_t)coil_socket_port(p->a)));
    CHECK(coil_sendto(p->b, buf, (size_t)n, 0, (struct sockaddr *)&from,
                      fromlen) == n);
    return NULL;
}

static void *udp_main(void *arg)
{
    (void)arg;
    udp_pair p = {coil_udp_bind("127.0.0.1", 0), coil_udp_bind("127.0.0.1", 0)};
    CHECK(p.a >= 0 && p.b >= 0);
    coil_task *refl = coil_spawn(udp_reflector, &p);
    CHECK(coil_sleep(COIL_MSEC(10)) == 0);   /* the reflector waits first */
    unsigned char out[100], in[200];
    fill(out, sizeof out, 5, 1);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)coil_socket_port(p.b)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(coil_sendto_until(p.a, out, sizeof out, 0, (struct sockaddr *)&to,
                            sizeof to, now() + COIL_SEC(1)) == (ssize_t)sizeof out);
    CHECK(coil_recvfrom(p.a, in, sizeof in, 0, NULL, NULL) == (ssize_t)sizeof out);
    CHECK(memcmp(in, out, sizeof out) == 0);
    await_task(refl);
    /* Nothing more is coming: the deadline ends the wait, MSG_DONTWAIT
     * does not wait at all. */
    coil_time t0 = now();
    CHECK_ERRNO(coil_recvfrom_until(p.a, in, sizeof in, 0, NULL, NULL,
                                    t0 + COIL_MSEC(30)), ETIMEDOUT);
    CHECK(now() - t0 >= COIL_MSEC(29));
    CHECK_ERRNO(coil_recvfrom(p.a, in, sizeof in, MSG_DONTWAIT, NULL, NULL),
                EAGAIN);
    CHECK(coil_close(p.a) == 0 && coil_close(p.b) == 0);
    CHECK_ERRNO(coil_recvfrom(p.a, in, sizeof in, 0, NULL, NULL), EBADF);
    return NULL;
}

TEST(udp_round_trip_with_recvfrom_and_sendto)
{
    run_main(udp_main, NULL);
}

/* ----------------------------------------------------- starved of fds */

/* Run fn in a child of its own, so the fd limit it changes dies with it
 * (the harness forks too, but not under COIL_TEST_NOFORK=1). */
static void in_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fn();
        fflush(NULL);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        _exit(77);                        /* it skipped, saying why */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The server of the documented accept policy (coil.h, "Sockets"): on
 * EMFILE it backs off with coil_sleep, doubling the pause up to a cap, and
 * tries again. */
typedef struct backoff_server {
    int lfd;
    int accepted;
    int starved;                          /* EMFILE results seen */
} backoff_server;

static void *backoff_accept_loop(void *arg)
{
    backoff_server *s = arg;
    coil_time pause = COIL_MSEC(1);
    for (;;) {
        int c = coil_accept(s->lfd, NULL, NULL);
        if (c >= 0) {
            s->accepted++;
            pause = COIL_MSEC(1);
            coil_task_release(coil_spawn(echo_conn, (void *)(intptr_t)c));
            continue;
        }
        CHECK(errno == EMFILE);
        s->starved++;
        CHECK(coil_sleep(pause) == 0);
        if (pause < COIL_MSEC(16))
            pause *= 2;
    }
    return NULL;
}

static coil_time cpu_time(void)
{
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
    return COIL_SEC(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           COIL_USEC(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}


static void *starved_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 16, 0);
    CHECK(lfd >= 0);
    int port = coil_socket_port(lfd);
    backoff_server s = {.lfd = lfd};
    coil_task *srv = coil_spawn(backoff_accept_loop, &s);
    CHECK(coil_sleep(COIL_MSEC(1)) == 0);   /* it waits in coil_accept */

    /* Use up every fd under a low limit, then free one for the client. */
    fd_hog hog;
    fd_hog_take(&hog);
    fd_hog_free_one(&hog);
    int c = coil_tcp_dial("127.0.0.1", port, now() + COIL_SEC(5));
    CHECK(c >= 0);                        /* the kernel completes it */
    CHECK(coil_write(c, "ping", 4) == 4);

    /* Starved: the connection waits in the backlog, the listener stays
     * readable, accept says EMFILE.  Over this stretch the process must
     * mostly sleep. */
    const coil_time starve = COIL_MSEC(300);
    coil_time cpu0 = cpu_time(), t0 = now();
    char buf[4];
    CHECK_ERRNO(coil_read_until(c, buf, 4, t0 + starve), ETIMEDOUT);
    coil_time cpu = cpu_time() - cpu0, wall = now() - t0;
    printf("  starved %.0f ms: %d EMFILE results, %.1f ms of CPU\n",
           (double)wall / 1e6, s.starved, (double)cpu / 1e6);
    CHECK(s.accepted == 0);
    CHECK(s.starved >= 1);
    CHECK(s.starved <= 100);              /* a spin would make thousands */
    CHECK(cpu < wall / 4);

    /* fds come back: the same listener accepts, the echo arrives. */
    fd_hog_free_all(&hog);
    CHECK(coil_read_full_until(c, buf, 4, NULL, now() + COIL_SEC(5)) == 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK(s.accepted == 1);
    int c2 = coil_tcp_dial("127.0.0.1", port, now() + COIL_SEC(5));
    CHECK(c2 >= 0);
    exchange(c2, 9);
    CHECK(s.accepted == 2);
    CHECK(coil_close(c) == 0 && coil_close(c2) == 0);
    coil_task_cancel(srv);
    coil_task_release(srv);
    CHECK(coil_close(lfd) == 0);
    return NULL;
}

static void starved_listener(void)
{
    run_main(starved_main, NULL);
}

TEST(listener_out_of_fds_keeps_running_without_spinning_and_accepts_again)
{
    in_child(starved_listener);
}

/* A server that retries coil_accept at once on EMFILE, with no back-off:
 * it burns CPU, but coil_accept lets the loop run before each failure, so
 * a SIGTERM (through the loop's signalfd) still reaches the task waiting
 * for it, and the program can stop. */
static int naive_stop, naive_failures;

static void *naive_accept_loop(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    while (!naive_stop) {
        int c = coil_accept(lfd, NULL, NULL);
        CHECK(c < 0 && errno == EMFILE);
        naive_failures++;
    }
    return NULL;
}

static void *wait_term(void *arg)
{
    (void)arg;
    int sig = SIGTERM;
    int got = coil_wait_signal(&sig, 1, now() + COIL_SEC(5));
    naive_stop = 1;
    return (void *)(intptr_t)got;
}

static void raise_term(void *arg)
{
    (void)arg;
    CHECK(kill(getpid(), SIGTERM) == 0);
}

static void *naive_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 16, 0);
    CHECK(lfd >= 0);
    int port = coil_socket_port(lfd);
    coil_task *term = coil_spawn(wait_term, NULL);   /* signalfd made now */
    CHECK(coil_sleep(COIL_MSEC(1)) == 0);
    fd_hog hog;
    fd_hog_take(&hog);
    fd_hog_free_one(&hog);
    int c = coil_tcp_dial("127.0.0.1", port, now() + COIL_SEC(5));
    CHECK(c >= 0);                        /* waits in the backlog */
    CHECK(coil_call_later(NULL, COIL_MSEC(20), raise_term, NULL, NULL) == 0);
    coil_task *srv = coil_spawn(naive_accept_loop, (void *)(intptr_t)lfd);
    alarm(20);                            /* a starved loop never ends */
    CHECK(await_task(srv) == NULL);
    CHECK(await_task(term) == (void *)(intptr_t)SIGTERM);
    alarm(0);
    printf("  %d EMFILE results before SIGTERM stopped the server\n",
           naive_failures);
    fd_hog_free_all(&hog);
    CHECK(coil_close(c) == 0 && coil_close(lfd) == 0);
    return NULL;
}

static void naive_listener(void)
{
    run_main(naive_main, NULL);
}

TEST(a_server_retrying_accept_at_once_on_emfile_still_gets_sigterm)
{
    in_child(naive_listener);
}

/* ------------------------------------------ 10,000 concurrent connections */

/* Waits until `left` tasks have arrived. */
typedef struct barrier {
    long left;
    coil_future *all_here;
} barrier;

static void barrier_arrive(barrier *b)
{
    if (--b->left == 0)
        CHECK(coil_future_set_result(b->all_here, NULL) == 0);
    else
        CHECK(coil_await(b->all_here, NULL) == 0);
}

enum { MASS_MSGS = 3, MASS_LEN = 64 };

typedef struct mass {
    long n;
    int lfd, port;
    long live, max_live, done;            /* server side */
    coil_future *all_done;                /* server side */
    barrier connected, verified;          /* client side */
} mass;

static mass the_mass;

static void *mass_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    mass *m = &the_mass;
    if (++m->live > m->max_live)
        m->max_live = m->live;
    char buf[MASS_LEN * MASS_MSGS];
    ssize_t n;
    while ((n = coil_read(fd, buf, sizeof buf)) > 0)
        CHECK(coil_write_all(fd, buf, (size_t)n, NULL) == n);
    CHECK(n == 0);
    m->live--;
    CHECK(coil_close(fd) == 0);
    if (++m->done == m->n)
        CHECK(coil_future_set_result(m->all_done, NULL) == 0);
    return NULL;
}

static void *mass_server_main(void *arg)
{
    mass *m = arg;
    m->all_done = coil_future_new(NULL);
    for (long i = 0; i < m->n; i++) {
        int c = coil_accept(m->lfd, NULL, NULL);
        CHECK(c >= 0);
        coil_task_attr attr = {.stack_size = 16 * 1024};
        coil_task_release(coil_spawn_attr(&attr, mass_conn, (void *)(intptr_t)c));
    }
    CHECK(coil_await(m->all_done, NULL) == 0);
    coil_future_release(m->all_done);
    return NULL;
}

static void *mass_client(void *arg)
{
    long i = (long)(intptr_t)arg;
    mass *m = &the_mass;
    int fd = coil_tcp_dial("127.0.0.1", m->port, now() + COIL_SEC(60));
    CHECK(fd >= 0);
    barrier_arrive(&m->connected);        /* all n open at once */
    unsigned char out[MASS_LEN], in[MASS_LEN];
    for (int k = 0; k < MASS_MSGS; k++) {
        fill(out, sizeof out, i, k);
        CHECK(coil_write_all(fd, out, sizeof out, NULL) == (ssize_t)sizeof out);
        CHECK(coil_read_full(fd, in, sizeof in, NULL) == (ssize_t)sizeof in);
        CHECK(memcmp(in, out, sizeof in) == 0);
    }
    barrier_arrive(&m->verified);         /* all n echoing at once */
    CHECK(coil_close(fd) == 0);
    return NULL;
}

static void *mass_clients_main(void *arg)
{
    mass *m = arg;
    m->connected = (barrier){m->n, coil_future_new(NULL)};
    m->verified = (barrier){m->n, coil_future_new(NULL)};
    coil_task **tasks = calloc((size_t)m->n, sizeof *tasks);
    CHECK(tasks);
    coil_task_attr attr = {.stack_size = 16 * 1024};
    for (long i = 0; i < m->n; i++) {
        tasks[i] = coil_spawn_attr(&attr, mass_client, (void *)(intptr_t)i);
        CHECK(tasks[i]);
    }
    for (long i = 0; i < m->n; i++)
        await_task(tasks[i]);
    free(tasks);
    coil_future_release(m->connected.all_here);
    coil_future_release(m->verified.all_here);
    return NULL;
}

/* Both ends in one process would need two fds per connection, more than
 * the hard limit allows for 10,000: the server runs in a child. */
TEST(ten_thousand_concurrent_loopback_connections_echo_verified_data)
{
    mass *m = &the_mass;
    m->n = scaled(10000);
    rlim_t need = (rlim_t)m->n + 64;
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    if (rl.rlim_cur < need) {
        static char why[128];
        snprintf(why, sizeof why, "RLIMIT_NOFILE hard limit %llu < %llu needed",
                 (unsigned long long)rl.rlim_max, (unsigned long long)need);
        SKIP(why);
    }
    m->lfd = coil_tcp_listen("127.0.0.1", 0, 4096, 0);
    CHECK(m->lfd >= 0);
    m->port = coil_socket_port(m->lfd);
    coil_time t0 = now();
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        run_main(mass_server_main, m);
        /* Every connection was open at the server at one moment. */
        _exit(m->max_live == m->n && m->done == m->n ? 0 : 3);
    }
    close(m->lfd);                        /* never used with coil here */
    run_main(mass_clients_main, m);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("  %ld connections, %d x %d bytes each, in %.2f s\n", m->n,
           MASS_MSGS, MASS_LEN, (double)(now() - t0) / 1e9);
}

RUN_TESTS(T(ipv4_listen_dial_and_echo),
          T(a_socket_coil_makes_does_not_inherit_a_stale_record_of_its_number),
          T(reads_after_a_short_read_still_see_later_data_and_the_close),
          T(a_read_after_a_short_read_makes_one_syscall_not_two),
          T(write_all_and_reads_on_a_used_tcp_socket_carry_eight_megabytes_intact),
          T(listen_on_any_ipv4_address_by_default),
          T(ipv6_listen_dial_and_echo),
          T(dial_to_a_closed_port_is_refused),
          T(dial_gives_up_at_its_deadline_when_the_backlog_is_full),
          T(a_dial_unwound_by_cancellation_leaks_no_fd),
          T(bad_addresses_ports_and_paths_are_einval),
          T(dial_outside_a_task_is_eperm_and_leaves_nothing_open),
          T(reuseport_lets_two_listeners_share_a_port),
          T(unix_stream_socket_file_listen_dial_and_echo),
          T(unix_stream_abstract_name_listen_dial_and_echo),
          T(udp_round_trip_with_recvfrom_and_sendto),
          T(listener_out_of_fds_keeps_running_without_spinning_and_accepts_again),
          T(a_server_retrying_accept_at_once_on_emfile_still_gets_sigterm),
          T(ten_thousand_concurrent_loopback_connections_echo_verified_data))
