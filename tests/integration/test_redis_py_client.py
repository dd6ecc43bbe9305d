# SPDX-License-Identifier: Apache-2.0
"""redis-py from Debian (4.3, RESP2: it has no RESP3), with its default
settings, through coproxy in front of two redis-servers and of a 3-master
Redis Cluster: the steps an application takes, each checked -- and
client-side caching as RESP2 does it (CLIENT TRACKING with REDIRECT to a
connection subscribed to __redis__:invalidate)."""
import threading
import time

import pytest
import redis

from conftest import free_port
from redis_util import redis_config
from test_cluster import shared_cluster  # noqa: F401 -- the fixture


def steps(port):
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    other = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    assert r.set("pk", "v") and r.get("pk") == b"v"
    assert r.mset({"pa{1}": "1", "pb{2}": "2", "pc{3}": "3", "pd{4}": "4"})
    assert r.mget(["pa{1}", "pb{2}", "pc{3}", "pd{4}", "pmissing"]) == [b"1", b"2", b"3", b"4", None]
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set(f"pp{i}", i)
    for i in range(1000):
        p.get(f"pp{i}")
    assert p.execute()[1000:] == [str(i).encode() for i in range(1000)]
    t = r.pipeline(transaction=True)   # MULTI ... EXEC
    t.set("ptx", 1).incr("ptx").get("ptx")
    assert t.execute() == [True, 2, b"2"]
    assert r.eval("return {KEYS[1], ARGV[1]}", 1, "pk", "x") == [b"pk", b"x"]

    popped = {}
    waiter = threading.Thread(target=lambda: popped.setdefault("v", r.blpop("pq", 10)))
    waiter.start()
    time.sleep(0.3)
    other.rpush("pq", "job")
    waiter.join(15)
    assert popped.get("v") == (b"pq", b"job")

    ps = r.pubsub()
    ps.subscribe("pch")
    ps.psubscribe("ppat*")
    ps.execute_command("SSUBSCRIBE", "pshard")   # (redis-py 4.3 has no helper for it)
    for _ in range(3):
        assert ps.get_message(timeout=10)["type"] in ("subscribe", "psubscribe", "ssubscribe")
    other.publish("pch", "hi")   # (in a cluster, the count is the publishing node's own subscribers)
    other.publish("ppattern", "there")
    assert other.execute_command("SPUBLISH", "pshard", "sharded") == 1
    got = [ps.get_message(timeout=10) for _ in range(3)]
    assert sorted((m["type"], m["data"]) for m in got) == [
        ("message", b"hi"), ("pmessage", b"there"), ("smessage", b"sharded")]
    ps.close()


def caching(port):
    """RESP2 client-side caching: invalidations of what the tracking
    connection read reach the connection it redirects to."""
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30, single_connection_client=True)
    writer = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
    inval = redis.Connection(host="127.0.0.1", port=port, socket_timeout=30)   # the invalidation connection
    inval.connect()
    inval.send_command("CLIENT", "ID")
    inval_id = inval.read_response()
    inval.send_command("SUBSCRIBE", "__redis__:invalidate")
    assert inval.read_response()[0] == b"subscribe"
    assert r.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", inval_id) in (b"OK", True)
    keys = [f"cache{i}" for i in range(6)]   # over the servers
    for k in keys:
        writer.set(k, "old")
    assert [r.get(k) for k in keys] == [b"old"] * 6
    for k in keys:
        writer.set(k, "new")
    seen = set()
    while seen != set(keys):   # (each read waits at most socket_timeout)
        kind, channel, data = inval.read_response()
        assert kind == b"message" and channel == b"__redis__:invalidate"
        seen |= {k.decode() for k in data}
    inval.disconnect()


@pytest.fixture
def two_servers(redis_servers, daemon):
    ports = redis_servers(2)
    port = free_port()
    daemon(redis_config(port, ports, threads=2, hash_tag="{}"), port=port)
    return port, ports


def test_redis_py_with_its_defaults_over_two_servers(two_servers):
    port, servers = two_servers
    steps(port)
    caching(port)
    held = [redis.Redis(port=p).dbsize() for p in servers]
    assert all(n > 0 for n in held), held   # the keys went to both


def test_redis_py_through_a_redis_cluster_pool(shared_cluster, daemon):  # noqa: F811
    port = free_port()
    daemon(redis_config(port, [shared_cluster.nodes[0].port], distribution="cluster", server_timeout=10000),
           port=port)
    steps(port)
    caching(port)
