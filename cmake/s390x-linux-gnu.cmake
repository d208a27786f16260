# Cross build for s390x Linux with Debian's gcc-s390x-linux-gnu and
# libc6-dev-s390x-cross; tests run under qemu-s390x (Debian qemu-user) against
# the cross libc.  coil has no native port for this CPU: it builds with the
# fcontext backend over Debian's Boost.Context for s390x, which
# tools/cross-boost.sh unpacks into build/sysroot/s390x.  coil links its
# libboost_context.a, so the test programs need no Boost at run time.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/s390x-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(COIL_BOOST_CONTEXT_LIB
    ${CMAKE_CURRENT_LIST_DIR}/../build/sysroot/s390x/usr/lib/s390x-linux-gnu/libboost_context.a
    CACHE FILEPATH "Boost.Context for s390x (tools/cross-boost.sh)")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x;-L;/usr/s390x-linux-gnu)
