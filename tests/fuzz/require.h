/*
 * tests/fuzz/require.h — the fuzz targets' check: a failed condition
 * prints file:line, the condition and errno, and aborts, which libFuzzer
 * reports as a crash and keeps the input of (check.h's framework forks
 * and counts tests, which a fuzz target must not).
 */
#ifndef COIL_TESTS_FUZZ_REQUIRE_H
#define COIL_TESTS_FUZZ_REQUIRE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond)                                                       \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: %s (errno %d: %s)\n", __FILE__,        \
                    __LINE__, #cond, errno, strerror(errno));               \
            abort();                                                        \
        }                                                                   \
    } while (0)

#endif
