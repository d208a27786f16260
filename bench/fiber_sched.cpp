// bench/fiber_sched.cpp — Boost.Fiber's side of coil_bench's scheduler
// benches, the C++ peer issue 18 names beside Go:
//
//	fiber_sched yield TASKS COUNT   TASKS fibers share COUNT this_fiber::yield()s
//	fiber_sched spawn COUNT         COUNT x (launch a fiber; join it)
//	fiber_sched version             the Boost version it was built with
//
// One thread and Boost.Fiber's default round-robin scheduler, each fiber
// on a 64 KiB fixed-size stack (the settings coil's rows use: one thread,
// a 64 KiB stack a task).  Each measurement runs once after a warm-up of
// a tenth of it and prints one JSON line, as bench/sched.go does: the
// count it did and the time it took.  The measurements mirror
// bench_sched.c: a yield is timed from the first fiber past its first
// yield to the last one done (creation left out); a spawn is creating a
// fiber that returns at once, running it and joining it.
#include <boost/fiber/all.hpp>
#include <boost/version.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t stack_size = 64 * 1024;

long long ns_between(clock_type::time_point a, clock_type::time_point b)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

void emit(const char *bench, long tasks, long count, long long elapsed)
{
    std::printf("{\"impl\":\"boost_fiber\",\"bench\":\"%s\",\"tasks\":%ld,"
                "\"count\":%ld,\"elapsed_ns\":%lld}\n",
                bench, tasks, count, elapsed);
}

boost::fibers::fiber launch(std::function<void()> fn)
{
    return boost::fibers::fiber(std::allocator_arg,
                                boost::fibers::fixedsize_stack(stack_size),
                                std::move(fn));
}

long long yield_run(long tasks, long per_task)
{
    std::vector<clock_type::time_point> starts(tasks), ends(tasks);
    std::vector<boost::fibers::fiber> fibers;
    fibers.reserve(tasks);
    for (long i = 0; i < tasks; i++)
        fibers.push_back(launch([&, i] {
            boost::this_fiber::yield();
            starts[i] = clock_type::now();
            for (long j = 0; j < per_task; j++)
                boost::this_fiber::yield();
            ends[i] = clock_type::now();
        }));
    for (auto &f : fibers)
        f.join();
    auto t0 = starts[0], t1 = ends[0];
    for (long i = 1; i < tasks; i++) {
        if (starts[i] < t0)
            t0 = starts[i];
        if (ends[i] > t1)
            t1 = ends[i];
    }
    return ns_between(t0, t1);
}

void bench_yield(long tasks, long count)
{
    long per_task = count / tasks;
    yield_run(tasks, per_task / 10 ? per_task / 10 : 1);    // warm-up
    emit("yield", tasks, per_task * tasks, yield_run(tasks, per_task));
}

long long spawn_run(long count)
{
    long ran = 0;
    auto t0 = clock_type::now();
    for (long i = 0; i < count; i++)
        launch([&ran] { ran++; }).join();
    auto t1 = clock_type::now();
    if (ran != count) {
        std::fprintf(stderr, "fiber_sched: %ld of %ld fibers ran\n", ran,
                     count);
        std::exit(1);
    }
    return ns_between(t0, t1);
}

void bench_spawn(long count)
{
    spawn_run(count / 10 ? count / 10 : 1);                  // warm-up
    emit("spawn", 0, count, spawn_run(count));
}

[[noreturn]] void usage()
{
    std::fprintf(stderr, "usage: fiber_sched yield TASKS COUNT | "
                         "spawn COUNT | version\n");
    std::exit(2);
}

long positive(const char *s)
{
    char *end;
    long n = std::strtol(s, &end, 10);
    if (*end || n < 1)
        usage();
    return n;
}

}  // namespace

int main(int argc, char **argv)
{
    std::string what = argc > 1 ? argv[1] : "";
    if (what == "version" && argc == 2) {
        std::printf("{\"impl\":\"boost_fiber\",\"version\":\"%d.%d.%d\"}\n",
                    BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                    BOOST_VERSION % 100);
    } else if (what == "yield" && argc == 4) {
        bench_yield(positive(argv[2]), positive(argv[3]));
    } else if (what == "spawn" && argc == 3) {
        bench_spawn(positive(argv[2]));
    } else {
        usage();
    }
    return 0;
}
