/*
 * src/hook/real.c — libc's definitions of the functions the hook layer
 * interposes, found once with dlsym(RTLD_NEXT).
 *
 * Why dlsym and not glibc's internal aliases (__read, __close, ...): only
 * some of them are exported, their set differs between glibc versions and
 * CPUs, and RTLD_NEXT also finds a sanitizer's or another preloaded
 * library's definition when that comes after ours, so they keep working.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "hook.h"

#define COIL__SLOT(name) void *_Atomic coil__libc_##name;
COIL__HOOKED(COIL__SLOT)
#undef COIL__SLOT

void *coil__libc_find(void *_Atomic *slot, const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        /* Nothing sensible to fall back to: the call cannot be made. */
        fprintf(stderr, "coil_hook: libc has no %s\n", name);
        abort();
    }
    atomic_store_explicit(slot, p, memory_order_release);
    return p;
}
