#!/usr/bin/env bash
# The example in README.md ("## Ten lines") compiles cleanly against the
# built library and does what it says: prints "1 2 4" after ~400 ms, not 700.
set -eu
# Arguments: README.md, the include directories (source, then build: the
# generated coil/ctx_config.h), libcoil.a, then what else it needs.
readme=$1 include=$2 build_include=$3 lib=$4
shift 4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^## Ten lines/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$readme" >"$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "readme_example: no example found"; exit 1; }
cc -std=gnu11 -Wall -Wextra -Werror -I"$include" -I"$build_include" \
   "$tmp/example.c" "$lib" "$@" -lpthread -o "$tmp/example"
start=$(date +%s%N)
out=$("$tmp/example")
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$out" = "1 2 4" ] || { echo "readme_example: printed '$out'"; exit 1; }
[ $ms -ge 400 ] && [ $ms -lt 650 ] || { echo "readme_example: took $ms ms"; exit 1; }
echo "readme_example: ok ($ms ms)"
echo "1 passed, 0 failed"
