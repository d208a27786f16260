/*
 * src/hook/flock.c — file locks, hooked: flock, lockf and fcntl's
 * F_SETLKW and F_OFD_SETLKW park a task that waits for a lock instead of
 * its thread.
 *
 * A file lock another process holds keeps a thread waiting for as long
 * as that process likes: a loop would stop with it.  And two tasks can
 * wait for each other: flock and open-file-description locks belong to
 * the open file, so two tasks that opened the same file each have their
 * own, and the second to lock it would sleep in the kernel, with the
 * thread, until the first — never to run again there — let go.  (fcntl's
 * classic record locks and lockf's are the process's: its tasks never
 * conflict with each other on one, only with other processes.)
 *
 * In a task each call tries the lock without waiting (LOCK_NB, F_TLOCK,
 * F_SETLK, F_OFD_SETLK) and, while someone else holds it, yields, then
 * naps 50 us doubling to 5 ms, trying after each (src/hook/sleep.c):
 * nothing tells of a file lock's release.  Like the kernel's wait, this
 * one is restarted after a handler with SA_RESTART and ends with EINTR
 * after one without; a cancelled task unwinds out of it (default mode)
 * or gets ECANCELED.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "hook.h"

/* A file lock to wait for, and how to try it without waiting. */
typedef struct file_lock {
    int (*try)(const struct file_lock *l);     /* 0, or -1 and errno */
    int fd, op;
    off_t len;
    void *lk;
    int (*fcntl)(int, int, ...);
} file_lock;

/* Does a try's failure (errno) mean that someone else holds the lock? */
static int conflict(int err)
{
    return err == EWOULDBLOCK || err == EAGAIN || err == EACCES;
}

/* Try l until it is taken: 0, or -1 with the try's errno (not a
 * conflict), EINTR (a handler without SA_RESTART) or ECANCELED. */
static int wait_for(const file_lock *l)
{
    coil__intr_since since = coil__intr_now(0);
    coil__hook_backoff b;
    coil__hook_backoff_init(&b, -1, &since);
    int r;
    while ((r = l->try(l)) != 0 && conflict(errno) &&
           coil__hook_backoff_wait(&b) == 0)
        ;
    return r;
}

static int try_flock(const file_lock *l)
{
    return LIBC(flock)(l->fd, l->op | LOCK_NB);
}

static int try_lockf(const file_lock *l)
{
    return LIBC(lockf)(l->fd, F_TLOCK, l->len);
}

static int try_setlk(const file_lock *l)
{
    return l->fcntl(l->fd, l->op, l->lk);
}

int flock(int fd, int op)
{
    if (!coil__hook_in_task() || (op & LOCK_NB) ||
        !(op & (LOCK_SH | LOCK_EX)))
        return LIBC(flock)(fd, op);
    file_lock l = {.try = try_flock, .fd = fd, .op = op};
    return wait_for(&l);
}

int lockf(int fd, int cmd, off_t len)
{
    if (!coil__hook_in_task() || cmd != F_LOCK)
        return LIBC(lockf)(fd, cmd, len);
    file_lock l = {.try = try_lockf, .fd = fd, .len = len};
    return wait_for(&l);
}

int coil__hook_setlkw(int (*libc)(int, int, ...), int fd, int try, void *lk)
{
    file_lock l = {.try = try_setlk, .fd = fd, .op = try, .lk = lk,
                   .fcntl = libc};
    return wait_for(&l);
}
