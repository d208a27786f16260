# tests/within.sh — sourced by the shell tests: time windows on a busy
# machine.  CI is never promised an idle one, so an upper bound widens by
# the 1-minute load average per core (1x to 4x); lower bounds never move
# (a wait is never shorter under load).  tests/check.h's within() is the
# same rule for the C tests.

# The factor, e.g. 1.00 on an idle machine.
load_slack() {
  awk -v n="$(nproc)" '{ s = $1 / n; if (s < 1) s = 1; if (s > 4) s = 4;
                         printf "%.2f", s }' /proc/loadavg
}

# within V LO HI: LO <= V < HI, HI widened by load_slack.
within() {
  awk -v v="$1" -v lo="$2" -v hi="$3" -v s="$(load_slack)" \
      'BEGIN { exit !(v >= lo && v < lo + (hi - lo) * s) }'
}
