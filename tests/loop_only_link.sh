#!/bin/sh
# tests/loop_only_link.sh MAP ROOT — which of libcoil.a's objects a
# loop-only program (tests/loop_only_test.c) pulled in, from its link map
# (-Wl,-Map).  Fails if any of them is not of the loop's layers or below
# (asm/, src/core/, src/loop/: docs/architecture.md): a task, future, IO,
# sync, thread or run object there means the loop calls up again.
set -eu
map=$1 root=$2
members=$(grep -o 'libcoil\.a([^)]*)' "$map" | sed 's/.*(\(.*\))/\1/' | sort -u)
[ -n "$members" ] || { echo "no libcoil.a member in $map"; exit 1; }
bad=0
for m in $members; do
  src=$(cd "$root" && find src asm -name "${m%.o}")
  case $src in
    asm/*|src/core/*|src/loop/*) echo "ok   $src" ;;
    *) echo "FAIL $m (${src:-no source}) is not of the loop's layers"; bad=1 ;;
  esac
done
exit $bad
