/*
 * tests/hook_tty_test.c — a task's read of a terminal waits in the loop,
 * and the terminal's mode is never touched (its open file is usually the
 * shell's too).  The terminal is a pseudo-terminal the test opens; what
 * is typed at it comes from another task of the same loop, so a read
 * that slept in the kernel would hang the test until its watchdog.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "hook_helpers.h"
#include "task_helpers.h"

#define TICK COIL_MSEC(5)

typedef struct terminal {
    int master;         /* where the test types */
    int slave;          /* what the program reads, a tty */
} terminal;

static terminal open_terminal(void)
{
    terminal t;
    t.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(t.master >= 0);
    CHECK(grantpt(t.master) == 0 && unlockpt(t.master) == 0);
    const char *name = ptsname(t.master);
    CHECK(name != NULL);
    t.slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(t.slave >= 0 && isatty(t.slave));
    return t;
}

static void close_terminal(terminal t)
{
    CHECK(close(t.slave) == 0 && close(t.master) == 0);
}

typedef struct typist {
    int fd;
    int ticks;          /* to wait before typing */
    const char *line;
    long *counter;      /* counted up every tick meanwhile */
} typist;

static void *type_late(void *arg)
{
    typist *ty = arg;
    for (int i = 0; i < ty->ticks; i++) {
        coil_sleep(TICK);
        (*ty->counter)++;
    }
    size_t n = strlen(ty->line);
    CHECK(write(ty->fd, ty->line, n) == (ssize_t)n);
    return NULL;
}

/* A line typed late: read returns it (canonical mode: the whole line),
 * the typist's task ran meanwhile, the terminal stays blocking. */
static void *late_line_main(void *arg)
{
    (void)arg;
    terminal t = open_terminal();
    long ticks = 0;
    typist ty = {t.master, 4, "hello\n", &ticks};
    coil_task *w = coil_spawn(type_late, &ty);
    char buf[32];
    CHECK(read(t.slave, buf, sizeof buf) == 6);
    CHECK(memcmp(buf, "hello\n", 6) == 0);
    CHECK(ticks == 4);
    await_task(w);
    CHECK(!(kernel_flags(t.slave) & O_NONBLOCK));
    close_terminal(t);
    return NULL;
}

TEST(a_read_of_a_terminal_waits_in_the_loop_for_its_line)
{
    watchdog();
    run_main(late_line_main, NULL);
}

static void *read_forever(void *arg)
{
    char buf[8];
    read(*(int *)arg, buf, sizeof buf);
    CHECK(!"the read returned: nothing was typed");
    return NULL;
}

/* A task waiting for a terminal that is never typed at is cancelled: it
 * unwinds out of the read, and the loop goes on. */
static void *cancel_main(void *arg)
{
    (void)arg;
    terminal t = open_terminal();
    coil_task *r = coil_spawn(read_forever, &t.slave);
    for (int i = 0; i < 3; i++)
        CHECK(coil_yield() == 0);
    CHECK(!task_ended(r));
    CHECK(coil_task_cancel(r) == 1);
    CHECK(ticks_until_ended(r, TICK) <= 2);
    CHECK(coil_future_state(coil_task_future(r)) == COIL_CANCELLED);
    coil_task_release(r);
    close_terminal(t);
    return NULL;
}

TEST(a_task_cancelled_in_a_terminal_read_unwinds)
{
    watchdog();
    run_main(cancel_main, NULL);
}

RUN_TESTS(T(a_read_of_a_terminal_waits_in_the_loop_for_its_line),
          T(a_task_cancelled_in_a_terminal_read_unwinds))
