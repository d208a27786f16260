/*
 * tests/thread_state.h — what the kernel says a thread of this process is
 * doing, for tests that must wait until another thread is really asleep
 * (in a stdio call, or napping for a lock) before they go on.
 */
#ifndef COIL_TESTS_THREAD_STATE_H
#define COIL_TESTS_THREAD_STATE_H

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "check.h"

static inline pid_t thread_id(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Is thread tid of this process asleep in the kernel ('S' in its stat)? */
static inline int thread_asleep(pid_t tid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    char *end = strrchr(line, ')');       /* the name may hold spaces */
    CHECK(end && end[1] == ' ');
    return end[2] == 'S';
}

#endif
