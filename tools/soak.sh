#!/usr/bin/env bash
# tools/soak.sh — a long run that must leave no trace: an echo server
# under CONNS connections (default 1,000) for SECONDS (default 600), its
# RSS and fd count sampled every 10 s.  After a warm-up (the first
# minute), neither may grow: RSS by more than 10% over the post-warm-up
# minimum (allocator noise), fds by any.  Not in the default test run;
# docs/testing.md has the last result.
#   ./tools/soak.sh [SECONDS] [CONNS]
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
coil_need cmake make gcc pkg-config libboost-context-dev || exit 1
seconds=${1:-600} conns=${2:-1000}
cmake --preset release >/dev/null && cmake --build build/release -j2 --target coil_soak >/dev/null || exit 1
bin=build/release/bench/coil_soak
tmp=$(mktemp -d)
server=
client=
cleanup() {
  [ -n "$client" ] && kill "$client" 2>/dev/null
  [ -n "$server" ] && kill "$server" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$bin" server "$tmp/port" & server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "soak: the server did not start"; exit 1; }
"$bin" client "$(cat "$tmp/port")" "$conns" "$seconds" >"$tmp/client.out" 2>&1 & client=$!
echo "soak: $conns connections for $seconds s; server pid $server"
printf '%6s %10s %6s\n' "t (s)" "RSS (KiB)" "fds"
samples=()
t=0
while kill -0 "$client" 2>/dev/null; do
  sleep 10; t=$((t + 10))
  kill -0 "$server" 2>/dev/null || { echo "soak: the server died"; exit 1; }
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server/status")
  fds=$(ls "/proc/$server/fd" | wc -l)
  printf '%6d %10d %6d\n' "$t" "$rss" "$fds"
  samples+=("$t $rss $fds")
done
wait "$client"; cstatus=$?
client=
cat "$tmp/client.out"
kill -TERM "$server"; wait "$server"; sstatus=$?
server=
[ $cstatus -eq 0 ] || { echo "soak: the client saw failures"; exit 1; }
[ $sstatus -eq 0 ] || { echo "soak: the server exited with $sstatus"; exit 1; }
# Growth is judged by the samples after the warm-up: the last third's
# peak against the first third's.  RSS may wander 10% (allocator noise);
# fds only by the connections being redialled at the moment of a sample.
printf '%s\n' "${samples[@]}" | awk -v conns="$conns" '
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
    if (f3 > f1 + conns / 50 + 5) { print "soak: fds grew"; bad = 1 }
    if (!bad) print "soak: flat"
    exit bad
  }'
