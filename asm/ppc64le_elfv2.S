/*
 * asm/ppc64le_elfv2.S — coil's context switch for 64-bit PowerPC,
 * little-endian, the ELFv2 ABI (the 64-Bit ELF V2 ABI Specification for
 * Power Architecture), Linux.  Baseline: POWER8 (Power ISA 2.07), what
 * every ppc64le distribution builds for.
 *
 * The contract is the comment at the top of include/coil/ctx.h; this file is
 * its register map.  Written from the ABI's register table:
 *
 *     r0          scratch (reads as 0 as a base in D-form addresses)
 *     r1          stack pointer; 0(r1) always holds the back chain
 *     r2          TOC pointer: the module's; preserved across a local call
 *     r3-r10      arguments / results                 volatile
 *     r11, r12    scratch; r12 = the callee's address at a global entry
 *     r13         thread pointer: never touched (ctx.h point 9)
 *     r14-r31     nonvolatile (r31 is the frame pointer when GCC keeps one)
 *     f0-f13      volatile
 *     f14-f31     nonvolatile (the 64-bit FPRs; the other half of
 *                 VSR14-31 is volatile)
 *     v0-v19      volatile
 *     v20-v31     nonvolatile, all 128 bits (VSR52-63)
 *     LR, CTR     volatile (LR holds the return address at entry)
 *     CR0, CR1, CR5-CR7   volatile
 *     CR2-CR4     nonvolatile
 *     FPSCR       rounding mode, enables, NI: "limited-access", changed
 *                 only by routines whose purpose that is (fesetround)
 *     VRSAVE      reserved for the system under ELFv2 (the kernel keeps
 *                 it per thread; no ELFv2 code maintains it): untouched
 *     VSCR        vector status and control (NJ, SAT): like FPSCR's
 *                 status, left to the thread
 *
 * The minimum stack frame, and what coil's frames honour: 16-byte aligned,
 * 0(r1) = back chain (the caller's r1), 8(r1) = CR save word, 16(r1) = LR
 * save doubleword, 24(r1) = TOC save doubleword, all for the *callee's* and
 * the linker's use.  Below r1 lies a 288-byte protected zone that signal
 * delivery skips; nothing here uses it.
 *
 * A suspended context is one 528-byte frame on its own stack, built by the
 * switch like any function's (stdu: the back chain points at the suspended
 * caller's frame), and coil_ctx.sp points at it:
 *
 *     sp +   0   back chain   (the suspended caller's r1)
 *     sp +   8   CR           (32 bits; CR2-CR4 are restored)
 *     sp +  16   resume address = the switch call's return address (LR)
 *     sp +  24   r2           (TOC: see below)
 *     sp +  32   r14 ... sp + 168  r31
 *     sp + 176   FPSCR control byte (RN, NI, enables; per context: ctx.h
 *                point 1; all ones when saved by the nofp switch: no FP
 *                control state of its own)
 *     sp + 184   unused
 *     sp + 192   f14 ... sp + 328  f31
 *     sp + 336   v20 ... sp + 512  v31  (16-byte aligned for stvx/lvx)
 *
 * r2.  A context suspended in one module (say the program, calling
 * coil_ctx_switch through a PLT stub or locally if linked statically) may be
 * resumed from another (libcoil.so's scheduler), whose TOC differs.  A
 * caller that reached the switch by a local call (`bl`, no TOC restore
 * after it) expects its own r2 back, so r2 is part of the frame: the switch
 * saves it and restores the resumed side's.  The switch itself reads
 * nothing through the TOC, so it has one entry point (st_other 0: r2 is
 * preserved, as seen by each caller) and needs no r12.  A fresh frame
 * carries coil's own TOC (coil_ctx_make's), which the start routine then
 * uses for its calls into libc.  Between contexts of one module both
 * values are the same and the load is a no-op, which costs one load.
 *
 * FPSCR policy.  ELFv2 makes the FPSCR's control fields (RN rounding mode,
 * NI, the VE/OE/UE/ZE/XE enables) "limited-access": like AArch64's FPCR,
 * state a routine changes only if that is its purpose, not nonvolatile
 * registers.  coil does what it does for FPCR on aarch64: the full switch
 * records the suspending context's control byte (FPSCR bits 56-63: the
 * enables, NI, RN) and writes the resumed one's if it differs (so
 * fesetround() in one coroutine never leaks into another); the nofp switch
 * leaves the FPSCR alone.  Status bits (FX, FEX, the sticky exception bits,
 * FPRF, FR, FI) are clobbered, as by any call.  DRN, the decimal rounding
 * mode in the FPSCR's upper word, and MSR[FE0,FE1] (the trap mode glibc's
 * feenableexcept sets with prctl) are the thread's.
 *
 * Arguments r3-r10, result r3.  Scratch here: r0, r4, r6-r12, f0, CTR.
 */
    .abiversion 2
    .machine power8

#define FRAME_CR       8
#define FRAME_LR      16
#define FRAME_TOC     24
#define FRAME_R14     32            /* r14..r31: FRAME_R14 + 8 * (n - 14) */
#define FRAME_FPSCR  176
#define FRAME_F14    192            /* f14..f31: FRAME_F14 + 8 * (n - 14) */
#define FRAME_V20    336            /* v20..v31: FRAME_V20 + 16 * (n - 20) */
#define FRAME_SIZE   528

/* What the nofp switch leaves in the FPSCR slot: all ones, which no control
 * byte (the slot holds 8 bits, zero-extended) ever is. */
#define NO_FP_STATE  -1

/* FPSCR fields 6 and 7 (bits 56-63): VE OE UE ZE | XE NI RN. */
#define FPSCR_CONTROL_FIELDS 0x03

/* CR fields 2, 3 and 4, for mtcrf. */
#define CR_NONVOLATILE 0x38

/* The start routine's own frame, at the aligned top of a fresh stack: the
 * ABI's 32-byte header (back chain 0: frame-pointer walkers stop; CR, LR
 * and TOC save words for entry and the linker's stubs) and a 16-byte
 * scratch coil_ctx that the start routine switches away from when entry
 * returns.  The switch frame sits right below it.  FRESH_SIZE must match
 * COIL_CTX_FRAME_SIZE in ctx.h. */
#define START_FRAME  48
#define START_DEAD   32
#define FRESH_SIZE   (FRAME_SIZE + START_FRAME)

#define MIN_STACK     1024
#define EINVAL_VALUE  22
#define ENOTSUP_VALUE 95            /* EOPNOTSUPP on Linux */
#define SYS_write     4             /* powerpc's syscall table */

/* Landing pads: none.  Power ISA 3.1's ROP protection (hashst/hashchk)
 * checks return addresses saved on the stack, which coil's switch does not
 * return through, and it has no indirect-branch landing pads nor a GNU
 * property note to claim. */

    .text

/* Save the callee-saved state of the running flow into a new frame at r1.
 * with_fp: record the FPSCR control byte (and leave it in r7); otherwise
 * store NO_FP_STATE, which tells a full switch resuming this frame to leave
 * the FPSCR as it finds it.
 *
 * lvx/stvx have no displacement form on POWER8 (stxv/lxv are ISA 3.0), so
 * v20-v31 go through index registers: six offsets, from r1 for v20-v25 and
 * from r11 = r1 + 96 for v26-v31.  The offsets stay in r0, r6, r8-r10, r12
 * across the stack swap and serve the restore too (RESTORE_FRAME). */
.macro SAVE_FRAME with_fp
    mflr    %r0
    mfcr    %r12
    stdu    %r1, -FRAME_SIZE(%r1)
    .cfi_def_cfa_offset FRAME_SIZE
    std     %r0, FRAME_LR(%r1)
    stw     %r12, FRAME_CR(%r1)
    std     %r2, FRAME_TOC(%r1)
    /* Where a debugger finds the caller's registers while it stands in the
     * switch (the resumed frame has the same shape, so this keeps holding
     * after the stack swap). */
    .cfi_offset lr, FRAME_LR - FRAME_SIZE
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    std     \n, FRAME_R14 + 8 * (\n - 14)(%r1)
    .cfi_offset \n, FRAME_R14 + 8 * (\n - 14) - FRAME_SIZE
    .endr
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    stfd    \n, FRAME_F14 + 8 * (\n - 14)(%r1)
    .endr
    li      %r0,  FRAME_V20
    li      %r6,  FRAME_V20 + 16
    li      %r8,  FRAME_V20 + 32
    li      %r9,  FRAME_V20 + 48
    li      %r10, FRAME_V20 + 64
    li      %r12, FRAME_V20 + 80
    addi    %r11, %r1, 96
    stvx    %v20, %r1, %r0
    stvx    %v21, %r1, %r6
    stvx    %v22, %r1, %r8
    stvx    %v23, %r1, %r9
    stvx    %v24, %r1, %r10
    stvx    %v25, %r1, %r12
    stvx    %v26, %r11, %r0
    stvx    %v27, %r11, %r6
    stvx    %v28, %r11, %r8
    stvx    %v29, %r11, %r9
    stvx    %v30, %r11, %r10
    stvx    %v31, %r11, %r12
.if \with_fp
    mffs    %f0
    mffprd  %r7, %f0
    clrldi  %r7, %r7, 56            /* the control byte; status is not ours */
.else
    li      %r7, NO_FP_STATE
.endif
    std     %r7, FRAME_FPSCR(%r1)
.endm

/* Restore everything but the FPSCR from the frame at r1, pop it, and
 * resume, handing it arg (r5) as the return value of its own switch call.
 * The resume address goes to r12 whichever way: that is where the ELFv2
 * global entry convention wants a function's own address, so a fresh
 * context's start routine could derive its TOC from it.
 *
 * How to resume is a branch-prediction question.  Power predicts `blr`
 * with its link stack (a return-address stack that `bl` pushes) and
 * `bctr` with the count cache, by the branch's own address:
 *   style jump (the public switches, ctx.h point 6): mtctr + bctr.  After a
 *     stack swap the link stack's top is the caller of the switch we came
 *     from, not the resumed side's, so a blr would mispredict every time.
 *     LR is left as it is: it is volatile, and the resumed code, just back
 *     from a call, expects nothing in it.
 *   style ret (coil's internal hand-offs, coil__ctx_handoff below): mtlr +
 *     blr, the return the link stack predicts there. */
.macro RESTORE_FRAME_AND_RESUME style
    addi    %r11, %r1, 96
    lvx     %v20, %r1, %r0
    lvx     %v21, %r1, %r6
    lvx     %v22, %r1, %r8
    lvx     %v23, %r1, %r9
    lvx     %v24, %r1, %r10
    lvx     %v25, %r1, %r12
    lvx     %v26, %r11, %r0
    lvx     %v27, %r11, %r6
    lvx     %v28, %r11, %r8
    lvx     %v29, %r11, %r9
    lvx     %v30, %r11, %r10
    lvx     %v31, %r11, %r12
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ld      \n, FRAME_R14 + 8 * (\n - 14)(%r1)
    lfd     \n, FRAME_F14 + 8 * (\n - 14)(%r1)
    .endr
    lwz     %r4, FRAME_CR(%r1)
    ld      %r12, FRAME_LR(%r1)
    ld      %r2, FRAME_TOC(%r1)
    mtcrf   CR_NONVOLATILE, %r4
.ifc \style, ret
    mtlr    %r12
.else
    mtctr   %r12
.endif
    addi    %r1, %r1, FRAME_SIZE
    .cfi_def_cfa_offset 0
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    .cfi_restore \n
    .endr
    mr      %r3, %r5                /* hand arg to the resumed side */
.ifc \style, ret
    .cfi_restore lr
    blr
.else
    .cfi_register lr, 12
    bctr
.endif
.endm

/* The full switch, and the one without the FPSCR, as macros: each is
 * assembled twice, resuming by jump (the public entry points) and by ret
 * (coil's internal hand-offs). */
.macro SWITCH name, style
    .p2align 4
\name:
    .cfi_startproc
    SAVE_FRAME 1
    std     %r1, 0(%r3)             /* suspend: publish our frame */
    ld      %r1, 0(%r4)             /* same frame shape: CFI still holds */
    .cfi_remember_state
    /* Writing the FPSCR may serialise floating-point work on some cores,
     * and in most programs every context holds the same modes: write only
     * when the resumed context's differ from the ones we leave (r7). */
    ld      %r4, FRAME_FPSCR(%r1)
    cmpd    %r7, %r4
    bne-    .Lload_fpscr_\name
.Lfpscr_done_\name:
    RESTORE_FRAME_AND_RESUME \style
.Lload_fpscr_\name:
    .cfi_restore_state
    cmpdi   %r4, NO_FP_STATE        /* suspended by nofp: it has no */
    beq     .Lfpscr_done_\name      /* FPSCR modes of its own */
    mtfprd  %f0, %r4
    mtfsf   FPSCR_CONTROL_FIELDS, %f0
    b       .Lfpscr_done_\name
    .cfi_endproc
    .size   \name, .-\name
.endm

/* Same frame; the FPSCR is neither recorded nor restored. */
.macro SWITCH_NOFP name, style
    .p2align 4
\name:
    .cfi_startproc
    SAVE_FRAME 0
    std     %r1, 0(%r3)
    ld      %r1, 0(%r4)
    RESTORE_FRAME_AND_RESUME \style
    .cfi_endproc
    .size   \name, .-\name
.endm

/* ------------------------------------------------------------------------
 * void *coil_ctx_switch(coil_ctx *from, const coil_ctx *to, void *arg)
 * void *coil_ctx_switch_nofp(coil_ctx *from, const coil_ctx *to, void *arg)
 *   r3 = from, r4 = to, r5 = arg
 * One entry point each (no .localentry): they read nothing through r2.
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
 * Internal to coil (hidden): the same switches, resuming by blr.  coil's
 * scheduler uses them to hand the CPU from one task to another, both
 * suspended at the same call site inside coil (src/core/coro.c,
 * switch_between).  There the link stack's top is the switching side's own
 * return address, which is also the resumed side's, so the blr is
 * predicted, and so is every return after it, the two call chains being
 * alike; a bctr would leave that entry on the link stack and shift every
 * later prediction by one.  This is the one place where ctx.h point 6's
 * "never ret" does not apply, for the same reason as on the other CPUs
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

/* Set up r2 at a global entry point from r12 (the ELFv2 convention: a
 * caller through a pointer or PLT stub puts the callee's address in r12),
 * for functions that call into libc (through PLT stubs, which find the
 * PLT through r2). */
.macro GLOBAL_ENTRY name
    .p2align 4
\name:
    .cfi_startproc
    addis   %r2, %r12, .TOC.-\name@ha
    addi    %r2, %r2, .TOC.-\name@l
    .localentry \name, .-\name
.endm

/* errno = r4; return -1.  Calls __errno_location from a 48-byte frame:
 * the ABI header (its TOC slot is where the PLT stub keeps r2 across the
 * call, restored by the `ld` the linker writes over the nop) and r4's
 * value at 32. */
.macro SET_ERRNO_AND_FAIL
    mflr    %r0
    std     %r0, 16(%r1)
    stdu    %r1, -48(%r1)
    .cfi_def_cfa_offset 48
    .cfi_offset lr, 16
    std     %r4, 32(%r1)
    bl      __errno_location
    nop
    ld      %r4, 32(%r1)
    stw     %r4, 0(%r3)
    addi    %r1, %r1, 48
    .cfi_def_cfa_offset 0
    ld      %r0, 16(%r1)
    mtlr    %r0
    .cfi_restore lr
    li      %r3, -1
    blr
.endm

/* ------------------------------------------------------------------------
 * int coil_ctx_fp_policy(int policy)
 *
 * x86_64 can write MXCSR on every switch or only when it differs (ctx.h
 * point 2).  Here the switch reads the FPSCR anyway (mffs) to record it,
 * and a write may serialise floating-point work, so comparing first is the
 * one policy, as on aarch64: -1 (query) and 0 (COIL_CTX_FP_COMPARE) return
 * 0; 1 (COIL_CTX_FP_RELOAD) fails with ENOTSUP, anything else with EINVAL.
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_fp_policy
    .type   coil_ctx_fp_policy, @function
    GLOBAL_ENTRY coil_ctx_fp_policy
    cmpwi   %r3, -1
    beq     1f
    cmpwi   %r3, 0
    beq     1f
    li      %r4, EINVAL_VALUE
    cmpwi   %r3, 1
    bne     2f
    li      %r4, ENOTSUP_VALUE
2:  SET_ERRNO_AND_FAIL
1:  li      %r3, 0
    blr
    .cfi_endproc
    .size   coil_ctx_fp_policy, .-coil_ctx_fp_policy

/* ------------------------------------------------------------------------
 * int coil_ctx_make(coil_ctx *ctx, void *stack, size_t size,
 *                   coil_ctx_entry entry, void *data, coil_ctx *link)
 *   r3 = ctx, r4 = stack, r5 = size, r6 = entry, r7 = data, r8 = link
 *
 * Below the aligned top: the start routine's frame (START_FRAME, all zero:
 * back chain 0), and below that a switch frame whose back chain points at
 * it, carrying entry in r14, data in r15, link in r16 (nonvolatile, so they
 * survive the call to entry), r31 = 0 (frame pointer walkers stop), r2 =
 * coil's TOC (this function's, after its global entry), FPSCR control 0
 * (round to nearest, no enables, NI off: Linux's initial FPSCR), CR 0, and
 * the start routine as its resume address.
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_make
    .type   coil_ctx_make, @function
    GLOBAL_ENTRY coil_ctx_make
    cmpdi   %r3, 0
    beq     .Lmake_einval
    cmpdi   %r4, 0
    beq     .Lmake_einval
    cmpdi   %r6, 0
    beq     .Lmake_einval
    cmpldi  %r5, MIN_STACK
    blt     .Lmake_einval
    add     %r9, %r4, %r5           /* r9 = stack + size = top */
    cmpld   %r9, %r4
    blt     .Lmake_einval           /* wrapped around the address space */
    clrrdi  %r9, %r9, 4             /* aligned down to 16 */
    addi    %r10, %r9, -START_FRAME /* the start routine's r1 */
    addi    %r11, %r9, -FRESH_SIZE  /* the switch frame */
    /* Zero all FRESH_SIZE bytes, then fill in what is not zero. */
    li      %r0, 0
    li      %r12, FRESH_SIZE / 8
    mtctr   %r12
    addi    %r12, %r11, -8
1:  stdu    %r0, 8(%r12)
    bdnz    1b
    std     %r10, 0(%r11)           /* back chain: the start frame */
    addis   %r12, %r2, coil_ctx_start@toc@ha
    addi    %r12, %r12, coil_ctx_start@toc@l
    std     %r12, FRAME_LR(%r11)
    std     %r2, FRAME_TOC(%r11)
    std     %r6, FRAME_R14 + 0(%r11)    /* r14: entry */
    std     %r7, FRAME_R14 + 8(%r11)    /* r15: data */
    std     %r8, FRAME_R14 + 16(%r11)   /* r16: link */
    std     %r11, 0(%r3)
    li      %r3, 0
    blr
.Lmake_einval:
    li      %r4, EINVAL_VALUE
    SET_ERRNO_AND_FAIL
    .cfi_endproc
    .size   coil_ctx_make, .-coil_ctx_make

/* ------------------------------------------------------------------------
 * coil_ctx_start: where a fresh context begins (reached by the resume jump
 * of a switch, r12 = its address).  r1 = top - START_FRAME, a multiple of
 * 16, pointing at a zero back chain; r3 = the switch's arg; r2 = coil's
 * TOC (the fresh frame's); r31 = 0.
 *
 * The return address (LR) is marked undefined: this is the outermost frame
 * of the context, and unwinders (gdb, backtrace(), the C++ unwinder) must
 * stop here rather than read whatever LR held.  The zero back chain and
 * r31 = 0 stop frame-pointer and back-chain walkers.
 * ------------------------------------------------------------------------ */
    .section .rodata.str1.1, "aMS", @progbits, 1
.Lno_link_msg:
    .ascii  "coil: context entry function returned with no link context\n"
    .set    .Lno_link_len, . - .Lno_link_msg

    .text
    .type   coil_ctx_start, @function
    .p2align 4
coil_ctx_start:
    .cfi_startproc
    .cfi_undefined lr
    mr      %r4, %r3                /* entry(data, arg) */
    mr      %r3, %r15
    mr      %r12, %r14              /* ELFv2: r12 = the callee's address */
    mtctr   %r12
    std     %r2, 24(%r1)            /* our TOC, across the indirect call */
    bctrl
    ld      %r2, 24(%r1)
    cmpdi   %r16, 0
    beq     .Lno_link
    mr      %r5, %r3                /* arg: entry's return value */
    mr      %r4, %r16               /* to: link */
    addi    %r3, %r1, START_DEAD    /* from: the scratch coil_ctx */
    bl      coil__ctx_switch_local
    trap                            /* a finished context is never resumed */
.Lno_link:
    li      %r3, 2                  /* write(2, msg, len): a raw syscall, */
    addis   %r4, %r2, .Lno_link_msg@toc@ha   /* as stdio may be in any */
    addi    %r4, %r4, .Lno_link_msg@toc@l    /* state */
    li      %r5, .Lno_link_len
    li      %r0, SYS_write
    sc
    bl      abort
    nop
    trap
    .cfi_endproc
    .size   coil_ctx_start, .-coil_ctx_start

/* ------------------------------------------------------------------------
 * void coil__ctx_unwind_from(const coil_ctx *ctx, void *resumed_sp,
 *                            void (*fn)(void *), void *arg)
 *   r3 = ctx, r4 = resumed_sp, r5 = fn, r6 = arg
 *
 * Internal to coil (hidden): call fn(arg), on the caller's own stack, inside
 * a frame whose unwind info says that its caller is the suspended context
 * *ctx, so that an unwinder started in fn walks on into the suspended stack
 * as if the switch had just returned there (the x86_64 file says more).
 * r31 holds the saved frame: CFA = r31 + FRAME_SIZE, the r1 the switch
 * returns with; LR, r2 and r14..r31 lie at FRAME_* below it.  resumed_sp is
 * not needed: no switch on this CPU is inlined.  The suspended stack is
 * only read.
 * ------------------------------------------------------------------------ */
    .globl  coil__ctx_unwind_from
    .hidden coil__ctx_unwind_from
    .type   coil__ctx_unwind_from, @function
    .p2align 4
coil__ctx_unwind_from:
    .cfi_startproc
    mflr    %r0
    std     %r31, -8(%r1)
    std     %r0, 16(%r1)
    stdu    %r1, -48(%r1)
    .cfi_def_cfa_offset 48
    .cfi_offset lr, 16
    .cfi_offset r31, -8
    std     %r2, 24(%r1)
    ld      %r31, 0(%r3)
    mr      %r3, %r6
    mr      %r12, %r5
    mtctr   %r12
    .cfi_remember_state
    .cfi_def_cfa r31, FRAME_SIZE
    .cfi_offset lr, FRAME_LR - FRAME_SIZE
    .cfi_offset r2, FRAME_TOC - FRAME_SIZE
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    .cfi_offset \n, FRAME_R14 + 8 * (\n - 14) - FRAME_SIZE
    .endr
    bctrl
    .cfi_restore_state
    ld      %r2, 24(%r1)
    addi    %r1, %r1, 48
    .cfi_def_cfa_offset 0
    ld      %r0, 16(%r1)
    ld      %r31, -8(%r1)
    .cfi_restore r31
    mtlr    %r0
    .cfi_restore lr
    blr
    .cfi_endproc
    .size   coil__ctx_unwind_from, .-coil__ctx_unwind_from

/* A local alias, so the start routine's call binds inside this object
 * (a direct `bl`, no PLT stub and no TOC restore after it). */
    .set    coil__ctx_switch_local, coil_ctx_switch

/* No executable stack. */
    .section .note.GNU-stack, "", @progbits
