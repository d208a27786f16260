/*
 * tests/hook_splice_test.c — the hook layer's splice and tee
 * (src/hook/splice.c): in a task, one that must wait parks the task and
 * the loop runs on; what it moves is what libc's would; the program's
 * SPLICE_F_NONBLOCK still gets EAGAIN at once.
 *
 * Each waiting call waits for bytes (or room) that the test gives only
 * after a sleep of its own in the loop: a call that blocked the thread
 * would keep that sleep from ever ending, and the watchdog fails the
 * test instead of letting it hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

#define UNIT COIL_MSEC(20)

typedef struct {
    int in, out;
    int tee;
    ssize_t r;
    int err;
} call;

static void *run_call(void *arg)
{
    call *c = arg;
    c->r = c->tee ? tee(c->in, c->out, 4096, 0)
                  : splice(c->in, NULL, c->out, NULL, 4096, 0);
    c->err = errno;
    return NULL;
}

/* Start c in a task, let the loop run a while, check it still waits. */
static coil_task *start_waiting(call *c)
{
    c->r = -2;
    coil_task *t = coil_spawn(run_call, c);
    CHECK(t != NULL);
    coil_sleep(UNIT);                     /* the loop runs on... */
    CHECK(!task_ended(t) && c->r == -2);  /* ...while it waits */
    return t;
}

static void *socket_to_pipe_main(void *arg)
{
    (void)arg;
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0);
    call c = {.in = sv[0], .out = p[1]};
    coil_task *t = start_waiting(&c);     /* nothing to read yet */
    CHECK(write(sv[1], "hello", 5) == 5);
    await_task(t);
    CHECK(c.r == 5);
    char buf[8];
    CHECK(read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    /* The socket is as the program left it: blocking. */
    CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    CHECK(!(kernel_flags(sv[0]) & O_NONBLOCK));
    close(sv[0]), close(sv[1]), close(p[0]), close(p[1]);
    return NULL;
}

TEST(a_splice_from_an_empty_socket_parks_until_bytes_come)
{
    watchdog();
    run_main(socket_to_pipe_main, NULL);
}

static void *pipe_to_full_socket_main(void *arg)
{
    (void)arg;
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0);
    static char junk[4096];
    size_t filled = 0;
    ssize_t n;
    while ((n = send(sv[0], junk, sizeof junk, MSG_DONTWAIT)) > 0)
        filled += (size_t)n;              /* until the socket is full */
    CHECK(n < 0 && errno == EAGAIN && filled > 0);
    CHECK(write(p[1], "world", 5) == 5);
    call c = {.in = p[0], .out = sv[0]};
    coil_task *t = start_waiting(&c);     /* no room to write */
    static char sink[1 << 16];
    size_t drained = 0;
    while (drained < filled) {            /* make room: the call goes on */
        n = recv(sv[1], sink, sizeof sink, 0);
        CHECK(n > 0);
        drained += (size_t)n;
    }
    await_task(t);
    CHECK(c.r == 5);
    char buf[8];
    CHECK(recv(sv[1], buf, sizeof buf, 0) == 5 &&
          memcmp(buf, "world", 5) == 0);
    close(sv[0]), close(sv[1]), close(p[0]), close(p[1]);
    return NULL;
}

TEST(a_splice_into_a_full_socket_parks_until_there_is_room)
{
    watchdog();
    run_main(pipe_to_full_socket_main, NULL);
}

static void *tee_main(void *arg)
{
    (void)arg;
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0);
    call c = {.in = a[0], .out = b[1], .tee = 1};
    coil_task *t = start_waiting(&c);     /* an empty pipe to copy */
    CHECK(write(a[1], "tee", 3) == 3);
    await_task(t);
    CHECK(c.r == 3);
    char buf[8];
    CHECK(read(b[0], buf, sizeof buf) == 3 && memcmp(buf, "tee", 3) == 0);
    CHECK(read(a[0], buf, sizeof buf) == 3);    /* tee consumed nothing */
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    return NULL;
}

TEST(a_tee_from_an_empty_pipe_parks_until_bytes_come)
{
    watchdog();
    run_main(tee_main, NULL);
}

static void *nonblock_main(void *arg)
{
    (void)arg;
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0);
    /* The program's own SPLICE_F_NONBLOCK on an empty pipe: EAGAIN. */
    CHECK(splice(p[0], NULL, sv[0], NULL, 16, SPLICE_F_NONBLOCK) == -1 &&
          errno == EAGAIN);
    /* A socket the program set O_NONBLOCK: EAGAIN too, at once. */
    CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
    CHECK(splice(sv[0], NULL, p[1], NULL, 16, 0) == -1 && errno == EAGAIN);
    /* A bad fd: EBADF, as libc says. */
    CHECK(splice(-1, NULL, p[1], NULL, 16, 0) == -1 && errno == EBADF);
    close(sv[0]), close(sv[1]), close(p[0]), close(p[1]);
    return NULL;
}

TEST(the_programs_nonblocking_asks_and_bad_fds_are_libcs_answers)
{
    watchdog();
    run_main(nonblock_main, NULL);
}

TEST(outside_a_task_splice_is_libcs)
{
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(p) == 0);
    CHECK(write(sv[1], "plain", 5) == 5);
    CHECK(splice(sv[0], NULL, p[1], NULL, 16, 0) == 5);
    char buf[8];
    CHECK(read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "plain", 5) == 0);
    close(sv[0]), close(sv[1]), close(p[0]), close(p[1]);
}

RUN_TESTS(T(a_splice_from_an_empty_socket_parks_until_bytes_come),
          T(a_splice_into_a_full_socket_parks_until_there_is_room),
          T(a_tee_from_an_empty_pipe_parks_until_bytes_come),
          T(the_programs_nonblocking_asks_and_bad_fds_are_libcs_answers),
          T(outside_a_task_splice_is_libcs))
