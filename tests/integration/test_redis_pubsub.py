# SPDX-License-Identifier: Apache-2.0
"""Pub/sub through coproxy: SUBSCRIBE, PSUBSCRIBE and PUBLISH across 1 and 3
real redis-servers, with redis-py's own PubSub as a user drives it, and the
exact bytes compared with what a redis-server sends for the same session."""
import socket
import time

import pytest
import redis

from conftest import free_port
from redis_util import Raw, Resp, admin_stats, encode, probe, redis_config
from test_redis import Setup, backends, proxy  # noqa: F401 -- the fixtures


def channels_on(s, server, n=1, prefix="ch"):
    """n channel names that live on backend `server` (a channel routes as a key)."""
    cands = [f"{prefix}{i}".encode() for i in range(400)]
    found = [k.decode() for k, w in zip(cands, probe(cands, s.ports)) if w == server]
    assert len(found) >= n
    return found[:n]


def next_message(ps, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.5)
        if m is not None:
            return m
    raise AssertionError("no message within %s s" % timeout)


def numsub_direct(s, i, ch):
    return s.direct(i).pubsub_numsub(ch)[0][1]


def wait_until(cond, timeout=10, what=""):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_publish_reaches_subscribe_and_psubscribe_across_three_backends(proxy):
    s = proxy(3)
    chans = [channels_on(s, i, prefix="news.")[0] for i in range(3)]   # one on each server
    sub = s.client().pubsub()
    sub.subscribe(*chans)
    for k, ch in enumerate(chans, 1):
        assert next_message(sub) == {"type": "subscribe", "pattern": None, "channel": ch.encode(), "data": k}
    sub.psubscribe("news.*")
    assert next_message(sub) == {"type": "psubscribe", "pattern": None, "channel": b"news.*", "data": 4}
    # a channel lives on the server its name maps to, and only there
    for i, ch in enumerate(chans):
        assert [numsub_direct(s, j, ch) for j in range(3)] == [int(j == i) for j in range(3)]
    pub = s.client()
    for i, ch in enumerate(chans):
        # PUBLISH counts receivers as Redis does: the channel's and the pattern's
        assert pub.publish(ch, f"hello {i}") == 2
        got = [next_message(sub), next_message(sub)]
        got.sort(key=lambda m: m["type"])
        assert got == [
            {"type": "message", "pattern": None, "channel": ch.encode(), "data": f"hello {i}".encode()},
            {"type": "pmessage", "pattern": b"news.*", "channel": ch.encode(), "data": f"hello {i}".encode()},
        ]
    other = [channels_on(s, i, prefix="news.other")[0] for i in range(3)]
    for i, ch in enumerate(other):                 # only the pattern matches: from every server
        assert pub.publish(ch, b"\x00bin\r\n") == 1
        assert next_message(sub) == {"type": "pmessage", "pattern": b"news.*", "channel": ch.encode(),
                                     "data": b"\x00bin\r\n"}
    assert pub.publish("nobody.listens", "x") == 0
    # PUBSUB as the servers count it
    assert sorted(pub.pubsub_channels()) == sorted(c.encode() for c in chans)
    assert pub.pubsub_channels("news.*") != []
    assert pub.pubsub_numsub(chans[2], "none", chans[0]) == [(chans[2].encode(), 1), (b"none", 0),
                                                            (chans[0].encode(), 1)]
    assert pub.pubsub_numpat() == 1
    # a second subscriber to one channel: both get it
    sub2 = s.client().pubsub()
    sub2.subscribe(chans[1])
    assert next_message(sub2)["type"] == "subscribe"
    assert pub.publish(chans[1], "both") == 3
    assert next_message(sub2)["data"] == b"both"
    assert {next_message(sub)["type"], next_message(sub)["type"]} == {"message", "pmessage"}
    # unsubscribing, as Redis counts down
    sub.unsubscribe(chans[0])
    assert next_message(sub) == {"type": "unsubscribe", "pattern": None, "channel": chans[0].encode(), "data": 3}
    assert pub.publish(chans[0], "gone?") == 1     # the pattern still hears it
    assert next_message(sub)["type"] == "pmessage"
    sub.punsubscribe()
    assert next_message(sub)["data"] == 2
    assert pub.publish(chans[0], "gone") == 0
    assert pub.pubsub_numpat() == 0
    sub.close()
    sub2.close()


def session(port, publish_port):
    """One pub/sub session over a raw connection; every reply exactly as sent."""
    c, p = Resp(port), Resp(publish_port)
    out = []

    def send(*args, replies=1):
        c.send(encode(*args))
        out.extend(c.reply() for _ in range(replies))

    send("SUBSCRIBE", "a", "b", "a", replies=3)
    send("PSUBSCRIBE", "h?llo", replies=1)
    send("PING")
    send("PING", "still here")
    send("GET", "k")
    send("SELECT", "1")
    send("MULTI")
    out.append(p.call("PUBLISH", "a", "one"))
    out.append(c.reply())
    out.append(p.call("PUBLISH", "hello", "two"))
    out.append(c.reply())
    send("UNSUBSCRIBE", "b", "zzz", replies=2)
    send("UNSUBSCRIBE", replies=1)
    send("PUNSUBSCRIBE", "nothing", replies=1)
    send("PUNSUBSCRIBE", replies=1)
    send("UNSUBSCRIBE", replies=1)                 # subscribed to nothing: a nil channel
    send("PING")                                   # out of subscribed mode: +PONG again
    send("SUBSCRIBE", "c", replies=1)
    send("RESET")                                  # leaves subscribed mode
    out.append(p.call("PUBLISH", "c", "after reset"))
    send("PING")
    # pipelined: RESET waits for the SUBSCRIBE before it, and what follows sees it
    c.send(encode("SUBSCRIBE", "d") + encode("RESET") + encode("PING") + encode("GET", "k"))
    out.extend(c.reply() for _ in range(4))
    c.send(encode("MULTI") + encode("SET", "k", "v") + encode("RESET") + encode("EXEC") + encode("GET", "k"))
    out.extend(c.reply() for _ in range(5))          # RESET inside MULTI runs at once
    c.close()
    p.close()
    return out


@pytest.mark.parametrize("n", [1, 3])
def test_replies_are_exactly_those_of_redis(proxy, backends, n):
    s = proxy(n)
    ref = backends(1)[0]                           # a redis-server to compare with
    want = session(ref.port, ref.port)
    got = session(s.port, s.port)
    assert got == want
    assert got[0] == [b"subscribe", b"a", 1]       # the session did what it says
    assert [b"message", b"a", b"one"] in got and [b"pmessage", b"h?llo", b"hello", b"two"] in got
    assert got[-11:-9] == [0, b"+PONG"]
    assert got[-9:] == [[b"subscribe", b"d", 1], b"+RESET", b"+PONG", None,
                        b"+OK", b"+QUEUED", b"+RESET", b"-ERR EXEC without MULTI", None]


def shard_session(port, proto):
    """Sharded pub/sub (SSUBSCRIBE, Redis 7) on one connection, SPUBLISH from
    another: every reply and message as the bytes came."""
    c, p = Raw(port), Raw(port)
    c.call("HELLO", str(proto))
    out = []

    def send(*args, replies=1):
        c.sock.sendall(encode(*args))
        out.extend(c.reply() for _ in range(replies))

    send("SSUBSCRIBE", "sa", "sb", replies=2)
    if proto == 2:
        send("GET", "k")                           # subscribed mode: refused
    send("SUBSCRIBE", "sc")                        # counted apart from the shard channels
    send("SSUBSCRIBE", "sd", "sa", replies=2)
    out.append(p.call("SPUBLISH", "sa", "one"))
    out.append(c.reply())
    out.append(p.call("PUBLISH", "sa", "not a shard message"))
    out.append(p.call("PUBSUB", "SHARDNUMSUB", "sa", "sd", "none"))
    out.append(p.call("SPUBLISH", "sd", "two"))
    out.append(c.reply())
    send("SUNSUBSCRIBE", "sd", "zz", replies=2)
    send("SUNSUBSCRIBE", "sa")
    send("SUNSUBSCRIBE", "sb")
    send("SUNSUBSCRIBE")                           # none left: a nil channel
    send("PING")                                   # still subscribed (sc)
    send("UNSUBSCRIBE")
    send("PING")
    out.append(p.call("SPUBLISH", "sa", "nobody"))
    c.close()
    p.close()
    return out


@pytest.mark.parametrize("proto", [2, 3])
def test_sharded_pubsub_is_byte_for_byte_redis(proxy, backends, proto):
    s = proxy(3)                                   # the channels on three servers
    ref = backends(1)[0]
    want, got = shard_session(ref.port, proto), shard_session(s.port, proto)
    assert got == want, got
    assert any(b"smessage" in r and b"one" in r for r in got)   # it did what it says
    assert any(b"smessage" in r and b"two" in r for r in got)


def admin_pinned(sock):
    return sum(sv["pinned"] for sv in admin_stats(sock)["pools"][0]["servers"])


def test_subscriber_that_leaves_leaves_no_subscription_behind(daemon, backends, tmp_path):
    bs = backends(3)
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    daemon(f'admin = {{ socket = "{sock}"; }};\n' + redis_config(port, [b.port for b in bs],
                                                                  client_idle_timeout=1000), port=port)
    s = Setup(port, bs)
    ch = channels_on(s, 1)[0]
    raw = Resp(port)
    raw.send(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$1\r\n*\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(ch), ch.encode()))
    assert raw.reply() == [b"psubscribe", b"*", 1]
    assert raw.reply() == [b"subscribe", ch.encode(), 2]
    wait_until(lambda: admin_pinned(sock) == 3, what="a pattern listens on every server")
    time.sleep(2)                                  # past client_idle_timeout: subscribers are not idle
    assert s.client().publish(ch, "still") == 2
    assert raw.reply() in ([b"message", ch.encode(), b"still"], [b"pmessage", b"*", ch.encode(), b"still"])
    assert raw.reply()[-1] == b"still"
    raw.close()                                    # leaves without unsubscribing
    wait_until(lambda: admin_pinned(sock) == 0, what="pinned connections given back")
    wait_until(lambda: s.direct(1).pubsub_numpat() == 0 and numsub_direct(s, 1, ch) == 0,
               what="the servers forgot the subscriptions")
    # unsubscribing from everything gives the connections back too, clean
    ps = s.client().pubsub()
    ps.subscribe(ch)
    assert next_message(ps)["type"] == "subscribe"
    wait_until(lambda: admin_pinned(sock) == 1, what="one pinned connection")
    ps.unsubscribe(ch)
    assert next_message(ps)["type"] == "unsubscribe"
    wait_until(lambda: admin_pinned(sock) == 0, what="given back after UNSUBSCRIBE")
    assert s.client().execute_command("PING") is True   # the pool still works
    ps.close()


def test_subscriber_cap_and_a_lost_server(proxy):
    s = proxy(1, server_pinned_connections=1)
    first = s.client().pubsub()
    first.subscribe("x")
    assert next_message(first)["type"] == "subscribe"
    second = s.client().pubsub()
    with pytest.raises(redis.ResponseError, match="all 1 pinned connections to server s0 are in use"):
        second.subscribe("y")
        next_message(second)
    # the server goes away: the subscriber is closed (its library would subscribe again)
    s.backends[0].stop()
    with pytest.raises((redis.ConnectionError, ConnectionError, OSError)):
        for _ in range(40):
            first.get_message(timeout=0.5)
    assert s.daemon.proc.poll() is None


def test_a_subscriber_that_does_not_read_is_cut_off_and_others_go_on(proxy):
    s = proxy(1)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # before connect: a small window
    slow.settimeout(10)
    slow.connect(("127.0.0.1", s.port))
    slow.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nfeed\r\n")
    good = s.client().pubsub()
    good.subscribe("feed")
    assert next_message(good)["type"] == "subscribe"
    pub = s.client()
    blob = b"x" * (256 * 1024)
    got = 0
    for i in range(200):                           # 50 MB: more than the 32 MiB a subscriber may lag
        pub.publish("feed", blob)
        while (m := good.get_message(timeout=0.01)) is not None:
            got += m["type"] == "message"
    deadline = time.monotonic() + 30
    while got < 200 and time.monotonic() < deadline:
        m = good.get_message(timeout=0.5)
        got += m is not None and m["type"] == "message"
    assert got == 200                              # the reading subscriber got everything
    total = 0
    try:
        while (chunk := slow.recv(1 << 20)):
            total += len(chunk)
    except ConnectionResetError:
        pass
    assert total < 200 * len(blob)                 # cut off, not buffered without bound
    assert pub.publish("feed", "x") == 1           # only the good one is left
    slow.close()
    good.close()


def test_a_subscriber_gone_at_once_leaves_its_connection_clean_for_the_next_client(proxy):
    s = proxy(1, server_pinned_connections=1)      # every client gets the same pinned connection
    for i in range(5):
        raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        raw.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nx\r\n" if i % 2 == 0 else b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n")
        raw.close()                                # gone before the server answered
        r = s.client()
        deadline = time.monotonic() + 10
        while True:                                # once the proxy saw it go, its connection is free
            try:
                with r.pipeline() as p:            # the next holder of the pinned connection
                    p.watch("k")
                    assert p.get("k") == (None if i == 0 else str(i - 1).encode())
                    p.multi()
                    p.set("k", i)
                    assert p.execute() == [True]
                break
            except redis.ResponseError as e:
                assert "in use" in str(e) and time.monotonic() < deadline, e
                time.sleep(0.05)
        assert r.publish("x", "m") == 0            # nobody is left subscribed
    raw = Resp(s.port)
    raw.send(encode("SUBSCRIBE", "y") + encode("RESET"))
    assert raw.reply() == [b"subscribe", b"y", 1] and raw.reply() == b"+RESET"
    assert raw.call("SET", "after", "1") == b"+OK"  # out of subscribed mode, connection open
    assert s.client().publish("y", "m") == 0


def test_a_reply_still_due_on_a_reused_connection_is_not_taken_for_a_message(proxy):
    import threading
    s = proxy(1, server_pinned_connections=1)
    s.client().set("k", "message")                 # an EXEC reply that looks like a push
    sleeper = threading.Thread(target=lambda: s.direct(0).execute_command("DEBUG", "SLEEP", "0.5"))
    sleeper.start()
    time.sleep(0.1)                                # the server is asleep: replies are due
    c1, c2 = Resp(s.port), Resp(s.port)
    c1.send(encode("MULTI") + encode("GET", "k") + encode("GET", "k") + encode("GET", "k") + encode("EXEC"))
    time.sleep(0.1)                                # EXEC sent: its connection goes back, reply due
    c2.send(encode("SUBSCRIBE", "zz"))             # the next holder of that connection
    assert [c1.reply() for _ in range(5)] == [b"+OK", b"+QUEUED", b"+QUEUED", b"+QUEUED",
                                              [b"message", b"message", b"message"]]
    assert c2.reply() == [b"subscribe", b"zz", 1]
    assert s.client().publish("zz", "hi") == 1
    assert c2.reply() == [b"message", b"zz", b"hi"]
    sleeper.join()
