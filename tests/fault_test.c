/*
 * tests/fault_test.c — fault injection at every call coil makes to the
 * outside world that can fail.
 *
 * This executable defines mmap, epoll_ctl, malloc, pthread_create, ...
 * itself.  Symbols of the executable come before libc's for the shared
 * libcoil.so it links, so every such call of coil's goes through one
 * wrapper here (and the library under test is the unchanged shared
 * library).  A wrapper counts the calls whose caller lies inside
 * libcoil.so (dladdr on the return address: libc's own inner calls and
 * this file's calls are not counted) and fails the Nth with the errno the
 * site would give, when the environment says COIL_FAULT=site:N.
 *
 * The driver runs representative programs (spawn/await, echo round trips,
 * the executor, a subprocess, a runtime of two loops) in forked children,
 * failing each site at N = 1, 2, 3, ... until a run completes without
 * reaching the Nth call.  Each child must: not crash, hang or abort; end
 * the program either successfully (coil worked around the failure) or
 * with -1 and an errno; leave no fd behind; and afterwards still run a
 * fresh task.  The driver prints how many (site, N) pairs it tried.
 *
 * Build: COIL_FAULT_INJECTION=ON (the default for native, unsanitized
 * builds; sanitizers interpose the same functions).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"

/* ------------------------------------------------------------ the sites */

enum site {
    S_MMAP, S_MADVISE, S_MPROTECT, S_EPOLL_CREATE1, S_EPOLL_CTL, S_EVENTFD,
    S_SIGNALFD, S_TIMERFD_CREATE, S_PIPE2, S_SOCKET, S_ACCEPT4,
    S_PTHREAD_CREATE, S_MALLOC, S_CALLOC, S_REALLOC, S_FCNTL, NSITES
};

static const struct {
    const char *name;
    int err;                      /* what the real call says when it fails */
} sites[NSITES] = {
    {"mmap", ENOMEM},           {"madvise", ENOMEM},
    {"mprotect", ENOMEM},       {"epoll_create1", EMFILE},
    {"epoll_ctl", ENOMEM},      {"eventfd", EMFILE},
    {"signalfd", EMFILE},       {"timerfd_create", EMFILE},
    {"pipe2", EMFILE},          {"socket", EMFILE},
    {"accept4", EMFILE},        {"pthread_create", EAGAIN},
    {"malloc", ENOMEM},         {"calloc", ENOMEM},
    {"realloc", ENOMEM},        {"fcntl", EBADF},
};

/* The armed fault: site and call number (0: none), and what happened. */
static int armed_site = -1;
static long armed_n;
static atomic_long calls[NSITES];
static atomic_int fired;

static void *coil_base;           /* where libcoil.so is mapped */

/* Whether the caller at `ret` is coil's code. */
static int from_coil(void *ret)
{
    Dl_info info;
    return coil_base && dladdr(ret, &info) && info.dli_fbase == coil_base;
}

/* Count a call of site s made by coil; 1 if this one must fail. */
static int should_fail(int s, void *ret)
{
    if (armed_site != s || !from_coil(ret))
        return 0;
    if (atomic_fetch_add(&calls[s], 1) + 1 != armed_n)
        return 0;
    atomic_store(&fired, 1);
    if (getenv("COIL_FAULT_TRAP"))
        raise(SIGTRAP);           /* for gdb: where the fault lands */
    return 1;
}

#define REAL(type, name, args)                                              \
    static type(*real_##name) args;                                         \
    if (!real_##name)                                                       \
        real_##name = (type(*) args)dlsym(RTLD_NEXT, #name)

#define MAYBE_FAIL(s, ret)                                                  \
    do {                                                                    \
        if (should_fail((s), __builtin_return_address(0))) {                \
            errno = sites[s].err;                                           \
            return (ret);                                                   \
        }                                                                   \
    } while (0)

void *mmap(void *a, size_t len, int prot, int flags, int fd, off_t off)
{
    REAL(void *, mmap, (void *, size_t, int, int, int, off_t));
    MAYBE_FAIL(S_MMAP, MAP_FAILED);
    return real_mmap(a, len, prot, flags, fd, off);
}

int madvise(void *a, size_t len, int advice)
{
    REAL(int, madvise, (void *, size_t, int));
    MAYBE_FAIL(S_MADVISE, -1);
    return real_madvise(a, len, advice);
}

int mprotect(void *a, size_t len, int prot)
{
    REAL(int, mprotect, (void *, size_t, int));
    MAYBE_FAIL(S_MPROTECT, -1);
    return real_mprotect(a, len, prot);
}

int epoll_create1(int flags)
{
    REAL(int, epoll_create1, (int));
    MAYBE_FAIL(S_EPOLL_CREATE1, -1);
    return real_epoll_create1(flags);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    REAL(int, epoll_ctl, (int, int, int, struct epoll_event *));
    MAYBE_FAIL(S_EPOLL_CTL, -1);
    return real_epoll_ctl(epfd, op, fd, ev);
}

int eventfd(unsigned int initval, int flags)
{
    REAL(int, eventfd, (unsigned int, int));
    MAYBE_FAIL(S_EVENTFD, -1);
    return real_eventfd(initval, flags);
}

int signalfd(int fd, const sigset_t *mask, int flags)
{
    REAL(int, signalfd, (int, const sigset_t *, int));
    MAYBE_FAIL(S_SIGNALFD, -1);
    return real_signalfd(fd, mask, flags);
}

int timerfd_create(int clockid, int flags)
{
    REAL(int, timerfd_create, (int, int));
    MAYBE_FAIL(S_TIMERFD_CREATE, -1);
    return real_timerfd_create(clockid, flags);
}

int pipe2(int fds[2], int flags)
{
    REAL(int, pipe2, (int *, int));
    MAYBE_FAIL(S_PIPE2, -1);
    return real_pipe2(fds, flags);
}

int socket(int domain, int type, int protocol)
{
    REAL(int, socket, (int, int, int));
    MAYBE_FAIL(S_SOCKET, -1);
    return real_socket(domain, type, protocol);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    REAL(int, accept4, (int, struct sockaddr *, socklen_t *, int));
    MAYBE_FAIL(S_ACCEPT4, -1);
    return real_accept4(fd, addr, len, flags);
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr,
                   void *(*fn)(void *), void *arg)
{
    REAL(int, pthread_create, (pthread_t *, const pthread_attr_t *,
                               void *(*)(void *), void *));
    if (should_fail(S_PTHREAD_CREATE, __builtin_return_address(0)))
        return EAGAIN;            /* pthreads return the error */
    return real_pthread_create(th, attr, fn, arg);
}

int fcntl(int fd, int cmd, ...)
{
    REAL(int, fcntl, (int, int, ...));
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);   /* int or pointer: one word either way */
    va_end(ap);
    MAYBE_FAIL(S_FCNTL, -1);
    return real_fcntl(fd, cmd, arg);
}

/* glibc's own entry points: dlsym may allocate, so not through it. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *malloc(size_t n)
{
    MAYBE_FAIL(S_MALLOC, NULL);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    MAYBE_FAIL(S_CALLOC, NULL);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    MAYBE_FAIL(S_REALLOC, NULL);
    return __libc_realloc(p, n);
}

/* ------------------------------------------------------------- programs */

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Each program returns 0, or -1 with errno: what a user's program would
 * see.  Every step checks its result and stops at the first failure. */

static void *sleep_ms(void *arg)
{
    if (coil_sleep(COIL_MSEC((intptr_t)arg)) != 0)
        return coil_task_error(errno ? errno : EIO);
    return arg;
}

static void *spawn_await_main(void *arg)
{
    (void)arg;
    coil_task *t[8];
    int n = 0, err = 0;
    for (; n < 8; n++)
        if (!(t[n] = coil_spawn(sleep_ms, (void *)(intptr_t)(n % 3)))) {
            err = errno;
            break;
        }
    for (int i = 0; i < n; i++) {
        if (coil_await(coil_task_future(t[i]), NULL) != 0 && !err)
            err = errno;
        coil_task_release(t[i]);
    }
    return err ? coil_task_error(err) : NULL;
}

static void close_fd(void *arg)
{
    coil_close((int)(intptr_t)arg);
}

static void *echo_peer(void *arg)
{
    int c = (int)(intptr_t)arg;
    char b[64];
    ssize_t n;
    coil_cleanup_push(close_fd, arg);     /* closed if cancelled, too */
    while ((n = coil_read(c, b, sizeof b)) > 0)
        if (coil_write_all(c, b, (size_t)n, NULL) != n)
            break;
    coil_cleanup_pop(1);
    return NULL;
}

static void *echo_server(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int c = coil_accept(lfd, NULL, NULL);
    if (c < 0)
        return coil_task_error(errno);
    return echo_peer((void *)(intptr_t)c);
}

static void *echo_main(void *arg)
{
    (void)arg;
    int lfd = coil_tcp_listen("127.0.0.1", 0, 8, 0);
    if (lfd < 0)
        return coil_task_error(errno);
    int port = coil_socket_port(lfd), err = 0;
    coil_task *srv = coil_spawn(echo_server, (void *)(intptr_t)lfd);
    /* A server that fails to accept (EMFILE, or no memory for the new
     * fd's record) leaves the client connected to nobody: it hears of it
     * only through its deadline, so keep that short. */
    int c = srv ? coil_tcp_dial("127.0.0.1", port,
                                coil_deadline_in(COIL_SEC(1))) : -1;
    if (!srv || c < 0)
        err = errno;
    for (int i = 0; i < 10 && !err; i++) {
        char out[16], in[16];
        int len = snprintf(out, sizeof out, "ping %d", i);
        if (coil_write_all(c, out, (size_t)len, NULL) != len ||
            coil_read_full_until(c, in, (size_t)len, NULL,
                                 coil_deadline_in(COIL_SEC(1))) != len)
            err = errno ? errno : EIO;
        else if (memcmp(in, out, (size_t)len) != 0)
            err = EPROTO;
    }
    if (c >= 0)
        coil_close(c);
    if (srv) {
        coil_task_cancel(srv);    /* if it never got a connection */
        coil_await(coil_task_future(srv), NULL);
        coil_task_release(srv);
    }
    coil_close(lfd);
    return err ? coil_task_error(err) : NULL;
}

static void *double_it(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}

static void *executor_main(void *arg)
{
    (void)arg;
    for (intptr_t i = 1; i <= 4; i++) {
        void *r = NULL;
        if (coil_to_thread(double_it, (void *)i, &r) != 0)
            return coil_task_error(errno);
        if (r != (void *)(i * 2))
            return coil_task_error(EPROTO);
    }
    return NULL;
}

static void *process_main(void *arg)
{
    (void)arg;
    char *argv[] = {"cat", NULL};
    coil_process *p = coil_process_spawn("cat", argv, NULL,
                                         COIL_SPAWN_SEARCH_PATH |
                                         COIL_PIPE_STDIN | COIL_PIPE_STDOUT);
    if (!p)
        return coil_task_error(errno == ENOSYS ? 0 : errno);
    int err = 0, status = 0;
    char b[8];
    if (coil_write_all(coil_process_stdin(p), "hello", 5, NULL) != 5 ||
        coil_process_close_pipe(p, 0) != 0 ||
        coil_read_full_until(coil_process_stdout(p), b, 5, NULL,
                             coil_deadline_in(COIL_SEC(5))) != 5 ||
        coil_process_wait(p, &status, coil_deadline_in(COIL_SEC(5))) != 0)
        err = errno ? errno : EIO;
    coil_process_release(p);
    return err ? coil_task_error(err) : NULL;
}

static void *runtime_main(void *arg)
{
    (void)arg;
    coil_runtime *rt = coil_runtime_start(2, NULL);
    if (!rt)
        return coil_task_error(errno);
    int err = 0;
    for (size_t i = 0; i < 2 && !err; i++) {
        coil_tfuture *f = coil_runtime_spawn(rt, i, sleep_ms, (void *)1);
        void *r = NULL;
        if (!f || coil_tfuture_wait(f, COIL_SEC(5), &r) != 0)
            err = errno ? errno : EIO;
        coil_tfuture_release(f);
    }
    coil_runtime_stop(rt);
    coil_runtime_join(rt);
    return err ? coil_task_error(err) : NULL;
}

static const struct {
    const char *name;
    coil_task_fn fn;
} programs[] = {
    {"spawn_await", spawn_await_main}, {"echo", echo_main},
    {"executor", executor_main},       {"process", process_main},
    {"runtime", runtime_main},
};
#define NPROGRAMS (sizeof programs / sizeof programs[0])

static void *trivial(void *arg)
{
    return arg;
}

/* ------------------------------------------------------------ the driver */

enum { RAN_CLEAN = 0, FAULT_HIT = 10, FAULT_MISSED = 11 };

/* In a child: arm (site, n), run the program, disarm, check the
 * aftermath.  Exits FAULT_HIT or FAULT_MISSED; a failed check aborts. */
static void child(size_t prog, int site, long n)
{
    alarm(20);                        /* a hang fails the run */
    Dl_info info;
    CHECK(dladdr((void *)coil_run, &info));
    coil_base = info.dli_fbase;
    int fds0 = fd_count();
    armed_site = site;
    armed_n = n;
    void *res = NULL;
    errno = 0;
    int r = coil_run(programs[prog].fn, NULL, &res);
    int e = errno;
    armed_site = -1;
    int hit = atomic_load(&fired);
    if (getenv("COIL_FAULT"))
        fprintf(stderr, "%s with %s:%ld: %s, returned %d (%s)\n",
                programs[prog].name, sites[site].name, n,
                hit ? "injected" : "not reached", r, strerror(e));
    if (r != 0 && e == 0) {
        fprintf(stderr, "%s with %s:%ld failed with errno 0\n",
                programs[prog].name, sites[site].name, n);
        abort();
    }
    if (!hit && r != 0) {
        fprintf(stderr, "%s failed (%s) with no fault injected\n",
                programs[prog].name, strerror(e));
        abort();
    }
    /* The default loop that coil_run used is closed: a fresh run must
     * work, and every fd the program made must be gone.  A thread that
     * failed to start, a pool that keeps its threads, may keep theirs:
     * the executor's pool is process-wide and stays. */
    res = NULL;
    CHECK(coil_run(trivial, (void *)7, &res) == 0 && res == (void *)7);
    int fds1 = fd_count();
    if (fds1 > fds0) {
        fprintf(stderr, "%s with %s:%ld: %d fds before, %d after\n",
                programs[prog].name, sites[site].name, n, fds0, fds1);
        abort();
    }
    exit(hit ? FAULT_HIT : FAULT_MISSED);
}

/* Run one (program, site, n) in a child: FAULT_HIT, FAULT_MISSED, or -1
 * after printing how it died. */
static int try_one(size_t prog, int site, long n)
{
    fflush(NULL);
    coil_time t0 = coil_clock();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        child(prog, site, n);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    coil_time took = coil_clock() - t0;
    if (took > COIL_SEC(1))       /* a failure should be reported at once */
        printf("  slow: %s with %s failing at call %ld took %.1f s\n",
               programs[prog].name, sites[site].name, n, (double)took / 1e9);
    if (WIFEXITED(status) && (WEXITSTATUS(status) == FAULT_HIT ||
                              WEXITSTATUS(status) == FAULT_MISSED))
        return WEXITSTATUS(status);
    fprintf(stderr, "  %s with %s failing at call %ld: %s %d\n",
            programs[prog].name, sites[site].name, n,
            WIFSIGNALED(status) ? "died by signal" : "exited",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return -1;
}

/* COIL_FAULT=program:site:N runs that one case in-process (for gdb). */
static void run_one_from_env(void)
{
    const char *e = getenv("COIL_FAULT");
    if (!e)
        return;
    char prog[32], site[32];
    long n;
    CHECK(sscanf(e, "%31[^:]:%31[^:]:%ld", prog, site, &n) == 3);
    for (size_t p = 0; p < NPROGRAMS; p++)
        for (int s = 0; s < NSITES; s++)
            if (!strcmp(prog, programs[p].name) && !strcmp(site, sites[s].name))
                child(p, s, n);
    fprintf(stderr, "COIL_FAULT=%s: no such program or site\n", e);
    exit(2);
}

static void run_program(size_t prog)
{
    run_one_from_env();
    long pairs = 0, hits = 0, bad = 0;
    for (int s = 0; s < NSITES; s++) {
        /* N = 1, 2, ... until a run completes without reaching call N.
         * The bound stops a site that is called without end (it would
         * show as a hang per run first). */
        for (long n = 1; n <= 400; n++) {
            int r = try_one(prog, s, n);
            pairs++;
            if (r < 0 && ++bad >= 5)
                break;                /* enough said about this site */
            if (r == FAULT_MISSED)
                break;
            hits += r == FAULT_HIT;
        }
    }
    printf("  %s: %ld (site, N) pairs tried, %ld failures injected, %ld bad\n",
           programs[prog].name, pairs, hits, bad);
    fflush(stdout);
    CHECK(bad == 0);
}

TEST(spawn_await_survives_every_failing_call)
{
    run_program(0);
}

TEST(echo_round_trips_survive_every_failing_call)
{
    run_program(1);
}

TEST(the_executor_survives_every_failing_call)
{
    run_program(2);
}

TEST(a_subprocess_survives_every_failing_call)
{
    run_program(3);
}

TEST(a_runtime_of_two_loops_survives_every_failing_call)
{
    run_program(4);
}

RUN_TESTS(T(spawn_await_survives_every_failing_call),
          T(echo_round_trips_survive_every_failing_call),
          T(the_executor_survives_every_failing_call),
          T(a_subprocess_survives_every_failing_call),
          T(a_runtime_of_two_loops_survives_every_failing_call))
