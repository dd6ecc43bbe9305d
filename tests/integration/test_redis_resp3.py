# SPDX-License-Identifier: Apache-2.0
"""RESP3 through coproxy (HELLO 3): the bytes a client gets through the proxy
(one backend) are the bytes Redis sends that client directly, for a corpus of
commands over Redis 7's types, in RESP2 and in RESP3; HELLO and RESET as
Redis answers them; replies nested deeper than any fixed limit."""

import pytest

from conftest import free_port
from redis_util import Raw, encode, redis_config


# Deterministic on any two fresh servers: no times, no random picks, sets of
# integers (their order is the intset's) and small hashes.
CORPUS = [
    ("PING",), ("PING", "hello"), ("ECHO", "x y"),
    ("SET", "s", "v"), ("GET", "s"), ("GET", "missing"), ("SET", "s", "w", "GET"), ("SETNX", "s", "z"),
    ("SET", "n", "10"), ("INCR", "n"), ("INCRBY", "n", "5"), ("DECR", "n"), ("INCRBYFLOAT", "n", "1.5"),
    ("APPEND", "s", "xyz"), ("STRLEN", "s"), ("GETRANGE", "s", "1", "2"), ("SETRANGE", "s", "1", "AB"),
    ("MSET", "m1", "a", "m2", "b"), ("MGET", "m1", "missing", "m2"), ("EXISTS", "m1", "m2", "missing"),
    ("TYPE", "m1"), ("TTL", "m1"), ("TTL", "missing"), ("PERSIST", "m1"), ("DEL", "m1", "m2", "missing"),
    ("GETDEL", "s"), ("GETEX", "n"), ("SUBSTR", "n", "0", "1"), ("LCS", "m1", "m2"),
    ("HSET", "h", "a", "1", "b", "2", "c", "x"), ("HGET", "h", "a"), ("HGET", "h", "zz"), ("HGETALL", "h"),
    ("HMGET", "h", "a", "zz", "c"), ("HKEYS", "h"), ("HVALS", "h"), ("HLEN", "h"), ("HEXISTS", "h", "b"),
    ("HINCRBY", "h", "a", "3"), ("HINCRBYFLOAT", "h", "b", "0.25"), ("HSTRLEN", "h", "c"), ("HDEL", "h", "c"),
    ("HSETNX", "h", "a", "9"), ("HGETALL", "nohash"), ("HSCAN", "h", "0"),
    ("RPUSH", "l", "a", "b", "c", "d"), ("LRANGE", "l", "0", "-1"), ("LPOP", "l"), ("RPOP", "l", "2"),
    ("LPUSH", "l", "x", "y"), ("LINDEX", "l", "1"), ("LLEN", "l"), ("LPOS", "l", "b"), ("LPOS", "l", "q"),
    ("LINSERT", "l", "BEFORE", "b", "bb"), ("LSET", "l", "0", "first"), ("LTRIM", "l", "0", "2"),
    ("LRANGE", "l", "0", "-1"), ("LMOVE", "l", "l2", "LEFT", "RIGHT"), ("LRANGE", "l2", "0", "-1"),
    ("LPOP", "nolist"), ("LPOP", "nolist", "2"), ("LRANGE", "nolist", "0", "-1"),
    ("SADD", "is", "3", "1", "2", "10"), ("SMEMBERS", "is"), ("SISMEMBER", "is", "2"),
    ("SMISMEMBER", "is", "1", "7"), ("SCARD", "is"), ("SADD", "is2", "2", "3", "4"), ("SINTER", "is", "is2"),
    ("SINTERCARD", "2", "is", "is2"), ("SREM", "is", "10"), ("SMEMBERS", "noset"),
    ("ZADD", "z", "1", "a", "2.5", "b", "3", "c"), ("ZRANGE", "z", "0", "-1"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    ("ZSCORE", "z", "b"), ("ZSCORE", "z", "nope"), ("ZMSCORE", "z", "a", "nope"), ("ZINCRBY", "z", "0.5", "a"),
    ("ZRANK", "z", "c"), ("ZREVRANK", "z", "c"), ("ZCARD", "z"), ("ZCOUNT", "z", "1", "3"),
    ("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"), ("ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"),
    ("ZPOPMIN", "z"), ("ZPOPMAX", "z", "1"), ("ZRANDMEMBER", "nozset"), ("ZADD", "z", "INCR", "1", "c"),
    ("XADD", "st", "1-1", "f", "v"), ("XADD", "st", "2-1", "g", "w"), ("XRANGE", "st", "-", "+"),
    ("XREVRANGE", "st", "+", "-", "COUNT", "1"), ("XLEN", "st"), ("XREAD", "COUNT", "5", "STREAMS", "st", "0"),
    ("XREAD", "STREAMS", "st", "$"), ("XDEL", "st", "1-1"), ("XTRIM", "st", "MAXLEN", "0"),
    ("PFADD", "hll", "a", "b", "c"), ("PFCOUNT", "hll"),
    ("SETBIT", "bits", "7", "1"), ("GETBIT", "bits", "7"), ("BITCOUNT", "bits"), ("BITPOS", "bits", "1"),
    ("BITFIELD", "bf", "INCRBY", "u8", "0", "200", "GET", "u8", "0"),
    ("GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    ("GEODIST", "geo", "Palermo", "Catania", "km"), ("GEOPOS", "geo", "Palermo", "Nowhere"),
    ("GEOSEARCH", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "ASC", "WITHDIST"),
    ("EVAL", "return {1, 'two', {3, {4}}, false}", "0"),
    ("EVAL", "return redis.status_reply('FINE')", "0"),
    ("EVAL", "return redis.error_reply('MYERR custom')", "0"),
    ("EVAL", "redis.setresp(3); return redis.call('HGETALL', KEYS[1])", "1", "h"),
    ("EVAL", "redis.setresp(3); return redis.call('ZSCORE', KEYS[1], 'b')", "1", "z"),
    ("EVAL", "redis.setresp(3); return {double=3.5}", "0"),
    ("EVAL", "redis.setresp(3); return {big_number='123456789012345678901234567890'}", "0"),
    ("EVAL", "redis.setresp(3); return {map={a=1}}", "0"),
    ("EVAL", "redis.setresp(3); return {set={x=true}}", "0"),
    ("EVAL", "redis.setresp(3); return true", "0"),
    ("EVAL", "redis.setresp(3); return redis.call('GET', 'missing')", "0"),
    ("EVAL", "local t = {} local c = t for i = 1, 300 do c[1] = {} c = c[1] end c[1] = 7 return t", "0"),
    ("EXPIRE", "h", "1000"), ("PERSIST", "h"), ("TTL", "h"), ("OBJECT", "ENCODING", "is"),
    ("GET", "l"), ("LPUSH", "s2", "x"), ("INCR", "h"), ("SET", "onlykey"),
    ("MULTI",), ("SET", "t", "1"), ("INCR", "t"), ("HGETALL", "h"), ("EXEC",),
    ("MULTI",), ("SET", "t", "2"), ("DISCARD",), ("GET", "t"), ("EXEC",),
    ("WATCH", "t"), ("UNWATCH",),
    ("BLPOP", "l2", "1"), ("BLPOP", "emptylist", "0.1"), ("BZPOPMIN", "z", "1"), ("BZPOPMIN", "nozset", "0.1"),
    ("SELECT", "1"), ("SET", "indb1", "yes"), ("GET", "indb1"), ("SELECT", "0"), ("GET", "indb1"),
    ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "tester"), ("CLIENT", "GETNAME"),
    ("DBSIZE",), ("KEYS", "m*"), ("SCAN", "0", "MATCH", "nomatch*", "COUNT", "1000"),
    ("GETSET", "gs", "1"), ("GETSET", "gs", "2"), ("MSETNX", "nx1", "a", "nx2", "b"), ("SETEX", "ex", "1000", "v"),
    ("SET", "s3", "v", "NX"), ("SET", "s3", "v", "XX", "KEEPTTL"), ("DECRBY", "gs", "7"), ("STRLEN", "missing"),
    ("RENAME", "gs", "gs2"), ("RENAMENX", "gs2", "nx1"), ("COPY", "gs2", "gs3"), ("TOUCH", "gs2", "gs3", "none"),
    ("UNLINK", "gs3"), ("EXPIRETIME", "gs2"), ("PEXPIRETIME", "missing"), ("DUMP", "gs2"),
    ("RPUSH", "nums", "3", "1", "2"), ("SORT", "nums"), ("SORT", "nums", "DESC", "LIMIT", "0", "2"),
    ("SORT_RO", "nums", "ALPHA"), ("LREM", "nums", "0", "1"), ("RPOPLPUSH", "nums", "nums2"),
    ("LMPOP", "1", "nums", "LEFT", "COUNT", "5"), ("LPUSHX", "nolist", "a"), ("RPUSHX", "nums2", "b"),
    ("BRPOPLPUSH", "nums2", "nums3", "1"), ("BLMPOP", "1", "1", "nums3", "RIGHT"),
    ("SUNION", "is", "is2"), ("SDIFF", "is", "is2"), ("SMOVE", "is", "is2", "1"), ("SINTERSTORE", "is3", "is", "is2"),
    ("SUNIONSTORE", "is4", "is", "is2"), ("SDIFFSTORE", "is5", "is2", "is"), ("SMEMBERS", "is4"),
    ("ZADD", "z2", "1", "a", "2", "b", "3", "x"), ("ZREM", "z2", "x"), ("ZUNION", "2", "z", "z2", "WITHSCORES"),
    ("ZINTER", "2", "z", "z2"), ("ZDIFF", "2", "z2", "z", "WITHSCORES"), ("ZLEXCOUNT", "z2", "-", "+"),
    ("ZRANGEBYLEX", "z2", "[a", "[z"), ("ZRANGESTORE", "z3", "z2", "0", "-1"), ("ZUNIONSTORE", "z4", "2", "z", "z2"),
    ("ZMPOP", "1", "z2", "MIN"), ("BZMPOP", "1", "1", "z3", "MAX", "COUNT", "2"), ("ZREMRANGEBYRANK", "z4", "0", "0"),
    ("XADD", "st2", "5-1", "a", "1"), ("XGROUP", "CREATE", "st2", "g1", "0"),
    ("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "1", "STREAMS", "st2", ">"), ("XPENDING", "st2", "g1"),
    ("XACK", "st2", "g1", "5-1"), ("XPENDING", "st2", "g1"),
    ("TYPE", "st2"), ("TYPE", "z2"), ("TYPE", "is"), ("TYPE", "h"), ("OBJECT", "ENCODING", "z2"),
    ("SCRIPT", "LOAD", "return ARGV[1]"), ("EVALSHA", "098e0f0d1448c0a81dafe820f66d460eb09263da", "0", "x"),
    ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "SET", "maxmemory", "0"),
    ("ACL", "WHOAMI"), ("FUNCTION", "STATS"), ("MEMORY", "USAGE", "is"), ("MEMORY", "USAGE", "missing"), ("SCRIPT", "KILL"),
    ("COMMAND", "COUNT"), ("COMMAND", "INFO", "get", "hset"), ("COMMAND", "GETKEYS", "SET", "a", "b"),
    ("RPUSH", "sl", "1", "2", "3"), ("MSET", "w_1", "3", "w_2", "1", "w_3", "2", "o_1", "x", "o_2", "y", "o_3", "z"),
    ("SORT", "sl", "BY", "w_*", "GET", "#", "GET", "o_*"), ("SORT", "sl", "BY", "nosort"),
    ("SCRIPT", "EXISTS", "098e0f0d1448c0a81dafe820f66d460eb09263da", "0000000000000000000000000000000000000000"),
]


@pytest.fixture
def twin(redis_servers, daemon):
    """Two fresh redis-servers: one direct, one behind coproxy (both stopped by PID at teardown)."""
    direct, proxied = redis_servers(2)
    port = free_port()
    daemon(redis_config(port, [proxied]), port=port)
    return direct, port


def run_both(direct, proxied, proto, commands, label=""):
    """The commands on a fresh connection to Redis and one to coproxy, both in
    protocol `proto`: what differs, byte for byte."""
    d, p = Raw(direct), Raw(proxied)
    for c in (d, p):
        hello = c.call("HELLO", proto)
        assert hello.startswith(b"%" if proto == 3 else b"*"), hello
    differ = []
    for cmd in commands:
        want, got = d.call(*cmd), p.call(*cmd)
        if want != got:
            differ.append(f"{label}{' '.join(cmd)}:\n  redis:   {want!r}\n  coproxy: {got!r}")
    d.close()
    p.close()
    return differ


@pytest.mark.parametrize("proto", [2, 3])
def test_every_reply_is_the_bytes_redis_sends(twin, proto):
    differ = run_both(*twin, proto, CORPUS)
    assert not differ, f"{len(differ)} of {len(CORPUS)} replies differ:\n" + "\n".join(differ)


def test_hello_answers_as_redis_7_and_reset_goes_back_to_resp2(twin):
    direct, proxied = twin
    c = Raw(proxied)
    r = c.call("HELLO", "3")
    assert r.startswith(b"%8\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$"), r
    assert b"$5\r\nproto\r\n:3\r\n" in r and b"$4\r\nmode\r\n$10\r\nstandalone\r\n" in r
    assert b"$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n$5\r\nproxy\r\n" in r and b"coproxy" in r
    assert c.call("GET", "nothing") == b"_\r\n"
    assert c.call("HSET", "h", "f", "v") == b":1\r\n"
    assert c.call("HGETALL", "h") == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    # HELLO with no version: the protocol stays; the servers' version, once one told it
    r = c.call("HELLO")
    assert r.startswith(b"%8\r\n")
    version = Raw(direct).call("HELLO", "3").split(b"$7\r\nversion\r\n")[1].split(b"\r\n$5")[0]
    assert b"$7\r\nversion\r\n" + version + b"\r\n" in r, (version, r)
    assert c.call("RESET") == b"+RESET\r\n"
    assert c.call("GET", "nothing") == b"$-1\r\n"
    assert c.call("HGETALL", "h") == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    r = c.call("HELLO", "2", "SETNAME", "app1")
    assert r.startswith(b"*16\r\n") and b"$5\r\nproto\r\n:2\r\n" in r
    assert c.call("CLIENT", "GETNAME") == b"$4\r\napp1\r\n"
    # errors as Redis gives them, and the protocol unchanged by a failed HELLO
    d = Raw(direct)
    for bad in (("HELLO", "4"), ("HELLO", "x"), ("HELLO", "3", "BOGUS"), ("HELLO", "3", "AUTH", "nobody", "pw"),
                ("HELLO", "3", "SETNAME", "bad name")):
        assert c.call(*bad) == d.call(*bad), bad
    assert c.call("GET", "nothing") == b"$-1\r\n"
    d.close()
    c.close()


def test_resp2_and_resp3_clients_share_the_servers_without_mixing(twin):
    _, proxied = twin
    c2, c3 = Raw(proxied), Raw(proxied)
    assert c3.call("HELLO", "3").startswith(b"%")
    pipeline = b"".join(encode("HSET", f"k{i}", "f", i) + encode("HGETALL", f"k{i}") + encode("GET", "none")
                        for i in range(200))
    c2.sock.sendall(pipeline)
    c3.sock.sendall(pipeline)
    for i in range(200):
        v = str(i).encode()
        assert c2.reply() in (b":1\r\n", b":0\r\n") and c3.reply() in (b":1\r\n", b":0\r\n")
        assert c2.reply() == b"*2\r\n$1\r\nf\r\n$%d\r\n%s\r\n" % (len(v), v)
        assert c3.reply() == b"%%1\r\n$1\r\nf\r\n$%d\r\n%s\r\n" % (len(v), v)
        assert c2.reply() == b"$-1\r\n" and c3.reply() == b"_\r\n"
    c2.close()
    c3.close()


def pubsub_session(port, publisher_port):
    """What a RESP3 subscriber receives, as bytes: confirmations and messages
    (pushes), and replies to commands it sends while subscribed."""
    c, pub = Raw(port), Raw(publisher_port)
    got = [c.call("HELLO", "3")[:1]]
    got.append(c.call("SUBSCRIBE", "news", "sport"))   # one push per channel
    got.append(c.reply())
    got.append(c.call("PSUBSCRIBE", "wea*"))
    assert pub.call("PUBLISH", "news", "hello") == b":1\r\n"
    assert pub.call("PUBLISH", "weather", "sunny") == b":1\r\n"
    got.append(c.reply())
    got.append(c.reply())
    got.append(c.call("PING"))                          # RESP3: a plain reply, even subscribed
    got.append(c.call("SET", "k", "v"))                 # any command, subscribed
    got.append(c.call("GET", "k"))
    got.append(c.call("UNSUBSCRIBE", "news"))
    got.append(c.call("PUNSUBSCRIBE"))
    got.append(c.call("UNSUBSCRIBE"))
    got.append(c.call("UNSUBSCRIBE"))                   # nothing left: a null channel
    c.close()
    pub.close()
    return got


def test_pubsub_over_resp3_is_pushes_as_redis_sends_them(twin):
    direct, proxied = twin
    want = pubsub_session(direct, direct)
    got = pubsub_session(proxied, proxied)
    assert want[2].startswith(b">3\r\n$9\r\nsubscribe\r\n") and want[4].startswith(b">3\r\n$7\r\nmessage")
    assert got == want


# Transactions as Redis rules them: a command that fails to queue dooms the
# EXEC (EXECABORT), the client stays in MULTI until EXEC/DISCARD, nested MULTI
# and WATCH inside MULTI are errors that do not end it.
TRANSACTIONS = [
    [("MULTI",), ("NOSUCHCMD", "x"), ("SET", "ta", "1"), ("EXEC",), ("GET", "ta")],
    [("MULTI",), ("SET", "ta"), ("INCR", "tb"), ("EXEC",), ("GET", "tb")],
    [("MULTI",), ("MULTI",), ("SET", "ta", "2"), ("EXEC",), ("GET", "ta")],
    [("MULTI",), ("WATCH", "ta"), ("SET", "ta", "3"), ("EXEC",), ("EXEC",)],
    [("MULTI",), ("SET", "ta", "4"), ("DISCARD",), ("EXEC",), ("DISCARD",), ("GET", "ta")],
    [("MULTI",), ("NOSUCHCMD",), ("DISCARD",), ("MULTI",), ("INCR", "tc"), ("EXEC",)],
    [("WATCH", "td"), ("MULTI",), ("SET", "td", "1"), ("EXEC",), ("UNWATCH",), ("EXEC",)],
    [("MULTI",), ("GET", "ta"), ("PING",), ("ECHO", "e"), ("EXEC",)],
    [("MULTI",), ("SET", "te", "1"), ("LPUSH", "te", "x"), ("GET", "te"), ("EXEC",)],
    [("MULTI",), ("NOSUCHCMD", "a" * 100, "b" * 100, "c"), ("EXEC",)],
    # SELECT is queued and runs in EXEC: the database after it is the client's
    [("SET", "tdb", "in0"), ("MULTI",), ("SELECT", "3"), ("SET", "tdb", "in3"), ("EXEC",), ("GET", "tdb"),
     ("SELECT", "0"), ("GET", "tdb")],
    [("MULTI",), ("SELECT", "99"), ("EXEC",), ("GET", "tdb")],
    [("WATCH", "tw"), ("SET", "tw", "1"), ("MULTI",), ("SELECT", "4"), ("EXEC",), ("SET", "tw4", "x"),
     ("SELECT", "4"), ("GET", "tw4")],
    [("MULTI",), ("SELECT", "2"), ("SET", "tdb2", "a"), ("DISCARD",), ("GET", "tdb2"), ("SET", "tdb2", "b"),
     ("SELECT", "2"), ("EXISTS", "tdb2")],
]


@pytest.mark.parametrize("proto", [2, 3])
def test_select_in_a_pipelined_transaction_holds_for_what_follows(twin, proto):
    steps = [("HELLO", str(proto)), ("MULTI",), ("SELECT", "6"), ("SET", "tp", "six"), ("EXEC",),
             ("GET", "tp"), ("SET", "tp2", "also6"), ("SELECT", "0"), ("GET", "tp"), ("SELECT", "6"), ("GET", "tp2")]
    got = []
    for where in twin:
        c = Raw(where)
        c.sock.sendall(b"".join(encode(*a) for a in steps))   # one write: EXEC's effect must hold at once
        replies = [c.reply() for _ in steps]
        got.append([r for (a, r) in zip(steps, replies) if a[0] != "HELLO"])
        c.close()
    assert got[0] == got[1], got


@pytest.mark.parametrize("proto", [2, 3])
def test_transactions_follow_redis_rules(twin, proto):
    differ = []
    for steps in TRANSACTIONS:
        differ += run_both(*twin, proto, steps, label=f"{steps}: ")
    assert not differ, "\n".join(differ)
