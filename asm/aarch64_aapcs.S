/*
 * asm/aarch64_aapcs.S — coil's context switch for AArch64, AAPCS64, ELF.
 *
 * The contract is the comment at the top of include/coil/ctx.h; this file is
 * its register map.  A suspended context is one 176-byte frame on its own
 * stack, and coil_ctx.sp points at it (sp is always 16-byte aligned here:
 * the hardware checks it):
 *
 *     sp +   0   x19, x20
 *     sp +  16   x21, x22
 *     sp +  32   x23, x24
 *     sp +  48   x25, x26
 *     sp +  64   x27, x28
 *     sp +  80   x29 (fp), x30 (resume address = return address of the call)
 *     sp +  96   d8,  d9      AAPCS64 preserves only the low 64 bits
 *     sp + 112   d10, d11     of v8-v15
 *     sp + 128   d12, d13
 *     sp + 144   d14, d15
 *     sp + 160   FPCR         (per-context: ctx.h point 1; all ones when
 *                             saved by the nofp switch: no FP state)
 *     sp + 168   unused
 *
 * Arguments: x0-x7; result in x0.  x9-x15 are free scratch.
 */

#define FRAME_X19     0
#define FRAME_X21    16
#define FRAME_X23    32
#define FRAME_X25    48
#define FRAME_X27    64
#define FRAME_X29    80
#define FRAME_D8     96
#define FRAME_D10   112
#define FRAME_D12   128
#define FRAME_D14   144
#define FRAME_FPCR  160
#define FRAME_SIZE  176

/* What the nofp switch leaves in the FPCR slot: all ones, which no real
 * FPCR holds (many of its bits are RES0). */
#define NO_FP_STATE -1

/* The fresh frame sits 16 bytes below the aligned top: a zero pair above it
 * and the scratch coil_ctx the start routine saves into when entry returns.
 * Must match COIL_CTX_FRAME_SIZE in ctx.h. */
#define FRESH_SIZE  (FRAME_SIZE + 16)

#define MIN_STACK    1024
#define EINVAL_VALUE 22
#define ENOTSUP_VALUE 95           /* EOPNOTSUPP on Linux */
#define SYS_write    64

/* Landing pads, spelled as hints so that any assembler takes them and any
 * CPU without BTI runs them as NOPs. */
#define BTI_C   hint #34
#define BTI_JC  hint #38

/* ctx.h point 7: a BR may not land on a C return address on a BTI-guarded
 * page, and pages are guarded only when the whole program is built with
 * branch protection — which is when the compiler defines this macro. */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define COIL_BTI 1
#define RESUME   ret                 /* legal anywhere; mispredicts */
#else
#define COIL_BTI 0
#define RESUME   br x30              /* predicted by the indirect predictor */
#endif

    .text

/* Save the callee-saved state of the running flow into a new frame at sp.
 * with_fp: record FPCR (and leave it in x9); otherwise store the marker
 * NO_FP_STATE, which tells a full switch resuming this frame to leave FPCR
 * as it finds it. */
.macro SAVE_FRAME with_fp
    sub     sp, sp, #FRAME_SIZE
    .cfi_def_cfa_offset FRAME_SIZE
    stp     x19, x20, [sp, #FRAME_X19]
    stp     x21, x22, [sp, #FRAME_X21]
    stp     x23, x24, [sp, #FRAME_X23]
    stp     x25, x26, [sp, #FRAME_X25]
    stp     x27, x28, [sp, #FRAME_X27]
    stp     x29, x30, [sp, #FRAME_X29]
    .cfi_offset x19, -FRAME_SIZE + FRAME_X19
    .cfi_offset x20, -FRAME_SIZE + FRAME_X19 + 8
    .cfi_offset x29, -FRAME_SIZE + FRAME_X29
    .cfi_offset x30, -FRAME_SIZE + FRAME_X29 + 8
    stp     d8,  d9,  [sp, #FRAME_D8]
    stp     d10, d11, [sp, #FRAME_D10]
    stp     d12, d13, [sp, #FRAME_D12]
    stp     d14, d15, [sp, #FRAME_D14]
.if \with_fp
    mrs     x9, fpcr
    str     x9, [sp, #FRAME_FPCR]
.else
    mov     x9, #NO_FP_STATE
    str     x9, [sp, #FRAME_FPCR]
.endif
.endm

/* Restore everything but FPCR from the frame at sp, pop it, and resume:
 * style br as RESUME says (ctx.h point 6), style ret by ret, for coil's
 * hand-offs between tasks (see coil__ctx_handoff below). */
.macro RESTORE_FRAME_AND_RESUME style
    ldp     x19, x20, [sp, #FRAME_X19]
    ldp     x21, x22, [sp, #FRAME_X21]
    ldp     x23, x24, [sp, #FRAME_X23]
    ldp     x25, x26, [sp, #FRAME_X25]
    ldp     x27, x28, [sp, #FRAME_X27]
    ldp     x29, x30, [sp, #FRAME_X29]
    ldp     d8,  d9,  [sp, #FRAME_D8]
    ldp     d10, d11, [sp, #FRAME_D10]
    ldp     d12, d13, [sp, #FRAME_D12]
    ldp     d14, d15, [sp, #FRAME_D14]
    add     sp, sp, #FRAME_SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x29
    .cfi_register x30, x30
    mov     x0, x2                  /* hand arg to the resumed side */
.ifc \style, ret
    ret
.else
    RESUME
.endif
.endm

/* The full switch, and the one without FPCR, as macros: each is assembled
 * twice, resuming as RESUME says (the public entry points) and by ret
 * (coil's internal hand-offs). */
.macro SWITCH name, style
    .p2align 4
\name:
    .cfi_startproc
    BTI_C
    SAVE_FRAME 1
    mov     x10, sp
    str     x10, [x0]               /* suspend: publish our frame */
    ldr     x10, [x1]
    mov     sp, x10                 /* same frame shape: CFI still holds */
    .cfi_remember_state
    /* Writing FPCR may synchronise the pipeline; in most programs every
     * context holds the same value, so write only when it differs. */
    ldr     x10, [sp, #FRAME_FPCR]
    cmp     x9, x10
    b.ne    .Lload_fpcr_\name
.Lfpcr_done_\name:
    RESTORE_FRAME_AND_RESUME \style
.Lload_fpcr_\name:
    .cfi_restore_state
    cmn     x10, #1                 /* NO_FP_STATE: suspended by nofp, */
    b.eq    .Lfpcr_done_\name      /* it has no FPCR of its own */
    msr     fpcr, x10
    b       .Lfpcr_done_\name
    .cfi_endproc
    .size   \name, .-\name
.endm

/* Same frame; FPCR is neither recorded nor restored. */
.macro SWITCH_NOFP name, style
    .p2align 4
\name:
    .cfi_startproc
    BTI_C
    SAVE_FRAME 0
    mov     x10, sp
    str     x10, [x0]
    ldr     x10, [x1]
    mov     sp, x10
    RESTORE_FRAME_AND_RESUME \style
    .cfi_endproc
    .size   \name, .-\name
.endm

/* ------------------------------------------------------------------------
 * void *coil_ctx_switch(coil_ctx *from, const coil_ctx *to, void *arg)
 * void *coil_ctx_switch_nofp(coil_ctx *from, const coil_ctx *to, void *arg)
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_switch
    .type   coil_ctx_switch, %function
    SWITCH  coil_ctx_switch, resume
    .globl  coil_ctx_switch_nofp
    .type   coil_ctx_switch_nofp, %function
    SWITCH_NOFP coil_ctx_switch_nofp, resume

/* ------------------------------------------------------------------------
 * void *coil__ctx_handoff(coil_ctx *from, const coil_ctx *to, void *arg)
 * void *coil__ctx_handoff_nofp(...)
 *
 * Internal to coil (hidden): the same switches, resuming by ret, for the
 * scheduler's hand-offs between tasks suspended at the same call site
 * inside coil.  There the return-address predictor's top entry is the
 * switching side's own return address, which is also the resumed side's,
 * so the ret and every return after it are predicted; a BR would leave
 * that entry in place and shift every later prediction by one.  See the
 * x86_64 file for the measurement.
 * ------------------------------------------------------------------------ */
    .globl  coil__ctx_handoff
    .hidden coil__ctx_handoff
    .type   coil__ctx_handoff, %function
    SWITCH  coil__ctx_handoff, ret
    .globl  coil__ctx_handoff_nofp
    .hidden coil__ctx_handoff_nofp
    .type   coil__ctx_handoff_nofp, %function
    SWITCH_NOFP coil__ctx_handoff_nofp, ret

/* ------------------------------------------------------------------------
 * int coil_ctx_fp_policy(int policy)
 *
 * x86_64 can write MXCSR on every switch or only when it differs (ctx.h
 * point 2).  Here FPCR is read with a register move (mrs), so comparing
 * first is always the cheaper way: -1 (query) and 0 (COIL_CTX_FP_COMPARE)
 * return 0; 1 (COIL_CTX_FP_RELOAD) fails with ENOTSUP, anything else with
 * EINVAL.
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_fp_policy
    .type   coil_ctx_fp_policy, %function
    .p2align 4
coil_ctx_fp_policy:
    .cfi_startproc
    BTI_C
    cmn     w0, #1
    b.eq    1f
    cbz     w0, 1f
    cmp     w0, #1
    mov     w1, #ENOTSUP_VALUE
    mov     w2, #EINVAL_VALUE
    csel    w1, w1, w2, eq
    stp     x29, x30, [sp, #-32]!
    .cfi_def_cfa_offset 32
    .cfi_offset x29, -32
    .cfi_offset x30, -24
    mov     x29, sp
    str     w1, [sp, #16]           /* the errno value, across the call */
    bl      __errno_location
    ldr     w1, [sp, #16]
    str     w1, [x0]
    ldp     x29, x30, [sp], #32
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    mov     w0, #-1
    ret
1:  mov     w0, #0
    ret
    .cfi_endproc
    .size   coil_ctx_fp_policy, .-coil_ctx_fp_policy

/* ------------------------------------------------------------------------
 * int coil_ctx_make(coil_ctx *ctx, void *stack, size_t size,
 *                   coil_ctx_entry entry, void *data, coil_ctx *link)
 *   x0 = ctx, x1 = stack, x2 = size, x3 = entry, x4 = data, x5 = link
 *
 * The fresh frame carries entry in x19, data in x20, link in x21 (all
 * callee-saved, so they survive the call to entry), x29 = 0 to end frame
 * record chains, FPCR = 0 (Linux's initial value), and the start routine as
 * its resume address.
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_make
    .type   coil_ctx_make, %function
    .p2align 4
coil_ctx_make:
    .cfi_startproc
    BTI_C
    cbz     x0, .Lmake_einval
    cbz     x1, .Lmake_einval
    cbz     x3, .Lmake_einval
    cmp     x2, #MIN_STACK
    b.lo    .Lmake_einval
    adds    x2, x1, x2              /* x2 = stack + size = top */
    b.cs    .Lmake_einval           /* wrapped around the address space */
    and     x2, x2, #~15
    sub     x9, x2, #FRESH_SIZE
    stp     x3,  x4,  [x9, #FRAME_X19]
    stp     x5,  xzr, [x9, #FRAME_X21]
    stp     xzr, xzr, [x9, #FRAME_X23]
    stp     xzr, xzr, [x9, #FRAME_X25]
    stp     xzr, xzr, [x9, #FRAME_X27]
    adr     x10, coil_ctx_start
    stp     xzr, x10, [x9, #FRAME_X29]
    stp     xzr, xzr, [x9, #FRAME_D8]
    stp     xzr, xzr, [x9, #FRAME_D10]
    stp     xzr, xzr, [x9, #FRAME_D12]
    stp     xzr, xzr, [x9, #FRAME_D14]
    stp     xzr, xzr, [x9, #FRAME_FPCR]
    stp     xzr, xzr, [x9, #FRAME_SIZE]  /* the 16 bytes above: zero */
    str     x9, [x0]
    mov     w0, #0
    ret
.Lmake_einval:
    stp     x29, x30, [sp, #-16]!
    .cfi_def_cfa_offset 16
    .cfi_offset x29, -16
    .cfi_offset x30, -8
    mov     x29, sp
    bl      __errno_location
    mov     w1, #EINVAL_VALUE
    str     w1, [x0]
    ldp     x29, x30, [sp], #16
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    mov     w0, #-1
    ret
    .cfi_endproc
    .size   coil_ctx_make, .-coil_ctx_make

/* ------------------------------------------------------------------------
 * coil_ctx_start: where a fresh context begins (reached by the resume
 * branch of a switch).  sp = top - 16; x0 = the switch's arg.
 *
 * The return address (x30) is marked undefined: this is the outermost frame
 * of the context, and unwinders must stop here.  x29 is 0 for frame-record
 * walkers.
 * ------------------------------------------------------------------------ */
    .type   coil_ctx_start, %function
    .p2align 4
coil_ctx_start:
    .cfi_startproc
    .cfi_undefined x30
    BTI_JC
    mov     x1, x0                  /* entry(data, arg) */
    mov     x0, x20
    blr     x19
    cbz     x21, .Lno_link
    mov     x2, x0                  /* arg: entry's return value */
    mov     x1, x21                 /* to: link */
    mov     x0, sp                  /* from: scratch coil_ctx at top - 16 */
    bl      coil__ctx_switch_local
    udf     #0                      /* a finished context is never resumed */
.Lno_link:
    mov     x0, #2                  /* write(2, msg, len): a raw syscall, as
                                       stdio may be in any state */
    adrp    x1, .Lno_link_msg
    add     x1, x1, :lo12:.Lno_link_msg
    mov     x2, #.Lno_link_len
    mov     x8, #SYS_write
    svc     #0
    bl      abort
    udf     #0
    .cfi_endproc
    .size   coil_ctx_start, .-coil_ctx_start

/* ------------------------------------------------------------------------
 * void coil__ctx_unwind_from(const coil_ctx *ctx, void *resumed_sp,
 *                            void (*fn)(void *), void *arg)
 *
 * Internal to coil (hidden): call fn(arg), on the caller's own stack, inside
 * a frame whose unwind info says that its caller is the suspended context
 * *ctx, so that an unwinder started in fn walks on into the suspended stack
 * as if the switch had just returned there (the x86_64 file says more).
 * x19 holds the saved frame: CFA = x19 + FRAME_SIZE, which is the sp the
 * switch returns with, and x19..x30 lie at FRAME_* below it.  resumed_sp
 * is not needed here: no switch on this CPU is inlined, so sp at the
 * resume address is always the CFA.  The suspended stack is only read.
 * ------------------------------------------------------------------------ */
    .globl  coil__ctx_unwind_from
    .hidden coil__ctx_unwind_from
    .type   coil__ctx_unwind_from, %function
    .p2align 4
coil__ctx_unwind_from:
    .cfi_startproc
    BTI_C
    stp     x29, x30, [sp, #-32]!
    .cfi_def_cfa_offset 32
    .cfi_offset x29, -32
    .cfi_offset x30, -24
    str     x19, [sp, #16]
    .cfi_offset x19, -16
    mov     x29, sp
    ldr     x19, [x0]
    mov     x0, x3
    .cfi_remember_state
    .cfi_def_cfa x19, FRAME_SIZE
    .cfi_offset x19, FRAME_X19 - FRAME_SIZE
    .cfi_offset x20, FRAME_X19 + 8 - FRAME_SIZE
    .cfi_offset x21, FRAME_X21 - FRAME_SIZE
    .cfi_offset x22, FRAME_X21 + 8 - FRAME_SIZE
    .cfi_offset x23, FRAME_X23 - FRAME_SIZE
    .cfi_offset x24, FRAME_X23 + 8 - FRAME_SIZE
    .cfi_offset x25, FRAME_X25 - FRAME_SIZE
    .cfi_offset x26, FRAME_X25 + 8 - FRAME_SIZE
    .cfi_offset x27, FRAME_X27 - FRAME_SIZE
    .cfi_offset x28, FRAME_X27 + 8 - FRAME_SIZE
    .cfi_offset x29, FRAME_X29 - FRAME_SIZE
    .cfi_offset x30, FRAME_X29 + 8 - FRAME_SIZE
    blr     x2
    .cfi_restore_state
    ldr     x19, [sp, #16]
    .cfi_restore x19
    ldp     x29, x30, [sp], #32
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size   coil__ctx_unwind_from, .-coil__ctx_unwind_from

/* A local alias, so the start routine's call binds inside this object. */
    .set    coil__ctx_switch_local, coil_ctx_switch

    .section .rodata.str1.1, "aMS", %progbits, 1
.Lno_link_msg:
    .ascii  "coil: context entry function returned with no link context\n"
    .set    .Lno_link_len, . - .Lno_link_msg

/* No executable stack. */
    .section .note.GNU-stack, "", %progbits

#if COIL_BTI
/* GNU property note: BTI-compatible, and PAC-compatible when the build signs
 * return addresses (this file never signs or authenticates any). */
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define COIL_FEATURES 3
#else
#define COIL_FEATURES 1
#endif
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                       /* n_namesz: "GNU\0" */
    .long   16                      /* n_descsz */
    .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long   4                       /* pr_datasz */
    .long   COIL_FEATURES           /* 1 = BTI, 2 = PAC */
    .long   0
#endif
