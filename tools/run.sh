#!/bin/sh
# run.sh — installs what coproxy needs (Debian 12, as root), builds it, and runs
# it in the foreground in front of two local echo servers on loopback.
# The README's run command.  Ctrl-C stops everything it started.
set -eu
cd "$(dirname "$0")/.."

. tools/deps.sh
install_deps $BUILD_DEPS socat
./bootstrap >/dev/null
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >/dev/null; } && make -s -j"$(nproc)" >/dev/null)

port=${PORT:-22122}
b1=${BACKEND1:-22201}
b2=${BACKEND2:-22202}
run=$(mktemp -d "${TMPDIR:-/tmp}/coproxy-run.XXXXXX")
build/examples/echo_server -p "$b1" >"$run/backend1.log" 2>&1 &
pid1=$!
build/examples/echo_server -p "$b2" >"$run/backend2.log" 2>&1 &
pid2=$!
trap 'kill $pid1 $pid2 2>/dev/null; rm -rf "$run"' EXIT INT TERM
cat >"$run/coproxy.conf" <<CONF
threads = "auto";
log_level = "info";
pools = (
  {
    name = "echo";
    listen = "127.0.0.1:$port";
    mode = "tcp";
    balance = "roundrobin";
    client_idle_timeout = 60000;
    servers = ( "127.0.0.1:$b1:1 echo-a", "127.0.0.1:$b2:1 echo-b" );
  }
);
CONF
cat <<MSG
coproxy (tcp mode) on 127.0.0.1:$port, in front of two echo servers on ports $b1 and $b2.
Try it from another terminal:
    echo hello | socat - TCP:127.0.0.1:$port
    build/examples/echo_client -p $port -c 1000 -n 100
Ctrl-C stops it (SIGTERM drains open connections first).
MSG
build/coproxy -c "$run/coproxy.conf"
