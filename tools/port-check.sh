#!/usr/bin/env bash
# tools/port-check.sh PRESET — the porting kit's checklist (docs/porting.md).
#
# Builds one preset of CMakePresets.json (release, fcontext, aarch64,
# aarch64-bti, riscv64, aarch64-fcontext, ppc64le, ppc64le-fcontext,
# s390x, or a new CPU's), runs the conformance tests under the preset's
# emulator (ctest knows it: CMAKE_CROSSCOMPILING_EMULATOR in the toolchain
# file), and prints one line per promise of include/coil/ctx.h with PASS,
# FAIL, SKIP (the test said why) or ----- (this build has no such test,
# e.g. gdb in a cross build).
# Exits non-zero when any line failed.  The whole suite is
# `cmake --workflow --preset PRESET`; this is the part a port is about.
set -uo pipefail
preset=${1:?usage: tools/port-check.sh PRESET (e.g. riscv64)}
cd "$(dirname "$0")/.."
case $preset in    # fcontext presets link Debian's Boost for the CPU (and
                   # switch-insns.sh compares ppc64le's port with Boost's)
  aarch64-fcontext) ./tools/cross-boost.sh arm64 || exit 1 ;;
  ppc64le|ppc64le-*) ./tools/cross-boost.sh ppc64el || exit 1 ;;
  s390x) ./tools/cross-boost.sh s390x || exit 1 ;;
esac
dir=build/$preset
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "port-check: building $preset"
cmake --preset "$preset" -DCOIL_CROSS_TEST_SCALE=1 >"$log" 2>&1 &&
  cmake --build "$dir" -j2 --target ctx_test coro_test coil_static >>"$log" 2>&1 ||
  { cat "$log"; echo "port-check: $preset does not build"; exit 1; }
# Defined in native builds with gdb only.
cmake --build "$dir" --target gdb_target >/dev/null 2>&1
backend=$(sed -n 's/^COIL_CTX_BACKEND:[A-Z]*=//p' "$dir/CMakeCache.txt")
# The toolchain file sets the CPU without caching it; CMake's own record
# of the target system has it.
cpu=$(sed -n 's/^set(CMAKE_SYSTEM_PROCESSOR "\(.*\)")$/\1/p' \
        "$dir"/CMakeFiles/*/CMakeSystem.cmake 2>/dev/null | head -1)
# -V puts each test's own "ok name" / "FAIL name" / "skip name" lines in the
# log, prefixed by the test's number.
ctest --test-dir "$dir" -V -R '^(ctx|coro|elf_notes|gdb_backtrace)$' >"$log" 2>&1

# result TEST_OR_CASE...: the worst of the named cases (ctx_test and
# coro_test print "ok NAME", "FAIL NAME", "skip NAME") or, for a whole ctest
# entry, its "Passed"/"Failed" line.
result() {
  local worst=----- r c
  for c in "$@"; do
    if grep -qE "^[0-9]+: FAIL +$c\$" "$log"; then r=FAIL
    elif grep -qE "^[0-9]+: ok +$c\$" "$log"; then r=PASS
    elif grep -qE "^[0-9]+: skip +$c\$" "$log"; then r=SKIP
    elif grep -qE "Test +#[0-9]+: $c \.+ +Passed" "$log"; then r=PASS
    elif grep -qE "Test +#[0-9]+: $c \.+.*(Failed|Exception|Timeout)" "$log"; then r=FAIL
    else continue
    fi
    case $worst/$r in
      FAIL/*|*/FAIL) worst=FAIL ;;
      SKIP/*|*/SKIP) worst=SKIP ;;
      *) worst=PASS ;;
    esac
  done
  echo "$worst"
}

failed=0
line() {   # line LABEL CASE...
  local r
  r=$(result "${@:2}")
  [ "$r" = FAIL ] && failed=1
  printf '  %-5s %s\n' "$r" "$1"
}

echo "port-check: $preset ($cpu, backend $backend)"
line "callee-saved registers, integer and FP/SIMD, survive both switches" \
  every_callee_saved_register_survives_a_switch \
  every_callee_saved_register_survives_a_nofp_switch
line "ppc64le: each context keeps its own TOC pointer (r2)" \
  each_context_keeps_its_own_toc_pointer
line "values cross a switch both ways; many contexts in a ring" \
  values_cross_a_switch_in_both_directions token_passes_round_a_ring_of_many_contexts
line "FP control state: per context (full switch), policy as documented" \
  full_switch_keeps_fp_control_state_per_context \
  fp_policy_reads_sets_and_rejects_bad_values
line "FP control state: the nofp switch's promise (ctx.h point 2 / 10)" \
  nofp_switch_lets_fp_control_state_flow_with_the_thread \
  context_saved_by_nofp_has_no_fp_state_of_its_own \
  nofp_switch_fp_control_state_is_not_promised_under_fcontext
line "inline switch keeps the caller's values and red zone" \
  inline_switch_keeps_every_value_the_caller_holds \
  inline_switch_spares_the_red_zone inline_and_out_of_line_switches_resume_each_other
line "entry: aligned stack, data and arg (and a zero frame pointer, native)" \
  entry_gets_aligned_stack_zero_frame_pointer_data_and_arg
line "make: writes only its frame, rejects bad arguments (EINVAL)" \
  make_writes_only_its_frame_at_the_top make_rejects_bad_arguments_with_einval
line "an entry function that returns: to link, or abort with a message" \
  entry_return_switches_to_link_with_the_value \
  entry_return_without_link_aborts_with_a_message
line "deep recursion on a context's stack" recursion_using_most_of_the_stack_succeeds
line "100,000 live coroutines switched round robin" \
  hundred_thousand_live_coroutines_switched_round_robin
line "unwinding ends at a fresh context's entry: backtrace()" \
  backtrace_inside_a_coroutine_ends_at_its_entry
line "frame-pointer chain ends with zero in a coroutine" \
  frame_pointer_chain_ends_with_zero_inside_a_coroutine
line "unwinding in gdb (native builds with gdb only)" gdb_backtrace
line "landing pads, property notes, no executable stack" elf_notes
line "the backend is the one the header was configured for" \
  backend_is_the_one_the_header_was_configured_for
if [ $failed -ne 0 ]; then
  echo "port-check: failures; the tests' own output:"
  grep -E "^[0-9]+: .*(check failed|FAIL)" "$log" | head -20
  exit 1
fi
echo "port-check: $preset passes"
