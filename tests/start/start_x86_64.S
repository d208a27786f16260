/*
 * tests/start/start_x86_64.S — a program's start code, IBT- and
 * SHSTK-marked, for the x86_64 link check in tests/cet_report.sh
 * (docs/testing.md, "Branch protection").
 *
 * Why: the linker marks a program IBT-compatible only if every object it
 * links is marked, and Debian 12's start files (Scrt1.o, crti.o, crtn.o)
 * are not, so no program linked the usual way on Debian 12 claims IBT,
 * however coil and the program are built.  This file replaces them (and
 * crtbeginS.o/crtendS.o) for a program linked with -nostartfiles; see
 * start_aarch64.S for what the replaced files do that a C program does not
 * need.
 *
 * Process entry, as the x86-64 psABI leaves it: rsp 16-byte aligned and
 * pointing at argc, argv[] right above it; rdx a function for the program
 * to run at exit (ld.so's finaliser), or 0.  glibc's entry point (LSB):
 *   int __libc_start_main(main, argc, argv, init, fini, rtld_fini,
 *                         stack_end);
 * init and fini are NULL since glibc 2.34; the seventh argument goes on
 * the stack.  It never returns.
 */
#include "../gnu_property.h"
    .text
    .globl  _start
    .type   _start, @function
_start:
    .cfi_startproc
    .cfi_undefined rip              /* the outermost frame: unwinders stop */
    endbr64                         /* ld.so jumps here indirectly */
    xorl    %ebp, %ebp              /* frame-pointer walkers stop here too */
    movq    %rdx, %r9               /* rtld_fini */
    popq    %rsi                    /* argc */
    movq    %rsp, %rdx              /* argv */
    andq    $-16, %rsp
    pushq   %rax                    /* padding: rsp % 16 == 0 at the call */
    pushq   %rsp                    /* stack_end, the seventh argument */
    xorl    %ecx, %ecx              /* init: none */
    xorl    %r8d, %r8d              /* fini: none */
    leaq    main(%rip), %rdi        /* main is in this program */
    call    *__libc_start_main@GOTPCREL(%rip)
    hlt                             /* it does not return */
    .cfi_endproc
    .size   _start, .-_start

    .section .data.rel.ro, "aw"
    .p2align 3
    .globl  __dso_handle
    .hidden __dso_handle
    .type   __dso_handle, @object
__dso_handle:
    .quad   0
    .size   __dso_handle, 8

    .section .note.GNU-stack, "", @progbits

/* IBT (1): _start begins with endbr64; SHSTK (2): it makes one call that
 * never returns and no ret, so it cannot break a shadow stack. */
    gnu_property_note 0xc0000002, 3                   /* IBT | SHSTK */
