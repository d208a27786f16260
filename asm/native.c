/*
 * asm/native.c — what the native backend of layer 0 has in C: its name.
 * The switch itself is the CPU's own file beside this one (x86_64_sysv.S,
 * aarch64_aapcs.S, riscv64_lp64d.S, ppc64le_elfv2.S); asm/fcontext.c is
 * the other backend.
 */
#include <coil/ctx.h>

const char *coil_ctx_backend(void)
{
    return "native";
}
