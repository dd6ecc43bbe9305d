#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run.sh — runs the runtime's benchmarks and prints their figures.
# Usage: bench/run.sh [BUILD_DIR]   (default: build; run ./configure && make there first)
set -eu
build=${1:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/costack-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
uname -m; grep -m1 'model name' /proc/cpuinfo 2>/dev/null || true

echo
echo "== bench/switch: wall clock, best of 5 runs per case"
"$build/bench/switch"

echo
echo "== bench/switch under callgrind: instructions per resume+yield round trip"
if command -v valgrind >/dev/null; then
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$build/bench/switch" >"$tmp/log" 2>&1
    trips=$(sed -n 's/^callgrind: \([0-9]*\) round trips per case$/\1/p' "$tmp/log")
    for f in "$tmp"/cg.*; do
        awk -v trips="$trips" '
            /^desc: Trigger: Client Request:/ { name = $NF }
            /^totals:/ { total = $2 }
            END { if (name != "") printf "  %-14s %8.1f\n", name, total / trips }' "$f"
    done
else
    echo "  (valgrind not installed)"
fi

echo
echo "== bench/park: coroutines parked on shared stacks"
for n in 1000000 10000000; do
    "$build/bench/park" "$n"
done

echo
echo "== bench/stacks: coroutines on private 128 KiB stacks"
need=265000
have=$(cat /proc/sys/vm/max_map_count)
if [ "$have" -lt "$need" ] && [ "$(id -u)" = 0 ]; then
    # two mappings per stack (stack + guard page): raise the limit for this run
    sysctl -q -w vm.max_map_count=$need
    "$build/bench/stacks" 100000 || true
    sysctl -q -w vm.max_map_count="$have"
else
    "$build/bench/stacks" 100000 || true
fi

echo
echo "== bench/timer: timing wheel operations"
"$build/bench/timer"

echo
echo "== bench/echo: CPU per message, coroutine echo server vs hand-written epoll server"
"$build/bench/echo" "$build/examples/echo_server" "$build/bench/echo_epoll"
