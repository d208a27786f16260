#!/usr/bin/env bash
# gdb stops three calls deep inside a coroutine; `bt` must show exactly the
# coroutine's frames, end at coil's start routine, and print no garbage
# frame ("??") and no unwinder complaint.
set -u
gdb=$1 target=$2
out=$("$gdb" -batch -nx -ex 'set debuginfod enabled off' -ex 'break level3' \
      -ex run -ex bt "$target" 2>&1)
fail() { echo "gdb_backtrace: $1"; echo "---- gdb said:"; echo "$out"; exit 1; }

bt=$(printf '%s\n' "$out" | grep -E '^#[0-9]+ ')
[ -n "$bt" ] || fail "no backtrace printed"
for fn in level3 level2 level1 coroutine_body coro_main coil_ctx_start; do
  printf '%s\n' "$bt" | grep -q -E "^#[0-9]+ +(0x[0-9a-f]+ in )?$fn " ||
    fail "frame '$fn' missing"
done
last=$(printf '%s\n' "$bt" | tail -n 1)
printf '%s\n' "$last" | grep -q 'coil_ctx_start' ||
  fail "backtrace does not end at the coroutine's start routine: $last"
printf '%s\n' "$bt" | grep -q -E '^#[0-9]+ +(0x[0-9a-f]+ in )?\?\?' &&
  fail "garbage frame"
printf '%s\n' "$out" | grep -q -i -E 'previous frame inner|corrupt stack|Backtrace stopped' &&
  fail "unwinder complained"
printf '%s\n' "$bt" | grep -q ' main ' && fail "walked out of the coroutine into main"
echo "gdb_backtrace: ok ($(printf '%s\n' "$bt" | wc -l) frames)"
echo "1 passed, 0 failed"
