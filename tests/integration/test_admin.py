# SPDX-License-Identifier: Apache-2.0
"""The admin socket: PING, STATS (JSON), INFO and METRICS over RESP, counters that
match a known load exactly, and an admin client that cannot hurt the daemon."""
import base64
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import COPROXY, free_port
from redis_util import RedisProc, Resp, admin, encode, redis_config


def admin_config(port, backend_ports, sock, extra_top="", mode=None, admin_extra="", **pool):
    conf = redis_config(port, backend_ports, **pool)
    m = f' mode = "{mode}";' if mode else ""
    return f'admin = {{ socket = "{sock}";{m}{admin_extra} }};\n{extra_top}' + conf


@pytest.fixture
def setup(daemon, tmp_path):
    made = []

    def start(threads=1, extra_top="", nbackends=2, mode=None, admin_extra=""):
        bs = [RedisProc(tmp_path) for _ in range(nbackends)]
        made.extend(bs)
        port = free_port()
        sock = str(tmp_path / "run" / "admin.sock")   # its directory does not exist yet
        d = daemon(admin_config(port, [b.port for b in bs], sock, extra_top, mode, admin_extra, threads=threads),
                   port=port)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            assert time.monotonic() < deadline, "no admin socket"
            time.sleep(0.05)
        return port, sock, d

    try:
        yield start
    finally:
        for b in made:
            b.stop()


def stats(sock):
    return json.loads(admin(sock, "STATS"))


def wait_stats(sock, check, timeout=10):
    """The STATS document once check(doc) holds (counters are published every 100 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = stats(sock)
        if check(doc):
            return doc
        assert time.monotonic() < deadline, json.dumps(doc)[:2000]
        time.sleep(0.05)


def test_counters_match_a_known_load_exactly(setup):
    port, sock, _ = setup(threads=2)
    assert admin(sock, "PING") == b"+PONG"
    # the fixture's readiness probe was a client too: count from here
    base = wait_stats(sock, lambda d: d["pools"][0]["client_accepted"] >= 1
                      and d["pools"][0]["client_connections"] == 0)["pools"][0]
    clients = [Resp(port) for _ in range(3)]
    sent = received = 0
    for i, c in enumerate(clients):
        for cmd, want in [(("SET", f"k{i}:{j}", "v"), b"+OK\r\n") for j in range(10)] \
                + [(("GET", f"k{i}:{j}"), b"$1\r\nv\r\n") for j in range(10)] \
                + [(("PING",), b"+PONG\r\n")]:       # PING: answered by coproxy itself
            sent += len(encode(*cmd))
            received += len(want)
            c.send(encode(*cmd))
            c.reply()
        sent += len(encode("MONITOR"))
        assert c.call("MONITOR").startswith(b"-ERR")   # refused
        received += len(b"-ERR unsupported command 'MONITOR'\r\n")
    doc = wait_stats(sock, lambda d: d["pools"][0]["requests"] - base["requests"] == 3 * 22)
    pool = doc["pools"][0]
    assert pool["name"] == "cache" and pool["mode"] == "redis"
    assert pool["client_accepted"] - base["client_accepted"] == 3 and pool["client_connections"] == 3
    assert pool["local_replies"] - base["local_replies"] == 6
    assert pool["errors_refused"] - base["errors_refused"] == 3
    assert pool["bytes_in"] - base["bytes_in"] == sent
    assert pool["bytes_out"] - base["bytes_out"] == received
    assert sum(s["requests"] for s in pool["servers"]) - sum(s["requests"] for s in base["servers"]) == 60
    # every reply written is timed once (the pool), every server reply read once (its server)
    doc = wait_stats(sock, lambda d: d["pools"][0]["latency_us"]["count"] - base["latency_us"]["count"] == 66)
    pool = doc["pools"][0]
    lat = pool["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"]
    assert sum(s["latency_us"]["count"] for s in pool["servers"]) \
        - sum(s["latency_us"]["count"] for s in base["servers"]) == 60
    assert doc["workers"] == 2 and len(doc["threads"]) == 2
    assert doc["runtime"]["switches"] == sum(t["runtime"]["switches"] for t in doc["threads"])
    for c in clients:
        c.close()
    wait_stats(sock, lambda d: d["pools"][0]["client_connections"] == 0)


def test_stack_copies_grow_when_clients_share_few_stacks(setup):
    port, sock, _ = setup(extra_top="coroutines = { shared_stacks = 1; };\n")
    before = stats(sock)["runtime"]
    clients = [Resp(port) for _ in range(20)]
    for _ in range(3):
        for c in clients:
            c.send(encode("SET", "x", "1"))
        for c in clients:
            assert c.reply() == b"+OK"
    after = wait_stats(sock, lambda d: d["runtime"]["copies_out"] > before["copies_out"] + 20)["runtime"]
    assert after["switches"] > before["switches"] + 60
    assert after["bytes_copied"] > before["bytes_copied"]


def parse_prometheus(text):
    """Checks the Prometheus text format line by line (HELP and TYPE before
    samples, label syntax, numbers; histogram buckets cumulative, ending in
    +Inf equal to _count) and returns {sample with labels: value}."""
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        m = re.match(r"# TYPE (\w+) (counter|gauge|histogram)$", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z]+="[^"]*"(,[a-z]+="[^"]*")*)\})? (\d+(\.\d+)?)$', line)
        assert m, f"not Prometheus text format: {line!r}"
        name = m.group(1)
        if name not in types:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert types.get(base) == "histogram", f"sample before its TYPE line: {line!r}"
        samples[f"{name}{{{m.group(3)}}}" if m.group(2) else name] = float(m.group(5))
    for key, value in samples.items():
        m = re.match(r'(\w+)_count\{(.*)\}$', key)
        if not m or types.get(m.group(1)) != "histogram":
            continue
        buckets = [(k, v) for k, v in samples.items() if k.startswith(f"{m.group(1)}_bucket{{{m.group(2)},le=")]
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"buckets of {key} not cumulative"
        assert buckets[-1][0].endswith('le="+Inf"}') and counts[-1] == value, key
    return samples


def test_info_and_metrics(setup):
    port, sock, _ = setup()
    Resp(port).call("SET", "a", "b")
    out = subprocess.run(["redis-cli", "-s", sock, "INFO"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "# Pools" in out.stdout and "cache_requests:" in out.stdout
    assert "coproxy_version:" in admin(sock, "INFO", "server").decode()
    doc = wait_stats(sock, lambda d: d["pools"][0]["requests"] >= 1
                     and d["pools"][0]["latency_us"]["count"] == d["pools"][0]["requests"])
    metrics = admin(sock, "METRICS").decode()
    samples = parse_prometheus(metrics)
    assert 'coproxy_pool_requests_total{pool="cache",worker="0"}' in metrics
    assert "coproxy_runtime_switches" in metrics and "coproxy_server_requests_total" in metrics
    assert 'coproxy_pool_latency_p99_microseconds{pool="cache",worker="0"}' in metrics
    # the histogram counts every reply timed, as STATS does
    n = doc["pools"][0]["latency_us"]["count"]
    assert n >= 1 and samples['coproxy_pool_latency_seconds_count{pool="cache",worker="0"}'] == n


def test_socket_mode_and_inline_commands(setup):
    port, sock, _ = setup()
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(b"PING\r\n")
    assert s.recv(100) == b"+PONG\r\n"
    s.close()


def test_socket_mode_from_the_config(setup):
    _, sock, _ = setup(mode="0600")
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600


def test_garbage_on_the_admin_socket_harms_nobody(setup):
    port, sock, d = setup()
    bad = socket.socket(socket.AF_UNIX)
    bad.settimeout(10)
    bad.connect(sock)
    bad.sendall(b"*1\r\n$-7\r\n")
    assert bad.recv(200).startswith(b"-ERR Protocol error")
    bad.close()
    slow = socket.socket(socket.AF_UNIX)
    slow.connect(sock)
    slow.sendall(b"STA")                       # never finishes its line
    assert admin(sock, "PING") == b"+PONG"     # others are served meanwhile
    assert admin(sock, "NOSUCH").startswith(b"-ERR unknown admin command")
    assert Resp(port).call("PING") == b"+PONG"
    slow.close()
    assert d.proc.poll() is None


def test_tables(setup):
    port, sock, _ = setup()
    Resp(port).call("SET", "a", "b")
    pools = admin(sock, "POOLS").decode().splitlines()
    assert pools[0].split()[:3] == ["POOL", "MODE", "LISTEN"] and pools[1].split()[:2] == ["cache", "redis"]
    backends = admin(sock, "BACKENDS").decode().splitlines()
    assert len(backends) == 3 and {b.split()[1] for b in backends[1:]} == {"s0", "s1"}
    threads = admin(sock, "THREADS").decode().splitlines()
    assert threads[0].split()[0] == "WORKER" and threads[1].split()[0] == "0"


COPROXYCTL = os.path.join(os.environ.get("COPROXY_BUILD", "build"), "coproxyctl")


def ctl(*args):
    return subprocess.run([COPROXYCTL, *args], capture_output=True, text=True, timeout=30)


def test_coproxyctl(setup):
    port, sock, _ = setup()
    c = Resp(port)
    for i in range(25):
        c.call("SET", f"k{i}", "v")
    r = ctl("-s", sock, "ping")
    assert r.returncode == 0 and r.stdout.strip() == "PONG"
    doc = wait_stats(sock, lambda d: d["pools"][0]["requests"] >= 25)
    r = ctl("-s", sock, "stats")
    assert r.returncode == 0 and json.loads(r.stdout)["pools"][0]["requests"] >= doc["pools"][0]["requests"]
    r = ctl("-s", sock, "info", "pools")
    assert r.returncode == 0 and "cache_requests:" in r.stdout and "# Server" not in r.stdout
    r = ctl("-s", sock, "metrics")
    assert r.returncode == 0 and "# TYPE coproxy_pool_requests_total counter" in r.stdout
    for table, head in (("pools", "POOL"), ("backends", "POOL"), ("threads", "WORKER")):
        r = ctl("-s", sock, table)
        assert r.returncode == 0 and r.stdout.split()[0] == head
    r = ctl("-s", sock, "watch", "-i", "0.2", "-n", "2")
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and lines[0].split()[0] == "requests/s" and len(lines) == 3
    r = ctl("-s", sock + ".missing", "ping")
    assert r.returncode == 1 and "No such file" in r.stderr and "admin.socket" in r.stderr
    r = ctl("-s", sock, "nosuch")
    assert r.returncode == 2 and "unknown command" in r.stderr


MAN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "man")


def documented_schema():
    """{section: set of member names} from coproxy(8)'s STATS DOCUMENT: each
    .SS subsection lists its members as .TP/.B pairs."""
    text = open(os.path.join(MAN, "coproxy.8")).read()
    part = text.split('.SH STATS DOCUMENT', 1)[1].split("\n.SH ", 1)[0]
    schema, section, lines = {}, None, part.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'\.SS "(.*)"$', line)
        if m:
            section = m.group(1)
            schema[section] = set()
        elif line == ".TP" and section and lines[i + 1].startswith(".B "):
            schema[section].add(lines[i + 1][3:])
    return schema


def test_stats_document_matches_the_man_page(setup):
    port, sock, _ = setup(threads=2)
    Resp(port).call("SET", "a", "b")
    doc = stats(sock)
    schema = documented_schema()
    assert set(schema) == {"Top level", "runtime", "threads[]", "pools[]", "pools[].servers[]", "pools[].cluster[]",
                           "kernel", "kernel.pools[]", "kernel figures", "latency_us"}
    assert set(doc) == schema["Top level"]
    assert set(doc["runtime"]) == schema["runtime"]
    for t in doc["threads"]:
        assert set(t) == schema["threads[]"] and set(t["runtime"]) == schema["runtime"]
    for p in doc["pools"]:
        assert set(p) == schema["pools[]"] and set(p["latency_us"]) == schema["latency_us"]
        assert p["cluster"] is None                # not a cluster pool (test_cluster.py checks one)
        for s in p["servers"]:
            assert set(s) == schema["pools[].servers[]"] and set(s["latency_us"]) == schema["latency_us"]
            assert s["state"] in ("up", "ejected", "connecting", "idle")
    k = doc["kernel"]
    assert set(k) == schema["kernel"] - ({"reason"} if k["available"] else {"pools", "unlisted"})
    if k["available"]:
        assert set(k["unlisted"]) == schema["kernel figures"]
    for p in k.get("pools", []):
        assert set(p) == schema["kernel.pools[]"]
        assert set(p["clients"]) == schema["kernel figures"] | {"tcp"}
        for s in p["servers"]:
            assert set(s) == schema["kernel figures"] | {"name", "addr"}
    assert isinstance(doc["version"], str) and doc["pid"] == setup_pid(sock)
    assert all(isinstance(v, int) for v in doc["runtime"].values())


def setup_pid(sock):
    info = admin(sock, "INFO", "server").decode()
    return int(re.search(r"process_id:(\d+)", info).group(1))


def test_backend_state_and_connections(setup):
    port, sock, _ = setup(nbackends=2)
    c = Resp(port)
    for i in range(200):                       # until both servers have been used
        assert c.call("SET", f"key{i}", "v") == b"+OK"
        if all(s["requests"] > 0 for s in stats(sock)["pools"][0]["servers"]):
            break
    doc = wait_stats(sock, lambda d: all(s["connections"] == 1 for s in d["pools"][0]["servers"]))
    assert all(s["state"] == "up" and s["connecting"] == 0 for s in doc["pools"][0]["servers"])
    rows = json.loads(admin(sock, "BACKENDS", "JSON"))
    assert [(r["pool"], r["name"]) for r in rows] == [("cache", "s0"), ("cache", "s1")]
    table = admin(sock, "BACKENDS").decode().splitlines()
    assert all(line.split()[3] == "up" and line.split()[4] == "1" for line in table[1:])


def test_tables_as_json_match_stats(setup):
    port, sock, _ = setup(threads=2)
    Resp(port).call("SET", "a", "b")
    doc = wait_stats(sock, lambda d: d["pools"][0]["requests"] >= 1)
    for table in ("pools", "backends", "threads"):
        r = ctl("-s", sock, "--json", table)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        if table == "threads":
            assert [t["worker"] for t in got] == [0, 1]
        elif table == "pools":
            assert [p["name"] for p in got] == ["cache"] and got[0]["requests"] >= doc["pools"][0]["requests"]
        else:
            assert [(b["pool"], b["name"]) for b in got] == [("cache", "s0"), ("cache", "s1")]
    r = ctl("-s", sock, "--json", "info")
    assert r.returncode == 2 and "--json applies to" in r.stderr


def tcp_admin(port, *args, password=None):
    c = Resp(port)
    try:
        if password is not None:
            assert c.call("AUTH", password) == b"+OK"
        return c.call(*args)
    finally:
        c.close()


def http_get(port, path="/metrics", headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_tcp_admin_port_on_loopback_without_password(setup):
    aport = free_port()
    port, sock, _ = setup(admin_extra=f' listen = "127.0.0.1:{aport}";')
    assert tcp_admin(aport, "PING") == b"+PONG"
    assert json.loads(tcp_admin(aport, "STATS"))["pools"][0]["name"] == "cache"
    r = ctl("-p", str(aport), "pools")
    assert r.returncode == 0 and r.stdout.split()[0] == "POOL"
    status, headers, body = http_get(aport)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "coproxy_pool_requests_total" in body
    parse_prometheus(body)
    assert http_get(aport, "/nothing")[0] == 404


def test_tcp_admin_port_refuses_a_wrong_password(setup):
    aport = free_port()
    port, sock, d = setup(admin_extra=f' listen = "127.0.0.1:{aport}"; password = "open sesame";')
    c = Resp(aport)
    assert c.call("STATS") == b"-NOAUTH Authentication required."
    assert c.call("AUTH", "sesame").startswith(b"-WRONGPASS")
    assert c.call("AUTH", "default", "open sesame") == b"+OK"   # Redis 6's two-argument form
    assert c.call("PING") == b"+PONG"
    c.close()
    # three refusals close the connection: guessing costs reconnects
    c = Resp(aport)
    assert c.call("PING") == b"-NOAUTH Authentication required."
    assert c.call("AUTH", "a").startswith(b"-WRONGPASS")
    assert c.call("AUTH", "b").startswith(b"-WRONGPASS")
    assert c.closed()
    # a client that never authenticates is dropped after 10 s, however it trickles
    t = socket.create_connection(("127.0.0.1", aport), timeout=60)
    t0, gone = time.monotonic(), False
    while not gone and time.monotonic() - t0 < 40:
        try:
            t.sendall(b"P")                       # a line that never ends, a byte a second
            t.settimeout(1)
            gone = t.recv(100) == b""
        except socket.timeout:
            pass
        except OSError:                           # reset: closed too
            gone = True
    assert gone and 9 < time.monotonic() - t0 < 40
    t.close()
    assert tcp_admin(aport, "INFO", "server", password="open sesame").startswith(b"# Server")
    # the Unix socket is guarded by its file mode, not the password
    assert admin(sock, "PING") == b"+PONG"
    # coproxyctl: -a, COPROXYCTL_AUTH, and a clear refusal
    r = ctl("-p", str(aport), "-a", "wrong", "ping")
    assert r.returncode == 1 and "WRONGPASS" in r.stderr
    r = ctl("-p", str(aport), "ping")
    assert r.returncode == 1 and "NOAUTH" in r.stderr
    r = ctl("-H", "127.0.0.1", "-p", str(aport), "-a", "open sesame", "ping")
    assert r.returncode == 0 and r.stdout.strip() == "PONG"
    r = subprocess.run([COPROXYCTL, "-p", str(aport), "backends"], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "COPROXYCTL_AUTH": "open sesame"})
    assert r.returncode == 0 and r.stdout.split()[0] == "POOL"
    # Prometheus: basic auth (any user) or a bearer token
    assert http_get(aport)[0] == 401
    assert http_get(aport, headers={"Authorization": "Basic " + base64.b64encode(b"prom:nope").decode()})[0] == 401
    status, _, body = http_get(aport, headers={"Authorization": "Basic " +
                                                base64.b64encode(b"prom:open sesame").decode()})
    assert status == 200 and "coproxy_runtime_switches" in body
    assert http_get(aport, headers={"Authorization": "Bearer open sesame"})[0] == 200
    assert d.proc.poll() is None


def test_non_loopback_admin_port_needs_a_password(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text(f'admin = {{ listen = "0.0.0.0:{free_port()}"; }};\n'
                    + redis_config(free_port(), [free_port()]))
    r = subprocess.run([COPROXY, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f"{conf}:1: admin.listen: " in r.stderr and "not a loopback address" in r.stderr \
        and "admin.password" in r.stderr
    conf.write_text(f'admin = {{ listen = "0.0.0.0:{free_port()}"; password = "x"; }};\n'
                    + redis_config(free_port(), [free_port()]))
    r = subprocess.run([COPROXY, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_half_sent_admin_request_is_dropped_and_others_served(setup):
    port, sock, d = setup()
    slow = socket.socket(socket.AF_UNIX)
    slow.settimeout(60)
    slow.connect(sock)
    slow.sendall(b"*1\r\n$5\r\nST")              # never finished
    t0 = time.monotonic()
    assert admin(sock, "PING") == b"+PONG"
    assert slow.recv(100) == b""                 # closed by the daemon (after about 10 s)
    assert time.monotonic() - t0 < 55
    slow.close()
    assert d.proc.poll() is None and admin(sock, "PING") == b"+PONG"


def test_permission_denied_is_explained(setup):
    _, sock, _ = setup(mode="0600")
    # nobody runs a copy: the checkout may live in a private home (/root/...)
    stage = tempfile.mkdtemp(prefix="coproxy-ctl-", dir="/tmp")
    try:
        os.chmod(stage, 0o755)
        ctl = os.path.join(stage, "coproxyctl")
        shutil.copy(COPROXYCTL, ctl)
        r = subprocess.run(["runuser", "-u", "nobody", "--", ctl, "-s", sock, "ping"],
                           capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(stage)
    assert r.returncode == 1, r.stdout
    assert "Permission denied" in r.stderr and "group" in r.stderr


DEFAULT_SOCKET = "/run/coproxy/admin.sock"


def answers(path):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        s.close()
        return True
    except OSError:
        return False


def wait_log(d, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in d.log():
        assert time.monotonic() < deadline, d.log()
        time.sleep(0.05)


def test_default_admin_socket(daemon, tmp_path):
    """No admin group: /run/coproxy/admin.sock, removed at exit; a second
    daemon finds it taken, says so, and runs on without one."""
    taken_before = answers(DEFAULT_SOCKET)      # a daemon outside this test may hold it
    b = RedisProc(tmp_path)
    try:
        port = free_port()
        d = daemon(redis_config(port, [b.port]), port=port)
        if taken_before:
            wait_log(d, "no admin socket at /run/coproxy/admin.sock: another process is listening")
            return
        wait_log(d, "admin socket on /run/coproxy/admin.sock")
        assert setup_pid(DEFAULT_SOCKET) == d.proc.pid
        assert stat.S_IMODE(os.stat(DEFAULT_SOCKET).st_mode) == 0o660
        r = ctl("ping")                          # coproxyctl's default is the same path
        assert r.returncode == 0 and r.stdout.strip() == "PONG"
        port2 = free_port()
        d2 = daemon(redis_config(port2, [b.port]), port=port2)
        wait_log(d2, "no admin socket at /run/coproxy/admin.sock: another process is listening")
        assert d2.stop() == 0
        assert setup_pid(DEFAULT_SOCKET) == d.proc.pid   # the second one left it alone
        assert d.stop() == 0
        assert not os.path.exists(DEFAULT_SOCKET)
    finally:
        b.stop()


def tcp_with_admin(sock, port):
    from conftest import tcp_config
    return f'admin = {{ socket = "{sock}"; }};\n' + tcp_config(port, [f"127.0.0.1:{free_port()}:1"])


@pytest.mark.parametrize("kind", ["regular file", "directory", "symbolic link"])
def test_admin_socket_path_that_is_not_a_socket_is_left_alone(daemon, tmp_path, kind):
    """Where admin.socket should go there is a file that is no socket: the
    daemon says so (not "Address already in use"), does not start (the path
    was asked for), and never removes it."""
    sock = tmp_path / "admin.sock"
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    if kind == "regular file":
        sock.write_text("keep me\n")
    elif kind == "directory":
        sock.mkdir()
        (sock / "inside").write_text("keep me\n")
    else:
        sock.symlink_to(target)
    d = daemon(tcp_with_admin(sock, free_port()))
    assert d.proc.wait(timeout=30) == 1
    log = d.log()
    assert f"admin.socket {sock}: the path exists and is a {kind}, not a socket" in log, log
    assert "Address already in use" not in log, log
    if kind == "regular file":
        assert sock.read_text() == "keep me\n"
    elif kind == "directory":
        assert (sock / "inside").read_text() == "keep me\n"
    else:
        assert sock.is_symlink() and os.readlink(sock) == str(target)
    assert target.read_text() == "keep me\n"


def test_stale_admin_socket_is_replaced(daemon, tmp_path):
    """A socket file left by a process that is gone is replaced."""
    sock = tmp_path / "admin.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(sock))                         # bound, never listening, then closed: stale
    dead.close()
    assert stat.S_ISSOCK(os.lstat(sock).st_mode) and not answers(str(sock))
    port = free_port()
    d = daemon(tcp_with_admin(sock, port), port=port)
    wait_log(d, f"admin socket on {sock}")
    assert admin(str(sock), "PING") == b"+PONG"
    assert setup_pid(str(sock)) == d.proc.pid
    assert d.stop() == 0
    assert not os.path.exists(sock)
