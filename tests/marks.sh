#!/usr/bin/env bash
# The final programs and libraries carry the property their objects claim
# (docs/testing.md, "Branch protection").  elf_notes.sh reads the switch's
# own object; the linker ANDs the property over every object it links, so
# only the linked files show whether the marks survived the C library's
# start files, libgcc and the test helpers.
# Arguments: readelf, the property text that readelf -n must print (e.g.
# "AArch64 feature: BTI, PAC"), then the files.
set -u
readelf=$1 want=$2
shift 2
bad=0
for f in "$@"; do
  if "$readelf" -n "$f" | grep -qF "$want"; then
    echo "  ok   $(basename "$f"): $want"
  else
    got=$("$readelf" -n "$f" | sed -n 's/^ *Properties: //p')
    echo "  FAIL $(basename "$f"): ${got:-no property note}"
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] || { echo "marks: $bad of $# files without \"$want\""; exit 1; }
echo "marks: all $# files carry \"$want\""
echo "1 passed, 0 failed"
