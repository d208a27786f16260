/*
 * bench/bench.h — what the pieces of coil_bench share.
 *
 * coil_bench.c   options, repetitions, statistics, the table and the JSON;
 * bench_switch.c one-thread ping-pong for each context-switch implementation
 *                (and the two-thread one it is compared with);
 * bench_coro.c   coil coroutine create/destroy and the million-coroutine run;
 * bench_sched.c  coil's scheduler: yield, spawn + await, sleep precision;
 * bench_peer.c   the same in Go and asyncio (sched.go, sched.py), run as
 *                child processes;
 * bench_echo.c   the TCP echo servers (coil, raw epoll; echo.go and echo.py
 *                are the others) and the load generator;
 * bench_threads.c coil across threads (call_soon_threadsafe, to_thread) and
 *                between tasks (lock, queue), each against plain pthreads
 *                (threads.go is the Go side, run as a peer);
 * bench_toolbox.c streams and select (issue 21) against hand-written
 *                loops, the byte echo, a single queue and Go's select;
 * bench_file.c   4 KiB reads of a cached file: coil_file_pread on each
 *                backend against plain pread(2) threads (issue 18).
 *
 * Every measuring function does one repetition and returns 0 with the
 * elapsed time, or -1 with a message in err: a benchmark that cannot run
 * (no memory, no thread) is reported, not crashed on.
 */
#ifndef COIL_BENCH_H
#define COIL_BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_ERR_MAX 160

/* Nanoseconds from CLOCK_MONOTONIC. */
uint64_t bench_now_ns(void);

/* ---------------------------------------------------------------- switches */

typedef struct switch_impl {
    const char *name;      /* the "impl" column */
    int divisor;           /* runs switches / divisor: the slow ones would
                              otherwise take minutes for the same precision */
    int threaded;          /* uses a second thread, so must not be pinned */
    /* One repetition of `switches` one-way transfers (an even number);
     * *elapsed_ns covers the transfers only, not the setup. */
    int (*run)(long switches, uint64_t *elapsed_ns, char *err);
} switch_impl;

/* Implementations in report order, boost_fcontext (the yardstick, when
 * built in) first. */
extern const switch_impl bench_switch_impls[];
extern const size_t bench_switch_impl_count;
extern const int bench_have_boost;

/* ---------------------------------------------------------------- coroutines */

/* n cycles of coil_coro_create + resume to completion + coil_coro_destroy,
 * with default attributes (pooled stack) or COIL_CORO_UNPOOLED (fresh). */
int bench_create_destroy(int unpooled, long n, uint64_t *elapsed_ns, char *err);

typedef struct scale_result {
    long requested;        /* coroutines asked for */
    long reached;          /* coroutines created and parked in yield */
    uint64_t elapsed_ns;   /* creating + first-resuming `reached` of them */
    uint64_t destroy_ns;   /* destroying them all again */
    long rss_before_kb;    /* VmRSS just before the first create */
    long hwm_after_kb;     /* VmHWM once all are parked */
    long pte_delta_kb;     /* growth of VmPTE (page tables, not in RSS) */
    int hwm_reset;         /* 1 if VmHWM was reset first (clear_refs) */
} scale_result;

/* Create n coroutines, each resumed once so that it waits in
 * coil_coro_yield(), measure memory, destroy them.  On failure, *r still
 * describes what was reached before it. */
int bench_scale(long n, scale_result *r, char *err);

/* ---------------------------------------------------------------- dumps */

/* ntasks tasks asleep under coil_run; *ns is one coil_dump_tasks(flags) of
 * them all (and main) to /dev/null. */
int bench_dump(long ntasks, unsigned flags, uint64_t *ns, char *err);

/* ---------------------------------------------------------------- scheduler */

/* count coil_yield()s shared by ntasks tasks (count / ntasks each) under
 * coil_run.  *elapsed_ns runs from the first task's return from a first,
 * untimed yield (when all tasks have started) to the last task's last. */
int bench_yield(long ntasks, long count, uint64_t *elapsed_ns, char *err);

/* count rounds of coil_spawn(a task returning at once), coil_await it,
 * coil_task_release it: from a main task under coil_run, or (outside = 1)
 * from the thread's own stack, where each await runs the default loop. */
int bench_spawn_await(int outside, long count, uint64_t *elapsed_ns,
                      char *err);

/* count tasks (a multiple of width) in rounds: spawn width tasks that
 * return at once, then await and release each, from a main task under
 * coil_run.  A gather's pattern: width stacks in use at a time. */
int bench_spawn_fanout(long width, long count, uint64_t *elapsed_ns,
                       char *err);

/* count coil_sleep(delay_ns) in a task under coil_run; overshoot_ns[i]
 * gets how much longer than delay_ns sleep i took, by coil_clock(). */
int bench_sleep(long count, int64_t delay_ns, int64_t *overshoot_ns,
                char *err);

/* The floor under it: count plain clock_nanosleep(delay_ns) calls on the
 * calling thread (the one coil's loop ran on, with the timer slack the
 * loop gave it), overshoots as bench_sleep's.  0, or -1 with err. */
int bench_sleep_floor(long count, int64_t delay_ns, int64_t *overshoot_ns,
                      char *err);

/* ---------------------------------------------------------------- threads */

/* In each of these, use_pthread picks the plain-pthread yardstick instead
 * of coil; see bench_threads.c for what both sides do. */

/* count round trips: a plain thread posts a callback to a loop running in
 * another thread (coil_call_soon_threadsafe) and waits for its reply. */
int bench_threadsafe_rtt(int use_pthread, long count, uint64_t *elapsed_ns,
                         char *err);

/* count round trips between two plain threads that hand a turn through
 * one atomic word and spin for it (pause hints; sched_yield now and then,
 * so that one CPU still makes progress): no library, no system call, two
 * cache-line transfers.  The least any cross-thread round trip can cost
 * on this machine.  The calling thread runs on CPU here and the other on
 * CPU there; -1 for either leaves both where the kernel puts them. */
int bench_spin_rtt(int here, int there, long count, uint64_t *elapsed_ns,
                   char *err);

/* count round trips of coil_spawn_threadsafe + coil_tfuture_wait from a
 * plain thread to a loop in another thread (coil only). */
int bench_spawn_threadsafe_rtt(long count, uint64_t *elapsed_ns, char *err);

/* senders plain threads (at most 64) post count callbacks in all to one
 * loop in another thread; *elapsed_ns runs from their start to the last
 * callback's run. */
int bench_threadsafe_submit(int use_pthread, long senders, long count,
                            uint64_t *elapsed_ns, char *err);

/* count coil_to_thread(a trivial function) calls in a row from a task. */
int bench_to_thread(int use_pthread, long count, uint64_t *elapsed_ns,
                    char *err);

/* count (even) handoffs of a lock between two tasks taking turns. */
int bench_lock_handoff(int use_pthread, long count, uint64_t *elapsed_ns,
                       char *err);

/* count items from a producer task to a consumer task through a queue of
 * 64. */
int bench_queue(int use_pthread, long count, uint64_t *elapsed_ns, char *err);

/* ---------------------------------------------------------------- peers */

/* Another runtime running the scheduler benches (bench_peer.c). */
typedef struct bench_peer {
    const char *impl;          /* the "impl" column: go, python_asyncio */
    int ok;                    /* usable; if not, note says why */
    char version[48];          /* as the runtime reports it */
    char exe[PATH_MAX];        /* the program, or the interpreter */
    char script[PATH_MAX];     /* the interpreter's script; "" for go */
    char note[BENCH_ERR_MAX];
} bench_peer;

/* Find, build and try both peers.  Cannot fail: a peer that cannot run
 * gets ok = 0 and a note. */
void bench_peers_setup(bench_peer *go, bench_peer *python);

/* A peer that is a program of its own (Boost.Fiber's fiber_sched, built
 * beside coil_bench; exe NULL: not built).  Cannot fail: ok = 0 and a
 * note if it cannot run. */
void bench_peer_setup_program(bench_peer *p, const char *impl,
                              const char *exe);

/* Run one measurement, args (NULL-terminated) naming it: {"yield", "2",
 * "2000000", NULL}.  0 with the JSON line it printed in line, or -1 with a
 * message in err. */
int bench_peer_run(const bench_peer *p, const char *const *args, char *line,
                   size_t size, char *err);

/* The number after "key": in a JSON line: 0 and *out, or -1 if absent. */
int bench_json_number(const char *line, const char *key, double *out);

/* The integers of the array after "key": in a JSON line, at most max of
 * them: how many were stored, or -1 if absent, malformed or too long. */
long bench_json_int_array(const char *line, const char *key, int64_t *out,
                          long max);

/* Build bench/src_name with the go that setup found (go->ok), into the
 * temporary directory as out_name; exe gets its path.  0, or -1 with a
 * message in err. */
int bench_peer_go_build(const bench_peer *go, const char *src_name,
                        const char *out_name, char *exe, size_t size,
                        char *err);

/* The path of bench/name in the source tree: 0, or -1 with a message. */
int bench_peer_source(const char *name, char *out, size_t size, char *err);

/* Remove what setup left in the temporary directory. */
void bench_peers_cleanup(void);

/* ---------------------------------------------------------------- echo */

/* Run the coil or raw_epoll echo server in this process (coil_bench
 * --echo-server IMPL): it prints its port and serves until killed.
 * Returns an exit status if it cannot start. */
int bench_echo_serve(const char *impl);

/* A server child: its pid, its port, the read end of its stdout, the
 * write end of its stdin (closed: the child exits). */
typedef struct echo_server {
    pid_t pid;
    int port;
    int out;
    int in;
} echo_server;

/* Start argv (argv[0] a path) pinned to cpu (< 0: not pinned), with
 * env_extra ("NAME=value", or NULL) added to the environment, and wait
 * for the port it prints.  0, or -1 with a message in err. */
int bench_echo_start(char *const argv[], const char *env_extra, int cpu,
                     echo_server *s, char *err);

/* Kill and reap it (nothing if it is not running). */
void bench_echo_stop(echo_server *s);

/* n connections to 127.0.0.1:port, with the epoll set driving them. */
typedef struct echo_load echo_load;
echo_load *bench_echo_connect(int port, long n, char *err);

/* What one echo measurement found. */
typedef struct echo_result {
    double rps;          /* round trips per second */
    double server_ns;    /* the server's CPU ns per round trip; < 0: unknown */
    double gen_share;    /* the load generator's busy share, 0..1 */
} echo_result;

/* One measurement: every connection in ping-pong with 64-byte messages,
 * round trips counted for run_ns after warm_ns, with the CPU time of the
 * server (process server) over the same window.  0 with *out filled, or
 * -1 with a message in err. */
int bench_echo_run(echo_load *l, pid_t server, uint64_t warm_ns,
                   uint64_t run_ns, echo_result *out, char *err);

/* The libuv echo server (bench_echo_uv.c), for --echo-server libuv: an
 * exit status if it cannot start (or libuv was not built in). */
int bench_echo_uv_serve(void);

/* Close the connections (NULL is ignored). */
void bench_echo_close(echo_load *l);

/* ---------------------------------------------------------------- toolbox */

/* bench_toolbox.c: issue 21's streams and select against what they
 * replace; `reference` picks the yardstick side. */

/* count 64-byte lines read from a socketpair a plain thread fills: with
 * coil_stream_read_line in a task, or (reference) blocking read + memchr. */
int bench_read_line(int reference, long count, uint64_t *elapsed_ns,
                    char *err);

/* count round trips of a 64-byte line to an echo server in another
 * thread: *cpu_ns is the server thread's CPU time.  Streams, or
 * (reference) coil_read + coil_write_all. */
int bench_line_echo(int reference, long count, uint64_t *cpu_ns, char *err);

/* count items from a producer task to a consumer task: round-robin over
 * 4 queues of 16 taken with coil_select, or (reference) one queue of 64
 * and coil_queue_get. */
int bench_select4(int reference, long count, uint64_t *elapsed_ns,
                  char *err);

/* ---------------------------------------------------------------- files */

/* bench_file.c: reads of a cached file (issue 18). */

/* Make a file of mib MiB in $TMPDIR (else /var/tmp), each 4 KiB block
 * starting with its index, written back so its pages are clean and
 * cached; its name in path.  0, or -1 with a message in err. */
int bench_file_make(long mib, char *path, size_t size, char *err);

/* count 4 KiB pread(2)s at random blocks of path, shared by nthreads
 * threads (1: the calling thread), each checked; *cpu_ns gets the CPU
 * time (user + system) the readers used, all threads together. */
int bench_file_plain(const char *path, int nthreads, long count,
                     uint64_t *elapsed_ns, uint64_t *cpu_ns, char *err);

/* The child that times coil's side: `--file-worker BACKEND TASKS COUNT
 * PATH`, BACKEND uring or executor.  Prints {"elapsed_ns": N, "count":
 * COUNT, "cpu_ns": C, ...}, C the process's CPU time (all its threads:
 * the loop's, the executor's, io_uring's workers) over the timed reads;
 * returns the exit status. */
int bench_file_worker(const char *backend, const char *tasks,
                      const char *count, const char *path);

#endif /* COIL_BENCH_H */
