# SPDX-License-Identifier: Apache-2.0
"""Helpers for the redis-mode tests: redis-server processes that can be stopped
and restarted on their port, a coproxy redis-pool config, and raw RESP I/O."""
import json
import os
import socket
import subprocess
import time

from conftest import BUILD, free_port

DIST_PROBE = os.path.join(BUILD, "tests", "unit", "dist_probe")


class RedisProc:
    """One redis-server on a fixed loopback port; stop() and start() again."""

    def __init__(self, dirpath, port=None, extra=()):
        self.dir = dirpath
        self.port = port or free_port()
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.dir),
             "--enable-debug-command", "local"] + self.extra,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"redis-server on {self.port} exited"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"redis-server on {self.port} did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def redis_config(listen_port, server_ports, threads=1, names=True, **pool):
    """A coproxy config with one redis pool over 127.0.0.1:<port> servers."""
    settings = {"name": '"cache"', "listen": f'"127.0.0.1:{listen_port}"', "mode": '"redis"',
                "distribution": '"ketama"', "hash": '"fnv1a_64"', "server_timeout": 2000,
                "connect_timeout": 1000}
    for k, v in pool.items():
        settings[k] = f'"{v}"' if isinstance(v, str) else ("true" if v is True else "false" if v is False else v)
    servers = ", ".join(
        f'"127.0.0.1:{p}:1 s{i}"' if names else f'"127.0.0.1:{p}:1"' for i, p in enumerate(server_ports))
    body = "".join(f"    {k} = {v};\n" for k, v in settings.items())
    return (f'threads = {threads};\nlog_level = "info";\nshutdown_timeout = 3000;\n'
            f"pools = ( {{\n{body}    servers = ( {servers} );\n}} );\n")


def probe(keys, server_ports, distribution="ketama", hash_name="fnv1a_64", tag=""):
    """The server index each key goes to, as tests/unit/dist_probe computes it."""
    servers = [f"127.0.0.1:{p}:1 s{i}" for i, p in enumerate(server_ports)]
    out = subprocess.run([DIST_PROBE, distribution, hash_name, tag] + servers,
                         input=b"".join(k + b"\n" for k in keys), stdout=subprocess.PIPE, check=True,
                         timeout=60).stdout.split()
    assert len(out) == len(keys)
    return [int(x) for x in out]


class Resp:
    """A raw client connection: send bytes, read whole RESP replies."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return line
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise AssertionError(f"not RESP: {line!r}")

    def call(self, *args):
        self.send(encode(*args))
        return self.reply()

    def closed(self, timeout=5):
        """True once the proxy closes the connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def rss_kb(pid):
    """A process's resident memory, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def admin_stats(sock):
    """The STATS document from the admin socket at sock."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    try:
        c = Resp.__new__(Resp)
        c.sock, c.buf = s, b""
        return json.loads(c.call("STATS"))
    finally:
        s.close()


class Raw:
    """A client connection that returns each reply as the bytes that came."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.pos = 0

    def _need(self, n):
        while len(self.buf) - self.pos < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line, self.pos = self.buf[self.pos:i], i + 2
                return line
            self._need(len(self.buf) - self.pos + 1)

    def _value(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in b"+-:,(#_":
            return
        if t in b"$!=":
            n = int(rest)
            if n >= 0:
                self._need(n + 2)
                assert self.buf[self.pos + n:self.pos + n + 2] == b"\r\n"
                self.pos += n + 2
            return
        if t in b"*~>%|":
            n = int(rest) * (2 if t in b"%|" else 1)
            for _ in range(max(n, 0)):
                self._value()
            if t == b"|":           # an attribute: the value it describes follows
                self._value()
            return
        raise AssertionError(f"not RESP: {line!r}")

    def reply(self):
        start = self.pos
        self._value()
        out = self.buf[start:self.pos]
        self.buf, self.pos = self.buf[self.pos:], 0
        return out

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.reply()

    def close(self):
        self.sock.close()


def admin(sock, *args):
    """One command on the admin socket at path sock: its reply."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    c = Resp.__new__(Resp)
    c.sock, c.buf = s, b""
    try:
        return c.call(*args)
    finally:
        s.close()
