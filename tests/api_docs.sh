#!/usr/bin/env bash
# The API reference (tools/gen-man.py): every public function's comment in
# the headers says what it returns, its errno values and whether it may
# suspend, and the checked-in docs/api.md is what the headers say now.
# Then the check itself is checked: copies of the tree with one of those
# words removed from a comment, or a stale index, must fail it.
set -eu
python=$1 root=$2
gen=$root/tools/gen-man.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
ok() { echo "api_docs: ok: $*"; passed=$((passed + 1)); }

"$python" "$gen" --root "$root" --check-docs --check-md "$root/docs/api.md"
ok "the headers document every public function; docs/api.md is up to date"

# must_fail NAME PATTERN SED-EXPR: the check fails on a copy of the tree
# whose coil.h has SED-EXPR applied, naming NAME and PATTERN.
must_fail() {
  rm -rf "$tmp/tree" && mkdir -p "$tmp/tree/docs"
  cp -r "$root/include" "$tmp/tree/"
  sed -i "$3" "$tmp/tree/include/coil.h"
  ! cmp -s "$root/include/coil.h" "$tmp/tree/include/coil.h" ||
    { echo "api_docs: the mutation '$3' changed nothing"; exit 1; }
  if "$python" "$gen" --root "$tmp/tree" --check-docs >"$tmp/out"; then
    echo "api_docs: the check passed a comment without $2 ($1)"; exit 1
  fi
  grep -q "$1: .*$2" "$tmp/out" ||
    { cat "$tmp/out"; echo "api_docs: no complaint about $1 ($2)"; exit 1; }
  ok "a comment without $2 fails ($1)"
}
must_fail coil_socket_port "whether it suspends" \
  '/^\/\* The local port fd is bound to/,/\*\//s/  Does not suspend\.//'
must_fail coil_coro_state "what it returns" \
  "s|^/\* co's state, or -1 with errno EINVAL for NULL\.|/* co's state.|"
must_fail coil_coro_state "which errno values" \
  "s|^/\* co's state, or -1 with errno EINVAL for NULL\.|/* co's state.|"

cp "$root/docs/api.md" "$tmp/api.md"
echo "A hand edit." >>"$tmp/api.md"
if "$python" "$gen" --root "$root" --check-md "$tmp/api.md" >/dev/null; then
  echo "api_docs: a stale docs/api.md passed"; exit 1
fi
ok "a stale docs/api.md fails"
echo "$passed passed, 0 failed"
