#!/usr/bin/env bash
# tools/hook-bench.sh — build the release preset and run bench/hook_bench:
# the hook layer against coil's own calls and libc's, and hiredis's
# synchronous API in 100 tasks against its async API on libevent, with a
# redis-server started here on a free loopback port (stopped on exit).
# Writes build/hook_bench.json; arguments are passed on (--quick).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
coil_need cmake make gcc redis-server libhiredis-dev libevent-dev
cmake --preset release >/dev/null
cmake --build --preset release --target hook_bench >/dev/null
dir=$(mktemp -d) srv=
cleanup() {
  local rc=$?
  [ -n "$srv" ] && kill -KILL "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
  rm -rf "$dir"
  exit $rc
}
trap cleanup EXIT
for try in $(seq 20); do
  port=$((20000 + RANDOM % 40000))
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" --logfile "$dir/redis.log" >/dev/null 2>&1 &
  srv=$!
  for i in $(seq 200); do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break 2
    kill -0 "$srv" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; srv=
done
[ -n "$srv" ] || { echo "hook-bench: redis-server did not start"; exit 1; }
build/release/bench/hook_bench --json build/hook_bench.json --redis-port "$port" "$@"
