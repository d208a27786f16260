#!/usr/bin/env bash
# examples/16_redis_master_worker against a real redis-server, started here
# on a free port bound to 127.0.0.1 (no persistence), with a 100 ms unit:
#   a) jobs 5, 1, 1 with two workers end in about 5 units, every result
#      recorded in coil:results and nothing left on the other lists;
#   b) SIGINT while both workers hold a 50-unit job: the program stops at
#      once, both jobs are back on coil:jobs, the processing lists are
#      empty, and jobs + results are exactly the jobs pushed;
#   c) Redis killed (SIGKILL) mid-run: a worker reports the lost
#      connection, and the program exits by itself with status 1 — no
#      crash, no hang.
# Argument: the example.  Needs redis-server and redis-cli (Debian
# redis-server; tools/test-all.sh installs it): without them, SKIP (77).
set -u
ex=$1
export COIL_UNIT_MS=100

for p in redis-server redis-cli; do
  if ! command -v $p >/dev/null; then
    echo "SKIP: $p not found (Debian package redis-server; tools/deps.sh)"
    exit 77
  fi
done

dir=$(mktemp -d)
srv= pid= port= out=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$srv" ] && kill -KILL "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "redis_test: $1"
  [ -n "$out" ] && { echo "---- output:"; echo "$out"; }
  [ -f "$dir/redis.log" ] && { echo "---- redis log (tail):"; tail -n 5 "$dir/redis.log"; }
  echo "0 passed, 1 failed"
  exit 1
}
cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }

# A random port until one works: a port taken meanwhile makes redis-server
# exit at once, and the next try picks another.
start_redis() {
  local try i
  for try in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
                 --dir "$dir" --logfile "$dir/redis.log" >/dev/null 2>&1 &
    srv=$!
    for i in $(seq 200); do          # up to 10 s for it to answer
      [ "$(cli ping 2>/dev/null)" = PONG ] && return 0
      kill -0 "$srv" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=
  done
  fail "redis-server did not start"
}

# Run the example in the background, output to $dir/out.
launch() {
  out=
  "$ex" -h 127.0.0.1 -p "$port" "$@" >"$dir/out" 2>&1 &
  pid=$!
}
# Wait (at most 30 s) for an output line matching REGEX.
wait_line() {
  local i
  for i in $(seq 3000); do
    grep -qE "$1" "$dir/out" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  grep -qE "$1" "$dir/out" && return 0
  out=$(cat "$dir/out"); fail "no line matching '$1'"
}
# Wait (at most $1 s) for the example to exit; its status in $status.
wait_exit() {
  local i
  for i in $(seq $(($1 * 20))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
    out=$(cat "$dir/out"); fail "still running after $1 s: hung"
  fi
  wait "$pid"; status=$?; pid=
  out=$(cat "$dir/out")
  ! grep -qE "Sanitizer|runtime error|destroyed but it is pending|never retrieved" \
    <<<"$out" || fail "sanitizer or coil debug report"
}
# The sorted elements of list $1, one line each.
list() { cli lrange "$1" 0 -1 | sort; }
# within V LO HI: LO <= V < HI
. "$(dirname "$0")/within.sh"   # within V LO HI, widened under load
# The job ids ("1:5") that coil:results says are done.
done_jobs() { cli lrange coil:results 0 -1 | sed -nE 's/^job ([0-9]+:[0-9]+) done by worker [12] .*/\1/p' | sort; }

start_redis

# a) the article's run: 5, 1 and 1 units, two workers, about 5 units.
launch
wait_exit 30
[ "$status" -eq 0 ] || fail "a: exit status $status, want 0"
t=$(sed -nE 's/.*master: all 3 jobs done in ([0-9.]+) units$/\1/p' <<<"$out")
[ -n "$t" ] || fail "a: no 'all 3 jobs done' line"
within "$t" 4.5 6.5 || fail "a: took $t units, want [4.5, 6.5)"
[ "$(done_jobs)" = "$(printf '1:5\n2:1\n3:1')" ] ||
  fail "a: coil:results holds $(done_jobs | tr '\n' ' '), want 1:5 2:1 3:1"
[ "$(cli exists coil:jobs coil:processing:1 coil:processing:2)" = 0 ] ||
  fail "a: jobs or processing lists not empty"
grep -qE "worker 1: stopped, no job in flight" <<<"$out" &&
  grep -qE "worker 2: stopped, no job in flight" <<<"$out" ||
  fail "a: the idle workers did not stop cleanly"
echo "  a: 5, 1, 1 units with two workers in $t units (want [4.5, 6.5))"

# b) Ctrl-C while each worker holds a 50-unit job (jobs 2 and 3 are done).
cli flushall >/dev/null
launch 50 1 1 50
wait_line "worker [12]: took job 4:50"
kill -INT "$pid"
wait_exit 30
[ "$status" -eq 130 ] || fail "b: exit status $status, want 130 (SIGINT)"
grep -qE "coil_run: -1 \(EINTR\)" <<<"$out" || fail "b: coil_run did not report EINTR"
for j in 1:50 4:50; do
  grep -qE "worker [12]: put job $j back on coil:jobs" <<<"$out" ||
    fail "b: no 'put job $j back' line"
done
t=$(sed -nE 's/^TIME: ([0-9.]+)$/\1/p' <<<"$out")
within "$t" 2 10 || fail "b: stopped after $t units: want soon after the SIGINT (~2)"
[ "$(list coil:jobs)" = "$(printf '1:50\n4:50')" ] ||
  fail "b: coil:jobs holds $(list coil:jobs | tr '\n' ' '), want 1:50 4:50"
[ "$(cli exists coil:processing:1 coil:processing:2)" = 0 ] ||
  fail "b: a processing list is not empty: $(list coil:processing:1) $(list coil:processing:2)"
[ "$(done_jobs)" = "$(printf '2:1\n3:1')" ] ||
  fail "b: coil:results holds $(done_jobs | tr '\n' ' '), want 2:1 3:1"
echo "  b: SIGINT at 2 units: jobs 1:50 and 4:50 back on coil:jobs, 2:1 and 3:1 done, nothing lost"

# c) Redis dies while one worker runs a 50-unit job and the other waits in
#    BLMOVE: the waiting one sees the connection go, the master stops the
#    other, and the program ends with an error instead of hanging.
cli flushall >/dev/null
launch 50 1
wait_line "worker [12]: Done job 2:1"
kill -KILL "$srv"; wait "$srv" 2>/dev/null; srv=
wait_exit 20
[ "$status" -eq 1 ] || fail "c: exit status $status, want 1"
# (read: the idle worker sits in BLMOVE; write, should it still be
# sending it when the server dies.)
grep -qE "worker [12]: redis error: (read|write): (EOF|ECONNRESET|EPIPE)" <<<"$out" ||
  fail "c: no worker reported the lost connection (EOF, ECONNRESET or EPIPE)"
grep -qE "master: worker [12] failed \((ECONNRESET|EPIPE)\); stopping" <<<"$out" ||
  fail "c: the master did not report the failed worker"
# Usually ECONNREFUSED; but the dying server's listener may still complete
# a handshake in the kernel after the workers' connections closed, and
# then reset it (seen by connect itself too, as its SO_ERROR).
grep -qE "worker [12]: cannot put jobs back: (connect: (ECONNREFUSED|ECONNRESET)|read: (ECONNRESET|EOF)|write: (EPIPE|ECONNRESET))" <<<"$out" ||
  fail "c: the cancelled worker did not report that its job could not go back"
grep -qE "coil_run: -1 \((ECONNRESET|EPIPE)\)" <<<"$out" || fail "c: coil_run did not fail"
echo "  c: Redis killed: '$(grep -m1 -oE 'redis error: .*' <<<"$out")', exit status 1"
echo "1 passed, 0 failed"
