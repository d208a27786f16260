#!/usr/bin/env bash
# The switch's object file carries what ctx.h point 7 promises:
#   - a .note.GNU-stack section, so nothing linked with coil gets an
#     executable stack (checked on a linked test program too);
#   - x86_64: a GNU property note claiming IBT and not SHSTK, and endbr64 as
#     the first instruction of every entry point and of the start routine;
#   - aarch64: a BTI landing pad first in every entry point, and a BTI
#     claim only by a switch that resumes with ret (a BR may not land on a
#     C return address on guarded pages; ctx.h point 7);
#   - riscv64: no landing pads to check (Zicfilp is beyond rv64gc and
#     Debian 12's toolchain): the GNU-stack checks only;
#   - ppc64le: no landing pads either (Power has no indirect-branch
#     targets to mark): the GNU-stack checks only.
# Over the fcontext backend (ctx.h point 10) coil has no switch of its own
# to mark: the GNU-stack checks only, on asm/fcontext.c's object.
# Arguments: archive (libcoil.a), a linked program, objdump, readelf, cpu,
# backend (native or fcontext).
set -eu
archive=$1 program=$2 objdump=$3 readelf=$4 cpu=$5 backend=${6:-native}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
ar x "$archive"
if [ "$backend" = fcontext ]; then
  obj=$(ls | grep -E '^fcontext\.c\.o$')
else
  obj=$(ls | grep -E '(x86_64_sysv|aarch64_aapcs|riscv64_lp64d|ppc64le_elfv2)\.S\.o$')
fi
fail() { echo "elf_notes: $*"; exit 1; }

"$readelf" -SW "$obj" | grep -q '\.note\.GNU-stack' || fail "no .note.GNU-stack in $obj"
"$readelf" -lW "$program" | grep GNU_STACK | grep -q 'RWE' && fail "executable stack in $program"

if [ "$backend" = fcontext ]; then
  echo "elf_notes: ok ($obj; fcontext: Boost's switch carries no marks, ctx.h point 10)"
  echo "1 passed, 0 failed"
  exit 0
fi

case $cpu in
x86_64)
  notes=$("$readelf" -n "$obj")
  grep -q 'x86 feature: IBT' <<<"$notes" || fail "no IBT property"
  grep -q 'SHSTK' <<<"$notes" && fail "claims SHSTK without switching shadow stacks"
  pad=endbr64 ;;
aarch64)
  pad='bti'
  resumes=$("$objdump" -d --no-show-raw-insn "$obj" |
            awk '$2 == "<coil_ctx_switch>:" {on = 1; next} on && /^$/ {exit}
                 on && ($2 == "ret" || $2 == "br") {print $2; exit}')
  if "$readelf" -n "$obj" | grep -q 'AArch64 feature: BTI'; then
    [ "$resumes" = ret ] || fail "claims BTI but coil_ctx_switch resumes with '$resumes'"
    echo "elf_notes: claims BTI, coil_ctx_switch resumes with ret"
  else
    [ "$resumes" = br ] || fail "no BTI claim, yet coil_ctx_switch resumes with '$resumes', not br"
  fi ;;
riscv64|ppc64le|powerpc64le)
  echo "elf_notes: ok ($obj; $cpu has no landing pads to check)"
  echo "1 passed, 0 failed"
  exit 0 ;;
*) fail "unknown cpu $cpu" ;;
esac

for fn in coil_ctx_switch coil_ctx_switch_nofp coil_ctx_make coil_ctx_start; do
  first=$("$objdump" -d --no-show-raw-insn "$obj" |
          awk -v f="<$fn>:" '$2 == f {getline; print; exit}')
  grep -q "$pad" <<<"$first" || fail "$fn does not start with $pad: $first"
done
echo "elf_notes: ok ($obj)"
echo "1 passed, 0 failed"
