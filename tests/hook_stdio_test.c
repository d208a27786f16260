/*
 * tests/hook_stdio_test.c — the program's stdio on an fd its tasks have
 * used through the hook layer keeps blocking, as the program expects.
 *
 * glibc's stdio reads and writes through internal calls that no hook
 * sees.  Had coil made the fd O_NONBLOCK underneath (the flag is the open
 * file's, so a dup and an fdopen share it), fgets would return NULL with
 * EAGAIN while the data is still on its way, and fflush into a full
 * buffer would fail with the rest of the bytes lost.  Each test waits
 * until the stdio call is asleep in the kernel (the thread's state in
 * /proc) before it lets the data flow, so a call that failed at once
 * instead of blocking is caught every time.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "hook_helpers.h"
#include "pipe_kinds.h"
#include "task_helpers.h"
#include "thread_state.h"

/* What the stdio side and the helper thread share. */
typedef struct stdio_case {
    int fd;                   /* the helper thread's end */
    pid_t loop_tid;           /* the thread whose stdio call must block */
    atomic_int in_call;       /* the stdio call has begun */
    atomic_int call_done;     /* ...and returned */
    size_t total;             /* bytes to move */
    size_t moved;             /* what the helper read, or wrote */
    int saw_sleep;            /* it found the stdio call asleep */
} stdio_case;

/* Wait until c's stdio call sleeps in the kernel, or has returned (it
 * failed at once: the test's check then says so). */
static void wait_for_stdio_to_block(stdio_case *c)
{
    while (!atomic_load(&c->in_call))
        sched_yield();
    while (!atomic_load(&c->call_done)) {
        if (thread_asleep(c->loop_tid)) {
            c->saw_sleep = 1;
            return;
        }
        sched_yield();
    }
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

/* The helper of the write test: once fflush blocks, read all of it. */
static void *drain_thread(void *arg)
{
    stdio_case *c = arg;
    wait_for_stdio_to_block(c);
    static unsigned char buf[65536];
    ssize_t n;
    while (c->moved < c->total && (n = read(c->fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++, c->moved++)
            CHECK(buf[i] == pattern(c->moved));
    return NULL;
}

/* The helper of the read test: once fgets blocks, send the line. */
static void *line_thread(void *arg)
{
    stdio_case *c = arg;
    wait_for_stdio_to_block(c);
    CHECK(write(c->fd, "late line\n", 10) == 10);
    c->moved = 10;
    return NULL;
}

/* A connected TCP pair on 127.0.0.1, made with the hooked calls in a
 * task: *mine connected by connect(2), *theirs accepted. */
static void tcp_pair(int *mine, int *theirs)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(l, 1) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    *mine = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(*mine >= 0);
    CHECK(connect(*mine, (struct sockaddr *)&a, sizeof a) == 0);
    *theirs = accept(l, NULL, NULL);
    CHECK(*theirs >= 0);
    CHECK(close(l) == 0);
}

static void socket_pair(int *mine, int *theirs)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    *mine = sv[0];
    *theirs = sv[1];
}

/* A pipe whose write end is mine, and one whose read end is. */
static void pipe_to_write(int *mine, int *theirs)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    *mine = p[1];
    *theirs = p[0];
}

static void pipe_to_read(int *mine, int *theirs)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    *mine = p[0];
    *theirs = p[1];
}

/* The task has used both ends through the hooks: a write into w, a read
 * out of r.  Each is left as the program has it, blocking. */
static void use_in_task(int w, int r)
{
    char c;
    CHECK(write(w, "a", 1) == 1);
    CHECK(read(r, &c, 1) == 1 && c == 'a');
    CHECK(!(kernel_flags(w) & O_NONBLOCK));
    CHECK(!(kernel_flags(r) & O_NONBLOCK));
}

/* fwrite + fflush of more than the fd holds, on an fd (arg makes it: a
 * TCP socket a task connected, a pipe) a task used: fflush blocks until
 * the helper has read it all. */
static void *fflush_main(void *arg)
{
    void (*make)(int *, int *) = (void (*)(int *, int *))arg;
    int fd, peer;
    make(&fd, &peer);
    use_in_task(fd, peer);
    stdio_case c = {.fd = peer, .loop_tid = thread_id(), .total = 8 << 20};
    unsigned char *data = malloc(c.total);
    CHECK(data != NULL);
    for (size_t i = 0; i < c.total; i++)
        data[i] = pattern(i);
    FILE *f = fdopen(dup(fd), "w");
    CHECK(f != NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, drain_thread, &c) == 0);
    atomic_store(&c.in_call, 1);
    size_t put = fwrite(data, 1, c.total, f);
    int flushed = fflush(f);
    int e = errno;
    atomic_store(&c.call_done, 1);
    if (put != c.total || flushed != 0)
        fprintf(stderr, "fwrite put %zu of %zu, fflush %d: %s\n", put,
                c.total, flushed, strerror(e));
    CHECK(put == c.total && flushed == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(c.saw_sleep && c.moved == c.total);
    CHECK(fclose(f) == 0);
    free(data);
    CHECK(close(fd) == 0 && close(peer) == 0);
    return NULL;
}

TEST(fflush_on_a_socket_a_task_used_blocks_until_every_byte_is_out)
{
    watchdog();
    run_main(fflush_main, (void *)tcp_pair);
}

TEST(fflush_on_a_pipe_a_task_used_blocks_until_every_byte_is_out)
{
    if (!pipes_take_nowait()) {
        printf("  skipped: pipes are made O_NONBLOCK here (no RWF_NOWAIT on"
               " pipes, or ThreadSanitizer)\n");
        return;
    }
    watchdog();
    run_main(fflush_main, (void *)pipe_to_write);
}

/* fgets on an fd (a socket, a pipe) a task used, the line still to come:
 * it waits. */
static void *fgets_main(void *arg)
{
    void (*make)(int *, int *) = (void (*)(int *, int *))arg;
    int sv[2];
    make(&sv[0], &sv[1]);
    use_in_task(sv[1], sv[0]);
    stdio_case c = {.fd = sv[1], .loop_tid = thread_id()};
    FILE *f = fdopen(dup(sv[0]), "r");
    CHECK(f != NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, line_thread, &c) == 0);
    char line[32];
    atomic_store(&c.in_call, 1);
    char *got = fgets(line, sizeof line, f);
    int e = errno;
    atomic_store(&c.call_done, 1);
    if (!got)
        fprintf(stderr, "fgets: NULL, %s\n", strerror(e));
    CHECK(got && strcmp(line, "late line\n") == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(c.saw_sleep);
    CHECK(fclose(f) == 0);
    CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
    return NULL;
}

TEST(fgets_on_a_socket_a_task_used_waits_for_its_line)
{
    watchdog();
    run_main(fgets_main, (void *)socket_pair);
}

TEST(fgets_on_a_pipe_a_task_used_waits_for_its_line)
{
    if (!pipes_take_nowait()) {
        printf("  skipped: pipes are made O_NONBLOCK here (no RWF_NOWAIT on"
               " pipes, or ThreadSanitizer)\n");
        return;
    }
    watchdog();
    run_main(fgets_main, (void *)pipe_to_read);
}

/* The program's view and a call outside any task are unchanged too: a
 * listening socket accept switched underneath still reports blocking,
 * and a plain accept outside a task still waits for its connection. */
static void *listener_main(void *arg)
{
    (void)arg;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(connect(c1, (struct sockaddr *)&a, sizeof a) == 0);
    int s1 = accept(l, NULL, NULL);
    CHECK(s1 >= 0);
    CHECK(kernel_flags(l) & O_NONBLOCK);        /* accept needs it... */
    CHECK(!(fcntl(l, F_GETFL) & O_NONBLOCK));   /* ...the program's view */
    CHECK(!(kernel_flags(s1) & O_NONBLOCK));
    CHECK(!(kernel_flags(c1) & O_NONBLOCK));    /* connect's flag is gone */
    int fds[] = {l, c1, s1};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        CHECK(close(fds[i]) == 0);
    return NULL;
}

TEST(only_a_listening_socket_is_switched_and_the_program_sees_it_blocking)
{
    watchdog();
    run_main(listener_main, NULL);
}

RUN_TESTS(T(fflush_on_a_socket_a_task_used_blocks_until_every_byte_is_out),
          T(fflush_on_a_pipe_a_task_used_blocks_until_every_byte_is_out),
          T(fgets_on_a_socket_a_task_used_waits_for_its_line),
          T(fgets_on_a_pipe_a_task_used_waits_for_its_line),
          T(only_a_listening_socket_is_switched_and_the_program_sees_it_blocking))
