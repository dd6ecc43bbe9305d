#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# shared_curve.sh — instructions per shared-stack round trip at every size of
# saved frames (16 bytes apart, to 4 KiB) against libaco's curve measured the
# same way (bench/libaco_instructions.dat); fails if any size costs more.
# Usage: bench/shared_curve.sh [BUILD_DIR] [OUT.dat]   (needs valgrind)
set -eu
build=${1:-build}
out=${2:-}
here=$(dirname "$0")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/costack-curve.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$build/bench/switch" sweep >"$tmp/log" 2>&1
trips=$(sed -n 's/^callgrind: \([0-9]*\) round trips per case$/\1/p' "$tmp/log")
for f in "$tmp"/cg.*; do
    awk -v trips="$trips" '
        /^desc: Trigger: Client Request: shared\// { split($NF, a, "/"); bytes = a[2] }
        /^totals:/ { total = $2 }
        END { if (bytes != "") printf "%d %.1f\n", bytes, total / trips }' "$f"
done | sort -n >"$tmp/ours"
[ -n "$out" ] && { echo "# saved_bytes instructions (libcostack, bench/shared_curve.sh)"; cat "$tmp/ours"; } >"$out"

# libaco's figure at each of our sizes: linear between its measured points
awk '
    FNR == NR { if ($1 !~ /^#/ && NF == 2) { x[n] = $1; y[n] = $2; n++ } next }
    {
        b = $1; ours = $2
        if (b <= x[0]) aco = y[0]
        else if (b >= x[n - 1]) aco = y[n - 1]
        else for (i = 1; i < n; i++) if (b <= x[i]) { aco = y[i-1] + (y[i] - y[i-1]) * (b - x[i-1]) / (x[i] - x[i-1]); break }
        r = ours / aco
        if (r > worst) { worst = r; at = b }
        if (b == 80 || b == 128 || b == 208 || b == 304 || b == 496 || b == 1008 || b == 2000 || b == 4000 || b == 4096)
            printf "  %6d B  %8.1f  libaco %8.1f  %5.2fx\n", b, ours, aco, r
        count++
    }
    END {
        printf "%d sizes; the most against libaco: %.2fx at %d B\n", count, worst, at
        exit worst > 1.0
    }' "$here/libaco_instructions.dat" "$tmp/ours"
