# SPDX-License-Identifier: Apache-2.0
"""Users and permissions at the proxy (a pool's `users` / `acl_file`):
checked byte for byte against a real redis-server given the same users with
ACL SETUSER (NOPERM for commands, keys, channels, inside MULTI, EVAL's
declared keys, MGET and MSET split across servers, SORT's BY/GET; ACL
DRYRUN, LIST, WHOAMI; Redis's glob through DRYRUN), real clients logging in
with a user name (redis-cli, redis-py, node-redis, ioredis), the pool's own
backend user, the brute-force lockout, bad input, and users changed by a
reload."""
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import redis

from conftest import ROOT, free_port
from redis_util import Raw, RedisProc, Resp, admin_stats, encode, redis_config

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")

GLOBS = ["a*b", "a?c", "[abc]x", "[^a]x", "[a-c]*", "\\*x", "*a*b*c*", "h[ae]llo", "[z-a]q", "x\\", "[ab",
         "*", "??", "[\\]]y", "a*", "*.txt"]
GLOB_KEYS = ["ab", "axxb", "abc", "ac", "axc", "bx", "ax", "dx", "cz", "*x", "zx", "abxc", "aabbcc", "hello",
             "hallo", "hillo", "bq", "x\\", "x", "a", "b", "]y", "a.txt", "", "\x00a", "q.txt"]

USERS = [
    "app on >secret ~app:* &app:* +@all -@dangerous",
    "ro on >ro ~* +@read",
    "rw on >rw %R~r:* %W~w:* +@all",
    "sorter on >s ~app:* &* +@all",
    "admin on >adm ~* &* +@all",
    "off1 off >x ~* +@all",
] + [f"g{i} on >g ~{p} +@all" for i, p in enumerate(GLOBS)]

# (user, commands): the replies through coproxy must be Redis's own, byte for byte
CASES = [
    ("ro", [["GET", "r:1"], ["SET", "r:1", "x"], ["MGET", "a", "b", "c", "d"], ["FLUSHALL"],
            ["CONFIG", "GET", "maxmemory"], ["ACL", "WHOAMI"], ["DEBUG", "SLEEP", "0"], ["PUBLISH", "c", "m"]]),
    ("app", [["SET", "app:1", "v"], ["GET", "app:1"], ["GET", "other"], ["MSET", "app:a", "1", "app:b", "2"],
             ["MSET", "app:a", "1", "other", "2"], ["MGET", "app:a", "app:b", "app:c"], ["MGET", "app:a", "other"],
             ["DEL", "app:zz", "other"], ["EXISTS", "app:a", "app:b"],
             ["EVAL", "return redis.call('get', KEYS[1])", "1", "app:1"],
             ["EVAL", "return redis.call('get', KEYS[1])", "1", "other"], ["FLUSHALL"], ["FLUSHDB"],
             ["CONFIG", "SET", "maxmemory", "0"], ["KEYS", "*"], ["SORT", "app:l"],
             ["PUBLISH", "app:ch", "x"], ["PUBLISH", "other", "x"], ["WATCH", "other"], ["BLPOP", "other", "1"],
             ["XREAD", "STREAMS", "app:s", "other", "0", "0"], ["ACL", "LIST"],
             ["MULTI"], ["SET", "app:1", "a"], ["GET", "other"], ["EXEC"],
             ["MULTI"], ["SET", "app:1", "a"], ["FLUSHALL"], ["EXEC"], ["GET", "app:1"],
             ["SUBSCRIBE", "other"], ["PSUBSCRIBE", "app:*"]]),
    ("sorter", [["RPUSH", "app:{l}", "3", "1", "2"], ["SORT", "app:{l}"], ["SORT", "app:{l}", "BY", "nosort"],
                ["SORT", "app:{l}", "BY", "w_*"], ["SORT", "app:{l}", "GET", "#"], ["SORT", "app:{l}", "LIMIT", "0", "1"],
                ["SORT", "app:{l}", "STORE", "other"], ["SORT", "app:{l}", "STORE", "app:{l}dst"],
                ["SORT_RO", "app:{l}", "GET", "app:*"]]),
    ("rw", [["SET", "w:{t}1", "x"], ["SET", "w:{t}1", "x", "GET"], ["GET", "r:{t}1"], ["GET", "w:{t}1"],
            ["EXISTS", "w:{t}1"], ["COPY", "r:{t}1", "w:{t}2"], ["COPY", "w:{t}1", "r:{t}2"],
            ["RPOPLPUSH", "r:{t}l", "w:{t}l"], ["RPOPLPUSH", "w:{t}l", "r:{t}l"], ["LPUSH", "w:{t}l", "1"],
            ["BITFIELD", "w:{t}1", "GET", "u8", "0"], ["BITFIELD", "r:{t}1", "GET", "u8", "0"],
            ["BITFIELD", "r:{t}1", "SET", "u8", "0", "1"], ["SINTERSTORE", "w:{t}d", "r:{t}a", "r:{t}b"],
            ["SINTERSTORE", "r:{t}d", "w:{t}a"], ["ZUNIONSTORE", "w:{t}z", "1", "r:{t}z"]]),
    ("admin", [["ACL", "DRYRUN", "ro", "set", "a", "b"], ["ACL", "DRYRUN", "ro", "get", "a"],
               ["ACL", "DRYRUN", "app", "get", "other"], ["ACL", "DRYRUN", "app", "publish", "other", "x"],
               ["ACL", "DRYRUN", "app", "config", "get", "x"], ["ACL", "DRYRUN", "nobody", "get", "x"],
               ["ACL", "DRYRUN", "app", "nosuchcommand"], ["ACL", "DRYRUN", "app", "get"],
               ["ACL", "DRYRUN", "rw", "set", "r:1", "x"], ["ACL", "DRYRUN", "rw", "get", "w:1"],
               ["ACL", "DRYRUN", "sorter", "sort", "app:l", "by", "x*"], ["ACL", "WHOAMI"],
               ["ACL", "USERS"], ["ACL", "CAT"], ["ACL", "GETUSER", "nobody"], ["ACL", "NOSUCH"]]),
    ("off1", [["GET", "x"]]),
]


def setuser(port, line):
    name, *rules = line.split()
    r = redis.Redis(port=port)
    assert r.execute_command("ACL", "SETUSER", name, *rules) == b"OK"


@pytest.fixture
def pair(tmp_path, daemon):
    """A redis-server given USERS directly, and coproxy with USERS in front of
    two redis-servers that it logs in to as its own backend user."""
    direct = RedisProc(tmp_path)
    backends = [RedisProc(tmp_path) for _ in range(2)]
    for line in USERS:
        setuser(direct.port, line)
    for b in backends:
        setuser(b.port, "proxy on >pp ~* &* +@all")
        setuser(b.port, "default off")
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    users = ", ".join(json.dumps(u) for u in ["default off"] + USERS)
    conf = (f'admin = {{ socket = "{sock}"; }};\n'
            + redis_config(port, [b.port for b in backends], hash_tag="{}", redis_user="proxy", redis_auth="pp")
            .replace("servers = (", f"users = ( {users} );\n    servers = ("))
    d = daemon(conf, port=port)
    yield port, direct, backends, d, sock
    for p in [direct] + backends:
        p.stop()


def login(port, user, password):
    c = Raw(port)
    assert c.call("AUTH", user, password) == b"+OK\r\n", user
    return c


def password_of(user):
    return next(u.split()[2][1:] for u in USERS if u.split()[0] == user)


def test_replies_are_redis_own(pair):
    port, direct, _, _, _ = pair
    for user, commands in CASES:
        pw = password_of(user)
        if user == "off1":
            for p in (port, direct.port):
                c = Raw(p)
                assert c.call("AUTH", user, pw) == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                c.close()
            continue
        a, b = login(port, user, pw), login(direct.port, user, pw)
        for cmd in commands:
            got, want = a.call(*cmd), b.call(*cmd)
            if cmd[:2] == ["ACL", "LIST"] and want.startswith(b"-"):
                assert got == want, (user, cmd)
            elif cmd[:2] in (["ACL", "CAT"], ["ACL", "USERS"]):
                assert sorted(got.split(b"\r\n")) == sorted(
                    (want if cmd[1] == "CAT" else want.replace(b"$7\r\ndefault\r\n", b"$7\r\ndefault\r\n"))
                    .split(b"\r\n")), (user, cmd)
            else:
                assert got == want, (user, cmd, got, want)
        a.close()
        b.close()


def test_glob_is_redis_own(pair):
    """Key patterns match as Redis's glob does: each pattern against each key, through ACL DRYRUN."""
    port, direct, _, _, _ = pair
    a, b = login(port, "admin", "adm"), login(direct.port, "admin", "adm")
    for i, pat in enumerate(GLOBS):
        for key in GLOB_KEYS:
            cmd = ["ACL", "DRYRUN", f"g{i}", "get", key.encode()]
            assert a.call(*cmd) == b.call(*cmd), (pat, key)


def test_acl_list_is_redis_own_without_passwords(pair):
    port, direct, _, _, _ = pair
    a, b = login(port, "admin", "adm"), login(direct.port, "admin", "adm")
    got = [x for x in redis.Redis(port=port, username="admin", password="adm").acl_list()]
    want = redis.Redis(port=direct.port, username="admin", password="adm").acl_list()
    want = [re.sub(r" #[0-9a-f]{64}", "", x) for x in want if not x.startswith("user default ")]
    assert "user default off resetchannels -@all" in got
    assert sorted(x for x in got if not x.startswith("user default ")) == sorted(want)
    assert not any(re.search(r"#[0-9a-f]{64}|secret", x) for x in got)
    for name in ("app", "ro", "rw", "g3"):   # Redis's own fields, the passwords' list empty
        u = redis.Redis(port=port, username="admin", password="adm").acl_getuser(name)
        v = redis.Redis(port=direct.port, username="admin", password="adm").acl_getuser(name)
        assert u["passwords"] == [] and len(v["passwords"]) == 1
        u.pop("passwords")
        v.pop("passwords")
        assert u == v
    a.close()
    b.close()


def commandstats(port, name):
    info = redis.Redis(port=port, username="proxy", password="pp").info("commandstats")
    return info.get(f"cmdstat_{name}", {}).get("calls", 0)


def test_refused_requests_never_reach_a_server(pair):
    """After a failed AUTH, and for NOPERM, nothing is sent to a backend."""
    port, _, backends, _, _ = pair
    before = [commandstats(b.port, "set") + commandstats(b.port, "get") for b in backends]
    c = Resp(port)
    c.send(encode("AUTH", "app", "wrong") + b"".join(encode("SET", f"app:{i}", "x") for i in range(50))
           + encode("GET", "app:1"))
    assert c.reply() == b"-WRONGPASS invalid username-password pair or user is disabled."
    for _ in range(51):
        assert c.reply() == b"-NOAUTH Authentication required."
    ro = Resp(port)
    assert ro.call("AUTH", "ro", "ro") == b"+OK"
    ro.send(b"".join(encode("SET", f"k{i}", "x") for i in range(50)))
    for _ in range(50):
        assert ro.reply() == b"-NOPERM this user has no permissions to run the 'set' command"
    after = [commandstats(b.port, "set") + commandstats(b.port, "get") for b in backends]
    assert after == before


def test_real_clients_log_in_as_users(pair):
    port = pair[0]
    out = subprocess.run(["redis-cli", "-p", str(port), "--user", "app", "--pass", "secret", "--no-auth-warning",
                          "set", "app:cli", "1"], capture_output=True, text=True, timeout=30).stdout
    assert out.strip() == "OK"
    out = subprocess.run(["redis-cli", "-p", str(port), "--user", "ro", "--pass", "ro", "--no-auth-warning",
                          "set", "app:cli", "1"], capture_output=True, text=True, timeout=30).stdout
    assert "NOPERM" in out
    r = redis.Redis(port=port, username="ro", password="ro")
    assert r.get("app:cli") == b"1"
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.set("app:cli", "2")
    with pytest.raises(redis.exceptions.RedisError, match="WRONGPASS"):
        redis.Redis(port=port, username="ro", password="nope").ping()
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "redis")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE_DIR, check=True, timeout=600)
    for kind in ("node-redis", "ioredis"):
        res = subprocess.run(["node", "acl_user.mjs", kind, str(port), "app", "secret"], cwd=NODE_DIR,
                             capture_output=True, text=True, timeout=120)
        out = json.loads(res.stdout.strip().splitlines()[-1])
        assert "error" not in out, (kind, out, res.stderr)
        assert out["whoami"] == "app" and out["set"] == "OK" and out["get"] == "v", (kind, out)
        assert "NOPERM" in out["other"], (kind, out)


def test_hello_auth_with_user(pair):
    port = pair[0]
    c = Resp(port)
    assert c.call("GET", "x") == b"-NOAUTH Authentication required."
    hello = c.call("HELLO", "2", "AUTH", "app", "secret")
    assert isinstance(hello, list) and b"proto" in hello
    assert c.call("ACL", "WHOAMI") == b"app"
    assert c.call("HELLO", "3", "AUTH", "app", "nope") == \
        b"-WRONGPASS invalid username-password pair or user is disabled."
    assert c.call("ACL", "WHOAMI") == b"app"   # a failed AUTH keeps who it was
    assert b" user=app " in login(port, "admin", "adm").call("CLIENT", "LIST")
    assert c.call("ACL", "SETUSER", "x") == b"-NOPERM this user has no permissions to run the 'acl|setuser' command"
    assert c.call("AUTH", "admin", "adm") == b"+OK"
    assert c.call("ACL", "SETUSER", "x").startswith(b"-ERR coproxy: the users of pool cache are set in")


def test_bad_auth_input(pair):
    port, _, _, d, sock = pair
    other = login(port, "app", "secret")
    assert other.call("SET", "app:k", "1") == b"+OK\r\n"
    c = Resp(port)
    assert c.call("AUTH", *(["x"] * 10000)) == b"-ERR syntax error"
    big = "p" * (1 << 20)
    assert c.call("AUTH", "app", big) == b"-WRONGPASS invalid username-password pair or user is disabled."
    assert c.call("AUTH", "nosuchuser", "pw-unknown-user") == \
        b"-WRONGPASS invalid username-password pair or user is disabled."
    assert c.call("AUTH", "ev\r\nil\x01\x7f", "pw-control-bytes") == \
        b"-WRONGPASS invalid username-password pair or user is disabled."
    assert c.call("AUTH", "app", "secret") == b"+OK"
    assert other.call("GET", "app:k") == b"$1\r\n1\r\n"
    log = d.log()
    assert "as user 'nosuchuser', which does not exist" in log
    assert "as user 'ev\\x0d\\x0ail\\x01\\x7f'" in log
    for secret in ("pw-unknown-user", "pw-control-bytes", "pppppppp", "secret"):
        assert secret not in log
    st = pool_stats(sock, lambda st: st["auth_failures"] >= 3)
    assert st["auth_failures"] >= 3 and st["acl_denied"] == 0


def pool_stats(sock, ok):
    """The pool's STATS once ok(stats) holds (workers publish them every 100 ms), or the last ones."""
    deadline = time.monotonic() + 15
    while True:
        st = admin_stats(sock)["pools"][0]
        if ok(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.1)


def lockout_daemon(tmp_path, daemon, backend, how):
    port = free_port()
    sock = str(tmp_path / f"admin-{how}.sock")
    conf = (f'admin = {{ socket = "{sock}"; }};\n'
            + redis_config(port, [backend.port], auth_max_failures=3, auth_lockout=how, auth_delay=500)
            .replace("servers = (", 'users = ( "default off", "app on >secret ~* +@all" );\n    servers = ('))
    return daemon(conf, port=port), port, sock


def connect_from(port, source):
    s = socket.socket()
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    c = Resp.__new__(Resp)
    c.sock, c.buf = s, b""
    return c


@pytest.mark.parametrize("how", ["close", "delay"])
def test_brute_force_lockout(tmp_path, daemon, how):
    backend = RedisProc(tmp_path)
    try:
        d, port, sock = lockout_daemon(tmp_path, daemon, backend, how)
        c = connect_from(port, "127.0.0.2")
        for i in range(3):
            assert c.call("AUTH", "app", f"guess{i}") == \
                b"-WRONGPASS invalid username-password pair or user is disabled."
        t0 = time.monotonic()
        if how == "close":
            # past the limit: refused unchecked, even the right password, and closed
            assert c.call("AUTH", "app", "secret").startswith(b"-ERR coproxy: too many failed AUTH attempts")
            assert c.closed()
            again = connect_from(port, "127.0.0.2")
            assert again.call("AUTH", "app", "secret").startswith(b"-ERR coproxy: too many failed AUTH")
        else:
            # past the limit: each AUTH waits auth_delay; a failed one closes its connection
            c.send(encode("AUTH", "app", "guess9") + encode("AUTH", "app", "guess10") * 100)
            assert c.reply() == b"-WRONGPASS invalid username-password pair or user is disabled."
            assert time.monotonic() - t0 >= 0.45
            assert c.closed()
            c = connect_from(port, "127.0.0.2")
            t0 = time.monotonic()
            assert c.call("AUTH", "app", "secret") == b"+OK"   # the right password still opens, slowly
            assert time.monotonic() - t0 >= 0.45
        # another address is not held up
        t1 = time.monotonic()
        fine = connect_from(port, "127.0.0.3")
        assert fine.call("AUTH", "app", "secret") == b"+OK"
        assert fine.call("SET", "k", "v") == b"+OK"
        assert time.monotonic() - t1 < 5
        st = pool_stats(sock, lambda st: st["auth_failures"] >= 3 and st["auth_lockouts"] >= 1)
        assert st["auth_failures"] >= 3 and st["auth_lockouts"] >= 1
    finally:
        backend.stop()


def test_reload_changes_users(tmp_path, daemon):
    backend = RedisProc(tmp_path)
    try:
        port = free_port()
        sock = str(tmp_path / "admin.sock")
        conf = f'admin = {{ socket = "{sock}"; }};\n' + redis_config(port, [backend.port])

        def write(users):
            text = conf.replace("servers = (", "users = ( " + ", ".join(json.dumps(u) for u in users)
                                + " );\n    servers = (")
            (tmp_path / "coproxy.conf").write_text(text)
            return text

        d = daemon(write(["default off", "gone on >g ~* +@all", "turned on >t ~* +@all", "ro on >ro ~* +@read",
                          "sub on >s &news.* &sports.* +@all"]), port=port)
        gone, turned, ro = login(port, "gone", "g"), login(port, "turned", "t"), login(port, "ro", "ro")
        assert ro.call("SET", "k", "v").startswith(b"-NOPERM")
        news, sports = login(port, "sub", "s"), login(port, "sub", "s")
        assert news.call("SUBSCRIBE", "news.1").startswith(b"*3\r\n$9\r\nsubscribe\r\n")
        assert sports.call("PSUBSCRIBE", "sports.*").startswith(b"*3\r\n$10\r\npsubscribe\r\n")
        write(["default off", "turned off >t ~* +@all", "ro on >ro ~* +@read +@write", "new on >n ~* +@all",
               "sub on >s &news.* +@all"])
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "was removed by the reload" not in d.log():
            time.sleep(0.1)
        for c in (gone, turned, sports):   # closed: the user is gone, or off, or denied its channel
            c.sock.settimeout(10)
            with pytest.raises((EOFError, ConnectionResetError, BrokenPipeError)):
                c.call("PING")
                c.call("PING")
        assert ro.call("SET", "k", "v") == b"+OK\r\n"   # its new rules, at its next command
        assert news.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"   # still allowed its channel
        assert login(port, "new", "n").call("GET", "k") == b"$1\r\nv\r\n"
        c = Raw(port)
        assert c.call("AUTH", "gone", "g").startswith(b"-WRONGPASS")
        log = d.log()
        assert "user 'gone' was removed by the reload" in log and "user 'turned' was turned off by the reload" in log
        assert "user 'sub' was denied a channel it is subscribed to by the reload" in log
        # closed for their users, not for idleness: not counted as idle kicks
        time.sleep(0.5)
        assert pool_stats(sock, lambda st: True)["client_kicked"] == 0
    finally:
        backend.stop()


@pytest.mark.parametrize("pool,expect", [
    ('users = ( "app on >hunter2 ~app:* +@nosuch" );', "pools.[0].users.[0]"),
    ('users = ( "app on >hunter2 ~app:* +nosuchcmd" );', "Unknown command or category name in ACL"),
    ('users = ( "app on ~x (~y +get)" );', "selectors"),
    ('users = ( "app on #abc" );', "exactly 64 characters"),
    ('users = ( "app on", "app off" );', "user 'app' is defined twice"),
    ('users = ( "default on" ); password = "pw";', "pools.[0].password"),
    ('users = ( "a\\tb on" );', "rule 'b'"),
    ('users = ( "x on" ); acl_file = "/nonexistent";', "set users or acl_file, not both"),
    ('acl_file = "/nonexistent/users.acl";', "/nonexistent/users.acl: No such file or directory"),
    ('redis_user = "proxy";', "redis_user: needs redis_auth"),
    ('auth_lockout = "ban";', "auth_lockout"),
])
def test_config_errors(tmp_path, pool, expect):
    conf = tmp_path / "bad.conf"
    conf.write_text(redis_config(free_port(), [free_port()]).replace("servers = (", pool + "\n    servers = ("))
    r = subprocess.run([os.path.join(os.environ.get("COPROXY_BUILD", os.path.join(ROOT, "build")), "coproxy"),
                        "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert expect in r.stderr, r.stderr
    assert "hunter2" not in r.stderr
    assert re.search(r"bad\.conf:\d+:", r.stderr), r.stderr


def test_users_need_a_redis_pool(tmp_path):
    conf = tmp_path / "tcp.conf"
    conf.write_text(redis_config(free_port(), [free_port()]).replace('mode = "redis"', 'mode = "tcp"')
                    .replace("servers = (", 'users = ( "app on >pw ~* +@all" );\n    servers = ('))
    r = subprocess.run([os.path.join(os.environ.get("COPROXY_BUILD", os.path.join(ROOT, "build")), "coproxy"),
                        "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "pools.[0].users: users apply to redis pools" in r.stderr, r.stderr


def test_acl_file(tmp_path, daemon):
    backend = RedisProc(tmp_path)
    try:
        acl = tmp_path / "users.acl"
        acl.write_text("# coproxy users\n\nuser default off\nuser app on >secret ~app:* +@all\nro on >ro ~* +@read\n")
        port = free_port()
        conf = redis_config(port, [backend.port]).replace("servers = (", f'acl_file = "{acl}";\n    servers = (')
        daemon(conf, port=port)
        app = login(port, "app", "secret")
        assert app.call("SET", "app:1", "x") == b"+OK\r\n"
        assert app.call("SET", "b", "x").startswith(b"-NOPERM")
        assert login(port, "ro", "ro").call("GET", "app:1") == b"$1\r\nx\r\n"
        bad = tmp_path / "bad.conf"
        acl2 = tmp_path / "bad.acl"
        acl2.write_text("app on >secret\n\nro on ~* +@nosuch\n")
        bad.write_text(conf.replace(str(acl), str(acl2)))
        r = subprocess.run([os.path.join(os.environ.get("COPROXY_BUILD", os.path.join(ROOT, "build")), "coproxy"),
                            "-t", "-c", str(bad)], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and f"{acl2}:3: user 'ro': rule '+@nosuch'" in r.stderr, r.stderr
    finally:
        backend.stop()


def test_table_is_the_servers(tmp_path):
    """proxy/acl_table.c holds what the redis-server here says of its commands."""
    p = RedisProc(tmp_path)
    try:
        out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "gen_acl_table.py"), str(p.port)],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    finally:
        p.stop()
    with open(os.path.join(ROOT, "proxy", "acl_table.c")) as f:
        have = f.read()
    strip = lambda t: re.sub(r"from Redis [^ ]+'s COMMAND", "", t)  # noqa: E731
    assert strip(out) == strip(have)
