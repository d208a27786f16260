#!/usr/bin/env bash
# tools/cross-boost.sh DEBARCH — unpack Debian's Boost.Context for a foreign
# CPU (ppc64el, s390x) into build/sysroot/DEBARCH, for the cross presets
# that run coil's fcontext backend under qemu-user.
#
# Why not `dpkg --add-architecture` and `apt-get install pkg:DEBARCH`: that
# makes the foreign libc6 a dependency of the host's, so the two must be
# the same version, and a mirror that lags one architecture (it happens)
# then breaks every later `apt-get update` on the machine.  Here apt reads
# the foreign package lists into a private directory and only downloads
# the -dev .deb (its libboost_context.a is all coil links), which dpkg-deb
# unpacks: the machine's own package state is never touched.  The cross
# compiler and libc are Debian's gcc-<triple> and libc6-dev-<arch>-cross
# (tools/test-all.sh installs them).
# Idempotent: does nothing when the library is already unpacked.
set -euo pipefail
arch=${1:?usage: tools/cross-boost.sh DEBARCH (ppc64el or s390x)}
cd "$(dirname "$0")/.."
root=$PWD/build/sysroot/$arch
if compgen -G "$root/usr/lib/*/libboost_context.a" >/dev/null; then
  exit 0
fi
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs"
chmod 755 "$state" && chmod 777 "$state/debs"   # apt downloads as _apt
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
apt_x() {
  apt-get -q -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
    -o APT::Architecture="$arch" -o APT::Architectures::="$arch" \
    -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::SourceList="$sources" "$@"
}
# A list that fails to download (say, a security index mid-sync) is not
# needed here: the download below says whether what we need was found.
apt_x update >/dev/null 2>&1 || true
dev=$(apt-cache -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" \
        -o APT::Architecture="$arch" -o APT::Architectures::="$arch" \
        -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::SourceList="$sources" \
        depends libboost-context-dev 2>/dev/null |
      sed -n 's/^ *Depends: \(libboost-context[0-9.]*-dev\).*/\1/p' | head -1)
if [ -z "$dev" ]; then
  echo "coil: no libboost-context-dev for $arch in Debian's lists" >&2
  exit 1
fi
(cd "$state/debs" && apt_x download "$dev" >/dev/null)
mkdir -p "$root"
for deb in "$state"/debs/*.deb; do
  dpkg-deb -x "$deb" "$root"
done
compgen -G "$root/usr/lib/*/libboost_context.a" >/dev/null || {
  echo "coil: $dev for $arch has no libboost_context.a" >&2; exit 1; }
echo "coil: Boost.Context for $arch unpacked in $root"
