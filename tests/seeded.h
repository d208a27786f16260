/*
 * tests/seeded.h — what the randomized tests share: a seed that a failed
 * run prints and a later run takes back from the environment, and the
 * generator it starts (xorshift64*: small, fast, and good enough to pick
 * operations; the same seed makes the same choices on every machine).
 */
#ifndef COIL_TESTS_SEEDED_H
#define COIL_TESTS_SEEDED_H

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "coil.h"

/* The seed in the environment variable `name` (a replay), else a fresh
 * one from the clock and the pid. */
static inline uint64_t seeded_seed(const char *name)
{
    const char *env = getenv(name);
    if (env && *env)
        return strtoull(env, NULL, 0);
    return (uint64_t)coil_clock() ^ ((uint64_t)getpid() << 32);
}

/* The state of the i-th of several generators started from one seed:
 * apart from each other, and never 0 (where xorshift stays). */
static inline uint64_t seeded_state(uint64_t seed, uint64_t i)
{
    return (seed + i * 0x9E3779B97F4A7C15ULL) | 1;
}

/* The next number from the generator whose state is *s. */
static inline uint64_t seeded_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
