/*
 * tests/bti_test.c — branch protection is enforced, not merely claimed
 * (aarch64-bti preset; docs/testing.md, "Branch protection").
 *
 * A program whose objects all claim BTI is marked by the linker, and on a
 * CPU with BTI the loader maps its code (and ld.so that of every marked
 * library) as guarded pages: an indirect branch must land on a landing
 * pad there, or the CPU raises a branch target exception, SIGILL.  This
 * program is linked like every test of the preset (coil's start files,
 * libcoil.so) and runs under `qemu-aarch64 -cpu max`.  It proves the
 * enforcement from both sides: the same unpadded code runs when called
 * directly and kills the process when called through a pointer, and a
 * branch into libcoil.so past a landing pad kills it too, so coil's own
 * switch runs on guarded pages in the other suites of the preset.
 */
#include <signal.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <coil/ctx.h>

#include "check.h"

#ifndef __aarch64__
#error "tests/bti_test.c is for aarch64 (the aarch64-bti preset)"
#endif

#ifndef HWCAP2_BTI
#define HWCAP2_BTI (1UL << 17)      /* Linux arch/arm64 uapi hwcap.h */
#endif

int bti_padded(void);
int bti_unpadded(void);

/* volatile: the compiler must make a real indirect call (BLR). */
static int (*volatile call_target)(void);

/* Runs fn in a forked child and returns its wait status. */
static int status_of(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* The SIGILL is expected: no core file for it. */
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        fn();
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return status;
}

static int died_of_sigill(int status)
{
    if (WIFSIGNALED(status))
        fprintf(stderr, "  child died of signal %d\n", WTERMSIG(status));
    else
        fprintf(stderr, "  child exited with %d\n", WEXITSTATUS(status));
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGILL;
}

TEST(the_cpu_has_bti)
{
    /* Without it the pads are NOPs and nothing below can hold: the
     * preset's emulator must be run with -cpu max. */
    unsigned long hwcap2 = getauxval(AT_HWCAP2);
    printf("  AT_HWCAP2 = %#lx\n", hwcap2);
    CHECK(hwcap2 & HWCAP2_BTI);
}

TEST(indirect_call_to_a_landing_pad_runs)
{
    call_target = bti_padded;
    CHECK(call_target() == 42);
}

TEST(direct_call_to_code_without_a_pad_runs)
{
    CHECK(bti_unpadded() == 43);
}

static void call_unpadded(void)
{
    call_target = bti_unpadded;
    call_target();              /* BLR to a guarded page, no pad: SIGILL */
}

TEST(indirect_call_to_code_without_a_pad_dies_with_sigill)
{
    CHECK(died_of_sigill(status_of(call_unpadded)));
}

/* A fresh context whose entry ends the child with 7: reached only if the
 * branch below was not stopped. */
static char stack[64 * 1024] __attribute__((aligned(16)));

static void *exit_seven(void *data, void *arg)
{
    (void)data;
    (void)arg;
    _exit(7);
}

static void call_switch_past_its_pad(void)
{
    coil_ctx self, fresh;
    CHECK(coil_ctx_make(&fresh, stack, sizeof stack, exit_seven, NULL,
                        NULL) == 0);
    /* coil_ctx_switch starts with `bti c` (tests/elf_notes.sh checks);
     * the next instruction is a valid start for the switch's body but no
     * landing pad.  The address is libcoil.so's own (a PIE takes it from
     * the GOT, not a PLT stub). */
    void *(*volatile past_pad)(coil_ctx *, const coil_ctx *, void *) =
        (void *(*)(coil_ctx *, const coil_ctx *, void *))(
            (char *)(void *)coil_ctx_switch + 4);
    past_pad(&self, &fresh, NULL);
}

TEST(indirect_branch_into_libcoil_so_past_its_pad_dies_with_sigill)
{
    int status = status_of(call_switch_past_its_pad);
    /* 7 would mean the switch ran: libcoil.so's pages are not guarded. */
    CHECK(died_of_sigill(status));
}

RUN_TESTS(T(the_cpu_has_bti), T(indirect_call_to_a_landing_pad_runs),
          T(direct_call_to_code_without_a_pad_runs),
          T(indirect_call_to_code_without_a_pad_dies_with_sigill),
          T(indirect_branch_into_libcoil_so_past_its_pad_dies_with_sigill))
