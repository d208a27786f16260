/*
 * src/io/file_uring.c — file IO on an io_uring owned by the loop (layer 6).
 *
 * Why: on the executor every coil_file_* call is two cross-thread hops
 * (a futex to a pool thread, an eventfd back), about 10 us each on a VM,
 * while a read of a cached page is a microsecond.  A ring per loop
 * (made on first use, freed at coil_loop_close) takes the request in the
 * loop's own thread; a read the page cache can serve completes inside
 * io_uring_enter, so the task gets its result without suspending.  Others
 * complete later, in the kernel's own workers or as task work run in the
 * loop's thread; the ring's eventfd, in the loop's epoll set, wakes the
 * loop for them.  (Not the "async" eventfd, IORING_REGISTER_EVENTFD_ASYNC:
 * it stays silent for completions run as task work in the loop's thread,
 * and a task waited for such a one for ever.  An inline completion costs
 * a spurious wake-up instead, which reads the eventfd and finds nothing.)
 *
 * Which backend.  Once per process: COIL_FILE_BACKEND=executor forces the
 * executor; otherwise (or with =uring) a probe ring must be made and
 * support what this file uses (READ/WRITE at the file position, FSYNC,
 * ASYNC_CANCEL: Linux 5.6), else the executor it is — an old kernel,
 * kernel.io_uring_disabled, a seccomp filter (EPERM), an emulator that
 * does not know the syscalls (qemu-user: ENOSYS).  A build without liburing
 * (COIL_HAVE_URING unset: cross builds here) has only the executor.  A loop
 * whose own ring cannot be made (ENOMEM, RLIMIT_MEMLOCK on kernels before
 * 5.12) also falls back, loop by loop.
 *
 * Submitting in batches.  io_uring_enter costs more than a pread(2)
 * (3.3 us against 2.0 on this VM, one 4 KiB cached read each); 64 reads
 * in one enter cost 0.8 us each.  So a request made while the loop has
 * other work ready joins a batch instead of entering the kernel: its SQE
 * waits in the ring, and a work item posted with the batch's first
 * request (behind whatever is ready now) submits them all in one enter and
 * takes the completions.  A request made when nothing else is ready is
 * submitted at once: a lone reader gets its answer without suspending.
 *
 * Reads in batches, or not.  A read has a cheaper way than the ring: the
 * page cache, asked inline (file_cache.c).  A batch beats it only where a
 * syscall costs more than a request on the ring does, plus what the
 * ring's path costs the task (suspending, its future and record, the copy
 * out of the landing buffer): on the VM above, with syscalls at ~1.2 us,
 * by 2.5x; on a 2026-12 VM with syscalls at 0.2 us, 64 tasks' reads took
 * 10-15% more CPU in batches than inline.  So the probe also times a
 * syscall and a request on the ring (the cheapest of a few rounds each),
 * and reads join batches only where syscall > request + RING_PATH_NS.
 * COIL_FILE_READ_BATCH=always|never overrides (tests use it to run both).
 * Writes and syncs have no inline way: they always join a batch.
 *
 * Cancellation.  A request is a `pending` record, the CQE's user_data.  A
 * caller cancelled while the kernel still has the request leaves at once:
 * its pending loses its future, an IORING_OP_ASYNC_CANCEL is submitted,
 * and when the request's CQE comes (cancelled or not) the reaper calls
 * abandon() for the buffer's owner.  The buffer is file.c's bounce buffer,
 * never the caller's, so a late completion writes nothing the caller can
 * see.  At coil_loop_close every request still in the kernel is cancelled
 * and waited for (1 s at most): one that does not end by then keeps its
 * record and buffer for ever rather than free memory the kernel may
 * write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coil.h"
#include "core/list.h"
#include "io/file_uring.h"
#include "loop/loop.h"
#include "loop/poll.h"

const char *coil_file_backend(void)
{
    return coil__uring_enabled() ? "io_uring" : "executor";
}

#ifndef COIL_HAVE_URING

int coil__uring_enabled(void)
{
    return 0;
}

int coil__uring_batching(void)
{
    return 0;
}

void *coil__uring_buf_get(size_t n)
{
    return malloc(n ? n : 1);
}

void coil__uring_buf_put(void *buf, size_t n)
{
    (void)n;
    free(buf);
}

int coil__uring_run(const coil__uring_req *req, int *res)
{
    (void)req;
    (void)res;
    return COIL__URING_UNAVAILABLE;
}

#else

#include <liburing.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loop/debug.h"
#include "task/task.h"

#define RING_ENTRIES 256
/* How long coil_loop_close waits for cancelled requests to end. */
#define CLOSE_WAIT COIL_SEC(1)

typedef struct pending {
    coil__list link;              /* in ring.inflight until its CQE */
    coil_future *fut;             /* the waiting caller's; NULL once gone */
    int res;                      /* the CQE's result, once done */
    int done;
    void (*abandon)(void *arg, int res);
    void *arg;
} pending;

/* Landing buffers kept for reuse: size classes of 4 KiB << k. */
enum { BUF_MIN = 4096, BUF_CLASSES = 5, BUF_KEEP = 8 };

typedef struct ring {
    struct io_uring uring;
    void *kept[BUF_CLASSES][BUF_KEEP];
    int nkept[BUF_CLASSES];
    int efd;                      /* eventfd: async completions */
    coil__poll_watch watch;       /* efd in the loop's epoll set */
    coil__work reap;              /* posted when efd fires */
    coil__work flush;             /* posted with a batch's first SQE */
    coil_loop *loop;
    coil__list inflight;          /* of pending */
} ring;

/* A loop whose ring could not be made: its slot holds this. */
static char no_ring;
/* The user_data of ASYNC_CANCEL requests: their CQEs are ignored. */
static char cancel_tag;

/* ------------------------------------------------- the process's choice */

/* 1: io_uring, -1: executor, 0: not decided yet. */
static atomic_int backend;
/* Reads join batches (see the top): 1 yes, 0 no; set with backend. */
static atomic_int read_batch;

/* What a read costs on the ring's path beyond the ring's own request:
 * 64 tasks' reads of a cached file, inline against in batches, less the
 * syscall saved and the request's cost (2026-12-07: 170 - 92 + 205 ns). */
#define RING_PATH_NS 280
/* Rounds and calls per round of the timings. */
enum { TIME_ROUNDS = 8, TIME_CALLS = 16 };

static int ring_has_what_we_use(struct io_uring *u, unsigned features)
{
    if (!(features & IORING_FEAT_RW_CUR_POS) || !(features & IORING_FEAT_NODROP))
        return 0;
    struct io_uring_probe *p = io_uring_get_probe_ring(u);
    if (!p)
        return 0;
    int ok = io_uring_opcode_supported(p, IORING_OP_READ) &&
             io_uring_opcode_supported(p, IORING_OP_WRITE) &&
             io_uring_opcode_supported(p, IORING_OP_FSYNC) &&
             io_uring_opcode_supported(p, IORING_OP_ASYNC_CANCEL);
    io_uring_free_probe(p);
    return ok;
}

/* ns a syscall costs: the cheapest round's mean. */
static coil_time time_syscall(void)
{
    coil_time best = -1;
    for (int round = 0; round < TIME_ROUNDS; round++) {
        coil_time t0 = coil_clock();
        for (int i = 0; i < TIME_CALLS; i++)
            (void)syscall(SYS_getppid);     /* no libc cache in the way */
        coil_time t = (coil_clock() - t0) / TIME_CALLS;
        if (best < 0 || t < best)
            best = t;
    }
    return best;
}

/* ns a request costs in a batch on u (TIME_CALLS entries): no-ops, one
 * enter a round; -1 if the ring would not take them. */
static coil_time time_ring_request(struct io_uring *u)
{
    coil_time best = -1;
    for (int round = 0; round < TIME_ROUNDS; round++) {
        for (int i = 0; i < TIME_CALLS; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(u);
            if (!sqe)
                return -1;
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data(sqe, NULL);
        }
        coil_time t0 = coil_clock();
        int n = io_uring_submit(u);
        coil_time t = (coil_clock() - t0) / TIME_CALLS;
        struct io_uring_cqe *cqe;
        while (io_uring_peek_cqe(u, &cqe) == 0)
            io_uring_cqe_seen(u, cqe);
        if (n != TIME_CALLS)
            return -1;
        if (best < 0 || t < best)
            best = t;
    }
    return best;
}

/* Whether reads should join batches: COIL_FILE_READ_BATCH, else whether
 * a syscall costs more than a request in a batch and the ring's path. */
static int reads_batch(struct io_uring *u)
{
    const char *want = getenv("COIL_FILE_READ_BATCH");
    if (want && strcasecmp(want, "always") == 0)
        return 1;
    if (want && strcasecmp(want, "never") == 0)
        return 0;
    coil_time request = time_ring_request(u);
    return request >= 0 && time_syscall() > request + RING_PATH_NS;
}

static int probe(void)
{
    const char *want = getenv("COIL_FILE_BACKEND");
    if (want && strcasecmp(want, "executor") == 0)
        return -1;
    struct io_uring u;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    if (io_uring_queue_init_params(TIME_CALLS, &u, &params) < 0)
        return -1;               /* ENOSYS, EPERM, ENOMEM: the executor */
    int ok = ring_has_what_we_use(&u, params.features);
    if (ok)
        atomic_store_explicit(&read_batch, reads_batch(&u),
                              memory_order_relaxed);
    io_uring_queue_exit(&u);
    return ok ? 1 : -1;
}

int coil__uring_enabled(void)
{
    int b = atomic_load_explicit(&backend, memory_order_relaxed);
    if (b == 0) {
        int saved = errno;
        b = probe();                     /* racing probes agree */
        errno = saved;
        atomic_store_explicit(&backend, b, memory_order_relaxed);
    }
    return b > 0;
}

/* ------------------------------------------------------- completions */

/* One CQE: hand the result to the waiting caller, or to abandon(). */
static void complete(ring *r, pending *p, int res)
{
    coil__list_remove(&p->link);
    p->res = res;
    p->done = 1;
    if (p->fut) {
        (void)coil_future_set_result(p->fut, NULL);
        return;
    }
    (void)r;
    p->abandon(p->arg, res);
    free(p);
}

/* Take every CQE there is: no syscall, the queue is shared memory. */
static void reap(ring *r)
{
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&r->uring, &cqe) == 0) {
        void *tag = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&r->uring, cqe);
        /* liburing's own timeouts (kernels without EXT_ARG) carry
         * LIBURING_UDATA_TIMEOUT. */
        if (tag && tag != &cancel_tag &&
            cqe->user_data != LIBURING_UDATA_TIMEOUT)
            complete(r, tag, res);
    }
}

static void reap_posted(void *arg)
{
    ring *r = arg;
    uint64_t count;
    while (read(r->efd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    reap(r);
}

/* The batch's work item: into the kernel, and the completions out. */
static void flush_batch(void *arg)
{
    ring *r = arg;
    reap(r);                          /* room in the CQ, if it was full */
    if (io_uring_submit(&r->uring) < 0) {
        /* EAGAIN, EBUSY: short of memory or CQ room for now.  The
         * requests still wait in the SQ: try again next iteration. */
        coil__loop_post(r->loop, &r->flush);
    }
    reap(r);
}

/* In the poller's dispatch: only schedule (poll.h's rule). */
static void efd_ready(coil__poll_watch *w, unsigned events)
{
    (void)events;
    ring *r = coil__container_of(w, ring, watch);
    coil__loop_post(r->loop, &r->reap);
}

/* ------------------------------------------------------- the loop's ring */

static int ring_slot;

/* Cancel what is in flight and wait for it, up to CLOSE_WAIT; nobody
 * waits for the results any more (the loop's tasks are abandoned). */
static void drain_at_close(ring *r)
{
    for (coil__list *n = r->inflight.next; n != &r->inflight; n = n->next) {
        pending *p = coil__container_of(n, pending, link);
        p->fut = NULL;                   /* may be freed with its task */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
        if (sqe) {
            io_uring_prep_cancel(sqe, p, 0);
            io_uring_sqe_set_data(sqe, &cancel_tag);
        }
    }
    io_uring_submit(&r->uring);
    coil_time until = coil_clock() + CLOSE_WAIT;
    while (!coil__list_empty(&r->inflight) && coil_clock() < until) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {0, COIL_MSEC(10)};
        if (io_uring_wait_cqe_timeout(&r->uring, &cqe, &ts) == 0)
            reap(r);
    }
}

static void ring_free(coil_loop *loop, void **slot)
{
    (void)loop;
    ring *r = *slot;
    if (!r || r == (void *)&no_ring)
        return;
    drain_at_close(r);
    for (int k = 0; k < BUF_CLASSES; k++)
        while (r->nkept[k] > 0)
            free(r->kept[k][--r->nkept[k]]);
    io_uring_queue_exit(&r->uring);
    close(r->efd);                       /* leaves the epoll set with it */
    /* A request that never ended keeps r->inflight's records: leaked. */
    free(r);
}

/* The deadlock rule's question (loop.h): a request in flight ends by the
 * kernel's completion, which wakes the loop through the ring's eventfd. */
static int ring_may_wake(coil_loop *loop)
{
    ring *r = *coil__loop_slot(loop, ring_slot);
    return r && !coil__list_empty(&r->inflight);
}

COIL__REGISTER static void register_ring(void)
{
    coil__loop_add_waker(ring_may_wake);
    ring_slot = coil__loop_register(ring_free);
}

static ring *ring_new(coil_loop *loop)
{
    ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->loop = loop;
    r->efd = -1;
    coil__list_init(&r->inflight);
    coil__work_init(&r->reap, reap_posted, r);
    coil__work_init(&r->flush, flush_batch, r);
    r->watch.ready = efd_ready;
    if (io_uring_queue_init(RING_ENTRIES, &r->uring, 0) < 0) {
        free(r);
        return NULL;
    }
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd < 0 || io_uring_register_eventfd(&r->uring, r->efd) < 0 ||
        coil__poll_add(coil__loop_poll(loop), r->efd, &r->watch) != 0) {
        if (r->efd >= 0)
            close(r->efd);
        io_uring_queue_exit(&r->uring);
        free(r);
        return NULL;
    }
    return r;
}

static ring *ring_of(coil_loop *loop)
{
    void **slot = coil__loop_slot(loop, ring_slot);
    if (!*slot) {
        ring *r = ring_new(loop);
        *slot = r ? (void *)r : (void *)&no_ring;
    }
    return *slot == (void *)&no_ring ? NULL : *slot;
}

/* --------------------------------------------------------- submitting */

static struct io_uring_sqe *sqe_for(ring *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
    if (!sqe && io_uring_submit(&r->uring) >= 0)   /* the SQ was full */
        sqe = io_uring_get_sqe(&r->uring);
    return sqe;
}

/* ------------------------------------------------------ landing buffers */

/* n's size class, or -1 above the largest. */
static int buf_class(size_t n)
{
    size_t size = BUF_MIN;
    for (int k = 0; k < BUF_CLASSES; k++, size <<= 1)
        if (n <= size)
            return k;
    return -1;
}

/* The running loop's ring, if it has one made. */
static ring *running_ring(void)
{
    coil_loop *loop = coil__loop_running;
    void *r = loop ? *coil__loop_slot(loop, ring_slot) : NULL;
    return r == (void *)&no_ring ? NULL : r;
}

void *coil__uring_buf_get(size_t n)
{
    int k = buf_class(n);
    if (k < 0)
        return malloc(n);
    ring *r = running_ring();
    if (r && r->nkept[k] > 0)
        return r->kept[k][--r->nkept[k]];
    return malloc((size_t)BUF_MIN << k);
}

void coil__uring_buf_put(void *buf, size_t n)
{
    int k = buf_class(n);
    ring *r = k >= 0 && buf ? running_ring() : NULL;
    if (r && r->nkept[k] < BUF_KEEP)
        r->kept[k][r->nkept[k]++] = buf;
    else
        free(buf);
}

/* --------------------------------------------------------- submitting */

/* Whether a request made now joins a batch (see the top of the file):
 * when other work is ready, which includes a batch's flush once posted. */
static int batching(ring *r)
{
    return coil__loop_has_ready(r->loop);
}

int coil__uring_batching(void)
{
    coil_loop *loop = coil__loop_running;
    /* The ring is made here if need be: the read will go to it. */
    return loop && coil__uring_enabled() &&
           atomic_load_explicit(&read_batch, memory_order_relaxed) &&
           coil__loop_has_ready(loop) && ring_of(loop) != NULL;
}

static void prep(struct io_uring_sqe *sqe, const coil__uring_req *req)
{
    unsigned n = req->n > 0x7ffff000u ? 0x7ffff000u : (unsigned)req->n;
    __u64 off = req->off < 0 ? (__u64)-1 : (__u64)req->off;
    switch (req->kind) {
    case COIL__URING_READ:
        io_uring_prep_read(sqe, req->fd, req->buf, n, off);
        break;
    case COIL__URING_WRITE:
        io_uring_prep_write(sqe, req->fd, req->buf, n, off);
        break;
    default:
        io_uring_prep_fsync(sqe, req->fd,
                            req->kind == COIL__URING_FDATASYNC
                                ? IORING_FSYNC_DATASYNC : 0);
        break;
    }
}

/* For a task dump: "io_uring read of fd 5 (/path/of/it), 4096 bytes".
 * obj is the caller's request, alive while it waits. */
static void describe_request(const void *obj, coil_time now, char *buf,
                             size_t size)
{
    (void)now;
    static const char *const names[] = {"read", "write", "fsync",
                                        "fdatasync"};
    const coil__uring_req *req = obj;
    char target[140], bytes[32] = "";
    coil__format_fd_target(target, sizeof target, req->fd);
    if (req->kind == COIL__URING_READ || req->kind == COIL__URING_WRITE)
        snprintf(bytes, sizeof bytes, ", %zu bytes", req->n);
    snprintf(buf, size, "io_uring %s of fd %d%s%s", names[req->kind],
             req->fd, target, bytes);
}

/* Outside: the kernel ends the wait. */
static const coil__wait_kind request_wait = {describe_request, 1};

/* Once the caller's wait is over, returned from or unwound. */
typedef struct wait_end_arg {
    ring *r;
    pending *p;
    int taken;                    /* the caller has the result */
} wait_end_arg;

static void wait_end(void *arg)
{
    wait_end_arg *w = arg;
    pending *p = w->p;
    coil_future_release(p->fut);
    p->fut = NULL;
    if (p->done) {
        if (!w->taken)                   /* it came, but the cancel won */
            p->abandon(p->arg, p->res);
        free(p);
        return;
    }
    /* ...the kernel still has it: ask it to stop; the reaper finishes. */
    struct io_uring_sqe *sqe = sqe_for(w->r);
    if (sqe) {
        io_uring_prep_cancel(sqe, p, 0);
        io_uring_sqe_set_data(sqe, &cancel_tag);
        io_uring_submit(&w->r->uring);   /* a batched p goes in first */
        /* A cancellation done inside that submit has posted its CQE
         * already: take it now, sparing the wake-up.  p may go here. */
        reap(w->r);
    }
}

int coil__uring_run(const coil__uring_req *req, int *res)
{
    coil_loop *loop = coil_loop_current();
    ring *r = loop ? ring_of(loop) : NULL;
    if (!r)
        return COIL__URING_UNAVAILABLE;
    pending *p = calloc(1, sizeof *p);
    coil_future *fut = p ? coil_future_new(NULL) : NULL;
    struct io_uring_sqe *sqe = fut ? sqe_for(r) : NULL;
    if (!sqe) {
        if (fut)
            coil_future_release(fut);
        free(p);
        return COIL__URING_UNAVAILABLE;
    }
    p->fut = fut;
    p->abandon = req->abandon;
    p->arg = req->arg;
    prep(sqe, req);
    io_uring_sqe_set_data(sqe, p);
    coil__list_push_back(&r->inflight, &p->link);
    if (batching(r)) {
        coil__loop_post(loop, &r->flush);   /* once: posting is idempotent */
    } else if (io_uring_submit(&r->uring) < 0) {
        /* Not taken: the SQE is still queued, so make it a no-op whose
         * completion nobody waits for. */
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data(sqe, &cancel_tag);
        coil__list_remove(&p->link);
        coil_future_release(fut);
        free(p);
        return COIL__URING_UNAVAILABLE;
    }
    reap(r);                             /* served inline: no suspension */
    int rc = 0, err = 0;
    if (!p->done) {
        wait_end_arg w = {r, p, 0};
        coil_cleanup_push(wait_end, &w);
        coil__task_note_wait(&request_wait, req);
        rc = coil_await(fut, NULL);
        err = errno;
        if (rc == 0) {
            *res = p->res;
            w.taken = 1;
        }
        coil_cleanup_pop(1);
    } else {
        *res = p->res;
        coil_future_release(fut);
        free(p);
    }
    errno = err;
    return rc;
}

#endif
