# SPDX-License-Identifier: Apache-2.0
"""SIGHUP reloads the configuration while a load runs: live settings apply
with no failed request, restart-only ones are logged and keep their value,
a broken file changes nothing.  SIGUSR1 reopens the log file."""
import os
import signal
import socket
import subprocess
import threading
import time

from conftest import COPROXY, free_port, tcp_config
from redis_util import RedisProc, Resp, admin_stats, redis_config


def wait_log(d, text, timeout=15):
    deadline = time.monotonic() + timeout
    while text not in d.log():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{d.log()}"
        time.sleep(0.05)


class Load(threading.Thread):
    """Round trips until stopped, through fresh and long-lived connections;
    every failure is kept."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.ok, self.failures, self.halt = fn, 0, [], threading.Event()

    def run(self):
        deadline = time.monotonic() + 120            # bounded, whatever happens
        while not self.halt.is_set() and time.monotonic() < deadline:
            try:
                self.fn()
                self.ok += 1
            except Exception as e:                    # noqa: BLE001 -- every failure is counted
                self.failures.append(repr(e))

    def stop(self):
        self.halt.set()
        self.join(30)


def echo_round_trip(port, kept):
    kept.sendall(b"ping\n")
    assert kept.recv(100) == b"ping\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"fresh\n")
        assert s.recv(100) == b"fresh\n"


def test_tcp_reload_changes_servers_and_timeouts_under_load(daemon, echo_backend, tmp_path):
    a, b = echo_backend(), echo_backend()
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    top = f'admin = {{ socket = "{sock}"; }};\n'
    d = daemon(top + tcp_config(port, [f"127.0.0.1:{a}:1 a"], threads=2,
                                       pool={"client_idle_timeout": 60000}), port)
    kept = socket.create_connection(("127.0.0.1", port), timeout=10)
    load = Load(lambda: echo_round_trip(port, kept))
    load.start()
    time.sleep(0.5)
    d.conf.write_text(top + tcp_config(port, [f"127.0.0.1:{b}:1 b", f"127.0.0.1:{a}:1 a"], threads=2,
                                       pool={"client_idle_timeout": 30000, "connect_timeout": 500}))
    d.proc.send_signal(signal.SIGHUP)
    wait_log(d, "reload: applied")
    time.sleep(1.0)                                   # the load goes on over the new list
    load.stop()
    assert load.failures == [] and load.ok > 20, (load.ok, load.failures[:3])
    kept.sendall(b"still here\n")
    assert kept.recv(100) == b"still here\n"         # a connection from before the reload
    kept.close()
    servers = {s["name"]: s for s in admin_stats(sock)["pools"][0]["servers"]}
    assert list(servers) == ["b", "a"] and servers["b"]["requests"] > 0 and servers["a"]["requests"] > 0
    assert "needs a restart" not in d.log()
    assert d.stop() == 0


def test_redis_reload_applies_weights_timeouts_and_servers_under_load(daemon, tmp_path):
    servers = [RedisProc(tmp_path) for _ in range(2)]
    third = RedisProc(tmp_path)
    servers.append(third)
    try:
        port = free_port()
        ports = [s.port for s in servers[:2]]
        d = daemon(redis_config(port, ports, threads=2, server_timeout=2000), port)
        c = Resp(port)
        keys = [f"k{i}" for i in range(200)]
        for k in keys:
            assert c.call("SET", k, "v") == b"+OK"
        n = [0]

        def one():
            k = keys[n[0] % len(keys)]
            n[0] += 1
            assert c.call("GET", k) in (b"v", None)   # a key may move: a miss, never an error
        load = Load(one)
        load.start()
        time.sleep(0.5)
        conf = redis_config(port, ports, threads=2, server_timeout=3000).replace('"info"', '"debug"')
        d.conf.write_text(conf.replace(f"127.0.0.1:{ports[0]}:1 s0", f"127.0.0.1:{ports[0]}:5 s0"))
        d.proc.send_signal(signal.SIGHUP)
        wait_log(d, "reload: applied")
        wait_log(d, "configuration generation 1 applied")   # log_level debug took effect too
        time.sleep(0.5)
        load.stop()
        assert load.failures == [] and load.ok > 20, (load.ok, load.failures[:3])
        # weight 5 against 1: most keys now live on s0
        moved = sum(1 for k in keys if c.call("GET", k) is None)
        assert 0 < moved < len(keys)
        # a new server list under load: s1 removed, s2 added; no request fails
        load = Load(one)
        load.start()
        d.conf.write_text(redis_config(port, [ports[0], third.port], threads=2).replace(" s1\"", " s2\""))
        d.proc.send_signal(signal.SIGHUP)
        wait_log(d, "server s1 (127.0.0.1:%d) removed by a reload" % ports[1])
        wait_log(d, "1 server(s) added by a reload")
        time.sleep(0.5)
        load.stop()
        assert load.failures == [] and load.ok > 20, (load.ok, load.failures[:3])
        for k in keys:
            assert c.call("SET", k, "w") == b"+OK"
        direct = Resp(third.port)
        assert int(direct.call("DBSIZE")) > 0              # the new server gets keys
        # the removed one is left with no connection from coproxy (its clients: only ours, if any)
        deadline = time.monotonic() + 15
        while b"cmd=" in Resp(ports[1]).call("CLIENT", "LIST").replace(b"cmd=client", b""):
            assert time.monotonic() < deadline, Resp(ports[1]).call("CLIENT", "LIST")
            time.sleep(0.1)
        assert d.stop() == 0
    finally:
        for s in servers:
            s.stop()


def test_broken_or_partly_live_config_under_load(daemon, echo_backend):
    a = echo_backend()
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{a}:1"], threads=1), port)
    kept = socket.create_connection(("127.0.0.1", port), timeout=10)
    load = Load(lambda: echo_round_trip(port, kept))
    load.start()
    good = d.conf.read_text()
    d.conf.write_text(good + "\nthis is not libconfig\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_log(d, "the running configuration stays")
    assert f"reload: {d.conf}:" in d.log()            # file and line named
    other = free_port()
    d.conf.write_text(tcp_config(other, [f"127.0.0.1:{a}:1"], threads=2, pool={"connect_timeout": 700}))
    d.proc.send_signal(signal.SIGHUP)
    wait_log(d, "reload: applied; 2 change(s) above wait for a restart")
    time.sleep(0.5)
    load.stop()
    assert load.failures == [] and load.ok > 20, (load.ok, load.failures[:3])
    assert "threads (1 -> 2) needs a restart" in d.log() and f"listen (127.0.0.1:{port} -> " in d.log()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:   # still the old address
        s.sendall(b"ok\n")
        assert s.recv(10) == b"ok\n"
    kept.close()
    assert d.proc.poll() is None and d.stop() == 0


def test_databases_needs_a_restart_and_keeps_its_value(daemon, redis_servers):
    """A reload may not raise `databases`: each server's per-database
    connections were sized by it (a SELECT past it would overrun them)."""
    ports = redis_servers(1)
    port = free_port()
    d = daemon(redis_config(port, ports, databases=4), port=port)
    c = Resp(port)
    assert c.call("SELECT", "3") == b"+OK" and c.call("SET", "in3", "x") == b"+OK"
    d.conf.write_text(redis_config(port, ports, databases=16))
    d.proc.send_signal(signal.SIGHUP)
    wait_log(d, "reload: applied; 1 change(s) above wait for a restart")
    assert "databases (4 -> 16) needs a restart" in d.log()
    fresh = Resp(port)
    assert fresh.call("SELECT", "10").startswith(b"-ERR DB index is out of range")
    assert c.call("GET", "in3") == b"x"
    c.close()
    fresh.close()
    assert d.proc.poll() is None and d.stop() == 0


def test_sigusr1_reopens_the_log_file(daemon, echo_backend, tmp_path):
    a = echo_backend()
    port = free_port()
    logfile = tmp_path / "coproxy.file.log"
    d = daemon(f'log_file = "{logfile}";\n' + tcp_config(port, [f"127.0.0.1:{a}:1"]), port)
    deadline = time.monotonic() + 10
    while "ready" not in (logfile.read_text() if logfile.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.rename(logfile, str(logfile) + ".1")           # what logrotate does
    d.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not logfile.exists() or "log file reopened" not in logfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "ready" in open(str(logfile) + ".1").read() and "ready" not in logfile.read_text()
    assert d.stop() == 0
    assert "stopped" in logfile.read_text()


def test_systemd_notify_ready_reloading_stopping(echo_backend, tmp_path):
    """Type=notify: READY=1 once every worker listens, RELOADING=1 then
    READY=1 around a reload, STOPPING=1 at SIGTERM (NOTIFY_SOCKET as systemd sets it)."""
    a = echo_backend()
    port = free_port()
    conf = tmp_path / "c.conf"
    conf.write_text(tcp_config(port, [f"127.0.0.1:{a}:1"], threads=2))
    path = str(tmp_path / "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(15)
    proc = subprocess.Popen([COPROXY, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "NOTIFY_SOCKET": path})
    try:
        msg = ns.recv(4096).decode()
        assert "READY=1" in msg and f"MAINPID={proc.pid}" in msg
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:   # listening by then
            s.sendall(b"x\n")
            assert s.recv(10) == b"x\n"
        proc.send_signal(signal.SIGHUP)
        assert "RELOADING=1" in ns.recv(4096).decode()
        assert "READY=1" in ns.recv(4096).decode()
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in ns.recv(4096).decode()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()
