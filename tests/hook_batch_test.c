/*
 * tests/hook_batch_test.c — recvmmsg, sendmmsg, sendfile (and a long
 * sendmsg) in tasks, through the hook layer: each waits in the loop, not
 * the kernel, and keeps what the same blocking call does without coil.
 *
 * In every test the other side is a task of the same loop: had a call
 * slept in the kernel, that task could never run, and the test would
 * hang until its watchdog fails it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "hook_helpers.h"
#include "task_helpers.h"

#define TICK COIL_MSEC(5)

static void pair_of(int type, int sv[2])
{
    CHECK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 13 + i / 509);
}

/* --------------------------------------------------------- recvmmsg */

typedef struct late_datagrams {
    int fd;
    int count;          /* datagrams to send, "d0", "d1", ... */
    int ticks_first;    /* ticks slept before the first */
    int ticks_between;  /* ...and between the others (0: none) */
} late_datagrams;

static void *send_late(void *arg)
{
    late_datagrams *l = arg;
    coil_sleep(l->ticks_first * TICK);
    for (int i = 0; i < l->count; i++) {
        if (i > 0 && l->ticks_between)
            coil_sleep(l->ticks_between * TICK);
        char d[8];
        int n = snprintf(d, sizeof d, "d%d", i);
        CHECK(send(l->fd, d, (size_t)n, 0) == n);
    }
    return NULL;
}

/* Room for four datagrams. */
typedef struct inbox4 {
    struct mmsghdr vec[4];
    struct iovec iov[4];
    char buf[4][16];
} inbox4;

static void inbox_init(inbox4 *b)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 4; i++) {
        b->iov[i] = (struct iovec){b->buf[i], sizeof b->buf[i]};
        b->vec[i].msg_hdr.msg_iov = &b->iov[i];
        b->vec[i].msg_hdr.msg_iovlen = 1;
    }
}

static void check_datagram(const inbox4 *b, int i)
{
    char want[8];
    int n = snprintf(want, sizeof want, "d%d", i);
    CHECK(b->vec[i].msg_len == (unsigned)n);
    CHECK(memcmp(b->buf[i], want, (size_t)n) == 0);
}

/* Without MSG_WAITFORONE a blocking recvmmsg waits for all vlen; with
 * it, for the first, then takes what else is there. */
static void *recvmmsg_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_of(SOCK_DGRAM, sv);
    inbox4 b;
    inbox_init(&b);
    late_datagrams four = {sv[1], 4, 1, 1};
    coil_task *t = coil_spawn(send_late, &four);
    CHECK(recvmmsg(sv[0], b.vec, 4, 0, NULL) == 4);
    for (int i = 0; i < 4; i++)
        check_datagram(&b, i);
    await_task(t);
    /* Two come at once, after a wait: MSG_WAITFORONE returns both. */
    inbox_init(&b);
    late_datagrams two = {sv[1], 2, 2, 0};
    t = coil_spawn(send_late, &two);
    CHECK(recvmmsg(sv[0], b.vec, 4, MSG_WAITFORONE, NULL) == 2);
    check_datagram(&b, 0);
    check_datagram(&b, 1);
    await_task(t);
    CHECK(!(kernel_flags(sv[0]) & O_NONBLOCK));
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    return NULL;
}

TEST(recvmmsg_waits_in_the_loop_for_every_datagram_or_the_first)
{
    watchdog();
    run_main(recvmmsg_main, NULL);
}

/* The timeout is looked at only after a datagram: one that ran out while
 * the call waited for its first does not end the wait (recvmmsg(2),
 * BUGS), and what is left of it, nothing, is written back. */
static void *recvmmsg_timeout_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_of(SOCK_DGRAM, sv);
    inbox4 b;
    inbox_init(&b);
    late_datagrams one = {sv[1], 1, 4, 0};
    coil_task *t = coil_spawn(send_late, &one);
    struct timespec timeout = {0, 1000000};        /* 1 ms */
    CHECK(recvmmsg(sv[0], b.vec, 4, 0, &timeout) == 1);
    check_datagram(&b, 0);
    CHECK(timeout.tv_sec == 0 && timeout.tv_nsec == 0);
    await_task(t);
    /* A bad timeout is EINVAL at once, as the kernel says. */
    struct timespec bad = {0, 1000000000};
    CHECK_ERRNO(recvmmsg(sv[0], b.vec, 4, 0, &bad), EINVAL);
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    return NULL;
}

TEST(recvmmsg_timeout_is_looked_at_only_after_a_datagram)
{
    watchdog();
    run_main(recvmmsg_timeout_main, NULL);
}

/* --------------------------------------------------------- sendmmsg */

enum { DATAGRAMS = 2000, DATAGRAM = 1024 };

static void *receive_numbered(void *arg)
{
    int fd = *(int *)arg;
    static unsigned char d[DATAGRAM];
    for (uint32_t i = 0; i < DATAGRAMS; i++) {
        CHECK(recv(fd, d, sizeof d, 0) == DATAGRAM);
        uint32_t seq;
        memcpy(&seq, d, sizeof seq);
        CHECK(seq == i);
    }
    return NULL;
}

/* 2,000 datagrams, far more than a Unix datagram socket queues: the
 * sender must wait for room while the receiver task runs. */
static void *sendmmsg_dgram_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_of(SOCK_DGRAM, sv);
    static unsigned char data[DATAGRAMS][DATAGRAM];
    static struct iovec iov[DATAGRAMS];
    static struct mmsghdr vec[DATAGRAMS];
    for (uint32_t i = 0; i < DATAGRAMS; i++) {
        memcpy(data[i], &i, sizeof i);
        iov[i] = (struct iovec){data[i], DATAGRAM};
        vec[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i],
                                              .msg_iovlen = 1}};
    }
    coil_task *r = coil_spawn(receive_numbered, &sv[1]);
    CHECK(sendmmsg(sv[0], vec, DATAGRAMS, 0) == DATAGRAMS);
    for (int i = 0; i < DATAGRAMS; i++)
        CHECK(vec[i].msg_len == DATAGRAM);
    await_task(r);
    CHECK(!(kernel_flags(sv[0]) & O_NONBLOCK));
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    return NULL;
}

TEST(sendmmsg_of_more_datagrams_than_fit_waits_for_room_in_the_loop)
{
    watchdog();
    run_main(sendmmsg_dgram_main, NULL);
}

typedef struct byte_sink {
    int fd;
    size_t want;
} byte_sink;

/* Read s->want bytes of pattern(), in order. */
static void *read_pattern(void *arg)
{
    byte_sink *s = arg;
    static unsigned char buf[65536];
    size_t got = 0;
    while (got < s->want) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        CHECK(n > 0);
        for (ssize_t i = 0; i < n; i++, got++)
            CHECK(buf[i] == pattern(got));
    }
    return NULL;
}

enum { MESSAGE = 1 << 20 };

/* n bytes of pattern(), malloc'd. */
static unsigned char *pattern_bytes(size_t n)
{
    unsigned char *data = malloc(n);
    CHECK(data != NULL);
    for (size_t i = 0; i < n; i++)
        data[i] = pattern(i);
    return data;
}

/* Three 1 MiB messages on a stream socket: without waiting the kernel
 * takes part of one and moves on; the hook finishes each first, as a
 * blocking send would have, so the bytes arrive whole and in order. */
static void *sendmmsg_stream_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_of(SOCK_STREAM, sv);
    unsigned char *data = pattern_bytes(3 * MESSAGE);
    struct iovec iov[3];
    struct mmsghdr vec[3];
    for (int i = 0; i < 3; i++) {
        iov[i] = (struct iovec){data + (size_t)i * MESSAGE, MESSAGE};
        vec[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i],
                                              .msg_iovlen = 1}};
    }
    byte_sink sink = {sv[1], 3 * MESSAGE};
    coil_task *r = coil_spawn(read_pattern, &sink);
    CHECK(sendmmsg(sv[0], vec, 3, 0) == 3);
    for (int i = 0; i < 3; i++)
        CHECK(vec[i].msg_len == MESSAGE);
    await_task(r);
    free(data);
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    return NULL;
}

TEST(sendmmsg_on_a_stream_socket_sends_every_message_whole)
{
    watchdog();
    run_main(sendmmsg_stream_main, NULL);
}

/* A blocking sendmsg of 3 MiB on a stream socket returns once all of it
 * went (in two iovecs), not after what the socket took at first. */
static void *sendmsg_stream_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_of(SOCK_STREAM, sv);
    unsigned char *data = pattern_bytes(3 * MESSAGE);
    struct iovec iov[2] = {{data, MESSAGE}, {data + MESSAGE, 2 * MESSAGE}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    byte_sink sink = {sv[1], 3 * MESSAGE};
    coil_task *r = coil_spawn(read_pattern, &sink);
    CHECK(sendmsg(sv[0], &m, 0) == 3 * MESSAGE);
    CHECK(iov[0].iov_base == data && iov[1].iov_len == 2 * MESSAGE);
    await_task(r);
    free(data);
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    return NULL;
}

TEST(sendmsg_on_a_stream_socket_returns_once_all_of_it_went)
{
    watchdog();
    run_main(sendmsg_stream_main, NULL);
}

/* --------------------------------------------------------- sendfile */

enum { FILE_SIZE = 4 << 20 };

/* A temporary file of FILE_SIZE bytes of pattern(), gone from its
 * directory already. */
static int pattern_file(void)
{
    char path[] = "/tmp/coil-sendfile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(unlink(path) == 0);
    unsigned char *data = pattern_bytes(FILE_SIZE);
    CHECK(pwrite(fd, data, FILE_SIZE, 0) == FILE_SIZE);
    free(data);
    return fd;
}

/* 4 MiB into a socket that holds far less: it all goes, the reader task
 * running meanwhile, with an offset (the file position stays) and with
 * the file position; more than the file has returns what it had. */
static void *sendfile_main(void *arg)
{
    (void)arg;
    int sv[2];
    pair_of(SOCK_STREAM, sv);
    int file = pattern_file();
    byte_sink sink = {sv[1], FILE_SIZE};
    coil_task *r = coil_spawn(read_pattern, &sink);
    off_t off = 0;
    CHECK(sendfile(sv[0], file, &off, FILE_SIZE) == FILE_SIZE);
    CHECK(off == FILE_SIZE && lseek(file, 0, SEEK_CUR) == 0);
    await_task(r);
    r = coil_spawn(read_pattern, &sink);
    CHECK(sendfile(sv[0], file, NULL, 2 * FILE_SIZE) == FILE_SIZE);
    CHECK(lseek(file, 0, SEEK_CUR) == FILE_SIZE);
    await_task(r);
    CHECK(!(kernel_flags(sv[0]) & O_NONBLOCK));    /* only for the call */
    CHECK(close(file) == 0);
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    return NULL;
}

TEST(sendfile_into_a_full_socket_waits_in_the_loop_and_sends_it_all)
{
    watchdog();
    run_main(sendfile_main, NULL);
}

RUN_TESTS(T(recvmmsg_waits_in_the_loop_for_every_datagram_or_the_first),
          T(recvmmsg_timeout_is_looked_at_only_after_a_datagram),
          T(sendmmsg_of_more_datagrams_than_fit_waits_for_room_in_the_loop),
          T(sendmmsg_on_a_stream_socket_sends_every_message_whole),
          T(sendmsg_on_a_stream_socket_returns_once_all_of_it_went),
          T(sendfile_into_a_full_socket_waits_in_the_loop_and_sends_it_all))
