#!/bin/sh
# tests/gdb_tasks_test.sh TARGET COIL_GDB_PY — tools/gdb/coil-gdb.py on a live
# process (gdb -p) and on a core of it (gcore): `coil tasks` lists the
# stuck task, `coil bt` shows its three user functions in order, and with
# the task selected, `frame function` + `info locals` show a local.
# Exits 77 (skipped, with the reason) where gdb is missing or may not
# attach; any other failure prints what gdb said.
target=$1
script=$2
fail() { echo "FAIL: $*"; exit 1; }
command -v gdb >/dev/null 2>&1 || { echo "skipped: gdb is not installed"; exit 77; }

tmp=$(mktemp -d)
pid=
cleanup() {
  exec 4>&- 2>/dev/null
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/stdin" "$tmp/ready"
# gdb 13's gcore skips a mapping it cannot read whole, and a guard region
# made with MADV_GUARD_INSTALL cannot be read: the stacks would be missing
# from the core (docs/debugging.md).  mprotect guards are separate VMAs.
COIL_STACK_GUARD=mprotect "$target" <"$tmp/stdin" 3>"$tmp/ready" &
pid=$!
exec 4>"$tmp/stdin"                   # its stdin: closed at the end
read -r line <"$tmp/ready"            # blocks until every task waits
[ "$line" = ready ] || fail "target did not start: '$line'"

probe=$(timeout 60 gdb -batch -p "$pid" -ex "info inferiors" 2>&1)
case $probe in
  *"ptrace: Operation not permitted"*|*"Could not attach"*)
    echo "skipped: gdb may not attach here (ptrace refused:" \
         "$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 'no yama'))"
    exit 77 ;;
esac

ask() {   # ask OUTPUT gdb-args...: the coil commands on one target
  out=$1; shift
  timeout 300 gdb -batch -nx "$@" -x "$script" \
      -ex "coil tasks" -ex "coil bt stuck" -ex "coil task stuck" \
      -ex "frame function stuck_level2" -ex "info locals" >"$out" 2>&1
}

check() {   # check OUTPUT WHAT
  out=$1
  grep -q "task [0-9]* 'stuck' fn=stuck_task .*suspended, waits on an fd" "$out" ||
    { cat "$out"; fail "$2: coil tasks does not list the stuck task"; }
  grep -q "coil: 101 live tasks" "$out" ||
    { cat "$out"; fail "$2: coil tasks does not count 101 tasks"; }
  l3=$(grep -n "in stuck_level3 " "$out" | head -1 | cut -d: -f1)
  l2=$(grep -n "in stuck_level2 " "$out" | head -1 | cut -d: -f1)
  l1=$(grep -n "in stuck_level1 " "$out" | head -1 | cut -d: -f1)
  [ -n "$l3" ] && [ -n "$l2" ] && [ -n "$l1" ] && [ "$l3" -lt "$l2" ] &&
    [ "$l2" -lt "$l1" ] ||
    { cat "$out"; fail "$2: coil bt lacks the three functions in order"; }
  grep -q "coil_read" "$out" || { cat "$out"; fail "$2: no coil_read frame"; }
  grep -q "^marker = 4242" "$out" ||
    { cat "$out"; fail "$2: info locals in stuck_level2 shows no marker"; }
  echo "ok   $2"
}

ask "$tmp/live.txt" -p "$pid"
check "$tmp/live.txt" "live process (gdb -p)"

timeout 300 gdb -batch -nx -p "$pid" -ex "gcore $tmp/core" >"$tmp/gcore.txt" 2>&1
[ -s "$tmp/core" ] || { cat "$tmp/gcore.txt"; fail "gcore wrote no core"; }
ask "$tmp/core.txt" "$target" "$tmp/core"
check "$tmp/core.txt" "core file (gcore)"
echo "2 passed, 0 failed"
