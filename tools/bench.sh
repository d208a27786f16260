#!/usr/bin/env bash
# tools/bench.sh — build the release preset and run the benchmark: context
# switch vs Boost.Context / ucontext / threads, coroutine create+destroy,
# a million live coroutines, the scheduler vs Go, Python's asyncio and
# Boost.Fiber (Go from Debian's golang-go; python3 is whichever is on PATH;
# Boost.Fiber from libboost-fiber-dev), a TCP echo server, and work across
# threads and between tasks (call_soon_threadsafe, to_thread, lock, queue)
# vs pthreads and Go, and file reads on io_uring (liburing-dev) and the
# executor vs plain pread.  Writes build/bench.json as
# well; arguments are passed on (--only threads, --quick, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
coil_need cmake make gcc g++ libboost-context-dev libboost-fiber-dev golang-go libuv1-dev \
  liburing-dev
cmake --preset release >/dev/null
cmake --build --preset release --target coil_bench >/dev/null
exec build/release/bench/coil_bench --json build/bench.json "$@"
