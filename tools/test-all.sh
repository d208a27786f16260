#!/usr/bin/env bash
# tools/test-all.sh — the one test command: installs what it needs, then
# builds and runs the suite eleven ways (CMakePresets.json):
#   release   native, plus valgrind, gdb and install checks
#   fcontext  over the fcontext backend (Boost.Context's switch): the
#             core suites, README's example, the installed package
#             (its link line names Boost), task dumps and chaos
#   asan      Debug with AddressSanitizer + UndefinedBehaviorSanitizer
#   aarch64   cross-built, every test run under qemu-aarch64
#   riscv64   cross-built (coil's own riscv64 port), every test run under
#             qemu-riscv64
#   aarch64-bti  built with -mbranch-protection=standard and linked with
#             coil's own marked start files, so the programs are BTI-marked;
#             the switch, coroutine, task, loop, IO and thread suites and a
#             SIGILL check run under qemu-aarch64 -cpu max, which enforces BTI
#   aarch64-fcontext  the switch, coroutine, task, sync and IO suites over
#             fcontext, under qemu-aarch64 (the backend is layer 0: the x86
#             fcontext preset runs the layers above it too)
#   ppc64le-core  cross-built (coil's own ELFv2 port), under qemu-ppc64le:
#             the core suites (the conformance suite, ctx, and the layers
#             built on it), without examples and benchmarks.  The preset
#             ppc64le runs the whole suite (it passes: 53 s of tests more
#             when measured, plus building the examples and benchmarks)
#   ppc64le-fcontext  the switch, coroutine, task, sync and IO suites over
#             fcontext: Boost's ppc64le switch misses registers that coil's
#             fcontext backend saves around it, and this keeps that tested
#   s390x     the core suites over fcontext (Debian's Boost.Context for the
#             CPU, tools/cross-boost.sh; s390x has no coil port), under qemu
#   tsan      Debug with ThreadSanitizer over the thread, sync, loop, task
#             and IO suites (ThreadSanitizer counts each coroutine against
#             its 8,128-thread limit, so the 100,000-coroutine and
#             10,000-connection tests stay out)
#   clang     Release built with clang, the core suites (what one compiler
#             keeps and another folds away differs: clang once shrank a
#             test's 64 KiB frame to one byte)
# then 60 s of each fuzzer, the API one and the streams one (tools/fuzz.sh;
# COIL_FUZZ_SECONDS=0 skips them),
# counted as one more passed or failed entry.
# Ends with one line "N passed, N failed" (ctest entries summed over the
# presets, the fuzz run counted as one), after a ctest-style summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
coil_need cmake make gcc g++ pkg-config libboost-context-dev gdb valgrind \
          qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
          gcc-riscv64-linux-gnu libc6-dev-riscv64-cross \
          gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross \
          gcc-s390x-linux-gnu libc6-dev-s390x-cross \
          python3 redis-server libhiredis-dev clang \
          libcurl4-openssl-dev libpq-dev postgresql libssl-dev openssl \
          libevent-dev libdw1 gdb-multiarch liburing-dev libboost-fiber-dev || exit 1
# (redis-server and hiredis are for examples/16 and its test; they, curl,
# libpq + PostgreSQL and OpenSSL for the hook layer's tests against real
# servers (tests/hook_libs_test.sh), libevent for the hiredis benchmark;
# libdw1 (elfutils) gives task dumps their static function names and
# file:line (loaded at run time when present: tests/dump_test.c passes
# without it too, naming exported functions with dladdr); gdb-multiarch
# runs tools/gdb/coil-gdb.py on the aarch64 build through qemu's gdbstub;
# liburing for file IO on io_uring (the file suite runs once on it and
# once on the executor).
# All natively only: the libraries are installed for the build machine,
# not for arm64 or riscv64, so the cross builds find none and leave those
# out.)

presets=${COIL_PRESETS:-release fcontext asan aarch64 aarch64-bti aarch64-fcontext riscv64 ppc64le-core ppc64le-fcontext s390x tsan clang}
passed=0 failed=0 broken=()
for preset in $presets; do
  echo "==== $preset"
  case $preset in   # Boost.Context for the CPU, unpacked beside the build
    aarch64-fcontext) ./tools/cross-boost.sh arm64 ;;
    ppc64le|ppc64le-*) ./tools/cross-boost.sh ppc64el ;;
    s390x) ./tools/cross-boost.sh s390x ;;
  esac
  log=$(mktemp)
  cmake --workflow --preset "$preset" --fresh 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  # ctest's summary: "100% tests passed, 0 tests failed out of 13"
  summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  rm -f "$log"
  if [ -z "$summary" ]; then
    echo "coil: $preset did not get as far as running its tests"
    broken+=("$preset"); failed=$((failed + 1)); continue
  fi
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
  t=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
  passed=$((passed + t - f)); failed=$((failed + f))
  [ "$status" -eq 0 ] || broken+=("$preset")
done
fuzz_seconds=${COIL_FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" -gt 0 ]; then
  echo "==== fuzz ($fuzz_seconds s)"
  if ./tools/fuzz.sh "$fuzz_seconds"; then
    passed=$((passed + 1))
  else
    broken+=(fuzz); failed=$((failed + 1))
  fi
fi
[ ${#broken[@]} -eq 0 ] || echo "coil: failing presets: ${broken[*]}"
echo "$((passed * 100 / ((passed + failed) > 0 ? passed + failed : 1)))% tests passed, $failed tests failed out of $((passed + failed))"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
