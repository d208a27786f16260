/*
 * tests/bti_pads_aarch64.S — two functions for tests/bti_test.c: one that
 * an indirect call may land on, and one that it may not.
 *
 * This file claims BTI in its property note although bti_unpadded has no
 * landing pad: that is the lie the test needs.  In a program whose every
 * object claims BTI the linker marks the result, the loader maps its text
 * as guarded pages, and a BLR to bti_unpadded must then raise a branch
 * target exception, which Linux (and qemu-user) deliver as SIGILL.
 */
#include "gnu_property.h"
    .text

/* int bti_padded(void): 42, behind a `bti c` pad, which accepts a BLR. */
    .globl  bti_padded
    .type   bti_padded, %function
    .p2align 2
bti_padded:
    hint    #34                     /* bti c */
    mov     w0, #42
    ret
    .size   bti_padded, .-bti_padded

/* int bti_unpadded(void): 43, with no pad: a direct BL may reach it, a BLR
 * may not.  (Not `paciasp` either, which is an implicit `bti c`.) */
    .globl  bti_unpadded
    .type   bti_unpadded, %function
    .p2align 2
bti_unpadded:
    mov     w0, #43
    ret
    .size   bti_unpadded, .-bti_unpadded

    .section .note.GNU-stack, "", %progbits

    gnu_property_note 0xc0000000, 3                   /* BTI | PAC */
