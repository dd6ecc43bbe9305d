#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# test.sh — installs what the build and tests need (Debian 12, as root),
# builds coproxy and runs every test suite: gcc -Werror, clang, AddressSanitizer,
# valgrind, the AArch64 switch under qemu, and the integration tests (pytest,
# real daemon and servers on loopback).  The README's test command.
set -eu
cd "$(dirname "$0")/.."

. tools/deps.sh
install_deps $BUILD_DEPS valgrind clang gcc-aarch64-linux-gnu qemu-user python3-pytest \
    python3-redis redis-server redis-tools nutcracker mandoc man-db gnuplot-nox \
    debhelper dpkg-dev lintian libclang-rt-14-dev libfuzzer-14-dev $BPF_DEPS iproute2 nodejs socat curl \
    openssl
# (a NodeSource nodejs brings npm and conflicts with Debian's npm package)
command -v npm >/dev/null || install_deps npm

jobs=$(nproc 2>/dev/null || echo 2)
./bootstrap >/dev/null

build() {  # build DIR CONFIGURE-ARGS...: configure out of tree and build
    dir=$1; shift
    mkdir -p "$dir"
    (cd "$dir" && ../configure --enable-werror "$@" >/dev/null && make -s -j"$jobs" >/dev/null)
}

check() {  # check DIR MAKE-ARGS...: make check quietly; on failure show the logs
    dir=$1; shift
    if ! make -s -C "$dir" -j"$jobs" check "$@" >"$dir/check.out" 2>&1; then
        cat "$dir/check.out"
        cat "$dir/test-suite.log" 2>/dev/null || true
        exit 1
    fi
}

echo "== clang build (warnings are errors)"
build build-clang CC=clang CXX=clang++ --without-libsystemd   # the notify fallback compiles too
check build-clang

echo "== fuzzing: RESP requests, RESP replies, the config loader, the admin side (libFuzzer, ASan + UBSan, 60 s each)"
make -s -C build-clang fuzz FUZZ_TIME="${FUZZ_TIME:-60}"

echo "== AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer (built without BPF: that build passes the tests too)"
build build-asan --enable-asan --disable-bpf
check build-asan

echo "== valgrind (memcheck, leak check)"
build build --enable-bpf
CO_TEST_CYCLES=20000 check build TESTS="$(make -s -C build print-unit-tests)" \
    LOG_COMPILER=valgrind \
    AM_LOG_FLAGS="-q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"

echo "== gcc build, make check"
check build
tail -n 12 build/check.out

echo "== the daemon's call and include graphs go one way (tools/callgraph.py)"
/usr/bin/python3 tools/callgraph.py build

echo "== the Redis clients from npm that the integration tests run (node-redis, ioredis)"
(cd tests/integration/node && npm ci --no-audit --no-fund --silent)

echo "== integration tests against the ASan + UBSan build, without BPF (leak checks off: the daemon frees little at exit)"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 COPROXY_BUILD="$PWD/build-asan" /usr/bin/python3 -m pytest \
    -p no:cacheprovider -q --ignore=tests/integration/test_package.py --ignore=tests/integration/test_install.py \
    tests/integration

echo "== integration tests against the gcc build, with BPF (pytest: the real daemon on loopback)"
COPROXY_BUILD="$PWD/build" exec /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/integration
