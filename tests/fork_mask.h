/*
 * tests/fork_mask.h — fork and look at the child's signal mask: the
 * program's own (SIGUSR2, which the test blocks first with
 * block_sigusr2()), not what coil blocks in its threads (SIGINT, SIGTERM,
 * SIGUSR1 are unblocked in the program).
 */
#ifndef COIL_TESTS_FORK_MASK_H
#define COIL_TESTS_FORK_MASK_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static inline void block_sigusr2(void)
{
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    CHECK(pthread_sigmask(SIG_BLOCK, &usr2, NULL) == 0);
}

/* A task or job function: forks; the child exits 0 if its mask is the
 * program's.  Returns the child's wait status. */
static inline void *fork_and_look(void *arg)
{
    (void)arg;
    pid_t child = fork();
    if (child == 0) {
        sigset_t mask;
        int ok = pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 &&
                 !sigismember(&mask, SIGINT) &&
                 !sigismember(&mask, SIGTERM) &&
                 !sigismember(&mask, SIGUSR1) &&
                 sigismember(&mask, SIGUSR2);
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    return (void *)(intptr_t)status;
}

#endif
