/*
 * tests/hook_diff_test.c — the hook layer against libc itself: the same
 * random calls on two identical socketpairs (or, one run in four, pipes),
 * one end of one pair used by a task (the hooks' way: its waits suspend the
 * task) and one end of the other by a pool thread (not a task: libc's way),
 * must give the same results: return values, errno, the bytes read, what
 * F_GETFL, FIONREAD, SO_RCVTIMEO, poll and select report, and the bytes
 * that reach the peer.
 *
 * The calls: read, recv (MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL), readv,
 * write, send (MSG_DONTWAIT), writev, fcntl F_SETFL/F_GETFL, ioctl
 * FIONBIO/FIONREAD, setsockopt/getsockopt SO_RCVTIMEO (0 or 1-3 ms), poll
 * and select (no wait or 1 ms), poll on several entries (the subject twice,
 * its peer, -1, an fd not open), select on several (the subject and its
 * peer in random sets, sometimes an fd not open), epoll_wait on an epoll
 * set of the program's holding the subject (level or edge triggered,
 * one-shot, re-armed with EPOLL_CTL_MOD), dup (the copy's flags, timeout
 * and a MSG_DONTWAIT read, then close), shutdown; and on the peer, writes
 * and a shutdown that the subject reads.  A call that would block libc's
 * thread for good (a blocking read with nothing to read and no SO_RCVTIMEO)
 * is not made on either side; with SO_RCVTIMEO both sides wait it out and
 * say EAGAIN, the task in its loop.
 *
 * Prints its seed; COIL_HOOK_DIFF_SEED=<n> makes the same calls again,
 * and COIL_HOOK_DIFF_TRACE=1 prints each call as it is made.
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/poll.h>          /* <poll.h> would be src/loop/poll.h */
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "seeded.h"
#include "task_helpers.h"

enum { NOPS = 600, MAX_IO = 3000 };

/* One call and what it gave. */
typedef struct call {
    int op;
    size_t n;
    int flag;                     /* the op's variant */
    long r;
    int err;
    unsigned char data[MAX_IO];   /* bytes read, or a reported value */
    size_t got;
} call;

typedef struct side {
    int fd[2];                    /* [0] the subject, [1] its peer */
    int epfd;                     /* a "library's" epoll set, holding [0] */
} side;

static uint64_t rng;

static size_t below(size_t n) { return (size_t)(seeded_next(&rng) % n); }

/* What both tests do first: take the seed (printed, for a replay), let a
 * write after a shutdown be EPIPE on both sides rather than the signal,
 * and fail a call that hangs on one side. */
static uint64_t start(void)
{
    uint64_t seed = seeded_seed("COIL_HOOK_DIFF_SEED");
    printf("  seed %" PRIu64 " (replay: COIL_HOOK_DIFF_SEED=%" PRIu64 ")\n",
           seed, seed);
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    return seed;
}

enum { OP_PEER_WRITE, OP_PEER_SHUT, OP_READ, OP_RECV, OP_READV, OP_WRITE,
       OP_SEND, OP_WRITEV, OP_NONBLOCK, OP_FIONBIO, OP_GETFL, OP_FIONREAD,
       OP_RCVTIMEO, OP_POLL, OP_SELECT, OP_DUP, OP_POLL_MANY, OP_EPOLL_WAIT,
       OP_EPOLL_MOD, OP_SELECT_MANY, OP_SHUTDOWN, NOPKINDS };

static void fill(unsigned char *p, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (i % 8 * 8)) + (unsigned char)i;
}

/* Make the call c on side s, and record what it gave.  The same code runs
 * in the task and on the pool thread: only where it runs differs. */
static void perform(side *s, call *c)
{
    int fd = s->fd[0];
    unsigned char out[MAX_IO];
    fill(out, c->n, (uint64_t)c->n * 0x9E3779B97F4A7C15ULL);
    errno = 0;
    c->got = 0;
    switch (c->op) {
    case OP_PEER_WRITE:         /* the peer is not the subject: raw */
        c->r = syscall(SYS_write, s->fd[1], out, c->n);
        break;
    case OP_PEER_SHUT:
        c->r = syscall(SYS_shutdown, s->fd[1], SHUT_WR);
        break;
    case OP_READ:
        c->r = read(fd, c->data, c->n);
        break;
    case OP_RECV: {
        static const int flags[] = {0, MSG_PEEK, MSG_DONTWAIT,
                                    MSG_PEEK | MSG_DONTWAIT, MSG_WAITALL};
        c->r = recv(fd, c->data, c->n, flags[c->flag % 5]);
        break;
    }
    case OP_READV: {
        struct iovec iov[2] = {{c->data, c->n / 2},
                               {c->data + c->n / 2, c->n - c->n / 2}};
        c->r = readv(fd, iov, 2);
        break;
    }
    case OP_WRITE:
        c->r = write(fd, out, c->n);
        break;
    case OP_SEND:
        c->r = send(fd, out, c->n, MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
    case OP_WRITEV: {
        struct iovec iov[2] = {{out, c->n / 3}, {out + c->n / 3,
                                                 c->n - c->n / 3}};
        c->r = writev(fd, iov, 2);
        break;
    }
    case OP_NONBLOCK: {
        int fl = fcntl(fd, F_GETFL);
        c->r = fcntl(fd, F_SETFL, c->flag & 1 ? fl | O_NONBLOCK
                                               : fl & ~O_NONBLOCK);
        break;
    }
    case OP_FIONBIO: {
        int on = c->flag & 1;
        c->r = ioctl(fd, FIONBIO, &on);
        break;
    }
    case OP_GETFL:
        c->r = fcntl(fd, F_GETFL);
        break;
    case OP_FIONREAD: {
        int avail = -1;
        c->r = ioctl(fd, FIONREAD, &avail);
        memcpy(c->data, &avail, sizeof avail);
        c->got = sizeof avail;
        break;
    }
    case OP_RCVTIMEO: {
        struct timeval tv = {0, c->flag % 4 * 1000};
        socklen_t len = sizeof tv;
        c->r = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (c->r == 0)
            c->r = getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
        memcpy(c->data, &tv, sizeof tv);
        c->got = sizeof tv;
        break;
    }
    case OP_POLL: {
        struct pollfd p = {fd, (short)(c->flag & 1 ? POLLIN | POLLOUT
                                                   : POLLIN), 0};
        c->r = poll(&p, 1, c->flag & 2 ? 1 : 0);
        memcpy(c->data, &p.revents, sizeof p.revents);
        c->got = sizeof p.revents;
        break;
    }
    case OP_SELECT: {
        fd_set rd, wr;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_SET(fd, &rd);
        if (c->flag & 1)
            FD_SET(fd, &wr);
        struct timeval tv = {0, c->flag & 2 ? 1000 : 0};
        c->r = select(fd + 1, &rd, &wr, NULL, &tv);
        c->data[0] = (unsigned char)(FD_ISSET(fd, &rd) | FD_ISSET(fd, &wr) << 1);
        c->got = 1;
        break;
    }
    case OP_POLL_MANY: {
        /* Several entries (the hooks' private-epoll path): the subject,
         * its peer, the subject again, -1 (ignored), and an fd that is not
         * open (POLLNVAL), each with events from the flag's bits. */
        const int pick[4] = {fd, s->fd[1], c->n % 3 ? fd : -1, 1000};
        struct pollfd p[4];
        int k = 2 + (int)(c->n % 3);
        for (int i = 0; i < k; i++) {
            unsigned bits = (unsigned)(c->flag + i * 5) % 8;
            p[i] = (struct pollfd){pick[i], (short)((bits & 1 ? POLLIN : 0) |
                                                    (bits & 2 ? POLLOUT : 0) |
                                                    (bits & 4 ? POLLPRI : 0)),
                                   0};
        }
        c->r = poll(p, (nfds_t)k, c->n & 4 ? 1 : 0);
        for (int i = 0; i < k; i++)
            memcpy(c->data + 2 * i, &p[i].revents, 2);
        c->got = 2 * (size_t)k;
        break;
    }
    case OP_SELECT_MANY: {
        /* The subject and its peer in random sets, and now and then an
         * fd that is not open (EBADF). */
        const int pick[3] = {fd, s->fd[1], 1000};
        int k = c->n % 4 == 0 ? 3 : 2, top = 0;
        fd_set set[3];
        for (int w = 0; w < 3; w++)
            FD_ZERO(&set[w]);
        for (int i = 0; i < k; i++)
            for (int w = 0; w < 3; w++)
                if ((unsigned)(c->flag + i * 3 + w * 7) % 3 == 0) {
                    FD_SET(pick[i], &set[w]);
                    top = pick[i] > top ? pick[i] : top;
                }
        struct timeval tv = {0, c->n & 1 ? 1000 : 0};
        c->r = select(top + 1, &set[0], &set[1], &set[2], &tv);
        for (int i = 0; i < k; i++)
            for (int w = 0; w < 3; w++)
                c->data[i * 3 + w] = (unsigned char)(c->r > 0 &&
                                                     FD_ISSET(pick[i], &set[w]));
        c->got = 9;
        break;
    }
    case OP_EPOLL_WAIT: {
        /* A library's own epoll fd: the hooks wait until it is readable,
         * then ask it. */
        struct epoll_event ev[2];
        memset(ev, 0, sizeof ev);
        c->r = epoll_wait(s->epfd, ev, 2, c->flag & 1 ? 1 : 0);
        for (int i = 0; i < 2; i++)
            memcpy(c->data + 4 * i, &ev[i].events, 4);
        c->got = 8;
        break;
    }
    case OP_EPOLL_MOD: {
        unsigned bits = (unsigned)c->flag;
        struct epoll_event ev = {
            .events = (bits & 1 ? EPOLLIN : 0) | (bits & 2 ? EPOLLOUT : 0) |
                      (bits & 4 ? EPOLLET : 0) |
                      (bits & 8 ? EPOLLONESHOT : 0),
            .data.u32 = 7};
        c->r = epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
        break;
    }
    case OP_DUP: {
        /* A copy shares the open file (its O_NONBLOCK) and the socket
         * (its SO_RCVTIMEO): what the copy reports and how its
         * non-blocking read goes must agree too; then it closes. */
        int d = c->flag & 1 ? dup(fd) : fcntl(fd, F_DUPFD_CLOEXEC, 100);
        if (d < 0) {
            c->r = -1;
            break;
        }
        int fl = fcntl(d, F_GETFL);
        struct timeval tv = {0, 0};       /* stays so on a pipe */
        socklen_t len = sizeof tv;
        int t = getsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
        long r = recv(d, c->data + 32, c->n < 64 ? c->n : 64, MSG_DONTWAIT);
        int e = r < 0 ? errno : 0;
        memcpy(c->data, &fl, sizeof fl);
        memcpy(c->data + 4, &t, sizeof t);
        memcpy(c->data + 8, &tv, sizeof tv);
        memcpy(c->data + 24, &e, sizeof e);
        c->got = 32 + (r > 0 ? (size_t)r : 0);
        c->r = close(d) == 0 ? r : -2;
        errno = e;
        break;
    }
    default:
        c->r = shutdown(fd, c->flag & 1 ? SHUT_WR : SHUT_RD);
    }
    c->err = c->r < 0 ? errno : 0;
    if (c->r > 0 && (c->op == OP_READ || c->op == OP_RECV ||
                     c->op == OP_READV))
        c->got = (size_t)c->r;
}

/* The peer's bytes so far, read raw (without waiting): what the subject's
 * writes delivered. */
static size_t drain_peer(side *s, unsigned char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        long r = syscall(SYS_recvfrom, s->fd[1], buf + got, cap - got,
                         MSG_DONTWAIT, NULL, NULL);
        if (r <= 0 || (got += (size_t)r) == cap)
            return got;
    }
}

/* Whether libc's call c on s could block its thread for good: a wait for
 * bytes with none to come (the peer may still write, but only when the
 * test says so) and no SO_RCVTIMEO to end it. */
static int would_hang(side *s, const call *c)
{
    int reads = c->op == OP_READ || c->op == OP_RECV || c->op == OP_READV;
    /* read and readv of nothing return at once; recv of nothing waits
     * for a byte like any other (the kernel's low-water mark is 1). */
    if (!reads || (c->n == 0 && c->op != OP_RECV))
        return 0;
    if (c->op == OP_RECV && (c->flag % 5 == 2 || c->flag % 5 == 3))
        return 0;                          /* MSG_DONTWAIT */
    int fl = (int)syscall(SYS_fcntl, s->fd[0], F_GETFL);
    if (fl & O_NONBLOCK)
        return 0;
    struct timeval tv;
    socklen_t len = sizeof tv;
    if (syscall(SYS_getsockopt, s->fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
                &len) == 0 && (tv.tv_sec || tv.tv_usec))
        return 0;                          /* it times out: EAGAIN */
    int avail = 0;
    CHECK(syscall(SYS_ioctl, s->fd[0], FIONREAD, &avail) == 0);
    struct pollfd p = {s->fd[0], POLLIN, 0};
    struct timespec zero = {0, 0};       /* raw ppoll: aarch64 has no poll */
    CHECK(syscall(SYS_ppoll, &p, 1, &zero, NULL, 0) >= 0);
    int eof = (p.revents & (POLLHUP | POLLRDHUP)) != 0 ||
              ((p.revents & POLLIN) && avail == 0);
    if (eof)
        return 0;
    if (c->op == OP_RECV && c->flag % 5 == 4)     /* MSG_WAITALL */
        return (size_t)avail < (c->n ? c->n : 1);
    return avail == 0;
}

typedef struct job {
    side *s;
    call *c;
} job;

static void *perform_on_pool(void *arg)
{
    job *j = arg;
    perform(j->s, j->c);
    return NULL;
}

static void compare(const call *a, const call *b, int i)
{
    if (a->r == b->r && a->err == b->err && a->got == b->got &&
        memcmp(a->data, b->data, a->got) == 0)
        return;
    fprintf(stderr, "  call %d: op %d n %zu flag %d: task %ld (errno %d, %zu bytes), "
           "libc %ld (errno %d, %zu bytes)\n", i, a->op, a->n, a->flag, a->r,
           a->err, a->got, b->r, b->err, b->got);
    CHECK(!"the hooked call differs from libc's");
}

typedef struct diff_run {
    long count;
    int pipes;                    /* pipes (read end, write end) instead */
} diff_run;

/* Two identical pairs: socketpairs, or pipes whose read end is the
 * subject (its writes, sockopts and shutdowns are then errors, the same
 * on both sides) and whose write end the peer writes to. */
static void make_pair(side *s, int pipes)
{
    if (pipes)
        CHECK(pipe(s->fd) == 0);
    else
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s->fd) == 0);
    CHECK((s->epfd = epoll_create1(EPOLL_CLOEXEC)) >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
    CHECK(epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->fd[0], &ev) == 0);
}

static void *diff_main(void *arg)
{
    diff_run *dr = arg;
    long *count = &dr->count;
    side hooked, plain;
    make_pair(&hooked, dr->pipes);
    make_pair(&plain, dr->pipes);
    static call a, b;
    static unsigned char pa[1 << 20], pb[1 << 20];
    int peer_shut = 0, trace = getenv("COIL_HOOK_DIFF_TRACE") != NULL;
    for (int i = 0; i < NOPS; i++) {
        memset(&a, 0, sizeof a);
        a.op = (int)below(NOPKINDS);
        if (a.op == OP_SHUTDOWN && below(8) != 0)
            a.op = OP_READ;               /* a rare end, not a common one */
        if (a.op == OP_PEER_SHUT && (peer_shut || below(8) != 0))
            a.op = OP_PEER_WRITE;
        a.n = below(4) == 0 ? below(MAX_IO) : below(64);
        a.flag = (int)below(16);
        if (would_hang(&plain, &a))
            continue;
        memcpy(&b, &a, sizeof a);
        if (trace)
            fprintf(stderr, "  call %d: op %d n %zu flag %d\n", i, a.op,
                    a.n, a.flag);
        perform(&hooked, &a);             /* in this task: the hooks */
        if (trace)
            fprintf(stderr, "    task: %ld, errno %d\n", a.r, a.err);
        job j = {&plain, &b};
        CHECK(coil_to_thread(perform_on_pool, &j, NULL) == 0);  /* libc */
        compare(&a, &b, i);
        if (a.op == OP_PEER_SHUT && a.r == 0)
            peer_shut = 1;
        size_t na = drain_peer(&hooked, pa, sizeof pa),
               nb = drain_peer(&plain, pb, sizeof pb);
        CHECK(na == nb && memcmp(pa, pb, na) == 0);
        (*count)++;
    }
    for (int k = 0; k < 2; k++)
        close(hooked.fd[k]), close(plain.fd[k]);
    close(hooked.epfd), close(plain.epfd);
    return NULL;
}

TEST(random_calls_in_a_task_give_what_libc_gives)
{
    uint64_t seed = start();
    diff_run dr = {0, 0};
    for (int run = 0; run < 20; run++) {
        rng = seeded_state(seed, (uint64_t)run);
        dr.pipes = run % 4 == 3;
        run_main(diff_main, &dr);
    }
    printf("  %ld calls, each the same as libc's\n", dr.count);
}

/* ------------------------------------------------ connect and accept */

/* Each side's TCP listener on 127.0.0.1 and the connections made to it:
 * clients the test dialled (in the order made) and what was accepted. */
typedef struct tcp_side {
    int listener;
    int clients[8], nclients;     /* oldest first */
    int pending;                  /* connected, not yet accepted */
} tcp_side;

enum { T_CONNECT, T_ACCEPT, T_NONBLOCK, T_SOERROR, T_CLOSE, NTKINDS };

typedef struct tcp_call {
    int op, flag;
    long r;
    int err;
    int view[3];                  /* F_GETFL of a new fd, SO_ERROR, ... */
} tcp_call;

static void tcp_open(tcp_side *t)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK((t->listener = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    CHECK(bind(t->listener, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(t->listener, 8) == 0);
    t->nclients = t->pending = 0;
}

static void tcp_perform(tcp_side *t, tcp_call *c)
{
    errno = 0;
    switch (c->op) {
    case T_CONNECT: {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        CHECK(getsockname(t->listener, (struct sockaddr *)&a, &len) == 0);
        int fd = socket(AF_INET, SOCK_STREAM | (c->flag & 1 ? SOCK_NONBLOCK
                                                            : 0), 0);
        CHECK(fd >= 0);
        c->r = connect(fd, (struct sockaddr *)&a, len);
        c->view[0] = fcntl(fd, F_GETFL) & O_NONBLOCK;
        t->clients[t->nclients++] = fd;
        break;
    }
    case T_ACCEPT: {
        static const int flags[] = {0, SOCK_NONBLOCK, SOCK_CLOEXEC};
        int fd = c->flag & 4 ? accept(t->listener, NULL, NULL)
                             : accept4(t->listener, NULL, NULL,
                                       flags[c->flag % 3]);
        c->r = fd < 0 ? -1 : 0;
        if (fd >= 0) {
            c->view[0] = fcntl(fd, F_GETFL) & O_NONBLOCK;
            c->view[1] = fcntl(fd, F_GETFD) & FD_CLOEXEC;
            close(fd);
        }
        break;
    }
    case T_NONBLOCK: {
        int fl = fcntl(t->listener, F_GETFL);
        c->r = fcntl(t->listener, F_SETFL, c->flag & 1 ? fl | O_NONBLOCK
                                                        : fl & ~O_NONBLOCK);
        c->view[0] = fcntl(t->listener, F_GETFL) & O_NONBLOCK;
        break;
    }
    case T_SOERROR: {
        int e = -1;
        socklen_t len = sizeof e;
        c->r = t->nclients ? getsockopt(t->clients[t->nclients - 1],
                                        SOL_SOCKET, SO_ERROR, &e, &len)
                           : 0;
        c->view[0] = t->nclients ? e : 0;
        break;
    }
    default:
        c->r = t->nclients ? close(t->clients[--t->nclients]) : 0;
    }
    c->err = c->r < 0 ? errno : 0;
}

typedef struct tcp_job {
    tcp_side *t;
    tcp_call *c;
} tcp_job;

static void *tcp_on_pool(void *arg)
{
    tcp_job *j = arg;
    tcp_perform(j->t, j->c);
    return NULL;
}

/* Whether libc's accept on t would wait for good: no connection pending
 * on a blocking listener. */
static int accept_would_hang(const tcp_side *t)
{
    struct pollfd p = {t->listener, POLLIN, 0};
    struct timespec zero = {0, 0};
    int blocking = !((int)syscall(SYS_fcntl, t->listener, F_GETFL) &
                     O_NONBLOCK);
    return blocking && syscall(SYS_ppoll, &p, 1, &zero, NULL, 0) == 0;
}

static void *tcp_main(void *arg)
{
    long *count = arg;
    tcp_side hooked, plain;
    tcp_open(&hooked);
    tcp_open(&plain);
    for (int i = 0; i < 300; i++) {
        tcp_call a = {.op = (int)below(NTKINDS), .flag = (int)below(8)};
        /* At most 8 clients, and never more connections waiting to be
         * accepted than the backlog (a blocking connect to a full one
         * would wait for good). */
        if (a.op == T_CONNECT && (hooked.nclients == 8 || hooked.pending == 6))
            a.op = T_CLOSE;
        if (a.op == T_ACCEPT && accept_would_hang(&plain))
            continue;
        tcp_call b = a;
        if (getenv("COIL_HOOK_DIFF_TRACE"))
            fprintf(stderr, "  tcp call %d: op %d flag %d\n", i, a.op,
                    a.flag);
        tcp_perform(&hooked, &a);
        tcp_job j = {&plain, &b};
        CHECK(coil_to_thread(tcp_on_pool, &j, NULL) == 0);
        if (a.r != b.r || a.err != b.err ||
            memcmp(a.view, b.view, sizeof a.view) != 0) {
            fprintf(stderr, "  tcp call %d: op %d flag %d: task %ld (errno "
                    "%d, view %d %d), libc %ld (errno %d, view %d %d)\n", i,
                    a.op, a.flag, a.r, a.err, a.view[0], a.view[1], b.r,
                    b.err, b.view[0], b.view[1]);
            CHECK(!"the hooked call differs from libc's");
        }
        /* A connection waits in the accept queue until accepted, closed
         * client or not. */
        int d = a.op == T_CONNECT && (a.r == 0 || a.err == EINPROGRESS) ? 1
              : a.op == T_ACCEPT && a.r == 0 ? -1 : 0;
        hooked.pending += d;
        plain.pending += d;
        (*count)++;
    }
    for (tcp_side *t = &hooked; t; t = t == &hooked ? &plain : NULL) {
        while (t->nclients)
            close(t->clients[--t->nclients]);
        close(t->listener);
    }
    return NULL;
}

/* connect (blocking and not) to a listener on loopback, accept and
 * accept4 (SOCK_NONBLOCK, SOCK_CLOEXEC) on a blocking or non-blocking
 * listener, SO_ERROR, closes: the same in a task as from libc, with what
 * the new fds report (O_NONBLOCK, FD_CLOEXEC). */
TEST(connect_and_accept_in_a_task_give_what_libc_gives)
{
    uint64_t seed = start();
    long count = 0;
    for (int run = 0; run < 10; run++) {
        rng = seeded_state(seed, (uint64_t)run);
        run_main(tcp_main, &count);
    }
    printf("  %ld calls, each the same as libc's\n", count);
}

RUN_TESTS(T(random_calls_in_a_task_give_what_libc_gives),
          T(connect_and_accept_in_a_task_give_what_libc_gives))
