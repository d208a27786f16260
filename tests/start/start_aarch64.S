/*
 * tests/start/start_aarch64.S — a program's start code, BTI-marked, for
 * the aarch64-bti preset (COIL_OWN_STARTFILES; docs/testing.md, "Branch
 * protection").
 *
 * Why: the linker marks a program BTI-compatible only if every object it
 * links is marked, and Debian 12's start files (Scrt1.o, crti.o, crtn.o,
 * crtbeginS.o, crtendS.o) are not.  So a program built with
 * -mbranch-protection=standard from marked objects of its own still comes
 * out unmarked, and its pages are never guarded: nothing is enforced.
 * This file replaces all five for a program linked with -nostartfiles.
 *
 * What the C library's start files do that this one does not need:
 *   - crti.o/crtn.o open and close the .init and .fini functions: nothing
 *     in coil or its tests puts code there (constructors go to
 *     .init_array), so the program has no DT_INIT/DT_FINI;
 *   - crtbeginS.o/crtendS.o register transactional-memory clones and run
 *     C++-era destructor lists; a C program without them loses nothing.
 *     The .eh_frame terminator in crtendS.o is not needed either: the
 *     unwinder finds FDEs through .eh_frame_hdr's table (the linker's
 *     --eh-frame-hdr, GCC's default on Linux).
 * What it does: _start, and __dso_handle for atexit() (libc_nonshared.a's
 * atexit passes it to __cxa_atexit; zero names the main program).
 *
 * Process entry, as the AArch64 Linux ABI leaves it (the kernel for a
 * static program, ld.so for a dynamic one): sp 16-byte aligned and
 * pointing at argc, argv[] right above it, then envp[] and the auxiliary
 * vector; x0 a function for the program to run at exit (ld.so's
 * finaliser), or 0.  glibc's entry point (LSB) is
 *   int __libc_start_main(int (*main)(int, char **, char **), int argc,
 *                         char **argv, void (*init)(void),
 *                         void (*fini)(void), void (*rtld_fini)(void),
 *                         void *stack_end);
 * Since glibc 2.34 init and fini are NULL: the library runs .init_array
 * and .fini_array itself.  It never returns (it calls exit(main(...))).
 */
#include "../gnu_property.h"
    .text
    .globl  _start
    .type   _start, %function
    .p2align 2
_start:
    .cfi_startproc
    .cfi_undefined x30              /* the outermost frame: unwinders stop */
    /* ld.so reaches the entry point by an indirect branch (BR, not
     * necessarily through x16/x17), so the pad must accept jumps: bti jc. */
    hint    #38                     /* bti jc */
    mov     x29, #0                 /* frame-record walkers stop here too */
    mov     x30, #0
    mov     x5, x0                  /* rtld_fini */
    ldr     x1, [sp]                /* argc */
    add     x2, sp, #8              /* argv */
    mov     x3, #0                  /* init: none */
    mov     x4, #0                  /* fini: none */
    mov     x6, sp                  /* stack_end */
    adrp    x0, main                /* main is in this program: PC-relative */
    add     x0, x0, :lo12:main
    bl      __libc_start_main
    udf     #0                      /* it does not return */
    .cfi_endproc
    .size   _start, .-_start

    .section .data.rel.ro, "aw"
    .p2align 3
    .globl  __dso_handle
    .hidden __dso_handle
    .type   __dso_handle, %object
__dso_handle:
    .quad   0
    .size   __dso_handle, 8

    .section .note.GNU-stack, "", %progbits

/* BTI (1): _start begins with a landing pad; PAC (2): nothing here signs
 * return addresses, so nothing here can fail to authenticate one. */
    gnu_property_note 0xc0000000, 3                   /* BTI | PAC */
