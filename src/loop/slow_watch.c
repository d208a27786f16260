/*
 * src/loop/slow_watch.c — debug mode: where a step that holds the loop is.
 *
 * Debug mode times each step and names the task that held the loop too
 * long; by then the step is over and where it spent the time is gone.  So
 * while a step runs, a watcher thread (one per process, started by the
 * first debug loop) looks at the loop's thread once the step passes the
 * threshold:
 *   - blocked in a syscall (/proc/self/task/TID/syscall gives its number,
 *     arguments, stack and instruction pointers): the report names the
 *     call and its fd, and the code that made it, found by scanning the
 *     words above the stack pointer for return addresses into code that
 *     is not libc's (read with process_vm_readv, which fails instead of
 *     faulting past the stack's end: a heuristic, said so in the report);
 *   - running: a signal (SIGRTMAX - 3, SA_RESTART, sent only while the
 *     thread is not in a syscall, so no call of the program's is
 *     interrupted) makes it record its own backtrace.
 * (Under qemu-user, /proc shows the emulator's own syscalls, numbered
 * for the host: the call named there may be wrong; and qemu-riscv64's
 * unwinder stops at the signal frame, so a running step is not located.)
 * What the watcher finds waits in the thread's slot until the step ends
 * and the loop prints it with the slow-step report.  Nothing of this runs
 * outside debug mode; in it, a step costs two clock reads and two stores.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/libc.h"
#include "loop/debug.h"

enum { FRAMES = 12, SCAN_WORDS = 512, PERIOD_NS = 2000000 };
enum { IDLE, BLOCKED, SIGNALLED, RUNNING };

typedef struct slot {
    _Atomic pid_t tid;                 /* 0: free */
    _Atomic coil_time deadline;        /* 0: no step watched */
    _Atomic int state;
    long sysno;
    unsigned long arg0;
    void *frames[FRAMES];              /* RUNNING: its backtrace;
                                          BLOCKED: the callers found */
    int nframes;
    struct slot *next;
} slot;

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static slot *slots;
static __thread slot *mine;
static pthread_key_t exit_key;
static int sample_signal;

/* ------------------------------------------------------ the watcher */

/* Return addresses above sp, into code outside libc: who made the call. */
static void scan_callers(slot *s, unsigned long sp)
{
    unsigned long words[SCAN_WORDS];
    struct iovec local = {words, sizeof words}, remote = {(void *)sp, sizeof words};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    Dl_info libc, at;
    dladdr((void *)(size_t)getpid, &libc);   /* not hooked */
    s->nframes = 0;
    for (ssize_t i = 0; i < got / (ssize_t)sizeof *words && s->nframes < 4; i++)
        if (dladdr((void *)(words[i] - 1), &at) && at.dli_sname &&
            at.dli_fbase != libc.dli_fbase && (char *)at.dli_saddr <
            (char *)words[i] && words[i] - (unsigned long)at.dli_saddr < 65536)
            s->frames[s->nframes++] = (void *)words[i];
}

static void look_at(slot *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)s->tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0)
        return;
    line[n] = '\0';
    if (strncmp(line, "running", 7) == 0) {
        atomic_store(&s->state, SIGNALLED);
        syscall(SYS_tgkill, getpid(), s->tid, sample_signal);
        return;
    }
    unsigned long a[6], sp = 0, pc = 0;
    long nr = -1;
    if (sscanf(line, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1],
               &a[2], &a[3], &a[4], &a[5], &sp, &pc) != 9 || nr < 0)
        return;
    s->sysno = nr;
    s->arg0 = a[0];
    scan_callers(s, sp);
    atomic_store(&s->state, BLOCKED);
}

static void *watch(void *unused)
{
    (void)unused;
    for (;;) {
        struct timespec period = {0, PERIOD_NS};
        nanosleep(&period, NULL);
        coil_time now = coil_clock();
        pthread_mutex_lock(&slots_lock);
        for (slot *s = slots; s; s = s->next) {
            coil_time d = atomic_load(&s->deadline);
            if (d && now >= d && atomic_load(&s->state) == IDLE && s->tid)
                look_at(s);
        }
        pthread_mutex_unlock(&slots_lock);
    }
    return NULL;
}

/* ------------------------------------------------ the loop's thread */

static void on_sample(int sig)
{
    (void)sig;
    int saved = errno;
    slot *s = mine;
    if (s && atomic_load(&s->state) == SIGNALLED) {
        s->nframes = backtrace(s->frames, FRAMES);
        atomic_store(&s->state, RUNNING);
    }
    errno = saved;
}

static void thread_gone(void *arg)
{
    slot *s = arg;
    atomic_store(&s->deadline, 0);
    atomic_store(&s->tid, 0);             /* free for the next thread */
}

static void start(void)
{
    void *warm[2];
    backtrace(warm, 2);                   /* load the unwinder now, not in
                                             the handler */
    pthread_key_create(&exit_key, thread_gone);
    sample_signal = SIGRTMAX - 3;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sample;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    COIL__LIBC(sigaction(sample_signal, &sa, NULL));
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);
    pthread_t t;
    if (pthread_create(&t, NULL, watch, NULL) == 0)
        pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
}

/* This thread's slot, made (or a free one taken) on first use. */
static slot *my_slot(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start);
    pid_t tid = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&slots_lock);
    slot *s = slots;
    while (s && atomic_load(&s->tid) != 0)
        s = s->next;
    if (!s && (s = calloc(1, sizeof *s))) {
        s->next = slots;
        slots = s;
    }
    if (s)
        atomic_store(&s->tid, tid);
    pthread_mutex_unlock(&slots_lock);
    if (s)
        pthread_setspecific(exit_key, s);
    return s;
}

void coil__slow_watch_begin(coil_time threshold)
{
    if (!mine && !(mine = my_slot()))
        return;
    atomic_store(&mine->state, IDLE);
    atomic_store(&mine->deadline, coil_clock() + threshold);
}

/* ------------------------------------------------------- the report */

/* The blocking calls a report names, and whether their first argument
 * is an fd (then the report says which file). */
typedef struct {
    long nr;
    const char *name;
    int fd_first;
} known_call;

static const known_call *known(long nr)
{
    static const known_call calls[] = {
        {SYS_read, "read", 1}, {SYS_write, "write", 1},
        {SYS_readv, "readv", 1}, {SYS_writev, "writev", 1},
        {SYS_recvfrom, "recvfrom", 1}, {SYS_sendto, "sendto", 1},
        {SYS_recvmsg, "recvmsg", 1}, {SYS_sendmsg, "sendmsg", 1},
        {SYS_connect, "connect", 1}, {SYS_accept4, "accept4", 1},
        {SYS_ppoll, "ppoll", 0}, {SYS_pselect6, "pselect6", 0},
        {SYS_clock_nanosleep, "clock_nanosleep", 0}, {SYS_futex, "futex", 0},
        {SYS_epoll_pwait, "epoll_pwait", 1}, {SYS_wait4, "wait4", 0},
        {SYS_openat, "openat", 0}, {SYS_fsync, "fsync", 1},
        {SYS_pread64, "pread64", 1}, {SYS_flock, "flock", 1},
        /* Older calls that not every CPU's Linux has: the newer ABIs
         * (aarch64, riscv64) keep only nanosleep, s390x has no accept. */
#ifdef SYS_poll
        {SYS_poll, "poll", 0},
#endif
#ifdef SYS_select
        {SYS_select, "select", 0},
#endif
#ifdef SYS_nanosleep
        {SYS_nanosleep, "nanosleep", 0},
#endif
#ifdef SYS_accept
        {SYS_accept, "accept", 0},
#endif
#ifdef SYS_epoll_wait
        {SYS_epoll_wait, "epoll_wait", 0},
#endif
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (calls[i].nr == nr)
            return &calls[i];
    return NULL;
}

/* "fn+0x1f (object)", or "object+0x1234" without a symbol. */
static int name_address(char *buf, size_t size, void *pc)
{
    Dl_info at;
    if (!dladdr(pc, &at) || !at.dli_fname)
        return snprintf(buf, size, "%p", pc);
    const char *obj = strrchr(at.dli_fname, '/');
    obj = obj ? obj + 1 : at.dli_fname;
    if (at.dli_sname)
        return snprintf(buf, size, "%s+%#lx (%s)", at.dli_sname,
                        (unsigned long)((char *)pc - (char *)at.dli_saddr), obj);
    return snprintf(buf, size, "%s+%#lx", obj,
                    (unsigned long)((char *)pc - (char *)at.dli_fbase));
}

static size_t append_frames(char *buf, size_t size, size_t n, void **frames,
                            int count, const char *sep)
{
    for (int i = 0; i < count && n < size; i++) {
        if (i)
            n += (size_t)snprintf(buf + n, size - n, "%s", sep);
        if (n < size)
            n += (size_t)name_address(buf + n, size - n, frames[i]);
    }
    return n;
}

/* A running thread's backtrace starts in the handler and the kernel's
 * return trampoline: skip to the interrupted code. */
static int interrupted_frame(const slot *s)
{
    for (int i = 0; i < s->nframes; i++) {
        Dl_info at;
        if (dladdr(s->frames[i], &at) && at.dli_sname &&
            strstr(at.dli_sname, "restore_rt"))
            return i + 1;
    }
    return s->nframes > 2 ? 2 : 0;
}

static void describe_blocked(const slot *s, char *buf, size_t size)
{
    const known_call *call = known(s->sysno);
    size_t n = call ? (size_t)snprintf(buf, size, " It was blocked in %s(2)",
                                       call->name)
                    : (size_t)snprintf(buf, size, " It was blocked in syscall %ld",
                                       s->sysno);
    if (call && call->fd_first && n < size) {
        char target[140];
        coil__format_fd_target(target, sizeof target, (int)s->arg0);
        n += (size_t)snprintf(buf + n, size - n, " on fd %d%s", (int)s->arg0,
                              target);
    }
    if (s->nframes && n < size) {
        n += (size_t)snprintf(buf + n, size - n, ", called from (stack scan) ");
        append_frames(buf, size, n, (void **)s->frames, s->nframes, " <- ");
    }
}

void coil__slow_watch_end(char *buf, size_t size)
{
    buf[0] = '\0';
    if (!mine)
        return;
    atomic_store(&mine->deadline, 0);
    int state = atomic_exchange(&mine->state, IDLE);
    if (state == BLOCKED) {
        describe_blocked(mine, buf, size);
    } else if (state == RUNNING) {
        int first = interrupted_frame(mine);
        size_t n = (size_t)snprintf(buf, size, " It was running ");
        append_frames(buf, size, n, mine->frames + first,
                      mine->nframes - first > 8 ? 8 : mine->nframes - first,
                      " <- ");
    }
}
