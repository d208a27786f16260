/*
 * tests/ctx_regs_x86_64.S — conformance helpers that C cannot write: put
 * chosen values in every callee-saved register across a switch, and look at
 * the stack pointer exactly at a fresh context's entry.
 */
#include "gnu_property.h"
    .text

/* int regs_roundtrip(const uint64_t vals[6], coil_ctx *from,
 *                    const coil_ctx *to, void *arg, switch_fn fn)
 * Loads vals into rbx, rbp, r12, r13, r14, r15, calls fn(from, to, arg),
 * and returns how many of those registers no longer hold their value. */
    .globl  regs_roundtrip
    .type   regs_roundtrip, @function
regs_roundtrip:
    endbr64
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $24, %rsp               /* rsp ≡ 0 (mod 16) at the call */
    movq    %rdi, (%rsp)            /* vals, for after the switch */
    movq    %rdi, %rax
    movq    %rsi, %rdi
    movq    %rdx, %rsi
    movq    %rcx, %rdx
    movq    0(%rax), %rbx
    movq    8(%rax), %rbp
    movq    16(%rax), %r12
    movq    24(%rax), %r13
    movq    32(%rax), %r14
    movq    40(%rax), %r15
    callq   *%r8
    movq    (%rsp), %rcx
    xorl    %eax, %eax
    xorl    %edx, %edx
    cmpq    0(%rcx), %rbx
    setne   %dl
    addl    %edx, %eax
    cmpq    8(%rcx), %rbp
    setne   %dl
    addl    %edx, %eax
    cmpq    16(%rcx), %r12
    setne   %dl
    addl    %edx, %eax
    cmpq    24(%rcx), %r13
    setne   %dl
    addl    %edx, %eax
    cmpq    32(%rcx), %r14
    setne   %dl
    addl    %edx, %eax
    cmpq    40(%rcx), %r15
    setne   %dl
    addl    %edx, %eax
    addq    $24, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .size   regs_roundtrip, .-regs_roundtrip

/* void *probe_entry(void *data, void *arg): a coil_ctx_entry that records
 * rsp and rbp as the entry found them, then tail-calls probe_entry_body. */
    .globl  probe_entry
    .type   probe_entry, @function
probe_entry:
    endbr64
    movq    %rsp, probe_entry_sp(%rip)
    movq    %rbp, probe_entry_fp(%rip)
    jmp     probe_entry_body
    .size   probe_entry, .-probe_entry

/* void trash_caller_saved(void): writes garbage to every register a call
 * may change (rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm15), so a value the
 * other side of an inline switch wrongly kept there is lost, visibly. */
    .globl  trash_caller_saved
    .type   trash_caller_saved, @function
trash_caller_saved:
    endbr64
    movabsq $0xdeadbeefdeadbeef, %rax
    movq    %rax, %rcx
    movq    %rax, %rdx
    movq    %rax, %rsi
    movq    %rax, %rdi
    movq    %rax, %r8
    movq    %rax, %r9
    movq    %rax, %r10
    movq    %rax, %r11
    movq    %rax, %xmm0
    pshufd  $0, %xmm0, %xmm0
    movdqa  %xmm0, %xmm1
    movdqa  %xmm0, %xmm2
    movdqa  %xmm0, %xmm3
    movdqa  %xmm0, %xmm4
    movdqa  %xmm0, %xmm5
    movdqa  %xmm0, %xmm6
    movdqa  %xmm0, %xmm7
    movdqa  %xmm0, %xmm8
    movdqa  %xmm0, %xmm9
    movdqa  %xmm0, %xmm10
    movdqa  %xmm0, %xmm11
    movdqa  %xmm0, %xmm12
    movdqa  %xmm0, %xmm13
    movdqa  %xmm0, %xmm14
    movdqa  %xmm0, %xmm15
    ret
    .size   trash_caller_saved, .-trash_caller_saved

    .section .note.GNU-stack, "", @progbits

/* GNU property note (x86-64 psABI, "Program Property"): this object is
 * IBT-compatible (every function above starts with endbr64: C calls them
 * through pointers) and SHSTK-compatible (each call returns by ret to its
 * own caller; the switch it makes is the library's business, and the
 * library says so in its own note).  The linker ANDs these bits over all
 * its inputs, so one unmarked object turns IBT off for the whole program:
 * tests/cet_report.sh links this file with coil's own objects to check. */
    gnu_property_note 0xc0000002, 0x3                 /* IBT | SHSTK */
