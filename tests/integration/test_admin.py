"""The admin socket: PING, STATS (JSON), INFO and METRICS over RESP, counters that
match a known load exactly, and an admin client that cannot hurt the daemon."""
import json
import os
import re
import socket
import stat
import subprocess
import time

import pytest

from conftest import free_port
from redis_util import RedisProc, Resp, encode, redis_config


def admin_config(port, backend_ports, sock, extra_top="", mode=None, **pool):
    conf = redis_config(port, backend_ports, **pool)
    m = f' mode = "{mode}";' if mode else ""
    return f'admin = {{ socket = "{sock}";{m} }};\n{extra_top}' + conf


@pytest.fixture
def setup(daemon, tmp_path):
    made = []

    def start(threads=1, extra_top="", nbackends=2, mode=None):
        bs = [RedisProc(tmp_path) for _ in range(nbackends)]
        made.extend(bs)
        port = free_port()
        sock = str(tmp_path / "run" / "admin.sock")   # its directory does not exist yet
        d = daemon(admin_config(port, [b.port for b in bs], sock, extra_top, mode, threads=threads), port=port)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            assert time.monotonic() < deadline, "no admin socket"
            time.sleep(0.05)
        return port, sock, d

    try:
        yield start
    finally:
        for b in made:
            b.stop()


def admin(sock, *args):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    c = Resp.__new__(Resp)
    c.sock, c.buf = s, b""
    try:
        return c.call(*args)
    finally:
        s.close()


def stats(sock):
    return json.loads(admin(sock, "STATS"))


def wait_stats(sock, check, timeout=10):
    """The STATS document once check(doc) holds (counters are published every 100 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = stats(sock)
        if check(doc):
            return doc
        assert time.monotonic() < deadline, json.dumps(doc)[:2000]
        time.sleep(0.05)


def test_counters_match_a_known_load_exactly(setup):
    port, sock, _ = setup(threads=2)
    assert admin(sock, "PING") == b"+PONG"
    # the fixture's readiness probe was a client too: count from here
    base = wait_stats(sock, lambda d: d["pools"][0]["client_accepted"] >= 1
                      and d["pools"][0]["client_connections"] == 0)["pools"][0]
    clients = [Resp(port) for _ in range(3)]
    sent = received = 0
    for i, c in enumerate(clients):
        for cmd, want in [(("SET", f"k{i}:{j}", "v"), b"+OK\r\n") for j in range(10)] \
                + [(("GET", f"k{i}:{j}"), b"$1\r\nv\r\n") for j in range(10)] \
                + [(("PING",), b"+PONG\r\n")]:       # PING: answered by coproxy itself
            sent += len(encode(*cmd))
            received += len(want)
            c.send(encode(*cmd))
            c.reply()
        sent += len(encode("MULTI"))
        assert c.call("MULTI").startswith(b"-ERR")     # refused
        received += len(b"-ERR unsupported command 'MULTI'\r\n")
    doc = wait_stats(sock, lambda d: d["pools"][0]["requests"] - base["requests"] == 3 * 22)
    pool = doc["pools"][0]
    assert pool["name"] == "cache" and pool["mode"] == "redis"
    assert pool["client_accepted"] - base["client_accepted"] == 3 and pool["client_connections"] == 3
    assert pool["local_replies"] - base["local_replies"] == 6
    assert pool["errors_refused"] - base["errors_refused"] == 3
    assert pool["bytes_in"] - base["bytes_in"] == sent
    assert pool["bytes_out"] - base["bytes_out"] == received
    assert sum(s["requests"] for s in pool["servers"]) - sum(s["requests"] for s in base["servers"]) == 60
    # every reply written is timed once (the pool), every server reply read once (its server)
    doc = wait_stats(sock, lambda d: d["pools"][0]["latency_us"]["count"] - base["latency_us"]["count"] == 66)
    pool = doc["pools"][0]
    lat = pool["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"]
    assert sum(s["latency_us"]["count"] for s in pool["servers"]) \
        - sum(s["latency_us"]["count"] for s in base["servers"]) == 60
    assert doc["workers"] == 2 and len(doc["threads"]) == 2
    assert doc["runtime"]["switches"] == sum(t["runtime"]["switches"] for t in doc["threads"])
    for c in clients:
        c.close()
    wait_stats(sock, lambda d: d["pools"][0]["client_connections"] == 0)


def test_stack_copies_grow_when_clients_share_few_stacks(setup):
    port, sock, _ = setup(extra_top="coroutines = { shared_stacks = 1; };\n")
    before = stats(sock)["runtime"]
    clients = [Resp(port) for _ in range(20)]
    for _ in range(3):
        for c in clients:
            c.send(encode("SET", "x", "1"))
        for c in clients:
            assert c.reply() == b"+OK"
    after = wait_stats(sock, lambda d: d["runtime"]["copies_out"] > before["copies_out"] + 20)["runtime"]
    assert after["switches"] > before["switches"] + 60
    assert after["bytes_copied"] > before["bytes_copied"]


def test_info_and_metrics(setup):
    port, sock, _ = setup()
    Resp(port).call("SET", "a", "b")
    out = subprocess.run(["redis-cli", "-s", sock, "INFO"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "# Pools" in out.stdout and "cache_requests:" in out.stdout
    assert "coproxy_version:" in admin(sock, "INFO", "server").decode()
    metrics = admin(sock, "METRICS").decode()
    seen_type = set()
    for line in metrics.splitlines():
        if line.startswith("# HELP "):
            continue
        m = re.match(r"# TYPE (\w+) (counter|gauge)$", line)
        if m:
            seen_type.add(m.group(1))
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\{([a-z]+="[^"]*"(,[a-z]+="[^"]*")*)\} (\d+)$', line)
        assert m, f"not Prometheus text format: {line!r}"
        assert m.group(1) in seen_type, f"sample before its TYPE line: {line!r}"
    assert 'coproxy_pool_requests_total{pool="cache",worker="0"}' in metrics
    assert "coproxy_runtime_switches" in metrics and "coproxy_server_requests_total" in metrics
    assert 'coproxy_pool_latency_p99_microseconds{pool="cache",worker="0"}' in metrics


def test_socket_mode_and_inline_commands(setup):
    port, sock, _ = setup()
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(b"PING\r\n")
    assert s.recv(100) == b"+PONG\r\n"
    s.close()


def test_socket_mode_from_the_config(setup):
    _, sock, _ = setup(mode="0600")
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600


def test_garbage_on_the_admin_socket_harms_nobody(setup):
    port, sock, d = setup()
    bad = socket.socket(socket.AF_UNIX)
    bad.settimeout(10)
    bad.connect(sock)
    bad.sendall(b"*1\r\n$-7\r\n")
    assert bad.recv(200).startswith(b"-ERR Protocol error")
    bad.close()
    slow = socket.socket(socket.AF_UNIX)
    slow.connect(sock)
    slow.sendall(b"STA")                       # never finishes its line
    assert admin(sock, "PING") == b"+PONG"     # others are served meanwhile
    assert admin(sock, "NOSUCH").startswith(b"-ERR unknown admin command")
    assert Resp(port).call("PING") == b"+PONG"
    slow.close()
    assert d.proc.poll() is None


def test_tables(setup):
    port, sock, _ = setup()
    Resp(port).call("SET", "a", "b")
    pools = admin(sock, "POOLS").decode().splitlines()
    assert pools[0].split()[:3] == ["POOL", "MODE", "LISTEN"] and pools[1].split()[:2] == ["cache", "redis"]
    backends = admin(sock, "BACKENDS").decode().splitlines()
    assert len(backends) == 3 and {b.split()[1] for b in backends[1:]} == {"s0", "s1"}
    threads = admin(sock, "THREADS").decode().splitlines()
    assert threads[0].split()[0] == "WORKER" and threads[1].split()[0] == "0"


COPROXYCTL = os.path.join(os.environ.get("COPROXY_BUILD", "build"), "coproxyctl")


def ctl(*args):
    return subprocess.run([COPROXYCTL, *args], capture_output=True, text=True, timeout=30)


def test_coproxyctl(setup):
    port, sock, _ = setup()
    c = Resp(port)
    for i in range(25):
        c.call("SET", f"k{i}", "v")
    r = ctl("-s", sock, "ping")
    assert r.returncode == 0 and r.stdout.strip() == "PONG"
    doc = wait_stats(sock, lambda d: d["pools"][0]["requests"] >= 25)
    r = ctl("-s", sock, "stats")
    assert r.returncode == 0 and json.loads(r.stdout)["pools"][0]["requests"] >= doc["pools"][0]["requests"]
    r = ctl("-s", sock, "info", "pools")
    assert r.returncode == 0 and "cache_requests:" in r.stdout and "# Server" not in r.stdout
    r = ctl("-s", sock, "metrics")
    assert r.returncode == 0 and "# TYPE coproxy_pool_requests_total counter" in r.stdout
    for table, head in (("pools", "POOL"), ("backends", "POOL"), ("threads", "WORKER")):
        r = ctl("-s", sock, table)
        assert r.returncode == 0 and r.stdout.split()[0] == head
    r = ctl("-s", sock, "watch", "-i", "0.2", "-n", "2")
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and lines[0].split()[0] == "requests/s" and len(lines) == 3
    r = ctl("-s", sock + ".missing", "ping")
    assert r.returncode == 1 and "No such file" in r.stderr and "admin.socket" in r.stderr
    r = ctl("-s", sock, "nosuch")
    assert r.returncode == 2 and "unknown command" in r.stderr
