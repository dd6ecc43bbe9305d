# SPDX-License-Identifier: Apache-2.0
"""CLIENT TRACKING through coproxy: invalidations reach the client that asked
(RESP3 pushes on its own connection) or its REDIRECT target (a RESP2
subscriber's __redis__:invalidate messages, a RESP3 client's pushes), with
two servers and two workers, in the bytes Redis itself sends; the modes
(BCAST/PREFIX, OPTIN with CLIENT CACHING) and the errors are Redis's own."""
import time

import pytest

from conftest import free_port
from redis_util import Raw, encode, redis_config


def invalidation_push(*keys):
    body = b"".join(b"$%d\r\n%s\r\n" % (len(k), k.encode()) for k in keys)
    return b">2\r\n$10\r\ninvalidate\r\n*%d\r\n" % len(keys) + body


def invalidation_message(*keys):
    body = b"".join(b"$%d\r\n%s\r\n" % (len(k), k.encode()) for k in keys)
    return b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*%d\r\n" % len(keys) + body


@pytest.fixture
def proxy(redis_servers, daemon):
    """coproxy (two workers) in front of two redis-servers: (proxy port, server ports)."""
    servers = redis_servers(2)
    port = free_port()
    daemon(redis_config(port, servers, threads=2, hash_tag="{}"), port=port)
    return port, servers


def assert_no_tracking_left(servers):
    """The servers hold no tracking client (flags=t) within 30 s."""
    deadline = time.monotonic() + 30
    while True:
        tracking = [Raw(p).call("CLIENT", "LIST").count(b"flags=t") for p in servers]
        if tracking == [0] * len(servers) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert tracking == [0] * len(servers)


def resp3(port):
    c = Raw(port)
    assert c.call("HELLO", "3").startswith(b"%")
    return c


def test_a_resp3_client_gets_the_invalidations_of_what_it_read(proxy):
    port, servers = proxy
    keys = ["trk%d" % i for i in range(12)]   # over both servers
    c, writer = resp3(port), Raw(port)
    assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    for k in keys:
        writer.call("SET", k, "old")
    for k in keys:
        assert c.call("GET", k) == b"$3\r\nold\r\n"
    assert c.call("CLIENT", "GETREDIR") == b":0\r\n"
    for k in keys:
        assert writer.call("SET", k, "new") == b"+OK\r\n"
    got = sorted(c.reply() for _ in keys)
    assert got == sorted(invalidation_push(k) for k in keys)
    # the replies that follow are in step, and tracking goes on
    assert c.call("GET", keys[0]) == b"$3\r\nnew\r\n"
    writer.call("DEL", keys[0])
    assert c.reply() == invalidation_push(keys[0])
    # the servers count a tracking client each for it; gone with it
    c.close()
    assert_no_tracking_left(servers)


def test_the_bytes_are_what_redis_sends_directly(proxy):
    port, servers = proxy
    got = []
    for where in (port, servers[0]):
        c, writer = resp3(where), Raw(where)
        assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
        c.call("GET", "direct:k")
        writer.call("SET", "direct:k", "1")
        got.append(c.reply())
        writer.call("DEL", "direct:k")
    assert got[0] == got[1] == invalidation_push("direct:k")


def test_bcast_with_a_prefix_and_optin_with_client_caching(proxy):
    port, _ = proxy
    writer = Raw(port)
    b = resp3(port)
    assert b.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:") == b"+OK\r\n"
    # the same hash tag: one server, whose invalidations come in the order of the writes
    writer.call("SET", "{t}other", "1")
    writer.call("SET", "user:{t}", "1")
    assert b.reply() == invalidation_push("user:{t}")   # nothing read, and not the other key
    o = resp3(port)
    assert o.call("CLIENT", "TRACKING", "ON", "OPTIN") == b"+OK\r\n"
    assert o.call("GET", "{t}a") == b"_\r\n"          # not asked to cache
    assert o.call("CLIENT", "CACHING", "YES") == b"+OK\r\n"
    assert o.call("GET", "{t}b") == b"_\r\n"          # this one is tracked
    assert o.call("GET", "{t}c") == b"_\r\n"          # CACHING applies to one command only
    for k in ("{t}a", "{t}c", "{t}b"):
        writer.call("SET", k, "1")
    assert o.reply() == invalidation_push("{t}b")


def test_redirect_to_a_resp2_subscriber_on_either_worker(proxy):
    port, _ = proxy
    target = Raw(port)
    tid = int(target.call("CLIENT", "ID")[1:-2])
    assert target.call("SUBSCRIBE", "__redis__:invalidate").startswith(b"*3\r\n$9\r\nsubscribe")
    writer = Raw(port)
    done = set()   # the target's worker (True) and the other one (False)
    for i in range(200):   # the kernel spreads connections over the workers: both come soon
        c = Raw(port)
        cid = int(c.call("CLIENT", "ID")[1:-2])
        same = cid % 1024 % 2 == tid % 1024 % 2
        if same in done:
            c.close()
            continue
        done.add(same)
        assert c.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(tid)) == b"+OK\r\n"
        assert c.call("CLIENT", "GETREDIR") == b":%d\r\n" % tid
        key = "redir%d" % i
        assert c.call("GET", key) == b"$-1\r\n"
        writer.call("SET", key, "x")
        assert target.reply() == invalidation_message(key)
        assert c.call("CLIENT", "TRACKING", "OFF") == b"+OK\r\n"
        assert c.call("CLIENT", "GETREDIR") == b":-1\r\n"
        c.close()
        if len(done) == 2:
            break
    assert done == {True, False}


def test_redirect_to_a_resp3_client_that_does_not_track(proxy):
    port, _ = proxy
    target = resp3(port)
    tid = int(target.call("CLIENT", "ID")[1:-2])
    c, writer = resp3(port), Raw(port)
    assert c.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(tid)) == b"+OK\r\n"
    c.call("GET", "r3key")
    time.sleep(1.5)   # the target sits idle meanwhile: the push must still reach it
    writer.call("SET", "r3key", "1")
    assert target.reply() == invalidation_push("r3key")
    assert target.call("PING") == b"+PONG\r\n"


def test_a_lost_server_connection_invalidates_everything_then_tracking_resumes(proxy):
    port, servers = proxy
    c, writer = resp3(port), Raw(port)
    assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    for i in range(8):
        c.call("GET", "lost%d" % i)
    # the servers drop coproxy's connections: what they tracked is gone
    for p in servers:
        Raw(p).call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    flush = b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    assert c.reply() == flush

    def call(*args):   # the reply, past the other server's flush if it comes meanwhile
        c.sock.sendall(encode(*args))
        while True:
            r = c.reply()
            if r != flush:
                return r

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:   # reconnected, tracking on again
        if call("GET", "lost0") == b"_\r\n":
            break
        time.sleep(0.2)
    writer.call("SET", "lost0", "1")
    push = c.reply()
    while push == flush:
        push = c.reply()
    assert push == invalidation_push("lost0")


@pytest.mark.parametrize("args", [
    ("CLIENT", "TRACKING", "ON", "REDIRECT", "987654"),
    ("CLIENT", "TRACKING", "ON", "REDIRECT", "notanumber"),
    ("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"),
    ("CLIENT", "TRACKING", "ON", "PREFIX", "a"),
    ("CLIENT", "TRACKING", "MAYBE"),
    ("CLIENT", "CACHING", "YES"),
    ("CLIENT", "GETREDIR"),
])
def test_errors_and_answers_are_redis_own(proxy, args):
    port, servers = proxy
    got = [Raw(p).call(*args) for p in (port, servers[0])]
    assert got[0] == got[1], got


def test_resp2_without_redirect_and_caching_modes_as_redis(proxy):
    port, servers = proxy
    got = []
    for where in (port, servers[0]):
        c = Raw(where)
        got.append([c.call(*args) for args in (
            ("CLIENT", "TRACKING", "ON"),            # allowed in RESP2; nothing is pushed
            ("CLIENT", "CACHING", "YES"),
            ("CLIENT", "TRACKING", "ON", "BCAST"),
            ("CLIENT", "TRACKING", "OFF"),
            ("CLIENT", "TRACKING", "ON", "OPTOUT"),
            ("CLIENT", "CACHING", "NO"),
            ("GET", "k"),
            ("CLIENT", "CACHING", "YES"),
            ("CLIENT", "TRACKING", "ON", "PREFIX", "x", "BCAST"))])
        c.close()
    assert got[0] == got[1], got
    assert got[0][0] == b"+OK\r\n" and got[0][5] == b"+OK\r\n"


def test_a_tracking_client_reads_and_tracks_in_the_database_it_selected(proxy):
    port, _ = proxy
    c, writer = resp3(port), Raw(port)
    writer.call("SELECT", "3")
    writer.call("SET", "dbkey", "in3")
    assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    assert c.call("SELECT", "3") == b"+OK\r\n"
    assert c.call("GET", "dbkey") == b"$3\r\nin3\r\n"
    writer.call("SET", "dbkey", "again")
    assert c.reply() == invalidation_push("dbkey")
    assert c.call("SELECT", "0") == b"+OK\r\n"
    assert c.call("GET", "dbkey") == b"_\r\n"


def test_a_transaction_reads_on_the_tracking_connection(proxy):
    port, servers = proxy
    c, writer = resp3(port), Raw(port)
    assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("GET", "{tx}a") == b"+QUEUED\r\n"
    assert c.call("EXEC") == b"*1\r\n_\r\n"
    writer.call("SET", "{tx}a", "1")
    assert c.reply() == invalidation_push("{tx}a")
    # WATCH, tracking turned off meanwhile, EXEC: the transaction still runs
    assert c.call("WATCH", "{tx}b") == b"+OK\r\n"
    assert c.call("CLIENT", "TRACKING", "OFF") == b"+OK\r\n"
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("SET", "{tx}b", "2") == b"+QUEUED\r\n"
    assert c.call("EXEC") == b"*1\r\n+OK\r\n"
    assert c.call("GET", "{tx}b") == b"$1\r\n2\r\n"
    # tracking again, a transaction left open when the client goes: nothing stays tracked
    assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("GET", "{tx}c") == b"+QUEUED\r\n"
    c.close()
    assert_no_tracking_left(servers)


def test_client_info_shows_tracking_as_redis_does(proxy):
    port, servers = proxy
    got = []
    for where in (port, servers[0]):
        c = resp3(where)
        target = Raw(where)
        tid = target.call("CLIENT", "ID")[1:-2].decode()
        fields = []
        for args in (("CLIENT", "TRACKING", "ON"), ("CLIENT", "TRACKING", "ON", "REDIRECT", tid),
                     ("CLIENT", "TRACKING", "OFF")):
            assert c.call(*args) == b"+OK\r\n"
            line = c.call("CLIENT", "INFO").decode()
            info = dict(kv.split("=", 1) for kv in line.split("\r\n")[1].split() if "=" in kv)
            fields.append((info["flags"], info["cmd"], info["redir"] == "-1" or info["redir"] == (tid if "REDIRECT" in args else "0")))
        got.append(fields)
    assert got[0] == got[1], got
    assert got[0][0] == ("t", "client|info", True)
