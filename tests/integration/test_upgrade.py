# SPDX-License-Identifier: Apache-2.0
"""Upgrading the binary with nothing lost (SIGUSR2, coproxyctl upgrade): the
new process takes the very listening sockets, the old one drains.  Under
load in redis mode (pipelined clients checking their own values, connects
in a loop) and in tcp mode (long echoed transfers checked byte for byte,
short connections in a loop), ten upgrades in a row lose nothing; a new
binary that rejects the configuration or crashes leaves the old one
serving; a second daemon on a taken address refuses to start."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, COPROXY, free_port, tcp_config, wait_port
from redis_util import RedisProc, admin, encode, redis_config

COPROXYCTL = os.path.join(BUILD, "coproxyctl")


def stats(sock):
    return json.loads(admin(sock, "STATS"))


def gone(pid):
    """True once pid has exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


class Survivors:
    """Every coproxy pid an upgrade made, all killed by PID at the end."""

    def __init__(self):
        self.pids = []

    def stop(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def survivors():
    s = Survivors()
    yield s
    s.stop()


def upgrade(sock, survivors, how="ctl"):
    """One upgrade; waits for the new process to serve and the old one to exit. The new pid."""
    old = stats(sock)["pid"]
    if how == "ctl":
        r = subprocess.run([COPROXYCTL, "-s", sock, "upgrade"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    else:
        os.kill(old, signal.SIGUSR2)
    deadline = time.monotonic() + 90
    while True:
        try:
            new = stats(sock)["pid"]
        except OSError:
            new = old
        if new != old:
            break
        assert time.monotonic() < deadline, "no new process"
        time.sleep(0.1)
    survivors.pids.append(new)
    while not gone(old):
        assert time.monotonic() < deadline, f"pid {old} did not exit"
        time.sleep(0.1)
    return new


class RedisLoad(threading.Thread):
    """One client: pipelines of SET/GET on its own keys, each GET checked.
    A connection that closes is opened again and what got no reply is sent
    again (it was never read); a refused connect or a wrong reply fails."""

    def __init__(self, port, name):
        super().__init__(daemon=True)
        self.port, self.name = port, name
        self.stop = threading.Event()
        self.failures, self.refused, self.resent, self.done = [], 0, 0, 0

    def connect(self):
        try:
            return socket.create_connection(("127.0.0.1", self.port), timeout=30)
        except ConnectionRefusedError:
            self.refused += 1
            raise

    def run(self):
        n = 0
        try:
            s = self.connect()
            buf = b""
            while not self.stop.is_set():
                batch = []
                for _ in range(8):
                    n += 1
                    key, val = f"{self.name}:{n % 50}", f"{self.name}-{n}"
                    batch += [(encode("SET", key, val), b"+OK"), (encode("GET", key), val.encode())]
                pending = list(batch)
                while pending:
                    try:
                        s.sendall(b"".join(req for req, _ in pending))
                        while pending:
                            while b"\r\n" not in buf:
                                chunk = s.recv(65536)
                                if not chunk:
                                    raise ConnectionResetError("closed")
                                buf += chunk
                            line, rest = buf.split(b"\r\n", 1)
                            if line.startswith(b"$"):
                                size = int(line[1:])
                                while len(rest) < size + 2:
                                    chunk = s.recv(65536)
                                    if not chunk:
                                        raise ConnectionResetError("closed")
                                    rest += chunk
                                got, buf = rest[:size], rest[size + 2:]
                            else:
                                got, buf = line, rest
                            want = pending.pop(0)[1]
                            if got != want:
                                self.failures.append((want, got))
                            self.done += 1
                    except (ConnectionResetError, BrokenPipeError):
                        s.close()
                        buf = b""
                        self.resent += len(pending)
                        s = self.connect()
            s.close()
        except Exception as e:      # reported by the test
            self.failures.append(repr(e))


class ConnectLoop(threading.Thread):
    """Connects, exchanges one message and closes, in a loop: a refused
    connect fails; so does a wrong answer (exchange says which)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.refused, self.done, self.retried, self.failures = 0, 0, 0, []

    def run(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except ConnectionRefusedError:
                self.refused += 1
                continue
            try:
                self.exchange(s)
            except ConnectionResetError as e:
                self.on_reset(e)
            finally:
                s.close()


class Connector(ConnectLoop):
    """PINGs through a redis pool."""

    def exchange(self, s):
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        got = s.recv(64)
        if got == b"+PONG\r\n":
            self.done += 1
        elif got == b"":
            self.retried += 1    # accepted by the old process as it stopped reading: asked again
        else:
            self.failures.append(got)

    def on_reset(self, e):
        self.retried += 1


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def test_ten_upgrades_under_redis_load_lose_nothing(daemon, tmp_path, survivors):
    backends = [RedisProc(tmp_path) for _ in range(2)]
    try:
        port = free_port()
        sock = str(tmp_path / "admin.sock")
        d = daemon(f'admin = {{ socket = "{sock}"; }};\n'
                   + redis_config(port, [b.port for b in backends], threads=2), port=port)
        survivors.pids.append(d.proc.pid)
        while not os.path.exists(sock):
            time.sleep(0.05)
        first = stats(sock)["pid"]
        time.sleep(0.5)
        base_fds, base_rss = fd_count(first), rss_kib(first)
        clients = [RedisLoad(port, f"c{i}") for i in range(6)]
        conn = Connector(port)
        for t in clients + [conn]:
            t.start()
        time.sleep(1)
        pids = [first]
        for i in range(10):
            pids.append(upgrade(sock, survivors, "ctl" if i % 2 else "signal"))
            time.sleep(0.3)
        time.sleep(1)
        for t in clients + [conn]:
            t.stop.set()
        for t in clients + [conn]:
            t.join(60)
        assert len(set(pids)) == 11 and all(gone(p) for p in pids[:-1])
        assert d.proc.wait(timeout=30) == 0          # the first one stopped by itself
        for c in clients:
            assert c.failures == [] and c.refused == 0, (c.name, c.failures[:3], c.refused)
            assert c.done > 100
        assert conn.refused == 0 and conn.failures == [] and conn.done > 50, vars(conn)
        last = pids[-1]
        doc = stats(sock)
        assert doc["upgraded_from"] == pids[-2] and doc["pid"] == last
        for t in clients:                               # the survivor has no more than it needs
            del t
        time.sleep(1.5)
        assert fd_count(last) <= base_fds + 4, (base_fds, fd_count(last))
        assert rss_kib(last) < base_rss * 2 + 20000, (base_rss, rss_kib(last))
    finally:
        for b in backends:
            b.stop()


class TcpStream(threading.Thread):
    """Sends `size` bytes through the relay to an echo server, checking every byte that comes back."""

    def __init__(self, port, size, seed):
        super().__init__(daemon=True)
        self.port, self.size, self.seed = port, size, seed
        self.error = None

    def run(self):
        try:
            data = bytes((self.seed + i * 7) & 0xFF for i in range(65536))
            s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            sent = got = 0
            while got < self.size:
                if sent < self.size:
                    s.sendall(data[: min(65536, self.size - sent)])
                    sent += min(65536, self.size - sent)
                    time.sleep(0.002)                     # spread over a few seconds
                chunk = s.recv(65536)
                assert chunk, f"stream closed after {got} of {self.size} bytes"
                for k, b in enumerate(chunk):
                    assert b == data[(got + k) % 65536], f"byte {got + k} differs"
                got += len(chunk)
            s.close()
        except Exception as e:
            self.error = e


class ShortTcp(ConnectLoop):
    """A line echoed through a tcp pool."""

    def exchange(self, s):
        s.sendall(b"hello upgrade\n")
        got = b""
        while len(got) < 14:
            chunk = s.recv(64)
            if not chunk:
                break
            got += chunk
        if got == b"hello upgrade\n":
            self.done += 1
        else:
            self.failures.append(got)

    def on_reset(self, e):
        self.failures.append(repr(e))


def test_ten_upgrades_under_tcp_load_break_no_stream(daemon, echo_backend, tmp_path, survivors):
    echo = echo_backend()
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    conf = tcp_config(port, [f"127.0.0.1:{echo}"], threads=2, shutdown_timeout=20000)
    d = daemon(f'admin = {{ socket = "{sock}"; }};\n' + conf, port=port)
    survivors.pids.append(d.proc.pid)
    while not os.path.exists(sock):
        time.sleep(0.05)
    short = ShortTcp(port)
    short.start()
    streams = []
    for i in range(10):
        batch = [TcpStream(port, 4 << 20, i * 16 + k) for k in range(2)]   # each a few seconds
        for t in batch:
            t.start()
        streams += batch
        time.sleep(0.2)
        upgrade(sock, survivors, "signal" if i % 2 else "ctl")
    for t in streams:
        t.join(120)
        assert t.error is None, t.error
    short.stop.set()
    short.join(60)
    assert short.refused == 0 and short.failures == [] and short.done > 50, vars(short)


def test_a_new_binary_that_fails_leaves_the_old_one_serving(daemon, tmp_path, survivors):
    backend = RedisProc(tmp_path)
    try:
        run = tmp_path / "bin"
        run.mkdir()
        libs = os.path.join(BUILD, ".libs")
        exe = run / "coproxy"
        shutil.copy(os.path.join(libs, "coproxy") if os.path.exists(os.path.join(libs, "coproxy")) else COPROXY, exe)
        env_libs = libs if os.path.isdir(libs) else ""
        port = free_port()
        sock = str(tmp_path / "admin.sock")
        conf = tmp_path / "coproxy.conf"
        conf.write_text(f'admin = {{ socket = "{sock}"; }};\n' + redis_config(port, [backend.port]))
        log = open(tmp_path / "coproxy.log", "wb")
        proc = subprocess.Popen([str(exe), "-c", str(conf)], stderr=log,
                                env=dict(os.environ, LD_LIBRARY_PATH=env_libs))
        survivors.pids.append(proc.pid)
        wait_port(port)
        while not os.path.exists(sock):
            time.sleep(0.05)
        load = RedisLoad(port, "f")
        load.start()
        cases = [("#!/bin/sh\necho 'pretend: no such setting' >&2\nexit 3\n", "exited with status 3"),
                 ("#!/bin/sh\ncase \"$*\" in *-t*) exit 0;; esac\nkill -SEGV $$\n", "killed by signal 11")]
        for script, why in cases:
            fake = run / "coproxy.new"
            fake.write_text(script)
            fake.chmod(0o755)
            os.rename(fake, exe)            # "the installed binary" is now this one
            r = subprocess.run([COPROXYCTL, "-s", sock, "upgrade"], capture_output=True, text=True, timeout=120)
            assert r.returncode == 1 and "failed" in r.stderr, r.stdout + r.stderr
            assert stats(sock)["pid"] == proc.pid and stats(sock)["upgrade"] == "failed"
            text = (tmp_path / "coproxy.log").read_text()
            assert why in text and "still serving" in text, text
        time.sleep(0.5)
        load.stop.set()
        load.join(60)
        assert load.failures == [] and load.refused == 0 and load.resent == 0 and load.done > 50
        assert proc.poll() is None
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        backend.stop()


def test_a_second_daemon_on_a_taken_address_refuses_to_start(daemon, tmp_path):
    backend = RedisProc(tmp_path)
    try:
        port = free_port()
        conf = redis_config(port, [backend.port])
        d = daemon(conf, port=port)
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        c.sendall(encode("SET", "k", "v"))
        assert c.recv(64) == b"+OK\r\n"
        second = tmp_path / "second.conf"
        second.write_text(conf)
        r = subprocess.run([COPROXY, "-c", str(second)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r.stderr
        assert f"127.0.0.1:{port} is already listened on by pid {d.proc.pid} (coproxy)" in r.stderr, r.stderr
        for _ in range(20):                    # the first one lost nothing
            c.sendall(encode("GET", "k"))
            assert c.recv(64) == b"$1\r\nv\r\n"
        c.close()
    finally:
        backend.stop()
