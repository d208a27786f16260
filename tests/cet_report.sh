#!/usr/bin/env bash
# x86_64: every object of coil's own carries the IBT property, checked by
# the linker itself.  Links libcoil.a's members into a shared object with
# -z cet-report=warning and without the C start files (-nostartfiles:
# Debian 12's crti.o/crtn.o carry no property, so any program or library
# linked the usual way loses IBT however coil is built; docs/context-switch.md).
# Fails on any "missing IBT property" and unless the result claims IBT.
# SHSTK is not claimed on purpose: a context switch moves the stack under
# the shadow stack (ctx.h point 7), so "missing SHSTK" is expected and
# only counted.  That is also why this is -z cet-report=warning and a grep,
# not =error: binutils (2.40 here) reports IBT and SHSTK together, and
# =error stops at the first object without SHSTK, which is every one of
# coil's.  (A whole program that keeps IBT, start files and all, is the
# ctx_ibt test beside this one.)
# Arguments: libcoil.a, the C compiler.
set -u
archive=$1 cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" && ar x "$archive" || exit 1
report=$("$cc" -shared -nostartfiles -Wl,-z,cet-report=warning -o coil.so ./*.o \
           -lpthread 2>&1) || { echo "cet_report: link failed: $report"; exit 1; }
if grep -q "missing IBT" <<<"$report"; then
  echo "cet_report: objects without the IBT property:"
  grep "missing IBT" <<<"$report"
  exit 1
fi
readelf -n coil.so | grep -q "x86 feature: IBT" ||
  { echo "cet_report: the linked object does not claim IBT"; exit 1; }
echo "  $(ls ./*.o | wc -l) objects, all IBT; $(grep -c 'missing SHSTK' <<<"$report") without SHSTK (by design)"
echo "1 passed, 0 failed"
