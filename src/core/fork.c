/*
 * src/core/fork.c — work done in the child of a fork() (fork.h).
 */
#include <pthread.h>
#include <signal.h>
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

/* The signals coil blocked in this thread and the program had not.  A
 * zero-filled sigset_t is the empty set (glibc's). */
static __thread sigset_t blocked_by_coil;

void coil__fork_unblock(int signo)
{
    sigaddset(&blocked_by_coil, signo);
}

void coil__fork_forget(int signo)
{
    sigdelset(&blocked_by_coil, signo);
}

void coil__fork_program_mask(sigset_t *mask)
{
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&blocked_by_coil, signo) == 1)
            sigdelset(mask, signo);
}

void coil__fork_unblock_since(const sigset_t *before)
{
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    for (int signo = 1; signo < NSIG; signo++)
        if (sigismember(&now, signo) == 1 && sigismember(before, signo) == 0)
            sigaddset(&blocked_by_coil, signo);
}

static void unblock_in_child(void)
{
    pthread_sigmask(SIG_UNBLOCK, &blocked_by_coil, NULL);
    sigemptyset(&blocked_by_coil);
}

/* Priority 101, as the layers' registrations (loop.h's COIL__REGISTER). */
__attribute__((constructor(101))) static void register_unblock(void)
{
    coil__on_fork_child(unblock_in_child);
}
