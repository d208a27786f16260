/*
 * bench/bench_fcontext.c — coil's fcontext backend (asm/fcontext.c) built
 * into the bench under other names, so that every build with Boost times
 * the seam (coil's API over Boost's switch) beside Boost's bare switch,
 * whichever backend the library itself uses.  The source is the
 * library's, compiled once more; only the names differ.
 */
#define COIL_CTX_NO_INLINE 1       /* the names below are functions here */
#define COIL__CTX_WANT_FCONTEXT 1  /* fcontext's types in a native build */
#define coil_ctx_switch bench_fctx_switch
#define coil_ctx_switch_nofp bench_fctx_switch_nofp
#define coil_ctx_make bench_fctx_make
#define coil_ctx_fp_policy bench_fctx_fp_policy
#define coil_ctx_backend bench_fctx_backend
#define coil__ctx_handoff bench_fctx_handoff
#define coil__ctx_handoff_nofp bench_fctx_handoff_nofp

#include "../asm/fcontext.c"
