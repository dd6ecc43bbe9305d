# SPDX-License-Identifier: Apache-2.0
"""Redis mode beyond twemproxy: transactions and blocking commands on
connections pinned to a client, through redis-py as a user drives them,
against 1 and 3 real redis-servers."""
import socket
import threading
import time

import pytest
import redis

from redis_util import Resp, admin_stats, probe
from test_redis import Setup, backends, proxy  # noqa: F401 -- the fixtures


def keys_on(s, server, n=1, prefix="k"):
    """n keys that live on backend `server`."""
    cands = [f"{prefix}{i}".encode() for i in range(400)]
    found = [k.decode() for k, w in zip(cands, probe(cands, s.ports)) if w == server]
    assert len(found) >= n
    return found[:n]


@pytest.mark.parametrize("n", [1, 3])
def test_transaction_with_watch_succeeds_and_fails_under_a_concurrent_writer(proxy, n):
    s = proxy(n, hash_tag="{}")
    r, other = s.client(), s.client()
    r.set("{acct}balance", 100)
    with r.pipeline() as p:                        # WATCH, read, MULTI, write, EXEC
        p.watch("{acct}balance")
        v = int(p.get("{acct}balance"))
        p.multi()
        p.set("{acct}balance", v - 30)
        p.incr("{acct}ops")
        assert p.execute() == [True, 1]
    assert r.get("{acct}balance") == b"70"
    with r.pipeline() as p:
        p.watch("{acct}balance")
        v = int(p.get("{acct}balance"))
        other.set("{acct}balance", 5)              # a concurrent writer
        p.multi()
        p.set("{acct}balance", v - 30)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("{acct}balance") == b"5"          # the transaction did not run
    p = r.pipeline()                               # MULTI/EXEC without WATCH
    p.incr("{acct}ops")
    p.get("{acct}ops")
    p.ping()
    assert p.execute() == [2, b"2", True]
    raw = Resp(s.port)                             # Redis's exact replies
    assert raw.call("MULTI") == b"+OK"
    assert raw.call("PING") == b"+QUEUED"           # no key yet: queued by the proxy
    assert raw.call("SET", "{acct}x", "1") == b"+QUEUED"
    assert raw.call("EXEC") == [b"+PONG", b"+OK"]
    assert raw.call("MULTI") == b"+OK"
    assert raw.call("SET", "{acct}x", "2") == b"+QUEUED"
    assert raw.call("DISCARD") == b"+OK"
    assert raw.call("GET", "{acct}x") == b"1"
    assert raw.call("EXEC").startswith(b"-ERR EXEC without MULTI")
    assert raw.call("DISCARD").startswith(b"-ERR DISCARD without MULTI")
    assert raw.call("MULTI") == b"+OK"
    assert raw.call("MULTI").startswith(b"-ERR MULTI calls can not be nested")
    assert raw.call("PING") == b"+QUEUED"
    assert raw.call("EXEC") == [b"+PONG"]           # keyless: runs on one server
    assert raw.call("UNWATCH") == b"+OK"


def test_cross_server_transaction_is_refused_and_nothing_runs(proxy):
    s = proxy(3)
    a, b = keys_on(s, 0)[0], keys_on(s, 1)[0]
    r = s.client()
    p = r.pipeline()
    p.set(a, "1")
    p.set(b, "2")
    with pytest.raises(redis.ResponseError, match="are on server s1, this transaction's on server s0"):
        p.execute()                                # (redis-py names the command that aborted it)
    assert r.exists(a) == 0 and r.exists(b) == 0
    raw = Resp(s.port)
    assert raw.call("MULTI") == b"+OK"
    assert raw.call("SET", a, "1") == b"+QUEUED"
    err = raw.call("SET", b, "2")
    assert err.startswith(b"-ERR coproxy: the keys of 'set' are on server s1, this transaction's on server s0")
    assert raw.call("EXEC") == b"-EXECABORT Transaction discarded because of previous errors."
    assert raw.call("GET", a) is None
    assert raw.call("MULTI") == b"+OK"              # an unknown command aborts it too, as in Redis
    assert raw.call("NOSUCH").startswith(b"-ERR unknown command 'NOSUCH'")
    assert raw.call("EXEC").startswith(b"-EXECABORT")
    assert raw.call("WATCH", a, b).startswith(b"-ERR coproxy: the keys of 'watch' are on different servers")
    assert raw.call("PING") == b"+PONG"             # the connection stays usable


def test_blpop_is_woken_by_another_client_and_times_out(proxy):
    s = proxy(3, hash_tag="{}")
    r = s.client()
    got = {}

    def waiter():
        got["v"] = s.client().blpop(["jobs"], timeout=20)
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.5)
    r.lpush("jobs", "job-1")
    t.join(30)
    assert got["v"] == (b"jobs", b"job-1")
    t0 = time.monotonic()
    assert r.blpop(["jobs"], timeout=1) is None    # its own timeout, not server_timeout
    assert time.monotonic() - t0 >= 0.9
    # the others: BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP
    r.rpush("{q}a", "x", "y")
    assert r.brpop(["{q}a"], timeout=1) == (b"{q}a", b"y")
    assert r.blmove("{q}a", "{q}b", timeout=1, src="LEFT", dest="RIGHT") == b"x"
    assert r.brpoplpush("{q}b", "{q}a", timeout=1) == b"x"
    assert r.execute_command("BLMPOP", 1, 1, "{q}a", "LEFT") == [b"{q}a", [b"x"]]
    r.zadd("{z}s", {"m1": 1, "m2": 2, "m3": 3})
    assert r.bzpopmin("{z}s", timeout=1) == (b"{z}s", b"m1", 1.0)
    assert r.bzpopmax("{z}s", timeout=1) == (b"{z}s", b"m3", 3.0)
    assert r.execute_command("BZMPOP", 1, 1, "{z}s", "MIN") == [b"{z}s", [[b"m2", b"2"]]]
    # a blocking command longer than server_timeout (2 s here) is not cut short
    t0 = time.monotonic()
    assert r.blpop(["nothing"], timeout=3) is None
    assert time.monotonic() - t0 >= 2.9


def admin_pinned(sock):
    return sum(sv["pinned"] for sv in admin_stats(sock)["pools"][0]["servers"])


def blocked_clients(s, i):
    return int(s.direct(i).info("clients")["blocked_clients"])


def test_client_killed_while_blocked_leaves_no_pinned_connection(daemon, backends, tmp_path):
    from conftest import free_port
    from redis_util import redis_config
    bs = backends(1)
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    d = daemon(f'admin = {{ socket = "{sock}"; }};\n' + redis_config(port, [bs[0].port]), port=port)
    s = Setup(port, bs)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw.sendall(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nempty\r\n$1\r\n0\r\n")   # blocks for ever
    deadline = time.monotonic() + 10
    while blocked_clients(s, 0) != 1 or admin_pinned(sock) != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    raw.close()                                    # the client dies while blocked
    deadline = time.monotonic() + 10
    while blocked_clients(s, 0) != 0 or admin_pinned(sock) != 0:
        assert time.monotonic() < deadline, (blocked_clients(s, 0), admin_pinned(sock))
        time.sleep(0.05)
    r = s.client()
    r.lpush("empty", "v")                          # nobody steals it: the blocked pop is gone
    assert r.lrange("empty", 0, -1) == [b"v"]
    assert d.proc.poll() is None


def test_pinned_connection_cap(proxy):
    s = proxy(1, server_pinned_connections=2)
    holders = [s.client().pipeline() for _ in range(2)]
    for h in holders:
        h.watch("{cap}k")                          # each holds a pinned connection
    t0 = time.monotonic()
    with pytest.raises(redis.ResponseError, match="all 2 pinned connections to server s0 are in use"):
        s.client().blpop(["{cap}q"], timeout=5)
    assert time.monotonic() - t0 < 3               # an error at once, not a hang
    holders[0].reset()                             # UNWATCH: its connection goes back
    assert s.client().blpop(["{cap}q"], timeout=1) is None   # one is free again
    s0 = proxy(1, server_pinned_connections=0)
    with pytest.raises(redis.ResponseError, match="server_pinned_connections = 0"):
        s0.client().blpop(["q"], timeout=1)


def test_xread_and_xreadgroup_with_and_without_block(proxy):
    s = proxy(3, hash_tag="{}")
    r = s.client()
    r.xadd("{st}a", {"f": "1"}, id="1-0")
    assert r.xread({"{st}a": "0"}) == [[b"{st}a", [(b"1-0", {b"f": b"1"})]]]
    got = {}

    def waiter():
        got["v"] = s.client().xread({"{st}a": "$"}, block=20000)
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.5)
    r.xadd("{st}a", {"f": "2"}, id="2-0")
    t.join(30)
    assert got["v"] == [[b"{st}a", [(b"2-0", {b"f": b"2"})]]]
    t0 = time.monotonic()
    assert r.xread({"{st}a": "$"}, block=500) in ([], None)          # times out by its BLOCK
    assert time.monotonic() - t0 >= 0.45
    r.xgroup_create("{st}a", "g", id="0")
    assert r.xreadgroup("g", "c1", {"{st}a": ">"}, count=1) == [[b"{st}a", [(b"1-0", {b"f": b"1"})]]]
    assert r.xreadgroup("g", "c1", {"{st}a": ">"}, block=100) == [[b"{st}a", [(b"2-0", {b"f": b"2"})]]]
    a, b = keys_on(s, 0)[0], keys_on(s, 1)[0]                         # two streams on different servers
    with pytest.raises(redis.ResponseError, match="different servers"):
        r.xread({a: "0", b: "0"})


def test_select_isolates_databases(proxy):
    s = proxy(3, hash_tag="{}", server_pinned_connections=1)
    r0, r3 = s.client(), s.client(db=3)             # redis-py sends SELECT 3 on connect
    keys = [f"sel{i}" for i in range(30)]
    for k in keys:
        r0.set(k, "db0")
        r3.set(k, "db3")
    assert [r0.get(k) for k in keys] == [b"db0"] * 30
    assert [r3.get(k) for k in keys] == [b"db3"] * 30
    for i in range(3):                              # on the servers: the same split
        d3 = redis.Redis(host="127.0.0.1", port=s.ports[i], db=3)
        d0 = s.direct(i)
        assert d3.dbsize() == d0.dbsize()
    assert sum(redis.Redis(host="127.0.0.1", port=p, db=3).dbsize() for p in s.ports) == 30
    # a transaction and a blocking pop in db 3 use the one pinned connection in turn ...
    p = r3.pipeline()
    p.incr("{t}n")
    p.incr("{t}n")
    assert p.execute() == [1, 2]
    r3.rpush("{t}q", "x")
    assert r3.blpop(["{t}q"], timeout=1) == (b"{t}q", b"x")
    # ... and hand it back on the pool's database: db 0 sees no db 3 key through it
    p = r0.pipeline()
    p.get("{t}n")
    assert p.execute() == [None]
    assert r3.get("{t}n") == b"2"
    raw = Resp(s.port)
    assert raw.call("SELECT", "16").startswith(b"-ERR DB index is out of range")
    assert raw.call("SELECT", "x").startswith(b"-ERR value is not an integer")
    assert raw.call("SELECT", "15") == b"+OK"


def test_wait_counts_the_replicas_of_the_servers_the_client_wrote_to(daemon, backends, tmp_path):
    from conftest import free_port
    from redis_util import RedisProc, redis_config
    bs = backends(2)                               # s0 has a replica, s1 none
    rdir = tmp_path / "replica"
    rdir.mkdir()
    replica = RedisProc(rdir, extra=("--replicaof", "127.0.0.1", str(bs[0].port)))
    try:
        port = free_port()
        daemon(redis_config(port, [b.port for b in bs]), port=port)
        s = Setup(port, bs)
        rep = redis.Redis(host="127.0.0.1", port=replica.port, socket_timeout=30)
        deadline = time.monotonic() + 30
        while rep.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica did not sync"
            time.sleep(0.1)
        on0, on1 = keys_on(s, 0)[0], keys_on(s, 1)[0]
        r = s.client()
        for i in range(20):
            r.set(on0, f"v{i}")
            assert r.execute_command("WAIT", 1, 10000) == 1   # s0's replica has the write
            assert rep.get(on0) == f"v{i}".encode()           # ... really
        p = r.pipeline(transaction=False)           # WAIT right behind the write, one batch
        p.set(on0, "piped")
        p.execute_command("WAIT", 1, 10000)
        assert p.execute() == [True, 1]
        assert rep.get(on0) == b"piped"
        p = r.pipeline(transaction=False)           # two WAITs in one batch: each covers its writes
        p.set(on0, "first")
        p.execute_command("WAIT", 1, 10000)
        p.set(on0, "second")
        p.execute_command("WAIT", 1, 10000)
        assert p.execute() == [True, 1, True, 1]
        assert rep.get(on0) == b"second"
        r.set(on1, "x")                             # s1 has no replica: the smallest count
        t0 = time.monotonic()
        assert r.execute_command("WAIT", 1, 300) == 0
        assert time.monotonic() - t0 >= 0.25        # it waited its own timeout
        assert r.execute_command("WAIT", 0, 0) == 0   # no writes since: every server, at once
        with pytest.raises(redis.ResponseError, match="timeout is negative"):
            r.execute_command("WAIT", 1, -1)
        with pytest.raises(redis.ResponseError, match="not an integer"):
            r.execute_command("WAIT", "x", 0)
        assert r.get(on0) == b"second"              # the shared connections are in step
    finally:
        replica.stop()
