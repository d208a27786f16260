/*
 * src/core/libc.c — the flag that marks coil's own libc calls (libc.h).
 */
#include "core/libc.h"

__thread unsigned coil__hook_off;
