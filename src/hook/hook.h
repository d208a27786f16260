/*
 * src/hook/hook.h — what the files of the hook layer share (internal).
 *
 * The hook layer (libcoil_hook.so) defines libc's blocking calls.  Each
 * one asks first whether it runs in a coil task for the program (not for
 * coil itself, see coil__hook_off in src/io/io.h); if not, it is libc's call
 * and nothing else.  In a task it runs the call on coil's IO machinery
 * (coil__io_run, coil_wait_fd, coil_sleep, coil_to_thread), so the task
 * suspends and its loop runs on.
 *
 * libc's own definitions are found with dlsym(RTLD_NEXT), once per
 * function, on first use (a hooked call may come before any constructor
 * runs); racing threads find the same address, so an atomic store is all
 * the locking it needs.
 */
#ifndef COIL_HOOK_H
#define COIL_HOOK_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/poll.h>             /* <poll.h> would be src/loop/poll.h */
#include <sys/socket.h>
#include <time.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "coil.h"
#include "../io/io.h"

/* _FORTIFY_SOURCE's checked calls, which a program built with it makes
 * instead of read, recv, recvfrom, poll and ppoll (rw.c, wait.c).  glibc
 * declares them only under fortify; they are exported, like every hook. */
struct sockaddr;
void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *addr, socklen_t *addrlen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                const sigset_t *mask, size_t fdslen);

#pragma GCC visibility push(hidden)

/* ------------------------------------------------ libc's own functions */

/* Every interposed function (and pthread_mutex_unlock, which lock.c calls
 * past any interposer), for the slots of its libc address. */
#define COIL__HOOKED(X)                                                     \
    X(read) X(readv) X(write) X(writev) X(recv) X(recvfrom) X(recvmsg)      \
    X(send) X(sendto) X(sendmsg) X(connect) X(accept) X(accept4) X(poll)   \
    X(ppoll) X(select) X(nanosleep) X(clock_nanosleep) X(sleep) X(usleep)  \
    X(close) X(dup) X(dup2) X(dup3) X(fcntl) X(fcntl64) X(ioctl) X(socket) \
    X(socketpair) X(pipe) X(pipe2) X(getaddrinfo) X(gethostbyname)         \
    X(gethostbyname_r) X(epoll_wait) X(epoll_pwait) X(setsockopt)          \
    X(getsockopt) X(wait4) X(waitpid) X(wait) X(wait3) X(waitid) X(system)  \
    X(popen) X(pclose) X(close_range) X(closefrom) X(pthread_mutex_lock)   \
    X(pthread_mutex_trylock) X(pthread_mutex_unlock) X(pthread_cond_wait)  \
    X(pthread_cond_signal) X(pthread_cond_broadcast)                       \
    X(pthread_cond_timedwait) X(pthread_cond_clockwait) X(sem_wait)         \
    X(sem_trywait) X(sem_timedwait) X(sem_clockwait)                       \
    X(pthread_mutex_timedlock) X(pthread_mutex_clocklock)                  \
    X(pthread_rwlock_rdlock) X(pthread_rwlock_wrlock)                      \
    X(pthread_rwlock_tryrdlock) X(pthread_rwlock_trywrlock)                \
    X(pthread_rwlock_timedrdlock) X(pthread_rwlock_timedwrlock)            \
    X(pthread_rwlock_clockrdlock) X(pthread_rwlock_clockwrlock)           \
    X(flock) X(lockf) X(pthread_join) X(pthread_tryjoin_np)                \
    X(pthread_timedjoin_np) X(pthread_clockjoin_np) X(sigtimedwait)         \
    X(sigwaitinfo) X(sigwait) X(pause) X(sigsuspend) X(pthread_spin_lock) \
    X(pthread_spin_trylock) X(getnameinfo) X(pthread_once) X(recvmmsg)      \
    X(sendmmsg) X(sendfile) X(gethostbyname2) X(gethostbyname2_r)          \
    X(gethostbyaddr) X(gethostbyaddr_r) X(mq_receive) X(mq_timedreceive)   \
    X(mq_send) X(mq_timedsend) X(splice) X(tee)

#define COIL__SLOT(name) extern void *_Atomic coil__libc_##name;
COIL__HOOKED(COIL__SLOT)
#undef COIL__SLOT

/* Find name past this library (abort with a message if libc has none). */
void *coil__libc_find(void *_Atomic *slot, const char *name);

static inline void *coil__libc_get(void *_Atomic *slot, const char *name)
{
    void *p = atomic_load_explicit(slot, memory_order_acquire);
    return p ? p : coil__libc_find(slot, name);
}

/* libc's definition of name, typed as ours. */
#define LIBC(name)                                                          \
    ((__typeof__(&name))coil__libc_get(&coil__libc_##name, #name))

/* Is this call the program's, made in a task?  Otherwise it is libc's. */
static inline int coil__hook_in_task(void)
{
    return !coil__hook_off && coil_task_current() != NULL;
}

/* ------------------------------------------------- the program's fds */

/* What coil knows of an fd number, process-wide (fds are). */
enum {
    HFD_KNOWN = 1,        /* the rest is filled in */
    HFD_NONBLOCK = 2,     /* the program asked for O_NONBLOCK */
    HFD_SYNC = 4,         /* regular file and kin: libc's calls, always */
    HFD_MANAGED = 8,      /* coil set O_NONBLOCK underneath */
    HFD_FILE = 16,        /* a regular file (HFD_SYNC too) */
    HFD_SOCKET = 32,      /* a socket: waited for with MSG_DONTWAIT, never
                             made O_NONBLOCK (a listener's accept aside) */
    HFD_PIPE = 64,        /* a pipe read and written with RWF_NOWAIT, never
                             made O_NONBLOCK (src/io/nowait.c) */
    HFD_TTY = 128,        /* a terminal (HFD_SYNC too): a task's read waits
                             in poll first, its mode never touched */
};

typedef struct coil__hfd {
    _Atomic unsigned flags;
    _Atomic coil_time rcvtimeo;           /* SO_RCVTIMEO in ns, 0: none */
    _Atomic coil_time sndtimeo;           /* SO_SNDTIMEO */
} coil__hfd;

/* fd's record if it has one, else NULL.  Never allocates. */
coil__hfd *coil__hfd_get(int fd);

/* fd's record, made from what the kernel says if need be, but with
 * nothing changed: NULL if fd is bad or beyond the table. */
coil__hfd *coil__hfd_known(int fd);

/* fd's record for a call a task makes: made on first use from what the
 * kernel says (F_GETFL, fstat), and an fd the program keeps blocking is
 * switched to O_NONBLOCK underneath (HFD_MANAGED) unless it is a socket
 * or a pipe, which every call reads and writes with MSG_DONTWAIT or
 * RWF_NOWAIT instead: the program's own stdio on one then still blocks as
 * it expects.  NULL if fd is bad or beyond the table: the caller then
 * leaves the call to libc. */
coil__hfd *coil__hfd_use(int fd);

/* h, fd's record, is a listening socket a task is about to accept on:
 * accept4 takes no MSG_DONTWAIT, so switch it to O_NONBLOCK underneath
 * (HFD_MANAGED) unless the program did.  0, or -1 with errno. */
int coil__hfd_listening(coil__hfd *h, int fd);

/* Should a task's call on h wait in coil (the program wants it blocking
 * and it is not a regular file)? */
static inline int coil__hfd_waits(const coil__hfd *h)
{
    return !(atomic_load_explicit(&h->flags, memory_order_relaxed) &
             (HFD_NONBLOCK | HFD_SYNC));
}

/* O_NONBLOCK on fd for one call, for a syscall that takes no per-call
 * flag for it (sendfile, a splice's socket side): *saved gets the flags
 * to put back with coil__hfd_nonblock_end (-1: the flag was set already,
 * nothing to put back).  0, or -1 with errno (fcntl's). */
int coil__hfd_nonblock_begin(int fd, int *saved);
void coil__hfd_nonblock_end(int fd, int saved);

/* fd was just made (socket, pipe, accept) with the program asking for
 * O_NONBLOCK or not: drop whatever coil remembered of its number.  kind:
 * HFD_SOCKET for a socket, coil__hfd_pipe_kind() for a pipe. */
void coil__hfd_born(int fd, int nonblock, unsigned kind);

/* The kind of a new pipe: HFD_PIPE where pipes take RWF_NOWAIT, else 0. */
static inline unsigned coil__hfd_pipe_kind(void)
{
    return coil__io_pipes_nowait() ? HFD_PIPE : 0;
}

/* fd is going away (close, the target of dup2): forget it, and wake this
 * thread's tasks that wait on it with EBADF. */
void coil__hfd_retire(int fd);

/* Every fd from first to last is going away (close_range, closefrom):
 * coil__hfd_retire of each, walking only the records that exist. */
void coil__hfd_retire_range(unsigned first, unsigned last);

/* newfd is a duplicate of oldfd (dup, dup2, F_DUPFD): same file, so the
 * same mode. */
void coil__hfd_copy(int oldfd, int newfd);

/* Outside a task, libc's call said EAGAIN on fd: if only coil's
 * O_NONBLOCK made it say so, wait (poll(2), events, honouring the
 * SO_*TIMEO) and return 1 to try again; else 0. */
int coil__hfd_block_outside(int fd, short events);

/* The absolute deadline for a wait on h in direction dir (COIL__IO_RD or
 * COIL__IO_WR), from its SO_RCVTIMEO / SO_SNDTIMEO; -1: none. */
coil_time coil__hfd_deadline(const coil__hfd *h, int dir);

/* Do tasks' reads and writes of regular files go to the executor
 * (COIL_HOOK_FILES=executor in the environment, read once)? */
int coil__hook_files_on_executor(void);

/* ---------------------------------------------------------- waiting */

/* poll(2) for a task: deadline absolute (loop time), -1 for none.
 * Returns as poll(2). */
int coil__hook_poll(struct pollfd *fds, nfds_t n, coil_time deadline);

/* A relative timeout as poll(2) takes it (ms, negative: none) as a
 * deadline. */
coil_time coil__hook_ms_deadline(int ms);

/* sec seconds and ns nanoseconds (sec >= 0, ns >= 0 and below a few
 * seconds' worth) as ns, at most LLONG_MAX.  A timeval or timespec may
 * hold more seconds than a 64-bit count of ns: the kernel takes those as
 * "for ever", and so does coil, where the product would wrap and make a
 * deadline long past (a call that should wait would return at once). */
static inline coil_time coil__hook_span(long long sec, long long ns)
{
    if (sec >= LLONG_MAX / 1000000000 - 4)
        return LLONG_MAX;
    return sec * 1000000000 + ns;
}

/* Whether ts is a time the kernel takes (nanosleep, clock_nanosleep,
 * ppoll): not NULL, tv_sec >= 0, 0 <= tv_nsec < 1e9; otherwise EINVAL. */
static inline int coil__hook_ts_valid(const struct timespec *ts)
{
    return ts && ts->tv_sec >= 0 && ts->tv_nsec >= 0 &&
           ts->tv_nsec < 1000000000;
}

/* The deadline span ns from now: at most LLONG_MAX, which never comes. */
static inline coil_time coil__hook_after(coil_time span)
{
    coil_time now = coil_clock();
    return span > LLONG_MAX - now ? LLONG_MAX : now + span;
}

/* ------------------------------------------ children (src/hook/child.c) */

struct rusage;

/* wait4 for a task (options without WNOHANG): parks until the child pid
 * (or any, or a group, as wait4 takes pid) has changed state.  Returns
 * as wait4; -1 with errno EINTR (a handler without SA_RESTART ran) or
 * ECANCELED (error mode), or unwinds. */
pid_t coil__hook_wait4(pid_t pid, int *status, int options,
                       struct rusage *usage);

/* pthread_mutex_lock in a task (src/hook/lock.c), for cond.c: the
 * mutex, or libc's error.  May suspend. */
int coil__hook_mutex_lock(pthread_mutex_t *m);

/* Recursive mutexes and the tasks that hold them (src/hook/rmutex.c). */
int coil__rmutex_is_recursive(pthread_mutex_t *m);

/* pthread_mutex_trylock of a recursive m in a task: EBUSY while another
 * task of this thread holds it, else libc's, noting the task as holder. */
int coil__rmutex_trylock(pthread_mutex_t *m);

/* The task took recursive m with libc's lock, m's count before being
 * base (0: m was not this thread's): note it as m's holder. */
void coil__rmutex_taken(pthread_mutex_t *m, unsigned base);

/* How many notes this thread keeps: while none, an unlock need not ask. */
extern __thread int coil__rmutex_notes;

/* m is about to be unlocked: drop its note if this unlock frees it of
 * its task. */
void coil__rmutex_unlocking(pthread_mutex_t *m);

/* The loop-time deadline of abs, a time on clock with a valid tv_nsec
 * (pthread_cond_timedwait, sem_timedwait): now if it has passed, at most
 * LLONG_MAX (never) if it is too far to count (src/hook/sleep.c). */
coil_time coil__hook_abs_deadline(clockid_t clock, const struct timespec *abs);

/* fcntl's F_SETLKW or F_OFD_SETLKW in a task (src/hook/flock.c): libc's
 * fcntl with `try` (F_SETLK, F_OFD_SETLK) and lk until the lock is taken,
 * parking between tries.  As fcntl; EINTR after a handler without
 * SA_RESTART, ECANCELED (error mode); unwinds if cancelled. */
int coil__hook_setlkw(int (*libc)(int, int, ...), int fd, int try, void *lk);

/* ------------------------------------------- signals (src/hook/intr.c) */

/* The handlers run on this thread when a hooked call began, and which
 * of them interrupt it.  A call that parks more than once (waitpid's and
 * sem_wait's naps, poll's rounds) takes one mark at its start and hands
 * it to every park: a handler that ran between two parks, when the task
 * was on no list, still ends the call. */
typedef struct coil__intr_since {
    int any;                         /* any handler interrupts it, not
                                        only those without SA_RESTART */
    unsigned long any_at, norestart_at;    /* handlers run before it */
} coil__intr_since;

/* A hooked call that may wait, for the handlers that interrupt it. */
typedef struct coil__intr_wait {
    int hit;                         /* interrupted: the wait ends, EINTR */
    coil__intr_since since;
    coil_task *task;
    void (*wake)(struct coil__intr_wait *w);   /* NULL: wake the task */
    struct coil__intr_wait *prev, *next;
} coil__intr_wait;

extern _Atomic int coil__intr_armed_flag;

/* Has the program installed a handler that interrupts calls?  Until it
 * has, the calls below are coil's plain ones. */
static inline int coil__intr_armed(void)
{
    return atomic_load_explicit(&coil__intr_armed_flag, memory_order_relaxed);
}

/* The mark of a call beginning now: interrupted by any handler if `any`
 * (sleeps, poll, select, epoll_wait, sockets with SO_*TIMEO are never
 * restarted), else by one without SA_RESTART.  Until a handler is armed
 * no handler has run, and the counts are zero. */
void coil__intr_count(coil__intr_since *s);
static inline coil__intr_since coil__intr_now(int any)
{
    coil__intr_since s = {any, 0, 0};
    if (coil__intr_armed())
        coil__intr_count(&s);
    return s;
}

/* coil__hook_poll with the call's own mark: a call that waits like poll
 * but is restarted after an SA_RESTART handler (a terminal's read) takes
 * coil__intr_now(0). */
int coil__hook_poll_since(struct pollfd *fds, nfds_t n, coil_time deadline,
                          const coil__intr_since *since);

/* Enter / leave (a cleanup handler's signature) the list of this
 * thread's interruptible waits; w->hit is set at once if a handler that
 * counts ran after `since` was taken. */
void coil__intr_begin(coil__intr_wait *w, const coil__intr_since *since);
void coil__intr_end(void *w);

/* coil__io_run, ended with -1 and EINTR by a handler `since` counts. */
ssize_t coil__intr_io_run(const char *call, int fd, int dir,
                          coil_time deadline, coil__io_op *op,
                          const coil__intr_since *since);

/* coil_wait_fd, ended with -1 and EINTR by a handler `since` counts. */
int coil__intr_wait_fd(int fd, unsigned events, coil_time deadline,
                       const coil__intr_since *since);

/* coil_sleep_until, ended with -1 and EINTR by a handler `since`
 * counts. */
int coil__intr_sleep_until(coil_time until, const coil__intr_since *since);

/* ------------------------------------- tries again (src/hook/sleep.c) */

/* A task that waits for a lock or a semaphore nothing will wake it for
 * tries, and between tries yields COIL__HOOK_YIELDS times, then naps
 * from COIL__HOOK_NAP_FIRST ns doubling to COIL__HOOK_NAP_MOST.  With an
 * event (ev), a nap also ends when another task sets it. */
enum {
    COIL__HOOK_YIELDS = 3,
    COIL__HOOK_NAP_FIRST = 50000,
    COIL__HOOK_NAP_MOST = 5000000,
};

typedef struct coil__hook_backoff {
    int tries;
    coil_time nap;
    coil_time deadline;               /* loop time; -1: none */
    const coil__intr_since *since;    /* NULL: handlers do not interrupt */
    coil_event *ev;                   /* NULL, or ends naps when set
                                         (with since NULL only) */
} coil__hook_backoff;

void coil__hook_backoff_init(coil__hook_backoff *b, coil_time deadline,
                             const coil__intr_since *since);

/* Wait before the next try: 0, or -1 with errno ETIMEDOUT (the deadline
 * has passed: no wait), EINTR (a handler `since` counts ran) or ECANCELED
 * (error mode); unwinds if cancelled.  May suspend. */
int coil__hook_backoff_wait(coil__hook_backoff *b);

#pragma GCC visibility pop

#endif
