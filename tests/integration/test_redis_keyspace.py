# SPDX-License-Identifier: Apache-2.0
"""Redis mode: keyspace and server commands across servers -- SCAN with a
cursor that walks every server, RANDOMKEY, TIME, LASTSAVE, FUNCTION/FCALL."""
import pytest
import redis

from redis_util import Resp, probe
from test_redis import Setup, backends, proxy  # noqa: F401 -- the fixtures


@pytest.mark.parametrize("n", [1, 3])
def test_scan_visits_every_key_once(proxy, n):
    s = proxy(n)
    r = s.client()
    keys = [f"key:{i}" for i in range(10000)]
    for i in range(0, len(keys), 500):
        r.mset({k: "v" for k in keys[i:i + 500]})
    seen = []
    cursor, calls = 0, 0
    while True:
        cursor, batch = r.scan(cursor=cursor, count=500)
        seen.extend(k.decode() for k in batch)
        calls += 1
        assert calls < 1000
        if cursor == 0:
            break
    assert len(seen) == len(keys) and set(seen) == set(keys)      # each exactly once
    assert sorted(r.scan_iter(match="key:99*", count=1000)) == sorted(k.encode() for k in keys
                                                                       if k.startswith("key:99"))
    if n == 3:   # the cursor names the server: every server was visited
        where = probe([k.encode() for k in keys], s.ports)
        assert set(where) == {0, 1, 2}
    assert Resp(s.port).call("SCAN", "notanumber").startswith(b"-ERR invalid cursor")


def test_randomkey_time_lastsave(proxy):
    s = proxy(3)
    r = s.client()
    assert r.randomkey() is None                                  # every server empty
    r.set("only", "1")
    assert r.randomkey() == b"only"                               # whichever server has it
    for i in range(20):
        r.set(f"rk{i}", i)
    assert r.exists(r.randomkey().decode()) == 1
    secs, usecs = r.time()
    assert secs > 1_700_000_000 and 0 <= usecs < 1_000_000
    assert r.lastsave() is not None


def test_functions_loaded_everywhere_and_called_by_key(proxy):
    s = proxy(3)
    r = s.client()
    lib = ("#!lua name=mylib\n"
           "redis.register_function('getset2', function(keys, args) "
           "local old = redis.call('GET', keys[1]); redis.call('SET', keys[1], args[1]); return old end)")
    assert r.function_load(lib) == b"mylib"                       # every server agreed
    for i in range(3):                                            # on every server
        assert s.direct(i).function_list()[0][:2] == [b"library_name", b"mylib"]
    cands = [f"fn:{i}" for i in range(2000)]
    where = probe([k.encode() for k in cands], s.ports)
    keys = \
        [next(k for k, w in zip(cands, where) if w == srv) for srv in range(3)]
    for k in keys:
        assert r.fcall("getset2", 1, k, "new") is None
        assert r.fcall("getset2", 1, k, "newer") == b"new"
    assert set(probe([k.encode() for k in keys], s.ports)) == {0, 1, 2}   # called on every server
    assert r.function_list()[0][:2] == [b"library_name", b"mylib"]   # from one server
    assert r.function_delete("mylib") in (True, b"OK")
    assert all(s.direct(i).function_list() == [] for i in range(3))


def test_info_has_the_proxy_and_the_summed_keyspace(proxy):
    s = proxy(3)
    r = s.client()
    for i in range(50):
        r.set(f"i{i}", i)
    r.expire("i1", 1000)
    info = r.info()
    assert info["proxy_mode"] == "redis" and info["servers"] == 3 and "coproxy_version" in info
    assert info["redis_version"] == s.direct(0).info("server")["redis_version"]   # what clients check
    assert info["db0"]["keys"] == 50 and info["db0"]["expires"] == 1
    assert r.info("keyspace") == {"db0": {"keys": 50, "expires": 1, "avg_ttl": 0}}


def test_info_sections_are_merged_over_the_servers(proxy):
    s = proxy(3)
    r = s.client()
    others = [s.client() for _ in range(3)]
    for o in others:
        o.ping()
    for i in range(60):
        r.set(f"m{i}", "x" * 50)
        r.get(f"m{i}")
    direct = [s.direct(i) for i in range(3)]
    mem = r.info("memory")
    assert mem["used_memory"] >= sum(d.info("memory")["used_memory"] for d in direct) * 0.9
    assert mem["maxmemory_policy"] == "noeviction"                  # what job queues check
    assert mem["used_memory_human"].endswith(("K", "M", "G"))
    clients = r.info("clients")
    assert clients["connected_clients"] >= 4 and "blocked_clients" in clients    # coproxy's clients
    cmd = r.info("commandstats")
    per_server = [d.info("commandstats").get("cmdstat_set", {"calls": 0})["calls"] for d in direct]
    assert cmd["cmdstat_set"]["calls"] == sum(per_server) == 60, per_server
    assert cmd["cmdstat_get"]["calls"] == 60
    stats = r.info("stats")
    assert stats["total_commands_processed"] >= 120
    everything = r.info("everything")
    for key in ("redis_version", "connected_clients", "used_memory", "total_commands_processed", "role",
                "used_cpu_sys", "cmdstat_set", "db0", "coproxy_version"):
        assert key in everything, key
    assert r.info("nosuchsection") == {}
    for o in others:
        o.close()


def test_client_subcommands_about_the_proxys_own_clients(proxy):
    s = proxy(1)
    c = Resp(s.port)
    assert c.call("CLIENT", "SETNAME", "worker-7") == b"+OK"
    info = c.call("CLIENT", "INFO").decode()
    assert "name=worker-7" in info and "db=0" in info and "cmd=client" in info and info.startswith("id=")
    other = Resp(s.port)
    other.call("PING")
    listing = c.call("CLIENT", "LIST").decode().splitlines()
    assert len(listing) == 2 and any("name=worker-7" in line for line in listing)
    assert c.call("CLIENT", "NO-EVICT", "on") == b"+OK"
    # REPLY OFF: nothing comes back until REPLY ON; SKIP: the next reply is skipped
    c.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n*3\r\n$3\r\nSET\r\n$2\r\nro\r\n$1\r\n1\r\n")
    c.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$2\r\nON\r\n")
    assert c.reply() == b"+OK"                        # REPLY ON's own reply, the first one written
    assert c.call("GET", "ro") == b"1"                # the silent SET ran
    c.send(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n*2\r\n$3\r\nGET\r\n$2\r\nro\r\n")
    assert c.call("PING") == b"+PONG"                 # SKIP and GET were not answered


def test_client_list_shows_the_clients_of_every_worker(proxy):
    s = proxy(1, threads=2)
    conns = []
    for i in range(20):                               # the kernel spreads them over both workers
        c = Resp(s.port)
        assert c.call("CLIENT", "SETNAME", f"c{i}") == b"+OK"
        conns.append(c)
    sub = Resp(s.port)
    assert sub.call("SUBSCRIBE", "news") == [b"subscribe", b"news", 1]
    for asker in (conns[0], conns[-1]):
        listing = asker.call("CLIENT", "LIST").decode().splitlines()
        names = {f.split("=", 1)[1] for line in listing for f in line.split() if f.startswith("name=")}
        assert names >= {f"c{i}" for i in range(20)}, listing
        assert len(listing) == 21
        workers = {f for line in listing for f in line.split() if f.startswith("worker=")}
        assert workers == {"worker=0", "worker=1"}, listing
        assert sum("sub=1 psub=0" in line for line in listing) == 1   # the subscriber
    for c in conns + [sub]:
        c.close()


def test_client_list_line_has_redis_fields_in_redis_order(proxy):
    s = proxy(1)
    c = Resp(s.port)
    c.call("CLIENT", "SETNAME", "fmt")
    ours = c.call("CLIENT", "INFO").decode().split()
    theirs = redis.Redis(port=s.ports[0]).execute_command("CLIENT", "INFO").decode().split()
    names = [f.split("=", 1)[0] for f in ours]
    want = [f.split("=", 1)[0] for f in theirs]
    assert names[:len(want)] == want, (names, want)     # Redis 7.0's fields, then coproxy's
    assert names[len(want):] == ["worker", "watch"]
    fields = dict(f.split("=", 1) for f in ours)
    assert fields["name"] == "fmt" and fields["flags"] == "N" and fields["resp"] == "2" and fields["user"] == "default"
    assert fields["laddr"].endswith(f":{s.port}")
    assert c.call("MULTI") == b"+OK"                  # seen from another client: in a transaction
    other = Resp(s.port)
    line = [ln for ln in other.call("CLIENT", "LIST").decode().splitlines() if "name=fmt" in ln][0]
    assert " flags=x " in line, line
    other.close()
    c.close()


def test_client_kill_closes_clients_on_any_worker(proxy):
    s = proxy(1, threads=2)
    conns = [Resp(s.port) for _ in range(12)]
    ids = {}
    for i, c in enumerate(conns):
        c.call("CLIENT", "SETNAME", f"k{i}")
        ids[i] = c.call("CLIENT", "ID")
    listing = conns[0].call("CLIENT", "LIST").decode().splitlines()
    assert {f for line in listing for f in line.split() if f.startswith("worker=")} == {"worker=0", "worker=1"}
    killer = conns[0]
    # by id, whichever worker holds it
    for i in range(1, 6):
        assert killer.call("CLIENT", "KILL", "ID", ids[i]) == 1
        assert conns[i].closed(timeout=10)
    assert killer.call("CLIENT", "KILL", "ID", 999999999) == 0
    # the old form, by address
    addr = dict(f.split("=", 1) for f in conns[6].call("CLIENT", "INFO").decode().split())["addr"]
    assert killer.call("CLIENT", "KILL", addr) == b"+OK"
    assert conns[6].closed(timeout=10)
    assert killer.call("CLIENT", "KILL", "10.9.9.9:1").startswith(b"-ERR No such client")
    # SKIPME: the caller is spared unless it says no
    assert killer.call("CLIENT", "KILL", "ID", ids[0]) == 0
    assert killer.call("CLIENT", "KILL", "ID", ids[0], "SKIPME", "no") == 1
    assert killer.closed(timeout=10)
    for c in conns[7:]:
        assert c.call("PING") == b"+PONG"
        c.close()


def test_client_pause_reaches_every_server(proxy):
    s = proxy(2)
    c = Resp(s.port)
    assert c.call("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK"
    for port in s.ports:                              # each server holds its clients' writes now
        held = redis.Redis(port=port, socket_timeout=2)
        with pytest.raises(redis.exceptions.TimeoutError):
            held.set("x", "1")
        held.close()
    assert c.call("CLIENT", "UNPAUSE") == b"+OK"     # (not a write: it passes)
    for port in s.ports:
        assert redis.Redis(port=port, socket_timeout=30).set("x", "2")
    assert c.call("SET", "after", "1") == b"+OK"
    c.close()


def test_flush_can_be_turned_off(proxy):
    s = proxy(3, allow_flush=False)
    r = s.client()
    r.set("keep", "1")
    with pytest.raises(redis.ResponseError, match="allow_flush = false"):
        r.flushdb()
    with pytest.raises(redis.ResponseError, match="allow_flush = false"):
        r.flushall()
    assert r.get("keep") == b"1"
