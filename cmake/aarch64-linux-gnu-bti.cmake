# The aarch64 cross build with branch protection, as a distribution that
# turns it on would build: every object BTI- and PAC-marked
# (-mbranch-protection=standard), and no call to libgcc's outline-atomics
# helpers (-mno-outline-atomics): Debian 12's libgcc.a is unmarked, and one
# unmarked object linked in turns BTI off for the whole program.  Tests run
# under `qemu-aarch64 -cpu max`, a CPU with BTI, which then enforces it on
# the pages of every marked program and library.  The aarch64-bti preset
# adds coil's own start files (COIL_OWN_STARTFILES; docs/testing.md).
include(${CMAKE_CURRENT_LIST_DIR}/aarch64-linux-gnu.cmake)
set(CMAKE_C_FLAGS_INIT "-mbranch-protection=standard -mno-outline-atomics")
set(CMAKE_ASM_FLAGS_INIT "-mbranch-protection=standard")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-cpu;max;-L;/usr/aarch64-linux-gnu)
