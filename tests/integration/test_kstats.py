# SPDX-License-Identifier: Apache-2.0
"""Kernel-side statistics (BPF): what the kernel sees on coproxy's own sockets.

The lossy and the slow backend live in network namespaces behind
tunlink.py, a relay that drops or delays packets (this kernel has no
sch_netem), so retransmits and round-trip times are the kernel's own.
A build without BPF runs the same traffic and must say why the figures are
missing."""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import COPROXY, ECHO_SERVER, copy_for_nobody, free_port, wait_port
from redis_util import RedisProc, Resp
from test_admin import COPROXYCTL, admin, parse_prometheus, stats, wait_stats

TUNLINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tunlink.py")
BPF_BUILT = "built in" in subprocess.run([COPROXY, "--version"], capture_output=True, text=True,
                                         timeout=30).stdout
DELAY_MS = 100


def ctl(*args):
    return subprocess.run([COPROXYCTL, *args], capture_output=True, text=True, timeout=30)


def kernel(sock):
    return stats(sock)["kernel"]


def wait_kernel(sock, check, timeout=30):
    """The STATS kernel section once check(section) holds."""
    return wait_stats(sock, lambda doc: check(doc["kernel"]), timeout)["kernel"]


def wait_socket(path, timeout=15):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"no admin socket {path}"
        time.sleep(0.05)


class Link:
    """A network namespace reached over tunlink.py (198.18.0.0/15, the
    benchmarking range: no real network uses it), with a redis-server in it."""

    def __init__(self, loss, delay_ms):
        self.netns = "cpx%06x" % random.getrandbits(24)
        self.near = f"198.{random.choice((18, 19))}.{random.randrange(1, 255)}.1"
        self.far = self.near[:-1] + "2"
        self.redis = self.relay = None
        try:
            self._start(loss, delay_ms)
        except BaseException:
            self.stop()
            raise

    def _start(self, loss, delay_ms):
        self.relay = subprocess.Popen(
            [sys.executable, TUNLINK, "--netns", self.netns, "--near", self.near, "--far", self.far,
             "--loss", str(loss), "--delay-ms", str(delay_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.relay.stdout.readline()   # (it prints "ready", or fails and exits)
        assert line.strip() == "ready", line + self.relay.stdout.read()
        self.redis = self.run_in(["redis-server", "--bind", self.far, "--port", "6379", "--protected-mode", "no",
                                  "--save", "", "--appendonly", "no", "--dir", "/tmp"])
        deadline = time.monotonic() + 60
        while True:
            assert self.redis.poll() is None, "redis-server in the namespace exited"
            try:
                with socket.create_connection((self.far, 6379), timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"redis-server at {self.far} unreachable"
                time.sleep(0.1)

    def run_in(self, cmd):
        """Starts cmd in the namespace (ip netns exec execs it: the PID is cmd's)."""
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *cmd],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        for p in (self.redis, self.relay):   # the relay last: it removes the namespace
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)   # if the relay could not


@pytest.fixture
def links():
    made = []

    def make(loss=0.0, delay_ms=0):
        link = Link(loss, delay_ms)
        made.append(link)
        return link

    try:
        yield make
    finally:
        for link in made:
            link.stop()


def two_pool_config(sock, pools):
    """pools: [(name, port, "host:port:1 server")]"""
    body = ",\n".join(
        f'  {{ name = "{n}"; listen = "127.0.0.1:{p}"; mode = "redis"; server_timeout = 30000;\n'
        f'    connect_timeout = 10000; servers = ( "{s}" ); }}' for n, p, s in pools)
    return (f'threads = 1;\nlog_level = "info";\nshutdown_timeout = 3000;\n'
            f'admin = {{ socket = "{sock}"; }};\npools = (\n{body}\n);\n')


def test_retransmits_of_a_lossy_backend_and_rtt_of_a_slow_one(daemon, tmp_path, links):
    lossy, slow = links(loss=0.1), links(delay_ms=DELAY_MS)
    lport, sport = free_port(), free_port()
    sock = str(tmp_path / "admin.sock")
    d = daemon(two_pool_config(sock, [("lossy", lport, f"{lossy.far}:6379:1 l"),
                                      ("slow", sport, f"{slow.far}:6379:1 s")]), port=lport)
    wait_port(sport)
    wait_socket(sock)
    lc, sc = Resp(lport, timeout=120), Resp(sport, timeout=120)
    assert lc.call("PING") == b"+PONG" and sc.call("PING") == b"+PONG"   # both server connections up
    if not BPF_BUILT:
        for i in range(20):
            assert lc.call("SET", f"k{i}", os.urandom(16384)) == b"+OK"
        k = kernel(sock)
        assert k["available"] is False and "built without BPF" in k["reason"], k
        assert "kernel stats: this coproxy was built without BPF" in d.log()
        return
    before = kernel(sock)
    assert before["available"] is True, before
    value = os.urandom(16384)
    for i in range(60):
        assert lc.call("SET", f"k{i}", value) == b"+OK"
    for i in range(20):
        assert sc.call("SET", f"s{i}", b"x" * 100) == b"+OK"
        assert sc.call("GET", f"s{i}") == b"x" * 100

    def figures(k):
        pools = {p["name"]: p for p in k["pools"]}
        return pools["lossy"]["servers"][0], pools["slow"]["servers"][0], pools["lossy"]["clients"]

    lb, _, _ = figures(before)
    k = wait_kernel(sock, lambda k: figures(k)[0]["bytes_sent"] >= 59 * len(value))
    l, s, lclients = figures(k)
    assert l["retransmits"] > lb["retransmits"], k        # the lossy link made the kernel retransmit
    assert s["retransmits"] == 0, k                       # the slow one never lost a segment
    assert abs(s["rtt_us"] - DELAY_MS * 1000) <= 0.2 * DELAY_MS * 1000, k
    assert l["rtt_us"] < DELAY_MS * 1000 // 2, k          # no delay on the lossy link
    assert l["sockets"] >= 1 and s["sockets"] >= 1, k
    assert lclients["bytes_received"] >= 60 * len(value), k
    assert lclients["sockets"] >= 1 and lclients["tcp"] is True, k
    lc.close()
    sc.close()
    wait_kernel(sock, lambda k: figures(k)[2]["sockets"] == 0)
    assert d.stop() == 0


def tcp_pool_config(sock, port, backend, extra_top=""):
    return (f'threads = 1;\nlog_level = "info";\nshutdown_timeout = 3000;\n{extra_top}'
            f'admin = {{ socket = "{sock}"; }};\n'
            f'pools = ( {{ name = "t"; listen = "127.0.0.1:{port}"; mode = "tcp"; connect_timeout = 5000;\n'
            f'    servers = ( "127.0.0.1:{backend}:1 echo" ); }} );\n')


def echo_roundtrip(s, n):
    data = os.urandom(n)
    s.sendall(data)
    got = b""
    while len(got) < n:
        chunk = s.recv(1 << 20)
        assert chunk, "closed early"
        got += chunk
    assert got == data


def test_kernel_views_count_only_coproxys_sockets(daemon, tmp_path, echo_backend):
    backend = echo_backend()
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    d = daemon(tcp_pool_config(sock, port, backend), port=port)
    wait_socket(sock)
    if not BPF_BUILT:
        r = ctl("-s", sock, "kernel")
        assert r.returncode == 0 and "built without BPF" in r.stdout, r.stdout + r.stderr
        assert "kernel_stats:off" in admin(sock, "INFO", "kernel").decode()
        return
    # another process's traffic to the same backend is not coproxy's
    with socket.create_connection(("127.0.0.1", backend), timeout=30) as direct:
        echo_roundtrip(direct, 1 << 20)
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    echo_roundtrip(c, 100000)

    def pool(k):
        return k["pools"][0]

    k = wait_kernel(sock, lambda k: pool(k)["servers"][0]["bytes_sent"] >= 100000
                    and pool(k)["clients"]["bytes_sent"] >= 100000)
    clients, server = pool(k)["clients"], pool(k)["servers"][0]
    assert clients["bytes_received"] >= 100000 and server["bytes_received"] >= 100000, k
    assert server["bytes_sent"] < 1 << 20 and server["bytes_received"] < 1 << 20, k
    # (the fixture's probe of the port may still be closing)
    k = wait_kernel(sock, lambda k: pool(k)["clients"]["sockets"] == 1 and pool(k)["servers"][0]["sockets"] == 1)
    assert server["name"] == "echo" and server["addr"] == f"127.0.0.1:{backend}"

    # the other views say the same
    table = ctl("-s", sock, "kernel")
    assert table.returncode == 0, table.stderr
    lines = {tuple(line.split()[:2]): line.split() for line in table.stdout.splitlines()[1:]}
    assert set(lines) == {("t", "(clients)"), ("t", "echo")}, table.stdout
    assert int(lines[("t", "echo")][8]) >= 100000                    # BYTES_SENT
    as_json = json.loads(ctl("-s", sock, "--json", "kernel").stdout)
    assert as_json["available"] is True and as_json["pools"][0]["servers"][0]["name"] == "echo"
    info = dict(line.split(":", 1) for line in admin(sock, "INFO", "kernel").decode().splitlines()
                if ":" in line)
    assert info["kernel_stats"] == "on" and int(info["t_server_echo_kernel_bytes_sent"]) >= 100000
    metrics = parse_prometheus(admin(sock, "METRICS").decode())
    assert metrics["coproxy_kernel_available"] == 1
    assert metrics['coproxy_kernel_server_bytes_sent_total{pool="t",server="echo"}'] >= 100000
    assert metrics['coproxy_kernel_pool_sockets{pool="t"}'] == 1

    # a client's reset: received on its socket, passed on to the backend's
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    k = wait_kernel(sock, lambda k: pool(k)["clients"]["resets_received"] >= 1
                    and pool(k)["servers"][0]["resets_sent"] >= 1
                    and pool(k)["clients"]["sockets"] == 0 and pool(k)["servers"][0]["sockets"] == 0)
    assert d.stop() == 0


def test_a_listener_of_another_namespace_is_not_coproxys(daemon, tmp_path, links, echo_backend):
    """A server in another network namespace on the pool's own port: its
    clients are not the pool's."""
    link = links()
    backend = echo_backend()
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    config = tcp_pool_config(sock, port, backend).replace(f'"127.0.0.1:{port}"', f'"0.0.0.0:{port}"')
    daemon(config, port=port)
    wait_socket(sock)
    other = link.run_in(["redis-server", "--bind", link.far, "--port", str(port), "--protected-mode", "no",
                         "--save", "", "--appendonly", "no", "--dir", "/tmp"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = socket.create_connection((link.far, port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "no redis-server in the namespace"
                time.sleep(0.1)
        r.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000\r\n" + b"v" * 200000 + b"\r\n")
        assert r.recv(16) == b"+OK\r\n"
        r.close()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
            echo_roundtrip(c, 1000)
        k = kernel(sock)
        if not BPF_BUILT:
            assert k["available"] is False
            return
        k = wait_kernel(sock, lambda k: k["pools"][0]["clients"]["bytes_received"] >= 1000)
        clients = k["pools"][0]["clients"]
        assert clients["bytes_received"] < 200000 and clients["bytes_sent"] < 200000, k
    finally:
        other.terminate()
        other.wait(timeout=15)


def test_a_server_added_by_a_reload_gets_its_own_figures(daemon, tmp_path, echo_backend):
    first, second = echo_backend(), echo_backend()
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    d = daemon(tcp_pool_config(sock, port, first), port=port)
    wait_socket(sock)
    d.conf.write_text(tcp_pool_config(sock, port, second).replace('"127.0.0.1:%d:1 echo"' % second,
                                                                   '"127.0.0.1:%d:1 added"' % second))
    d.proc.send_signal(signal.SIGHUP)
    # the worker takes the new list at its next loop turn: connect until the
    # pool's counters say a connection went to the added server
    deadline = time.monotonic() + 30
    while True:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
            echo_roundtrip(c, 50000)
        servers = stats(sock)["pools"][0]["servers"]
        if [s["name"] for s in servers] == ["added"] and servers[0]["requests"] > 0:
            break
        assert time.monotonic() < deadline, d.log()
        time.sleep(0.2)
    if not BPF_BUILT:
        assert kernel(sock)["available"] is False
        return
    k = wait_kernel(sock, lambda k: k["pools"][0]["servers"][0]["bytes_sent"] >= 50000)
    assert k["pools"][0]["servers"][0]["name"] == "added"
    assert k["unlisted"]["bytes_sent"] < 50000, k          # numbered at the reload, not unlisted
    assert d.stop() == 0


def test_bpf_false_turns_the_figures_off(daemon, tmp_path, echo_backend):
    backend = echo_backend()
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    d = daemon(tcp_pool_config(sock, port, backend, extra_top="bpf = false;\n"), port=port)
    wait_socket(sock)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        echo_roundtrip(c, 1000)
    k = kernel(sock)
    assert k == {"available": False, "reason": "off in the configuration (bpf = false)"}
    assert "kernel_stats:off\r\nkernel_stats_reason:off in the configuration" in admin(sock, "INFO", "kernel").decode()
    assert parse_prometheus(admin(sock, "METRICS").decode())["coproxy_kernel_available"] == 0
    assert "kernel stats are off: off in the configuration (bpf = false)" in ctl("-s", sock, "kernel").stdout
    assert d.stop() == 0


def test_unprivileged_daemon_runs_and_says_why(tmp_path):
    """As nobody: no BPF, one log line saying why, and proxying as usual."""
    backend = RedisProc(tmp_path)
    # a directory nobody can reach: /tmp itself, not pytest's private one
    run = tempfile.mkdtemp(prefix="coproxy-unpriv-", dir="/tmp")
    proc = None
    try:
        nobody, env = copy_for_nobody(run)
        port = free_port()
        sock = os.path.join(run, "admin.sock")
        conf = os.path.join(run, "coproxy.conf")
        with open(conf, "w") as f:
            f.write(f'threads = 1;\nadmin = {{ socket = "{sock}"; }};\n'
                    f'pools = ( {{ name = "r"; listen = "127.0.0.1:{port}"; mode = "redis";\n'
                    f'    servers = ( "127.0.0.1:{backend.port}:1 a" ); }} );\n')
        os.chmod(conf, 0o644)
        log = open(os.path.join(run, "log"), "wb")
        proc = subprocess.Popen(nobody + ["-c", conf],
                                stdout=subprocess.DEVNULL, stderr=log, env=env)
        wait_port(port, timeout=30)
        c = Resp(port)
        assert c.call("SET", "k", "v") == b"+OK" and c.call("GET", "k") == b"v"
        c.close()
        wait_socket(sock)
        k = kernel(sock)
        assert k["available"] is False, k
        text = open(os.path.join(run, "log")).read()
        if BPF_BUILT:
            assert "no privilege" in k["reason"] and "CAP_BPF" in k["reason"], k
            assert text.count("kernel stats: off: no privilege") == 1, text
        else:
            assert "built without BPF" in k["reason"], k
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        backend.stop()
        shutil.rmtree(run, ignore_errors=True)
