/*
 * bench/switch_insns.c — a program that does nothing but switch, for
 * counting the instructions a switch costs under qemu-user, where time
 * means nothing (tools/switch-insns.sh runs it twice with different
 * counts and divides the difference).
 *
 *   switch_insns coil N     N round trips through coil_ctx_switch()
 *   switch_insns nofp N     the same through coil_ctx_switch_nofp()
 *   switch_insns boost N    the same through Boost's jump_fcontext()
 *                           (only when built with -DWITH_BOOST)
 */
#include <coil/ctx.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static coil_ctx main_ctx, side_ctx;
static _Alignas(16) char stack[64 * 1024];

static void *side_full(void *data, void *arg)
{
    (void)data;
    for (;;)
        arg = coil_ctx_switch(&side_ctx, &main_ctx, arg);
    return NULL;
}

static void *side_nofp(void *data, void *arg)
{
    (void)data;
    for (;;)
        arg = coil_ctx_switch_nofp(&side_ctx, &main_ctx, arg);
    return NULL;
}

#ifdef WITH_BOOST
/* Boost's C ABI, as its own headers declare it for C++. */
typedef struct { void *fctx; void *data; } boost_transfer;
boost_transfer jump_fcontext(void *to, void *vp);
void *make_fcontext(void *sp, size_t size, void (*fn)(boost_transfer));

static void side_boost(boost_transfer t)
{
    for (;;)
        t = jump_fcontext(t.fctx, t.data);
}

static void run_boost(long n)
{
    void *side = make_fcontext(stack + sizeof stack, sizeof stack, side_boost);
    for (long i = 0; i < n; i++)
        side = jump_fcontext(side, NULL).fctx;
}
#endif

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s coil|nofp|boost ROUND_TRIPS\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "coil") == 0 || strcmp(argv[1], "nofp") == 0) {
        int nofp = argv[1][0] == 'n';
        if (coil_ctx_make(&side_ctx, stack, sizeof stack,
                          nofp ? side_nofp : side_full, NULL, NULL) != 0)
            return 1;
        for (long i = 0; i < n; i++) {
            if (nofp)
                coil_ctx_switch_nofp(&main_ctx, &side_ctx, NULL);
            else
                coil_ctx_switch(&main_ctx, &side_ctx, NULL);
        }
        return 0;
    }
#ifdef WITH_BOOST
    if (strcmp(argv[1], "boost") == 0) {
        run_boost(n);
        return 0;
    }
#endif
    fprintf(stderr, "%s: no switch '%s' in this build\n", argv[0], argv[1]);
    return 2;
}
