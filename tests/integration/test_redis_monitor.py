# SPDX-License-Identifier: Apache-2.0
"""The proxy's own slow log, hot keys and big keys (two redis-servers behind
coproxy): a skewed load shows its hot key first with about its true rate, a
backend made slow by DEBUG SLEEP shows in the slow log with its server and its
share, a 10 MB value shows in big keys; binary keys come out intact in RESP,
JSON and Prometheus; turned off, nothing is recorded."""
import json
import os
import random
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, free_port
from redis_util import RedisProc, Resp, admin, encode, probe, redis_config

COPROXYCTL = os.path.join(BUILD, "coproxyctl")


@pytest.fixture
def monitored(daemon, tmp_path):
    """start(threads, **pool) -> (port, admin socket, backend ports); everything stopped at the end."""
    made = []

    def start(threads=2, **pool):
        bs = [RedisProc(tmp_path) for _ in range(2)]
        made.extend(bs)
        port = free_port()
        sock = str(tmp_path / "admin.sock")
        conf = f'admin = {{ socket = "{sock}"; }};\n' + redis_config(port, [b.port for b in bs], threads=threads, **pool)
        daemon(conf, port=port)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            assert time.monotonic() < deadline, "no admin socket"
            time.sleep(0.05)
        return port, sock, [b.port for b in bs]

    try:
        yield start
    finally:
        for b in made:
            b.stop()


class SkewedLoad(threading.Thread):
    """GETs of keys that do not exist: `hot` is 30 % of them, the rest spread
    over 100,000 others; pipelined in batches; counts what it sent when."""

    def __init__(self, port, hot, seconds):
        super().__init__(daemon=True)
        self.port, self.hot, self.seconds = port, hot, seconds
        self.marks = []            # (time a batch was answered, hot requests so far)
        self.error = None

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            rng = random.Random(7)
            hot_req = encode("GET", self.hot)
            sent_hot = 0
            end = time.monotonic() + self.seconds
            while time.monotonic() < end:
                parts = []
                for _ in range(200):
                    if rng.random() < 0.3:
                        parts.append(hot_req)
                        sent_hot += 1
                    else:
                        parts.append(encode("GET", "k:%d" % rng.randrange(100000)))
                s.sendall(b"".join(parts))
                got = 0
                while got < 200 * 5:              # each reply is $-1\r\n
                    chunk = s.recv(65536)
                    assert chunk, "proxy closed the connection"
                    got += len(chunk)
                self.marks.append((time.monotonic(), sent_hot))
            s.close()
        except Exception as e:    # reported by the test
            self.error = e

    def rate(self, t0, t1):
        """Hot requests per second answered between t0 and t1."""
        inside = [m for m in self.marks if t0 <= m[0] <= t1]
        if len(inside) < 2:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def hotkeys(sock, pool="cache"):
    return json.loads(admin(sock, "HOTKEYS", pool, "10", "JSON"))["keys"]


def test_a_hot_key_shows_first_within_two_seconds_with_its_rate(monitored):
    port, sock, _ = monitored(threads=2)
    loads = [SkewedLoad(port, "the-hot-one", 6.0) for _ in range(2)]   # (the two may land on two workers)
    t0 = time.monotonic()
    for l in loads:
        l.start()
    first_at = None
    checks = []
    while time.monotonic() - t0 < 5.5:
        time.sleep(0.25)
        keys = hotkeys(sock)
        now = time.monotonic()
        if keys and keys[0]["key"] == "the-hot-one":
            if first_at is None:
                first_at = now - t0
            if now - t0 >= 2.5:      # a whole window of steady load behind it
                true = sum(l.rate(now - 1.3, now - 0.1) or 0 for l in loads)
                checks.append((keys[0]["requests_per_second"], true))
    for l in loads:
        l.join(30)
        assert l.error is None, l.error
    assert first_at is not None and first_at <= 2.0, f"hot key first after {first_at} s"
    assert checks, "no rate to compare"
    close = [(got, true) for got, true in checks if true > 0 and abs(got - true) <= 0.2 * true]
    assert len(close) >= len(checks) / 2, checks   # (a loaded machine may stall a window now and then)
    top = hotkeys(sock)
    assert top[0]["server"] in ("s0", "s1")
    # a cold key is never near it
    assert all(k["requests_per_second"] < top[0]["requests_per_second"] / 5 for k in top[1:]), top


def test_a_slow_backend_shows_in_the_slow_log_with_its_server_and_share(monitored):
    port, sock, ports = monitored(threads=1, slowlog_slower_than=20000)
    keys = [b"slow:%d" % i for i in range(20)]
    where = probe(keys, ports)
    key = keys[where.index(1)]                   # a key of s1
    c = Resp(port)
    assert c.call("SET", key, "v") == b"+OK"
    assert c.call("GET", "fast") is None
    side = socket.create_connection(("127.0.0.1", ports[1]), timeout=30)
    side.sendall(encode("DEBUG", "SLEEP", "0.3"))  # s1 stops answering for 300 ms
    time.sleep(0.05)
    assert c.call("GET", key) == b"v"             # waits behind it
    assert side.recv(64).startswith(b"+OK")
    side.close()
    entries = admin(sock, "SLOWLOG", "GET", "-1")
    slow = [e for e in entries if e[3][:2] == [b"GET", key]]
    assert len(slow) == 1, entries
    e = slow[0]
    id_, when, took, args, client, name, pool, server, backend_us, user = e
    assert pool == b"cache" and server == b"s1" and user == b"default"
    assert took >= 150000 and 150000 <= backend_us <= took, e
    assert abs(when - time.time()) < 60
    assert client.startswith(b"127.0.0.1:")
    assert not [x for x in entries if x[3][:2] == [b"GET", b"fast"]]    # under the threshold
    assert admin(sock, "SLOWLOG", "LEN") == len(entries)
    js = json.loads(admin(sock, "SLOWLOG", "GET", "5", "JSON"))
    assert js[0]["server"] == "s1" and js[0]["key"] == key.decode() and js[0]["backend_us"] >= 150000
    table = subprocess.run([COPROXYCTL, "-s", sock, "slowlog", "5"], capture_output=True, text=True, timeout=30)
    assert table.returncode == 0 and "GET " + key.decode() in table.stdout and " s1 " in table.stdout, table.stdout
    assert admin(sock, "SLOWLOG", "RESET") == b"+OK"
    assert admin(sock, "SLOWLOG", "LEN") == 0


def test_a_big_value_shows_in_big_keys(monitored):
    port, sock, _ = monitored(threads=1)
    c = Resp(port, timeout=60)
    value = b"x" * (10 * 1024 * 1024)
    assert c.call("SET", "huge", value) == b"+OK"
    assert c.call("GET", "huge") == value
    assert c.call("SET", "small", "v") == b"+OK"
    big = json.loads(admin(sock, "BIGKEYS", "cache", "JSON"))
    assert big["threshold"] == 1 << 20
    rows = {(k["key"], k["command"], k["side"]): k for k in big["keys"]}
    assert rows[("huge", "SET", "request")]["bytes_max"] >= len(value)
    assert rows[("huge", "GET", "reply")]["bytes_max"] >= len(value)
    assert not [k for k in big["keys"] if k["key"] == "small"]
    resp = admin(sock, "BIGKEYS", "cache")
    assert [b"huge", b"GET", b"reply"] in [r[:3] for r in resp]
    assert admin(sock, "BIGKEYS", "cache", "RESET") == b"+OK"
    assert admin(sock, "BIGKEYS", "cache") == []
    assert admin(sock, "BIGKEYS", "nosuch").startswith(b"-ERR no pool named 'nosuch'")


def test_binary_keys_come_out_intact_in_every_format(monitored):
    port, sock, _ = monitored(threads=1, bigkey_threshold=100)
    key = b'bin\r\n\x00"\\\xff\x01end'
    c = Resp(port)
    assert c.call("SET", key, b"v" * 200) == b"+OK"
    for _ in range(300):
        c.send(encode("GET", key))
    for _ in range(300):
        assert c.reply() == b"v" * 200
    deadline = time.monotonic() + 10
    while True:
        resp = admin(sock, "HOTKEYS", "cache")
        if resp:
            break
        assert time.monotonic() < deadline, "no hot keys published"
        time.sleep(0.2)
    assert resp[0][0] == key and resp[0][3] == len(key)
    js = json.loads(admin(sock, "HOTKEYS", "cache", "JSON"))
    assert js["keys"][0]["key"] == key.decode("latin-1")     # every byte escaped, none lost
    big = json.loads(admin(sock, "BIGKEYS", "cache", "JSON"))
    assert {k["key"] for k in big["keys"]} == {key.decode("latin-1")}
    assert admin(sock, "BIGKEYS", "cache")[0][0] == key
    metrics = admin(sock, "METRICS").decode()
    lines = [l for l in metrics.splitlines() if l.startswith("coproxy_hotkey_requests_per_second{")]
    assert len(lines) == 1, lines
    assert 'key="bin\\\\x0d\\n\\\\x00\\"\\\\\\\\xff\\\\x01end"' in lines[0], lines[0]
    # a long key: its first 128 bytes kept, its length told
    long_key = b"L" * 20000
    for _ in range(400):
        c.send(encode("GET", long_key))
    for _ in range(400):
        assert c.reply() is None
    deadline = time.monotonic() + 10
    while True:
        js = json.loads(admin(sock, "HOTKEYS", "cache", "JSON"))
        longs = [k for k in js["keys"] if k["key_bytes"] == 20000]
        if longs:
            break
        assert time.monotonic() < deadline, js
        time.sleep(0.2)
    assert longs[0]["truncated"] and longs[0]["key"] == "L" * 128


def test_turned_off_nothing_is_recorded(monitored):
    port, sock, _ = monitored(threads=1, slowlog_slower_than=-1, hotkeys=False, bigkey_threshold=0)
    c = Resp(port)
    for _ in range(500):
        c.send(encode("SET", "k", b"v" * 4096))
    for _ in range(500):
        assert c.reply() == b"+OK"
    time.sleep(1.5)
    assert admin(sock, "HOTKEYS", "cache") == []
    assert admin(sock, "BIGKEYS", "cache") == []
    assert admin(sock, "SLOWLOG", "LEN") == 0


def test_coproxyctl_top_shows_rates_hot_keys_and_slow_requests(monitored):
    port, sock, _ = monitored(threads=1, slowlog_slower_than=0)
    load = SkewedLoad(port, "topkey", 4.0)
    load.start()
    time.sleep(1.5)
    r = subprocess.run([COPROXYCTL, "-s", sock, "top", "-n", "2", "-i", "1"], capture_output=True, text=True, timeout=60)
    load.join(30)
    assert load.error is None, load.error
    assert r.returncode == 0, r.stderr
    screens = r.stdout.split("coproxy top ")[1:]
    assert len(screens) == 2, r.stdout
    last = screens[-1]
    assert "pool cache (redis" in last and "requests/s" in last
    rate = float(last.split("pool cache (redis, ")[1].split("): ")[1].split(" requests/s")[0])
    assert rate > 100, last
    assert "topkey" in last.split("hot keys")[1].split("slowest")[0], last
    assert "slowest requests in the slow log" in last and "GET " in last.split("slowest")[1], last


def test_slowlog_through_the_proxy_has_its_own_entries_and_the_servers(monitored):
    port, sock, ports = monitored(threads=2, slowlog_slower_than=100000)
    servers = [Resp(p) for p in ports]
    for s in servers:
        assert s.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == b"+OK"
        assert s.call("SLOWLOG", "RESET") == b"+OK"
    c = Resp(port)
    for i in range(10):                       # keys on both servers
        assert c.call("SET", "k%d" % i, "v") == b"+OK"
    keys = [b"slow:%d" % i for i in range(20)]
    key = keys[probe(keys, ports).index(0)]
    side = socket.create_connection(("127.0.0.1", ports[0]), timeout=30)
    side.sendall(encode("DEBUG", "SLEEP", "0.3"))
    time.sleep(0.05)
    assert c.call("GET", key) is None         # 300 ms behind the sleep: in the proxy's slow log
    assert side.recv(64).startswith(b"+OK")
    side.close()
    for s in servers:
        assert s.call("CONFIG", "SET", "slowlog-log-slower-than", "-1") == b"+OK"
    entries = c.call("SLOWLOG", "GET", "-1")
    named = {}
    for e in entries:
        assert len(e) == 7, e
        named.setdefault(e[6], []).append(e)
    assert set(named) == {b"s0", b"s1", b"coproxy"}, set(named)
    own = named[b"coproxy"]
    assert [e[3][:2] for e in own] == [[b"GET", key]], own
    assert own[0][2] >= 150000
    assert [e[1] for e in entries] == sorted((e[1] for e in entries), reverse=True)
    servers_len = sum(s.call("SLOWLOG", "LEN") for s in servers)
    assert c.call("SLOWLOG", "LEN") == servers_len + 1
    assert admin(sock, "SLOWLOG", "LEN") == 1
    assert c.call("SLOWLOG", "RESET") == b"+OK"
    assert c.call("SLOWLOG", "LEN") == 0
    assert admin(sock, "SLOWLOG", "LEN") == 0


def test_a_512_mb_key_is_kept_short_everywhere(monitored):
    port, sock, _ = monitored(threads=1, server_timeout=20000)
    n = 512 * 1024 * 1024 - 1                       # Redis's largest argument
    c = Resp(port, timeout=120)
    c.send(b"*2\r\n$3\r\nGET\r\n$%d\r\n" % n)
    chunk = b"K" * (1 << 20)
    for _ in range(n >> 20):
        c.send(chunk)
    c.send(b"K" * (n - ((n >> 20) << 20)) + b"\r\n")
    assert c.reply() is None
    assert c.call("PING") == b"+PONG"
    big = json.loads(admin(sock, "BIGKEYS", "cache", "JSON"))["keys"]
    assert [(k["key"], k["key_bytes"], k["truncated"], k["side"]) for k in big] == [("K" * 48, n, True, "request")]
    assert big[0]["bytes_max"] > n
    slow = [e for e in admin(sock, "SLOWLOG", "GET", "-1") if e[3][0] == b"GET" and e[3][1].startswith(b"KKK")]
    assert len(slow) == 1 and slow[0][3][1] == b"K" * 48 + b"... (%d more bytes)" % (n - 48), slow
    table = admin(sock, "SLOWLOG", "GET", "-1", "TABLE")
    assert len(table) < 10000 and b"KKKK" in table


def test_a_million_distinct_keys_cost_no_memory(monitored, tmp_path):
    port, sock, _ = monitored(threads=1)
    pid = int(subprocess.run(["pgrep", "-n", "-f", "coproxy -c " + str(tmp_path)], capture_output=True,
                             text=True).stdout.split()[0])

    def rss():
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

    c = Resp(port, timeout=60)

    def burst(first, count):
        for start in range(first, first + count, 10000):
            c.send(b"".join(encode("GET", "distinct:%d" % i) for i in range(start, start + 10000)))
            got = 0
            while got < 10000 * 5:                       # each reply is $-1\r\n
                c._fill()
                got += len(c.buf)
                c.buf = b""

    burst(0, 100000)                                     # warm: buffers, caches
    before = rss()
    burst(100000, 1000000)
    after = rss()
    assert after - before < 4096, (before, after)        # KiB: the sketch is fixed, the keys are not kept
    time.sleep(1.5)
    assert len(admin(sock, "HOTKEYS", "cache", "-1")) <= 32
