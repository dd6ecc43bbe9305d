#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# instructions.sh — instructions the daemon executes per proxied request
# (valgrind --tool=callgrind, the whole process): redis-benchmark GET and SET,
# -n N each, -c 10, -r 1000, pipelined 16 deep and not pipelined, one worker
# and one redis-server, with RESP2 clients and with RESP3 clients (HELLO 3).
# Run it for two builds to compare them (bench/README.md).  POOL_EXTRA adds
# pool settings, e.g. the monitors off:
#   POOL_EXTRA='slowlog_slower_than = -1; hotkeys = false; bigkey_threshold = 0;'
# and BENCH_ARGS adds redis-benchmark arguments, e.g. a user with rules:
#   POOL_EXTRA='users = ( "default off", "bench on >pw ~other:* ~key:* -@all +@read +@write" );'
#   BENCH_ARGS='--user bench -a pw'
#   bench/instructions.sh [BUILD_DIR] [REQUESTS]
set -eu
build=${1:-build}
n=${2:-20000}
run=$(mktemp -d "${TMPDIR:-/tmp}/coproxy-instr.XXXXXX")
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$run"' EXIT INT TERM
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$run" >/dev/null 2>&1 &
pids="$pids $!"
for cfg in "16 2" "1 2" "16 3" "1 3"; do
    set -- $cfg
    pipeline=$1 proto=$2
    port=$(free_port)
    cat >"$run/c.conf" <<CONF
threads = 1;
log_level = "warn";
pools = ( { name = "p"; listen = "127.0.0.1:$port"; mode = "redis"; distribution = "ketama";
            hash = "fnv1a_64"; server_timeout = 5000; servers = ( "127.0.0.1:$rport:1 r" ); ${POOL_EXTRA:-} } );
CONF
    LD_LIBRARY_PATH="$build/.libs" valgrind -q --tool=callgrind \
        --callgrind-out-file="$run/cg.$pipeline.$proto" "$build/.libs/coproxy" -c "$run/c.conf" 2>/dev/null &
    vg=$!
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
    resp3=""
    [ "$proto" = 3 ] && resp3=-3
    redis-benchmark -p "$port" -t get,set -n "$n" -c 10 -P "$pipeline" -r 1000 $resp3 ${BENCH_ARGS:-} -q >/dev/null 2>&1
    kill -TERM $vg; wait $vg 2>/dev/null || true
    ir=$(grep -m1 '^summary:' "$run/cg.$pipeline.$proto" | awk '{print $2}')
    echo "RESP$proto -P $pipeline: $ir instructions, $(( ir / (2 * n) )) per request"
done
