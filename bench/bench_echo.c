/*
 * bench/bench_echo.c — the TCP echo bench: servers and load generator.
 *
 * Every server is a child process listening on 127.0.0.1 (a port the
 * kernel picks), which prints that port on a line of its own when ready:
 * coil and raw_epoll are this very program run again with --echo-server
 * (bench_echo_serve), go and python_asyncio are bench/echo.go and
 * bench/echo.py.  Children are started with posix_spawn rather than fork:
 * by the time this bench runs, the scale bench may have left a million
 * stacks' worth of mappings behind, and a forked coil server would also
 * inherit the parent's coil state.  A child inherits the affinity of the
 * thread that spawns it, which is how each server is pinned (Go's helper
 * threads included).  Each child's stdin is a pipe that only coil_bench
 * writes to: if coil_bench dies without killing them (Ctrl-C), the go and
 * python servers see EOF there and exit, and the two C servers get
 * SIGKILL from the kernel (PR_SET_PDEATHSIG); none is left behind.
 *
 * The load generator runs in coil_bench itself, on its own CPU: one epoll
 * loop, level-triggered, over N non-blocking connections, each sending a
 * 64-byte message, waiting for all 64 bytes to come back (checked), and
 * sending the next.  It counts round trips over a fixed time.
 *
 * Round trips per second say little once the load generator is the
 * bottleneck (every server then reads the same), so each measurement also
 * takes the server's CPU time per round trip — all its threads' time on
 * a CPU (/proc/PID/task/TID/schedstat, in ns: utime+stime without the
 * 10 ms ticks of /proc/PID/stat) over the measured window, divided by the
 * round trips in it — and the generator's busy share: the part of the
 * window it spent not in empty polls.  At >= 95% the generator was the
 * limit ("generator-bound"), and the rps ratio says nothing.
 */
#include "bench.h"

#include <coil.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MSG_SIZE 64
#define BACKLOG 4096          /* the kernel caps it at somaxconn */

/* ---------------------------------------------------------------- servers */

/* coil: one task per connection, plain blocking-style code, as
 * examples/12_echo_server.c. */
static void *coil_echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;

    while ((n = coil_read(fd, buf, sizeof buf)) > 0)
        if (coil_write_all(fd, buf, (size_t)n, NULL) < 0)
            break;
    coil_close(fd);
    return NULL;
}

static void *coil_echo_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, BACKLOG, 0);
    if (lfd < 0) {
        perror("coil echo server: listen");
        return coil_task_error(errno);
    }
    printf("%d\n", coil_socket_port(lfd));
    fflush(stdout);
    for (;;) {
        int c = coil_accept(lfd, NULL, NULL);
        if (c >= 0)
            coil_task_release(coil_spawn(coil_echo_conn,
                                         (void *)(intptr_t)c));
        else if (errno != ECONNABORTED && errno != EINTR)
            coil_sleep(COIL_MSEC(1));  /* out of fds: the bench never is */
    }
}

/* raw_epoll: what a hand-written C server does at best for this traffic.
 * Level-triggered, so a ready connection costs one read and one send and
 * nothing else: no read until EAGAIN (edge-triggered would need it), no
 * epoll_ctl per message. */
static int raw_epoll_serve(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};

    if (lfd < 0 || ep < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(lfd, BACKLOG) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("raw_epoll echo server");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);

    struct epoll_event evs[512];
    char buf[4096];
    for (;;) {
        int k = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL,
                                    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    ev = (struct epoll_event){.events = EPOLLIN,
                                              .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            ssize_t n = read(fd, buf, sizeof buf);
            if (n < 0 && errno == EAGAIN)
                continue;
            if (n <= 0) {
                close(fd);           /* leaves the epoll set with it */
                continue;
            }
            /* The whole echo, however long it takes: 64 bytes always go
             * at once into an idle socket, so the poll() never runs in
             * the bench, but a server that drops bytes would be no
             * ceiling. */
            for (ssize_t off = 0; off < n;) {
                ssize_t w = send(fd, buf + off, (size_t)(n - off),
                                 MSG_NOSIGNAL);
                if (w > 0) {
                    off += w;
                } else if (w < 0 && errno == EAGAIN) {
                    struct pollfd p = {.fd = fd, .events = POLLOUT};
                    poll(&p, 1, -1);
                } else {
                    break;           /* the peer is gone: read says so */
                }
            }
        }
    }
}

int bench_echo_serve(const char *impl)
{
    /* Die with coil_bench; if it is already gone, do not start at all. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;
    if (strcmp(impl, "raw_epoll") == 0)
        return raw_epoll_serve();
    if (strcmp(impl, "coil") == 0)
        return coil_run(coil_echo_main, NULL, NULL) == 0 ? 0 : 1;
    if (strcmp(impl, "libuv") == 0)
        return bench_echo_uv_serve();
    fprintf(stderr, "coil_bench: no echo server '%s'\n", impl);
    return 2;
}

/* ---------------------------------------------------------------- children */

int bench_echo_start(char *const argv[], const char *env_extra, int cpu,
                     echo_server *s, char *err)
{
    int fds[2], in[2];
    s->pid = -1;
    s->out = -1;
    s->in = -1;
    s->port = 0;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, BENCH_ERR_MAX, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(in, O_CLOEXEC) != 0) {
        snprintf(err, BENCH_ERR_MAX, "pipe: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    s->in = in[1];

    /* The environment, plus env_extra (GOMAXPROCS=1) in front. */
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (env == NULL) {
        close(fds[0]);
        close(fds[1]);
        close(in[0]);
        bench_echo_stop(s);
        snprintf(err, BENCH_ERR_MAX, "out of memory");
        return -1;
    }
    size_t e = 0;
    if (env_extra != NULL)
        env[e++] = (char *)env_extra;
    for (size_t i = 0; i < n; i++)
        env[e++] = environ[i];
    env[e] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    /* Pinned by inheritance: the child starts with this thread's mask. */
    cpu_set_t saved, one;
    int pinned = cpu >= 0 && sched_getaffinity(0, sizeof saved, &saved) == 0;
    if (pinned) {
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        sched_setaffinity(0, sizeof one, &one);
    }
    int rc = posix_spawn(&s->pid, argv[0], &fa, &attr, argv, env);
    if (pinned)
        sched_setaffinity(0, sizeof saved, &saved);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    close(fds[1]);
    close(in[0]);
    if (rc != 0) {
        close(fds[0]);
        s->pid = -1;
        bench_echo_stop(s);
        snprintf(err, BENCH_ERR_MAX, "cannot run %s: %s", argv[0],
                 strerror(rc));
        return -1;
    }
    s->out = fds[0];

    /* Wait for the port line; an interpreter on a busy machine can take a
     * while to start, a server that never gets there is a failure. */
    char line[32];
    size_t used = 0;
    while (used < sizeof line - 1 && memchr(line, '\n', used) == NULL) {
        struct pollfd p = {.fd = s->out, .events = POLLIN};
        int k = poll(&p, 1, 20000);
        if (k < 0 && errno == EINTR)
            continue;
        ssize_t got = k > 0 ? read(s->out, line + used,
                                   sizeof line - 1 - used) : 0;
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        used += (size_t)got;
    }
    line[used] = '\0';
    char *end;
    long port = strtol(line, &end, 10);
    if (used == 0 || *end != '\n' || port < 1 || port > 65535) {
        snprintf(err, BENCH_ERR_MAX, "%s did not print its port%s",
                 argv[0], used ? "" : " (no output in 20 s, or it died)");
        bench_echo_stop(s);
        return -1;
    }
    s->port = (int)port;
    return 0;
}

void bench_echo_stop(echo_server *s)
{
    /* SIGKILL: none of the servers has anything to save, and none of them
     * gets to print a KeyboardInterrupt traceback into the table. */
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (s->out >= 0)
        close(s->out);
    if (s->in >= 0)
        close(s->in);
    s->pid = -1;
    s->out = -1;
    s->in = -1;
}

/* ---------------------------------------------------------------- load */

typedef struct conn {
    int fd;
    unsigned got;                  /* bytes of the echo read so far */
    uint64_t seq;                  /* messages sent */
    unsigned char rx[MSG_SIZE];
} conn;

struct echo_load {
    int ep;
    long n;
    conn *c;
};

/* Message seq of a connection: its number, then a fixed filler, so that
 * an echo of the wrong message (or of garbage) does not compare equal. */
static void make_msg(unsigned char *m, uint64_t seq)
{
    memcpy(m, &seq, sizeof seq);
    for (size_t i = sizeof seq; i < MSG_SIZE; i++)
        m[i] = (unsigned char)(i * 37 + 11);
}

static int send_msg(conn *c, char *err)
{
    unsigned char m[MSG_SIZE];
    make_msg(m, c->seq);
    ssize_t w = send(c->fd, m, MSG_SIZE, MSG_NOSIGNAL);
    if (w != MSG_SIZE) {
        /* An idle socket always takes 64 bytes at once: anything else is
         * a broken connection, not something to wait out. */
        snprintf(err, BENCH_ERR_MAX, "send: %s",
                 w < 0 ? strerror(errno) : "short write");
        return -1;
    }
    c->got = 0;
    return 0;
}

void bench_echo_close(echo_load *l)
{
    if (l == NULL)
        return;
    for (long i = 0; i < l->n; i++)
        if (l->c[i].fd >= 0)
            close(l->c[i].fd);
    if (l->ep >= 0)
        close(l->ep);
    free(l->c);
    free(l);
}

echo_load *bench_echo_connect(int port, long n, char *err)
{
    echo_load *l = calloc(1, sizeof *l);
    if (l == NULL || (l->c = calloc((size_t)n, sizeof *l->c)) == NULL) {
        free(l);
        snprintf(err, BENCH_ERR_MAX, "out of memory");
        return NULL;
    }
    l->n = n;
    for (long i = 0; i < n; i++)
        l->c[i].fd = -1;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0) {
        snprintf(err, BENCH_ERR_MAX, "epoll_create1: %s", strerror(errno));
        bench_echo_close(l);
        return NULL;
    }

    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (long i = 0; i < n; i++) {
        conn *c = &l->c[i];
        int one = 1;
        /* A blocking connect: on loopback the kernel completes the
         * handshake itself as long as the backlog has room (BACKLOG and
         * somaxconn exceed the connections), whether or not the server
         * has accepted yet. */
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (c->fd < 0 ||
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
                       sizeof one) != 0 ||
            connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0 ||
            epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            snprintf(err, BENCH_ERR_MAX, "connection %ld of %ld: %s", i + 1,
                     n, strerror(errno));
            bench_echo_close(l);
            return NULL;
        }
    }
    return l;
}

/* The CPU time, in ns, that all of pid's threads have had so far; 0 if
 * the kernel does not say (no schedstat). */
static uint64_t process_cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat[320];
        snprintf(stat, sizeof stat, "/proc/%d/task/%s/schedstat", (int)pid,
                 e->d_name);
        FILE *f = fopen(stat, "r");
        unsigned long long ns = 0;
        if (f != NULL) {
            if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
            fclose(f);
        }
        sum += ns;
    }
    closedir(d);
    return sum;
}

int bench_echo_run(echo_load *l, pid_t server, uint64_t warm_ns,
                   uint64_t run_ns, echo_result *out, char *err)
{
    long inflight = 0, done = 0, done0 = 0, done1 = 0;
    for (long i = 0; i < l->n; i++) {
        if (send_msg(&l->c[i], err) != 0)
            return -1;
        inflight++;
    }

    /* Round trips are counted from the first epoll_wait batch after the
     * warm-up to the first one after run_ns more; then the connections
     * stop sending and the last echoes are drained, so that the next run
     * starts from quiet connections. */
    uint64_t start = bench_now_ns(), t0 = 0, t1 = 0;
    int measuring = 0, stopping = 0;
    struct epoll_event evs[512];
    unsigned char want[MSG_SIZE];

    uint64_t last = start, idle = 0, idle0 = 0, idle1 = 0;
    uint64_t cpu0 = 0, cpu1 = 0;
    while (inflight > 0) {
        uint64_t polled = bench_now_ns();
        /* Polled, never asleep: the load generator has a CPU of its own,
         * and waking it up would put the VM's cross-CPU wake-up latency
         * into every server's figure (with 50 connections it halved them
         * and made them swing 2x from run to run). */
        int k = epoll_wait(l->ep, evs, 512, 0);
        if (k < 0 && errno != EINTR) {
            snprintf(err, BENCH_ERR_MAX, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        if (k <= 0) {
            uint64_t now = bench_now_ns();
            idle += now - polled;           /* nothing to do: not busy */
            if (now - last > 5000000000u) {
                snprintf(err, BENCH_ERR_MAX, "no echo for 5 s");
                return -1;
            }
            continue;
        }
        for (int i = 0; i < k; i++) {
            conn *c = evs[i].data.ptr;
            /* Never more than the echo: there is nothing else to read. */
            ssize_t r = read(c->fd, c->rx + c->got, MSG_SIZE - c->got);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0) {
                snprintf(err, BENCH_ERR_MAX, "read: %s",
                         r ? strerror(errno) : "server closed a connection");
                return -1;
            }
            c->got += (unsigned)r;
            if (c->got < MSG_SIZE)
                continue;
            make_msg(want, c->seq);
            if (memcmp(c->rx, want, MSG_SIZE) != 0) {
                snprintf(err, BENCH_ERR_MAX, "wrong echo");
                return -1;
            }
            c->seq++;
            done++;
            inflight--;
            if (!stopping) {
                if (send_msg(c, err) != 0)
                    return -1;
                inflight++;
            }
        }
        uint64_t t = last = bench_now_ns();
        if (!measuring && t - start >= warm_ns) {
            measuring = 1;
            cpu0 = process_cpu_ns(server);
            t0 = bench_now_ns();
            done0 = done;
            idle0 = idle;
        } else if (measuring && !stopping && t - t0 >= run_ns) {
            stopping = 1;
            t1 = t;
            cpu1 = process_cpu_ns(server);
            done1 = done;
            idle1 = idle;
        }
    }
    double trips = (double)(done1 - done0), span = (double)(t1 - t0);
    out->rps = trips * 1e9 / span;
    out->server_ns = cpu1 > cpu0 && trips > 0
                         ? (double)(cpu1 - cpu0) / trips : -1;
    out->gen_share = 1.0 - (double)(idle1 - idle0) / span;
    return 0;
}
