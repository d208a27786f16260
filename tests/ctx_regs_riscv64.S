/*
 * tests/ctx_regs_riscv64.S — conformance helpers that C cannot write: put
 * chosen values in every callee-saved register across a switch, and look at
 * the stack pointer exactly at a fresh context's entry (RISC-V LP64D).
 */
    .text

/* int regs_roundtrip(const uint64_t vals[24], coil_ctx *from,
 *                    const coil_ctx *to, void *arg, switch_fn fn)
 *   a0 = vals, a1 = from, a2 = to, a3 = arg, a4 = fn
 * Loads vals into s0-s11 and fs0-fs11 (as raw 64-bit patterns: fld, fsd
 * and fmv.x.d move bits without looking at them), calls fn(from, to, arg),
 * and returns how many of those registers no longer hold their value.
 *
 * Our frame: ra, s0-s11, fs0-fs11 (ours to preserve for the C caller) and
 * vals, 26 words, rounded up to 208 bytes. */
#define SAVED_S0    8
#define SAVED_FS0 104
#define SAVED_VALS 200
    .globl  regs_roundtrip
    .type   regs_roundtrip, @function
    .p2align 2
regs_roundtrip:
    addi    sp, sp, -208
    sd      ra, 0(sp)
    sd      a0, SAVED_VALS(sp)
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    sd      s\n, SAVED_S0 + 8 * \n(sp)
    fsd     fs\n, SAVED_FS0 + 8 * \n(sp)
    .endr
    mv      t0, a0
    mv      t1, a4
    mv      a0, a1
    mv      a1, a2
    mv      a2, a3
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ld      s\n, 8 * \n(t0)
    fld     fs\n, 96 + 8 * \n(t0)
    .endr
    jalr    t1
    ld      t0, SAVED_VALS(sp)
    li      a0, 0
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ld      t1, 8 * \n(t0)
    xor     t1, t1, s\n
    snez    t1, t1
    add     a0, a0, t1
    ld      t1, 96 + 8 * \n(t0)
    fmv.x.d t2, fs\n
    xor     t1, t1, t2
    snez    t1, t1
    add     a0, a0, t1
    .endr
    .irp    n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ld      s\n, SAVED_S0 + 8 * \n(sp)
    fld     fs\n, SAVED_FS0 + 8 * \n(sp)
    .endr
    ld      ra, 0(sp)
    addi    sp, sp, 208
    ret
    .size   regs_roundtrip, .-regs_roundtrip

/* void *probe_entry(void *data, void *arg): a coil_ctx_entry that records
 * sp and s0 as the entry found them, then tail-calls probe_entry_body. */
    .globl  probe_entry
    .type   probe_entry, @function
    .p2align 2
probe_entry:
    lla     t0, probe_entry_sp
    sd      sp, 0(t0)
    lla     t0, probe_entry_fp
    sd      s0, 0(t0)
    tail    probe_entry_body
    .size   probe_entry, .-probe_entry

    .section .note.GNU-stack, "", @progbits
