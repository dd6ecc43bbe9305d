"""Real clients from npm, each with its own defaults, through coproxy in front
of two redis-servers: node-redis (RESP3 by default; RESP2 and RESP3 forced
too) and ioredis. Connect, SET/GET, MSET/MGET across the servers, a
1,000-command pipeline, MULTI/EXEC, HGETALL, EVAL, BLPOP woken from another
connection, SUBSCRIBE and PSUBSCRIBE with messages. tools/test.sh installs
the clients (tests/integration/node/package.json); this test does too if
they are missing."""
import json
import os
import subprocess

import pytest

from conftest import free_port
from redis_util import RedisProc, redis_config

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


@pytest.fixture(scope="module")
def node_clients():
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "redis")) \
            or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ioredis")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE_DIR, check=True, timeout=600)
    return NODE_DIR


@pytest.fixture
def two_servers(tmp_path, daemon):
    made = [RedisProc(tmp_path) for _ in range(2)]
    port = free_port()
    daemon(redis_config(port, [b.port for b in made]), port=port)
    try:
        yield port, made
    finally:
        for b in made:
            b.stop()


@pytest.mark.parametrize("kind,proto", [("node-redis", 3), ("node-redis-resp2", 2), ("node-redis-resp3", 3),
                                        ("ioredis", None)])
def test_client_with_its_defaults(node_clients, two_servers, kind, proto):
    port, servers = two_servers
    r = subprocess.run(["node", "clients.mjs", kind, str(port)], cwd=node_clients, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" not in out, out
    if proto is not None:
        assert out["proto"] == proto
    assert out["set"] == "OK" and out["get"] == "v" and out["mset"] == "OK"
    assert out["mget"] == ["1", "2", "3", "4", None]
    assert out["pipeline"] == 1000
    assert out["multi"] == ["OK", 2, "2"]
    assert out["hgetall"] == {"f": "v", "g": "w"}
    assert out["eval"][1] == "x"
    assert out["blpop"] in ({"key": "nq", "element": "job"}, ["iq", "job"])
    assert sorted(m[0] for m in out["pubsub"]) == ["message", "pmessage"]
    assert ["message", "hi"] in out["pubsub"]
    # the keys went to both servers: MSET/MGET crossed them
    import redis
    held = [redis.Redis(port=s.port).dbsize() for s in servers]
    assert all(n > 0 for n in held), held


@pytest.fixture(scope="module")
def three_masters(tmp_path_factory):
    from test_cluster import Cluster
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.stop()


@pytest.mark.parametrize("kind,proto", [("node-redis", 3), ("node-redis-resp2", 2), ("ioredis", None)])
def test_client_through_a_redis_cluster_pool(node_clients, three_masters, daemon, kind, proto):
    port = free_port()
    daemon(redis_config(port, [three_masters.nodes[0].port], distribution="cluster", server_timeout=10000),
           port=port)
    r = subprocess.run(["node", "clients.mjs", kind, str(port)], cwd=node_clients, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" not in out, out
    if proto is not None:
        assert out["proto"] == proto
    assert out["mget"] == ["1", "2", "3", "4", None] and out["pipeline"] == 1000
    assert out["multi"] == ["OK", 2, "2"] and out["hgetall"] == {"f": "v", "g": "w"}
    assert out["blpop"] in ({"key": "nq", "element": "job"}, ["iq", "job"])
    assert ["message", "hi"] in out["pubsub"] and any(m[0] == "pmessage" for m in out["pubsub"])
