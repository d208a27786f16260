#!/usr/bin/env python3
"""bench/sched.py - asyncio's side of coil_bench's scheduler benches.

    sched.py yield TASKS COUNT   TASKS tasks share COUNT `await sleep(0)`s
    sched.py spawn COUNT         COUNT x `await create_task(trivial())`
    sched.py fanout WIDTH COUNT  COUNT tasks, WIDTH at a time, gathered
    sched.py sleep COUNT         COUNT x `await sleep(0.001)`, overshoots
    sched.py version             the interpreter's version and path
    sched.py                     all of them once, at coil_bench's counts

Each measurement runs once after a warm-up of a tenth of it and prints one
JSON line; coil_bench runs this once per repetition and reads the line.
The measurements mirror bench_sched.c (coil) and sched.go (Go) step for
step, so that the three can be compared row by row.
"""
import asyncio
import json
import platform
import sys
import time

IMPL = "python_asyncio"


def emit(**fields):
    print(json.dumps(dict(impl=IMPL, **fields)), flush=True)


def percentile(sorted_values, p):
    # Nearest rank, in integers, exactly as coil_bench.c and sched.go.
    rank = (p * len(sorted_values) + 99) // 100
    return sorted_values[max(rank, 1) - 1]


async def yield_run(ntasks, per_task):
    # The clock starts when the first task is past its first yield: by then
    # every task has started (the ready queue is FIFO), so task creation is
    # left out, and stops when the last task has done its last yield.
    span = {"t0": 0, "t1": 0}

    async def worker():
        await asyncio.sleep(0)
        if not span["t0"]:
            span["t0"] = time.monotonic_ns()
        for _ in range(per_task):
            await asyncio.sleep(0)
        span["t1"] = time.monotonic_ns()

    tasks = [asyncio.create_task(worker()) for _ in range(ntasks)]
    for t in tasks:
        await t
    return span["t1"] - span["t0"]


async def trivial(x):
    return x


async def spawn_run(count):
    t0 = time.monotonic_ns()
    for i in range(count):
        if await asyncio.create_task(trivial(i)) != i:
            raise RuntimeError("task returned the wrong result")
    return time.monotonic_ns() - t0


async def fanout_run(width, rounds):
    t0 = time.monotonic_ns()
    for _ in range(rounds):
        tasks = [asyncio.create_task(trivial(i)) for i in range(width)]
        if await asyncio.gather(*tasks) != list(range(width)):
            raise RuntimeError("a task returned the wrong result")
    return time.monotonic_ns() - t0


async def sleep_run(count):
    over = []
    for _ in range(count):
        t0 = time.monotonic_ns()
        await asyncio.sleep(0.001)
        over.append(time.monotonic_ns() - t0 - 1_000_000)
    return over


async def bench_yield(ntasks, count):
    per_task = max(count // ntasks, 1)
    await yield_run(ntasks, max(per_task // 10, 1))
    ns = await yield_run(ntasks, per_task)
    emit(bench=f"yield_{ntasks}", count=ntasks * per_task, elapsed_ns=ns)


async def bench_spawn(count):
    await spawn_run(max(count // 10, 1))
    emit(bench="spawn_await", count=count, elapsed_ns=await spawn_run(count))


async def bench_fanout(width, count):
    rounds = max(count // width, 1)
    await fanout_run(width, max(rounds // 10, 1))
    emit(bench=f"spawn_fanout_{width}", count=rounds * width,
         elapsed_ns=await fanout_run(width, rounds))


async def bench_sleep(count):
    # Every overshoot, for coil_bench to pool with other runs' (and to
    # take percentiles of the same way for every runtime); ours for people.
    await sleep_run(max(count // 10, 1))
    over = await sleep_run(count)
    s = sorted(over)
    emit(bench="sleep_1ms", count=count, overshoot_ns=over,
         min_overshoot_ns=s[0], p50_overshoot_ns=percentile(s, 50),
         p99_overshoot_ns=percentile(s, 99))


def parse(argv):
    """The coroutine that argv asks for, or None if argv makes no sense."""
    try:
        what, counts = argv[0], [int(a) for a in argv[1:]]
    except (IndexError, ValueError):
        return None
    if min(counts, default=0) < 1:
        return None
    if what == "yield" and len(counts) == 2:
        return bench_yield(*counts)
    if what == "spawn" and len(counts) == 1:
        return bench_spawn(*counts)
    if what == "fanout" and len(counts) == 2:
        return bench_fanout(*counts)
    if what == "sleep" and len(counts) == 1:
        return bench_sleep(*counts)
    return None


def main(argv):
    if not argv:
        for ntasks in (2, 1000):
            asyncio.run(bench_yield(ntasks, 100_000))
        asyncio.run(bench_spawn(20_000))
        asyncio.run(bench_fanout(1000, 20_000))
        asyncio.run(bench_sleep(500))
        return 0
    if argv == ["version"]:
        emit(version=platform.python_version(), executable=sys.executable)
        return 0
    coro = parse(argv)
    if coro is None:
        print("usage:\n" + __doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    asyncio.run(coro)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
