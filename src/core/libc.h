/*
 * src/core/libc.h — coil's own libc calls, told apart from the program's
 * (internal).
 *
 * The hook layer (src/hook/, libcoil_hook.so) interposes libc's blocking
 * calls and sigaction.  When coil itself makes one of those calls — an IO
 * syscall in src/io/, debug mode's signal handler in src/loop/ — the hook
 * must pass it straight to libc instead of taking it for the program's.
 * This flag, at the bottom of the floor plan, is how every layer says so.
 */
#ifndef COIL_CORE_LIBC_H
#define COIL_CORE_LIBC_H

/* What libcoil_hook calls or reads: exported from libcoil.so, but not API
 * (no coil.h declaration, no promise to keep). */
#ifndef COIL__HOOK_API
#define COIL__HOOK_API __attribute__((visibility("default")))
#endif

/* Nonzero while coil itself makes a libc call that the hook layer
 * interposes.  Per thread, and never held across a suspension, so
 * another task's calls are not affected.  Defined in src/core/libc.c;
 * read by libcoil_hook, nothing else should. */
extern COIL__HOOK_API __thread unsigned coil__hook_off;

/* Make `call` (an expression) as coil's own, not the program's. */
#define COIL__LIBC(call)                                                    \
    __extension__({                                                         \
        coil__hook_off++;                                                   \
        __typeof__(call) coil__libc_r_ = (call);                            \
        coil__hook_off--;                                                   \
        coil__libc_r_;                                                      \
    })

#endif
