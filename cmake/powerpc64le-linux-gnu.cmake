# Cross build for ppc64le Linux with Debian's gcc-powerpc64le-linux-gnu and
# libc6-dev-ppc64el-cross; tests run under qemu-ppc64le (Debian qemu-user) against
# the cross libc.  coil's own port (asm/ppc64le_elfv2.S) is the default; with
# -DCOIL_CTX_BACKEND=fcontext (preset ppc64le-fcontext) coil builds over
# Debian's Boost.Context for ppc64el instead, which tools/cross-boost.sh
# unpacks into build/sysroot/ppc64el.  coil links its libboost_context.a,
# so the test programs need no Boost at run time.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ppc64le)
set(CMAKE_C_COMPILER powerpc64le-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER powerpc64le-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/powerpc64le-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(COIL_BOOST_CONTEXT_LIB
    ${CMAKE_CURRENT_LIST_DIR}/../build/sysroot/ppc64el/usr/lib/powerpc64le-linux-gnu/libboost_context.a
    CACHE FILEPATH "Boost.Context for ppc64le (tools/cross-boost.sh)")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-ppc64le;-L;/usr/powerpc64le-linux-gnu)
