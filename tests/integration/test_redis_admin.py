# SPDX-License-Identifier: Apache-2.0
"""The servers' administration commands through coproxy (two redis-servers):
CONFIG GET/SET/RESETSTAT, SLOWLOG merged by time with the server named,
SCRIPT KILL reaching the server that runs the script, MEMORY USAGE and
DEBUG OBJECT by key, ACL WHOAMI; and redis-benchmark runs with no warning."""
import subprocess
import threading
import time

import pytest
import redis

from conftest import free_port
from redis_util import Raw, Resp, redis_config


def test_admin_changes_can_be_turned_off(redis_servers, daemon):
    ports = redis_servers(2)
    port = free_port()
    daemon(redis_config(port, ports, allow_admin=False), port=port)
    c = redis.Redis(port=port, socket_timeout=30)
    for cmd in (("CONFIG", "SET", "maxmemory", "1"), ("CONFIG", "RESETSTAT"), ("SLOWLOG", "RESET"),
                ("DEBUG", "SLEEP", "0"), ("CLIENT", "PAUSE", "10")):
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command(*cmd)
        assert "allow_admin = false" in str(e.value), cmd
    assert c.config_get("maxmemory") == {"maxmemory": "0"}      # reading still works
    assert [redis.Redis(port=p).config_get("maxmemory")["maxmemory"] for p in ports] == ["0", "0"]


@pytest.fixture
def two(redis_servers, daemon):
    """coproxy in front of two fresh redis-servers (stopped by PID at teardown)."""
    ports = redis_servers(2)
    port = free_port()
    daemon(redis_config(port, ports), port=port)
    return port, [redis.Redis(port=p, socket_timeout=30) for p in ports]


def test_redis_benchmark_prints_no_warning(two):
    port, _ = two
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "get,set", "-n", "2000", "-q"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    out = r.stdout + r.stderr
    assert "WARNING" not in out and "Could not fetch" not in out, out
    assert "GET:" in out and "SET:" in out


def test_config_goes_to_every_server_and_get_reports_disagreement(two):
    port, servers = two
    c = redis.Redis(port=port, socket_timeout=30)
    assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert c.config_get("maxmemory*") == servers[0].config_get("maxmemory*")
    assert c.config_set("maxmemory-policy", "allkeys-lru")
    assert [s.config_get("maxmemory-policy")["maxmemory-policy"] for s in servers] == ["allkeys-lru"] * 2
    servers[1].config_set("maxmemory-policy", "volatile-lru")
    with pytest.raises(redis.ResponseError) as e:
        c.config_get("maxmemory-policy")
    msg = str(e.value)
    assert "disagree on 'maxmemory-policy'" in msg and "allkeys-lru" in msg and "volatile-lru" in msg, msg
    assert "s0" in msg and "s1" in msg
    assert c.config_resetstat()
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("CONFIG", "NOSUCHSUB")
    assert "GET" in str(e.value) and "SET" in str(e.value)


def test_slowlog_merged_newest_first_with_the_server_named(redis_servers, daemon):
    ports = redis_servers(2)
    port = free_port()
    # the proxy's own slow log off: only the servers' entries (test_redis_monitor.py merges both)
    daemon(redis_config(port, ports, slowlog_slower_than=-1), port=port)
    servers = [redis.Redis(port=p, socket_timeout=30) for p in ports]
    c = redis.Redis(port=port, socket_timeout=30)
    assert c.config_set("slowlog-log-slower-than", "0")
    assert c.slowlog_reset()
    for i in range(40):                              # keys on both servers
        c.set(f"slow{i}", i)
    raw = Resp(port)
    entries = raw.call("SLOWLOG", "GET", "-1")
    servers_named = {e[6] for e in entries}
    assert servers_named == {b"s0", b"s1"}, servers_named
    assert all(len(e) == 7 for e in entries)
    stamps = [e[1] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert c.config_set("slowlog-log-slower-than", "-1")   # nothing more logged: the lengths hold still
    assert raw.call("SLOWLOG", "LEN") == sum(s.slowlog_len() for s in servers) >= 40
    assert len(raw.call("SLOWLOG", "GET")) == 10       # Redis's default count
    assert len(raw.call("SLOWLOG", "GET", "3")) == 3
    assert raw.call("SLOWLOG", "RESET") == b"+OK"
    assert raw.call("SLOWLOG", "LEN") == 0
    raw.close()


def test_script_kill_reaches_the_server_running_the_script(two):
    port, servers = two
    for s in servers:                               # the server takes SCRIPT KILL after 100 ms, not 5 s
        s.config_set("busy-reply-threshold", "100")
    result = {}

    def run():
        r = redis.Redis(port=port, socket_timeout=60)
        try:
            r.eval("local i = 0 while true do i = i + 1 end", 0)
        except redis.ResponseError as e:
            result["error"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    killer = redis.Redis(port=port, socket_timeout=30)
    deadline = time.monotonic() + 30
    while True:                                      # NOTBUSY until the script has started
        try:
            if killer.script_kill():
                break
        except redis.ResponseError as e:
            assert "NOTBUSY" in str(e), e
        assert time.monotonic() < deadline
        time.sleep(0.05)
    t.join(30)
    assert not t.is_alive()
    assert "killed" in result.get("error", "").lower(), result
    with pytest.raises(redis.ResponseError) as e:    # nothing runs now: Redis's own answer
        killer.script_kill()
    assert "NOTBUSY" in str(e.value)


def test_sort_refuses_patterns_that_read_other_servers_keys(two):
    port, servers = two
    c = redis.Redis(port=port, socket_timeout=30)
    c.rpush("sl", 3, 1, 2)
    assert c.sort("sl") == [b"1", b"2", b"3"]
    assert c.sort("sl", by="nosort") == [b"3", b"1", b"2"]
    assert c.sort("sl", get="#", desc=True) == [b"3", b"2", b"1"]
    for kw in ({"by": "w_*"}, {"get": "o_*"}, {"get": ["#", "o_*->f"]}):
        with pytest.raises(redis.ResponseError) as e:
            c.sort("sl", **kw)
        assert "BY or GET patterns" in str(e.value)
    raw = Resp(port)
    assert raw.call("COMMAND", "COUNT") == servers[0].command_count() > 150   # the servers' table
    assert raw.call("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    raw.close()


def test_function_stats_and_kill_reach_the_server_running_the_function(two):
    port, servers = two
    for s in servers:
        s.config_set("busy-reply-threshold", "100")
    c = redis.Redis(port=port, socket_timeout=30)
    c.function_load("#!lua name=spin\nredis.register_function{function_name='spin', "
                    "callback=function() local i = 0 while true do i = i + 1 end end, flags={'no-writes'}}")
    result = {}

    def run():
        try:
            redis.Redis(port=port, socket_timeout=60).fcall("spin", 0)
        except redis.ResponseError as e:
            result["error"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    raw = Resp(port)
    deadline = time.monotonic() + 30
    while True:                                      # the server running it says so
        stats = raw.call("FUNCTION", "STATS")
        running = stats[stats.index(b"running_script") + 1]
        if running:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert running[running.index(b"name") + 1] == b"spin"
    assert raw.call("FUNCTION", "KILL") == b"+OK"
    t.join(30)
    assert not t.is_alive() and "killed" in result.get("error", "").lower(), result
    stats = raw.call("FUNCTION", "STATS")
    assert stats[stats.index(b"running_script") + 1] is None
    raw.close()


def test_key_and_local_admin_commands(two):
    port, servers = two
    c = redis.Redis(port=port, socket_timeout=30)
    for i in range(10):
        c.set(f"mem{i}", "x" * 100)
    for i in range(10):
        held = [s for s in servers if s.exists(f"mem{i}")]
        assert len(held) == 1
        assert c.memory_usage(f"mem{i}") == held[0].memory_usage(f"mem{i}")
        via = c.execute_command("DEBUG", "OBJECT", f"mem{i}")
        direct = held[0].execute_command("DEBUG", "OBJECT", f"mem{i}")
        assert via.split(b" encoding:")[0] == direct.split(b" encoding:")[0]   # "Value at:<the object's address>"
    assert c.execute_command("ACL", "WHOAMI") == b"default"
    assert b"keyspace" in c.execute_command("ACL", "CAT")
    assert c.memory_usage("nosuchkey") is None
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("DEBUG", "SEGFAULT")
    assert "not supported through the proxy" in str(e.value)


def test_doctor_texts_and_stats_per_server(two):
    port, servers = two
    c = redis.Redis(port=port, socket_timeout=30)
    doctor = c.execute_command("MEMORY", "DOCTOR").decode()
    # each server's own text, under its name
    for i, s in enumerate(servers):
        assert f"server s{i}:\n" + s.execute_command("MEMORY", "DOCTOR").decode() in doctor
    assert "server s0:" in c.execute_command("LATENCY", "DOCTOR").decode()
    stats = c.execute_command("MEMORY", "STATS")
    assert stats[0::2] == [b"s0", b"s1"] and all(b"keys.count" in part for part in stats[1::2])


def test_one_server_answers_byte_for_byte(redis_servers, daemon):
    ports = redis_servers(1)
    port = free_port()
    daemon(redis_config(port, ports), port=port)
    for proto in ("2", "3"):
        got = []
        for where in (port, ports[0]):
            r = Raw(where)
            r.call("HELLO", proto)
            got.append([r.call(*a) for a in (("MEMORY", "DOCTOR"), ("LATENCY", "DOCTOR"), ("CLIENT", "HELP"),
                                             ("CLIENT", "NO-TOUCH", "ON"), ("CLIENT", "Bogus"),
                                             ("CLIENT", "KILL"), ("CLIENT", "GETNAME", "extra"))])
        assert got[0] == got[1], got
