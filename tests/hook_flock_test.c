/*
 * tests/hook_flock_test.c — the hook layer's file locks
 * (src/hook/flock.c): flock, lockf and fcntl's F_SETLKW and
 * F_OFD_SETLKW park a task that waits for a lock, not its thread.
 *
 * The holder task takes a lock on its own open of a temporary file and
 * waits in a hooked read for a byte that the test writes only after its
 * own task ran on while another task waited for a conflicting lock: a
 * wait that held the thread would keep the byte from ever coming, and
 * the watchdog fails the test instead of letting it hang.  flock and
 * open-file-description (OFD) locks conflict between two opens of one
 * file in one process, and an OFD lock with a classic record lock (as
 * fcntl(2) says), so no second process is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "task_helpers.h"
#include "hook_helpers.h"

#define UNIT COIL_MSEC(30)

/* The ways to take a lock. */
enum { FLOCK, OFD, RECORD, LOCKF };

typedef struct {
    char path[64];
    int pipe[2];              /* the holder reads a byte from [0] */
    int hold;                 /* how the holder locks */
} shared;

typedef struct {
    shared *s;
    int way;
    int r, err;               /* r: -2 until the lock call returns */
} waiter;

static int open_file(shared *s)
{
    int fd = open(s->path, O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    return fd;
}

static int lock(int fd, int way)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;               /* the whole file */
    switch (way) {
    case FLOCK: return flock(fd, LOCK_EX);
    case OFD: return fcntl(fd, F_OFD_SETLKW, &fl);
    case RECORD: return fcntl(fd, F_SETLKW, &fl);
    default: return lockf(fd, F_LOCK, 0);
    }
}

static void shared_init(shared *s, int hold)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "/tmp/coil-flock-XXXXXX");
    int fd = mkstemp(s->path);
    CHECK(fd >= 0);
    CHECK(close(fd) == 0);
    CHECK(pipe(s->pipe) == 0);
    s->hold = hold;
}

static void shared_free(shared *s)
{
    CHECK(unlink(s->path) == 0);
    CHECK(close(s->pipe[0]) == 0 && close(s->pipe[1]) == 0);
}

/* Lock its own open of the file, wait in a hooked read, let go (close
 * drops flock and OFD locks of the open, and record locks of the
 * process). */
static void *holder(void *arg)
{
    shared *s = arg;
    int fd = open_file(s);
    CHECK(lock(fd, s->hold) == 0);
    char c;
    CHECK(read(s->pipe[0], &c, 1) == 1);
    CHECK(close(fd) == 0);
    return NULL;
}

static void *wait_task(void *arg)
{
    waiter *w = arg;
    int fd = open_file(w->s);
    int r = lock(fd, w->way);
    w->err = errno;
    w->r = r;
    CHECK(close(fd) == 0);
    return NULL;
}

static coil_task *start_holder(shared *s)
{
    coil_task *h = coil_spawn(holder, s);
    CHECK(h != NULL);
    coil_yield();                         /* it holds the lock, parked */
    CHECK(!task_ended(h));
    return h;
}

static coil_task *start_waiter(waiter *w, shared *s, int way)
{
    *w = (waiter){s, way, -2, 0};
    coil_task *t = coil_spawn(wait_task, w);
    CHECK(t != NULL);
    return t;
}

/* hold, then a waiter of each way in ways: each parks while the loop
 * runs on, and each gets the lock once the holder lets go. */
static void contend(int hold, const int *ways, int n)
{
    shared s;
    shared_init(&s, hold);
    coil_task *h = start_holder(&s);
    waiter w[4];
    coil_task *t[4];
    for (int i = 0; i < n; i++)
        t[i] = start_waiter(&w[i], &s, ways[i]);
    coil_sleep(UNIT);                     /* the loop runs on... */
    for (int i = 0; i < n; i++)
        CHECK(!task_ended(t[i]) && w[i].r == -2);   /* ...they wait */
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    for (int i = 0; i < n; i++) {
        await_task(t[i]);
        CHECK(w[i].r == 0);
    }
    shared_free(&s);
}

static void *flock_main(void *arg)
{
    (void)arg;
    int ways[] = {FLOCK};
    contend(FLOCK, ways, 1);
    return NULL;
}

TEST(flock_on_another_open_of_the_file_parks_the_task_not_the_thread)
{
    watchdog();
    run_main(flock_main, NULL);
}

static void *fcntl_main(void *arg)
{
    (void)arg;
    int ofd[] = {OFD};
    contend(OFD, ofd, 1);
    /* Record locks are the process's: they wait for an OFD lock. */
    int record[] = {RECORD, LOCKF};
    contend(OFD, record, 2);
    return NULL;
}

TEST(fcntl_setlkw_ofd_setlkw_and_lockf_park_the_task_not_the_thread)
{
    watchdog();
    run_main(fcntl_main, NULL);
}

/* ---------------------------------------------------- signals, cancel */

/* As the kernel's wait: restarted after a handler with SA_RESTART,
 * EINTR after one without. */
static void *eintr_main(void *arg)
{
    (void)arg;
    shared s;
    shared_init(&s, FLOCK);
    coil_task *h = start_holder(&s);
    waiter w;
    coil_task *t = start_waiter(&w, &s, FLOCK);
    handle_counting(SIGUSR1, SA_RESTART);
    coil_sleep(UNIT);
    CHECK(raise(SIGUSR1) == 0 && handled == 1);
    coil_sleep(UNIT);
    CHECK(!task_ended(t) && w.r == -2);
    handle_counting(SIGUSR1, 0);
    CHECK(raise(SIGUSR1) == 0 && handled == 2);
    await_task(t);
    CHECK(w.r == -1 && w.err == EINTR);
    signal(SIGUSR1, SIG_DFL);
    /* A cancelled waiter unwinds out of the wait. */
    t = start_waiter(&w, &s, FLOCK);
    coil_sleep(UNIT);
    CHECK(!task_ended(t));
    CHECK(coil_task_cancel(t) == 1);
    CHECK_ERRNO(coil_await(coil_task_future(t), NULL), ECANCELED);
    coil_task_release(t);
    CHECK(w.r == -2);
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    shared_free(&s);
    return NULL;
}

TEST(a_handler_without_sa_restart_ends_a_wait_and_a_cancel_unwinds_it)
{
    watchdog();
    run_main(eintr_main, NULL);
}

/* What is not a wait is libc's, at once. */
static void *refusals_main(void *arg)
{
    (void)arg;
    shared s;
    shared_init(&s, FLOCK);
    coil_task *h = start_holder(&s);
    int fd = open_file(&s);
    CHECK_ERRNO(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    CHECK_ERRNO(flock(-1, LOCK_EX), EBADF);
    CHECK_ERRNO(lockf(-1, F_LOCK, 0), EBADF);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    CHECK_ERRNO(fcntl(-1, F_SETLKW, &fl), EBADF);
    fl.l_type = 12345;
    CHECK_ERRNO(fcntl(fd, F_OFD_SETLKW, &fl), EINVAL);
    CHECK(close(fd) == 0);
    CHECK(write(s.pipe[1], "x", 1) == 1);
    await_task(h);
    shared_free(&s);
    return NULL;
}

TEST(bad_fds_and_requests_fail_at_once_with_libcs_errno)
{
    watchdog();
    run_main(refusals_main, NULL);
}

RUN_TESTS(T(flock_on_another_open_of_the_file_parks_the_task_not_the_thread),
          T(fcntl_setlkw_ofd_setlkw_and_lockf_park_the_task_not_the_thread),
          T(a_handler_without_sa_restart_ends_a_wait_and_a_cancel_unwinds_it),
          T(bad_fds_and_requests_fail_at_once_with_libcs_errno))
