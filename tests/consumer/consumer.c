/* The smallest real use of an installed coil: a generator. */
#include <coil.h>
#include <stdio.h>

static void *squares(void *arg)
{
    for (long i = 1; i <= (long)arg; i++)
        coil_coro_yield((void *)(i * i), NULL);
    return NULL;
}

int main(void)
{
    coil_coro *co = coil_coro_create(NULL, squares, (void *)4L);
    long sum = 0;
    void *v;
    while (coil_coro_resume(co, NULL, &v) == 0 &&
           coil_coro_state(co) != COIL_CORO_DEAD)
        sum += (long)v;
    coil_coro_destroy(co);
    printf("sum=%ld\n", sum);
    return sum == 1 + 4 + 9 + 16 ? 0 : 1;
}
