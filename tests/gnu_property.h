/*
 * tests/gnu_property.h — the GNU property note of the tests' own assembly
 * (ctx_regs_*.S, bti_pads_aarch64.S, start/start_*.S), written once: a
 * wrong word in it silently turns branch protection off for every program
 * that links the object.
 *
 *   gnu_property_note TYPE, FEATURES
 *
 * emits one NT_GNU_PROPERTY_TYPE_0 note with one 4-byte property: TYPE is
 * GNU_PROPERTY_X86_FEATURE_1_AND (0xc0000002: 1 = IBT, 2 = SHSTK) or
 * GNU_PROPERTY_AARCH64_FEATURE_1_AND (0xc0000000: 1 = BTI, 2 = PAC).  The
 * linker ANDs the bits over all its inputs.
 */
.macro gnu_property_note type, features
    .pushsection .note.gnu.property, "a"
    .p2align 3
    .long   4                       /* n_namesz: "GNU\0" */
    .long   16                      /* n_descsz */
    .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   \type
    .long   4                       /* pr_datasz */
    .long   \features
    .long   0                       /* pad to 8 */
    .popsection
.endm
