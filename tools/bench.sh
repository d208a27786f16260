#!/usr/bin/env bash
# tools/bench.sh — build the release preset and run the benchmark: context
# switch vs Boost.Context / ucontext / threads, coroutine create+destroy,
# a million live coroutines, and the scheduler vs Go and Python's asyncio
# (Go from Debian's golang-go; python3 is whichever is on PATH).  Writes
# build/bench.json as well.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
coil_need cmake make gcc libboost-context-dev golang-go
cmake --preset release >/dev/null
cmake --build --preset release --target coil_bench >/dev/null
exec build/release/bench/coil_bench --json build/bench.json "$@"
