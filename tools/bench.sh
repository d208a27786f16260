#!/usr/bin/env bash
# tools/bench.sh — build the release preset and run the benchmark: context
# switch vs Boost.Context / ucontext / threads, coroutine create+destroy,
# and a million live coroutines.  Writes build/bench.json as well.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
coil_need cmake make gcc libboost-context-dev
cmake --preset release >/dev/null
cmake --build --preset release --target coil_bench >/dev/null
exec build/release/bench/coil_bench --json build/bench.json "$@"
