#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# test_echo.sh — 5,000 connections open at once to the example echo server,
# each verifying every byte it gets back; all coroutines on shared stacks.
set -u
builddir=${top_builddir:-.}
out=$(mktemp "${TMPDIR:-/tmp}/costack-echo.XXXXXX")
"$builddir/examples/echo_server" -p 0 >"$out" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$out"' EXIT INT TERM
port=
for i in $(seq 1 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "echo_server did not start:"; cat "$out"
    exit 1
fi
# the client process holds 5,000 sockets, the server another 5,000
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 5100 ]; then
    echo "hard fd limit $(ulimit -Hn) is below the 5,100 this test needs"
    exit 1
fi
"$builddir/examples/echo_client" -p "$port" -c 5000 -n 20 -m 100
