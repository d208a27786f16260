/*
 * asm/riscv64_lp64d.S — coil's context switch for RISC-V 64, the LP64D
 * calling convention of the RISC-V ELF psABI, ELF, Linux (rv64gc).
 *
 * The contract is the comment at the top of include/coil/ctx.h; this file is
 * its register map.  Written from the psABI's register table:
 *
 *     x1  ra      return address               not preserved across calls
 *     x2  sp      stack pointer                preserved (16-byte aligned)
 *     x5-7, x28-31  t0-t6  temporaries         not preserved
 *     x8  s0/fp   frame pointer                preserved
 *     x9  s1, x18-x27 s2-s11                   preserved
 *     x10-x17 a0-a7  arguments / results       not preserved
 *     f8-9 fs0-fs1, f18-27 fs2-fs11            preserved (all 64 bits: with
 *                                              the D ABI FLEN is 64)
 *     other f registers                        not preserved
 *     fcsr (frm + fflags)                      "thread storage duration", as
 *                                              C11's floating-point env.
 *
 * x3 gp and x4 tp are neither saved nor touched: gp is the global pointer
 * (constant for the process once the loader sets it) and tp the thread
 * pointer, which must stay the running thread's (ctx.h point 9).
 *
 * A suspended context is one 208-byte frame on its own stack, and
 * coil_ctx.sp points at it (sp stays 16-byte aligned, as the psABI demands
 * at every call):
 *
 *     sp +   0   ra      resume address = return address of the switch call
 *     sp +   8   s0      (fp)
 *     sp +  16   s1
 *     sp +  24   s2 ... sp + 96  s11
 *     sp + 104   fs0 ... sp + 192  fs11
 *     sp + 200   frm     rounding mode, 3 bits (per-context: ctx.h point 1;
 *                        all ones when saved by the nofp switch: no FP
 *                        control state of its own)
 *
 * frm policy.  The psABI gives fcsr thread storage duration: like AArch64's
 * FPCR under AAPCS64, it is state a routine changes only if that is its
 * purpose (fesetround), not a callee-saved register.  coil does for frm
 * exactly what it does for FPCR on aarch64: the full switch saves the
 * suspending context's frm and restores the resumed one's (so fesetround()
 * in one coroutine never leaks into another), the nofp switch leaves it
 * alone (the thread's mode flows across switches).  fflags, the accrued
 * exception flags, are status, like FPSR and MXCSR's low bits: clobbered.
 *
 * Arguments: a0-a7; result in a0.  t0-t6 are free scratch.
 */

#define FRAME_RA      0
#define FRAME_S0      8
#define FRAME_S1     16             /* s1..s11: FRAME_S1 + 8 * (n - 1) */
#define FRAME_FS0   104             /* fs0..fs11: FRAME_FS0 + 8 * n */
#define FRAME_FRM   200
#define FRAME_SIZE  208

/* What the nofp switch leaves in the frm slot: all ones, which no frm holds
 * (it is a 3-bit field). */
#define NO_FP_STATE -1

/* The fresh frame sits 16 bytes below the aligned top: a zero pair above it,
 * which is the scratch coil_ctx the start routine saves into when entry
 * returns.  Must match COIL_CTX_FRAME_SIZE in ctx.h. */
#define FRESH_SIZE  (FRAME_SIZE + 16)

#define MIN_STACK     1024
#define EINVAL_VALUE  22
#define ENOTSUP_VALUE 95            /* EOPNOTSUPP on Linux */
#define SYS_write     64            /* the generic syscall table's */

/* Landing pads: none.  The Zicfilp extension (lpad, and a GNU property note
 * that claims it) is not in the rv64gc baseline nor in Debian 12's
 * binutils 2.40 / GCC 12, so there is nothing to mark. */

    .text

/* Save the callee-saved state of the running flow into a new frame at sp.
 * with_fp: record frm (and leave it in t0); otherwise store NO_FP_STATE,
 * which tells a full switch resuming this frame to leave frm as it finds
 * it. */
.macro SAVE_FRAME with_fp
    addi    sp, sp, -FRAME_SIZE
    .cfi_def_cfa_offset FRAME_SIZE
    sd      ra,  FRAME_RA(sp)
    sd      s0,  FRAME_S0(sp)
    sd      s1,  FRAME_S1 +  0(sp)
    sd      s2,  FRAME_S1 +  8(sp)
    sd      s3,  FRAME_S1 + 16(sp)
    sd      s4,  FRAME_S1 + 24(sp)
    sd      s5,  FRAME_S1 + 32(sp)
    sd      s6,  FRAME_S1 + 40(sp)
    sd      s7,  FRAME_S1 + 48(sp)
    sd      s8,  FRAME_S1 + 56(sp)
    sd      s9,  FRAME_S1 + 64(sp)
    sd      s10, FRAME_S1 + 72(sp)
    sd      s11, FRAME_S1 + 80(sp)
    /* Where a debugger finds the caller's registers while it stands in
     * the switch (the resumed frame has the same shape, so this keeps
     * holding after the stack swap). */
    .cfi_offset ra, -FRAME_SIZE + FRAME_RA
    .cfi_offset s0, -FRAME_SIZE + FRAME_S0
    .cfi_offset s1, -FRAME_SIZE + FRAME_S1
    fsd     fs0,  FRAME_FS0 +  0(sp)
    fsd     fs1,  FRAME_FS0 +  8(sp)
    fsd     fs2,  FRAME_FS0 + 16(sp)
    fsd     fs3,  FRAME_FS0 + 24(sp)
    fsd     fs4,  FRAME_FS0 + 32(sp)
    fsd     fs5,  FRAME_FS0 + 40(sp)
    fsd     fs6,  FRAME_FS0 + 48(sp)
    fsd     fs7,  FRAME_FS0 + 56(sp)
    fsd     fs8,  FRAME_FS0 + 64(sp)
    fsd     fs9,  FRAME_FS0 + 72(sp)
    fsd     fs10, FRAME_FS0 + 80(sp)
    fsd     fs11, FRAME_FS0 + 88(sp)
.if \with_fp
    frrm    t0                      /* csrr t0, frm */
    sd      t0, FRAME_FRM(sp)
.else
    li      t0, NO_FP_STATE
    sd      t0, FRAME_FRM(sp)
.endif
.endm

/* Restore everything but frm from the frame at sp, pop it, and resume,
 * handing it arg (a2) as the return value of its own switch call.
 *
 * How to resume is a branch-prediction question, and RISC-V answers it in
 * the encoding: a jalr with rd = x0 whose source is a link register (x1 ra
 * or x5 t0) is a return hint, and pops the return-address stack; from any
 * other source it is a plain indirect jump, predicted by the indirect
 * predictor by its own address.
 *   style jump (the public switches, ctx.h point 6): the resume address
 *     goes to t2 (x7, not a link register) and `jr t2` resumes.  After a
 *     stack swap the return-address stack's top is the caller of the switch
 *     we came from, not the resumed side's, so a return hint would
 *     mispredict every time.  ra gets the same address, so the resumed
 *     code sees exactly what its call left there.
 *   style ret (coil's internal hand-offs, coil__ctx_handoff below): `ret`,
 *     i.e. jr ra, the return hint. */
.macro RESTORE_FRAME_AND_RESUME style
    ld      ra,  FRAME_RA(sp)
.ifnc \style, ret
    ld      t2,  FRAME_RA(sp)
.endif
    ld      s0,  FRAME_S0(sp)
    ld      s1,  FRAME_S1 +  0(sp)
    ld      s2,  FRAME_S1 +  8(sp)
    ld      s3,  FRAME_S1 + 16(sp)
    ld      s4,  FRAME_S1 + 24(sp)
    ld      s5,  FRAME_S1 + 32(sp)
    ld      s6,  FRAME_S1 + 40(sp)
    ld      s7,  FRAME_S1 + 48(sp)
    ld      s8,  FRAME_S1 + 56(sp)
    ld      s9,  FRAME_S1 + 64(sp)
    ld      s10, FRAME_S1 + 72(sp)
    ld      s11, FRAME_S1 + 80(sp)
    fld     fs0,  FRAME_FS0 +  0(sp)
    fld     fs1,  FRAME_FS0 +  8(sp)
    fld     fs2,  FRAME_FS0 + 16(sp)
    fld     fs3,  FRAME_FS0 + 24(sp)
    fld     fs4,  FRAME_FS0 + 32(sp)
    fld     fs5,  FRAME_FS0 + 40(sp)
    fld     fs6,  FRAME_FS0 + 48(sp)
    fld     fs7,  FRAME_FS0 + 56(sp)
    fld     fs8,  FRAME_FS0 + 64(sp)
    fld     fs9,  FRAME_FS0 + 72(sp)
    fld     fs10, FRAME_FS0 + 80(sp)
    fld     fs11, FRAME_FS0 + 88(sp)
    addi    sp, sp, FRAME_SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore s0
    .cfi_restore s1
    mv      a0, a2                  /* hand arg to the resumed side */
.ifc \style, ret
    .cfi_restore ra
    ret
.else
    .cfi_register ra, t2
    jr      t2
.endif
.endm

/* The full switch, and the one without frm, as macros: each is assembled
 * twice, resuming by jump (the public entry points) and by ret (coil's
 * internal hand-offs). */
.macro SWITCH name, style
    .p2align 2
\name:
    .cfi_startproc
    SAVE_FRAME 1
    sd      sp, 0(a0)               /* suspend: publish our frame */
    ld      sp, 0(a1)               /* same frame shape: CFI still holds */
    .cfi_remember_state
    /* Writing a CSR may drain the pipeline on some cores, and in most
     * programs every context holds the same mode: write only when the
     * resumed context's differs from the one we leave (t0). */
    ld      t1, FRAME_FRM(sp)
    bne     t0, t1, .Lload_frm_\name
.Lfrm_done_\name:
    RESTORE_FRAME_AND_RESUME \style
.Lload_frm_\name:
    .cfi_restore_state
    li      t3, NO_FP_STATE         /* suspended by nofp: it has no */
    beq     t1, t3, .Lfrm_done_\name  /* frm of its own */
    fsrm    t1                      /* csrw frm, t1 */
    j       .Lfrm_done_\name
    .cfi_endproc
    .size   \name, .-\name
.endm

/* Same frame; frm is neither recorded nor restored. */
.macro SWITCH_NOFP name, style
    .p2align 2
\name:
    .cfi_startproc
    SAVE_FRAME 0
    sd      sp, 0(a0)
    ld      sp, 0(a1)
    RESTORE_FRAME_AND_RESUME \style
    .cfi_endproc
    .size   \name, .-\name
.endm

/* ------------------------------------------------------------------------
 * void *coil_ctx_switch(coil_ctx *from, const coil_ctx *to, void *arg)
 * void *coil_ctx_switch_nofp(coil_ctx *from, const coil_ctx *to, void *arg)
 *   a0 = from, a1 = to, a2 = arg
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_switch
    .type   coil_ctx_switch, @function
    SWITCH  coil_ctx_switch, jump
    .globl  coil_ctx_switch_nofp
    .type   coil_ctx_switch_nofp, @function
    SWITCH_NOFP coil_ctx_switch_nofp, jump

/* ------------------------------------------------------------------------
 * void *coil__ctx_handoff(coil_ctx *from, const coil_ctx *to, void *arg)
 * void *coil__ctx_handoff_nofp(...)
 *
 * Internal to coil (hidden): the same switches, resuming by ret.  coil's
 * scheduler uses them to hand the CPU from one task to another, both
 * suspended at the same call site inside coil (src/core/coro.c,
 * switch_between).  There the return-address stack's top is the switching
 * side's own return address, which is also the resumed side's, so the ret
 * is predicted, and so is every return after it, the two call chains being
 * alike; a plain jump would leave that entry on the stack and shift every
 * later prediction by one.  This is the one place where ctx.h point 6's
 * "never ret" does not apply, for the same reason as on x86_64 and aarch64
 * (asm/x86_64_sysv.S has the measurement).
 * ------------------------------------------------------------------------ */
    .globl  coil__ctx_handoff
    .hidden coil__ctx_handoff
    .type   coil__ctx_handoff, @function
    SWITCH  coil__ctx_handoff, ret
    .globl  coil__ctx_handoff_nofp
    .hidden coil__ctx_handoff_nofp
    .type   coil__ctx_handoff_nofp, @function
    SWITCH_NOFP coil__ctx_handoff_nofp, ret

/* ------------------------------------------------------------------------
 * int coil_ctx_fp_policy(int policy)
 *
 * x86_64 can write MXCSR on every switch or only when it differs (ctx.h
 * point 2).  Here frm is read with one CSR read, so comparing first is
 * always the cheaper way, as on aarch64: -1 (query) and 0
 * (COIL_CTX_FP_COMPARE) return 0; 1 (COIL_CTX_FP_RELOAD) fails with
 * ENOTSUP, anything else with EINVAL.  An int arrives sign-extended to 64
 * bits (psABI), so comparing whole registers is exact.
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_fp_policy
    .type   coil_ctx_fp_policy, @function
    .p2align 2
coil_ctx_fp_policy:
    .cfi_startproc
    li      t0, -1
    beq     a0, t0, 1f
    beqz    a0, 1f
    li      t0, 1
    li      a1, ENOTSUP_VALUE
    beq     a0, t0, 2f
    li      a1, EINVAL_VALUE
2:  addi    sp, sp, -16
    .cfi_def_cfa_offset 16
    sd      ra, 8(sp)
    .cfi_offset ra, -8
    sd      a1, 0(sp)               /* the errno value, across the call */
    call    __errno_location@plt
    ld      a1, 0(sp)
    sw      a1, 0(a0)
    ld      ra, 8(sp)
    .cfi_restore ra
    addi    sp, sp, 16
    .cfi_def_cfa_offset 0
    li      a0, -1
    ret
1:  li      a0, 0
    ret
    .cfi_endproc
    .size   coil_ctx_fp_policy, .-coil_ctx_fp_policy

/* ------------------------------------------------------------------------
 * int coil_ctx_make(coil_ctx *ctx, void *stack, size_t size,
 *                   coil_ctx_entry entry, void *data, coil_ctx *link)
 *   a0 = ctx, a1 = stack, a2 = size, a3 = entry, a4 = data, a5 = link
 *
 * The fresh frame carries entry in s1, data in s2, link in s3 (all
 * callee-saved, so they survive the call to entry), s0 = 0 to end frame
 * pointer chains, frm = 0 (round to nearest, ties to even: Linux's initial
 * value), and the start routine as its resume address.
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_make
    .type   coil_ctx_make, @function
    .p2align 2
coil_ctx_make:
    .cfi_startproc
    beqz    a0, .Lmake_einval
    beqz    a1, .Lmake_einval
    beqz    a3, .Lmake_einval
    li      t0, MIN_STACK
    bltu    a2, t0, .Lmake_einval
    add     t1, a1, a2              /* t1 = stack + size = top */
    bltu    t1, a1, .Lmake_einval   /* wrapped around the address space */
    andi    t1, t1, -16
    addi    t0, t1, -FRESH_SIZE
    lla     t2, coil_ctx_start
    sd      t2,   FRAME_RA(t0)
    sd      zero, FRAME_S0(t0)
    sd      a3,   FRAME_S1 +  0(t0) /* s1: entry */
    sd      a4,   FRAME_S1 +  8(t0) /* s2: data */
    sd      a5,   FRAME_S1 + 16(t0) /* s3: link */
    /* Everything else is zero: s4-s11, fs0-fs11, frm, and the 16 bytes
     * above the frame. */
    .irp    off, 40, 48, 56, 64, 72, 80, 88, 96
    sd      zero, \off(t0)
    .endr
    .irp    off, 104, 112, 120, 128, 136, 144, 152, 160, 168, 176, 184, 192
    sd      zero, \off(t0)
    .endr
    sd      zero, FRAME_FRM(t0)
    sd      zero, FRAME_SIZE(t0)
    sd      zero, FRAME_SIZE + 8(t0)
    sd      t0, 0(a0)
    li      a0, 0
    ret
.Lmake_einval:
    addi    sp, sp, -16
    .cfi_def_cfa_offset 16
    sd      ra, 8(sp)
    sd      s0, 0(sp)
    .cfi_offset ra, -8
    .cfi_offset s0, -16
    addi    s0, sp, 16
    call    __errno_location@plt
    li      t0, EINVAL_VALUE
    sw      t0, 0(a0)
    ld      ra, 8(sp)
    ld      s0, 0(sp)
    .cfi_restore ra
    .cfi_restore s0
    addi    sp, sp, 16
    .cfi_def_cfa_offset 0
    li      a0, -1
    ret
    .cfi_endproc
    .size   coil_ctx_make, .-coil_ctx_make

/* ------------------------------------------------------------------------
 * coil_ctx_start: where a fresh context begins (reached by the resume jump
 * of a switch).  sp = top - 16, a multiple of 16 as at any call; a0 = the
 * switch's arg; s0 = 0.
 *
 * The return address (ra) is marked undefined: this is the outermost frame
 * of the context, and unwinders (gdb, backtrace(), the C++ unwinder) must
 * stop here rather than read whatever ra held.  s0 = 0 stops frame-pointer
 * walkers.
 * ------------------------------------------------------------------------ */
/* The message comes first: `li` takes only a length already known. */
    .section .rodata.str1.1, "aMS", @progbits, 1
.Lno_link_msg:
    .ascii  "coil: context entry function returned with no link context\n"
    .set    .Lno_link_len, . - .Lno_link_msg

    .text
    .type   coil_ctx_start, @function
    .p2align 2
coil_ctx_start:
    .cfi_startproc
    .cfi_undefined ra
    mv      a1, a0                  /* entry(data, arg) */
    mv      a0, s2
    jalr    s1
    beqz    s3, .Lno_link
    mv      a2, a0                  /* arg: entry's return value */
    mv      a1, s3                  /* to: link */
    mv      a0, sp                  /* from: scratch coil_ctx at top - 16 */
    call    coil__ctx_switch_local
    unimp                           /* a finished context is never resumed */
.Lno_link:
    li      a0, 2                   /* write(2, msg, len): a raw syscall, as
                                       stdio may be in any state */
    lla     a1, .Lno_link_msg
    li      a2, .Lno_link_len
    li      a7, SYS_write
    ecall
    call    abort@plt
    unimp
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
 * s1 holds the saved frame: CFA = s1 + FRAME_SIZE, the sp the switch
 * returns with; ra, s0..s11 lie at FRAME_* below it.  resumed_sp is not
 * needed: no switch on this CPU is inlined.  The suspended stack is only
 * read.
 * ------------------------------------------------------------------------ */
    .globl  coil__ctx_unwind_from
    .hidden coil__ctx_unwind_from
    .type   coil__ctx_unwind_from, @function
    .p2align 2
coil__ctx_unwind_from:
    .cfi_startproc
    addi    sp, sp, -16
    .cfi_def_cfa_offset 16
    sd      ra, 8(sp)
    sd      s1, 0(sp)
    .cfi_offset ra, -8
    .cfi_offset s1, -16
    ld      s1, 0(a0)
    mv      a0, a3
    .cfi_remember_state
    .cfi_def_cfa s1, FRAME_SIZE
    .cfi_offset ra, FRAME_RA - FRAME_SIZE
    .cfi_offset s0, FRAME_S0 - FRAME_SIZE
    .cfi_offset s1, FRAME_S1 + 0 - FRAME_SIZE
    .cfi_offset s2, FRAME_S1 + 8 - FRAME_SIZE
    .cfi_offset s3, FRAME_S1 + 16 - FRAME_SIZE
    .cfi_offset s4, FRAME_S1 + 24 - FRAME_SIZE
    .cfi_offset s5, FRAME_S1 + 32 - FRAME_SIZE
    .cfi_offset s6, FRAME_S1 + 40 - FRAME_SIZE
    .cfi_offset s7, FRAME_S1 + 48 - FRAME_SIZE
    .cfi_offset s8, FRAME_S1 + 56 - FRAME_SIZE
    .cfi_offset s9, FRAME_S1 + 64 - FRAME_SIZE
    .cfi_offset s10, FRAME_S1 + 72 - FRAME_SIZE
    .cfi_offset s11, FRAME_S1 + 80 - FRAME_SIZE
    jalr    a2
    .cfi_restore_state
    ld      s1, 0(sp)
    .cfi_restore s1
    ld      ra, 8(sp)
    .cfi_restore ra
    addi    sp, sp, 16
    .cfi_def_cfa_offset 0
    ret
    .cfi_endproc
    .size   coil__ctx_unwind_from, .-coil__ctx_unwind_from

/* A local alias, so the start routine's call binds inside this object. */
    .set    coil__ctx_switch_local, coil_ctx_switch

/* No executable stack. */
    .section .note.GNU-stack, "", @progbits
