#!/usr/bin/env bash
# examples/14_downloader against a real, deliberately slow HTTP server on
# 127.0.0.1 (tests/slow_http_server.py: every response waits DELAY s).
#   coil mode:     4 downloads overlap, so the total is about one DELAY;
#   blocking mode: the same 4 run one after another: about 4 x DELAY;
#   a timeout:     a 5th URL the server holds for 5 s misses its 1.5 s
#                  deadline and says so, while the other 4 complete.
# Every completed download must carry its file's exact size.
# Arguments: the downloader, the server script.  Needs python3.
set -u
dl=$1 server=$2
DELAY=0.3 N=4
sizes=(1000 65536 262144 1048576)

fail() {
  echo "downloader_test: $1"
  [ -n "${out:-}" ] && { echo "---- output:"; echo "$out"; }
  echo "0 passed, 1 failed"
  exit 1
}
command -v python3 >/dev/null ||
  fail "python3 not found: it runs the test's HTTP server (tools/test-all.sh installs it)"

dir=$(mktemp -d)
srv=
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/www"
for s in "${sizes[@]}"; do head -c "$s" /dev/urandom >"$dir/www/f$s.bin"; done

python3 "$server" "$dir/www" "$DELAY" 5 >"$dir/port" 2>"$dir/server.err" &
srv=$!
port=
for _ in $(seq 500); do
  port=$(head -n 1 "$dir/port" 2>/dev/null)
  [ -n "$port" ] && break
  kill -0 "$srv" 2>/dev/null || break
  sleep 0.02
done
[[ $port =~ ^[0-9]+$ ]] || fail "server did not start: $(cat "$dir/server.err")"
urls=()
for s in "${sizes[@]}"; do urls+=("http://127.0.0.1:$port/f$s.bin"); done

# Every file arrived whole, and the summary says how many did.
check_bytes() {
  local want=$1 s
  for s in "${sizes[@]}"; do
    grep -qE "^\[ *[0-9.]+\] completed f$s\.bin: $s bytes in " <<<"$out" ||
      fail "f$s.bin: no 'completed ... $s bytes' line"
    grep -qxF "result: saved f$s.bin ($s bytes)" <<<"$out" ||
      fail "f$s.bin: no 'result: saved' line with $s bytes"
  done
  grep -qE "^total: $want downloads completed" <<<"$out" ||
    fail "want 'total: $want downloads completed'"
  grep -qxF "coil_run: 0 (ok)" <<<"$out" || fail "coil_run did not return 0"
}
total_of() { sed -nE 's/^total: .* in ([0-9.]+) s .*/\1/p' <<<"$out"; }
# within V LO HI: LO <= V < HI
. "$(dirname "$0")/within.sh"   # within V LO HI, widened under load

out=$(timeout 60 "$dl" -t 10000 "${urls[@]}" 2>&1) || fail "coil mode: exit status $?"
check_bytes "$N of $N"
t=$(total_of)
hi=$(awk -v d=$DELAY 'BEGIN { print 2 * d }')
within "$t" "$DELAY" "$hi" || fail "coil mode took $t s: want about one delay, [$DELAY, $hi)"
echo "  coil:     $N downloads in $t s (want [$DELAY, $hi))"

out=$(timeout 60 "$dl" blocking -t 10000 "${urls[@]}" 2>&1) || fail "blocking mode: exit status $?"
check_bytes "$N of $N"
t=$(total_of)
lo=$(awk -v d=$DELAY -v n=$N 'BEGIN { print 0.8 * n * d }')
within "$t" "$lo" 30 || fail "blocking mode took $t s: want about the sum, >= $lo"
echo "  blocking: $N downloads in $t s (want >= $lo)"

out=$(timeout 60 "$dl" -t 1500 "${urls[@]}" "http://127.0.0.1:$port/slow/f1000.bin" 2>&1) ||
  fail "timeout case: exit status $?"
check_bytes "$N of $((N + 1))"
grep -qE "^\[ *[0-9.]+\] timeout for slow/f1000\.bin after 1\.[0-9]+ s" <<<"$out" ||
  fail "no 'timeout for slow/f1000.bin after 1.x s' line"
grep -qE "^result: timeout slow/f1000\.bin " <<<"$out" || fail "no 'result: timeout' line"
# The others finished long before the slow one gave up: nobody waited on it.
late=$(sed -nE 's/^\[ *([0-9.]+)\] completed .*/\1/p' <<<"$out" |
       awk '$1 >= 1.4' | head -n 1)
[ -z "$late" ] || fail "a download completed at $late s: it waited for the slow one"
t=$(total_of)
within "$t" 1.5 4 || fail "timeout case took $t s: want about the 1.5 s deadline"
echo "  timeout:  slow/f1000.bin timed out, the $N others completed; $t s in all"
echo "1 passed, 0 failed"
