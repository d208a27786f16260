/* Seed: a periodic health check that reschedules itself with
 * loop.call_later(), and is stopped through its stored handle.  Here the
 * next check is due one unit after the previous one was due (call_at),
 * not one unit after it ran: a check that runs late on a busy machine
 * does not push every later one back, and the three checks due before
 * the stop at 3.5 units always run before it (due timers run in deadline
 * order). */
#include "example.h"

typedef struct checker {
    coil_handle *next;      /* the scheduled next check */
    coil_time due;          /* when it is due */
    int runs;
} checker;

static void health_check(void *arg)
{
    checker *c = arg;
    c->runs++;
    printf("health check %d at %.1f\n", c->runs, elapsed());
    coil_handle_release(c->next);
    c->due += unit();
    coil_call_at(NULL, c->due, health_check, c, &c->next);
}

static void *main_task(void *arg)
{
    (void)arg;
    checker c = {NULL, coil_loop_time(NULL) + unit(), 0};
    coil_call_at(NULL, c.due, health_check, &c, &c.next);
    coil_sleep(3 * unit() + unit() / 2);
    printf("stopping: cancel -> %d\n", coil_handle_cancel(c.next));
    coil_handle_release(c.next);
    coil_sleep(2 * unit());               /* no more checks */
    printf("checks run: %d\n", c.runs);
    return NULL;
}

int main(void)
{
    return run_timed(main_task) == 0 ? 0 : 1;
}
