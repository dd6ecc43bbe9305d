# SPDX-License-Identifier: Apache-2.0
"""Nothing lost, nobody else harmed (redis mode): a client that leaves while
its blocking command waits has nothing popped for it, and never counts
against the server; one slow request fails alone; a client that does not
read its replies is closed at client_output_limit; an HTTP request is not
run; allow_flush = false holds for scripts; SIGTERM lets a blocked command
wait out shutdown_timeout.  Real redis-servers, the real daemon."""
import os
import signal
import socket
import threading
import time

import pytest
import redis

from conftest import free_port
from redis_util import Resp, admin_stats, encode, redis_config
from test_redis import Setup, backends, proxy  # noqa: F401 -- the fixtures


def blocked_clients(s, i=0):
    return int(s.direct(i).info("clients")["blocked_clients"])


def wait_for(cond, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def with_admin(daemon, backends, tmp_path, n=1, **pool):
    """A proxy over n servers with an admin socket: (Setup, admin socket path)."""
    bs = backends(n)
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    d = daemon(f'admin = {{ socket = "{sock}"; }};\n' + redis_config(port, [b.port for b in bs], **pool), port=port)
    s = Setup(port, bs)
    s.daemon = d
    return s, sock


def pool_stats(sock):
    return admin_stats(sock)["pools"][0]


def test_blpop_then_close_loses_no_job(proxy):
    # A consumer blocks, then closes (as a client library does when its own
    # timeout fires); a producer pushes at once.  Redis frees a client that
    # closed: the job stays in the list.  30 of 30 were lost before.
    s = proxy(1)
    r = s.client()
    for i in range(30):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(encode("BLPOP", f"q{i}", 0))
        wait_for(lambda: blocked_clients(s) == 1, "the BLPOP did not block")
        c.close()
        r.rpush(f"q{i}", f"job{i}")
    wait_for(lambda: blocked_clients(s) == 0, "a blocked command outlived its client")
    time.sleep(0.5)
    assert [r.lrange(f"q{i}", 0, -1) for i in range(30)] == [[f"job{i}".encode()] for i in range(30)]


POPS = [   # (blocking command, what is pushed while it waits, how to read the key back)
    (("BLPOP", "k", 0), ("RPUSH", "k", "a", "b"), ("LRANGE", "k", 0, -1), [b"a", b"b"]),
    # a long element (streamed in parts): moved from a list made before
    (("BLPOP", "k", 0), ("LMOVE", "big", "k", "LEFT", "RIGHT"), ("LRANGE", "k", 0, -1), [b"x" * 200000]),
    (("BRPOP", "k", 0), ("RPUSH", "k", "a", "b"), ("LRANGE", "k", 0, -1), [b"a", b"b"]),
    (("BLMPOP", 0, 1, "k", "LEFT", "COUNT", 3), ("RPUSH", "k", "a", "b", "c", "d"), ("LRANGE", "k", 0, -1),
     [b"a", b"b", b"c", b"d"]),
    (("BLMPOP", 0, 1, "k", "RIGHT", "COUNT", 2), ("RPUSH", "k", "a", "b", "c"), ("LRANGE", "k", 0, -1),
     [b"a", b"b", b"c"]),
    (("BZPOPMIN", "k", 0), ("ZADD", "k", 1, "m1", 2.5, "m2"), ("ZRANGE", "k", 0, -1, "WITHSCORES"),
     [b"m1", b"1", b"m2", b"2.5"]),
    (("BZMPOP", 0, 1, "k", "MAX", "COUNT", 2), ("ZADD", "k", 1, "m1", 2, "m2", 3, "m3"),
     ("ZRANGE", "k", 0, -1, "WITHSCORES"), [b"m1", b"1", b"m2", b"2", b"m3", b"3"]),
]


@pytest.mark.parametrize("block,push,read,want", POPS, ids=[p[0][0] + "-" + str(i) for i, p in enumerate(POPS)])
def test_what_the_server_pops_for_a_client_that_left_goes_back(daemon, backends, tmp_path, block, push, read, want):
    # The server is stopped while the consumer leaves and a producer pushes
    # straight to it: when it runs again, it serves the push before it sees
    # the proxy pass the consumer's FIN on, so it pops for a client that is
    # gone.  The proxy puts it back where it was, in the same order.
    s, sock = with_admin(daemon, backends, tmp_path)
    s.direct(0).rpush("big", "x" * 200000)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(encode(*block))
    wait_for(lambda: blocked_clients(s) == 1, "it did not block")
    producer = Resp(s.ports[0])
    assert producer.call("PING") == b"+PONG"          # accepted: its push is read before the FIN
    os.kill(s.backends[0].proc.pid, signal.SIGSTOP)
    try:
        producer.send(encode(*push))                   # queued at the server first
        time.sleep(0.2)
        c.close()                                      # then the consumer leaves
        time.sleep(0.3)                                # the proxy has passed the FIN on
    finally:
        os.kill(s.backends[0].proc.pid, signal.SIGCONT)
    assert not str(producer.reply()).startswith("b'-")
    wait_for(lambda: blocked_clients(s) == 0, "the blocked command outlived its client")
    r = s.client()
    wait_for(lambda: r.execute_command(*read) == want, f"not given back: {r.execute_command(*read)!r}", timeout=10)
    time.sleep(0.3)
    assert r.execute_command(*read) == want           # and given back once
    given = pool_stats(sock)["blocked_given_back"]
    assert given == 1, given                          # it was popped for the leaver, and undone
    assert "pushed back" in s.daemon.log()


BUSY = """
local t0 = redis.call('TIME')
repeat local t = redis.call('TIME') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) >= tonumber(ARGV[1])
return 'done'
"""


def test_a_blocking_command_past_its_deadline_is_no_failure_and_loses_nothing(daemon, backends, tmp_path):
    # The server is busy (a 2.5 s script) past the BLPOP's own timeout and
    # server_timeout: the client gets its timeout error, the server is not
    # blamed, the command's connection is kept until the server answers
    # it (whatever it takes then would go back) and is then free again,
    # and a push made meanwhile stays in the list.  Before, that counted as
    # a failure of the server.
    s, sock = with_admin(daemon, backends, tmp_path, server_timeout=300)
    c = Resp(s.port, timeout=30)
    c.send(encode("BLPOP", "k", 1))
    wait_for(lambda: blocked_clients(s) == 1, "it did not block")
    producer, busy = Resp(s.ports[0]), Resp(s.ports[0])
    assert producer.call("PING") == b"+PONG"
    busy.send(encode("EVAL", BUSY, 0, 2500000))
    time.sleep(0.2)
    producer.send(encode("RPUSH", "k", "a"))
    assert c.reply().startswith(b"-ERR coproxy: timeout")
    assert busy.reply() == b"done"
    assert producer.reply() == 1
    r = s.client()
    wait_for(lambda: pool_stats(sock)["servers"][0]["pinned"] == 0, "its connection was not freed")
    assert r.lrange("k", 0, -1) == [b"a"]
    assert c.call("PING") == b"+PONG"                 # the client goes on
    assert c.call("BLPOP", "k", 1) == [b"k", b"a"]
    sv = pool_stats(sock)["servers"][0]
    assert sv["failures"] == 0 and sv["ejections"] == 0, sv


def test_blocked_clients_leave_cleanly_where_client_unblock_is_not_allowed(daemon, backends, tmp_path):
    # A backend user without CLIENT UNBLOCK (an ACL, or Redis before 5):
    # the proxy tells the server with a FIN on the command's connection
    # instead; nothing blocks on, no pinned connection is kept.
    s, sock = with_admin(daemon, backends, tmp_path)
    assert s.direct(0).execute_command("ACL", "SETUSER", "default", "-client|unblock") == b"OK"
    for i in range(3):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(encode("BLPOP", "q", 0))
        wait_for(lambda: blocked_clients(s) == 1, "it did not block")
        c.close()
        wait_for(lambda: blocked_clients(s) == 0, "the blocked command outlived its client", timeout=10)
    wait_for(lambda: pool_stats(sock)["servers"][0]["pinned"] == 0, "a pinned connection was kept")
    r = s.client()
    r.rpush("q", "job")
    time.sleep(0.3)
    assert r.lrange("q", 0, -1) == [b"job"]
    assert pool_stats(sock)["servers"][0]["failures"] == 0


def test_a_blocking_timeout_keeps_the_clients_watch(daemon, backends, tmp_path):
    # WATCH, then a blocking command that times out at the proxy (the
    # server busy): the WATCH still holds -- a change to the key makes EXEC
    # fail, as Redis does.
    s, sock = with_admin(daemon, backends, tmp_path, server_timeout=300)
    c = Resp(s.port, timeout=30)
    assert c.call("SET", "k", "v0") == b"+OK"
    assert c.call("WATCH", "k") == b"+OK"
    busy = Resp(s.ports[0])
    c.send(encode("BLPOP", "x", 1))
    wait_for(lambda: blocked_clients(s) == 1, "it did not block")
    busy.send(encode("EVAL", BUSY, 0, 2000000))
    assert c.reply().startswith(b"-ERR coproxy: timeout")
    assert busy.reply() == b"done"
    s.direct(0).set("k", "changed")                   # another client writes the watched key
    assert c.call("MULTI") == b"+OK"
    assert c.call("SET", "k", "mine") == b"+QUEUED"
    assert c.call("EXEC") is None                     # the WATCH saw it
    assert s.direct(0).get("k") == b"changed"


def test_a_silent_server_under_load_is_dropped_and_ejected(daemon, backends, tmp_path):
    # Requests keep coming while the server is stopped: each fails at its
    # timeout, the silence counts a failure per server_timeout, and the
    # server is ejected; the connection is dropped once silent for twice
    # server_timeout.
    s, sock = with_admin(daemon, backends, tmp_path, n=2, server_timeout=300, auto_eject_hosts=True,
                         server_failure_limit=2, server_retry_timeout=60000)
    r = s.client()
    r.set("probe", "1")
    victim = 0 if s.direct(0).exists("probe") else 1
    os.kill(s.backends[victim].proc.pid, signal.SIGSTOP)
    try:
        stop, errors = time.monotonic() + 3, 0
        while time.monotonic() < stop:
            try:
                r.get("probe")
            except redis.ResponseError:
                errors += 1
        sv = pool_stats(sock)["servers"][victim]
        assert errors > 0
        assert sv["failures"] >= 2 and sv["ejections"] >= 1, sv
        assert "timeout: no reply within" in s.daemon.log()   # the connection was dropped
    finally:
        os.kill(s.backends[victim].proc.pid, signal.SIGCONT)


def test_a_half_closed_client_is_answered_as_redis_answers_it(proxy):
    s = proxy(1)
    r = s.client()
    # answered at once: the element reaches the client, or -- when the
    # proxy saw the FIN before it sent the command on -- stays in the list;
    # never both, never neither
    for i in range(10):
        raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        raw.sendall(encode("RPUSH", "q", f"a{i}") + encode("BLPOP", "q", 5))
        raw.shutdown(socket.SHUT_WR)                   # as `nc -N` does: the FIN comes with it
        got = b""
        while (chunk := raw.recv(65536)):
            got += chunk
        raw.close()
        item = f"a{i}".encode()
        left = r.lrange("q", 0, -1)
        assert got in (b":1\r\n*2\r\n$1\r\nq\r\n$%d\r\n%s\r\n" % (len(item), item), b":1\r\n"), got
        assert (item in got) != (left == [item]), (got, left)
        r.delete("q")
    # blocked, then the client's FIN: Redis frees the client, so a push
    # a little later stays in the list and the client gets its EOF
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    raw.sendall(encode("BLPOP", "q", 5))
    raw.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    assert raw.recv(65536) == b""                     # closed at once, not after server_timeout
    assert time.monotonic() - t0 < 1.5
    raw.close()
    wait_for(lambda: blocked_clients(s) == 0, "the blocked command outlived its client")
    r.rpush("q", "b")
    assert r.lrange("q", 0, -1) == [b"b"]


def test_blocked_clients_leaving_never_count_against_the_server(daemon, backends, tmp_path):
    # Three BLPOP-then-close cycles ejected a healthy server before
    # (server_failure_limit = 3), and its keys went elsewhere for 30 s.
    s, sock = with_admin(daemon, backends, tmp_path, n=2, server_timeout=300, auto_eject_hosts=True,
                         server_failure_limit=3, server_retry_timeout=30000)
    for i in range(6):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(encode("BLPOP", "{x}q", 0))
        wait_for(lambda: blocked_clients(s, 0) + blocked_clients(s, 1) == 1, "it did not block")
        if i % 2:
            c.shutdown(socket.SHUT_WR)                 # a FIN ...
        c.close()                                      # ... or a plain close
        time.sleep(0.5)                                # longer than server_timeout
    # and a blocking command's own timeout is no failure either
    r = s.client()
    for _ in range(3):
        assert r.blpop(["{x}q"], timeout=0.2) is None
    servers = pool_stats(sock)["servers"]
    assert [sv["failures"] for sv in servers] == [0, 0], servers
    assert [sv["ejections"] for sv in servers] == [0, 0], servers
    assert [sv["timeouts"] for sv in servers] == [0, 0], servers
    # every key still lands on its own server
    for i in range(50):
        r.set(f"key{i}", i)
    for i in range(50):
        assert r.get(f"key{i}") == str(i).encode()
    assert sum(s.direct(b).dbsize() for b in range(2)) == 50
    assert "timeout" not in s.daemon.log()


def test_a_timeout_fails_its_own_request_not_the_others_on_the_connection(daemon, backends, tmp_path):
    # A script keeps the server busy for 1.3 s; requests sent with it wait
    # past server_timeout (1 s) and fail, each its own.  A request sent
    # 0.6 s later shares their connection and still has time when they
    # fail: it gets its reply once the server answers.  Before, the first
    # timeout dropped the connection and failed it too.
    s, sock = with_admin(daemon, backends, tmp_path, server_timeout=1000, server_connections=1)
    s.direct(0).set("b", "vb")
    timeout_err = b"-ERR coproxy: timeout: no reply from server s0 (127.0.0.1:%d) within 1000 ms" % s.ports[0]
    busy, early, late = Resp(s.port, timeout=30), Resp(s.port, timeout=30), Resp(s.port, timeout=30)
    busy.send(encode("EVAL", BUSY, 0, 1300000))
    time.sleep(0.05)
    early.send(encode("GET", "b"))
    time.sleep(0.55)
    late.send(encode("GET", "b"))
    assert busy.reply() == timeout_err
    assert early.reply() == timeout_err
    assert late.reply() == b"vb"                      # not failed for the others' timeouts
    for c in (busy, early, late):                     # the skipped replies left them all in step
        assert c.call("GET", "b") == b"vb"
        c.close()
    assert "no reply within" not in s.daemon.log()    # the connection was not dropped
    assert pool_stats(sock)["servers"][0]["timeouts"] == 2


def test_a_truly_unresponsive_server_still_fails_the_connection(daemon, backends, tmp_path):
    s, sock = with_admin(daemon, backends, tmp_path, server_timeout=300)
    r = s.client()
    r.set("a", "1")
    os.kill(s.backends[0].proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(redis.ResponseError, match="timeout"):
            r.get("a")
    finally:
        os.kill(s.backends[0].proc.pid, signal.SIGCONT)
    wait_for(lambda: pool_stats(sock)["servers"][0]["failures"] >= 1, "the stuck server was not counted")
    wait_for(lambda: r.get("a") == b"1", "it did not recover")


def test_a_client_that_does_not_read_is_closed_at_the_output_limit(daemon, backends, tmp_path):
    s, sock = with_admin(daemon, backends, tmp_path, client_output_limit=16 << 20)
    s.direct(0).set("v", b"x" * (1 << 20))
    hog = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.sendall(encode("GET", "v") * 200)              # 200 MB of replies it never reads
    wait_for(lambda: pool_stats(sock)["client_output_closed"] == 1, "the client was not closed", timeout=30)
    assert "bytes of replies it has not read" in s.daemon.log()
    hog.close()
    r = s.client()                                     # the others are served
    assert r.strlen("v") == 1 << 20
    # a client that reads keeps going, however much it asks for over time
    c = Resp(s.port, timeout=30)
    for _ in range(16):
        c.send(encode("GET", "v") * 8)
        assert all(c.reply() == b"x" * (1 << 20) for _ in range(8))
    c.close()
    assert pool_stats(sock)["client_output_closed"] == 1


def test_a_client_over_the_soft_output_limit_too_long_is_closed(daemon, backends, tmp_path):
    s, sock = with_admin(daemon, backends, tmp_path, client_output_limit=0, client_output_soft_limit=4 << 20,
                         client_output_soft_time=500)
    s.direct(0).set("v", b"x" * (1 << 20))
    hog = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    t0 = time.monotonic()
    hog.sendall(encode("GET", "v") * 20)               # 20 MB it does not read: all come at once
    wait_for(lambda: pool_stats(sock)["client_output_closed"] == 1, "not closed after the soft time", timeout=30)
    assert time.monotonic() - t0 >= 0.45               # not before its time was up
    hog.close()
    # one that reads what it asks for, under the soft limit, stays
    c = Resp(s.port, timeout=30)
    for _ in range(10):
        c.send(encode("GET", "v") * 2)
        assert c.reply() == b"x" * (1 << 20) and c.reply() == b"x" * (1 << 20)
    time.sleep(0.7)
    assert c.call("PING") == b"+PONG"
    assert pool_stats(sock)["client_output_closed"] == 1


def test_an_http_request_to_the_redis_port_is_not_run(proxy):
    s = proxy(1)
    for first in (b"POST / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\n"):
        body = b"SET pwned viaHTTP\r\n"
        raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        raw.sendall(first + b"Host: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body))
        got = b""
        try:
            while (chunk := raw.recv(65536)):
                got += chunk
        except ConnectionResetError:
            pass
        raw.close()
        assert b"+OK" not in got, got
    assert s.client().exists("pwned") == 0
    assert s.direct(0).exists("pwned") == 0
    assert "cross-protocol" in s.daemon.log()


def test_allow_flush_false_holds_for_scripts(proxy):
    s = proxy(2, allow_flush=False)
    r = s.client()
    r.set("keep", "1")
    for script in ("return redis.call('flushall')", "return redis.call('FLUSHDB', 'ASYNC')",
                   "return redis.pcall(string.upper('flushall'))", "return redis.call('\\70LUSHALL')"):
        with pytest.raises(redis.ResponseError, match="allow_flush"):
            r.eval(script, 0)
        with pytest.raises(redis.ResponseError, match="allow_flush"):
            r.script_load(script)
    with pytest.raises(redis.ResponseError, match="allow_flush"):
        r.execute_command("FUNCTION", "LOAD", "#!lua name=f\nredis.register_function('f', "
                          "function() return redis.call('flushall') end)")
    assert r.get("keep") == b"1"
    assert r.eval("return redis.call('get', KEYS[1])", 1, "keep") == b"1"   # other scripts run


def test_a_script_may_flush_where_allow_flush_is_on(proxy):
    s = proxy(1)
    r = s.client()
    r.set("gone", "1")
    assert r.eval("return redis.call('flushall')", 0) == b"OK"
    assert r.exists("gone") == 0


def test_scan_cursor_past_64_bits_is_refused_as_redis_refuses_it(proxy):
    s = proxy(2)
    direct, via = Resp(s.ports[0]), Resp(s.port)
    for cursor in ("99999999999999999999", "18446744073709551616", "x", "1x"):
        want = direct.call("SCAN", cursor)
        assert want == b"-ERR invalid cursor"
        assert via.call("SCAN", cursor) == want
    assert isinstance(via.call("SCAN", "0"), list)


def test_sigterm_lets_a_blocked_command_wait_and_blames_nobody(daemon, backends, tmp_path):
    bs = backends(1)
    port = free_port()
    d = daemon(redis_config(port, [bs[0].port], server_timeout=400), port=port)
    s = Setup(port, bs)
    c = Resp(port, timeout=15)
    c.send(encode("BLPOP", "q", 0))
    wait_for(lambda: blocked_clients(s) == 1, "it did not block")
    d.proc.send_signal(signal.SIGTERM)               # shutdown_timeout is 3000 ms
    time.sleep(1.0)                                   # past server_timeout
    s.direct(0).rpush("q", "job")
    assert c.reply() == [b"q", b"job"]               # still served while shutting down
    assert d.proc.wait(timeout=15) == 0
    assert "timeout" not in d.log().replace("shutdown_timeout", "")
    assert s.direct(0).llen("q") == 0


def test_blocking_consumers_giving_up_at_random_lose_no_job(daemon, backends):
    # The soak (bench/soak_jobs.py runs it for 10 minutes), short: numbered
    # jobs, blocking consumers that give up at random, two workers.
    from noloss import JobQueues
    bs = backends(2)
    port = free_port()
    daemon(redis_config(port, [b.port for b in bs], threads=2, hash_tag="{}"), port=port)
    jobs = JobQueues(port, nproducers=2, nconsumers=6, limit_s=60)
    jobs.start()
    time.sleep(15)
    jobs.stop()
    left = [j for b in bs for q in jobs.queues
            for j in redis.Redis(host="127.0.0.1", port=b.port, socket_timeout=10).lrange(q, 0, -1)]
    got = jobs.verify(left)
    print(got)
    assert not got["duplicates"] and not got["lost"] and not got["unknown"] and not got["bad"], got
    assert got["errors"] == 0, got
    assert got["consumed"] > 100 and got["consumers_left"] > 20, got
