# SPDX-License-Identifier: Apache-2.0
"""Real clients from npm, each with its own defaults, through coproxy in front
of two redis-servers and in front of a 3-master Redis Cluster: node-redis
(RESP3 by default; RESP2 and RESP3 forced too) and ioredis. Connect,
SET/GET, MSET/MGET across the servers, a 1,000-command pipeline, MULTI/EXEC,
HGETALL, EVAL, BLPOP woken from another connection, SUBSCRIBE and
PSUBSCRIBE with messages. tools/test.sh installs the clients
(tests/integration/node/package.json); this test does too if they are
missing."""
import json
import os
import subprocess

import pytest
import redis

from conftest import free_port
from redis_util import redis_config
from test_cluster import shared_cluster  # noqa: F401  (a 3-master, 3-replica cluster, module-wide)

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
KINDS = [("node-redis", 3), ("node-redis-resp2", 2), ("node-redis-resp3", 3), ("ioredis", None)]


@pytest.fixture(scope="module")
def node_clients():
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "redis")) \
            or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ioredis")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE_DIR, check=True, timeout=600)
    return NODE_DIR


@pytest.fixture
def two_servers(redis_servers, daemon):
    ports = redis_servers(2)
    port = free_port()
    daemon(redis_config(port, ports), port=port)
    return port, ports


def run_client(node_dir, kind, port, proto):
    """The client's steps through coproxy at port: its results, checked."""
    r = subprocess.run(["node", "clients.mjs", kind, str(port)], cwd=node_dir, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "error" not in out, out
    if proto is not None:
        assert out["proto"] == proto
    assert out["set"] == "OK" and out["get"] == "v" and out["mset"] == "OK"
    assert out["mget"] == ["1", "2", "3", "4", None] and out["pipeline"] == 1000
    assert out["multi"] == ["OK", 2, "2"] and out["hgetall"] == {"f": "v", "g": "w"}
    assert out["eval"][1] == "x"
    assert out["blpop"] in ({"key": "nq", "element": "job"}, ["iq", "job"])
    assert ["message", "hi"] in out["pubsub"] and ["smessage", "sharded"] in out["pubsub"]
    assert sorted(m[0] for m in out["pubsub"]) == ["message", "pmessage", "smessage"]
    if kind in ("node-redis", "node-redis-resp3"):
        # client-side caching: reads served from the cache until the servers' invalidations say otherwise
        assert out["cache"]["first"] == ["old"] * 6 and out["cache"]["hits"] >= 6, out["cache"]
        assert out["cache"]["now"] == ["new"] * 6, out["cache"]
    return out


@pytest.mark.parametrize("kind,proto", KINDS)
def test_client_with_its_defaults(node_clients, two_servers, kind, proto):
    port, servers = two_servers
    run_client(node_clients, kind, port, proto)
    # the keys went to both servers: MSET/MGET crossed them
    held = [redis.Redis(port=p).dbsize() for p in servers]
    assert all(n > 0 for n in held), held


@pytest.mark.parametrize("kind,proto", KINDS)
def test_client_through_a_redis_cluster_pool(node_clients, shared_cluster, daemon, kind, proto):  # noqa: F811
    port = free_port()
    daemon(redis_config(port, [shared_cluster.nodes[0].port], distribution="cluster", server_timeout=10000),
           port=port)
    run_client(node_clients, kind, port, proto)
