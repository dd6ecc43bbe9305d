# SPDX-License-Identifier: Apache-2.0
"""Redis mode: the real daemon in front of real redis-servers on loopback."""
import hashlib
import os
import socket
import threading
import time

import pytest
import redis

from conftest import free_port
from redis_util import RedisProc, Resp, encode, probe, redis_config, rss_kb


class Setup:
    def __init__(self, port, backends):
        self.port = port
        self.backends = backends
        self.ports = [b.port for b in backends]

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=30, **kw)

    def direct(self, i):
        return redis.Redis(host="127.0.0.1", port=self.ports[i], socket_timeout=30)

    def holder(self, key):
        """Index of the backend that has key (exactly one must)."""
        found = [i for i, b in enumerate(self.backends)
                 if b.proc.poll() is None and self.direct(i).exists(key)]
        assert len(found) == 1, (key, found)
        return found[0]


@pytest.fixture
def backends(tmp_path):
    made = []

    def start(n, extra=()):
        for _ in range(n):
            made.append(RedisProc(tmp_path, extra=extra))
        return made[-n:]

    try:
        yield start
    finally:
        for b in made:
            b.stop()


@pytest.fixture
def proxy(daemon, backends):
    """proxy(n=3, **pool settings) -> Setup with n fresh redis-servers behind coproxy."""
    def start(n=3, threads=1, **pool):
        bs = backends(n)
        port = free_port()
        d = daemon(redis_config(port, [b.port for b in bs], threads=threads, **pool), port=port)
        s = Setup(port, bs)
        s.daemon = d
        return s
    return start


def test_command_families_land_where_the_distribution_says(proxy):
    s = proxy(3)
    r = s.client()
    keys = {}
    # one key per family, each written through the proxy with its own command
    r.set("str:a", "1"); keys["str:a"] = b"string"
    r.append("str:b", "xy"); keys["str:b"] = b"string"
    r.incrby("str:c", 5); keys["str:c"] = b"string"
    r.setbit("bit:a", 7, 1); keys["bit:a"] = b"string"
    r.hset("hash:a", mapping={"f1": "v1", "f2": "v2"}); keys["hash:a"] = b"hash"
    r.rpush("list:a", "x", "y", "z"); keys["list:a"] = b"list"
    r.sadd("set:a", "m1", "m2"); keys["set:a"] = b"set"
    r.zadd("zset:a", {"m1": 1.0, "m2": 2.0}); keys["zset:a"] = b"zset"
    r.pfadd("hll:a", "a", "b", "c"); keys["hll:a"] = b"string"
    r.geoadd("geo:a", (13.361389, 38.115556, "Palermo")); keys["geo:a"] = b"zset"
    r.xadd("stream:a", {"f": "v"}); keys["stream:a"] = b"stream"
    where = probe([k.encode() for k in keys], s.ports)
    for (k, t), want in zip(keys.items(), where):
        assert s.holder(k) == want, k
        assert s.direct(want).type(k) == t
        assert r.type(k) == t
    # reads of every family come back through the proxy
    assert r.get("str:a") == b"1" and r.get("str:b") == b"xy" and r.get("str:c") == b"5"
    assert r.getbit("bit:a", 7) == 1 and r.bitcount("bit:a") == 1
    assert r.hgetall("hash:a") == {b"f1": b"v1", b"f2": b"v2"} and r.hlen("hash:a") == 2
    assert r.lrange("list:a", 0, -1) == [b"x", b"y", b"z"] and r.lpop("list:a") == b"x"
    assert r.smembers("set:a") == {b"m1", b"m2"} and r.sismember("set:a", "m1")
    assert r.zrange("zset:a", 0, -1, withscores=True) == [(b"m1", 1.0), (b"m2", 2.0)]
    assert r.pfcount("hll:a") == 3
    assert abs(r.geopos("geo:a", "Palermo")[0][0] - 13.361389) < 1e-5
    assert r.xlen("stream:a") == 1
    # key commands
    assert r.expire("str:a", 100) and 0 < r.ttl("str:a") <= 100
    assert r.persist("str:a") and r.ttl("str:a") == -1
    dump = r.dump("str:b")
    r.restore("str:copy", 0, dump)
    assert r.get("str:copy") == b"xy"
    assert s.holder("str:copy") == probe([b"str:copy"], s.ports)[0]
    # commands with several keys on one server (a hash tag keeps them together)
    r.sadd("{u1}:s1", "a", "b"); r.sadd("{u1}:s2", "b", "c")
    assert r.sinter("{u1}:s1", "{u1}:s2") == {b"b"}
    assert r.rename("{u1}:s1", "{u1}:s3") and r.exists("{u1}:s3") == 1
    assert r.eval("return redis.call('get', KEYS[1])", 1, "str:b") == b"xy"


def test_keys_on_different_servers_are_refused_not_half_done(proxy):
    s = proxy(3)
    r = s.client()
    # find two keys on different servers
    names = [f"k{i}".encode() for i in range(50)]
    where = probe(names, s.ports)
    a = names[0]
    b = next(n for n, w in zip(names, where) if w != where[0])
    r.set(a, "1")
    with pytest.raises(redis.ResponseError, match="different servers"):
        r.rename(a, b)
    assert r.get(a) == b"1" and r.exists(b) == 0
    with pytest.raises(redis.ResponseError, match="different servers"):
        r.msetnx({a: "x", b: "y"})
    assert r.get(a) == b"1" and r.exists(b) == 0
    with pytest.raises(redis.ResponseError, match="different servers"):
        r.eval("return 1", 2, a, b)


def test_multi_key_commands_split_and_merge(proxy):
    s = proxy(3)
    r = s.client()
    keys = [f"mk:{i}" for i in range(40)]
    assert r.mset({k: f"v{i}" for i, k in enumerate(keys) if i % 2 == 0})
    # the keys are spread over several servers
    where = probe([k.encode() for k in keys], s.ports)
    assert len(set(where)) >= 2
    for i in range(0, 40, 2):
        assert s.holder(keys[i]) == where[i]
    got = r.mget(keys + ["missing"])
    assert got == [f"v{i}".encode() if i % 2 == 0 else None for i in range(40)] + [None]
    assert r.exists(*keys) == 20
    assert r.touch(*keys[:10]) == 5
    assert r.delete(*keys[:20]) == 10
    assert r.unlink(*keys) == 10
    assert r.mget(keys) == [None] * 40
    assert r.dbsize() == 0


def test_fanout_commands(proxy):
    s = proxy(3)
    r = s.client()
    for i in range(30):
        r.set(f"fan:{i}", i)
    assert r.dbsize() == 30
    assert sorted(r.keys("fan:*")) == sorted(f"fan:{i}".encode() for i in range(30))
    sha = r.script_load("return 7")
    for i in range(3):
        assert s.direct(i).script_exists(sha) == [True]
    assert r.evalsha(sha, 1, "fan:1") == 7
    only0 = s.direct(0).script_load("return 8")       # on one server only
    assert r.script_exists(sha, only0, "0" * 40) == [True, False, False]   # 1 where every server has it
    assert r.flushdb()
    assert r.dbsize() == 0
    assert r.execute_command("WAIT", 0, 0) == 0     # no replicas (tests in test_redis_pinned.py)


def test_errors_from_backends_reach_the_client_unchanged(proxy):
    s = proxy(1)
    raw = Resp(s.port)
    raw.call("SET", "str", "x")
    assert raw.call("LPUSH", "str", "y") == \
        b"-WRONGTYPE Operation against a key holding the wrong kind of value"
    assert raw.call("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", 0).startswith(b"-NOSCRIPT")
    s.direct(0).config_set("maxmemory", 1)
    s.direct(0).config_set("maxmemory-policy", "noeviction")
    assert raw.call("SET", "big", "y" * 1000).startswith(b"-OOM ")
    s.direct(0).config_set("maxmemory", 0)
    assert raw.call("INCR", "str") == b"-ERR value is not an integer or out of range"
    assert raw.call("GET", "str") == b"x"


def test_pipeline_of_10000_commands_in_order(proxy):
    s = proxy(3)
    r = s.client()
    p = r.pipeline(transaction=False)
    for i in range(10000):
        if i % 3 == 0:
            p.set(f"p:{i}", i)
        elif i % 3 == 1:
            p.get(f"p:{i - 1}")
        else:
            p.incr(f"ctr:{i % 7}")
    out = p.execute()
    counts = {}
    for i, v in enumerate(out):
        if i % 3 == 0:
            assert v is True
        elif i % 3 == 1:
            assert v == str(i - 1).encode()
        else:
            counts[i % 7] = counts.get(i % 7, 0) + 1
            assert v == counts[i % 7]


def test_binary_safe_keys_and_values(proxy):
    s = proxy(3)
    r = s.client()
    # every byte but the newline (dist_probe reads keys a line each)
    keys = [bytes([i if i != 10 else 11, 0, 255 - i, 13]) + b"\r$3\r" + os.urandom(8).replace(b"\n", b"n") for i in range(64)]
    vals = [os.urandom(i * 7) + b"\r\n\x00$-1\r\n" for i in range(64)]
    for k, v in zip(keys, vals):
        assert r.set(k, v)
    where = probe(keys, s.ports)
    for k, v, w in zip(keys, vals, where):
        assert r.get(k) == v
        assert s.direct(w).get(k) == v
    assert r.mget(keys) == vals


def test_values_of_0_bytes_1_mb_and_100_mb(proxy):
    s = proxy(2)
    r = s.client()
    assert r.set("v0", b"") and r.get("v0") == b""
    one = os.urandom(1 << 20)
    assert r.set("v1", one) and r.get("v1") == one
    big = os.urandom(100 << 20)
    digest = hashlib.sha256(big).digest()
    assert r.set("v100", big)
    got = r.get("v100")
    assert len(got) == len(big) and hashlib.sha256(got).digest() == digest
    del big, got
    # the daemon's memory did not keep growing by the value's size per request
    rss = rss_kb(s.daemon.proc.pid)
    for _ in range(2):
        assert len(r.get("v100")) == 100 << 20
    assert rss_kb(s.daemon.proc.pid) < rss + 3 * (100 << 10)


MALFORMED = [
    (b"*abc\r\n", b"invalid multibulk length"),
    (b"*3\r\n$3\r\nSET\r\n$-5\r\n", b"invalid bulk length"),
    (b"*2\r\n$3\r\nGET\r\n$x\r\n", b"invalid bulk length"),
    (b"*2\r\n$3\r\nGET\r\n+foo\r\n", b"expected '$'"),
    (b"*1\r\n$4\r\nPINGxx\r\n", b"Protocol error"),
    (b"*2\r\n$3\r\nGET\r\n$99999999999\r\n", b"invalid bulk length"),
    (b"*99999999999\r\n", b"invalid multibulk length"),
    (b"\"unbalanced\r\n", b"unbalanced"),
    (b"A" * 70000, b"too big inline request"),
]


@pytest.mark.parametrize("data,expect", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_input_closes_that_client_only(proxy, data, expect):
    s = proxy(1)
    good = Resp(s.port)
    assert good.call("SET", "k", "v") == b"+OK"
    bad = Resp(s.port)
    bad.send(data)
    err = bad.reply()
    assert err.startswith(b"-ERR Protocol error") and expect in err, err
    assert bad.closed()
    assert good.call("GET", "k") == b"v"


def test_garbage_bytes_and_a_half_request_then_close(proxy):
    s = proxy(1)
    good = Resp(s.port)
    for junk in (os.urandom(4096), b"*2\r\n$3\r\nGET\r\n$5\r\nab"):
        bad = Resp(s.port)
        bad.send(b"*" + junk if junk[:1] != b"*" else junk)
        bad.close()
    assert good.call("PING") == b"+PONG"


def test_inline_commands_and_local_commands(proxy):
    s = proxy(2)
    c = Resp(s.port)
    c.send(b"PING\r\n")
    assert c.reply() == b"+PONG"
    c.send(b"set inl 'a b'\r\nget inl\r\n")
    assert c.reply() == b"+OK" and c.reply() == b"a b"
    assert c.call("ECHO", "hi") == b"hi"
    assert c.call("PING", "x") == b"x"
    assert c.call("SELECT", "0") == b"+OK"
    assert c.call("SELECT", "99").startswith(b"-ERR DB index is out of range")
    assert c.call("COMMAND", "COUNT") > 150
    assert c.call("CLIENT", "SETNAME", "me") == b"+OK"
    assert c.call("CLIENT", "GETNAME") == b"me"
    hello = c.call("HELLO", "2")
    assert hello[0] == b"server" and hello[hello.index(b"proto") + 1] == 2
    assert c.call("HELLO", "4").startswith(b"-NOPROTO")   # (3 is RESP3: test_redis_resp3.py)
    assert c.call("QUIT") == b"+OK"
    assert c.closed()


@pytest.mark.parametrize("cmd", [["MONITOR"], ["SHUTDOWN"], ["NOSUCHCOMMAND", "x"]])
def test_unsupported_commands_get_an_error_and_the_connection_stays(proxy, cmd):
    s = proxy(1)
    c = Resp(s.port)
    err = c.call(*cmd)
    if cmd[0] == "NOSUCHCOMMAND":   # Redis's own words for a command nobody knows
        assert err == b"-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ", err
    else:
        assert err == b"-ERR unsupported command '%s'" % cmd[0].encode(), err
    assert c.call("PING") == b"+PONG"


def test_wrong_number_of_arguments(proxy):
    s = proxy(1)
    c = Resp(s.port)
    assert c.call("GET") == b"-ERR wrong number of arguments for 'get' command"
    assert c.call("SET", "a") == b"-ERR wrong number of arguments for 'set' command"
    assert c.call("PING") == b"+PONG"


def test_auth(proxy):
    s = proxy(1, password="s3cret")
    c = Resp(s.port)
    assert c.call("GET", "k") == b"-NOAUTH Authentication required."
    assert c.call("PING") == b"+PONG"
    assert c.call("AUTH", "wrong").startswith(b"-WRONGPASS")
    assert c.call("GET", "k") == b"-NOAUTH Authentication required."
    assert c.call("AUTH", "s3cret") == b"+OK"
    assert c.call("SET", "k", "v") == b"+OK"
    r = s.client(password="s3cret")
    assert r.get("k") == b"v"
    c2 = Resp(s.port)
    assert c2.call("AUTH", "default", "s3cret") == b"+OK"
    assert c2.call("GET", "k") == b"v"


def test_backend_auth_and_db(proxy, backends, daemon):
    b = backends(1, extra=["--requirepass", "bpass"])[0]
    port = free_port()
    daemon(redis_config(port, [b.port], redis_auth="bpass", redis_db=3), port=port)
    r = redis.Redis(port=port, socket_timeout=30)
    assert r.set("dbkey", "v")
    direct = redis.Redis(port=b.port, password="bpass", db=3)
    assert direct.get("dbkey") == b"v"
    assert redis.Redis(port=b.port, password="bpass", db=0).get("dbkey") is None


def test_a_wrong_backend_password_is_reported_not_forwarded(backends, daemon):
    """redis_auth that the server refuses: the connection fails, and the
    client is told why (not the server's NOAUTH for its own command)."""
    b = backends(1, extra=["--requirepass", "bpass"])[0]
    port = free_port()
    daemon(redis_config(port, [b.port], redis_auth="wrong"), port=port)
    c = Resp(port)
    r = c.call("GET", "k")
    assert r.startswith(b"-ERR coproxy: ") and b"WRONGPASS" in r and b"AUTH" in r, r
    c.close()


def set_until_ok(r, key, value, deadline, why, pause):
    """SET through the proxy until it succeeds (a server coming back, or being ejected)."""
    while True:
        try:
            r.set(key, value)
            return
        except redis.ResponseError:
            assert time.monotonic() < deadline, why
            time.sleep(pause)


def test_backend_killed_during_load_then_back(proxy):
    s = proxy(3, server_retry_timeout=500)
    names = [f"load:{i}".encode() for i in range(300)]
    where = dict(zip(names, probe(names, s.ports)))
    r = s.client()
    for k in names:
        r.set(k, k)
    dead = 1
    stop = threading.Event()
    seen = {"ok": 0, "err": 0, "wrong": []}

    def load():
        c = s.client()
        while not stop.is_set():
            p = c.pipeline(transaction=False)
            for k in names:
                p.get(k)
            for k, v in zip(names, p.execute(raise_on_error=False)):
                if v == k:
                    seen["ok"] += 1
                elif isinstance(v, redis.ResponseError) and where[k] == dead and "s1" in str(v):
                    seen["err"] += 1
                else:
                    seen["wrong"].append((k, v))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    s.backends[dead].stop()          # killed while the clients are busy
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a client hung"
    assert seen["wrong"] == [], seen["wrong"][:5]
    assert seen["err"] > 0 and seen["ok"] > 0
    # the live servers' keys still work; the dead one's fail fast
    for k in names:
        if where[k] != dead:
            assert r.get(k) == k
        else:
            with pytest.raises(redis.ResponseError, match="s1"):
                r.get(k)
    s.backends[dead].start()
    deadline = time.monotonic() + 30
    key = next(k for k in names if where[k] == dead)
    set_until_ok(r, key, "again", deadline, "the proxy never used the restarted server", 0.2)
    assert s.direct(dead).get(key) == b"again"


def test_auto_eject_and_return(proxy):
    s = proxy(3, auto_eject_hosts=True, server_failure_limit=2, server_retry_timeout=1500)
    names = [f"ej:{i}".encode() for i in range(200)]
    where = probe(names, s.ports)
    r = s.client()
    dead = 2
    s.backends[dead].stop()
    victim = names[where.index(dead)]
    # failures in a row eject the server: its keys move to the live ones
    set_until_ok(r, victim, "moved", time.monotonic() + 20, "never ejected", 0.05)
    assert s.holder(victim) in (0, 1)
    assert "ejected" in s.daemon.log()
    # after the retry timeout it is tried again; once back, it gets its keys again
    s.backends[dead].start()
    deadline = time.monotonic() + 30
    while True:
        r.set(victim, "home")
        if s.direct(dead).get(victim) == b"home":
            break
        assert time.monotonic() < deadline, "never returned to the distribution"
        time.sleep(0.2)


def test_server_timeout_gives_an_error_never_another_reply(proxy):
    s = proxy(1, server_timeout=300)
    r = s.client()
    r.set("a", "1")
    blocker = threading.Thread(target=lambda: s.direct(0).execute_command("DEBUG", "SLEEP", "1.5"))
    blocker.start()
    time.sleep(0.2)
    with pytest.raises(redis.ResponseError, match="timeout"):
        r.get("a")
    blocker.join()
    # the late reply is dropped: the next request gets its own reply
    assert r.set("b", "2") and r.get("b") == b"2" and r.get("a") == b"1"


def test_a_thousand_concurrent_clients(proxy):
    s = proxy(3, threads=2)
    errors = []

    def run(i):
        try:
            c = Resp(s.port, timeout=60)
            for j in range(5):
                assert c.call("SET", f"c{i}:{j}", f"{i}-{j}") == b"+OK"
                assert c.call("GET", f"c{i}:{j}") == f"{i}-{j}".encode()
            c.close()
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append(repr(e))

    socks = [Resp(s.port, timeout=60) for _ in range(1000)]   # all open at once
    for c in socks:
        assert c.call("PING") == b"+PONG"
    threads = [threading.Thread(target=run, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i, c in enumerate(socks):
        assert c.call("INCR", "shared") > 0
        c.close()
    assert s.client().get("shared") == b"1000"


def wait_for_a_free_slot(port, timeout=10):
    """Until a new client gets served (a closed one's slot in client_connections is free)."""
    deadline = time.monotonic() + timeout
    while True:
        c = Resp(port)
        try:
            if c.call("PING") == b"+PONG":
                return
        except (EOFError, ConnectionResetError):
            pass
        finally:
            c.close()
        assert time.monotonic() < deadline, "the slot was never freed"
        time.sleep(0.1)


def test_client_connection_limit(proxy):
    s = proxy(1, client_connections=3)
    held = [Resp(s.port) for _ in range(3)]
    for c in held:
        assert c.call("PING") == b"+PONG"
    extra = Resp(s.port)
    assert extra.reply() == b"-ERR max number of clients reached"
    assert extra.closed()
    held[0].close()
    wait_for_a_free_slot(s.port)


def test_idle_client_is_kicked(proxy):
    s = proxy(1, client_idle_timeout=1000)
    idle = Resp(s.port)
    busy = Resp(s.port)
    assert idle.call("PING") == b"+PONG"
    start = time.monotonic()
    while time.monotonic() - start < 2.5:
        assert busy.call("PING") == b"+PONG"
        time.sleep(0.1)
    assert idle.closed(timeout=5)
    assert busy.call("PING") == b"+PONG"


def test_sigterm_answers_in_flight_requests_then_exits(proxy):
    s = proxy(1, server_timeout=5000)
    r = s.client()
    r.set("a", "1")
    idle = Resp(s.port)
    assert idle.call("PING") == b"+PONG"
    slow = Resp(s.port)
    blocker = threading.Thread(target=lambda: s.direct(0).execute_command("DEBUG", "SLEEP", "1"))
    blocker.start()
    time.sleep(0.2)
    slow.send(encode("GET", "a"))
    time.sleep(0.1)
    s.daemon.proc.send_signal(15)
    assert slow.reply() == b"1"
    blocker.join()
    assert s.daemon.proc.wait(timeout=15) == 0
    assert idle.closed()


def test_last_requests_then_fin_are_answered_and_the_client_closed(proxy):
    s = proxy(1, client_connections=1)
    c = Resp(s.port)
    c.send(encode("SET", "fin", "1") + encode("GET", "fin"))
    c.sock.shutdown(socket.SHUT_WR)          # the FIN comes with the last requests
    assert c.reply() == b"+OK" and c.reply() == b"1"
    assert c.closed()
    # a half request and a FIN: the proxy closes it, freeing its slot
    d = Resp(s.port)
    d.send(b"*2\r\n$3\r\nGET\r\n$3\r\nfi")
    d.sock.shutdown(socket.SHUT_WR)
    assert d.closed()
    wait_for_a_free_slot(s.port)


def test_one_clients_requests_keep_their_order_over_several_connections(proxy):
    s = proxy(1, server_connections=4)
    r = s.client()
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.set("order", i)
        p.get("order")
    out = p.execute()
    assert out[1::2] == [str(i).encode() for i in range(2000)]


@pytest.mark.parametrize("distribution,hash_name", [("ketama", "fnv1a_64"), ("modula", "murmur"),
                                                    ("ketama", "md5")])
def test_keys_written_through_twemproxy_are_found_through_coproxy(daemon, backends, tmp_path,
                                                                   distribution, hash_name):
    """Switching from twemproxy moves no data: the same pool settings find every key."""
    import subprocess
    bs = backends(3)
    nc_port, nc_stats = free_port(), free_port()
    (tmp_path / "nc.yml").write_text(
        f"cache:\n  listen: 127.0.0.1:{nc_port}\n  redis: true\n  hash: {hash_name}\n"
        f"  distribution: {distribution}\n  hash_tag: \"{{}}\"\n  timeout: 5000\n  servers:\n"
        + "".join(f"   - 127.0.0.1:{b.port}:{i + 1} s{i}\n" for i, b in enumerate(bs)))
    nc = subprocess.Popen(["nutcracker", "-c", str(tmp_path / "nc.yml"), "-s", str(nc_stats),
                           "-o", str(tmp_path / "nc.log"), "-p", str(tmp_path / "nc.pid")])
    try:
        from conftest import wait_port
        wait_port(nc_port)
        port = free_port()
        conf = redis_config(port, [b.port for b in bs], distribution=distribution, hash=hash_name,
                            hash_tag="{}")
        for i, b in enumerate(bs):   # the same weights as twemproxy's: 1, 2, 3
            conf = conf.replace(f'"127.0.0.1:{b.port}:1 s{i}"', f'"127.0.0.1:{b.port}:{i + 1} s{i}"')
        daemon(conf, port=port)
        via_nc = redis.Redis(port=nc_port, socket_timeout=30)
        via_co = redis.Redis(port=port, socket_timeout=30)
        keys = [f"user:{i}:{'x' * (i % 40)}" for i in range(300)] + [f"{{tag{i % 7}}}:k{i}" for i in range(50)]
        for k in keys:
            via_nc.set(k, k)
        assert via_co.mget(keys) == [k.encode() for k in keys]
        for k in keys[:50]:
            assert via_co.get(k) == k.encode()
    finally:
        nc.terminate()
        nc.wait(timeout=10)
