/*
 * src/run/dump_signal.h — COIL_DUMP_SIGNAL for coil_run's loop (internal).
 */
#ifndef COIL_DUMP_SIGNAL_H
#define COIL_DUMP_SIGNAL_H

#include "coil.h"

#pragma GCC visibility push(hidden)

/* If COIL_DUMP_SIGNAL names a signal, make loop print coil_dump_tasks to
 * stderr each time it arrives.  Returns the signal (for the remove), or 0
 * when none is asked for or it could not be routed. */
int coil__dump_signal_install(coil_loop *loop);
void coil__dump_signal_remove(coil_loop *loop, int signo);

#pragma GCC visibility pop

#endif
