/*
 * src/task/dump.c — coil_dump_tasks: every live task of a loop, what it
 * waits on and where, like Go's SIGQUIT dump without the exit.
 *
 * Made on the loop's own thread between steps, so every task is either
 * suspended (its stack is walked from its saved context, see
 * src/core/backtrace.c), queued to run, or the caller itself.  What a task
 * waits on comes from the note its service left (task.h, coil__wait_kind);
 * a plain coil_await of a task or future is described from t->awaiting.
 * Costs nothing until called: the notes are two stores per wait.
 *
 * The rest of what shows a task from outside is here too: the table of
 * offsets a debugger reads (coil__gdb_tasks), coil_task_describe and
 * coil_loop_tasks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coil.h"
#include "core/backtrace.h"
#include "loop/debug.h"
#include "loop/loop.h"
#include "task/task.h"
#include "task/task_impl.h"
#include "task/census.h"

enum { FRAMES = 32, LINE = 256, TASK_TEXT = 8192 };

/* libdw reads ELF files and line tables on the stack it is called on, a
 * few hundred KiB under ASan: a dump asked for inside a task runs on a
 * coroutine of this size (lazily committed) instead of the task's stack. */
enum { DUMP_STACK = 4 << 20 };

/* A growing text for one task, written out in one go (stderr is not
 * buffered: one write per task instead of one per line). */
typedef struct text {
    char buf[TASK_TEXT];
    size_t n;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t,
                                                      const char *fmt, ...)
{
    if (t->n >= sizeof t->buf - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->n += (size_t)n < sizeof t->buf - t->n ? (size_t)n
                                                 : sizeof t->buf - t->n - 1;
}

static const char *name_of(coil_task *t)
{
    return coil_task_name(t);
}

static const char *state_of(coil_task *t, coil_task *caller)
{
    if (t == caller)
        return "running (making this dump)";
    if (!t->started)
        return "ready, not started";
    if (coil__work_queued(&t->waiter.wake))
        return "ready (woken, its step queued)";
    if (coil_coro_state(t->coro) != COIL_CORO_SUSPENDED)
        return "running a coroutine of its own";
    return "suspended";
}

/* What t waits on, in words. */
static void describe_wait(coil_task *t, coil_time now, char *buf,
                          size_t size)
{
    if (t->wait_kind) {
        t->wait_kind->describe(t->wait_obj, now, buf, size);
    } else if (t->awaiting && t->awaiting->is_task) {
        coil_task *other = from_future(t->awaiting);
        snprintf(buf, size, "task %lu '%s' (fn=%s)", other->id,
                 name_of(other), other->fn_name);
    } else if (t->awaiting) {
        snprintf(buf, size, "a future (%p)", (void *)t->awaiting);
    } else {
        snprintf(buf, size, "nothing (a yield)");
    }
}

static void describe_cancel(const coil_task *t, text *out)
{
    put(out, "    cancellation: ");
    if (t->unwinding)
        put(out, "unwinding, running cleanup handlers");
    else if (t->cancel_requests > 0)
        put(out, "%d request%s pending", t->cancel_requests,
            t->cancel_requests == 1 ? "" : "s");
    else
        put(out, "none requested");
    if (t->shield_depth > 0)
        put(out, ", shielded (depth %d)", t->shield_depth);
    if (t->flags & COIL_TASK_CANCEL_AS_ERROR)
        put(out, ", delivered as ECANCELED");
    put(out, "\n");
}

/* One dump: what it prints and where, the caller's own backtrace (taken
 * on the caller's stack before the dump moves to one of its own), and
 * the outcome. */
typedef struct dump_job {
    coil_loop *loop;
    FILE *out;
    unsigned flags;
    coil_task *caller;
    void *caller_pcs[FRAMES];
    int caller_frames;
    int result, error;
} dump_job;

static void put_backtrace(coil_task *t, const dump_job *d,
                          coil__symbolizer *sym, text *out)
{
    void *pcs[FRAMES];
    const coil_task *caller = d->caller;
    int n;
    if (t == caller) {
        n = d->caller_frames;
        memcpy(pcs, d->caller_pcs, sizeof pcs);
    } else if (t->started &&
               coil_coro_state(t->coro) == COIL_CORO_SUSPENDED) {
        n = coil__coro_backtrace(t->coro, pcs, FRAMES);
        if (n == 0 && COIL_CTX_FCONTEXT)
            put(out, "      (no backtrace: the fcontext backend's saved "
                     "frame is Boost's, which coil cannot unwind from)\n");
    } else {
        return;
    }
    for (int i = 0; i < n; i++) {
        char name[LINE];
        put(out, "      #%-2d %s\n", i, coil__symbolize(sym, pcs[i], name,
                                                       sizeof name));
    }
    if (n == FRAMES)
        put(out, "      ... (deeper frames left out)\n");
}

static void put_task(coil_task *t, const dump_job *d, coil_time now,
                     coil__symbolizer *sym, text *out)
{
    coil_task *caller = d->caller;
    char wait[LINE], dur[32];
    const char *state = state_of(t, caller);
    put(out, "task %lu '%s' fn=%s: %s", t->id, name_of(t), t->fn_name,
        state);
    if (t->started && t != caller && t->since > 0) {
        coil__format_duration(dur, sizeof dur, now - t->since);
        put(out, " for %s", dur);
    }
    if (t != caller && t->started) {
        describe_wait(t, now, wait, sizeof wait);
        put(out, ", %s %s", strcmp(state, "suspended") == 0 ? "waits on"
                                                            : "was waiting on",
            wait);
    }
    put(out, "\n");
    if (d->flags & COIL_DUMP_NO_BACKTRACE)
        return;
    describe_cancel(t, out);
    put_backtrace(t, d, sym, out);
}

static void dump(dump_job *d)
{
    coil__symbolizer *sym =
        d->flags & COIL_DUMP_NO_BACKTRACE
            ? NULL
            : coil__symbolizer_open(!(d->flags & COIL_DUMP_NO_LINES));
    text *tx = malloc(sizeof *tx);    /* 8 KiB: not on a task's stack */
    if (!tx) {
        coil__symbolizer_close(sym);
        d->result = -1;
        d->error = ENOMEM;
        return;
    }
    coil_time now = coil_loop_time(d->loop);
    int count = coil_loop_tasks(d->loop, NULL, 0);
    tx->n = 0;
    put(tx, "coil: %d live task%s on loop %p\n", count, count == 1 ? "" : "s",
        (void *)d->loop);
    fwrite(tx->buf, 1, tx->n, d->out);
    coil__list_each(pos, coil__loop_tasks(d->loop)) {
        tx->n = 0;
        put_task(coil__container_of(pos, coil_task, link), d, now, sym, tx);
        fwrite(tx->buf, 1, tx->n, d->out);
    }
    if (coil__loop_runq(d->loop)->debug)
        coil__census_print(d->out);
    fflush(d->out);
    free(tx);
    coil__symbolizer_close(sym);
    d->result = count;
}

static void *dump_on_own_stack(void *arg)
{
    dump((dump_job *)arg);
    return NULL;
}

int coil_loop_dump_tasks(coil_loop *loop, FILE *out, unsigned flags)
{
    loop = coil__loop_resolve(loop);
    if (!loop || !out || (flags & ~(COIL_DUMP_NO_BACKTRACE |
                                    COIL_DUMP_NO_LINES))) {
        errno = EINVAL;
        return -1;
    }
    if (!coil__loop_owned(loop)) {
        errno = EPERM;
        return -1;
    }
    dump_job d = {.loop = loop, .out = out, .flags = flags,
                  .caller = coil__task_running};
    if (d.caller)
        d.caller_frames = coil__here_backtrace(d.caller_pcs, FRAMES, 0);
    if (!coil_coro_current()) {
        dump(&d);
    } else {
        coil_coro_attr attr = {.name = "coil-dump", .stack_size = DUMP_STACK};
        coil_coro *co = coil_coro_create(&attr, dump_on_own_stack, &d);
        if (!co || coil_coro_resume(co, NULL, NULL) != 0) {
            int e = errno;
            if (co)
                coil_coro_destroy(co);
            errno = e;
            return -1;
        }
        coil_coro_destroy(co);
    }
    if (d.result < 0)
        errno = d.error;
    return d.result;
}

int coil_dump_tasks(FILE *out, unsigned flags)
{
    return coil_loop_dump_tasks(NULL, out, flags);
}

/* ------------------------------------------ a task described, a loop's tasks */

/* Where a debugger finds a loop's tasks and their saved contexts without
 * debug info for coil (tools/gdb/coil-gdb.py reads these words; inbox.c's
 * coil__gdb_loops finds the loops).  A new field appends a word and bumps
 * the version only if a meaning changes. */
__attribute__((visibility("default"), used)) const uintptr_t
    coil__gdb_tasks[] = {
        1,                                     /* version */
        offsetof(coil__runq, tasks),           /* loop -> live tasks list */
        offsetof(coil_task, link),
        offsetof(coil_task, id),
        offsetof(coil_task, name),
        offsetof(coil_task, fn_name),
        offsetof(coil_task, coro),
        offsetof(coil_task, started),
        offsetof(coil_task, fut) + offsetof(coil_future, state),
        offsetof(coil_coro, ctx),              /* its saved sp */
        offsetof(coil_coro, state),
        offsetof(coil_task, wait_kind),
        offsetof(coil_task, awaiting),
        offsetof(coil_task, cancel_requests),
        offsetof(coil_task, shield_depth),
        sizeof(coil_task),
        offsetof(coil__runq, thread),          /* the owner's token */
};

int coil_task_describe(const coil_task *t, char *buf, size_t size)
{
    if (!t || (!buf && size)) {
        errno = EINVAL;
        return -1;
    }
    switch (t->fut.state) {
    case COIL_CANCELLED:
        return snprintf(buf, size, "<Task cancelled name='%s' fn=%s>",
                        coil_task_name(t), t->fn_name);
    case COIL_DONE:
        if (t->fut.error)
            return snprintf(buf, size, "<Task done name='%s' fn=%s error=%s>",
                            coil_task_name(t), t->fn_name,
                            strerrorname_np(t->fut.error));
        return snprintf(buf, size, "<Task done name='%s' fn=%s result=%p>",
                        coil_task_name(t), t->fn_name, t->fut.result);
    default:
        return snprintf(buf, size, "<Task pending name='%s' fn=%s>", coil_task_name(t),
                        t->fn_name);
    }
}

int coil_loop_tasks(coil_loop *loop, coil_task **out, size_t max)
{
    loop = coil__loop_resolve(loop);
    if (!loop || (!out && max)) {
        errno = EINVAL;
        return -1;
    }
    int n = 0;
    coil__list_each(pos, coil__loop_tasks(loop)) {
        if ((size_t)n < max)
            out[n] = coil__container_of(pos, coil_task, link);
        n++;
    }
    return n;
}
