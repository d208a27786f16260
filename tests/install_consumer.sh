#!/usr/bin/env bash
# Install coil into a scratch prefix, then build and run a consumer against
# it three ways: CMake find_package (shared and static) and pkg-config.
set -eu
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "install_consumer: $*"; }

step "cmake --install"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name coil.pc)")/..
[ -f "$tmp/prefix/include/coil.h" ] && [ -f "$tmp/prefix/include/coil/ctx.h" ]
ls "$libdir"/libcoil.so* "$libdir"/libcoil.a >/dev/null

step "find_package(coil)"
cmake -S "$src" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
"$tmp/cmake/consumer"
"$tmp/cmake/consumer_static"
# The shared consumer really uses the installed library.
ldd "$tmp/cmake/consumer" | grep -q "$tmp/prefix"

step "pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -o "$tmp/pc" "$src/consumer.c" $(pkg-config --cflags --libs coil) \
   -Wl,-rpath,"$(cd "$libdir" && pwd)"
"$tmp/pc"
cc -static -o "$tmp/pc_static" "$src/consumer.c" \
   $(pkg-config --static --cflags --libs coil)
"$tmp/pc_static"
echo "3 passed, 0 failed"
