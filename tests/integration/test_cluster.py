# SPDX-License-Identifier: Apache-2.0
"""coproxy in front of a real Redis Cluster (3 masters, 3 replicas, Debian's
redis-server on loopback): keys by slot, multi-key commands split per slot,
redirects followed while slots move, a master killed, replica reads."""
import os
import signal
import subprocess
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from conftest import free_port
from redis_util import Raw, RedisProc, admin_stats, encode, redis_config

NODE_TIMEOUT_MS = 1000


class Cluster:
    def __init__(self, tmp_path, n=6):
        self.nodes = []
        try:
            self._start(tmp_path, n)
        except BaseException:
            self.stop()                            # what started is stopped, even half-way
            raise

    def _start(self, tmp_path, n):
        for i in range(n):
            d = tmp_path / f"node{i}"
            d.mkdir()
            port = free_port()
            self.nodes.append(RedisProc(d, port=port, extra=(
                "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-port", str(free_port()),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS))))
        addrs = [f"127.0.0.1:{p.port}" for p in self.nodes]
        subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", "1", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        self.wait_ok()
        deadline = time.monotonic() + 30           # and every master has its replica
        while any(len(rng) < 4 for node in self.nodes
                  for rng in self.direct(node).execute_command("CLUSTER", "SLOTS")):   # [lo, hi, master, replica]
            assert time.monotonic() < deadline, "replicas did not attach"
            time.sleep(0.1)

    def direct(self, node):
        return redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=30)

    def wait_ok(self, timeout=30):
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if node.proc.poll() is not None:
                continue
            while True:
                info = self.direct(node).execute_command("CLUSTER", "INFO").decode()
                if "cluster_state:ok" in info and "cluster_slots_assigned:16384" in info:
                    break
                assert time.monotonic() < deadline, info
                time.sleep(0.1)

    def client(self):
        live = next(n for n in self.nodes if n.proc.poll() is None)
        return RedisCluster(host="127.0.0.1", port=live.port, socket_timeout=30)

    def role(self, node):
        return self.direct(node).info("replication")["role"]

    def node_id(self, node):
        return self.direct(node).execute_command("CLUSTER", "MYID").decode()

    def stop(self):
        for n in self.nodes:
            n.stop()


@pytest.fixture
def cluster(tmp_path):
    """cluster() -> a fresh cluster of this test's own (for tests that change it)."""
    made = []

    def start():
        c = Cluster(tmp_path)
        made.append(c)
        return c
    try:
        yield start
    finally:
        for c in made:
            c.stop()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for the tests that leave its slots and nodes as they are."""
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.stop()


def proxy_for(daemon, c, admin=None, seed=None, **pool):
    port = free_port()
    pool.setdefault("server_timeout", 10000)
    head = f'admin = {{ socket = "{admin}"; }};\n' if admin else ""
    seed = seed or c.nodes[0]
    daemon(head + redis_config(port, [seed.port], distribution="cluster", **pool), port=port)
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30), port


def test_commands_go_to_the_slot_owner_and_multi_key_commands_split_per_slot(daemon, shared_cluster):
    c = shared_cluster
    r, _ = proxy_for(daemon, c)
    direct = c.client()
    for i in range(300):
        assert r.set(f"key:{i}", i)
    for i in range(300):                           # each is where the cluster says
        assert direct.get(f"key:{i}") == str(i).encode()
    r.hset("h", mapping={"a": "1"}); r.rpush("l", "x", "y"); r.sadd("s", "m"); r.zadd("z", {"m": 1})
    r.xadd("st", {"f": "v"}); r.pfadd("hll", "a")
    assert [direct.type(k) for k in ("h", "l", "s", "z", "st")] == [b"hash", b"list", b"set", b"zset", b"stream"]
    keys = [f"key:{i}" for i in range(0, 300, 7)]   # many slots in one command
    assert r.mget(keys) == [str(i).encode() for i in range(0, 300, 7)]
    assert r.mset({f"m:{i}": f"v{i}" for i in range(50)})
    assert r.mget([f"m:{i}" for i in range(50)]) == [f"v{i}".encode() for i in range(50)]
    assert r.exists(*keys, "nope") == len(keys)
    assert r.delete(*[f"m:{i}" for i in range(50)]) == 50
    assert r.touch(*keys) == len(keys)
    assert r.unlink(*keys[:5]) == 5
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        r.eval("return 1", 2, "key:1", "key:2")     # as Redis Cluster refuses it
    assert r.eval("return redis.call('get', KEYS[1])", 2, "{u}a", "{u}b") is None
    assert r.rename("{u}x" if r.set("{u}x", 1) else "", "{u}y")   # same slot: runs
    masters = [n for n in c.nodes if c.role(n) == "master"]
    assert r.dbsize() == sum(c.direct(n).dbsize() for n in masters)   # masters only, summed
    assert r.execute_command("PING") is True
    assert r.execute_command("WAIT", 0, 0) >= 0    # the masters only, not their replicas
    assert r.set("w", 1) and r.execute_command("WAIT", 1, 10000) == 1   # the write's master has its replica
    with pytest.raises(redis.ResponseError, match="SELECT is not allowed in cluster mode"):
        r.select(1)
    seen = []                                      # SCAN walks every master once
    cursor = 0
    while True:
        cursor, batch = r.scan(cursor, match="key:*", count=50)
        seen.extend(batch)
        if cursor == 0:
            break
    assert sorted(seen) == sorted(f"key:{i}".encode() for i in range(300) if f"key:{i}" not in keys[:5])


def load(r, stop, errors, done):
    i = 0
    while not stop.is_set():
        k = f"load:{i % 2000}"
        try:
            r.set(k, i)
            got = r.get(k)
            if got != str(i).encode():
                errors.append(f"{k}: {got!r} != {i}")
        except redis.RedisError as e:
            errors.append(f"{k}: {e}")
        i += 1
    done.append(i)


def test_resharding_under_load_is_invisible_to_clients(daemon, cluster, tmp_path):
    c = cluster()
    sock = str(tmp_path / "admin.sock")
    r, _ = proxy_for(daemon, c, admin=sock)
    masters = [n for n in c.nodes if c.role(n) == "master"]
    src, dst = c.node_id(masters[0]), c.node_id(masters[1])
    stop, errors, done = threading.Event(), [], []
    t = threading.Thread(target=load, args=(r, stop, errors, done))
    t.start()
    try:
        time.sleep(0.5)
        out = subprocess.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{masters[0].port}",
                              "--cluster-from", src, "--cluster-to", dst, "--cluster-slots", "1500",
                              "--cluster-yes"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        time.sleep(0.5)
    finally:
        stop.set()
        t.join(60)
    assert done and done[0] > 100, done
    assert errors == [], errors[:5]                # no MOVED, no ASK, no wrong value reached the client
    direct = c.client()
    for i in range(0, 2000, 37):                  # the values are where the cluster says
        assert direct.get(f"load:{i}") is not None
    from test_admin import documented_schema
    def owned(m):
        return {n["addr"]: n["slots"] for n in m["nodes"] if n["role"] == "master"}
    m = cluster_stats_when(sock, lambda m: owned(m).get(f"127.0.0.1:{masters[1].port}", 0) >= 5461 + 1500 - 1,
                           timeout=10)                # the map in STATS follows the move
    assert set(m) == documented_schema()["pools[].cluster[]"]
    assert m["moved"] + m["ask"] > 0 and m["epoch"] >= 2, m   # redirects were followed
    assert sum(owned(m).values()) == 16384
    print(f"redirects followed: moved {m['moved']}, ask {m['ask']}; maps {m['epoch']}; retries {m['retries']}")


def test_a_master_killed_under_load_fails_over_and_requests_succeed_again(daemon, cluster, tmp_path):
    c = cluster()
    sock = str(tmp_path / "admin.sock")
    r, _ = proxy_for(daemon, c, admin=sock)
    stop, errors, done = threading.Event(), [], []
    t = threading.Thread(target=load, args=(r, stop, errors, done))
    t.start()
    try:
        time.sleep(0.5)
        victim = next(n for n in c.nodes if c.role(n) == "master")
        victim.stop()                              # SIGKILL
        deadline = time.monotonic() + 30
        while True:                                # a replica takes over its slots
            try:
                c.wait_ok(timeout=1)
                break
            except (AssertionError, redis.RedisError):
                assert time.monotonic() < deadline, "no failover"
        time.sleep(1.0)
        failed_before = len(errors)
        time.sleep(2.0)                            # requests succeed again
        assert len(errors) == failed_before, errors[failed_before:failed_before + 5]
    finally:
        stop.set()
        t.join(60)
    assert r.dbsize() >= 0                         # fan-outs skip the node that is gone
    m = cluster_stats_when(sock, lambda m: [n["role"] for n in m["nodes"]          # the killed node is
                                            if n["addr"] == f"127.0.0.1:{victim.port}"] == ["absent"],   # out of the map
                           timeout=15)
    print(f"requests failed during the failover: {len(errors)} of {done[0] * 2}; sent again: {m['retries']}, "
          f"maps: {m['epoch']}, failed refreshes: {m['refresh_failures']}")
    assert len(errors) < done[0]


def test_read_from_replica_sends_reads_to_replicas(daemon, shared_cluster):
    c = shared_cluster
    seed = next(n for n in c.nodes if c.role(n) == "slave")   # its connection opened before the map said so
    r, port = proxy_for(daemon, c, seed=seed, read_from="replica")
    for i in range(100):
        r.set(f"rk:{i}", i)
    for n in c.nodes:
        c.direct(n).config_resetstat()
    time.sleep(0.5)                                # replication catches up
    for i in range(100):
        assert r.get(f"rk:{i}") in (str(i).encode(), None)
    gets = {n.port: c.direct(n).info("commandstats").get("cmdstat_get", {}).get("calls", 0) for n in c.nodes}
    replicas = [n.port for n in c.nodes if c.role(n) == "slave"]
    masters = [n.port for n in c.nodes if c.role(n) == "master"]
    assert sum(gets[p] for p in replicas) == 100, gets
    assert sum(gets[p] for p in masters) == 0, gets
    assert r.set("rk:w", "1")                      # writes still go to masters
    with r.pipeline() as p:                        # a transaction reads on the master, inside it
        p.multi()
        p.get("rk:w")
        p.set("rk:w", "2")
        assert p.execute() == [b"1", True]
    sub = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30).pubsub()
    sub.psubscribe("rk*")
    deadline = time.monotonic() + 10
    while (m := sub.get_message(timeout=0.5)) is None:
        assert time.monotonic() < deadline
    assert m["type"] == "psubscribe"
    assert r.publish("rk-news", "x") >= 1          # the pattern listens on a node that hears it
    while (m := sub.get_message(timeout=0.5)) is None:
        assert time.monotonic() < deadline
    assert m["type"] == "pmessage" and m["data"] == b"x"
    sub.close()


def test_ask_during_a_slot_migration_is_followed_and_moved_after_it(daemon, cluster, tmp_path):
    c = cluster()
    sock = str(tmp_path / "admin.sock")
    r, _ = proxy_for(daemon, c, admin=sock)
    key = "migrating-key"
    masters, slot, src, dst = slot_move_plan(c, key)
    assert r.set(key, "before")
    # (sent before the proxy had the map, it may have been -MOVED: counted from
    # here, once the figures are published -- every 100 ms)
    time.sleep(0.5)
    moved_before = cluster_stats_when(sock, lambda m: True)["moved"]
    migrate_key(c, slot, src, dst, key)
    assert r.get(key) == b"before"                 # src answers -ASK: ASKING, then GET on dst
    newkey = next(f"new{i}" for i in range(1000000) if key_slot(f"new{i}".encode()) == slot)
    assert r.set(newkey, "fresh")                  # a key not on src yet: -ASK too
    m = cluster_stats_when(sock, lambda m: m["ask"] >= 2)
    assert m["moved"] == moved_before              # ASK leaves the map as it is
    for n in masters:                              # the migration ends: dst owns the slot
        c.direct(n).execute_command("CLUSTER", "SETSLOT", slot, "NODE", c.node_id(dst))
    assert r.get(key) == b"before" and r.get(newkey) == b"fresh"   # -MOVED now, followed
    cluster_stats_when(sock, lambda m: m["moved"] >= moved_before + 1)


def slot_move_plan(c, key):
    """The masters, key's slot, the master that owns it and another one to move it to."""
    masters = [n for n in c.nodes if c.role(n) == "master"]
    slot = c.direct(masters[0]).execute_command("CLUSTER", "KEYSLOT", key)
    src = next(n for n in masters if slot in range(*slot_range(c, n)))
    return masters, slot, src, next(n for n in masters if n is not src)


def migrate_key(c, slot, src, dst, key):
    """slot being moved from src to dst (IMPORTING/MIGRATING), key already on dst."""
    c.direct(dst).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", c.node_id(src))
    c.direct(src).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", c.node_id(dst))
    c.direct(src).execute_command("MIGRATE", "127.0.0.1", dst.port, key, 0, 5000)


def cluster_stats_when(sock, cond, timeout=5):
    """The first worker's cluster figures in STATS, once cond(them) holds (they are published every 100 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        m = admin_stats(sock)["pools"][0]["cluster"][0]
        if cond(m):
            return m
        assert time.monotonic() < deadline, m
        time.sleep(0.2)


def slot_range(c, node):
    """(first, last + 1) of the first slot range a master serves."""
    for lo, hi, master, *_ in c.direct(node).execute_command("CLUSTER", "SLOTS"):
        if master[1] == node.port:
            return lo, hi + 1
    raise AssertionError("not a master")


def test_pubsub_and_transactions_in_a_cluster(daemon, shared_cluster):
    c = shared_cluster
    r, port = proxy_for(daemon, c)
    sub = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30).pubsub()
    sub.subscribe("news")
    sub.psubscribe("n*")
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        m = sub.get_message(timeout=0.5)
        if m:
            got.append(m["type"])
    assert got == ["subscribe", "psubscribe"]
    assert r.publish("news", "hello") >= 1
    msgs = []
    while len(msgs) < 2 and time.monotonic() < deadline:
        m = sub.get_message(timeout=0.5)
        if m:
            msgs.append((m["type"], m["data"]))
    assert sorted(msgs) == [("message", b"hello"), ("pmessage", b"hello")]   # once each
    assert sub.get_message(timeout=1.0) is None
    with r.pipeline() as p:                        # a transaction on one slot
        p.watch("{acct}a")
        p.multi()
        p.set("{acct}a", 1)
        p.incr("{acct}b")
        assert p.execute() == [True, 1]
    sub.close()


def test_client_tracking_follows_a_slot_to_its_new_node(daemon, cluster):
    """A tracking client's read that a node redirects (ASK, then MOVED) is
    tracked by the node that answers it: a later write there invalidates it."""
    c = cluster()
    r, port = proxy_for(daemon, c)
    key = "tracked-migrating"
    masters, slot, src, dst = slot_move_plan(c, key)
    assert r.set(key, "before")
    t = Raw(port)
    t.call("HELLO", "3")
    assert t.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    pushes = []

    def call(*args):   # the reply, with the invalidations that come first set aside
        t.sock.sendall(encode(*args))
        while True:
            got = t.reply()
            if not got.startswith(b">"):
                return got
            pushes.append(got)

    assert call("GET", key) == b"$6\r\nbefore\r\n"
    migrate_key(c, slot, src, dst, key)
    assert call("GET", key) == b"$6\r\nbefore\r\n"   # -ASK: ASKING and GET on dst
    for n in masters:
        c.direct(n).execute_command("CLUSTER", "SETSLOT", slot, "NODE", c.node_id(dst))
    assert r.set(key, "after")
    want = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$%d\r\n%s\r\n" % (len(key), key.encode())
    while pushes.count(want) < 2:   # src's (the key left it), then dst's (the write)
        pushes.append(t.reply())
    assert call("GET", key) == b"$5\r\nafter\r\n"


def test_a_reload_that_adds_seeds_keeps_the_counters_readable(daemon, shared_cluster, tmp_path):
    c = shared_cluster
    sock = str(tmp_path / "admin.sock")
    r, port = proxy_for(daemon, c, admin=sock)
    assert r.set("seeded", "1")
    conf = tmp_path / "coproxy.conf"
    text = conf.read_text()
    more = ", ".join(f'"127.0.0.1:{n.port}:1 s{i}"' for i, n in enumerate(c.nodes[:3]))
    conf.write_text(text.replace(f'"127.0.0.1:{c.nodes[0].port}:1 s0"', more))
    d_pid = int(admin_stats(sock)["pid"])
    os.kill(d_pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while len(admin_stats(sock)["pools"][0]["servers"]) != 3:   # the three seeds listed
        assert time.monotonic() < deadline, admin_stats(sock)
        time.sleep(0.2)
    for _ in range(5):                                   # published again and again: never past the end
        doc = admin_stats(sock)
        assert [s["name"] for s in doc["pools"][0]["servers"]] == ["s0", "s1", "s2"]
        time.sleep(0.15)
    assert r.get("seeded") == b"1"
