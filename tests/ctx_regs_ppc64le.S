/*
 * tests/ctx_regs_ppc64le.S — conformance helpers that C cannot write: put
 * chosen values in every callee-saved register across a switch, and look at
 * the stack pointer exactly at a fresh context's entry (64-bit PowerPC,
 * little-endian, ELFv2 ABI).  Register operands are bare numbers, as GNU as
 * reads them for PowerPC: "ld 14, 0(10)" is ld r14, 0(r10); in stfd and
 * lfd they name f14..., in lxvd2x and stxvd2x 52-63 name vs52-vs63, which
 * are v20-v31.
 */
    .abiversion 2
    .text

/* int regs_roundtrip(const uint64_t vals[61], coil_ctx *from,
 *                    const coil_ctx *to, void *arg, switch_fn fn)
 *   r3 = vals, r4 = from, r5 = to, r6 = arg, r7 = fn
 * vals: [0, 18) r14-r31, [18, 36) f14-f31 (as raw bits: lfd and stfd move
 * them without looking), [36, 60) v20-v31 (two words each), [60] the
 * condition register, of which the callee-saved fields CR2-CR4 are loaded.
 * Calls fn(from, to, arg) and returns how many of those registers (the
 * three CR fields count as one) no longer hold their value.
 *
 * Our frame, 608 bytes: the ABI's 32-byte header, a 64-byte parameter
 * save area, vals at 96, a 16-byte scratch at 112, then r14-r31, f14-f31
 * and v20-v31 (ours to preserve for the C caller). */
#define VALS    96
#define SCRATCH 112
#define SAVE_R  128
#define SAVE_F  272
#define SAVE_V  416
#define FRAME   608
#define CR_MASK 0x38            /* mtcrf field mask: CR2, CR3, CR4 */

    .globl  regs_roundtrip
    .type   regs_roundtrip, @function
    .p2align 4
regs_roundtrip:
    mflr    0
    std     0, 16(1)
    mfcr    0
    stw     0, 8(1)
    stdu    1, -FRAME(1)
    std     2, 24(1)
    std     3, VALS(1)
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    std     \n, SAVE_R + 8 * (\n - 14)(1)
    stfd    \n, SAVE_F + 8 * (\n - 14)(1)
    .endr
    .irp    k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    addi    11, 1, SAVE_V + 16 * \k
    stxvd2x 52 + \k, 0, 11
    .endr

    mr      10, 3
    mr      12, 7               /* ELFv2: r12 holds the callee's address */
    mtctr   12
    mr      3, 4
    mr      4, 5
    mr      5, 6
    ld      0, 480(10)
    mtcrf   CR_MASK, 0
    .irp    k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    addi    11, 10, 288 + 16 * \k
    lxvd2x  52 + \k, 0, 11
    .endr
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    lfd     \n, 144 + 8 * (\n - 14)(10)
    ld      \n, 8 * (\n - 14)(10)
    .endr
    bctrl
    ld      2, 24(1)

    /* Count the registers that changed; compare in cr0, which is not ours
     * to keep, and look at the CR fields first. */
    ld      10, VALS(1)
    li      3, 0
    mfcr    0
    ld      11, 480(10)
    xor     0, 0, 11
    rlwinm  0, 0, 0, 8, 19      /* CR2-CR4: bits 8-19, 0x00fff000 */
    cmpdi   0, 0
    beq     1f
    addi    3, 3, 1
1:
    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ld      0, 8 * (\n - 14)(10)
    cmpd    0, \n
    beq     1f
    addi    3, 3, 1
1:
    stfd    \n, SCRATCH(1)
    ld      0, SCRATCH(1)
    ld      11, 144 + 8 * (\n - 14)(10)
    cmpd    0, 11
    beq     1f
    addi    3, 3, 1
1:
    .endr
    .irp    k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    addi    11, 1, SCRATCH
    stxvd2x 52 + \k, 0, 11
    ld      0, SCRATCH(1)
    ld      11, 288 + 16 * \k(10)
    cmpd    0, 11
    beq     1f
    addi    3, 3, 1
1:
    ld      0, SCRATCH + 8(1)
    ld      11, 296 + 16 * \k(10)
    cmpd    0, 11
    beq     1f
    addi    3, 3, 1
1:
    .endr

    .irp    n, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ld      \n, SAVE_R + 8 * (\n - 14)(1)
    lfd     \n, SAVE_F + 8 * (\n - 14)(1)
    .endr
    .irp    k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    addi    11, 1, SAVE_V + 16 * \k
    lxvd2x  52 + \k, 0, 11
    .endr
    addi    1, 1, FRAME
    ld      0, 16(1)
    mtlr    0
    lwz     0, 8(1)
    mtcrf   CR_MASK, 0
    blr
    .size   regs_roundtrip, .-regs_roundtrip

/* uint64_t toc_roundtrip(uint64_t toc, coil_ctx *from, const coil_ctx *to,
 *                        void *arg, switch_fn fn)
 *   r3 = toc, r4 = from, r5 = to, r6 = arg, r7 = fn
 * Calls fn(from, to, arg) with r2 = toc, as a caller in another module
 * (another TOC) would reach a switch with a single entry point (st_other
 * 0: r2 preserved), and returns r2 as the call left it, without the TOC
 * reload a call through a pointer normally has.  Native port only: a C
 * switch (fcontext) sets up its own r2 at its global entry, which the ABI
 * allows. */
    .globl  toc_roundtrip
    .type   toc_roundtrip, @function
    .p2align 4
toc_roundtrip:
    mflr    0
    std     0, 16(1)
    stdu    1, -32(1)
    std     2, 24(1)
    mr      2, 3
    mr      12, 7
    mtctr   12
    mr      3, 4
    mr      4, 5
    mr      5, 6
    bctrl
    mr      3, 2
    ld      2, 24(1)
    addi    1, 1, 32
    ld      0, 16(1)
    mtlr    0
    blr
    .size   toc_roundtrip, .-toc_roundtrip

/* void *probe_entry(void *data, void *arg): a coil_ctx_entry that records
 * r1 (the stack pointer) and r31 (the frame pointer, when one is kept) as
 * the entry found them, then tail-calls probe_entry_body.  It reaches its
 * globals through the TOC, so it has a global entry point that derives r2
 * from r12. */
    .globl  probe_entry
    .type   probe_entry, @function
    .p2align 4
probe_entry:
    addis   2, 12, .TOC.-probe_entry@ha
    addi    2, 2, .TOC.-probe_entry@l
    .localentry probe_entry, .-probe_entry
    addis   11, 2, probe_entry_sp@toc@ha
    std     1, probe_entry_sp@toc@l(11)
    addis   11, 2, probe_entry_fp@toc@ha
    std     31, probe_entry_fp@toc@l(11)
    b       probe_entry_body
    .size   probe_entry, .-probe_entry

    .section .note.GNU-stack, "", @progbits
