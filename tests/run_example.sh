#!/usr/bin/env bash
# Run an example with a 100 ms time unit (longer under load, below) and check its output against
# tests/examples/<name>.expect, whose lines are, in order:
#   = REGEX            a later output line must match REGEX (extended)
#   ~ LO HI LABEL      the next output line starting with LABEL (a regex,
#                      may contain spaces) must carry a number in [LO, HI)
#                      right after it (elapsed units).  On a machine busier
#                      than its cores (CI is never promised an idle one)
#                      the window's width grows with the load measured as
#                      the example ends: HI becomes LO + (HI - LO) * slack,
#                      slack = the 1-minute load average per core, between
#                      1 and 4.  Lower bounds never move: a wait is never
#                      shorter under load.
#   ! REGEX            no output line at all may match REGEX
#   @ SIG REGEX        (first line) once a line matches REGEX, send SIG
# Arguments: the expect file, then the command (emulator first, if any).
# The unit itself grows with the load measured as the example starts (100
# ms times the same slack): the examples' own time-outs are in units, and a
# download that takes 2 units on an idle machine must not time out at 3
# because a sanitizer build shares the cores with other work.  A build
# whose every step is slower (ThreadSanitizer: tests/CMakeLists.txt) sets
# a longer base unit in COIL_EXAMPLE_UNIT_MS, so that its fixed costs
# (starting the executor's threads, a 64 KiB write) weigh less in units.
set -u
expect=$1; shift
. "$(dirname "$0")/within.sh"
base_ms=${COIL_EXAMPLE_UNIT_MS:-100}
unit_ms=$(awk -v b="$base_ms" -v s="$(load_slack)" 'BEGIN { printf "%d", b * s }')
[ "$unit_ms" = "$base_ms" ] || echo "  load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores: a unit of $unit_ms ms"
first=$(head -n 1 "$expect")
if [[ $first == "@ "* ]]; then
  read -r _ sig sigre <<<"$first"
  log=$(mktemp)
  COIL_UNIT_MS=$unit_ms timeout 120 "$@" >"$log" 2>&1 &
  pid=$!
  # Wait for the program to say it is ready (bounded), then interrupt it.
  for _ in $(seq 3000); do
    grep -qE "$sigre" "$log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
  done
  pkill -"$sig" -P $pid 2>/dev/null
  wait $pid
  status=$?
  out=$(cat "$log")
  rm -f "$log"
else
  out=$(COIL_UNIT_MS=$unit_ms timeout 120 "$@" 2>&1)
  status=$?
fi
fail() { echo "run_example: $1"; echo "---- output:"; echo "$out"; exit 1; }
slack=$(load_slack)
[ "$slack" = "1.00" ] || echo "  load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores: windows ${slack}x as wide"
[ $status -eq 0 ] || fail "exit status $status"
mapfile -t lines <<<"$out"
pos=0
while IFS= read -r rule; do
  case $rule in
  "= "*)
    re=${rule#= }
    while [ $pos -lt ${#lines[@]} ] && ! [[ ${lines[$pos]} =~ $re ]]; do pos=$((pos + 1)); done
    [ $pos -lt ${#lines[@]} ] || fail "no line matching '$re' (in order)"
    pos=$((pos + 1)) ;;
  "~ "*)
    read -r _ lo hi label <<<"$rule"
    numre="^($label) *([0-9]+(\.[0-9]+)?)"
    while [ $pos -lt ${#lines[@]} ] && ! [[ ${lines[$pos]} =~ $numre ]]; do pos=$((pos + 1)); done
    [ $pos -lt ${#lines[@]} ] || fail "no line starting with '$label' and a number"
    v=${BASH_REMATCH[2]}
    hi=$(awk -v lo="$lo" -v hi="$hi" -v s="$slack" 'BEGIN { printf "%g", lo + (hi - lo) * s }')
    awk -v v="$v" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(v >= lo && v < hi) }' ||
      fail "'${lines[$pos]}': $v not in [$lo, $hi)"
    echo "  $label $v (want [$lo, $hi))"
    pos=$((pos + 1)) ;;
  "! "*)
    re=${rule#! }
    for l in "${lines[@]}"; do [[ $l =~ $re ]] && fail "forbidden line: $l"; done ;;
  ""|"#"*|"@ "*) ;;
  *) fail "bad rule in $expect: $rule" ;;
  esac
done <"$expect"
echo "1 passed, 0 failed"
