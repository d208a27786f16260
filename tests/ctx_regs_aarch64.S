/*
 * tests/ctx_regs_aarch64.S — conformance helpers that C cannot write: put
 * chosen values in every callee-saved register across a switch, and look at
 * the stack pointer exactly at a fresh context's entry.
 */
#include "gnu_property.h"
    .text

/* int regs_roundtrip(const uint64_t vals[19], coil_ctx *from,
 *                    const coil_ctx *to, void *arg, switch_fn fn)
 * Loads vals into x19-x28, x29 and d8-d15, calls fn(from, to, arg), and
 * returns how many of those registers no longer hold their value. */
    .globl  regs_roundtrip
    .type   regs_roundtrip, %function
regs_roundtrip:
    hint    #34                     /* bti c */
    stp     x29, x30, [sp, #-176]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8,  d9,  [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    str     x0, [sp, #160]          /* vals, for after the switch */
    mov     x9, x0
    mov     x0, x1
    mov     x1, x2
    mov     x2, x3
    ldp     x19, x20, [x9, #0]
    ldp     x21, x22, [x9, #16]
    ldp     x23, x24, [x9, #32]
    ldp     x25, x26, [x9, #48]
    ldp     x27, x28, [x9, #64]
    ldr     x29,      [x9, #80]
    ldp     d8,  d9,  [x9, #88]
    ldp     d10, d11, [x9, #104]
    ldp     d12, d13, [x9, #120]
    ldp     d14, d15, [x9, #136]
    blr     x4
    ldr     x9, [sp, #160]
    mov     w0, #0
.macro CHECKX reg, off
    ldr     x10, [x9, #\off]
    cmp     \reg, x10
    cinc    w0, w0, ne
.endm
.macro CHECKD reg, off
    ldr     x10, [x9, #\off]
    fmov    x11, \reg
    cmp     x11, x10
    cinc    w0, w0, ne
.endm
    CHECKX  x19, 0
    CHECKX  x20, 8
    CHECKX  x21, 16
    CHECKX  x22, 24
    CHECKX  x23, 32
    CHECKX  x24, 40
    CHECKX  x25, 48
    CHECKX  x26, 56
    CHECKX  x27, 64
    CHECKX  x28, 72
    CHECKX  x29, 80
    CHECKD  d8,  88
    CHECKD  d9,  96
    CHECKD  d10, 104
    CHECKD  d11, 112
    CHECKD  d12, 120
    CHECKD  d13, 128
    CHECKD  d14, 136
    CHECKD  d15, 144
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     d8,  d9,  [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x29, x30, [sp], #176
    ret
    .size   regs_roundtrip, .-regs_roundtrip

/* void *probe_entry(void *data, void *arg): a coil_ctx_entry that records
 * sp and x29 as the entry found them, then tail-calls probe_entry_body. */
    .globl  probe_entry
    .type   probe_entry, %function
probe_entry:
    hint    #34                     /* bti c */
    mov     x9, sp
    adrp    x10, probe_entry_sp
    str     x9, [x10, :lo12:probe_entry_sp]
    adrp    x10, probe_entry_fp
    str     x29, [x10, :lo12:probe_entry_fp]
    b       probe_entry_body
    .size   probe_entry, .-probe_entry

    .section .note.GNU-stack, "", %progbits

/* GNU property note (AAELF64, GNU_PROPERTY_AARCH64_FEATURE_1_AND), written
 * when the build asks for branch protection, as the compiler does for C:
 * BTI, because both functions start with a `bti c` landing pad (C calls
 * them through pointers); PAC when return addresses are signed, which this
 * file never does and so never breaks.  The linker ANDs the bits over all
 * its inputs: without this note every test program linking this file loses
 * BTI (the aarch64-bti preset's `marks` test reads the final programs). */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define REGS_FEATURES 3
#else
#define REGS_FEATURES 1
#endif
    gnu_property_note 0xc0000000, REGS_FEATURES
#endif
