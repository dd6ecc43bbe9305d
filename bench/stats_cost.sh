#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# stats_cost.sh — what statistics cost a worker: callgrind instructions per
# proxied GET in the worker thread, with the admin socket polled (STATS every
# 100 ms) and not polled, same load (redis-benchmark -n N -c 10, one worker).
#   bench/stats_cost.sh [BUILD_DIR] [REQUESTS]
set -eu
build=${1:-build}
n=${2:-20000}
run=$(mktemp -d "${TMPDIR:-/tmp}/coproxy-stats.XXXXXX")
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$run"' EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$run" >/dev/null 2>&1 &
pids="$pids $!"
for mode in not-polled polled; do
    port=$(free_port)
    cat >"$run/c.conf" <<CONF
threads = 1;
log_level = "warn";
admin = { socket = "$run/admin.sock"; };
pools = ( { name = "p"; listen = "127.0.0.1:$port"; mode = "redis"; servers = ( "127.0.0.1:$rport:1 r" ); } );
CONF
    LD_LIBRARY_PATH="$build/.libs" valgrind -q --tool=callgrind --separate-threads=yes \
        --callgrind-out-file="$run/cg.$mode" "$build/.libs/coproxy" -c "$run/c.conf" 2>/dev/null &
    vg=$!
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
    poller=""
    if [ "$mode" = polled ]; then
        (while :; do redis-cli -s "$run/admin.sock" STATS >/dev/null 2>&1; sleep 0.1; done) &
        poller=$!
    fi
    redis-benchmark -p "$port" -t get -n "$n" -c 10 -q >/dev/null 2>&1
    [ -n "$poller" ] && kill "$poller"
    kill -INT $vg; wait $vg 2>/dev/null || true
    # the worker is the thread named w0: the callgrind part with the most instructions
    ir=$(for f in "$run"/cg.$mode-*; do grep -m1 '^summary:' "$f" | awk '{print $2}'; done | sort -n | tail -1)
    echo "$mode: worker thread $ir instructions, $(( ir / n )) per request"
done
