#!/usr/bin/env bash
# tools/switch-insns.sh [PRESET...] — instructions per context switch on
# every CPU, counted under qemu-user, where time means nothing (issue 16's
# benchmark for the ports).  For each preset whose build exists (default:
# all that tools/test-all.sh builds), bench/switch_insns.c is linked
# statically against that build's libcoil.a and, where Debian has one for
# the CPU, Boost's libboost_context.a, and run as
#   qemu-<cpu> -singlestep -d exec,nochain
# which logs one line per instruction executed.  Two runs, 2,000 and 4,000
# round trips, and the difference over 4,000 switches is the count per
# switch: start-up, the loader and exit cancel out.  The loop around the
# switch (a compare, an increment, a branch: 1-3 instructions) is in every
# row alike.  Prints a table and writes build/switch_insns.json.
set -uo pipefail
cd "$(dirname "$0")/.."
presets=${*:-release fcontext aarch64 aarch64-fcontext riscv64 ppc64le-core ppc64le-fcontext s390x}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# preset -> compiler, qemu, Boost archive ("" where Debian 12 has none)
target() {
  case $1 in
    release|fcontext) echo "gcc qemu-x86_64 /usr/lib/x86_64-linux-gnu/libboost_context.a" ;;
    aarch64|aarch64-fcontext) echo "aarch64-linux-gnu-gcc qemu-aarch64 build/sysroot/arm64/usr/lib/aarch64-linux-gnu/libboost_context.a" ;;
    riscv64) echo "riscv64-linux-gnu-gcc qemu-riscv64 -" ;;
    ppc64le|ppc64le-*) echo "powerpc64le-linux-gnu-gcc qemu-ppc64le build/sysroot/ppc64el/usr/lib/powerpc64le-linux-gnu/libboost_context.a" ;;
    s390x) echo "s390x-linux-gnu-gcc qemu-s390x build/sysroot/s390x/usr/lib/s390x-linux-gnu/libboost_context.a" ;;
    *) return 1 ;;
  esac
}

# count QEMU PROGRAM ROW N: instructions executed by one run.
count() {
  "$1" -singlestep -d exec,nochain -D "$tmp/log" "$2" "$3" "$4" >/dev/null 2>&1 || {
    echo "-"; return; }
  wc -l <"$tmp/log"
}

per_switch() {   # per_switch QEMU PROGRAM ROW
  local a b
  a=$(count "$1" "$2" "$3" 2000)
  b=$(count "$1" "$2" "$3" 4000)
  [ "$a" = - ] || [ "$b" = - ] && { echo "-"; return; }
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 4000 }'
}

json="["
printf '%-18s %-9s %8s %8s %8s %12s\n' preset backend coil nofp boost coil/boost
for p in $presets; do
  read -r cc qemu boost <<<"$(target "$p")" || { echo "$p: unknown preset"; continue; }
  lib=build/$p/libcoil.a
  [ -f "$lib" ] || { printf '%-18s (not built: cmake --workflow --preset %s)\n' "$p" "$p"; continue; }
  backend=$(sed -n 's/^COIL_CTX_BACKEND:[A-Z]*=//p' "build/$p/CMakeCache.txt")
  extra=()
  [ "$boost" != - ] && [ -f "$boost" ] && extra=(-DWITH_BOOST) || boost=
  [ "$backend" = fcontext ] && [ -z "$boost" ] && { echo "$p: no Boost archive"; continue; }
  if ! "$cc" -O2 -static -Iinclude -I"build/$p/include" "${extra[@]}" \
        bench/switch_insns.c "$lib" $boost -lpthread -lm -o "$tmp/si" 2>"$tmp/cc.log"; then
    echo "$p: does not link:"; cat "$tmp/cc.log"; continue
  fi
  full=$(per_switch "$qemu" "$tmp/si" coil)
  nofp=$(per_switch "$qemu" "$tmp/si" nofp)
  bst=-
  [ -n "$boost" ] && bst=$(per_switch "$qemu" "$tmp/si" boost)
  ratio=$(awk -v c="$full" -v b="$bst" 'BEGIN { if (b + 0 > 0) printf "%.2f", c / b; else print "-" }')
  printf '%-18s %-9s %8s %8s %8s %12s\n' "$p" "$backend" "$full" "$nofp" "$bst" "$ratio"
  json+="{\"preset\":\"$p\",\"backend\":\"$backend\",\"coil\":\"$full\",\"nofp\":\"$nofp\",\"boost\":\"$bst\"},"
done
json="${json%,}]"
echo "$json" >build/switch_insns.json
echo "(instructions per switch, one direction; build/switch_insns.json)"
