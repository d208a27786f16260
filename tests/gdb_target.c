/*
 * tests/gdb_target.c — a coroutine three calls deep, for gdb_backtrace.sh.
 * Built -O0 -g; the noinline functions are where the debugger must see.
 */
#include <stdio.h>

#include "coil.h"

static volatile int sink;

__attribute__((noinline)) static void level3(int x)
{
    sink = x;                            /* the breakpoint */
}

__attribute__((noinline)) static void level2(int x)
{
    level3(x + 1);
    sink++;
}

__attribute__((noinline)) static void level1(int x)
{
    level2(x + 1);
    sink++;
}

static void *coroutine_body(void *arg)
{
    level1((int)(long)arg);
    return NULL;
}

int main(void)
{
    coil_coro_attr attr = {.name = "gdb-coro"};
    coil_coro *co = coil_coro_create(&attr, coroutine_body, (void *)1L);
    if (!co || coil_coro_resume(co, NULL, NULL) != 0)
        return 1;
    coil_coro_destroy(co);
    printf("sink=%d\n", sink);
    return 0;
}
