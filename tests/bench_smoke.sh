#!/usr/bin/env bash
# Run coil_bench --quick (arguments: the command, emulator first if any) and
# check the JSON holds a row for every bench and implementation it must.
set -eu
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$@" --quick --json "$json" >/dev/null
for row in '"bench": "switch", "impl": "coil"' '"bench": "switch", "impl": "coil_nofp"' \
           '"bench": "switch", "impl": "ucontext"' '"bench": "switch", "impl": "pthread"' \
           '"bench": "create_destroy_pooled"' '"bench": "create_destroy_fresh"' \
           '"rss_bytes_per_coroutine"'; do
  grep -q "$row" "$json" || { echo "bench_smoke: no $row in:"; cat "$json"; exit 1; }
done
echo "1 passed, 0 failed"
