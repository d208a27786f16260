#!/usr/bin/env bash
# tests/hook_libs_test.sh — run a hook-layer test against the real server
# it needs, started here on loopback (a free 127.0.0.1 port, or a Unix
# socket in a temp dir) and stopped on every way out (trap):
#   redis BIN              redis-server, no persistence
#   example19 BIN          redis-server, then examples/19 with jobs 5 1 1
#                          and a 100 ms unit: about 5 units, not 7
#   curl  BIN SERVER.py    tests/slow_http_server.py, 0.2 s per answer
#   pg    BIN              PostgreSQL: initdb + pg_ctl into a temp dir, as
#                          nobody when run as root (the server refuses root)
#   tls   BIN              a threaded Python TLS server with a certificate
#                          made here by openssl
# A missing server program gives SKIP (77).
set -u
kind=$1 bin=$2
dir=$(mktemp -d)
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown nobody "$dir"     # PostgreSQL runs as nobody
pids=()
pgctl= pgdata=
cleanup() {
  [ -n "$pgctl" ] && run_as "$pgctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
skip() { echo "SKIP: $1"; exit 77; }
fail() { echo "hook_libs_test: $1"; [ -n "${2:-}" ] && tail -n 20 "$2"; exit 1; }
# Wait (at most 20 s) for a command to succeed, polling.
wait_for() {
  local i
  for i in $(seq 400); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}
# Run as nobody if we are root (initdb and postgres refuse root).
run_as() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
  else "$@"; fi
}

case $kind in
redis|example19)
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    skip "redis-server not found (Debian redis-server)"
  for try in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$dir" --logfile "$dir/redis.log" >/dev/null 2>&1 &
    pids+=($!)
    # Up to 20 s for PONG; a server that died (its port was taken) is
    # given up at once, and another port tried.
    up=
    for i in $(seq 400); do
      [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && up=1 && break
      kill -0 "${pids[-1]}" 2>/dev/null || break
      sleep 0.05
    done
    [ -n "$up" ] && break
    port=
  done
  [ -n "$port" ] || fail "redis-server did not start" "$dir/redis.log"
  if [ "$kind" = redis ]; then "$bin" "$port"; exit; fi
  COIL_UNIT_MS=100 timeout 60 "$bin" -h 127.0.0.1 -p "$port" 5 1 1 >"$dir/out" 2>&1 ||
    fail "examples/19 failed" "$dir/out"
  cat "$dir/out"
  t=$(sed -nE 's/.*master: all 3 jobs done in ([0-9.]+) units$/\1/p' "$dir/out")
  [ -n "$t" ] || fail "no 'all 3 jobs done' line" "$dir/out"
  awk -v v="$t" 'BEGIN { exit !(v >= 4.5 && v < 6.5) }' ||
    fail "took $t units, want [4.5, 6.5): the workers did not overlap"
  [ "$(redis-cli -h 127.0.0.1 -p "$port" llen coil19:jobs)" = 0 ] || fail "jobs left over"
  echo "1 passed, 0 failed"
  ;;
curl)
  server=$3
  command -v python3 >/dev/null || skip "python3 not found"
  head -c 10000 /dev/urandom >"$dir/file.bin"
  python3 "$server" "$dir" 0.2 >"$dir/port" 2>"$dir/server.log" &
  pids+=($!)
  wait_for grep -qE '^[0-9]+$' "$dir/port" || fail "HTTP server did not start" "$dir/server.log"
  "$bin" "http://127.0.0.1:$(head -n1 "$dir/port")/file.bin" 10000
  ;;
pg)
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$bindir" ] && [ -x "$bindir/initdb" ] || skip "PostgreSQL not found (Debian postgresql)"
  pgdata=$dir/data
  run_as "$bindir/initdb" -D "$pgdata" -A trust -U coil --no-sync >"$dir/initdb.log" 2>&1 ||
    fail "initdb failed" "$dir/initdb.log"
  # Unix socket in the temp dir only: no TCP at all.
  run_as "$bindir/pg_ctl" -D "$pgdata" -l "$dir/pg.log" -w -t 60 \
    -o "-k $dir -c listen_addresses='' -c max_connections=120 -c fsync=off" start >/dev/null 2>&1 ||
    fail "PostgreSQL did not start" "$dir/pg.log"
  pgctl=$bindir/pg_ctl
  "$bin" "host=$dir port=5432 user=coil dbname=postgres"
  ;;
tls)
  command -v openssl >/dev/null && command -v python3 >/dev/null ||
    skip "openssl or python3 not found"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" \
    -out "$dir/cert.pem" -days 1 -subj /CN=localhost >/dev/null 2>&1 ||
    fail "openssl could not make a certificate"
  python3 - "$dir" >"$dir/port" 2>"$dir/server.log" <<'PY' &
import socket, ssl, sys, threading, time
d = sys.argv[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/cert.pem", d + "/key.pem")
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(128)
print(srv.getsockname()[1], flush=True)
def serve(c):
    try:
        with ctx.wrap_socket(c, server_side=True) as s:
            line = s.recv(64)
            time.sleep(0.1)               # each answer takes 0.1 s
            s.sendall(b"pong:" + line)
    except Exception:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
  pids+=($!)
  wait_for grep -qE '^[0-9]+$' "$dir/port" || fail "TLS server did not start" "$dir/server.log"
  "$bin" "$(head -n1 "$dir/port")" "$dir/cert.pem"
  ;;
*) fail "unknown kind $kind" ;;
esac
