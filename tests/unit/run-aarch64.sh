#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run-aarch64.sh — cross-builds the runtime and its C unit tests for AArch64
# and runs them under qemu-aarch64, so the AArch64 switch is tested on x86-64.
# Called by `make check` when configure found aarch64-linux-gnu-gcc and qemu-aarch64.
set -eu
: "${AARCH64_CC:=aarch64-linux-gnu-gcc}"
: "${QEMU_AARCH64:=qemu-aarch64}"
: "${top_srcdir:=.}"
sysroot=/usr/aarch64-linux-gnu
out=$(mktemp -d "${TMPDIR:-/tmp}/costack-aarch64.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

# No sanitizers or valgrind on the cross build: an empty config.h.
: > "$out/config.h"
cflags="-O2 -g -pthread -Wall -Wextra -Wno-unused-parameter -Werror -I$out -I$top_srcdir/asm -I$top_srcdir/src"
lib_src="$top_srcdir/asm/coctx_aarch64.S"
for f in co_ctx co_env co_routine co_stack co_guard co_specific co_handoff tw co_fd co_epoll co_cond co_hook co_resolve co_envlist; do
    lib_src="$lib_src $top_srcdir/src/$f.c"
done

status=0
for t in test_coroutine test_shared_stack test_registers test_guard test_thread test_specific test_cycles test_tw test_loop test_hooks; do
    extra=
    [ "$t" = test_registers ] && extra="$top_srcdir/tests/unit/regs_aarch64.S -lm"
    # -rdynamic: the overflow report names the routine through dladdr
    $AARCH64_CC $cflags -rdynamic -o "$out/$t" "$top_srcdir/tests/unit/$t.c" $lib_src $extra -ldl
    if CO_TEST_CYCLES=100000 QEMU_LD_PREFIX=$sysroot "$QEMU_AARCH64" "$out/$t" > "$out/$t.log" 2>&1; then
        echo "PASS: aarch64 $t"
    else
        echo "FAIL: aarch64 $t"
        cat "$out/$t.log"
        status=1
    fi
done
exit $status
