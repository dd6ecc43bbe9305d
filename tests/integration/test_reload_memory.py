# SPDX-License-Identifier: Apache-2.0
"""Memory across reloads: 1,000 SIGHUPs, every other one a broken file, leave
the daemon's resident memory within 1 % of where it was.  A configuration a
reload replaced is freed once no worker points into it (connections opened
before the reloads stay open and keep working through all of them), and a
rejected file leaks nothing.  Reloads that change the server lists while
clients come and go never touch a freed list (the AddressSanitizer build
stops the daemon if one does)."""
import os
import signal
import socket
import subprocess
import threading
import time

from conftest import COPROXY, free_port
from redis_util import RedisProc, Resp, admin_stats, rss_kb

# Under AddressSanitizer freed memory waits in its quarantine and jemalloc is
# not in use: the reloads still run (and are checked), the RSS is judged in
# the plain build's run.
SANITIZED = "asan" in os.environ.get("COPROXY_BUILD", "")

RELOADS = 1000
WARMUP = 20


def config(tcp_port, echo_ports, redis_port, redis_ports, step, broken=False):
    """Two pools, so that a reload replaces two server lists.  step varies
    what an accepted reload changes (a weight and a timeout), so each one
    brings new lists; broken leaves out an '=' before a string, the typo
    after which libconfig 1.5 dropped the string's buffer (64 bytes)."""
    w = 1 + step % 2
    tcp = ", ".join(f'"127.0.0.1:{p}:{w if i == 0 else 1} e{i}"' for i, p in enumerate(echo_ports))
    red = ", ".join(f'"127.0.0.1:{p}:{w if i == 0 else 1} r{i}"' for i, p in enumerate(redis_ports))
    level = 'log_level "info";' if broken else 'log_level = "info";'
    return f"""threads = 2;
{level}
shutdown_timeout = 3000;
pools = (
  {{ name = "t"; listen = "127.0.0.1:{tcp_port}"; mode = "tcp";
     connect_timeout = {1000 + step % 2}; servers = ( {tcp} ); }},
  {{ name = "cache"; listen = "127.0.0.1:{redis_port}"; mode = "redis"; distribution = "ketama";
     server_timeout = {2000 + step % 2}; servers = ( {red} ); }}
);
"""


class Notified:
    """The daemon started with NOTIFY_SOCKET, as systemd starts it: after a
    SIGHUP it says RELOADING=1, then READY=1 once every worker runs with
    what the reload left (a rejected file: at once)."""

    def __init__(self, tmp_path, conf):
        self.path = str(tmp_path / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(60)                       # generous: a loaded 2-core machine
        self.logfile = tmp_path / "coproxy.log"
        self.proc = subprocess.Popen([COPROXY, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.logfile, "wb"),
                                     env={**os.environ, "NOTIFY_SOCKET": self.path})
        assert "READY=1" in self.recv()

    def recv(self):
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("no word from the daemon in 60 s:\n" + self.log()) from None

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)
        assert "RELOADING=1" in self.recv()
        assert "READY=1" in self.recv()

    def log(self):
        return self.logfile.read_text(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


def settled_rss(pid):
    """RSS once the allocator has given back what it frees (jemalloc's
    background thread, within about a second): the median of three looks."""
    time.sleep(1.5)
    looks = []
    for _ in range(3):
        looks.append(rss_kb(pid))
        time.sleep(0.3)
    return sorted(looks)[1]


def test_a_thousand_reloads_half_rejected_leave_rss_where_it_was(echo_backend, tmp_path):
    echo_ports = [echo_backend() for _ in range(4)]
    redis = [RedisProc(tmp_path) for _ in range(3)]
    d = None
    try:
        tcp_port, redis_port = free_port(), free_port()
        redis_ports = [r.port for r in redis]
        conf = tmp_path / "coproxy.conf"
        conf.write_text(config(tcp_port, echo_ports, redis_port, redis_ports, 0))
        d = Notified(tmp_path, conf)
        # connections that outlive every reload: each keeps its configuration's servers in use
        kept = socket.create_connection(("127.0.0.1", tcp_port), timeout=10)
        kept.sendall(b"before\n")
        assert kept.recv(100) == b"before\n"
        client = Resp(redis_port)
        assert client.call("SET", "kept", "1") == b"+OK"

        def reloads(first, count):
            for i in range(first, first + count):
                conf.write_text(config(tcp_port, echo_ports, redis_port, redis_ports, i // 2 + 1,
                                       broken=i % 2 == 1))
                d.reload()

        reloads(0, WARMUP)                             # the allocator's caches and the log's first lines
        before = settled_rss(d.proc.pid)
        started = time.monotonic()
        reloads(WARMUP, RELOADS)
        took = time.monotonic() - started
        after = settled_rss(d.proc.pid)
        print(f"{RELOADS} reloads in {took:.1f} s: RSS {before} KiB before, {after} KiB after "
              f"({(after - before) * 100.0 / before:+.2f} %)")

        log = d.log()
        assert log.count("reload: applied") == (WARMUP + RELOADS) // 2
        assert log.count("the running configuration stays") == (WARMUP + RELOADS) // 2
        assert "syntax error" in log and "needs a restart" not in log
        # what was open before the reloads still works, and so do new clients
        kept.sendall(b"after\n")
        assert kept.recv(100) == b"after\n"
        assert client.call("GET", "kept") == b"1"
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=10) as s:
            s.sendall(b"fresh\n")
            assert s.recv(100) == b"fresh\n"
        kept.close()
        client.close()
        if not SANITIZED:
            assert after <= before * 1.01, (before, after)
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(timeout=30) == 0
    finally:
        if d is not None:
            d.close()
        for r in redis:
            r.stop()


def test_server_lists_replaced_under_traffic_are_freed_only_when_unused(echo_backend, tmp_path):
    """Each reload takes a tcp server and a redis server out or back in;
    tcp connections made under every list close after later reloads (they
    find their server again by name in a newer list), redis clients keep
    going, and the admin thread reads the counters throughout."""
    echo_ports = [echo_backend() for _ in range(4)]
    redis = [RedisProc(tmp_path) for _ in range(3)]
    sock = str(tmp_path / "admin.sock")
    tcp_port, redis_port = free_port(), free_port()

    def lists(step):
        tcp = ", ".join(f'"127.0.0.1:{p}:{1 + step % 3} e{i}"' for i, p in enumerate(echo_ports)
                        if (step + i) % 4 != 0)
        red = ", ".join(f'"127.0.0.1:{r.port}:1 r{i}"' for i, r in enumerate(redis) if step % 2 or (step + i) % 3)
        return f"""threads = 2;
admin = {{ socket = "{sock}"; }};
pools = (
  {{ name = "t"; listen = "127.0.0.1:{tcp_port}"; mode = "tcp"; connect_timeout = 1000;
     balance = "{("roundrobin", "leastconn", "random")[step % 3]}"; servers = ( {tcp} ); }},
  {{ name = "cache"; listen = "127.0.0.1:{redis_port}"; mode = "redis"; server_timeout = 2000;
     servers = ( {red} ); }}
);
"""
    conf = tmp_path / "coproxy.conf"
    conf.write_text(lists(0))
    d = None
    halt, failures, done = threading.Event(), [], [0]

    def tcp_clients():
        open_ = []                                     # some outlive a reload or two
        while not halt.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", tcp_port), timeout=10)
                s.sendall(b"x\n")
                assert s.recv(10) == b"x\n"
                open_.append(s)
                if len(open_) > 200:
                    open_.pop(0).close()
                done[0] += 1
            except Exception as e:                     # noqa: BLE001 -- every failure is kept
                failures.append(repr(e))
        for s in open_:
            s.close()

    def redis_clients():
        while not halt.is_set():
            try:
                c = Resp(redis_port)
                for k in range(20):
                    assert c.call("SET", f"k{k}", "v") == b"+OK"
                c.close()
            except Exception as e:                     # noqa: BLE001
                failures.append(repr(e))

    def admin_reads():
        while not halt.is_set():
            try:
                admin_stats(sock)
            except Exception as e:                     # noqa: BLE001
                failures.append(repr(e))
            time.sleep(0.01)

    try:
        d = Notified(tmp_path, conf)
        load = [threading.Thread(target=f, daemon=True) for f in (tcp_clients, tcp_clients, redis_clients, admin_reads)]
        for t in load:
            t.start()
        for step in range(1, 101):
            conf.write_text(lists(step))
            d.reload()
            time.sleep(0.03)                           # traffic under this list, then the next
        halt.set()
        for t in load:
            t.join(30)
        assert failures == [] and done[0] > 100, (done[0], failures[:3])
        assert d.log().count("reload: applied") == 100
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(timeout=30) == 0
    finally:
        halt.set()
        if d is not None:
            d.close()
        for r in redis:
            r.stop()
