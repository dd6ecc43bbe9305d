#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run.sh — runs the benchmarks, prints their figures and writes the headline ones as data files and charts.
# Usage: bench/run.sh [BUILD_DIR] [CHART_DIR]
#   BUILD_DIR  default build (run ./configure && make there first)
#   CHART_DIR  where the data files (*.dat) and, with gnuplot, the charts (*.png,
#              bench/charts.gp) go; default BUILD_DIR/charts.  bench/charts is
#              the set the README shows: name it to refresh that set.
# Environment:
#   BENCH_ONLY      the sections to run, of: switch park stacks timer echo redis tcp tls
#                   (default: switch park stacks timer echo, the runtime's)
#   BENCH_PROXY=1   adds redis, tcp and tls to the default: bench/redis.py, bench/tcp.py and
#                   bench/tls.py, minutes each (needs redis-server, redis-tools, nutcracker,
#                   haproxy, openssl)
#   BENCH_REDIS     "REQUESTS ROUNDS" for bench/redis.py (default its own, 200000 2)
#   BENCH_TCP       "SECONDS ROUNDS" for bench/tcp.py (default its own, 5 3)
#   BENCH_SWITCH_N  round trips per case of bench/switch's wall clock (default its own, 10,000,000)
set -eu
build=${1:-build}
out=${2:-$build/charts}
here=$(dirname "$0")
sections=${BENCH_ONLY:-switch park stacks timer echo}
[ "${BENCH_PROXY:-0}" = 1 ] && [ -z "${BENCH_ONLY:-}" ] && sections="$sections redis tcp tls"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/costack-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$out"
uname -m; grep -m1 'model name' /proc/cpuinfo 2>/dev/null || true

want() {  # want SECTION: whether this run includes it
    case " $sections " in *" $1 "*) return 0 ;; esac
    return 1
}

# The machine and the day, the first line of every data file (bench/benchutil.py's machine() for the Python ones).
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
machine="${model:-$(uname -m)}, $(nproc) CPUs, $(uname -m), $(date +%Y-%m-%d)"

dat() {  # dat FILE RUN COLUMNS: starts a data file (notes, column names); the rows follow on stdin
    { echo "# machine: $machine"; echo "# run: $2"; echo "# $3"; cat; } >"$1"
}

if want switch; then
    echo
    echo "== bench/switch: wall clock, best of 5 runs per case"
    "$build/bench/switch" ${BENCH_SWITCH_N:+"$BENCH_SWITCH_N"} | tee "$tmp/switch"
    run="bench/switch ${BENCH_SWITCH_N:-10000000}, wall clock, best of 5 runs"
    awk '/^libcostack private stack / { print "\"private stack\"", $(NF - 1) }
         /^libcostack shared stack, no copy / { print "\"shared stack, no copy\"", $(NF - 1) }
         /^glibc swapcontext / { print "swapcontext", $(NF - 1) }' "$tmp/switch" |
        dat "$out/switch.dat" "$run" "case ns_per_roundtrip"
    awk '/live B/ { on = 1; next }
         on && NF == 4 && $1 ~ /^[0-9]+$/ { print $2, $3, $4, $1 }' "$tmp/switch" |
        dat "$out/shared_stack.dat" "$run" \
            "saved_bytes ns_per_roundtrip libaco_published_ns_interpolated live_bytes"
    {   # not measured here: libaco's own figures, as bench/switch prints them
        echo "# machine: AWS c5d.large"
        echo "# run: libaco's README, ns per aco_resume round trip"
        echo "# copy_stack_bytes ns_per_roundtrip"
        awk '/^\(\*\) libaco/ { sub(/.*points: /, ""); n = split($0, p, ", ")
                                for (i = 1; i <= n; i++) { split(p[i], q, " "); print q[1], q[3] } }' "$tmp/switch"
    } >"$out/libaco_published.dat"

    echo
    echo "== bench/switch under callgrind: instructions per resume+yield round trip"
    if ! command -v valgrind >/dev/null; then
        echo "  (valgrind not installed)"
    elif ! valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$build/bench/switch" >"$tmp/log" 2>&1; then
        echo "  (valgrind cannot run $build/bench/switch: a sanitizer build?)"
    else
        trips=$(sed -n 's/^callgrind: \([0-9]*\) round trips per case$/\1/p' "$tmp/log")
        # one profile per case; in order: private, shared/0, shared/N by size, swapcontext
        for f in "$tmp"/cg.*; do
            awk -v trips="$trips" '
                /^desc: Trigger: Client Request:/ { name = $NF }
                /^totals:/ { total = $2 }
                END { if (name != "") printf "%s %.1f\n", name, total / trips }' "$f"
        done | awk '{ print ($1 == "private" ? -1 : $1 == "swapcontext" ? 1e9 : substr($1, 8) + 0), $0 }' |
            sort -n -k1,1 | cut -d' ' -f2- >"$tmp/instructions"
        awk '{ printf "  %-14s %8.1f\n", $1, $2 }' "$tmp/instructions"
        awk '$1 == "private" { print "\"private stack\"", $2 }
             $1 == "shared/0" { print "\"shared stack, no copy\"", $2 }
             $1 == "swapcontext" { print "swapcontext", $2 }' "$tmp/instructions" |
            dat "$out/switch_instructions.dat" "bench/switch under callgrind, exact" "case instructions_per_roundtrip"

        echo
        echo "== bench/shared_curve.sh: instructions at every size of saved frames, against libaco's"
        "$here/shared_curve.sh" "$build" "$out/shared_stack_instructions.dat" ||
            echo "  (some size costs more than libaco's)"
        cp "$here/libaco_instructions.dat" "$out/libaco_instructions.dat" 2>/dev/null || true
    fi
fi

if want park; then
    echo
    echo "== bench/park: coroutines parked on shared stacks"
    for n in 1000000 10000000; do
        "$build/bench/park" "$n"
    done
fi

if want stacks; then
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
fi

if want timer; then
    echo
    echo "== bench/timer: timing wheel operations"
    "$build/bench/timer"
fi

if want echo; then
    echo
    echo "== bench/echo: CPU per message, coroutine echo server vs hand-written epoll server"
    "$build/bench/echo" "$build/examples/echo_server" "$build/bench/echo_epoll"
fi

if want redis; then
    echo
    echo "== bench/redis.py: redis mode against twemproxy and Redis directly"
    # shellcheck disable=SC2086 # BENCH_REDIS is two words
    python3 "$here/redis.py" "$build" ${BENCH_REDIS:-} --data "$out/redis.dat" || echo "  (bench/redis.py failed)"
fi

if want tcp; then
    echo
    echo "== bench/tcp.py: tcp mode against HAProxy and relay_epoll"
    # shellcheck disable=SC2086 # BENCH_TCP is two words
    python3 "$here/tcp.py" "$build" ${BENCH_TCP:-} --data "$out/tcp.dat" || echo "  (bench/tcp.py failed)"
fi

if want tls; then
    echo
    echo "== bench/tls.py: TLS against HAProxy (handshakes, bulk, idle memory) and redis over TLS"
    python3 "$here/tls.py" "$build" || echo "  (bench/tls.py failed)"
fi

echo
echo "== charts: $out"
if command -v gnuplot >/dev/null; then
    gnuplot -e "dir='$out'" "$here/charts.gp"
    for f in "$out"/*.png; do
        if [ -e "$f" ]; then echo "  $f"; fi
    done
else
    echo "  (gnuplot not installed: the data files only)"
fi
