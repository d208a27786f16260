/*
 * src/core/fork.h — work done in the child of a fork() (internal).
 *
 * A child forked while tasks run holds copies of the parent's loops and
 * tasks: each layer that keeps per-thread state says here how to forget
 * it (task.c, loop.c) or undo it (signal.c) in the child.
 */
#ifndef COIL_CORE_FORK_H
#define COIL_CORE_FORK_H

/* Run fn in the child of every later fork(), before fork returns there.
 * Call from a constructor.  Cannot fail in practice (an allocation of
 * glibc's at start-up); a handler not registered is left out silently. */
void coil__on_fork_child(void (*fn)(void));

#endif
