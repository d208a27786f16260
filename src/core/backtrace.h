/*
 * src/core/backtrace.h — where a suspended coroutine is, and what an
 * address is called (layer 2).  Used by the task dump; nothing on a hot
 * path calls either.
 */
#ifndef COIL_BACKTRACE_H
#define COIL_BACKTRACE_H

#include <stddef.h>

#include "coil.h"

#pragma GCC visibility push(hidden)

/* The return addresses of co's stack, innermost first: the code that
 * suspended and its callers down to the coroutine's entry.  co must be
 * suspended (not running, started, not dead) and of this thread.  Walks
 * with the DWARF unwind tables (.eh_frame), so it needs no frame
 * pointers and works in release builds.  Returns how many it stored (at
 * most max). */
int coil__coro_backtrace(const coil_coro *co, void **pcs, int max);

/* As coil__coro_backtrace for the calling code itself, skipping `skip`
 * innermost frames. */
int coil__here_backtrace(void **pcs, int max, int skip);

/* Names for addresses, for the span of one report: opening one looks for
 * libdw (elfutils) at run time and, where it is installed, names static
 * functions and gives file:line from debug info; without it, dladdr()
 * names what the dynamic symbol tables export.  Results are cached per
 * address, so a report of many tasks stopped at the same places pays
 * for each place once.  Never fails: an address nothing names is printed
 * as object+offset. */
typedef struct coil__symbolizer coil__symbolizer;
coil__symbolizer *coil__symbolizer_open(int with_lines);
void coil__symbolizer_close(coil__symbolizer *s);

/* "fn+0x1f (file.c:42)" or "fn+0x1f (libfoo.so)" into buf; returns buf.
 * pc is a return address: the call it names is at pc - 1. */
const char *coil__symbolize(coil__symbolizer *s, void *pc, char *buf,
                            size_t size);

#pragma GCC visibility pop

#endif
