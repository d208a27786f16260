/*
 * tests/coro_test.c — layer 2: coroutines.
 *
 * Built with frame pointers, so the frame-pointer walk below exercises the
 * zero frame pointer a fresh context starts with.
 */
#include <execinfo.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "coil.h"
#include "core/stack.h"

/* ------------------------------------------------------------ basics */

static void *count_up(void *arg)
{
    uintptr_t start = (uintptr_t)arg;
    void *in;
    for (uintptr_t i = start; i < start + 3; i++) {
        CHECK(coil_coro_yield((void *)i, &in) == 0);
        CHECK((uintptr_t)in == i * 10);
    }
    return (void *)0xd0e;
}

TEST(resume_and_yield_exchange_values_then_fn_result_comes_back)
{
    coil_coro *co = coil_coro_create(NULL, count_up, (void *)5);
    CHECK(co);
    CHECK(coil_coro_state(co) == COIL_CORO_CREATED);
    void *out, *in = NULL;
    for (uintptr_t i = 5; i < 8; i++) {
        CHECK(coil_coro_resume(co, in, &out) == 0);
        CHECK((uintptr_t)out == i);
        CHECK(coil_coro_state(co) == COIL_CORO_SUSPENDED);
        in = (void *)(i * 10);
    }
    CHECK(coil_coro_resume(co, in, &out) == 0);
    CHECK(out == (void *)0xd0e);
    CHECK(coil_coro_state(co) == COIL_CORO_DEAD);
    CHECK(coil_coro_destroy(co) == 0);
}

static void *report_state(void *arg)
{
    coil_coro **self = arg;
    CHECK(coil_coro_current() == *self);
    CHECK(coil_coro_state(*self) == COIL_CORO_RUNNING);
    return NULL;
}

TEST(current_and_state_while_running)
{
    coil_coro *co;
    CHECK(coil_coro_current() == NULL);
    co = coil_coro_create(NULL, report_state, &co);
    CHECK(coil_coro_resume(co, NULL, NULL) == 0);
    CHECK(coil_coro_current() == NULL);
    coil_coro_destroy(co);
}

static void *nothing(void *arg)
{
    return arg;
}

TEST(names_are_copied_defaulted_and_truncated)
{
    char name[] = "worker-1";
    coil_coro_attr attr = {.name = name};
    coil_coro *a = coil_coro_create(&attr, nothing, NULL);
    name[0] = 'X';
    CHECK(strcmp(coil_coro_name(a), "worker-1") == 0);
    coil_coro *b = coil_coro_create(NULL, nothing, NULL);
    CHECK(strncmp(coil_coro_name(b), "coro-", 5) == 0);
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    attr.name = longname;
    coil_coro *c = coil_coro_create(&attr, nothing, NULL);
    CHECK(strlen(coil_coro_name(c)) == COIL_NAME_MAX - 1);
    CHECK(strcmp(coil_coro_name(NULL), "") == 0);
    coil_coro_destroy(a);
    coil_coro_destroy(b);
    coil_coro_destroy(c);
}

TEST(stack_size_is_rounded_and_reported)
{
    coil_coro_attr attr = {.stack_size = 100000};
    coil_coro *co = coil_coro_create(&attr, nothing, NULL);
    CHECK(coil_coro_stack_size(co) >= 100000);
    CHECK(coil_coro_stack_size(co) % 4096 == 0);
    CHECK(coil_coro_stack_size(NULL) == 0);
    coil_coro_destroy(co);
    co = coil_coro_create(NULL, nothing, NULL);
    CHECK(coil_coro_stack_size(co) == COIL_STACK_DEFAULT_SIZE);
    coil_coro_destroy(co);
}

/* ------------------------------------------------------------- misuse */

TEST(bad_arguments_are_einval)
{
    coil_coro_attr huge = {.stack_size = COIL_STACK_MAX_SIZE + 1};
    CHECK_ERRNO(coil_coro_create(NULL, NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_coro_create(&huge, nothing, NULL), EINVAL);
    CHECK_ERRNO(coil_coro_resume(NULL, NULL, NULL), EINVAL);
    CHECK_ERRNO(coil_coro_destroy(NULL), EINVAL);
    CHECK_ERRNO(coil_coro_state(NULL), EINVAL);
}

TEST(first_resume_with_a_value_is_einval_so_nothing_is_lost)
{
    coil_coro *co = coil_coro_create(NULL, nothing, NULL);
    CHECK_ERRNO(coil_coro_resume(co, (void *)1, NULL), EINVAL);
    CHECK(coil_coro_state(co) == COIL_CORO_CREATED);
    CHECK(coil_coro_resume(co, NULL, NULL) == 0);
    coil_coro_destroy(co);
}

TEST(resuming_a_dead_coroutine_is_einval)
{
    coil_coro *co = coil_coro_create(NULL, nothing, NULL);
    CHECK(coil_coro_resume(co, NULL, NULL) == 0);
    CHECK_ERRNO(coil_coro_resume(co, NULL, NULL), EINVAL);
    coil_coro_destroy(co);
}

TEST(yield_outside_a_coroutine_is_eperm)
{
    CHECK_ERRNO(coil_coro_yield(NULL, NULL), EPERM);
}

static void *resume_self_and_parent(void *arg)
{
    coil_coro *parent = arg;
    coil_coro *self = coil_coro_current();
    CHECK_ERRNO(coil_coro_resume(self, NULL, NULL), EBUSY);
    CHECK_ERRNO(coil_coro_destroy(self), EBUSY);
    if (parent) {
        CHECK(coil_coro_state(parent) == COIL_CORO_NORMAL);
        CHECK_ERRNO(coil_coro_resume(parent, NULL, NULL), EBUSY);
        CHECK_ERRNO(coil_coro_destroy(parent), EBUSY);
    }
    return (void *)1;
}

static void *spawn_child(void *arg)
{
    (void)arg;
    coil_coro *child = coil_coro_create(NULL, resume_self_and_parent,
                                        coil_coro_current());
    void *out;
    CHECK(coil_coro_resume(child, NULL, &out) == 0 && out == (void *)1);
    CHECK(coil_coro_state(coil_coro_current()) == COIL_CORO_RUNNING);
    coil_coro_destroy(child);
    return (void *)2;
}

TEST(running_coroutines_and_their_resumers_are_ebusy)
{
    coil_coro *co = coil_coro_create(NULL, spawn_child, NULL);
    void *out;
    CHECK(coil_coro_resume(co, NULL, &out) == 0 && out == (void *)2);
    coil_coro_destroy(co);
}

static void *use_from_other_thread(void *arg)
{
    coil_coro *co = arg;
    errno = 0;
    int r1 = coil_coro_resume(co, NULL, NULL);
    int e1 = errno;
    int r2 = coil_coro_destroy(co);
    int e2 = errno;
    return (void *)(uintptr_t)(r1 == -1 && e1 == EPERM && r2 == -1 &&
                               e2 == EPERM);
}

TEST(another_thread_cannot_resume_or_destroy_it)
{
    coil_coro *co = coil_coro_create(NULL, nothing, NULL);
    pthread_t t;
    void *ok;
    CHECK(pthread_create(&t, NULL, use_from_other_thread, co) == 0);
    CHECK(pthread_join(t, &ok) == 0);
    CHECK(ok == (void *)1);
    CHECK(coil_coro_resume(co, NULL, NULL) == 0);
    coil_coro_destroy(co);
}

/* ------------------------------------------------------------ lifetime */

static int cleanup_ran;

static void *yield_forever(void *arg)
{
    (void)arg;
    for (;;)
        coil_coro_yield(NULL, NULL);
    cleanup_ran = 1;
    return NULL;
}

TEST(destroy_works_while_suspended_and_before_start)
{
    coil_coro *a = coil_coro_create(NULL, yield_forever, NULL);
    coil_coro *b = coil_coro_create(NULL, yield_forever, NULL);
    CHECK(coil_coro_resume(a, NULL, NULL) == 0);
    CHECK(coil_coro_state(a) == COIL_CORO_SUSPENDED);
    CHECK(coil_coro_destroy(a) == 0);
    CHECK(coil_coro_destroy(b) == 0);
    CHECK(cleanup_ran == 0);
    coil__stack_stats s;
    coil__stack_pool_stats(&s);
    CHECK(s.in_use == 0);
}

TEST(finished_coroutine_returns_its_stack_at_once)
{
    coil_coro *co = coil_coro_create(NULL, nothing, NULL);
    coil__stack_stats s;
    coil__stack_pool_stats(&s);
    CHECK(s.in_use == 1);
    CHECK(coil_coro_resume(co, NULL, NULL) == 0);
    coil__stack_pool_stats(&s);
    CHECK(s.in_use == 0);
    coil_coro_destroy(co);
}

TEST(unpooled_and_nofp_coroutines_behave_the_same)
{
    coil_coro_attr attr = {.flags = COIL_CORO_UNPOOLED | COIL_CORO_NOFP};
    coil_coro *co = coil_coro_create(&attr, count_up, (void *)1);
    void *out;
    for (uintptr_t i = 1; i < 4; i++) {
        CHECK(coil_coro_resume(co, (void *)(i == 1 ? 0 : (i - 1) * 10),
                               &out) == 0);
        CHECK((uintptr_t)out == i);
    }
    CHECK(coil_coro_resume(co, (void *)30, &out) == 0);
    CHECK(out == (void *)0xd0e);
    coil_coro_destroy(co);
}

TEST(failed_stack_mapping_makes_create_fail_with_enomem)
{
    coil__stack_fail_next_mmaps(1);
    coil_coro_attr attr = {.flags = COIL_CORO_UNPOOLED};
    CHECK_ERRNO(coil_coro_create(&attr, nothing, NULL), ENOMEM);
    coil_coro *co = coil_coro_create(&attr, nothing, NULL);
    CHECK(co);
    coil_coro_destroy(co);
}

/* -------------------------------------------------------------- nesting */

static void *inner(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    coil_coro_yield((void *)(v + 1), NULL);
    return (void *)(v + 2);
}

static void *outer(void *arg)
{
    (void)arg;
    coil_coro *in = coil_coro_create(NULL, inner, (void *)100);
    void *out;
    coil_coro_resume(in, NULL, &out);
    coil_coro_yield(out, NULL);              /* 101 to main */
    coil_coro_resume(in, NULL, &out);
    coil_coro_destroy(in);
    return out;                              /* 102 to main */
}

TEST(coroutines_nest_like_calls)
{
    coil_coro *co = coil_coro_create(NULL, outer, NULL);
    void *out;
    CHECK(coil_coro_resume(co, NULL, &out) == 0 && out == (void *)101);
    CHECK(coil_coro_resume(co, NULL, &out) == 0 && out == (void *)102);
    CHECK(coil_coro_state(co) == COIL_CORO_DEAD);
    coil_coro_destroy(co);
}

/* ---------------------------------------------------------------- scale */

static void *round_robin_member(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uintptr_t round = 0;; round++)
        coil_coro_yield((void *)(id * 4 + round), NULL);
    return NULL;
}

TEST(hundred_thousand_live_coroutines_switched_round_robin)
{
    long n = scaled(100000);
    coil_coro **all = calloc((size_t)n, sizeof *all);
    CHECK(all);
    for (long i = 0; i < n; i++) {
        all[i] = coil_coro_create(NULL, round_robin_member, (void *)i);
        CHECK(all[i]);
    }
    for (uintptr_t round = 0; round < 3; round++)
        for (long i = 0; i < n; i++) {
            void *out;
            CHECK(coil_coro_resume(all[i], NULL, &out) == 0);
            CHECK((uintptr_t)out == (uintptr_t)i * 4 + round);
        }
    for (long i = 0; i < n; i++)
        CHECK(coil_coro_destroy(all[i]) == 0);
    free(all);
}

static uintptr_t deep_lo, deepest;

__attribute__((noinline)) static uintptr_t dive(uintptr_t depth,
                                               uintptr_t keep)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (here - deep_lo < keep) {
        deepest = here;
        return depth;
    }
    return dive(depth + 1, keep) + (uintptr_t)(pad[0] - (char)depth);
}

static void *deep(void *arg)
{
    (void)arg;
    deep_lo = (uintptr_t)coil__stack_running->lo;
    /* Stop 12 KiB above the bottom of 256 KiB: ~95% of the stack. */
    return (void *)dive(0, 12 * 1024);
}

TEST(recursion_using_most_of_the_stack_succeeds)
{
    coil_coro_attr attr = {.name = "deep", .stack_size = 256 * 1024};
    coil_coro *co = coil_coro_create(&attr, deep, NULL);
    void *depth;
    CHECK(coil_coro_resume(co, NULL, &depth) == 0);
    CHECK(coil_coro_state(co) == COIL_CORO_DEAD);
    CHECK((uintptr_t)depth > 100);
    CHECK(deepest > deep_lo && deepest - deep_lo < 12 * 1024);
    coil_coro_destroy(co);
}

/* ------------------------------------------- unwinders stop cleanly */

static int backtrace_frames;

__attribute__((noinline)) static void take_backtrace(void)
{
    void *frames[128];
    backtrace_frames = backtrace(frames, 128);
}

static void *unwind_body(void *arg)
{
    (void)arg;
    take_backtrace();
    return NULL;
}

TEST(backtrace_inside_a_coroutine_ends_at_its_entry)
{
    coil_coro *co = coil_coro_create(NULL, unwind_body, NULL);
    CHECK(coil_coro_resume(co, NULL, NULL) == 0);
    /* take_backtrace, unwind_body, coro_main, the start routine, maybe
     * backtrace itself: a handful, never the 128 of a runaway walk. */
    printf("  backtrace() found %d frames\n", backtrace_frames);
    fflush(stdout);
    CHECK(backtrace_frames >= 3 && backtrace_frames < 12);
    coil_coro_destroy(co);
}

static int fp_frames;

__attribute__((noinline)) static void walk_frame_pointers(void)
{
#if defined(__riscv)
    /* RISC-V's frame pointer points at the top of its frame and the
     * record sits below it: [fp - 16] = caller's fp, [fp - 8] = return
     * address.  A leaf such as this function saves no ra, so its own
     * record is the caller's fp alone, at [fp - 8]. */
    uintptr_t *fp = (uintptr_t *)((uintptr_t *)__builtin_frame_address(0))[-1];
    fp_frames = 1;
    while (fp && fp_frames < 1000) {
        fp_frames++;
        fp = (uintptr_t *)fp[-2];
    }
#else
    /* Frame records: [fp] = caller's fp, [fp + 8] = return address. */
    uintptr_t *fp = __builtin_frame_address(0);
    fp_frames = 0;
    while (fp && fp_frames < 1000) {
        fp_frames++;
        fp = (uintptr_t *)fp[0];
    }
#endif
}

static void *fp_body(void *arg)
{
    (void)arg;
    walk_frame_pointers();
    return NULL;
}

TEST(frame_pointer_chain_ends_with_zero_inside_a_coroutine)
{
#if COIL_CTX_FCONTEXT
    SKIP("fcontext: Boost's start leaves no zero frame pointer (ctx.h point 10)");
#endif
    coil_coro *co = coil_coro_create(NULL, fp_body, NULL);
    CHECK(coil_coro_resume(co, NULL, NULL) == 0);
    printf("  the frame-pointer walk found %d frames\n", fp_frames);
    fflush(stdout);
    CHECK(fp_frames >= 2 && fp_frames < 10);
    coil_coro_destroy(co);
}

/* A thread's stack pool goes at thread exit, in a TLS destructor; one
 * that runs after it (a later key's, in glibc's order) may still free a
 * coroutine.  Its stack died with the pool's slabs: the free must not
 * touch it, nor the pool. */
static void *yield_once(void *arg)
{
    coil_coro_yield(NULL, NULL);
    return arg;
}

static pthread_key_t late_key;
static int late_result = -2;

static void destroy_late(void *co)
{
    late_result = coil_coro_destroy(co);
}

static void *thread_leaving_a_coroutine(void *arg)
{
    (void)arg;
    coil_coro *co = coil_coro_create(NULL, yield_once, NULL);
    CHECK(co && coil_coro_resume(co, NULL, NULL) == 0);   /* suspended */
    CHECK(pthread_setspecific(late_key, co) == 0);
    return NULL;
}

TEST(a_coroutine_freed_after_its_threads_pool_is_gone_frees_safely)
{
    coil_coro *warm = coil_coro_create(NULL, yield_once, NULL);
    CHECK(warm && coil_coro_destroy(warm) == 0);  /* the pool's key first */
    CHECK(pthread_key_create(&late_key, destroy_late) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_leaving_a_coroutine, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(late_result == 0);
    pthread_key_delete(late_key);
}

RUN_TESTS(T(resume_and_yield_exchange_values_then_fn_result_comes_back),
          T(a_coroutine_freed_after_its_threads_pool_is_gone_frees_safely),
          T(current_and_state_while_running),
          T(names_are_copied_defaulted_and_truncated),
          T(stack_size_is_rounded_and_reported),
          T(bad_arguments_are_einval),
          T(first_resume_with_a_value_is_einval_so_nothing_is_lost),
          T(resuming_a_dead_coroutine_is_einval),
          T(yield_outside_a_coroutine_is_eperm),
          T(running_coroutines_and_their_resumers_are_ebusy),
          T(another_thread_cannot_resume_or_destroy_it),
          T(destroy_works_while_suspended_and_before_start),
          T(finished_coroutine_returns_its_stack_at_once),
          T(unpooled_and_nofp_coroutines_behave_the_same),
          T(failed_stack_mapping_makes_create_fail_with_enomem),
          T(coroutines_nest_like_calls),
          T(hundred_thousand_live_coroutines_switched_round_robin),
          T(recursion_using_most_of_the_stack_succeeds),
          T(backtrace_inside_a_coroutine_ends_at_its_entry),
          T(frame_pointer_chain_ends_with_zero_inside_a_coroutine))
