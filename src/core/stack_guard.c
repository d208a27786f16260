/*
 * src/core/stack_guard.c — guard regions, canaries and the stack-overflow report.
 *
 * Three ways to guard a stack, best first (coil.h, "Stacks"):
 *   madvise(MADV_GUARD_INSTALL)  Linux 6.13+: no VMA cost, trusted only
 *                                after a probe proves it faults;
 *   mprotect(PROT_NONE)          splits the mapping: 2 VMAs a stack, so it
 *                                is rationed: no new one once half of
 *                                max_map_count is in use (by anyone);
 *   a canary                     checked when the coroutine switches away.
 *
 * An overflow into a guard raises SIGSEGV on the overflowing stack, which
 * has no room left: the handler runs on a per-thread alternate signal stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102   /* linux/mman.h, Linux 6.13 */
#endif

#define CANARY_WORDS COIL__GUARD_CANARY_WORDS
#define ALTSTACK_SIZE (64u * 1024u)
#define ALTSTACK_GUARD 4096u

__thread const coil__stack *coil__stack_running
    __attribute__((tls_model("initial-exec")));

static pthread_once_t mode_once = PTHREAD_ONCE_INIT;
static coil_guard_mode process_mode;
uintptr_t coil__guard_canary_secret;
static atomic_long mprotect_budget;      /* guards mprotect may still make */
static atomic_long until_measure;        /* grants before the next count */
static pthread_mutex_t measure_lock = PTHREAD_MUTEX_INITIALIZER;
static long max_map_count;

/* How often the VMAs in use are counted again: other code (the program's
 * own mmaps, other libraries) may take map entries at any time.  Counting
 * reads /proc/self/maps, ~1 ms per 10,000 entries, so not on every stack:
 * every MEASURE_EVERY guards granted, or refused. */
#define MEASURE_EVERY 1024

/* ------------------------------------------------------------------ probe */

/* Does MADV_GUARD_INSTALL really guard?  The kernel must refuse to read a
 * guarded page on our behalf: write() from it has to fail with EFAULT.  An
 * emulator that accepts the advice and ignores it (qemu-user) fails this. */
static int madvise_guard_works(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    int works = 0, fds[2];
    if (madvise(p, page, MADV_GUARD_INSTALL) == 0 &&
        pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
        int saved = errno;
        works = write(fds[1], p, 1) == -1 && errno == EFAULT;
        errno = saved;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(p, 2 * page);
    return works;
}

static long read_max_map_count(void)
{
    char buf[32];
    long value = 65530;                  /* the stock default */
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            long v = strtol(buf, NULL, 10);
            if (v > 0)
                value = v;
        }
        close(fd);
    }
    return value;
}

/* The process's map entries now: lines of /proc/self/maps, or -1.  Under
 * measure_lock; the buffer is static because the caller may be a task on
 * a small stack. */
static long vmas_in_use(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    static char buf[16384];
    long lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    close(fd);
    return n < 0 ? -1 : lines;
}

/* Reset the budget so that guards stop once half of max_map_count is in
 * use: each guard splits a mapping, costing about two entries.  If
 * another thread is counting, its answer will do. */
static void measure_budget(void)
{
    if (pthread_mutex_trylock(&measure_lock) != 0)
        return;
    long used = vmas_in_use();
    if (used >= 0) {
        long room = (max_map_count / 2 - used) / 2;
        atomic_store(&mprotect_budget, room > 0 ? room : 0);
    }
    atomic_store(&until_measure, MEASURE_EVERY);
    pthread_mutex_unlock(&measure_lock);
}

static uintptr_t make_secret(void)
{
    uintptr_t s = (uintptr_t)0x9e3779b97f4a7c15ull;
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    if (r)
        memcpy(&s, r + 8, sizeof s);     /* glibc uses the first 8 bytes */
    return s | 1;
}

static void choose_mode(void)
{
    const char *want = getenv("COIL_STACK_GUARD");
    coil__guard_canary_secret = make_secret();
    /* The budget is counted from the entries in use at the first guard
     * (take_mprotect_budget), and again every MEASURE_EVERY guards. */
    max_map_count = read_max_map_count();
    if (want && strcmp(want, "canary") == 0)
        process_mode = COIL_GUARD_CANARY;
    else if (want && strcmp(want, "mprotect") == 0)
        process_mode = COIL_GUARD_MPROTECT;
    else if (madvise_guard_works())
        process_mode = COIL_GUARD_MADVISE;
    else
        process_mode = COIL_GUARD_MPROTECT;
}

coil_guard_mode coil__guard_mode(void)
{
    pthread_once(&mode_once, choose_mode);
    return process_mode;
}

coil_guard_mode coil_stack_guard_mode(void)
{
    return coil__guard_mode();
}

/* ---------------------------------------------------------- guards/canary */

static void canary_write(char *guard_lo)
{
    uintptr_t *c = (uintptr_t *)(guard_lo + COIL__GUARD_SIZE) - CANARY_WORDS;
    for (int i = 0; i < CANARY_WORDS; i++)
        c[i] = coil__guard_canary_secret ^ (uintptr_t)&c[i];
}

static int take_mprotect_budget(void)
{
    if (atomic_fetch_sub(&until_measure, 1) <= 0)
        measure_budget();
    if (atomic_fetch_sub(&mprotect_budget, 1) > 0)
        return 1;
    atomic_fetch_add(&mprotect_budget, 1);
    return 0;
}

coil_guard_mode coil__guard_install(char *guard_lo)
{
    coil_guard_mode mode = coil__guard_mode();
    if (mode == COIL_GUARD_MADVISE &&
        madvise(guard_lo, COIL__GUARD_SIZE, MADV_GUARD_INSTALL) == 0)
        return COIL_GUARD_MADVISE;
    if (mode != COIL_GUARD_CANARY && take_mprotect_budget()) {
        if (mprotect(guard_lo, COIL__GUARD_SIZE, PROT_NONE) == 0)
            return COIL_GUARD_MPROTECT;
        atomic_fetch_add(&mprotect_budget, 1);   /* ENOMEM: map count hit */
    }
    canary_write(guard_lo);
    return COIL_GUARD_CANARY;
}

void coil__guard_release(char *guard_lo, coil_guard_mode mode)
{
    (void)guard_lo;
    if (mode == COIL_GUARD_MPROTECT)
        atomic_fetch_add(&mprotect_budget, 1);
}

/* ------------------------------------------------------------- the report */

static char *put_str(char *p, char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *put_uint(char *p, char *end, size_t v)
{
    char digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < (int)sizeof digits);
    while (n && p < end)
        *p++ = digits[--n];
    return p;
}

void coil__guard_report_overflow(const coil__stack *st, const char *detail)
{
    char msg[512], *p = msg, *end = msg + sizeof msg;
    p = put_str(p, end, "coil: stack overflow in coroutine '");
    /* A task's default name is formatted only when first asked for: one
     * that overflows before that shows as "?". */
    p = put_str(p, end, st->owner && *st->owner ? st->owner : "?");
    p = put_str(p, end, "' (stack ");
    p = put_uint(p, end, st->size / 1024);
    p = put_str(p, end, " KiB)");
    if (detail) {
        p = put_str(p, end, ": ");
        p = put_str(p, end, detail);
    }
    p = put_str(p, end, "\ncoil: give it a bigger stack with "
                        "coil_coro_attr.stack_size, or raise the default "
                        "with COIL_STACK_SIZE=<bytes>\n");
    ssize_t ignored = write(STDERR_FILENO, msg, (size_t)(p - msg));
    (void)ignored;
    abort();
}

/* ------------------------------------------------------ the fault handler */

static struct sigaction previous_segv, previous_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static pthread_key_t altstack_key;

static uintptr_t fault_sp(void *ucontext)
{
    const ucontext_t *uc = ucontext;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#elif defined(__riscv)
    return (uintptr_t)uc->uc_mcontext.__gregs[REG_SP];
#elif defined(__powerpc64__)
    return (uintptr_t)uc->uc_mcontext.gp_regs[1];
#elif defined(__s390x__)
    return (uintptr_t)uc->uc_mcontext.gregs[15];
#else
    (void)uc;
    return 0;
#endif
}

/* An overflow either touches the guard, or (a frame bigger than the guard)
 * leaves the stack pointer below the stack. */
static int is_overflow(const coil__stack *st, uintptr_t addr, uintptr_t sp)
{
    uintptr_t lo = (uintptr_t)st->lo;
    if (addr < lo && addr >= lo - COIL__GUARD_SIZE)
        return 1;
    return sp < lo && sp >= lo - COIL__GUARD_SIZE - (1u << 20);
}

static void on_fault(int sig, siginfo_t *info, void *ucontext)
{
    const coil__stack *st = coil__stack_running;
    if (st && st->lo &&
        is_overflow(st, (uintptr_t)info->si_addr, fault_sp(ucontext)))
        coil__guard_report_overflow(st, NULL);

    /* Not ours: behave as if we had never been installed. */
    const struct sigaction *prev = sig == SIGSEGV ? &previous_segv
                                                  : &previous_bus;
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, ucontext);
    } else if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
        /* Returning re-executes the faulting access, which now kills the
         * process the default way (with a core dump). */
        signal(sig, SIG_DFL);
    } else {
        prev->sa_handler(sig);
    }
}

/* The alternate stack has a guard page of its own below it: the handler
 * must never run into (or be run into by) a neighbouring mapping. */
static void free_altstack(void *mem)
{
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
    munmap((char *)mem - ALTSTACK_GUARD, ALTSTACK_GUARD + ALTSTACK_SIZE);
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
    sigaction(SIGBUS, &sa, &previous_bus);
    pthread_key_create(&altstack_key, free_altstack);
}

static __thread int thread_ready;

int coil__guard_thread_init(void)
{
    if (thread_ready)
        return 0;
    pthread_once(&handler_once, install_handler);
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) {
        thread_ready = 1;                /* the application brought one */
        return 0;
    }
    char *map = mmap(NULL, ALTSTACK_GUARD + ALTSTACK_SIZE,
                     PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        errno = ENOMEM;
        return -1;
    }
    char *mem = map + ALTSTACK_GUARD;
    stack_t alt = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (mprotect(map, ALTSTACK_GUARD, PROT_NONE) != 0 ||
        sigaltstack(&alt, NULL) != 0) {
        munmap(map, ALTSTACK_GUARD + ALTSTACK_SIZE);
        errno = ENOMEM;
        return -1;
    }
    pthread_setspecific(altstack_key, mem);   /* freed at thread exit */
    thread_ready = 1;
    return 0;
}
