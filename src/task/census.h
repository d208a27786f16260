/*
 * src/task/census.h — debug mode's stack census (internal to src/task/).
 */
#ifndef COIL_CENSUS_H
#define COIL_CENSUS_H

#include <stdio.h>

#include "core/stack.h"

#pragma GCC visibility push(hidden)

/* A debug-mode task running fn ended on st: count how deep it went and
 * give the pages back, so that the next task on this stack is measured
 * from nothing.  Warns once per function that came within 10% of its
 * stack. */
void coil__census_record(const char *fn, const coil__stack *st);

/* "coil: stack census: handler: 9.1 KiB of 64 KiB deepest in 12,000
 * tasks", a line per task function measured so far, to out. */
void coil__census_print(FILE *out);

#pragma GCC visibility pop

#endif
