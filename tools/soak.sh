#!/usr/bin/env bash
# tools/soak.sh — long runs that must leave no trace.  Not in the default
# test run; docs/testing.md has the last results.
#
#   ./tools/soak.sh [SECONDS] [CONNS]    echo server under CONNS connections
#                                        (default 600 s, 1,000 connections)
#   ./tools/soak.sh redis [SECONDS]      Redis master-worker (hiredis's sync
#                                        API in tasks, through the hooks),
#                                        redis-server restarted every 30 s
#
# The program under test has its RSS and fd count sampled every 10 s.
# After a warm-up (the first minute) neither may grow: the last third's
# peak RSS may exceed the first third's by 10% at most (allocator noise),
# its peak fds only by the connections being redialled at that moment.
# The echo client must see no failure; the Redis program must complete
# jobs in every 30 s window after the first (so every restart was
# survived).
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
mode=echo
if [ "${1:-}" = redis ]; then mode=redis; shift; fi
seconds=${1:-600} conns=${2:-1000}
if [ "$mode" = redis ]; then
  coil_need cmake make gcc pkg-config redis-server libhiredis-dev || exit 1
  targets="coil_soak_redis" slack=5
else
  coil_need cmake make gcc pkg-config libboost-context-dev || exit 1
  targets="coil_soak" slack=$((conns / 50 + 5))
fi
cmake --preset release >/dev/null &&
  cmake --build build/release -j2 --target $targets >/dev/null || exit 1
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ------------------------------------------------------------ echo
start_echo() {
  local bin=build/release/bench/coil_soak
  "$bin" server "$tmp/port" & server=$!; pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  [ -s "$tmp/port" ] || { echo "soak: the server did not start"; exit 1; }
  "$bin" client "$(cat "$tmp/port")" "$conns" "$seconds" >"$tmp/out" 2>&1 &
  driver=$!; pids+=($!)
  watched=$server
  echo "soak: $conns connections for $seconds s; server pid $server"
}

# ----------------------------------------------------------- redis
redis_port=
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$tmp" --logfile "$tmp/redis.log" >/dev/null 2>&1 &
  redis=$!; pids+=($!)
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
    kill -0 "$redis" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

start_redis_soak() {
  for _ in $(seq 20); do
    redis_port=$((20000 + RANDOM % 40000))
    start_redis && break
    redis_port=
  done
  [ -n "$redis_port" ] || { echo "soak: redis-server did not start"; exit 1; }
  build/release/bench/coil_soak_redis "$redis_port" "$seconds" >"$tmp/out" 2>&1 &
  driver=$!; pids+=($!)
  watched=$driver
  echo "soak: Redis master-worker for $seconds s, redis-server on port" \
       "$redis_port restarted every 30 s; worker pid $driver"
}

# Every 30 s: the server goes away under the workers and comes back.
restart_redis() {
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1
  wait "$redis" 2>/dev/null
  start_redis || { echo "soak: redis-server did not come back"; exit 1; }
}

# ------------------------------------------------------------ run
if [ "$mode" = redis ]; then start_redis_soak; else start_echo; fi
printf '%6s %10s %6s\n' "t (s)" "RSS (KiB)" "fds"
samples=()
t=0
while kill -0 "$driver" 2>/dev/null; do
  sleep 10; t=$((t + 10))
  kill -0 "$watched" 2>/dev/null || break
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$watched/status")
  fds=$(ls "/proc/$watched/fd" | wc -l)
  printf '%6d %10d %6d\n' "$t" "$rss" "$fds"
  samples+=("$t $rss $fds")
  if [ "$mode" = redis ] && [ $((t % 30)) -eq 0 ] && [ "$t" -lt "$seconds" ]; then
    restart_redis
  fi
done
wait "$driver"; dstatus=$?
cat "$tmp/out"
[ $dstatus -eq 0 ] || { echo "soak: the $mode run failed ($dstatus)"; exit 1; }
if [ "$mode" = echo ]; then
  kill -TERM "$server"; wait "$server"; sstatus=$?
  [ $sstatus -eq 0 ] || { echo "soak: the server exited with $sstatus"; exit 1; }
fi
# Growth is judged by the samples after the warm-up: the last third's
# peak against the first third's.
printf '%s\n' "${samples[@]}" | awk -v slack="$slack" '
  $1 > 60 { n++; rss[n] = $2; fds[n] = $3 }
  END {
    if (n < 3) { print "soak: too short to judge (needs > 90 s)"; exit 0 }
    k = int(n / 3)
    for (i = 1; i <= n; i++) {
      if (i <= k) { if (rss[i] > r1) r1 = rss[i]; if (fds[i] > f1) f1 = fds[i] }
      if (i > n - k) { if (rss[i] > r3) r3 = rss[i]; if (fds[i] > f3) f3 = fds[i] }
    }
    printf "after warm-up (%d samples): peak RSS %d -> %d KiB, peak fds %d -> %d\n",
           n, r1, r3, f1, f3
    bad = 0
    if (r3 > r1 * 1.10) { print "soak: RSS grew"; bad = 1 }
    if (f3 > f1 + slack) { print "soak: fds grew"; bad = 1 }
    if (!bad) print "soak: flat"
    exit bad
  }'
