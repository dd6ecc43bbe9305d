# SPDX-License-Identifier: Apache-2.0
"""tcp mode through the real daemon: relay, concurrency, half-close, failover,
timeouts, passive health (a failing backend out of the balance, few log lines),
idle kick, limits, workers, shutdown."""
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from conftest import ECHO_CLIENT, ScriptedBackend, copy_for_nobody, free_port, tcp_config, wait_port


def recv_all(sock, n=None, timeout=30):
    sock.settimeout(timeout)
    chunks, got = [], 0
    while n is None or got < n:
        data = sock.recv(1 << 16)
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def echo_10mb(port):
    """Sends 10 MB of random bytes through port to an echo backend while
    reading them back; checks they came back exactly."""
    payload = os.urandom(10 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port)) as s:
        sender = threading.Thread(target=s.sendall, args=(payload,))
        sender.start()
        back = recv_all(s, len(payload))
        sender.join()
    assert len(back) == len(payload)
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_relays_10mb_exactly_both_ways(daemon, echo_backend):
    backend = echo_backend()
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{backend}:1"]), port)
    echo_10mb(port)


def test_2000_concurrent_clients_request_response(daemon, echo_backend):
    backend = echo_backend()
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{backend}:1"], threads=2), port)
    # examples/echo_client holds all 2,000 connections open at once and checks every byte
    out = subprocess.run([ECHO_CLIENT, "-p", str(port), "-c", "2000", "-n", "5", "-m", "200"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2000 connections verified, 0 failed" in out.stdout


def test_client_half_close_reaches_backend(daemon, scripted_backend):
    def count_until_eof(conn):
        total = 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            total += len(data)
        conn.sendall(f"got {total}".encode())   # answers only after the client's FIN

    b = scripted_backend(count_until_eof)
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{b.port}:1"]), port)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"x" * 100000)
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s, timeout=10) == b"got 100000"


def test_backend_half_close_reaches_client(daemon, scripted_backend):
    received = []

    def send_then_listen(conn):
        conn.sendall(b"banner\n")
        conn.shutdown(socket.SHUT_WR)           # done talking, still listening
        received.append(recv_all(conn, 5, timeout=10))

    b = scripted_backend(send_then_listen)
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{b.port}:1"]), port)
    with socket.create_connection(("127.0.0.1", port)) as s:
        assert recv_all(s, timeout=10) == b"banner\n"   # then EOF: the half-close passed on
        s.sendall(b"after")                              # the other direction still works
        deadline = time.monotonic() + 10
        while b"after" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
    # (the daemon fixture's readiness probe made a connection of its own: b"")
    assert b"after" in received


def reset_close(sock):
    """Closes sock with a reset (RST) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_client_reset_reaches_backend_as_a_reset(daemon, scripted_backend):
    seen = []

    def answer_then_wait(conn):
        if conn.recv(2) != b"hi":                # (the fixture's readiness probe: EOF)
            return
        conn.sendall(b"ok")
        conn.settimeout(10)
        try:
            seen.append(("eof", conn.recv(10)))
        except ConnectionResetError:
            seen.append(("reset", b""))

    b = scripted_backend(answer_then_wait)
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{b.port}:1"]), port)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"hi")
    assert recv_all(s, 2, timeout=10) == b"ok"
    reset_close(s)
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen == [("reset", b"")]


def test_backend_reset_reaches_client_as_a_reset(daemon, scripted_backend):
    def reset_after_hello(conn):
        if conn.recv(2) == b"hi":
            reset_close(conn)

    b = scripted_backend(reset_after_hello)
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{b.port}:1"]), port)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"hi")
        s.settimeout(10)
        try:
            got = s.recv(10)
        except ConnectionResetError:
            got = "reset"
    assert got == "reset"                        # not a plain EOF (b"")


# Run as nobody, holds pipes grown as far as a user may until the user's
# pipe-page budget (fs.pipe-user-pages-soft) is spent, then waits for stdin
# to close: nobody's next pipes get two slots and cannot grow.
SPEND_PIPE_BUDGET = """
import fcntl, sys
size = min(1 << 20, int(open("/proc/sys/fs/pipe-max-size").read()))
held = []
while len(held) < 4096:
    r, w = __import__("os").pipe()
    held.append((r, w))
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, size)
    except OSError:
        break
print(len(held), flush=True)
sys.stdin.read()
"""


def test_bulk_relay_copies_past_the_pipe_budget(echo_backend):
    """Run as nobody with nobody's pipe budget spent, a bulk transfer still
    relays exactly (copied, not spliced through two-slot pipes), and the
    daemon says why, once."""
    backend = echo_backend()
    run = tempfile.mkdtemp(prefix="coproxy-pipes-", dir="/tmp")
    proc = spender = None
    try:
        nobody, env = copy_for_nobody(run)
        spender = subprocess.Popen(nobody[:-1] + [sys.executable, "-c", SPEND_PIPE_BUDGET],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        held = int(spender.stdout.readline())
        assert 0 < held < 4096, held
        port = free_port()
        conf = os.path.join(run, "coproxy.conf")
        with open(conf, "w") as f:
            f.write(tcp_config(port, [f"127.0.0.1:{backend}:1"]))
        os.chmod(conf, 0o644)
        log = open(os.path.join(run, "log"), "wb")
        proc = subprocess.Popen(nobody + ["-c", conf], stdout=subprocess.DEVNULL, stderr=log, env=env)
        wait_port(port, timeout=30)
        for _ in range(2):
            echo_10mb(port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        text = open(os.path.join(run, "log")).read()
        assert text.count("pipe budget is spent (sysctl fs.pipe-user-pages-soft)") == 1, text
    finally:
        for p in (proc, spender):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(run, ignore_errors=True)


def test_dead_backend_falls_over_to_the_next(daemon, echo_backend):
    live = echo_backend()
    dead = free_port()                                   # nothing listens there
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{dead}:1 dead", f"127.0.0.1:{live}:1 live"]), port)
    for i in range(6):                                   # round-robin tries the dead one half the time
        with socket.create_connection(("127.0.0.1", port)) as s:
            msg = b"ping %d" % i
            s.sendall(msg)
            assert recv_all(s, len(msg), timeout=10) == msg
    assert re.search(r"backend dead \(127\.0\.0\.1:\d+\): Connection refused", d.log())


def test_all_backends_down_closes_client_promptly(daemon):
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{free_port()}:1", f"127.0.0.1:{free_port()}:1"]), port)
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        assert recv_all(s, timeout=10) == b""
    assert time.monotonic() - t0 < 3


def test_connect_timeout_then_next_backend(daemon, echo_backend):
    # A listener with backlog 0 whose queue is full drops SYNs: connects to it hang.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    filler = socket.create_connection(blackhole.getsockname())
    live = echo_backend()
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{blackhole.getsockname()[1]}:1 slow",
                                 f"127.0.0.1:{live}:1 live"],
                          pool={"connect_timeout": 300, "balance": '"roundrobin"'}), port)
    try:
        times = []
        for i in range(2):                                 # one of the two starts with the slow one
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"hi")
                assert recv_all(s, 2, timeout=10) == b"hi"
            times.append(time.monotonic() - t0)
        assert max(times) >= 0.25                          # waited out the connect timeout
        assert max(times) < 5
        assert "backend slow" in d.log() and "connect timed out" in d.log()
    finally:
        filler.close()
        blackhole.close()


def test_reload_while_a_connect_waits(daemon, echo_backend):
    """The server list is reordered while connects to the slow server wait:
    each still fails as the slow server's (its name, its address), and the
    live one is never blamed."""
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    filler = socket.create_connection(blackhole.getsockname())
    slow = f"127.0.0.1:{blackhole.getsockname()[1]}"
    live = f"127.0.0.1:{echo_backend()}"
    port = free_port()
    pool = {"connect_timeout": 2000, "balance": '"roundrobin"'}
    d = daemon(tcp_config(port, [f"{slow}:100 slow", f"{live}:1 live"], pool=pool), port)   # rr: slow first
    try:
        s = socket.create_connection(("127.0.0.1", port))
        time.sleep(0.5)                                    # its connect to the slow one waits
        d.conf.write_text(tcp_config(port, [f"{live}:1 live", f"{slow}:100 slow"], pool=pool))
        d.proc.send_signal(signal.SIGHUP)
        s.settimeout(30)
        try:
            s.recv(1)                                      # closed once its connects gave up
        except OSError:
            pass
        s.close()
        deadline = time.monotonic() + 30
        while f"backend slow ({slow}): connect timed out" not in d.log():
            assert time.monotonic() < deadline, d.log()
            time.sleep(0.1)
        assert "backend live" not in d.log(), d.log()
        assert d.stop() == 0
    finally:
        filler.close()
        blackhole.close()


def test_idle_client_kicked_active_one_kept(daemon, echo_backend):
    backend = echo_backend()
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{backend}:1"], pool={"client_idle_timeout": 600}), port)
    idle = socket.create_connection(("127.0.0.1", port))
    active = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    kicked_at = None
    idle.settimeout(0.05)
    while time.monotonic() - t0 < 2.5:
        active.sendall(b"k")                               # traffic re-arms its deadline
        assert recv_all(active, 1, timeout=5) == b"k"
        if kicked_at is None:
            try:
                if idle.recv(1) == b"":
                    kicked_at = time.monotonic() - t0
            except socket.timeout:
                pass
        time.sleep(0.1)
    assert kicked_at is not None, "the idle client was not closed"
    assert 0.6 <= kicked_at <= 1.6 + 0.5                   # within a second of its deadline
    active.sendall(b"still here")
    assert recv_all(active, 10, timeout=5) == b"still here"
    idle.close()
    active.close()


def test_pool_connection_limit(daemon, echo_backend):
    backend = echo_backend()
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{backend}:1"], pool={"client_connections": 3}), port)
    # wait_port's probe connection must be gone before counting
    time.sleep(0.3)
    held = []
    for i in range(3):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"ok")
        assert recv_all(s, 2, timeout=5) == b"ok"
        held.append(s)
    extra = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    assert recv_all(extra, timeout=5) == b""               # closed at once
    assert time.monotonic() - t0 < 2
    extra.close()
    held.pop().close()
    time.sleep(0.3)
    again = socket.create_connection(("127.0.0.1", port))   # room again
    again.sendall(b"ok")
    assert recv_all(again, 2, timeout=5) == b"ok"
    again.close()
    for s in held:
        s.close()


def test_two_workers_both_take_connections(daemon, echo_backend):
    backend = echo_backend()
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{backend}:1"], threads=2, log_level='"debug"'), port)
    for i in range(60):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"x")
            assert recv_all(s, 1, timeout=5) == b"x"
    log = d.log()
    assert "[w0] pool t: accepted client" in log
    assert "[w1] pool t: accepted client" in log


def test_sigterm_drains_in_flight_transfer_and_exits_0(daemon, scripted_backend):
    size = 4 * 1024 * 1024

    def slow_sender(conn):
        chunk = b"y" * 65536
        for _ in range(size // len(chunk)):
            conn.sendall(chunk)
            time.sleep(0.01)                               # about 0.6 s in all

    b = scripted_backend(slow_sender)
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{b.port}:1"]), port)
    with socket.create_connection(("127.0.0.1", port)) as s:
        first = s.recv(65536)
        assert first
        d.proc.send_signal(signal.SIGTERM)                 # mid-transfer
        time.sleep(0.2)
        try:                                               # no new clients meanwhile
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            refused = False
        except OSError:
            refused = True
        rest = recv_all(s, size - len(first), timeout=20)
    assert len(first) + len(rest) == size
    assert refused
    assert d.stop(timeout=20) == 0
    assert "stopped" in d.log()


def test_out_of_fds_backs_off_and_recovers(tmp_path, echo_backend):
    import resource
    from conftest import COPROXY
    backend = echo_backend()
    port = free_port()
    conf = tmp_path / "c.conf"
    conf.write_text(tcp_config(port, [f"127.0.0.1:{backend}:1"]))
    log = tmp_path / "log"

    def few_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    proc = subprocess.Popen([COPROXY, "-c", str(conf)], stderr=open(log, "wb"),
                            preexec_fn=few_fds)
    try:
        wait_port(port)
        held = []
        for i in range(40):                                   # two fds each: far past 48
            s = socket.create_connection(("127.0.0.1", port))
            held.append(s)
        time.sleep(0.5)
        tick = os.sysconf("SC_CLK_TCK")
        stat = lambda: sum(int(x) for x in open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
        cpu0 = stat()
        time.sleep(2.0)
        cpu = (stat() - cpu0) / tick
        assert cpu < 0.5, f"{cpu} CPU-s in 2 s while out of fds: a busy loop"
        text = log.read_text()
        lines = [l for l in text.splitlines() if "out of file descriptors" in l]
        assert lines, text
        assert len(lines) <= 5                                 # at most about once a second
        assert len(text.splitlines()) < 30                     # and nothing else floods
        assert proc.poll() is None                             # still running
        for s in held:
            s.close()
        time.sleep(1.0)
        with socket.create_connection(("127.0.0.1", port)) as s:   # serving again
            s.sendall(b"back")
            assert recv_all(s, 4, timeout=10) == b"back"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_idle_kick_when_only_the_backend_side_is_watched(daemon, scripted_backend):
    # The client half-closes and the backend never answers: the relay waits
    # on the backend alone, and the idle timeout must still end it.
    def silent(conn):
        time.sleep(10)

    b = scripted_backend(silent)
    port = free_port()
    daemon(tcp_config(port, [f"127.0.0.1:{b.port}:1"], pool={"client_idle_timeout": 500}), port)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"req")
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        try:
            assert recv_all(s, timeout=5) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - t0 < 2.5


# ---- passive health: a backend that keeps refusing is taken out of the balance ----

def admin_stats(sock):
    """The daemon's STATS document, from its admin socket."""
    import json
    from redis_util import Resp
    c = Resp.__new__(Resp)
    c.sock, c.buf = socket.socket(socket.AF_UNIX), b""
    c.sock.settimeout(10)
    try:
        c.sock.connect(sock)
        return json.loads(c.call("STATS"))
    finally:
        c.sock.close()


def server_stats(sock, name, check=lambda s: True, timeout=10):
    """Server `name`'s figures (summed over the workers) once check(them) holds
    (the counters are published every 100 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = admin_stats(sock)
        s = next(s for s in doc["pools"][0]["servers"] if s["name"] == name)
        if check(s):
            return s
        assert time.monotonic() < deadline, s
        time.sleep(0.05)


class NamedBackend(ScriptedBackend):
    """Answers each connection with its name and closes it; on a given port or a free one."""

    def __init__(self, name, port=0):
        self.name = name
        super().__init__(lambda conn: conn.sendall(name), port)


def who_answers(port):
    """The name of the backend a new connection through port reaches."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        return recv_all(s, timeout=10)


def backend_lines(d, name):
    return [l for l in d.log().splitlines() if f"backend {name} " in l]


def echo_through(port, msg):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(msg)
        return recv_all(s, len(msg), timeout=10)


def test_dead_backend_is_logged_once_and_skipped(daemon, echo_backend, tmp_path):
    """A burst of 1,000 clients and then 250 more over a dead and a live
    backend: every client is served by the live one, the dead one is logged
    a few times (not once per client), and once out of the balance it is not
    tried again (its retry interval is long here)."""
    live = echo_backend()
    dead = free_port()                                   # nothing listens there
    sock = str(tmp_path / "admin.sock")
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{dead}:1 dead", f"127.0.0.1:{live}:1 live"], threads=2,
                          admin=f'{{ socket = "{sock}"; }}',
                          pool={"server_failure_limit": 2, "server_retry_timeout": 600000}), port)
    out = subprocess.run([ECHO_CLIENT, "-p", str(port), "-c", "1000", "-n", "1", "-m", "16"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "1000 connections verified, 0 failed" in out.stdout, out.stdout + out.stderr
    for i in range(50):
        assert echo_through(port, b"hello %d" % i) == b"hello %d" % i
    ejected = server_stats(sock, "dead", lambda s: s["state"] == "ejected")
    assert ejected["ejections"] >= 1
    # connects made in the burst, before it was out, fail meanwhile: once
    # the published counters have settled, nothing more may try it
    while True:
        time.sleep(0.5)                                  # five publishing ticks
        now = server_stats(sock, "dead")
        if now["failures"] == ejected["failures"]:
            break
        ejected = now
    for i in range(200):
        assert echo_through(port, b"more %d" % i) == b"more %d" % i
    assert server_stats(sock, "dead")["failures"] == ejected["failures"]   # passed by, not tried
    server_stats(sock, "live", lambda s: s["requests"] >= 1250)
    lines = backend_lines(d, "dead")
    assert 1 <= len(lines) <= 2 * 2, "\n".join(lines)   # per worker: failing, then out
    assert any("out of the balance" in l for l in lines), d.log()
    assert "backend live" not in d.log() and "no backend reachable" not in d.log(), d.log()
    assert d.stop() == 0


def test_dead_backend_is_tried_again_and_used_once_it_is_back(daemon, tmp_path):
    live = NamedBackend(b"live")
    dead_port = free_port()
    sock = str(tmp_path / "admin.sock")
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{dead_port}:1 dead", f"127.0.0.1:{live.port}:1 live"],
                          admin=f'{{ socket = "{sock}"; }}',
                          pool={"balance": '"roundrobin"', "server_failure_limit": 3,
                                "server_retry_timeout": 1000}), port)
    revived = None
    try:
        deadline = time.monotonic() + 30
        while "backend dead" not in d.log() or "out of the balance" not in d.log():
            assert time.monotonic() < deadline, d.log()
            assert who_answers(port) == b"live"
        server_stats(sock, "dead", lambda s: s["state"] == "ejected")
        revived = NamedBackend(b"dead", dead_port)          # it comes back
        deadline = time.monotonic() + 30
        while who_answers(port) != b"dead":                 # tried again after the retry interval
            assert time.monotonic() < deadline, d.log()
            time.sleep(0.05)
        assert re.search(r"backend dead \(127\.0\.0\.1:\d+\) connects again, back in the balance", d.log()), d.log()
        assert server_stats(sock, "dead", lambda s: s["state"] != "ejected")
        seen = [who_answers(port) for _ in range(20)]       # in the round-robin again
        assert seen.count(b"dead") >= 5 and seen.count(b"live") >= 5, seen
        lines = backend_lines(d, "dead")
        assert len(lines) <= 4, "\n".join(lines)            # failing, out, (once a minute), back
        assert d.stop() == 0
    finally:
        live.close()
        if revived is not None:
            revived.close()


def test_all_backends_down_many_clients_few_lines(daemon):
    """With every backend down, each client still gets a try and is closed
    promptly, and the log does not grow a line per client."""
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{free_port()}:1 a", f"127.0.0.1:{free_port()}:1 b"],
                          pool={"server_retry_timeout": 1000}), port)
    t0 = time.monotonic()
    for i in range(300):
        t = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            try:
                assert recv_all(s, timeout=10) == b""
            except ConnectionResetError:
                pass
        assert time.monotonic() - t < 5
    assert time.monotonic() - t0 < 120
    log = d.log()
    assert "no backend reachable" in log
    assert len(log.splitlines()) < 20, log
    assert d.stop() == 0


@pytest.mark.parametrize("balance", ["roundrobin", "leastconn", "random", "hash"])
def test_every_balance_passes_an_ejected_backend_by(daemon, echo_backend, balance):
    live = echo_backend()
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{free_port()}:1 dead", f"127.0.0.1:{live}:1 live",
                                 f"127.0.0.1:{free_port()}:1 dead2"],
                          pool={"balance": f'"{balance}"', "server_retry_timeout": 600000}), port)
    for i in range(60):
        assert echo_through(port, b"x%d" % i) == b"x%d" % i
    lines = backend_lines(d, "dead") + backend_lines(d, "dead2")
    assert len(lines) <= 4, "\n".join(lines)                 # each: failing, out (at most)
    assert "backend live" not in d.log() and "no backend reachable" not in d.log(), d.log()
    assert d.stop() == 0
