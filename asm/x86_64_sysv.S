/*
 * asm/x86_64_sysv.S — coil's context switch for x86_64, System V psABI, ELF.
 *
 * The contract is the comment at the top of include/coil/ctx.h; this file is
 * its register map.  A suspended context is one 64-byte frame on its own
 * stack, and coil_ctx.sp points at it:
 *
 *     sp + 0    MXCSR          (4 bytes, stmxcsr/ldmxcsr)
 *     sp + 4    x87 control    (2 bytes, fnstcw/fldcw), 2 bytes unused
 *               (all 8 bytes ones: saved by the nofp switch, no FP state)
 *     sp + 8    r15
 *     sp + 16   r14
 *     sp + 24   r13
 *     sp + 32   r12
 *     sp + 40   rbx
 *     sp + 48   rbp
 *     sp + 56   resume address (the return address of the switch call)
 *
 * A frame saved by a call sits at sp ≡ 0 (mod 16): the call left rsp ≡ 8,
 * six pushes keep it ≡ 8, the 8-byte FP slot makes it ≡ 0.
 *
 * Arguments: rdi, rsi, rdx, rcx, r8, r9; result in rax.
 */

#define FRAME_FP      0
#define FRAME_R15     8
#define FRAME_R14    16
#define FRAME_R13    24
#define FRAME_R12    32
#define FRAME_RBX    40
#define FRAME_RBP    48
#define FRAME_PC     56
#define FRAME_SIZE   64

/* What the nofp switch leaves in the FP slot: all ones, which no real MXCSR
 * holds (its reserved upper bits must be zero). */
#define NO_FP_STATE  -1

/* The fresh frame sits 16 bytes below the aligned top; those 16 bytes hold a
 * zero "return address" and the scratch coil_ctx the start routine saves
 * into when entry returns.  Must match COIL_CTX_FRAME_SIZE in ctx.h. */
#define FRESH_SIZE   (FRAME_SIZE + 16)

#define MIN_STACK    1024
#define EINVAL_VALUE 22
#define MXCSR_DEFAULT 0x1f80       /* all exceptions masked, round nearest */
#define FCW_DEFAULT   0x037f       /* same for x87, 64-bit precision */

    .text

/* Push the callee-saved registers and room for the FP control slot: the
 * frame above, less its FP slot, which the caller fills. */
.macro PUSH_FRAME
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
.endm

/* Pop the frame at rsp (FP slot already handled) and resume it, handing it
 * arg (rdx) as the return value of its own switch call.  style jmp: by
 * indirect jump (ctx.h point 6); style ret: by ret, for coil's hand-offs
 * between tasks (see coil__ctx_handoff below). */
.macro POP_FRAME_AND_RESUME style
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbp
    movq    %rdx, %rax
.ifc \style, jmp
    popq    %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rcx
    /* Resume by indirect jump, not ret (ctx.h point 6).  The target is a
     * compiler-made return address without endbr64: NOTRACK (point 7). */
    notrack jmpq *%rcx
.else
    ret
.endif
.endm

/* The full switch, and the one without FP control state, as macros: each
 * is assembled twice, resuming by jump (the public entry points) and by
 * ret (coil's internal hand-offs).
 *
 * Restoring the resumed context's FP control state: writing the x87
 * control word costs more than comparing it, so it is written only when it
 * differs.  For MXCSR the cheaper way depends on the CPU (see
 * coil__ctx_fp_policy below): compare first (the stmxcsr result is loaded
 * back for the compare) or write it every time (nothing is loaded back:
 * on AMD Zen that load waits ~2 ns for the microcoded stmxcsr store, while
 * ldmxcsr costs almost nothing).  MXCSR's low six bits are status flags,
 * which the psABI lets any call clobber: they never force a write. */
.macro SWITCH name, style
    .p2align 4
\name:
    .cfi_startproc
    endbr64
    movq    coil__ctx_fp_policy@GOTPCREL(%rip), %r10
    movzbl  (%r10), %r10d           /* the MXCSR policy, read early */
    PUSH_FRAME
    stmxcsr FRAME_FP(%rsp)
    fnstcw  FRAME_FP+4(%rsp)

    movzwl  FRAME_FP+4(%rsp), %r9d  /* the x87 control word we leave */
    movq    %rsp, %r8               /* and our frame, for the compare */
    movq    %rsp, (%rdi)            /* suspend: publish our frame */
    movq    (%rsi), %rsp            /* the resumed frame has the same shape,
                                       so the CFI above keeps describing it */
    .cfi_remember_state
    testl   %r10d, %r10d
    jz      .Lcompare_mxcsr_\name
.Lload_mxcsr_\name:
    cmpl    $NO_FP_STATE, FRAME_FP(%rsp)  /* suspended by the nofp switch: */
    je      .Lfp_done_\name              /* it has no FP state of its own */
    ldmxcsr FRAME_FP(%rsp)
.Lmxcsr_done_\name:
    cmpw    FRAME_FP+4(%rsp), %r9w
    jne     .Lload_fcw_\name
.Lfp_done_\name:
    POP_FRAME_AND_RESUME \style

.Lcompare_mxcsr_\name:
    .cfi_restore_state              /* the frame as it was at the jz */
    .cfi_remember_state
    movl    FRAME_FP(%r8), %r10d    /* the MXCSR we leave */
    xorl    FRAME_FP(%rsp), %r10d
    testl   $0xffc0, %r10d
    jz      .Lmxcsr_done_\name
    jmp     .Lload_mxcsr_\name
.Lload_fcw_\name:
    .cfi_restore_state
    cmpl    $NO_FP_STATE, FRAME_FP(%rsp)
    je      .Lfp_done_\name
    fldcw   FRAME_FP+4(%rsp)
    jmp     .Lfp_done_\name
    .cfi_endproc
    .size   \name, .-\name
.endm

/* Same frame; the FP control state is neither recorded nor restored. */
.macro SWITCH_NOFP name, style
    .p2align 4
\name:
    .cfi_startproc
    endbr64
    PUSH_FRAME
    /* No FP state recorded (reading it costs as much as the rest of the
     * save): the marker tells a full switch that resumes this context to
     * leave the FP control state as it finds it. */
    movq    $NO_FP_STATE, FRAME_FP(%rsp)

    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp

    POP_FRAME_AND_RESUME \style
    .cfi_endproc
    .size   \name, .-\name
.endm

/* ------------------------------------------------------------------------
 * void *coil_ctx_switch(coil_ctx *from, const coil_ctx *to, void *arg)
 * void *coil_ctx_switch_nofp(coil_ctx *from, const coil_ctx *to, void *arg)
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_switch
    .type   coil_ctx_switch, @function
    SWITCH  coil_ctx_switch, jmp
    .globl  coil_ctx_switch_nofp
    .type   coil_ctx_switch_nofp, @function
    SWITCH_NOFP coil_ctx_switch_nofp, jmp

/* ------------------------------------------------------------------------
 * void *coil__ctx_handoff(coil_ctx *from, const coil_ctx *to, void *arg)
 * void *coil__ctx_handoff_nofp(...)
 *
 * Internal to coil (hidden): the same switches, resuming by ret.  The
 * scheduler uses them to hand the CPU from one task to another, both
 * suspended at the same call site inside coil: there the return-stack
 * buffer's top is the switching side's own return address, which is also
 * the resumed side's, so the ret is predicted — and so is every return
 * after it, the two call chains being alike.  A jump would leave that entry
 * on the buffer and shift every later prediction by one: two mispredicted
 * returns per hand-off (measured: a yield among 1,000 tasks 42 -> 19 ns).
 * Used only where coil/ctx.h does not switch inline (COIL_CTX_NO_INLINE):
 * an inline switch pushes nothing and resumes by a jump that all hand-offs
 * share, which is better still (src/core/coro.c, switch_between).
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
 * The MXCSR policy of the full switch: 0 = COIL_CTX_FP_COMPARE (write MXCSR
 * only when the resumed context's control bits differ), 1 =
 * COIL_CTX_FP_RELOAD (write it on every switch).  Chosen when the library is
 * loaded by coil__ctx_pick_fp_policy; coil_ctx_fp_policy() reads and sets it.
 * Exported, because ctx.h's inline switch reads it too; so this file reaches
 * it through the GOT like the program does (a non-PIE program may hold a
 * copy of it, which the GOT then points at). 
 * ------------------------------------------------------------------------ */
    .data
    .globl  coil__ctx_fp_policy        /* read by ctx.h's inline switch */
    .type   coil__ctx_fp_policy, @object
coil__ctx_fp_policy:
    .byte   0
    .size   coil__ctx_fp_policy, 1

/* Run by the loader before main (an .init_array entry): RELOAD on AMD and
 * Hygon CPUs (Zen cores), COMPARE elsewhere.  `coil_bench --only switch`
 * times both side by side: on an AMD EPYC, compare 6.6 ns and reload 4.8 ns
 * per switch; on the machine the switch was first tuned on (another x86_64
 * model), comparing made the full switch 0.81-0.91x Boost's, which writes
 * every time.  cpuid leaf 0 leaves the vendor's first letters in ebx. */
    .text
    .type   coil__ctx_pick_fp_policy, @function
    .p2align 4
coil__ctx_pick_fp_policy:
    .cfi_startproc
    endbr64
    pushq   %rbx                    /* cpuid writes it; callee-saved */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    xorl    %eax, %eax
    cpuid
    xorl    %eax, %eax
    cmpl    $0x68747541, %ebx       /* "Auth"enticAMD */
    je      1f
    cmpl    $0x6f677948, %ebx       /* "Hygo"nGenuine */
    jne     2f
1:  movl    $1, %eax
2:  movq    coil__ctx_fp_policy@GOTPCREL(%rip), %rbx
    movb    %al, (%rbx)
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    ret
    .cfi_endproc
    .size   coil__ctx_pick_fp_policy, .-coil__ctx_pick_fp_policy

    .section .init_array, "aw"
    .p2align 3
    .quad   coil__ctx_pick_fp_policy
    .text

/* int coil_ctx_fp_policy(int policy): -1 queries; 0 or 1 sets.  Returns the
 * policy in force before the call, or -1 with errno EINVAL. */
    .globl  coil_ctx_fp_policy
    .type   coil_ctx_fp_policy, @function
    .p2align 4
coil_ctx_fp_policy:
    .cfi_startproc
    endbr64
    movq    coil__ctx_fp_policy@GOTPCREL(%rip), %rdx
    movzbl  (%rdx), %eax
    cmpl    $-1, %edi
    je      1f
    cmpl    $1, %edi
    ja      coil__ctx_einval        /* unsigned: anything but 0 and 1 */
    movb    %dil, (%rdx)
1:  ret
    .cfi_endproc
    .size   coil_ctx_fp_policy, .-coil_ctx_fp_policy

/* ------------------------------------------------------------------------
 * int coil_ctx_make(coil_ctx *ctx, void *stack, size_t size,
 *                   coil_ctx_entry entry, void *data, coil_ctx *link)
 *   rdi = ctx, rsi = stack, rdx = size, rcx = entry, r8 = data, r9 = link
 *
 * The fresh frame carries entry in r12, data in r13, link in r14 (all
 * callee-saved, so they survive the call to entry), rbp = 0 to end frame
 * pointer chains, and the start routine as its resume address.
 * ------------------------------------------------------------------------ */
    .globl  coil_ctx_make
    .type   coil_ctx_make, @function
    .p2align 4
coil_ctx_make:
    .cfi_startproc
    endbr64
    testq   %rdi, %rdi
    jz      coil__ctx_einval
    testq   %rsi, %rsi
    jz      coil__ctx_einval
    testq   %rcx, %rcx
    jz      coil__ctx_einval
    cmpq    $MIN_STACK, %rdx
    jb      coil__ctx_einval
    addq    %rsi, %rdx              /* rdx = stack + size = top */
    jc      coil__ctx_einval        /* wrapped around the address space */
    andq    $-16, %rdx
    leaq    -FRESH_SIZE(%rdx), %rax /* rax = frame; ≡ 0 mod 16 */

    movl    $MXCSR_DEFAULT, FRAME_FP(%rax)
    movl    $FCW_DEFAULT, FRAME_FP+4(%rax)
    movq    $0, FRAME_R15(%rax)
    movq    %r9, FRAME_R14(%rax)
    movq    %r8, FRAME_R13(%rax)
    movq    %rcx, FRAME_R12(%rax)
    movq    $0, FRAME_RBX(%rax)
    movq    $0, FRAME_RBP(%rax)
    leaq    coil_ctx_start(%rip), %rcx
    movq    %rcx, FRAME_PC(%rax)
    movq    $0, FRAME_SIZE(%rax)    /* the 16 bytes above: zero */
    movq    $0, FRAME_SIZE+8(%rax)
    movq    %rax, (%rdi)
    xorl    %eax, %eax
    ret
    .cfi_endproc
    .size   coil_ctx_make, .-coil_ctx_make

/* Tail of the checked calls above: errno = EINVAL, return -1.  Reached by
 * a jump with the caller's return address on top of the stack. */
    .type   coil__ctx_einval, @function
    .p2align 4
coil__ctx_einval:
    .cfi_startproc
    subq    $8, %rsp                /* align for the call */
    .cfi_adjust_cfa_offset 8
    call    __errno_location@PLT
    movl    $EINVAL_VALUE, (%rax)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    movl    $-1, %eax
    ret
    .cfi_endproc
    .size   coil__ctx_einval, .-coil__ctx_einval

/* ------------------------------------------------------------------------
 * coil_ctx_start: where a fresh context begins (reached by the resume jump
 * of a switch).  rsp = top - 16, a multiple of 16; rax = the switch's arg.
 *
 * The return address is marked undefined: this is the outermost frame of
 * the context, and unwinders must stop here instead of reading whatever
 * lies above the stack.  rbp is 0 for frame-pointer walkers.
 * ------------------------------------------------------------------------ */
    .type   coil_ctx_start, @function
    .p2align 4
coil_ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    endbr64
    movq    %r13, %rdi              /* entry(data, arg) */
    movq    %rax, %rsi
    callq   *%r12
    testq   %r14, %r14
    jz      .Lno_link
    movq    %rsp, %rdi              /* from: scratch coil_ctx at top - 16 */
    movq    %r14, %rsi              /* to: link */
    movq    %rax, %rdx              /* arg: entry's return value */
    callq   coil__ctx_switch_local
    ud2                             /* a finished context is never resumed */
.Lno_link:
    movl    $1, %eax                /* write(2, msg, len): stdio may be in
                                       any state, a raw syscall is not */
    movl    $2, %edi
    leaq    .Lno_link_msg(%rip), %rsi
    movl    $.Lno_link_len, %edx
    syscall
    callq   abort@PLT
    ud2
    .cfi_endproc
    .size   coil_ctx_start, .-coil_ctx_start

/* ------------------------------------------------------------------------
 * coil__ctx_start_tail: internal to coil (hidden), the start routine of a
 * task's coroutine, whose fresh frame src/core/coro.c writes itself (the layout
 * of coil_ctx_make's, this as its resume address).  Enters entry(data,
 * arg) by a jump instead of a call, with a return address pushed by hand
 * that leads to an abort: such an entry must leave by a switch.  Nothing
 * of the start is then left on the return-stack buffer: when the entry's
 * last switch resumes a suspended coroutine, that one's returns find the
 * buffer as it left it, and are predicted.  (With a call, the one entry
 * left over shifts every later prediction by one: measured, spawn + await
 * of a trivial task 80 -> 68 ns when nothing is left over.)
 * ------------------------------------------------------------------------ */
    .globl  coil__ctx_start_tail
    .hidden coil__ctx_start_tail
    .type   coil__ctx_start_tail, @function
    .p2align 4
coil__ctx_start_tail:
    .cfi_startproc
    .cfi_undefined rip
    endbr64
    movq    %r13, %rdi              /* entry(data, arg) */
    movq    %rax, %rsi
    leaq    .Lentry_returned(%rip), %rcx
    pushq   %rcx
    jmpq    *%r12
.Lentry_returned:                   /* rsp ≡ 0 mod 16 again, as for a call */
    movl    $1, %eax                /* write(2, msg, len) */
    movl    $2, %edi
    leaq    .Ltail_returned_msg(%rip), %rsi
    movl    $.Ltail_returned_len, %edx
    syscall
    callq   abort@PLT
    ud2
    .cfi_endproc
    .size   coil__ctx_start_tail, .-coil__ctx_start_tail

/* ------------------------------------------------------------------------
 * void coil__ctx_unwind_from(const coil_ctx *ctx, void *resumed_sp,
 *                            void (*fn)(void *), void *arg)
 *
 * Internal to coil (hidden): call fn(arg), on the caller's own stack, inside
 * a frame whose unwind info says that its caller is the suspended context
 * *ctx.  An unwinder started in fn (_Unwind_Backtrace, gdb) walks from here
 * into the suspended stack as if the switch had just returned there: the
 * resume address and the callee-saved registers come from the saved frame,
 * rsp from resumed_sp.  That is the value rsp has at the resume address:
 * ctx->sp + 64 after an out-of-line switch, 128 bytes (the red zone)
 * less than the function's own rsp after ctx.h's inline switch, whose
 * resume address the caller recognises.  Nothing is written to the
 * suspended stack and no register of it is loaded: it is read, by the
 * unwinder, only.
 *
 *   rbx = the saved frame: CFA = rbx + 64, the resume address at CFA - 8
 *         and rbp, rbx, r12..r15 below it, as FRAME_* above;
 *   r12 = resumed_sp, the caller's rsp (DW_CFA_val_expression: rsp = r12).
 * fn preserves both, as the ABI makes them callee-saved.
 * ------------------------------------------------------------------------ */
    .globl  coil__ctx_unwind_from
    .hidden coil__ctx_unwind_from
    .type   coil__ctx_unwind_from, @function
    .p2align 4
coil__ctx_unwind_from:
    .cfi_startproc
    endbr64
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    subq    $8, %rsp                /* rsp ≡ 0 mod 16 at the call */
    .cfi_adjust_cfa_offset 8
    movq    (%rdi), %rbx
    movq    %rsi, %r12
    movq    %rcx, %rdi
    .cfi_remember_state
    .cfi_def_cfa rbx, FRAME_SIZE
    .cfi_offset rip, FRAME_PC - FRAME_SIZE
    .cfi_offset rbp, FRAME_RBP - FRAME_SIZE
    .cfi_offset rbx, FRAME_RBX - FRAME_SIZE
    .cfi_offset r12, FRAME_R12 - FRAME_SIZE
    .cfi_offset r13, FRAME_R13 - FRAME_SIZE
    .cfi_offset r14, FRAME_R14 - FRAME_SIZE
    .cfi_offset r15, FRAME_R15 - FRAME_SIZE
    .cfi_escape 0x16, 0x07, 0x02, 0x7c, 0x00   /* val_expression rsp: breg12 0 */
    callq   *%rdx
    .cfi_restore_state
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    ret
    .cfi_endproc
    .size   coil__ctx_unwind_from, .-coil__ctx_unwind_from

/* A local alias, so the start routine's call binds inside this object and
 * never goes through the PLT. */
    .set    coil__ctx_switch_local, coil_ctx_switch

    .section .rodata.str1.1, "aMS", @progbits, 1
.Lno_link_msg:
    .ascii  "coil: context entry function returned with no link context\n"
    .set    .Lno_link_len, . - .Lno_link_msg
.Ltail_returned_msg:
    .ascii  "coil: a coroutine entry entered by a jump returned\n"
    .set    .Ltail_returned_len, . - .Ltail_returned_msg

/* No executable stack. */
    .section .note.GNU-stack, "", @progbits

/* GNU property note: this object is IBT-compatible (every indirect branch
 * lands on endbr64 or is NOTRACK).  SHSTK is deliberately not claimed; see
 * ctx.h point 7. */
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                       /* n_namesz: "GNU\0" */
    .long   16                      /* n_descsz */
    .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
    .long   4                       /* pr_datasz */
    .long   0x1                     /* GNU_PROPERTY_X86_FEATURE_1_IBT */
    .p2align 3
