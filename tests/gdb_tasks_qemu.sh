#!/bin/sh
# tests/gdb_tasks_qemu.sh TARGET COIL_GDB_PY QEMU SYSROOT — the gdb
# extension on a cross build (aarch64, riscv64, ppc64le), through
# qemu-user's gdbstub: gdb cannot attach to an emulated process, so the
# target starts stopped under qemu -g, runs to all_tasks_waiting() (every
# task waits by then), and `coil tasks`, `coil bt` and `coil task` + `info
# locals` are checked as on a native live process (tests/gdb_tasks_test.sh;
# no core here).  Exits 77 with the reason without gdb-multiarch.
target=$1 script=$2 qemu=$3 sysroot=$4
fail() { echo "FAIL: $*"; exit 1; }
gdb=$(command -v gdb-multiarch) ||
  { echo "skipped: gdb-multiarch is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out.txt
# A port the kernel says is free now; another program (a second test run
# on the machine) may still take it before qemu listens, and qemu then
# exits with "could not open gdbserver": try again with another.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
for attempt in 1 2 3 4 5; do
  port=$(free_port) || fail "no free port"
  "$qemu" -L "$sysroot" -g "$port" "$target" </dev/null 3>/dev/null \
      2>"$tmp/qemu.err" &
  qpid=$!
  timeout 300 "$gdb" -batch -nx "$target" -ex "set sysroot $sysroot" \
      -ex "target remote :$port" -ex "break all_tasks_waiting" -ex continue \
      -x "$script" -ex "coil tasks" -ex "coil bt stuck" -ex "coil task stuck" \
      -ex "frame function stuck_level2" -ex "info locals" -ex kill \
      >"$out" 2>&1
  wait "$qpid" 2>/dev/null
  grep -q "could not open gdbserver" "$tmp/qemu.err" || break
  echo "port $port was taken before qemu could listen: another try"
done
grep -q "task [0-9]* 'stuck' fn=stuck_task .*suspended, waits on an fd" "$out" ||
  { cat "$out"; fail "coil tasks does not list the stuck task"; }
grep -q "coil: 101 live tasks" "$out" || { cat "$out"; fail "not 101 tasks"; }
l3=$(grep -n "in stuck_level3 " "$out" | head -1 | cut -d: -f1)
l2=$(grep -n "in stuck_level2 " "$out" | head -1 | cut -d: -f1)
l1=$(grep -n "in stuck_level1 " "$out" | head -1 | cut -d: -f1)
[ -n "$l3" ] && [ -n "$l2" ] && [ -n "$l1" ] && [ "$l3" -lt "$l2" ] &&
  [ "$l2" -lt "$l1" ] || { cat "$out"; fail "coil bt lacks the three functions in order"; }
grep -q "^marker = 4242" "$out" || { cat "$out"; fail "info locals shows no marker"; }
echo "ok   qemu gdbstub ($(uname -m) host, $target)"
echo "1 passed, 0 failed"
