/*
 * tests/ctx_test.c — conformance of layer 0 (coil/ctx.h), and nothing else.
 *
 * This file includes coil/ctx.h alone: it is the porting kit.  A new CPU
 * port is done when this passes under qemu-user.  Each test is one clause of
 * the contract at the top of ctx.h.  Both backends (point 10) run it: where
 * fcontext promises something else, the test checks that instead, and
 * where it promises nothing the test says so and is skipped.
 */
#include <coil/ctx.h>

#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#include "check.h"

/* Layer 0 tells no tool about stacks (coil's coroutines do, in coro.c), so a
 * direct user of ctx.h registers its stacks with valgrind itself. */
#ifdef COIL_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#define REGISTER_STACK(lo, size) VALGRIND_STACK_REGISTER((lo), (char *)(lo) + (size))
#define UNDER_VALGRIND RUNNING_ON_VALGRIND
#else
#define REGISTER_STACK(lo, size) ((void)(lo), (void)(size))
#define UNDER_VALGRIND 0
#endif

/* valgrind's CPU emulates only the default MXCSR / x87 control modes. */
#define SKIP_FP_UNDER_VALGRIND()                                            \
    do {                                                                    \
        if (UNDER_VALGRIND)                                                 \
            SKIP("valgrind does not emulate non-default FP control modes"); \
    } while (0)

typedef void *(*switch_fn)(coil_ctx *, const coil_ctx *, void *);

/* From ctx_regs_<arch>.S. */
int regs_roundtrip(const uint64_t *vals, coil_ctx *from, const coil_ctx *to,
                   void *arg, switch_fn fn);
void *probe_entry(void *data, void *arg);
void *probe_entry_body(void *data, void *arg);
uintptr_t probe_entry_sp, probe_entry_fp;

#if defined(__x86_64__)
#define NREGS 6        /* rbx rbp r12 r13 r14 r15 */
#elif defined(__aarch64__)
#define NREGS 19       /* x19-x28 x29 d8-d15 */
#elif defined(__riscv) && __riscv_xlen == 64
#define NREGS 24       /* s0-s11 fs0-fs11 */
#elif defined(__powerpc64__) && _CALL_ELF == 2
#define NREGS 61       /* r14-r31 f14-f31 v20-v31 (2 words each), CR */
#elif defined(__s390x__)
#define NREGS 16       /* r6-r13 f8-f15 */
#else
#error "ctx_test: say how many callee-saved registers this CPU has (docs/porting.md)"
#endif

#define STACK_SIZE (256 * 1024)

static void *map_stack(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    CHECK(p != MAP_FAILED);
    REGISTER_STACK(p, size);
    return p;
}

static void fill(uint64_t *vals, uint64_t seed)
{
    for (int i = 0; i < NREGS; i++)
        vals[i] = seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x0101010101ull;
}

/* ------------------------------------------------- callee-saved registers */

static coil_ctx main_ctx, co_ctx;
static switch_fn under_test;

/* The other side also plants its own values, different from main's, and
 * checks they survive while main runs. */
static void *regs_other_side(void *data, void *arg)
{
    (void)data;
    uint64_t mine[NREGS];
    fill(mine, 0xc0ffee);
    intptr_t round = (intptr_t)arg;
    for (;;) {
        int bad = regs_roundtrip(mine, &co_ctx, &main_ctx,
                                 (void *)round, under_test);
        CHECK(bad == 0);
        round++;
    }
    return NULL;
}

static void check_registers_survive(switch_fn fn)
{
    under_test = fn;
    char *stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, regs_other_side, NULL,
                        NULL) == 0);
    for (int round = 0; round < 1000; round++) {
        uint64_t vals[NREGS];
        fill(vals, (uint64_t)round + 1);
        CHECK(regs_roundtrip(vals, &main_ctx, &co_ctx, (void *)0, fn) == 0);
    }
    munmap(stack, STACK_SIZE);
}

/* The full switch takes a different path under each MXCSR policy (ctx.h
 * point 2), so its tests run under each one the backend offers (which
 * those are, fp_policy_reads_sets_and_rejects_bad_values checks). */
static void under_each_fp_policy(void (*test)(void))
{
    int saved = coil_ctx_fp_policy(COIL_CTX_FP_QUERY);
    int runs = 0;
    for (int p = COIL_CTX_FP_COMPARE; p <= COIL_CTX_FP_RELOAD; p++) {
        if (coil_ctx_fp_policy(p) >= 0) {
            test();
            runs++;
        }
    }
    CHECK(runs > 0);
    coil_ctx_fp_policy(saved);
}

static void registers_survive_full_switch(void)
{
    check_registers_survive(coil_ctx_switch);
}

TEST(every_callee_saved_register_survives_a_switch)
{
    under_each_fp_policy(registers_survive_full_switch);
}

TEST(every_callee_saved_register_survives_a_nofp_switch)
{
    check_registers_survive(coil_ctx_switch_nofp);
}

#if defined(__powerpc64__) && !COIL_CTX_FCONTEXT
/* ppc64le ELFv2: r2, the TOC pointer, is the module's.  A context that
 * called the switch from one module (a different TOC than the side that
 * resumes it) must get its own r2 back, and the other side its own
 * (asm/ppc64le_elfv2.S keeps r2 in the frame). */
uint64_t toc_roundtrip(uint64_t toc, coil_ctx *from, const coil_ctx *to,
                       void *arg, switch_fn fn);

static void *toc_other_side(void *data, void *arg)
{
    switch_fn fn = (switch_fn)(uintptr_t)data;
    for (;;)
        arg = fn(&co_ctx, &main_ctx, (void *)((uintptr_t)arg + 1));
    return NULL;
}

static void toc_survives(switch_fn fn)
{
    char *stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, toc_other_side,
                        (void *)(uintptr_t)fn, NULL) == 0);
    for (uint64_t round = 0; round < 100; round++) {
        uint64_t toc = 0x7f0000001000ull + round * 0x10000;
        CHECK(toc_roundtrip(toc, &main_ctx, &co_ctx, (void *)round, fn) == toc);
    }
    munmap(stack, STACK_SIZE);
}

TEST(each_context_keeps_its_own_toc_pointer)
{
    toc_survives(coil_ctx_switch);
    toc_survives(coil_ctx_switch_nofp);
}
#define TOC_TEST T(each_context_keeps_its_own_toc_pointer),
#else
#define TOC_TEST
#endif

/* ----------------------------------------------------- FP control state */

#if defined(__x86_64__)
typedef struct fpctl { uint32_t mxcsr; uint16_t fcw; } fpctl;
static fpctl fp_get(void)
{
    fpctl f;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(f.mxcsr), "=m"(f.fcw));
    return f;
}
static void fp_set(fpctl f)
{
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(f.mxcsr), "m"(f.fcw));
}
static int fp_equal(fpctl a, fpctl b)
{
    /* MXCSR's low six bits are status flags, not control (ctx.h point 1). */
    return (a.mxcsr & ~0x3fu) == (b.mxcsr & ~0x3fu) && a.fcw == b.fcw;
}
__attribute__((unused)) static const fpctl FP_DEFAULT = {0x1f80, 0x037f};
static const fpctl FP_MAIN = {0x1f80 | 0x2000 | 0x8000, 0x037f | 0x0800};
static const fpctl FP_CORO = {0x1f80 | 0x6000 | 0x0040, 0x037f | 0x0c00};
#elif defined(__aarch64__)
typedef struct fpctl { uint64_t fpcr; } fpctl;
static fpctl fp_get(void)
{
    fpctl f;
    __asm__ volatile("mrs %0, fpcr" : "=r"(f.fpcr));
    return f;
}
static void fp_set(fpctl f)
{
    __asm__ volatile("msr fpcr, %0" : : "r"(f.fpcr));
}
static int fp_equal(fpctl a, fpctl b) { return a.fpcr == b.fpcr; }
__attribute__((unused)) static const fpctl FP_DEFAULT = {0};
static const fpctl FP_MAIN = {(2ull << 22) | (1ull << 24)};  /* RM, FZ */
static const fpctl FP_CORO = {(3ull << 22) | (1ull << 25)};  /* RZ, DN */
#elif defined(__riscv) && __riscv_xlen == 64
/* frm, fcsr's rounding-mode field; fflags are status, not checked. */
typedef struct fpctl { unsigned long frm; } fpctl;
static fpctl fp_get(void)
{
    fpctl f;
    __asm__ volatile("frrm %0" : "=r"(f.frm));
    return f;
}
static void fp_set(fpctl f)
{
    __asm__ volatile("fsrm %0" : : "r"(f.frm));
}
static int fp_equal(fpctl a, fpctl b) { return a.frm == b.frm; }
__attribute__((unused)) static const fpctl FP_DEFAULT = {0};  /* RNE */
static const fpctl FP_MAIN = {2};     /* RDN, toward -inf */
static const fpctl FP_CORO = {1};     /* RTZ, toward zero */
#elif defined(__powerpc64__) && _CALL_ELF == 2 && !COIL_CTX_FCONTEXT
/* The FPSCR's control byte (bits 56-63: VE OE UE ZE XE NI RN), what the
 * native port keeps per context (ctx.h point 1); the status bits above it
 * are not checked.  Only RN and NI are set here: an enable would trap on a
 * stale status bit. */
typedef struct fpctl { uint64_t ctl; } fpctl;
static fpctl fp_get(void)
{
    double d;
    uint64_t bits;
    __asm__ volatile("mffs %0" : "=d"(d));
    memcpy(&bits, &d, sizeof bits);
    fpctl f = {bits & 0xff};
    return f;
}
static void fp_set(fpctl f)
{
    double d;
    memcpy(&d, &f.ctl, sizeof d);
    __asm__ volatile("mtfsf 0x03, %0" : : "d"(d));
}
static int fp_equal(fpctl a, fpctl b) { return a.ctl == b.ctl; }
__attribute__((unused)) static const fpctl FP_DEFAULT = {0};  /* RN nearest */
static const fpctl FP_MAIN = {3};          /* RN toward -inf */
static const fpctl FP_CORO = {1 | 4};      /* RN toward zero, NI */
#else
/* CPUs that only the fcontext backend runs on (s390x; ppc64le over it): the
 * rounding mode, through <fenv.h>, stands for the FP control state. */
typedef struct fpctl { int round; } fpctl;
static fpctl fp_get(void)
{
    fpctl f = {fegetround()};
    return f;
}
static void fp_set(fpctl f)
{
    fesetround(f.round);
}
static int fp_equal(fpctl a, fpctl b) { return a.round == b.round; }
__attribute__((unused)) static const fpctl FP_DEFAULT = {FE_TONEAREST};
static const fpctl FP_MAIN = {FE_DOWNWARD};
static const fpctl FP_CORO = {FE_TOWARDZERO};
#endif

/* What a fresh context starts with: native, the psABI defaults (point 3);
 * fcontext, the state in force at make or at the first switch (point 10),
 * which the tests below keep the same. */
#if COIL_CTX_FCONTEXT
#define FP_FRESH FP_MAIN
#else
#define FP_FRESH FP_DEFAULT
#endif

static fpctl seen_at_start, seen_after_return;

static void *fp_body(void *data, void *arg)
{
    switch_fn fn = (switch_fn)(uintptr_t)data;
    (void)arg;
    seen_at_start = fp_get();
    fp_set(FP_CORO);
    fn(&co_ctx, &main_ctx, NULL);
    seen_after_return = fp_get();
    fn(&co_ctx, &main_ctx, NULL);
    return NULL;
}

static void fp_stays_per_context(switch_fn fn)
{
    char *stack = map_stack(STACK_SIZE);
    fpctl saved = fp_get();
    fp_set(FP_MAIN);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, fp_body,
                        (void *)(uintptr_t)fn, NULL) == 0);
    fn(&main_ctx, &co_ctx, NULL);
    CHECK(fp_equal(seen_at_start, FP_FRESH));     /* fresh: see above */
    CHECK(fp_equal(fp_get(), FP_MAIN));           /* coroutine's did not leak */
    fn(&main_ctx, &co_ctx, NULL);
    CHECK(fp_equal(seen_after_return, FP_CORO));  /* and it kept its own */
    CHECK(fp_equal(fp_get(), FP_MAIN));
    fp_set(saved);
    munmap(stack, STACK_SIZE);
}

static void full_switch_keeps_fp_control_state_per_context_once(void)
{
    fp_stays_per_context(coil_ctx_switch);
}

TEST(full_switch_keeps_fp_control_state_per_context)
{
    SKIP_FP_UNDER_VALGRIND();
    under_each_fp_policy(full_switch_keeps_fp_control_state_per_context_once);
}

#if COIL_CTX_FCONTEXT && defined(__x86_64__)
/* Point 10: Boost restores the FP control state on every jump, so on
 * x86_64 the nofp switch keeps it per context like the full one. */
TEST(nofp_switch_keeps_fp_control_state_per_context_under_fcontext)
{
    SKIP_FP_UNDER_VALGRIND();
    fp_stays_per_context(coil_ctx_switch_nofp);
}
#define NOFP_FP_TEST T(nofp_switch_keeps_fp_control_state_per_context_under_fcontext)
#define NOFP_FP_PROMISE 0
#elif COIL_CTX_FCONTEXT
#define NOFP_FP_PROMISE 0
#define NOFP_FP_TEST T(nofp_switch_fp_control_state_is_not_promised_under_fcontext)
TEST(nofp_switch_fp_control_state_is_not_promised_under_fcontext)
{
    SKIP("fcontext: the nofp switch's FP control state is Boost's (ctx.h point 10)");
}
#else
#define NOFP_FP_PROMISE 1
#define NOFP_FP_TEST T(nofp_switch_lets_fp_control_state_flow_with_the_thread), \
                     T(context_saved_by_nofp_has_no_fp_state_of_its_own)
#endif

#if NOFP_FP_PROMISE
TEST(nofp_switch_lets_fp_control_state_flow_with_the_thread)
{
    SKIP_FP_UNDER_VALGRIND();
    char *stack = map_stack(STACK_SIZE);
    fpctl saved = fp_get();
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, fp_body,
                        (void *)(uintptr_t)coil_ctx_switch_nofp, NULL) == 0);
    fp_set(FP_MAIN);
    coil_ctx_switch_nofp(&main_ctx, &co_ctx, NULL);
    CHECK(fp_equal(seen_at_start, FP_MAIN));      /* inherited */
    CHECK(fp_equal(fp_get(), FP_CORO));           /* flowed back */
    fp_set(FP_MAIN);
    coil_ctx_switch_nofp(&main_ctx, &co_ctx, NULL);
    CHECK(fp_equal(seen_after_return, FP_MAIN));
    fp_set(saved);
    munmap(stack, STACK_SIZE);
}

/* A context suspended by the nofp variant has no FP state of its own, so the
 * full variant resuming it leaves the resumer's in place (ctx.h point 2);
 * after a full switch away it owns its state again. */
static void *mixed_body(void *data, void *arg)
{
    (void)data, (void)arg;
    fp_set(FP_CORO);
    coil_ctx_switch_nofp(&co_ctx, &main_ctx, NULL);
    seen_after_return = fp_get();
    fp_set(FP_CORO);
    coil_ctx_switch(&co_ctx, &main_ctx, NULL);
    seen_at_start = fp_get();
    coil_ctx_switch(&co_ctx, &main_ctx, NULL);
    return NULL;
}

static void context_saved_by_nofp_has_no_fp_state_of_its_own_once(void)
{
    char *stack = map_stack(STACK_SIZE);
    fpctl saved = fp_get();
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, mixed_body, NULL,
                        NULL) == 0);
    fp_set(FP_MAIN);
    coil_ctx_switch(&main_ctx, &co_ctx, NULL);  /* it leaves by nofp */
    CHECK(fp_equal(fp_get(), FP_CORO));
    fp_set(FP_MAIN);
    coil_ctx_switch(&main_ctx, &co_ctx, NULL);  /* full resume: no state */
    CHECK(fp_equal(seen_after_return, FP_MAIN));
    CHECK(fp_equal(fp_get(), FP_MAIN));          /* it left by full switch */
    coil_ctx_switch(&main_ctx, &co_ctx, NULL);
    CHECK(fp_equal(seen_at_start, FP_CORO));     /* and kept its own */
    fp_set(saved);
    munmap(stack, STACK_SIZE);
}

TEST(context_saved_by_nofp_has_no_fp_state_of_its_own)
{
    SKIP_FP_UNDER_VALGRIND();
    under_each_fp_policy(context_saved_by_nofp_has_no_fp_state_of_its_own_once);
}
#endif /* NOFP_FP_PROMISE */

TEST(fp_policy_reads_sets_and_rejects_bad_values)
{
    int was = coil_ctx_fp_policy(COIL_CTX_FP_QUERY);
    CHECK(was == COIL_CTX_FP_COMPARE || was == COIL_CTX_FP_RELOAD);
#if !COIL_CTX_FCONTEXT
    CHECK(coil_ctx_fp_policy(COIL_CTX_FP_COMPARE) == was);
    CHECK(coil_ctx_fp_policy(COIL_CTX_FP_QUERY) == COIL_CTX_FP_COMPARE);
#endif
#if COIL_CTX_FCONTEXT
    /* Point 10: Boost writes the FP control state on every jump. */
    CHECK(was == COIL_CTX_FP_RELOAD);
    CHECK_ERRNO(coil_ctx_fp_policy(COIL_CTX_FP_COMPARE), ENOTSUP);
    CHECK(coil_ctx_fp_policy(COIL_CTX_FP_RELOAD) == COIL_CTX_FP_RELOAD);
    CHECK(coil_ctx_fp_policy(COIL_CTX_FP_QUERY) == COIL_CTX_FP_RELOAD);
#elif defined(__x86_64__)
    CHECK(coil_ctx_fp_policy(COIL_CTX_FP_RELOAD) == COIL_CTX_FP_COMPARE);
    CHECK(coil_ctx_fp_policy(COIL_CTX_FP_QUERY) == COIL_CTX_FP_RELOAD);
#else
    CHECK_ERRNO(coil_ctx_fp_policy(COIL_CTX_FP_RELOAD), ENOTSUP);
#endif
    CHECK_ERRNO(coil_ctx_fp_policy(2), EINVAL);
    CHECK_ERRNO(coil_ctx_fp_policy(-2), EINVAL);
    coil_ctx_fp_policy(was);
    CHECK(coil_ctx_fp_policy(COIL_CTX_FP_QUERY) == was);
}

/* ----------------------------------------------- the inline nofp switch */

#ifdef coil_ctx_switch_nofp
#if defined(__x86_64__)
void trash_caller_saved(void);     /* ctx_regs_x86_64.S */
#else
/* Elsewhere the inline switch is fcontext's, a plain call to
 * jump_fcontext(): the compiler takes every caller-saved register as lost
 * across it, as across any call, so there is no clobber list to check and
 * nothing to trash on purpose.  The tests below still check the values,
 * the red zone and the mixing of inline and out-of-line switches. */
static void trash_caller_saved(void) {}
#endif

/* The other side trashes every caller-saved register just before it
 * switches back, so whatever main kept in one across its switch is lost. */
static void *trashing_side(void *data, void *arg)
{
    (void)data;
    for (;;) {
        trash_caller_saved();
        arg = coil_ctx_switch_nofp(&co_ctx, &main_ctx, (void *)((uintptr_t)arg + 1));
    }
    return NULL;
}

static volatile uint64_t live_seed = 0x0123456789abcdefull;

/* More live values than there are registers, integer and floating point:
 * the compiler keeps some in callee-saved registers (the switch saves
 * those) and some in caller-saved ones or its frame (the clobber list must
 * make it save those). */
TEST(inline_switch_keeps_every_value_the_caller_holds)
{
    char *stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, trashing_side, NULL,
                        NULL) == 0);
    for (uint64_t round = 0; round < 1000; round++) {
        uint64_t seed = live_seed + round;
        uint64_t a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11;
        uint64_t e = seed * 13, f = seed * 17, g = seed * 19, h = seed * 23;
        uint64_t i = seed * 29, j = seed * 31, k = seed * 37, l = seed * 41;
        uint64_t m = seed * 43, n = seed * 47, o = seed * 53, p = seed * 59;
        double x = (double)seed * 0.5, y = (double)seed * 0.25;
        double z = (double)a / 3.0, w = (double)b + 1.5;
        long double q = (long double)seed * 1.25L;
        void *r = coil_ctx_switch_nofp(&main_ctx, &co_ctx, (void *)round);
        CHECK((uint64_t)(uintptr_t)r == round + 1);
        CHECK(a == seed * 3 && b == seed * 5 && c == seed * 7 &&
              d == seed * 11 && e == seed * 13 && f == seed * 17 &&
              g == seed * 19 && h == seed * 23 && i == seed * 29 &&
              j == seed * 31 && k == seed * 37 && l == seed * 41 &&
              m == seed * 43 && n == seed * 47 && o == seed * 53 &&
              p == seed * 59);
        CHECK(x == (double)seed * 0.5 && y == (double)seed * 0.25);
        CHECK(z == (double)(seed * 3) / 3.0 && w == (double)(seed * 5) + 1.5);
        CHECK(q == (long double)seed * 1.25L);
    }
    munmap(stack, STACK_SIZE);
}

/* A leaf function may keep locals in the 128 bytes below rsp without
 * moving rsp; the inline switch pushes its frame, so it must step over
 * them first.  (An ASan build moves such locals elsewhere; then this
 * passes trivially.) */
__attribute__((noinline)) static int leaf_with_red_zone(uint64_t seed)
{
    volatile uint64_t below[12];
    for (int i = 0; i < 12; i++)
        below[i] = seed + (uint64_t)i;
    coil_ctx_switch_nofp(&main_ctx, &co_ctx, NULL);
    int bad = 0;
    for (int i = 0; i < 12; i++)
        bad += below[i] != seed + (uint64_t)i;
    return bad;
}

TEST(inline_switch_spares_the_red_zone)
{
    char *stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, trashing_side, NULL,
                        NULL) == 0);
    for (uint64_t round = 0; round < 100; round++)
        CHECK(leaf_with_red_zone(live_seed ^ round) == 0);
    munmap(stack, STACK_SIZE);
}

/* A context suspended inline resumes by the out-of-line switch and the
 * other way round: both build the same frame. */
static void *alternating_side(void *data, void *arg)
{
    (void)data;
    for (uintptr_t v = (uintptr_t)arg;;) {
        v = (uintptr_t)coil_ctx_switch_nofp(&co_ctx, &main_ctx, (void *)(v + 1));
        v = (uintptr_t)(coil_ctx_switch_nofp)(&co_ctx, &main_ctx, (void *)(v + 1));
        v = (uintptr_t)coil_ctx_switch(&co_ctx, &main_ctx, (void *)(v + 1));
    }
    return NULL;
}

TEST(inline_and_out_of_line_switches_resume_each_other)
{
    char *stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, alternating_side, NULL,
                        NULL) == 0);
    uintptr_t v = 0;
    for (int i = 0; i < 300; i++) {
        uintptr_t sent = v;
        void *out = (void *)v;
        switch (i % 4) {       /* with the side's 3 kinds: every pairing */
        case 0: v = (uintptr_t)coil_ctx_switch_nofp(&main_ctx, &co_ctx, out); break;
        case 1: v = (uintptr_t)(coil_ctx_switch_nofp)(&main_ctx, &co_ctx, out); break;
        case 2: v = (uintptr_t)coil_ctx_switch(&main_ctx, &co_ctx, out); break;
        default: v = (uintptr_t)(coil_ctx_switch)(&main_ctx, &co_ctx, out); break;
        }
        CHECK(v == sent + 1);
    }
    munmap(stack, STACK_SIZE);
}

#define INLINE_SWITCH_TESTS                                                 \
    T(inline_switch_keeps_every_value_the_caller_holds),                    \
    T(inline_switch_spares_the_red_zone),                                   \
    T(inline_and_out_of_line_switches_resume_each_other),
#else
#define INLINE_SWITCH_TESTS
#endif

/* ------------------------------------------------------ entry and layout */

static void *seen_data, *seen_arg;

void *probe_entry_body(void *data, void *arg)
{
    seen_data = data;
    seen_arg = arg;
    coil_ctx_switch(&co_ctx, &main_ctx, NULL);
    return NULL;
}

TEST(entry_gets_aligned_stack_zero_frame_pointer_data_and_arg)
{
    /* Odd sizes and offsets: make must align the top itself. */
    for (size_t skew = 0; skew < 16; skew += 3) {
        char *stack = map_stack(STACK_SIZE);
        probe_entry_sp = probe_entry_fp = 1;
        CHECK(coil_ctx_make(&co_ctx, stack + skew, STACK_SIZE - 2 * skew,
                            probe_entry, (void *)0x1234, NULL) == 0);
        coil_ctx_switch(&main_ctx, &co_ctx, (void *)0x5678);
#if defined(__x86_64__)
        CHECK((probe_entry_sp + 8) % 16 == 0);    /* as after a call */
#elif defined(__s390x__)
        CHECK(probe_entry_sp % 8 == 0);     /* all the s390x ABI asks */
#else
        CHECK(probe_entry_sp % 16 == 0);
#endif
#if !COIL_CTX_FCONTEXT
        CHECK(probe_entry_fp == 0);     /* fcontext: not promised (point 10) */
#endif
        CHECK(probe_entry_sp < (uintptr_t)stack + STACK_SIZE - skew);
        CHECK(probe_entry_sp >= (uintptr_t)stack + STACK_SIZE - skew -
                                    COIL_CTX_FRAME_SIZE - 64);
        CHECK(seen_data == (void *)0x1234);
        CHECK(seen_arg == (void *)0x5678);
        munmap(stack, STACK_SIZE);
    }
}

TEST(make_writes_only_its_frame_at_the_top)
{
    char *stack = map_stack(STACK_SIZE);
    memset(stack, 0xa5, STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, probe_entry, NULL,
                        NULL) == 0);
    for (size_t i = 0; i < STACK_SIZE - COIL_CTX_FRAME_SIZE; i++)
        CHECK((unsigned char)stack[i] == 0xa5);
    munmap(stack, STACK_SIZE);
}

TEST(make_rejects_bad_arguments_with_einval)
{
    char buf[4096];
    CHECK_ERRNO(coil_ctx_make(NULL, buf, sizeof buf, probe_entry, NULL, NULL),
                EINVAL);
    CHECK_ERRNO(coil_ctx_make(&co_ctx, NULL, sizeof buf, probe_entry, NULL,
                              NULL), EINVAL);
    CHECK_ERRNO(coil_ctx_make(&co_ctx, buf, sizeof buf, NULL, NULL, NULL),
                EINVAL);
    CHECK_ERRNO(coil_ctx_make(&co_ctx, buf, COIL_CTX_MIN_STACK - 1,
                              probe_entry, NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_ctx_make(&co_ctx, buf, SIZE_MAX - 8, probe_entry, NULL,
                              NULL), EINVAL);
    CHECK(coil_ctx_make(&co_ctx, buf, COIL_CTX_MIN_STACK, probe_entry, NULL,
                        NULL) == 0);
}

/* ------------------------------------------------------------ data flow */

static void *echo_plus_one(void *data, void *arg)
{
    (void)data;
    uintptr_t v = (uintptr_t)arg;
    for (;;)
        v = (uintptr_t)coil_ctx_switch(&co_ctx, &main_ctx, (void *)(v + 1));
    return NULL;
}

TEST(values_cross_a_switch_in_both_directions)
{
    char *stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, echo_plus_one, NULL,
                        NULL) == 0);
    for (uintptr_t i = 0; i < 100000; i += 7) {
        void *r = coil_ctx_switch(&main_ctx, &co_ctx, (void *)(i * 3));
        CHECK((uintptr_t)r == i * 3 + 1);
    }
    munmap(stack, STACK_SIZE);
}

/* -------------------------------------------------------- entry returns */

static void *return_value(void *data, void *arg)
{
    return (void *)((uintptr_t)data + (uintptr_t)arg);
}

TEST(entry_return_switches_to_link_with_the_value)
{
    char *stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, stack, STACK_SIZE, return_value,
                        (void *)40, &main_ctx) == 0);
    void *r = coil_ctx_switch(&main_ctx, &co_ctx, (void *)2);
    CHECK(r == (void *)42);
    munmap(stack, STACK_SIZE);
}

static void return_without_link(void)
{
    char *stack = map_stack(STACK_SIZE);
    coil_ctx_make(&co_ctx, stack, STACK_SIZE, return_value, NULL, NULL);
    coil_ctx_switch(&main_ctx, &co_ctx, NULL);   /* must not come back */
}

TEST(entry_return_without_link_aborts_with_a_message)
{
    char buf[512];
    int status = run_capturing_stderr(return_without_link, buf, sizeof buf);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(buf, "entry function returned with no link context"));
}

/* ----------------------------------------------------- many and deep */

#define RING 1000
static coil_ctx ring[RING];
static uintptr_t ring_visits[RING];

/* A token travels round a ring of contexts: every switch goes to a
 * different context than the one it came from. */
static void *ring_member(void *data, void *arg)
{
    uintptr_t me = (uintptr_t)data;
    uintptr_t laps = (uintptr_t)arg;
    for (;;) {
        ring_visits[me]++;
        coil_ctx *next = me + 1 == RING ? &main_ctx : &ring[me + 1];
        laps = (uintptr_t)coil_ctx_switch(&ring[me], next, (void *)laps);
    }
    return NULL;
}

TEST(token_passes_round_a_ring_of_many_contexts)
{
    char *stacks = map_stack((size_t)RING * 16384);
    for (uintptr_t i = 0; i < RING; i++)
        REGISTER_STACK(stacks + i * 16384, 16384);
    for (uintptr_t i = 0; i < RING; i++)
        CHECK(coil_ctx_make(&ring[i], stacks + i * 16384, 16384,
                            ring_member, (void *)i, NULL) == 0);
    for (uintptr_t lap = 1; lap <= 50; lap++) {
        void *r = coil_ctx_switch(&main_ctx, &ring[0], (void *)lap);
        CHECK((uintptr_t)r == lap);
        for (int i = 0; i < RING; i++)
            CHECK(ring_visits[i] == lap);
    }
    munmap(stacks, (size_t)RING * 16384);
}

static char *deep_stack;

__attribute__((noinline)) static uintptr_t recurse(uintptr_t depth,
                                                  uintptr_t limit)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    pad[511] = (char)depth;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (here - (uintptr_t)deep_stack < limit)
        return depth + pad[0] - (char)depth;
    return recurse(depth + 1, limit) + (pad[511] - (char)depth);
}

static void *deep_body(void *data, void *arg)
{
    (void)data, (void)arg;
    /* Leave 8 KiB of a 256 KiB stack: use about 97% of it. */
    uintptr_t depth = recurse(0, 8192);
    coil_ctx_switch(&co_ctx, &main_ctx, (void *)depth);
    return NULL;
}

TEST(recursion_using_most_of_the_stack_succeeds)
{
    deep_stack = map_stack(STACK_SIZE);
    CHECK(coil_ctx_make(&co_ctx, deep_stack, STACK_SIZE, deep_body, NULL,
                        NULL) == 0);
    uintptr_t depth = (uintptr_t)coil_ctx_switch(&main_ctx, &co_ctx, NULL);
    CHECK(depth > 300);                  /* ~512+ bytes a frame */
    munmap(deep_stack, STACK_SIZE);
}

/* ------------------------------------------------------------ backend */

TEST(backend_is_the_one_the_header_was_configured_for)
{
    CHECK(strcmp(coil_ctx_backend(), COIL_CTX_FCONTEXT ? "fcontext"
                                                       : "native") == 0);
}


RUN_TESTS(T(every_callee_saved_register_survives_a_switch),
          T(every_callee_saved_register_survives_a_nofp_switch),
          TOC_TEST
          T(full_switch_keeps_fp_control_state_per_context),
          NOFP_FP_TEST,
          T(fp_policy_reads_sets_and_rejects_bad_values),
          INLINE_SWITCH_TESTS
          T(entry_gets_aligned_stack_zero_frame_pointer_data_and_arg),
          T(make_writes_only_its_frame_at_the_top),
          T(make_rejects_bad_arguments_with_einval),
          T(values_cross_a_switch_in_both_directions),
          T(entry_return_switches_to_link_with_the_value),
          T(entry_return_without_link_aborts_with_a_message),
          T(token_passes_round_a_ring_of_many_contexts),
          T(recursion_using_most_of_the_stack_succeeds),
          T(backend_is_the_one_the_header_was_configured_for))
