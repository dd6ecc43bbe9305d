# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the integration tests: the real coproxy daemon and real
backend servers on loopback ports chosen at run time, all stopped by PID."""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("COPROXY_BUILD", os.path.join(ROOT, "build"))
COPROXY = os.path.join(BUILD, "coproxy")
ECHO_SERVER = os.path.join(BUILD, "examples", "echo_server")
ECHO_CLIENT = os.path.join(BUILD, "examples", "echo_client")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Daemon:
    """A running coproxy; .log() reads what it wrote to stderr so far."""

    def __init__(self, tmp_path, config_text):
        self.conf = tmp_path / "coproxy.conf"
        self.conf.write_text(config_text)
        self.logfile = tmp_path / "coproxy.log"
        self.proc = subprocess.Popen([COPROXY, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.logfile, "wb"))

    def log(self):
        return self.logfile.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def tcp_config(listen_port, servers, **settings):
    pool = {"name": '"t"', "listen": f'"127.0.0.1:{listen_port}"', "mode": '"tcp"',
            "connect_timeout": 1000}
    pool.update(settings.pop("pool", {}))
    top = {"threads": 1, "log_level": '"info"', "shutdown_timeout": 5000}
    top.update(settings)
    lines = [f"{k} = {v};" for k, v in top.items()]
    body = "".join(f"    {k} = {v};\n" for k, v in pool.items())
    srv = ", ".join(f'"{s}"' for s in servers)
    lines.append("pools = ( {\n" + body + f"    servers = ( {srv} );\n" + "} );")
    return "\n".join(lines) + "\n"


def copy_for_nobody(run):
    """Copies the daemon itself (libtool leaves a wrapper script in the
    build directory) and its runtime library into run, a directory under
    /tmp that uid 65534 can reach; returns the command prefix that starts
    it as nobody and the environment to start it with."""
    libs = os.path.join(BUILD, ".libs")
    exe = os.path.join(libs, "coproxy")
    os.chmod(run, 0o755)
    shutil.copy(exe if os.path.exists(exe) else COPROXY, os.path.join(run, "coproxy"))
    for name in os.listdir(libs):
        if name.startswith("libcostack.so"):
            shutil.copy(os.path.join(libs, name), os.path.join(run, name), follow_symlinks=True)
    os.chown(run, 65534, 65534)
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", os.path.join(run, "coproxy")]
    return cmd, dict(os.environ, LD_LIBRARY_PATH=run)


@pytest.fixture
def daemon(tmp_path):
    """daemon(config_text) starts coproxy and waits for its pool's port."""
    started = []

    def start(config_text, port=None):
        d = Daemon(tmp_path, config_text)
        started.append(d)
        if port is not None:
            try:
                wait_port(port)
            except AssertionError:
                d.stop(signal.SIGKILL)
                raise AssertionError("coproxy did not start:\n" + d.log())
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


@pytest.fixture
def echo_backend():
    """echo_backend() starts examples/echo_server on a free port; returns the port."""
    procs = []

    def start():
        p = subprocess.Popen([ECHO_SERVER, "-p", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        procs.append(p)
        line = p.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        return int(line.rsplit(":", 1)[1])

    yield start
    for p in procs:
        p.kill()
        p.wait()


class ScriptedBackend:
    """A backend written in the test: handler(conn) runs per connection in a thread
    (on port, or a free one)."""

    def __init__(self, handler, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.accepted = 0
        self.threads = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn):
        with conn:
            try:
                self.handler(conn)
            except OSError:
                pass

    def close(self):
        self.sock.close()


@pytest.fixture
def scripted_backend():
    made = []

    def make(handler):
        b = ScriptedBackend(handler)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


# ---- redis_servers: real redis-server backends ---------------------------------------
# (appended for test_key_placement.py; self-contained: needs only free_port above)
REDIS_SERVER = "redis-server"


def _start_redis(dirpath, attempts=5):
    """Starts one redis-server on a free loopback port; returns (proc, port)."""
    for _ in range(attempts):
        port = free_port()
        proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(dirpath), "--enable-debug-command", "local"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proc, port
            except OSError:
                time.sleep(0.02)
        # lost the port to someone else, or too slow: stop it and try another port
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    raise AssertionError(f"redis-server did not start after {attempts} attempts")


@pytest.fixture
def redis_servers(tmp_path):
    """redis_servers(n) starts n redis-servers (no persistence) and returns their
    ports; all are stopped by PID at teardown."""
    procs = []

    def start(n):
        ports = []
        for _ in range(n):
            proc, port = _start_redis(tmp_path)
            procs.append(proc)
            ports.append(port)
        return ports

    try:
        yield start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
