/*
 * tests/ctx_regs_s390x.S — conformance helpers that C cannot write: put
 * chosen values in every callee-saved register across a switch, and look at
 * the stack pointer exactly at a fresh context's entry (64-bit z/Architecture,
 * the s390x ELF ABI).
 */
    .text

/* int regs_roundtrip(const uint64_t vals[16], coil_ctx *from,
 *                    const coil_ctx *to, void *arg, switch_fn fn)
 *   r2 = vals, r3 = from, r4 = to, r5 = arg, r6 = fn
 * vals: [0, 8) r6-r13, [8, 16) f8-f15 (as raw bits: ld, std and lgdr move
 * them without looking).  Calls fn(from, to, arg) and returns how many of
 * those registers no longer hold their value.
 *
 * The ABI gives every callee 160 bytes at the caller's stack pointer to
 * save r6-r15 in; ours, 240 bytes, has that area for fn, then f8-f15 at
 * 160 and vals at 224. */
#define SAVE_F 160
#define VALS   224
#define FRAME  240

    .globl  regs_roundtrip
    .type   regs_roundtrip, @function
    .p2align 3
regs_roundtrip:
    stmg    %r6, %r15, 48(%r15)
    lgr     %r1, %r15
    aghi    %r15, -FRAME
    stg     %r1, 0(%r15)                /* back chain */
    .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
    std     %f\n, SAVE_F + 8 * (\n - 8)(%r15)
    .endr
    stg     %r2, VALS(%r15)

    lgr     %r1, %r6
    lgr     %r14, %r2
    lgr     %r2, %r3
    lgr     %r3, %r4
    lgr     %r4, %r5
    .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
    ld      %f\n, 64 + 8 * (\n - 8)(%r14)
    .endr
    lmg     %r6, %r13, 0(%r14)
    basr    %r14, %r1

    lg      %r1, VALS(%r15)
    lghi    %r2, 0
    .irp    n, 6, 7, 8, 9, 10, 11, 12, 13
    cg      %r\n, 8 * (\n - 6)(%r1)
    je      1f
    aghi    %r2, 1
1:
    .endr
    .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
    lgdr    %r0, %f\n
    cg      %r0, 64 + 8 * (\n - 8)(%r1)
    je      1f
    aghi    %r2, 1
1:
    .endr

    .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
    ld      %f\n, SAVE_F + 8 * (\n - 8)(%r15)
    .endr
    lmg     %r6, %r15, FRAME + 48(%r15)
    br      %r14
    .size   regs_roundtrip, .-regs_roundtrip

/* void *probe_entry(void *data, void *arg): a coil_ctx_entry that records
 * r15 (the stack pointer) and r11 (the frame pointer, when one is kept) as
 * the entry found them, then tail-calls probe_entry_body. */
    .globl  probe_entry
    .type   probe_entry, @function
    .p2align 3
probe_entry:
    larl    %r1, probe_entry_sp
    stg     %r15, 0(%r1)
    larl    %r1, probe_entry_fp
    stg     %r11, 0(%r1)
    jg      probe_entry_body@PLT
    .size   probe_entry, .-probe_entry

    .section .note.GNU-stack, "", @progbits
