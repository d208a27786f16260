/*
 * bench/bench_peer.c — the other runtimes coil's scheduler is compared
 * with: Go (bench/sched.go, built once with the `go` on PATH) and Python's
 * asyncio (bench/sched.py, run by the `python3` on PATH), as child
 * processes.  Each child run makes one measurement and prints it as one
 * JSON line (see the programs); this file starts them and reads that line.
 * It also builds echo.go and finds echo.py for the echo bench, which
 * starts those itself (bench_echo.c): they are servers, not one-shot runs.
 *
 * A runtime that is missing, or whose program does not build or start, is
 * not an error: its rows are left out, with a note saying why.  A cross
 * build leaves them out too: the host's go and python3 running natively
 * against coil under an emulator would compare nothing.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifdef COIL_BENCH_CROSS
#define CROSS_BUILD 1
#else
#define CROSS_BUILD 0
#endif

/* Where the Go program is built (made on demand, removed at the end). */
static char tmp_dir[PATH_MAX];

/* The first line of text, for a one-line message. */
static void first_line(const char *text, char *out, size_t size)
{
    while (*text == '\n')
        text++;
    size_t n = strcspn(text, "\n");
    if (n >= size)
        n = size - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

/* Run argv (argv[0] a path) in dir (NULL: ours) with its stdout and stderr
 * collected in out (NUL-terminated, cut to size).  Returns its exit status,
 * or -1 with a message in err if it could not start or was killed. */
static int run_capture(char *const argv[], const char *dir, char *out,
                       size_t size, char *err)
{
    /* Close-on-exec: the child keeps only the copies dup2 makes. */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, BENCH_ERR_MAX, "pipe: %s", strerror(errno));
        return -1;
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    if (dir != NULL)
        posix_spawn_file_actions_addchdir_np(&fa, dir);
    /* coil_run blocks SIGINT while it runs; a child must not inherit
     * that, whenever it happens to be started. */
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    /* posix_spawn, not fork: after the scale bench this process maps a
     * million stacks, and fork would copy their page tables each time. */
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, BENCH_ERR_MAX, "cannot run %s: %s", argv[0],
                 strerror(rc));
        return -1;
    }

    /* Read to the end, keeping what fits: a child blocked on a full pipe
     * would never exit. */
    size_t used = 0;
    char sink[512];
    for (;;) {
        int keep = used + 1 < size;
        ssize_t n = keep ? read(fds[0], out + used, size - 1 - used)
                         : read(fds[0], sink, sizeof sink);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (keep)
            used += (size_t)n;
    }
    out[used] = '\0';
    close(fds[0]);

    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, BENCH_ERR_MAX, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    snprintf(err, BENCH_ERR_MAX, "%s killed by signal %d", argv[0],
             WTERMSIG(status));
    return -1;
}

/* Look name up in PATH as a shell would; 0 with its path in out, or -1. */
static int find_on_path(const char *name, char *out, size_t size)
{
    struct stat st;

    for (const char *p = getenv("PATH"); p != NULL;) {
        size_t n = strcspn(p, ":");
        /* An empty entry means the current directory. */
        int len = n ? snprintf(out, size, "%.*s/%s", (int)n, p, name)
                    : snprintf(out, size, "./%s", name);
        if (len > 0 && (size_t)len < size && stat(out, &st) == 0 &&
            S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 0;
        p = p[n] == ':' ? p + n + 1 : NULL;
    }
    return -1;
}

/* Where the value of "key" starts in a JSON line (blanks skipped), or
 * NULL.  Enough for the flat objects sched.go and sched.py print. */
static const char *json_value(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? p + strlen(pat) + strspn(p + strlen(pat), " ") : NULL;
}

int bench_json_number(const char *line, const char *key, double *out)
{
    const char *p = json_value(line, key);
    char *end;
    if (p == NULL)
        return -1;
    double v = strtod(p, &end);
    if (end == p)
        return -1;
    *out = v;
    return 0;
}

long bench_json_int_array(const char *line, const char *key, int64_t *out,
                          long max)
{
    const char *p = json_value(line, key);
    long n = 0;
    if (p == NULL || *p++ != '[')
        return -1;
    for (;;) {
        p += strspn(p, " ");
        if (*p == ']')
            return n;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || n == max)
            return -1;
        out[n++] = v;
        p = end + strspn(end, " ");
        if (*p == ',')
            p++;
        else if (*p != ']')
            return -1;
    }
}

/* The string value of "key" in a JSON line, a backslash taking the next
 * character literally (enough for versions and paths); -1 if absent. */
static int json_string_field(const char *line, const char *key, char *out,
                             size_t size)
{
    const char *p = json_value(line, key);
    size_t n = 0;
    if (p == NULL || *p++ != '"')
        return -1;
    for (; *p && *p != '"' && n + 1 < size; p++) {
        if (*p == '\\' && p[1])
            p++;
        out[n++] = *p;
    }
    out[n] = '\0';
    return *p == '"' ? 0 : -1;
}

/* Run the peer's program with args (NULL-terminated) and leave the last
 * JSON line it printed in line. */
int bench_peer_run(const bench_peer *p, const char *const *args, char *line,
                   size_t size, char *err)
{
    char *argv[8];
    size_t n = 0;
    static char out[64 * 1024];   /* room for a thousand overshoots */
    const char *what = args[0];

    argv[n++] = (char *)p->exe;
    if (p->script[0])
        argv[n++] = (char *)p->script;
    for (; *args && n + 1 < sizeof argv / sizeof *argv; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;

    int status = run_capture(argv, NULL, out, sizeof out, err);
    if (status < 0)
        return -1;
    if (status != 0) {
        char msg[BENCH_ERR_MAX / 2];
        first_line(out, msg, sizeof msg);
        snprintf(err, BENCH_ERR_MAX, "%s %s: exit status %d: %s", p->impl,
                 what, status, msg);
        return -1;
    }

    /* The last line that is a JSON object is the result; anything else
     * (a runtime's warning) is ignored. */
    const char *found = NULL;
    for (const char *s = out; *s; s += strcspn(s, "\n"), s += *s == '\n')
        if (*s == '{')
            found = s;
    if (found == NULL) {
        char msg[BENCH_ERR_MAX / 2];
        first_line(out, msg, sizeof msg);
        snprintf(err, BENCH_ERR_MAX, "%s printed no result: %s", p->impl,
                 msg);
        return -1;
    }
    first_line(found, line, size);
    return 0;
}

/* The program's own report of the runtime's version, which also proves
 * that the program runs at all.  0, or -1 with p->note set. */
static int probe(bench_peer *p, char *line, size_t size)
{
    static const char *const version[] = {"version", NULL};
    char err[BENCH_ERR_MAX];

    if (bench_peer_run(p, version, line, size, err) != 0 ||
        json_string_field(line, "version", p->version,
                          sizeof p->version) != 0) {
        snprintf(p->note, sizeof p->note, "skipped: %.140s",
                 err[0] ? err : "no version reported");
        return -1;
    }
    return 0;
}

/* Point out at src_dir/name; -1 with p->note set if it is not there. */
static int find_source(bench_peer *p, const char *name, char *out,
                       size_t size)
{
#ifdef COIL_BENCH_SRC_DIR
    snprintf(out, size, "%s/%s", COIL_BENCH_SRC_DIR, name);
    if (access(out, R_OK) == 0)
        return 0;
    snprintf(p->note, sizeof p->note, "skipped: %.100s: %s", out,
             strerror(errno));
#else
    (void)out;
    (void)size;
    snprintf(p->note, sizeof p->note, "skipped: built without "
             "COIL_BENCH_SRC_DIR, %s not found", name);
#endif
    return -1;
}

int bench_peer_source(const char *name, char *out, size_t size, char *err)
{
    bench_peer scratch;
    if (find_source(&scratch, name, out, size) == 0)
        return 0;
    snprintf(err, BENCH_ERR_MAX, "%s", scratch.note);
    return -1;
}

static int make_tmp_dir(bench_peer *p)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/coil_bench.XXXXXX",
             base && base[0] ? base : "/tmp");
    if (mkdtemp(tmp_dir) != NULL)
        return 0;
    snprintf(p->note, sizeof p->note, "skipped: mkdtemp %.100s: %s", tmp_dir,
             strerror(errno));
    tmp_dir[0] = '\0';
    return -1;
}

/* The go found by setup_go, for bench_peer_go_build. */
static char go_tool[PATH_MAX];

/* Build bench/src_name into tmp_dir/out_name (exe gets its path): 0, or -1
 * with a message in err.  Needs setup_go's go_tool and tmp_dir. */
static int go_build(const char *src_name, const char *out_name, char *exe,
                    size_t size, char *err)
{
    char src[PATH_MAX], out[4096];

    if (bench_peer_source(src_name, src, sizeof src, err) != 0)
        return -1;
    snprintf(exe, size, "%s/%s", tmp_dir, out_name);
    char *build[] = {go_tool, "build", "-o", exe, src, NULL};
    /* Built from inside the temporary directory, so that a go.mod around
     * the caller's working directory cannot get involved. */
    int status = run_capture(build, tmp_dir, out, sizeof out, err);
    if (status != 0) {
        char msg[BENCH_ERR_MAX / 2];
        first_line(status < 0 ? err : out, msg, sizeof msg);
        snprintf(err, BENCH_ERR_MAX, "skipped: go build %s failed: %s",
                 src_name, msg);
        return -1;
    }
    return 0;
}

int bench_peer_go_build(const bench_peer *go, const char *src_name,
                        const char *out_name, char *exe, size_t size,
                        char *err)
{
    if (!go->ok) {
        snprintf(err, BENCH_ERR_MAX, "%s", go->note);
        return -1;
    }
    return go_build(src_name, out_name, exe, size, err);
}

static void setup_go(bench_peer *p)
{
    char line[256];
    char err[BENCH_ERR_MAX] = "";

    if (find_on_path("go", go_tool, sizeof go_tool) != 0) {
        snprintf(p->note, sizeof p->note, "skipped: no go on PATH "
                 "(Debian: apt-get install golang-go)");
        return;
    }
    if (make_tmp_dir(p) != 0)
        return;

    /* go keeps its build cache and GOPATH under $HOME; where HOME is
     * missing or read-only (a CI user, a sandbox) the build would fail, so
     * keep them next to the binary instead. */
    const char *home = getenv("HOME");
    if (getenv("GOCACHE") == NULL &&
        (home == NULL || access(home, W_OK) != 0)) {
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/gocache", tmp_dir);
        setenv("GOCACHE", dir, 1);
        if (getenv("GOPATH") == NULL) {
            snprintf(dir, sizeof dir, "%s/gopath", tmp_dir);
            setenv("GOPATH", dir, 1);
        }
    }
    /* Pure Go: needs no C compiler, and links as Go programs usually do. */
    setenv("CGO_ENABLED", "0", 1);

    if (go_build("sched.go", "sched", p->exe, sizeof p->exe, err) != 0) {
        snprintf(p->note, sizeof p->note, "%s", err);
        return;
    }
    if (probe(p, line, sizeof line) == 0)
        p->ok = 1;
}

static void setup_python(bench_peer *p)
{
    char line[PATH_MAX + 128], exe[PATH_MAX];

    if (find_source(p, "sched.py", p->script, sizeof p->script) != 0)
        return;
    if (find_on_path("python3", p->exe, sizeof p->exe) != 0) {
        snprintf(p->note, sizeof p->note, "skipped: no python3 on PATH");
        return;
    }
    if (probe(p, line, sizeof line) != 0)
        return;
    /* From now on run the interpreter itself: python3 on PATH may be a
     * wrapper (pyenv's shims are shell scripts) that would add tens of
     * milliseconds to every repetition. */
    if (json_string_field(line, "executable", exe, sizeof exe) == 0 &&
        access(exe, X_OK) == 0)
        snprintf(p->exe, sizeof p->exe, "%s", exe);
    p->ok = 1;
}

void bench_peers_setup(bench_peer *go, bench_peer *python)
{
    memset(go, 0, sizeof *go);
    memset(python, 0, sizeof *python);
    go->impl = "go";
    python->impl = "python_asyncio";
    if (CROSS_BUILD) {
        snprintf(go->note, sizeof go->note, "skipped: cross-compiled build");
        snprintf(python->note, sizeof python->note,
                 "skipped: cross-compiled build");
        return;
    }
    setup_go(go);
    setup_python(python);
}

void bench_peer_setup_program(bench_peer *p, const char *impl,
                              const char *exe)
{
    char line[256];
    memset(p, 0, sizeof *p);
    p->impl = impl;
    if (exe == NULL) {
        snprintf(p->note, sizeof p->note, "skipped: not built (%s)",
                 CROSS_BUILD ? "cross-compiled build"
                             : "Debian libboost-fiber-dev missing");
        return;
    }
    snprintf(p->exe, sizeof p->exe, "%s", exe);
    if (probe(p, line, sizeof line) == 0)
        p->ok = 1;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;          /* keep going: remove as much as can be removed */
}

void bench_peers_cleanup(void)
{
    if (tmp_dir[0])
        nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmp_dir[0] = '\0';
}
