/*
 * src/io/file.c — file IO on the executor (layer 5): open, read, write, sync
 * and close regular files without blocking the loop (the seeds' aiofiles).
 *
 * Each call is one file_op: a record of the syscall to make and its
 * outcome, run by op_main() — on a pool thread through coil_to_thread_ex
 * inside a task, or right there on a thread with no loop running.
 *
 * The hazard this file is built around: a syscall cannot be interrupted,
 * but a cancelled task leaves coil_to_thread at once, and may free its
 * buffer, or its whole stack, while the pool thread is still in read(2).
 * So on the executor an op owns every byte the pool thread touches: the
 * path is copied in, data to write is copied in, data read lands in a
 * buffer the op allocates, copied out on the loop thread only once the
 * call has returned 0 (the caller is still there).  An op the caller
 * abandoned is freed by op_abandon, which also disposes of late results
 * that hold a resource (an fd that was opened for nobody) and of work
 * that must happen anyway (a close that never got to run).  Inline ops
 * use the caller's memory directly: the caller is blocked in them.
 *
 * Reads, writes and syncs go to the loop's io_uring instead where the
 * process has one (file_uring.c): the same heap op with its own buffer,
 * the same per-fd count, only the hop is gone.  Opens, closes and the
 * whole-file calls stay on the executor (several syscalls each, or a
 * path to copy), as does everything when the ring is unavailable.
 *
 * Before either, a read in a task asks the kernel for what the page cache
 * holds, right there (file_cache.c), into the caller's buffer (the caller
 * is blocked in it).  A cached read is then one syscall, the
 * cost of a plain pread(2); only a read that would wait for the disk (or
 * a pipe) takes the ring or the pool.  Every read and write in a task
 * counts against its cooperative budget, as those that complete without
 * suspending would otherwise never let another task run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coil.h"
#include "loop/debug.h"
#include "io/io.h"
#include "io/file_cache.h"
#include "io/file_uring.h"
#include "task/task.h"

/* Linux moves at most this much per read/write call (MAX_RW_COUNT). */
#define MAX_RW ((size_t)0x7ffff000)

/* read_all's first buffer when the size is unknown (/proc, pipes). */
#define READ_ALL_START (64u * 1024u)

enum op_kind {
    OP_OPEN, OP_READ, OP_PREAD, OP_WRITE, OP_PWRITE, OP_FSYNC,
    OP_FDATASYNC, OP_CLOSE, OP_READ_ALL, OP_WRITE_ALL
};

typedef struct file_op {
    const char *call;             /* the public name, for debug reports */
    int kind;                     /* OP_* */
    int fd;
    int flags;                    /* open(2) flags / write_all's flags */
    mode_t mode;
    off_t off;
    size_t n;                     /* bytes to move; read_all: the max */
    const char *path;
    char *buf;                    /* where the syscall reads or writes */
    char *whole;                  /* read_all's result, until handed over */
    size_t len;                   /* read_all's length */
    ssize_t ret;                  /* the syscall's return value */
    int err;                      /* and its errno, when ret < 0 */
    int ran;                      /* op_main ran (set on the pool thread) */
    int heap;                     /* on the executor: op, path and buf are
                                     owned copies */
    int tracked;                  /* counted in fd_uses until it ends */
    int ring_buf;                 /* buf is the ring's (coil__uring_buf) */
} file_op;

static int fail(int err)
{
    errno = err;
    return -1;
}

/* ---------------------------------------------- fds in use on the pool
 *
 * A cancelled caller may close its fd while a pool thread is still about
 * to use it; if the number were released, the next open() could reuse it
 * and the late read or write would hit another file.  So executor ops
 * count themselves per fd number, and coil_file_close of an fd still in
 * use leaves the close(2) to the last op to finish. */

typedef struct fd_use {
    unsigned inflight;            /* executor ops on this fd not ended */
    int close_pending;            /* coil_file_close came meanwhile */
    int seekable;                 /* lseek worked on it: it takes offsets
                                     (until coil_file_close) */
} fd_use;

static struct {
    pthread_mutex_t mu;
    fd_use *at;                   /* indexed by fd number */
    size_t cap;
} fd_uses = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int close_once(int fd);

/* Count an op on fd and, if seekable is not NULL, say there whether fd
 * is known to take offsets (check_positional).  Returns 0, or ENOMEM. */
static int use_begin(int fd, int *seekable)
{
    int err = 0;
    pthread_mutex_lock(&fd_uses.mu);
    if ((size_t)fd >= fd_uses.cap) {
        size_t cap = fd_uses.cap ? fd_uses.cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        fd_use *at = realloc(fd_uses.at, cap * sizeof *at);
        if (at) {
            memset(at + fd_uses.cap, 0, (cap - fd_uses.cap) * sizeof *at);
            fd_uses.at = at;
            fd_uses.cap = cap;
        } else
            err = ENOMEM;
    }
    if (!err) {
        fd_uses.at[fd].inflight++;
        if (seekable)
            *seekable = fd_uses.at[fd].seekable;
    }
    pthread_mutex_unlock(&fd_uses.mu);
    return err;
}

/* The op on fd is over (ran, or never will); the last one out performs
 * a close that was asked for meanwhile. */
static void use_end(int fd)
{
    pthread_mutex_lock(&fd_uses.mu);
    fd_use *u = &fd_uses.at[fd];
    int close_now = --u->inflight == 0 && u->close_pending;
    if (close_now)
        u->close_pending = 0;
    pthread_mutex_unlock(&fd_uses.mu);
    if (close_now)
        close_once(fd);
}

/* Whether fd, counted in by use_begin (which said whether it was known
 * to: `known`), takes an offset: 0, or -1 with errno ESPIPE for a pipe or
 * socket.  io_uring ignores the offset of a stream and reads it as one
 * (and may wait for ever), where pread(2) says ESPIPE, so the ring's
 * positional ops ask first; lseek answers, once per
 * fd until coil_file_close forgets it: a syscall each time cost a ring
 * read nearly twice a plain pread's time.  (An fd closed with close(2)
 * and its number reused for a pipe keeps the answer: pread on it reads
 * the pipe.  coil_file_close is the documented way to close.) */
static int check_positional(int fd, int known)
{
    if (known)
        return 0;
    if (lseek(fd, 0, SEEK_CUR) < 0)
        return -1;
    pthread_mutex_lock(&fd_uses.mu);
    fd_uses.at[fd].seekable = 1;
    pthread_mutex_unlock(&fd_uses.mu);
    return 0;
}

/* fd is about to be closed: its number may name another file next. */
static void forget_fd(int fd)
{
    pthread_mutex_lock(&fd_uses.mu);
    if ((size_t)fd < fd_uses.cap)
        fd_uses.at[fd].seekable = 0;
    pthread_mutex_unlock(&fd_uses.mu);
}

/* If ops on fd are in flight, mark it to be closed by the last: 1. */
static int close_deferred(int fd)
{
    int deferred = 0;
    pthread_mutex_lock(&fd_uses.mu);
    if ((size_t)fd < fd_uses.cap && fd_uses.at[fd].inflight) {
        fd_uses.at[fd].close_pending = 1;
        deferred = 1;
    }
    pthread_mutex_unlock(&fd_uses.mu);
    return deferred;
}

/* ------------------------------------------------------ the syscalls */

static void set_outcome(file_op *op, ssize_t r)
{
    op->ret = r;
    op->err = r < 0 ? errno : 0;
}

static ssize_t move_once(file_op *op)
{
    ssize_t r;
    do {
        switch (op->kind) {
        case OP_READ:   r = read(op->fd, op->buf, op->n); break;
        case OP_PREAD:  r = pread(op->fd, op->buf, op->n, op->off); break;
        case OP_WRITE:  r = write(op->fd, op->buf, op->n); break;
        default:        r = pwrite(op->fd, op->buf, op->n, op->off); break;
        }
    } while (r < 0 && errno == EINTR);
    return r;
}

static void run_move(file_op *op)
{
    /* A heap read op allocates its landing buffer here, off the loop. */
    if (!op->buf && !(op->buf = malloc(op->n ? op->n : 1))) {
        op->ret = -1;
        op->err = ENOMEM;
        return;
    }
    set_outcome(op, move_once(op));
}

static int open_retrying(const char *path, int flags, mode_t mode)
{
    int fd;
    do
        fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static int sync_retrying(int fd, int data_only)
{
    int r;
    do
        r = data_only ? fdatasync(fd) : fsync(fd);
    while (r < 0 && errno == EINTR);
    return r;
}

/* close(2) is never retried: on Linux the fd is released even when it
 * reports EINTR, and a retry could close a number someone else just got.
 * The pool's threads block every signal, so this is for inline calls. */
static int close_once(int fd)
{
    int r = close(fd);
    return r < 0 && errno == EINTR ? 0 : r;
}

/* read_all's buffer bound: max + 1 bytes of data (one past max proves
 * "too big") plus the NUL, without overflowing. */
static size_t read_all_cap_limit(size_t max)
{
    return max > SIZE_MAX - 2 ? SIZE_MAX : max + 2;
}

/* Read fd to EOF into op->whole / op->len.  Returns 0, or an errno. */
static int slurp(file_op *op, int fd)
{
    size_t max = op->n, limit = read_all_cap_limit(max);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    size_t cap = READ_ALL_START;
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((unsigned long long)st.st_size > max)
            return EFBIG;
        cap = (size_t)st.st_size + 2;   /* room for the EOF probe's byte */
    }
    if (cap > limit)
        cap = limit;
    char *b = malloc(cap);
    size_t len = 0;
    for (;;) {
        if (!b)
            return ENOMEM;
        op->whole = b;
        if (cap - len < 2) {            /* full: grow, up to the limit */
            size_t more = cap > limit / 2 ? limit : cap * 2;
            if (more <= cap)
                return EFBIG;
            /* On failure the old buffer stays in op->whole, to be freed. */
            b = realloc(b, more);
            cap = more;
            continue;
        }
        size_t want = cap - 1 - len;
        if (want > MAX_RW)
            want = MAX_RW;
        ssize_t r;
        do
            r = read(fd, b + len, want);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            return errno;
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > max)
            return EFBIG;
    }
    b[len] = '\0';
    op->len = len;
    return 0;
}

static void run_read_all(file_op *op)
{
    int fd = open_retrying(op->path, O_RDONLY, 0);
    int err = fd < 0 ? errno : slurp(op, fd);
    if (fd >= 0)
        close_once(fd);
    if (err) {
        free(op->whole);
        op->whole = NULL;
        op->len = 0;
    }
    op->ret = err ? -1 : 0;
    op->err = err;
}

/* Write all of op->buf to fd.  Returns 0, or an errno. */
static int spill(file_op *op, int fd)
{
    size_t done = 0;
    while (done < op->n) {
        size_t want = op->n - done > MAX_RW ? MAX_RW : op->n - done;
        ssize_t r;
        do
            r = write(fd, op->buf + done, want);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            return errno;
        if (r == 0)          /* a regular file never does this; no spin */
            return EIO;
        done += (size_t)r;
    }
    return 0;
}

static void run_write_all(file_op *op)
{
    int how = O_WRONLY | O_CREAT | (op->flags & (O_EXCL | O_SYNC | O_DSYNC));
    how |= op->flags & O_APPEND ? O_APPEND : O_TRUNC;
    int fd = open_retrying(op->path, how, 0666);
    if (fd < 0) {
        set_outcome(op, -1);
        return;
    }
    int err = spill(op, fd);
    /* close reports what a network file system could not flush. */
    if (close_once(fd) != 0 && !err)
        err = errno;
    op->ret = err ? -1 : 0;
    op->err = err;
}

/* The pool function (or the inline call): run the op, record outcome. */
static void *op_main(void *arg)
{
    file_op *op = arg;
    op->ran = 1;
    switch (op->kind) {
    case OP_OPEN:
        set_outcome(op, open_retrying(op->path, op->flags, op->mode));
        break;
    case OP_FSYNC:
    case OP_FDATASYNC:
        set_outcome(op, sync_retrying(op->fd, op->kind == OP_FDATASYNC));
        break;
    case OP_CLOSE:
        set_outcome(op, close_once(op->fd));
        break;
    case OP_READ_ALL:
        run_read_all(op);
        break;
    case OP_WRITE_ALL:
        run_write_all(op);
        break;
    default:
        run_move(op);
        break;
    }
    if (op->tracked)
        use_end(op->fd);
    return NULL;
}

/* ------------------------------------------------------- dispatching */

static void op_free(file_op *op)
{
    if (!op->heap)
        return;
    free((char *)op->path);
    if (op->ring_buf)
        coil__uring_buf_put(op->buf, op->n);
    else
        free(op->buf);
    free(op->whole);
    free(op);
}

/* The caller has gone (or the job could not be queued): dispose of what
 * the op produced or still owes, then free it.  Runs once fn is done with
 * op, on a pool thread or the caller's. */
static void op_abandon(void *arg, void *result)
{
    (void)result;
    file_op *op = arg;
    if (op->ran && op->kind == OP_OPEN && op->ret >= 0)
        close_once((int)op->ret);        /* opened for nobody */
    if (!op->ran && op->kind == OP_CLOSE)
        close_once(op->fd);              /* the promise: released anyway */
    if (!op->ran && op->tracked)
        use_end(op->fd);
    op_free(op);
}

/* A heap copy of tmpl owning copies of its path and of the data to write;
 * a read's buffer is left for the pool thread to allocate.  NULL (ENOMEM). */
static file_op *op_copy(const file_op *tmpl)
{
    file_op *op = malloc(sizeof *op);
    if (!op)
        return NULL;
    *op = *tmpl;
    op->heap = 1;
    op->buf = NULL;
    op->path = NULL;
    int writes = op->kind == OP_WRITE || op->kind == OP_PWRITE ||
                 op->kind == OP_WRITE_ALL;
    if (tmpl->path && !(op->path = strdup(tmpl->path)))
        goto nomem;
    if (writes && op->n && !(op->buf = malloc(op->n)))
        goto nomem;
    if (writes && op->n)
        memcpy(op->buf, tmpl->buf, op->n);
    return op;
nomem:
    op_free(op);
    return NULL;
}

/* The ring's name for an op kind, or -1 for one it does not run. */
static int ring_kind(int kind)
{
    switch (kind) {
    case OP_READ: case OP_PREAD:    return COIL__URING_READ;
    case OP_WRITE: case OP_PWRITE:  return COIL__URING_WRITE;
    case OP_FSYNC:                  return COIL__URING_FSYNC;
    case OP_FDATASYNC:              return COIL__URING_FDATASYNC;
    default:                        return -1;
    }
}

/* The caller of a ring op has gone and the kernel is done with op. */
static void ring_abandon(void *arg, int res)
{
    (void)res;
    file_op *op = arg;
    use_end(op->fd);
    op_free(op);
}

/* A heap op for the ring: tmpl's data copied in, a read's landing buffer
 * allocated here (no pool thread to do it), counted on its fd (*seekable:
 * as use_begin).  NULL (ENOMEM). */
static file_op *ring_op(const file_op *tmpl, int *seekable)
{
    file_op *op = op_copy(tmpl);
    if (!op)
        return NULL;
    if (tmpl->kind == OP_READ || tmpl->kind == OP_PREAD) {
        if (!(op->buf = coil__uring_buf_get(op->n))) {
            op_free(op);
            return NULL;
        }
        op->ring_buf = 1;
    }
    if (use_begin(op->fd, seekable) != 0) {
        op_free(op);
        return NULL;
    }
    op->tracked = 1;
    return op;
}

/* tmpl's syscall on the loop's io_uring.  Returns as dispatch, or
 * COIL__URING_UNAVAILABLE (nothing done: use the executor). */
static int dispatch_ring(const file_op *tmpl, file_op **out)
{
    int positional = tmpl->kind == OP_PREAD || tmpl->kind == OP_PWRITE;
    int seekable = 0;
    file_op *op = ring_op(tmpl, &seekable);
    if (!op)
        return fail(ENOMEM);
    if (positional && check_positional(op->fd, seekable) != 0) {
        int e = errno;
        use_end(op->fd);
        op_free(op);
        return fail(e);
    }
    int at_pos = op->kind == OP_READ || op->kind == OP_WRITE;
    coil__uring_req req = {.kind = ring_kind(op->kind), .fd = op->fd,
                           .buf = op->buf, .n = op->n,
                           .off = at_pos ? -1 : op->off,
                           .abandon = ring_abandon, .arg = op};
    int res = 0;
    int r = coil__uring_run(&req, &res);
    if (r == COIL__URING_UNAVAILABLE) {
        use_end(op->fd);                 /* nothing ran: no close was due */
        op_free(op);
        return r;
    }
    if (r != 0)
        return -1;                       /* ring_abandon has op now */
    use_end(op->fd);
    op->ran = 1;
    op->ret = res < 0 ? -1 : res;
    op->err = res < 0 ? -res : 0;
    *out = op;
    return 0;
}

/* Run tmpl's syscall: inline when no loop runs on this thread (*out is
 * tmpl), on the executor in a task (*out is a heap copy, to be freed with
 * op_free once its results are read).  Returns 0 with the outcome in
 * (*out)->ret / err, or -1 with errno as coil_to_thread or EPERM (a loop
 * callback); the op is then disposed of already. */
static int dispatch(file_op *tmpl, file_op **out)
{
    if (!coil_task_current()) {
        if (coil_loop_current()) {
            if (tmpl->kind == OP_CLOSE)
                close_once(tmpl->fd);    /* released whatever happens */
            return coil__debug_outside_task(tmpl->call);
        }
        op_main(tmpl);
        *out = tmpl;
        return 0;
    }
    if (ring_kind(tmpl->kind) >= 0 && coil__uring_enabled()) {
        int r = dispatch_ring(tmpl, out);
        if (r != COIL__URING_UNAVAILABLE)
            return r;
    }
    file_op *op = op_copy(tmpl);
    int uses_fd = tmpl->kind != OP_OPEN && tmpl->kind != OP_CLOSE &&
                  tmpl->kind != OP_READ_ALL && tmpl->kind != OP_WRITE_ALL;
    if (op && uses_fd && use_begin(op->fd, NULL) != 0) {
        op_free(op);
        op = NULL;
    }
    if (!op) {
        if (tmpl->kind == OP_CLOSE)
            close_once(tmpl->fd);
        return fail(ENOMEM);
    }
    op->tracked = uses_fd;
    if (coil_to_thread_ex(op_main, op, NULL, op_abandon) != 0)
        return -1;
    *out = op;
    return 0;
}

/* Dispatch and return the syscall's result as the syscall would. */
static ssize_t dispatch_simple(file_op *tmpl)
{
    file_op *op;
    if (dispatch(tmpl, &op) != 0)
        return -1;
    ssize_t r = op->ret;
    int err = op->err;
    op_free(op);
    if (r < 0)
        errno = err;
    return r;
}

/* ------------------------------------------------------- the calls */

int coil_file_open(const char *path, int flags, mode_t mode)
{
    if (!path)
        return fail(EINVAL);
    file_op t = {.call = "coil_file_open", .kind = OP_OPEN, .path = path,
                 .flags = flags, .mode = mode};
    return (int)dispatch_simple(&t);
}

/* A read in a task: its turn against the budget, and the page cache
 * first (file_cache.c).  What the cache served, or COIL__NOT_CACHED for
 * the rest of read_at;
 * a regular file's short read (the pages after it not in memory) goes on
 * there for the rest, at *t moved past what was read (*got). */
static ssize_t read_in_task(file_op *t, ssize_t *got)
{
    *got = 0;
    if (coil__budget_spend() != 0)
        return -1;
    /* Where a ring batch is forming and the probe found batches cheaper
     * than syscalls (file_uring.c), the read joins it. */
    if (!coil__file_cache_first() || coil__uring_batching())
        return COIL__NOT_CACHED;
    off_t at = t->kind == OP_PREAD ? t->off : -1;
    ssize_t r = coil__file_read_cached(t->fd, t->buf, t->n, at);
    if (r <= 0 || (size_t)r == t->n || !coil__file_has_more(t->fd, at, r))
        return r;
    *got = r;
    t->buf += r;
    t->n -= (size_t)r;
    t->off += r;
    return COIL__NOT_CACHED;
}

static ssize_t read_at(const char *call, int kind, int fd, void *buf,
                       size_t n, off_t off)
{
    if (fd < 0)
        return fail(EBADF);
    if (!buf || off < 0)
        return fail(EINVAL);
    file_op t = {.call = call, .kind = kind, .fd = fd, .buf = buf,
                 .n = n > MAX_RW ? MAX_RW : n, .off = off};
    ssize_t got = 0;
    if (coil_task_current()) {
        ssize_t r = read_in_task(&t, &got);
        if (r != COIL__NOT_CACHED)
            return r;
        buf = t.buf;
    }
    file_op *op;
    if (dispatch(&t, &op) != 0)
        /* After a part from the cache, a failure comes again next time,
         * as after a partial read(2); a cancellation must not wait. */
        return got > 0 && errno != ECANCELED ? got : -1;
    ssize_t r = op->ret;
    int err = op->err;
    if (r > 0 && op->buf != buf)
        memcpy(buf, op->buf, (size_t)r);   /* the caller is still here */
    op_free(op);
    if (got > 0)
        return r > 0 ? got + r : got;
    if (r < 0)
        errno = err;
    return r;
}

ssize_t coil_file_read(int fd, void *buf, size_t n)
{
    return read_at("coil_file_read", OP_READ, fd, buf, n, 0);
}

ssize_t coil_file_pread(int fd, void *buf, size_t n, off_t off)
{
    return read_at("coil_file_pread", OP_PREAD, fd, buf, n, off);
}

static ssize_t write_at(const char *call, int kind, int fd, const void *buf,
                        size_t n, off_t off)
{
    if (fd < 0)
        return fail(EBADF);
    if (!buf || off < 0)
        return fail(EINVAL);
    file_op t = {.call = call, .kind = kind, .fd = fd, .buf = (char *)buf,
                 .n = n > MAX_RW ? MAX_RW : n, .off = off};
    if (coil_task_current() && coil__budget_spend() != 0)
        return -1;                    /* the ring may not suspend either */
    return dispatch_simple(&t);
}

ssize_t coil_file_write(int fd, const void *buf, size_t n)
{
    return write_at("coil_file_write", OP_WRITE, fd, buf, n, 0);
}

ssize_t coil_file_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return write_at("coil_file_pwrite", OP_PWRITE, fd, buf, n, off);
}

static int sync_fd(const char *call, int kind, int fd)
{
    if (fd < 0)
        return fail(EBADF);
    file_op t = {.call = call, .kind = kind, .fd = fd};
    return (int)dispatch_simple(&t);
}

int coil_file_fsync(int fd)
{
    return sync_fd("coil_file_fsync", OP_FSYNC, fd);
}

int coil_file_fdatasync(int fd)
{
    return sync_fd("coil_file_fdatasync", OP_FDATASYNC, fd);
}

int coil_file_close(int fd)
{
    if (fd < 0)
        return fail(EBADF);
    coil__io_forget(fd);
    forget_fd(fd);
    if (close_deferred(fd))
        return 0;
    file_op t = {.call = "coil_file_close", .kind = OP_CLOSE, .fd = fd};
    return (int)dispatch_simple(&t);
}

int coil_file_read_all(const char *path, void **buf, size_t *len, size_t max)
{
    if (buf)
        *buf = NULL;
    if (len)
        *len = 0;
    if (!path || !buf || !len)
        return fail(EINVAL);
    file_op t = {.call = "coil_file_read_all", .kind = OP_READ_ALL,
                 .path = path, .n = max};
    file_op *op;
    if (dispatch(&t, &op) != 0)
        return -1;
    int err = op->err;
    if (!err) {
        *buf = op->whole;                /* handed over to the caller */
        *len = op->len;
        op->whole = NULL;
    }
    op_free(op);
    return err ? fail(err) : 0;
}

int coil_file_write_all(const char *path, const void *buf, size_t len,
                        int flags)
{
    if (!path || (!buf && len) ||
        (flags & ~(O_APPEND | O_EXCL | O_SYNC | O_DSYNC)))
        return fail(EINVAL);
    file_op t = {.call = "coil_file_write_all", .kind = OP_WRITE_ALL,
                 .path = path, .buf = (char *)buf, .n = len, .flags = flags};
    return (int)dispatch_simple(&t);
}
