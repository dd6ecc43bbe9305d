#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# run.sh — installs what coproxy needs (Debian 12, as root), builds it, and runs
# it in the foreground: redis mode in front of two local redis-servers (in
# plaintext, and over TLS with a certificate made here), and tcp mode in
# front of two local echo servers, all on loopback.
# The README's run command.  Ctrl-C stops everything it started.
set -eu
cd "$(dirname "$0")/.."

. tools/deps.sh
install_deps $BUILD_DEPS $BPF_DEPS redis-server redis-tools socat curl openssl   # (curl: the hint below)
./bootstrap >/dev/null
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure >/dev/null; } && make -s -j"$(nproc)" >/dev/null)

port=${PORT:-22121}
tport=${TCP_PORT:-22122}
sport=${TLS_PORT:-22123}
aport=${ADMIN_PORT:-22190}
r1=${REDIS1:-22301}
r2=${REDIS2:-22302}
b1=${BACKEND1:-22201}
b2=${BACKEND2:-22202}
run=$(mktemp -d "${TMPDIR:-/tmp}/coproxy-run.XXXXXX")
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$run"' EXIT INT TERM
for p in "$r1" "$r2"; do
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --dir "$run" \
        >"$run/redis-$p.log" 2>&1 &
    pids="$pids $!"
done
build/examples/echo_server -p "$b1" >"$run/echo1.log" 2>&1 &
pids="$pids $!"
build/examples/echo_server -p "$b2" >"$run/echo2.log" 2>&1 &
pids="$pids $!"
# a self-signed certificate for 127.0.0.1 and localhost, for the TLS listener
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost -keyout "$run/tls.key" -out "$run/tls.crt" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
cat >"$run/coproxy.conf" <<CONF
threads = "auto";
log_level = "info";
admin = { socket = "$run/admin.sock"; listen = "127.0.0.1:$aport"; };
pools = (
  {
    name = "cache";
    listen = ( "plain://127.0.0.1:$port", "127.0.0.1:$sport" );   # plaintext, and TLS
    tls = { certificate = "$run/tls.crt"; key = "$run/tls.key"; };
    mode = "redis";
    distribution = "ketama";
    hash = "fnv1a_64";
    hash_tag = "{}";
    server_timeout = 1000;
    client_idle_timeout = 300000;
    auto_eject_hosts = true;
    servers = ( "127.0.0.1:$r1:1 redis-a", "127.0.0.1:$r2:1 redis-b" );
  },
  {
    name = "echo";
    listen = "127.0.0.1:$tport";
    mode = "tcp";
    balance = "roundrobin";
    client_idle_timeout = 60000;
    servers = ( "127.0.0.1:$b1:1 echo-a", "127.0.0.1:$b2:1 echo-b" );
  }
);
CONF
cat <<MSG
coproxy on loopback:
  redis mode on 127.0.0.1:$port, sharding over two redis-servers on ports $r1 and $r2
             and over TLS on 127.0.0.1:$sport (certificate: $run/tls.crt)
  tcp mode   on 127.0.0.1:$tport, balancing over two echo servers on ports $b1 and $b2
Try it from another terminal:
    redis-cli -p $port set greeting hello
    redis-cli -p $port mget greeting nothing
    redis-benchmark -p $port -t get,set -q
    redis-cli --tls --cacert $run/tls.crt -p $sport get greeting
    echo hello | socat - TCP:127.0.0.1:$tport
    build/coproxyctl -s $run/admin.sock backends   (also stats, info, metrics, pools, threads, watch)
    build/coproxyctl -s $run/admin.sock kernel     (what the kernel counts on its sockets: BPF)
    redis-cli -s $run/admin.sock stats              (the admin socket speaks RESP)
    curl http://127.0.0.1:$aport/metrics            (Prometheus, from the admin port)
Ctrl-C stops it (SIGTERM lets in-flight requests finish first).
MSG
build/coproxy -c "$run/coproxy.conf"
