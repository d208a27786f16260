/*
 * tests/loop_thread.h — a loop running forever in a thread of its own, for
 * the suites that submit to a loop from other threads (thread_test.c,
 * spin_test.c).  bg_start() returns once the loop exists (published
 * through a semaphore: no sleep stands in for synchronisation); bg_stop()
 * stops and joins it and checks that its run ended without an error.
 */
#ifndef COIL_TEST_LOOP_THREAD_H
#define COIL_TEST_LOOP_THREAD_H

#include <pthread.h>
#include <semaphore.h>

#include "check.h"
#include "coil.h"

typedef struct bg {
    pthread_t thread;
    coil_loop *loop;
    sem_t ready;
    int run_result;
} bg;

static void *bg_main(void *arg)
{
    bg *b = arg;
    b->loop = coil_loop_new();
    CHECK(b->loop != NULL);
    sem_post(&b->ready);
    b->run_result = coil_loop_run_forever(b->loop);
    CHECK(coil_loop_close(b->loop) == 0);
    return NULL;
}

__attribute__((unused)) static void bg_start(bg *b)
{
    sem_init(&b->ready, 0, 0);
    CHECK(pthread_create(&b->thread, NULL, bg_main, b) == 0);
    while (sem_wait(&b->ready) != 0)
        ;
}

__attribute__((unused)) static void bg_stop(bg *b)
{
    CHECK(coil_loop_stop(b->loop) == 0);
    CHECK(pthread_join(b->thread, NULL) == 0);
    CHECK(b->run_result == 0);
    sem_destroy(&b->ready);
}

#endif
