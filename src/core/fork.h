/*
 * src/core/fork.h — work done in the child of a fork() (internal).
 *
 * A child forked while coil runs holds copies of the parent's loops and
 * tasks, and the signal mask of the thread that forked: each layer says
 * here how to forget its per-thread state in the child (task.c, loop.c),
 * and which signals coil blocked in a thread, which the child unblocks —
 * a program it execs must not start with SIGINT or SIGTERM blocked.
 */
#ifndef COIL_CORE_FORK_H
#define COIL_CORE_FORK_H

#include <signal.h>

#include "core/libc.h"

/* Run fn in the child of every later fork(), before fork returns there.
 * Call from a constructor.  Cannot fail in practice (an allocation of
 * glibc's at start-up); a handler not registered is left out silently. */
void coil__on_fork_child(void (*fn)(void));

/* This thread's mask now blocks signo, which coil blocked and the program
 * had not: a child forked in this thread unblocks it. */
void coil__fork_unblock(int signo);

/* coil unblocked signo in this thread again: forget it. */
void coil__fork_forget(int signo);

/* Take out of *mask, this thread's, the signals coil blocked in it: what
 * the program's own mask is.  A thread coil starts notes it first.  The
 * hook layer starts system's and popen's shells with it. */
COIL__HOOK_API void coil__fork_program_mask(sigset_t *mask);

/* This thread was started by coil with signals blocked that its creator,
 * whose program's mask was `before`, had not: every signal blocked now
 * and not in before is unblocked in a child forked here. */
void coil__fork_unblock_since(const sigset_t *before);

#endif
