/*
 * src/loop/debug.h — debug mode (internal): reports about misuse and slowness.
 *
 * Debug mode is per loop: on when the environment says COIL_DEBUG=1 at the
 * loop's birth, or after coil_loop_set_debug().  Separately, builds with
 * COIL_DEBUG_CHECKS (CMake's Debug configuration) check object lifetimes:
 * a released object is poisoned and quarantined instead of freed at once,
 * so that releasing it again is reported instead of corrupting memory.
 */
#ifndef COIL_DEBUG_H
#define COIL_DEBUG_H

#include <stddef.h>
#include "coil.h"

#pragma GCC visibility push(hidden)

/* COIL_DEBUG from the environment, read once. */
int coil__debug_env(void);

/* The slow-step threshold: COIL_DEBUG_SLOW_MS from the environment (a
 * positive number of milliseconds, fractions allowed), read once, else
 * 100 ms. */
coil_time coil__debug_slow_env(void);

/* Write "coil: <message>\n" to stderr. */
void coil__debug_report(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Around a step in debug mode (src/loop/slow_watch.c): begin has a watcher
 * look at this thread once the step has run `threshold` ns; end writes
 * what it found (" It was blocked in read(2) on fd 7 (...) ...", or
 * " It was running f+0x1c (prog) <- ...") into buf, or "" if nothing. */
void coil__slow_watch_begin(coil_time threshold);
void coil__slow_watch_end(char *buf, size_t size);

/* Name a loop callback for a report: the task it steps, else the symbol
 * of fn, else its address. */
void coil__debug_name_callback(coil_callback fn, void *arg, char *buf,
                               size_t size);

/* A layer above that knows some kind of work item better than by its
 * symbol (task.c: "task 'fetch' (fn=fetch_one)") registers, from a
 * constructor, a describer that writes its name into buf and returns 1 for
 * the items it knows, 0 for the rest.  Aborts beyond the few there are. */
typedef int (*coil__debug_describer)(coil_callback fn, void *arg, char *buf,
                                     size_t size);
void coil__debug_add_describer(coil__debug_describer d);

/* A duration for a report: "1.20 s", "300 ms", "12 us", "800 ns". */
void coil__format_duration(char *buf, size_t size, coil_time ns);

/* A deadline `delay` ns away, for a report: "in 1.20 s", or "passed
 * 3 ms ago" when it is behind. */
void coil__format_delay(char *buf, size_t size, coil_time delay);

/* What fd is, for a report after its number: " (/var/log/app.log)",
 * " (pipe:[123])" as /proc/self/fd names it, or "" when that names
 * nothing (closed, no /proc). */
void coil__format_fd_target(char *buf, size_t size, int fd);

/* A suspending call made outside any task: report it in debug mode (of
 * the current or default loop) and fail with EPERM.  Returns -1. */
int coil__debug_outside_task(const char *call);

/* Magic words for live and released objects (handles keep one in every
 * build: a cheap guard against a second release). */
#define COIL__MAGIC_LIVE 0x6c697665u   /* "live" */
#define COIL__MAGIC_DEAD 0x64656164u   /* "dead" */

#ifdef COIL_DEBUG_CHECKS
/* Lifetime checks, and a quarantine that frees released objects only after
 * many more have been. */
void coil__debug_check_live(unsigned magic, const char *call, const void *p);
void coil__debug_quarantine(void *p);
#endif

#pragma GCC visibility pop

#endif
