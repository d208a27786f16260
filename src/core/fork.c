/*
 * src/core/fork.c — work done in the child of a fork() (fork.h).
 */
#include <pthread.h>
#include <stddef.h>

#include "core/fork.h"

#ifdef __GLIBC__
/* glibc's pthread_atfork is a wrapper in libc_nonshared.a around this
 * symbol of libc.so, and that wrapper's object carries no IBT property:
 * linked into libcoil it would cost the library its IBT marking
 * (tests/cet_report.sh).  The wrapper passes its module's handle, so that
 * a dlclose()d library's handlers go with it: so does this, when linked
 * with start files that define one (NULL otherwise: kept for ever). */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void),
                             void (*child)(void), void *dso_handle);
extern void *__dso_handle __attribute__((weak));

void coil__on_fork_child(void (*fn)(void))
{
    (void)__register_atfork(NULL, NULL, fn, &__dso_handle);
}
#else
void coil__on_fork_child(void (*fn)(void))
{
    (void)pthread_atfork(NULL, NULL, fn);
}
#endif
