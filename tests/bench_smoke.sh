#!/usr/bin/env bash
# Run coil_bench --quick (arguments: the command, emulator first if any) and
# check the JSON holds a row for every bench and implementation it must.
# The go and python_asyncio rows are not required: they are skipped where
# those runtimes are missing, and in a cross build.
set -eu
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$@" --quick --json "$json" >/dev/null
for row in '"bench": "switch", "impl": "coil"' '"bench": "switch", "impl": "coil_nofp"' \
           '"bench": "switch", "impl": "ucontext"' '"bench": "switch", "impl": "pthread"' \
           '"bench": "create_destroy_pooled"' '"bench": "create_destroy_fresh"' \
           '"rss_bytes_per_coroutine"' \
           '"bench": "yield_2", "impl": "coil"' '"bench": "yield_1000", "impl": "coil"' \
           '"bench": "spawn_await", "impl": "coil"' '"bench": "sleep_1ms", "impl": "coil"' \
           '"p99_overshoot_ns"' '"bench": "sleep_1ms", "impl": "nanosleep_floor"'; do
  grep -q "$row" "$json" || { echo "bench_smoke: no $row in:"; cat "$json"; exit 1; }
done
# The threads rows, coil's and pthread's, must all have been measured (a
# failed one has "median_ns": null), under an emulator too.
for bench in threadsafe_rtt threadsafe_1 threadsafe_4 to_thread lock_handoff \
             queue_64; do
  for impl in coil pthread; do
    row="\"bench\": \"$bench\", \"impl\": \"$impl\", \"median_ns\": [0-9]"
    grep -q "$row" "$json" || { echo "bench_smoke: no measured $impl $bench row in:"; cat "$json"; exit 1; }
  done
done
# The toolbox rows (issue 21): each bench's coil row and its reference.
for row in 'read_line", "impl": "coil' 'read_line", "impl": "memchr' \
           'line_echo", "impl": "stream' 'line_echo", "impl": "bytes' \
           'select_4", "impl": "coil' 'select_4", "impl": "get_1'; do
  grep -q "\"bench\": \"$row\", \"median_ns\": [0-9]" "$json" ||
    { echo "bench_smoke: no measured $row row in:"; cat "$json"; exit 1; }
done
grep -q '"bench": "spawn_threadsafe_rtt", "impl": "coil", "median_ns": [0-9]' "$json" ||
  { echo "bench_smoke: no measured coil spawn_threadsafe_rtt row in:"; cat "$json"; exit 1; }
# The echo bench is skipped in a cross build (the command has an emulator
# in front, so more than one argument); natively coil's row must be there.
if [ $# -eq 1 ]; then
  # Boost.Fiber's yield and spawn rows, where its program was built (issue 18).
  if [ -x "$(dirname "$1")/fiber_sched" ]; then
    for bench in yield_2 yield_1000 spawn_await; do
      grep -q "\"bench\": \"$bench\", \"impl\": \"boost_fiber\", \"median_ns\": [0-9]" "$json" ||
        { echo "bench_smoke: no measured boost_fiber $bench row in:"; cat "$json"; exit 1; }
    done
  fi
  # The file rows (issue 18): plain reads and coil's on both backends.
  for row in 'file_pread", "impl": "pread' 'file_pread", "impl": "coil_executor' \
             'file_pread_64", "impl": "threads_4' 'file_pread_64", "impl": "coil_executor'; do
    grep -q "\"bench\": \"$row\", \"median_ns\": [0-9]" "$json" ||
      { echo "bench_smoke: no measured $row row in:"; cat "$json"; exit 1; }
  done
  # ...with the CPU time a read took, which the plain rows always have.
  grep -q '"bench": "file_pread_64", "impl": "threads_4", "median_ns": [0-9.]*, "min_ns": [0-9.]*, "cpu_ns_per_read": [0-9]' "$json" ||
    { echo "bench_smoke: no CPU per read in the threads_4 file_pread_64 row:"; cat "$json"; exit 1; }
  # io_uring's rows where this process can have a ring (the backend row
  # says so when it cannot: the failure is then the kernel's, not coil's).
  if grep -q '"bench": "file_pread", "impl": "coil_uring", "median_ns": null' "$json"; then
    grep -q '"bench": "file_pread", "impl": "coil_uring".*io_uring unavailable' "$json" ||
      { echo "bench_smoke: coil_uring file_pread failed:"; cat "$json"; exit 1; }
  fi
  grep -q '"bench": "echo_50", "impl": "coil", "median_ns": [0-9]' "$json" ||
    { echo "bench_smoke: no measured coil echo_50 row in:"; cat "$json"; exit 1; }
  # Each server's CPU per round trip and the generator's share (issue 18).
  grep -q '"bench": "echo_50", "impl": "coil", .*"server_cpu_ns_per_rt": [0-9].*"generator_share": [0-9]' "$json" ||
    { echo "bench_smoke: no server CPU / generator share in coil's echo_50 row:"; cat "$json"; exit 1; }
  # --echo-alt adds a second coil server (here the same build: an A/A).
  "$1" --only echo --quick --echo-alt "$1" --json "$json" >/dev/null
  grep -q '"bench": "echo_1000", "impl": "coil_alt", "median_ns": [0-9]' "$json" ||
    { echo "bench_smoke: no measured coil_alt echo_1000 row in:"; cat "$json"; exit 1; }
fi
echo "1 passed, 0 failed"
