#!/usr/bin/env bash
# Install coil into a scratch prefix, then build and run consumers against
# it: CMake find_package (shared and static; its version rule), pkg-config,
# the commands README.md's "Install" section shows, verbatim, and the man
# pages.
set -eu
build=$1 src=$2 readme=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "install_consumer: $*"; }

step "cmake --install"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name coil.pc)")/..
[ -f "$tmp/prefix/include/coil.h" ] && [ -f "$tmp/prefix/include/coil/ctx.h" ]
ls "$libdir"/libcoil.so* "$libdir"/libcoil.a >/dev/null

step "find_package(coil 0.1)"
cmake -S "$src" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
"$tmp/cmake/consumer"
"$tmp/cmake/consumer_static"
"$tmp/cmake/hook_consumer"                   # coil::hook makes read() yield
# The shared consumer really uses the installed library.
ldd "$tmp/cmake/consumer" | grep -q "$tmp/prefix"

step "find_package's version rule: 0.x accepts the same minor version only"
version=$(sed -n 's/^Version: //p' "$libdir/pkgconfig/coil.pc")
IFS=. read -r major minor _ <<<"$version"
mkdir "$tmp/ver"
cat >"$tmp/ver/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(coil_version C)
find_package(coil ${WANT} REQUIRED)
CMAKE
cmake -S "$tmp/ver" -B "$tmp/ver/ok" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DWANT="$major.$minor" >/dev/null
# refused WANT: find_package(coil WANT) must not accept this version.
refused() {
  if cmake -S "$tmp/ver" -B "$tmp/ver/$1" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
           -DWANT="$1" >"$tmp/ver/log" 2>&1; then
    echo "install_consumer: find_package(coil $1) accepted $version"; exit 1
  fi
  grep -q 'compatible' "$tmp/ver/log"
}
refused "$major.$((minor + 1))"              # a newer API than installed
if [ "$major" -eq 0 ] && [ "$minor" -gt 0 ]; then
  refused "$major.$((minor - 1))"            # 0.x: an older minor may differ
fi

step "pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -o "$tmp/pc" "$src/consumer.c" $(pkg-config --cflags --libs coil) \
   -Wl,-rpath,"$(cd "$libdir" && pwd)"
"$tmp/pc"
cc -static -o "$tmp/pc_static" "$src/consumer.c" \
   $(pkg-config --static --cflags --libs coil)
"$tmp/pc_static"
step "libcoil_hook as README.md links it (its \"Blocking libraries\" block)"
hook_cmd=$(awk '/^## Blocking libraries that yield/ {on = 1}
               on && /^```sh$/ {code = 1; next} code {print; exit}' "$readme")
case $hook_cmd in "cc app.c "*) ;; *) echo "install_consumer: no hook line"; exit 1;; esac
hook_cmd=${hook_cmd#cc app.c }
cc -o "$tmp/pc_hook" "$src/hook_consumer.c" $(eval echo "$hook_cmd") \
   -Wl,-rpath,"$(cd "$libdir" && pwd)"
ldd "$tmp/pc_hook" | grep -q "$tmp/prefix.*libcoil_hook"
"$tmp/pc_hook"
# Without an rpath, a prefix outside the loader's paths fails at run time,
# as README.md warns.
cc -o "$tmp/norpath" "$src/consumer.c" $(pkg-config --cflags --libs coil)
if "$tmp/norpath" 2>"$tmp/norpath.err"; then
  echo "install_consumer: ran without an rpath: README's warning is wrong"
  exit 1
fi
grep -q 'libcoil.so.0: cannot open shared object file' "$tmp/norpath.err"
unset PKG_CONFIG_PATH

step "README.md's install commands, verbatim"
# The ```sh block under "### Into a prefix of your own", run with HOME and
# the working directory in the scratch area: build/release is this build,
# app.c is README's own example.
awk '/^### Into a prefix of your own/ {on = 1} on && /^```sh$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$readme" >"$tmp/readme_install.sh"
[ -s "$tmp/readme_install.sh" ] || { echo "install_consumer: no block in README"; exit 1; }
awk '/^## Ten lines/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$readme" >"$tmp/app.c"
mkdir -p "$tmp/work/build" "$tmp/home"
ln -s "$(cd "$build" && pwd)" "$tmp/work/build/release"
cp "$tmp/app.c" "$tmp/work/app.c"
out=$(cd "$tmp/work" && HOME=$tmp/home bash -e "$tmp/readme_install.sh" 2>&1) || {
  echo "$out"; echo "install_consumer: README's commands failed"; exit 1; }
[ "$(grep -c '^1 2 4$' <<<"$out")" -ge 2 ] || {
  echo "$out"; echo "install_consumer: README's programs did not print 1 2 4"; exit 1; }

step "man pages"
page=$tmp/prefix/share/man/man3/coil_read.3
[ -f "$page" ] || { echo "install_consumer: $page missing"; exit 1; }
grep -q '^\.TH ' "$page" && grep -q '^\.SH NAME' "$page"
# Every function the shared library exports has its page, so nothing the
# header parser missed escapes the reference (and its doc check).
missing=$(nm -D --defined-only "$libdir"/libcoil.so | awk '$2 == "T" {print $3}' |
          grep -v '^coil__' | while read -r f; do
            [ -f "$tmp/prefix/share/man/man3/$f.3" ] || echo "$f"; done)
[ -z "$missing" ] || { echo "install_consumer: no man page for:" $missing; exit 1; }
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww -z "$page" 2>"$tmp/groff.err"
  [ ! -s "$tmp/groff.err" ] || { cat "$tmp/groff.err"; exit 1; }
  groff -man -Tutf8 "$page" 2>/dev/null | grep -q 'coil_read_until'
fi
if command -v man >/dev/null; then
  MANPAGER=cat MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q 'May suspend'
fi
echo "8 passed, 0 failed"
