#!/usr/bin/env bash
# tools/fuzz.sh [seconds] — build the fuzzers (tests/fuzz/api_fuzz.c, the
# task-level API; tests/fuzz/stream_fuzz.c, streams against a model) with
# clang, libFuzzer, ASan and UBSan in build/fuzz, run each over its seed
# corpus once, then fuzz each for `seconds` (default 60).  New inputs go
# to build/fuzz/<name>-corpus, never into the source tree; a crash, a
# failed check or a time-out leaves its input as
# build/fuzz/<name>-crash-* (or -timeout-*), and the script exits
# non-zero.  Replay one: build/fuzz/tests/fuzz/<name> FILE
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
coil_need clang cmake make || exit 1

seconds=${1:-60}
build=build/fuzz
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCOIL_FUZZ=ON -DCOIL_SANITIZE=address,undefined \
      -DCOIL_BUILD_TESTS=OFF -DCOIL_BUILD_EXAMPLES=OFF \
      -DCOIL_BUILD_BENCH=OFF >/dev/null || exit 1
cmake --build "$build" -j2 --target api_fuzz stream_fuzz >/dev/null || exit 1
# The corpora once each (their CTest file is in the fuzz directory: the
# top level has none in this build).
(cd "$build/tests/fuzz" && ctest --output-on-failure) || exit 1

# fuzz NAME SEEDS: run one target for `seconds`.
# -timeout: one input runs in tens of milliseconds; 10 s is a hang.
# detect_leaks stays on: a leak is a finding.
# libFuzzer prints a line per new input (a thousand in a minute): they go
# to $build/NAME.log, and the terminal gets the final statistics, or the
# last 60 lines when the run found something.
fuzz() {
  local name=$1 seeds=$2 log=$build/$1.log status
  mkdir -p "$build/$name-corpus"
  "$build/tests/fuzz/$name" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/$name-" "$build/$name-corpus" "$seeds" \
      >"$log" 2>&1
  status=$?
  if [ $status -eq 0 ]; then
    echo "$name:"
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log"
  else
    tail -n 60 "$log"
    echo "fuzz: $name exited with $status (whole output: $log)"
  fi
  return $status
}
fuzz api_fuzz tests/fuzz/corpus; a=$?
fuzz stream_fuzz tests/fuzz/stream_corpus; b=$?
[ $a -eq 0 ] && [ $b -eq 0 ]
