# SPDX-License-Identifier: Apache-2.0
"""TLS on both sides: clients to coproxy (redis-cli --tls, redis-py, openssl
s_client, Python's ssl) and coproxy to TLS redis-servers, a TLS Redis Cluster
and TLS tcp backends; bad handshakes, bad certificates and reloads."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
import redis

from conftest import free_port, wait_port
from redis_util import RedisProc, admin, admin_stats

OPENSSL = shutil.which("openssl")


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=60, **kw)


class Certs:
    """A CA, certificates it signs (server names localhost and 127.0.0.1, or
    other.example; a client's; an expired one), and a second CA with a server
    and a client certificate of its own: made with the openssl command."""

    def __init__(self, d):
        self.d = d
        for ca in ("ca", "ca2"):
            run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.path(ca + ".key"),
                "-out", self.path(ca + ".crt"), "-days", "30", "-subj", f"/CN=coproxy test {ca}", check=True)
        self.sign("server", "ca", "DNS:localhost,IP:127.0.0.1")
        self.sign("other", "ca", "DNS:other.example")
        self.sign("client", "ca", "DNS:client.example")
        self.sign("expired", "ca", "DNS:localhost,IP:127.0.0.1", days="-1")
        self.sign("rogue_server", "ca2", "DNS:localhost,IP:127.0.0.1")
        self.sign("rogue_client", "ca2", "DNS:client.example")

    def path(self, name):
        return str(self.d / name)

    def sign(self, name, ca, san, days="30"):
        run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.path(name + ".key"),
            "-out", self.path(name + ".csr"), "-subj", f"/CN={name}", check=True)
        ext = self.d / (name + ".ext")
        ext.write_text(f"subjectAltName={san}\n")
        run(OPENSSL, "x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(ca + ".crt"),
            "-CAkey", self.path(ca + ".key"), "-CAcreateserial", "-out", self.path(name + ".crt"),
            "-days", days, "-extfile", str(ext), check=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def tls_redis(d, certs, name="server", extra=()):
    """A redis-server that speaks TLS only, with certificate `name`."""
    port = free_port()
    return RedisProc(d, port=port, extra=(
        "--port", "0", "--tls-port", str(port), "--tls-cert-file", certs.path(name + ".crt"),
        "--tls-key-file", certs.path(name + ".key"), "--tls-ca-cert-file", certs.path("ca.crt"),
        "--tls-auth-clients", "no") + tuple(extra))


def tls_group(certs, name="server", **more):
    items = [f'certificate = "{certs.path(name + ".crt")}"', f'key = "{certs.path(name + ".key")}"']
    for k, v in more.items():
        items.append(f"{k} = {v}")
    return "{ " + "; ".join(items) + "; }"


def server_tls_group(certs, **more):
    items = [f'ca = "{certs.path("ca.crt")}"'] + [f"{k} = {v}" for k, v in more.items()]
    return "{ " + "; ".join(items) + "; }"


def config(pools, admin_sock=None):
    head = 'threads = 1;\nlog_level = "info";\nshutdown_timeout = 3000;\n'
    if admin_sock:
        head += f'admin = {{ socket = "{admin_sock}"; }};\n'
    body = []
    for p in pools:
        lines = "".join(f"    {k} = {v};\n" for k, v in p.items() if k != "servers")
        srv = ", ".join(f'"{s}"' for s in p["servers"])
        body.append("  {\n" + lines + f"    servers = ( {srv} );\n  }}")
    return head + "pools = (\n" + ",\n".join(body) + "\n);\n"


def pool_stats(sock, name):
    return next(p for p in admin_stats(sock)["pools"] if p["name"] == name)


def tls_client(certs, port, cert=None, server_hostname="localhost", **kw):
    ctx = ssl.create_default_context(cafile=certs.path("ca.crt"))
    if cert:
        ctx.load_cert_chain(certs.path(cert + ".crt"), certs.path(cert + ".key"))
    for k, v in kw.items():
        setattr(ctx, k, v)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(s, server_hostname=server_hostname)


def redis_cli(certs, port, *args, tls=True, cert=None):
    cmd = ["redis-cli", "-p", str(port)]
    if tls:
        cmd += ["--tls", "--cacert", certs.path("ca.crt")]
        if cert:
            cmd += ["--cert", certs.path(cert + ".crt"), "--key", certs.path(cert + ".key")]
    return run(*cmd, *args)


def s_client(certs, port, *args, stdin=b""):
    return run(OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", certs.path("ca.crt"), *args,
               input=stdin)


def wait_for(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


# ---- redis mode ------------------------------------------------------------------------------


def test_redis_cli_tls_through_coproxy_to_a_tls_and_a_plaintext_server(daemon, certs, tmp_path):
    tls_srv = tls_redis(tmp_path, certs)
    plain_srv = RedisProc(tmp_path)
    sock = str(tmp_path / "admin.sock")
    a, b = free_port(), free_port()
    try:
        daemon(config([
            {"name": '"to_tls"', "listen": f'"127.0.0.1:{a}"', "mode": '"redis"', "tls": tls_group(certs),
             "server_tls": server_tls_group(certs), "servers": [f"127.0.0.1:{tls_srv.port}:1"]},
            {"name": '"to_plain"', "listen": f'"127.0.0.1:{b}"', "mode": '"redis"', "tls": tls_group(certs),
             "servers": [f"127.0.0.1:{plain_srv.port}:1"]},
        ], sock), port=b)
        for port in (a, b):
            assert redis_cli(certs, port, "SET", "k", "v1").stdout == b"OK\n"
            assert redis_cli(certs, port, "GET", "k").stdout == b"v1\n"
            # the proxied replies are Redis's own, byte for byte (HELLO-free commands)
            for cmd in (("INCR", "n"), ("LPUSH", "l", "a", "b"), ("LRANGE", "l", "0", "-1"), ("GET", "missing")):
                got = redis_cli(certs, port, "--no-raw", *cmd)
                assert got.returncode == 0, got.stderr
        # redis-py over TLS: a pipeline and a 1 MB value, checked against the servers directly
        for port, srv_port, srv_tls in ((a, tls_srv.port, True), (b, plain_srv.port, False)):
            r = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs.path("ca.crt"),
                            socket_timeout=30)
            p = r.pipeline(transaction=False)
            for i in range(1000):
                p.set(f"key:{i}", i)
            assert all(p.execute())
            big = os.urandom(1 << 20)
            r.set("big", big)
            assert r.get("big") == big
            direct = redis.Redis(host="127.0.0.1", port=srv_port, ssl=srv_tls, ssl_ca_certs=certs.path("ca.crt"),
                                 socket_timeout=30)
            assert direct.get("big") == big and direct.get("key:999") == b"999"
            r.close()
        wait_for(lambda: pool_stats(sock, "to_tls")["tls_v1_3"] >= 3, "handshakes not counted")
        assert pool_stats(sock, "to_tls")["servers"][0]["tls_handshakes"] >= 1
        assert pool_stats(sock, "to_plain")["servers"][0]["tls_handshakes"] == 0
    finally:
        tls_srv.stop()
        plain_srv.stop()


def test_a_pool_listens_on_plaintext_and_tls_at_once(daemon, certs, tmp_path):
    srv = RedisProc(tmp_path)
    tls_port, plain_port = free_port(), free_port()
    try:
        daemon(config([{"name": '"both"', "listen": f'( "127.0.0.1:{tls_port}", "plain://127.0.0.1:{plain_port}" )',
                        "mode": '"redis"', "tls": tls_group(certs), "servers": [f"127.0.0.1:{srv.port}:1"]}]),
               port=plain_port)
        assert redis_cli(certs, plain_port, "SET", "x", "1", tls=False).stdout == b"OK\n"
        assert redis_cli(certs, tls_port, "GET", "x").stdout == b"1\n"
        # and neither speaks the other's protocol
        assert redis_cli(certs, plain_port, "GET", "x").stdout != b"1\n"
        assert redis_cli(certs, tls_port, "GET", "x", tls=False).stdout != b"1\n"
    finally:
        srv.stop()


def test_sni_alpn_and_tls_versions_with_openssl_s_client(daemon, certs, tmp_path):
    srv = RedisProc(tmp_path)
    port, only13 = free_port(), free_port()
    sni = f'( {{ certificate = "{certs.path("other.crt")}"; key = "{certs.path("other.key")}"; }} )'
    try:
        daemon(config([
            {"name": '"p"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"',
             "tls": tls_group(certs, sni=sni, alpn='[ "redis", "resp3" ]'), "servers": [f"127.0.0.1:{srv.port}:1"]},
            {"name": '"p13"', "listen": f'"127.0.0.1:{only13}"', "mode": '"redis"',
             "tls": tls_group(certs, min_version='"TLSv1.3"'), "servers": [f"127.0.0.1:{srv.port}:1"]},
        ]), port=only13)
        out = s_client(certs, port, "-servername", "other.example").stdout.decode()
        assert "subject=CN = other" in out, out
        out = s_client(certs, port, "-servername", "localhost").stdout.decode()
        assert "subject=CN = server" in out and "Verify return code: 0 (ok)" in out, out
        out = s_client(certs, port, "-alpn", "redis").stdout.decode()
        assert "ALPN protocol: redis" in out, out
        out = s_client(certs, port, "-alpn", "h2,resp3").stdout.decode()
        assert "ALPN protocol: resp3" in out, out
        bad = s_client(certs, port, "-alpn", "h2")
        assert b"ALPN protocol" not in bad.stdout and b"no application protocol" in bad.stderr, bad
        for flag, version in (("-tls1_2", ssl.TLSVersion.TLSv1_2), ("-tls1_3", ssl.TLSVersion.TLSv1_3)):
            out = s_client(certs, port, flag).stdout.decode()
            assert f"New, {version.name.replace('_', '.')}, Cipher is" in out and "Verify return code: 0" in out, out
            with tls_client(certs, port, minimum_version=version, maximum_version=version) as s:
                s.sendall(b"PING\r\n")
                assert s.recv(100) == b"+PONG\r\n" and s.version() == version.name.replace("_", ".")
        assert b"New, TLSv1.3, Cipher is" in s_client(certs, only13, "-tls1_3").stdout
        refused = s_client(certs, only13, "-tls1_2")
        assert b"no peer certificate available" in refused.stdout and refused.returncode != 0, refused
        assert b"protocol version" in refused.stderr, refused
        # TLS 1.0/1.1 are never taken
        old = s_client(certs, port, "-tls1_1")
        assert b"no peer certificate available" in old.stdout and old.returncode != 0, old
    finally:
        srv.stop()


def test_mutual_tls_accepts_the_ca_s_clients_and_refuses_others(daemon, certs, tmp_path):
    srv = RedisProc(tmp_path)
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    try:
        d = daemon(config([{"name": '"m"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"',
                            "tls": tls_group(certs, ca=f'"{certs.path("ca.crt")}"', verify_client="true"),
                            "servers": [f"127.0.0.1:{srv.port}:1"]}], sock), port=port)
        assert redis_cli(certs, port, "PING", cert="client").stdout == b"PONG\n"
        assert redis_cli(certs, port, "PING").stdout != b"PONG\n"                   # no certificate
        time.sleep(1.1)                                                              # (log lines: one a second)
        assert redis_cli(certs, port, "PING", cert="rogue_client").stdout != b"PONG\n"   # another CA's
        wait_for(lambda: pool_stats(sock, "m")["tls_fail_certificate"] >= 2, "refusals not counted")
        wait_for(lambda: "failed (certificate): certificate refused: unable to get local issuer certificate" in d.log(),
                 "the other CA's client not logged")
        assert redis_cli(certs, port, "PING", cert="client").stdout == b"PONG\n"      # others unaffected
    finally:
        srv.stop()


def test_sessions_resume_with_clients_and_with_servers(daemon, certs, tmp_path):
    srv = tls_redis(tmp_path, certs)
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    try:
        daemon(config([{"name": '"r"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"', "tls": tls_group(certs),
                        "server_tls": server_tls_group(certs), "servers": [f"127.0.0.1:{srv.port}:1"]}], sock),
               port=port)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):   # (tickets both)
            ctx = ssl.create_default_context(cafile=certs.path("ca.crt"))
            ctx.minimum_version = ctx.maximum_version = version
            session = None
            for i in range(3):
                with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
                        s.sendall(b"PING\r\n")
                        assert s.recv(100) == b"+PONG\r\n"
                        assert s.session_reused == (i > 0), version
                        session = s.session          # (TLS 1.3: the ticket came after the handshake)
        wait_for(lambda: pool_stats(sock, "r")["tls_resumed"] >= 4, "resumed sessions not counted")
        # the server's side: its connection killed, the proxy connects again and resumes
        direct = redis.Redis(host="127.0.0.1", port=srv.port, ssl=True, ssl_ca_certs=certs.path("ca.crt"))
        r = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs.path("ca.crt"), socket_timeout=30)
        def answered():
            try:
                return r.get("a") == b"1"
            except redis.ResponseError:        # (the request that found it lost: "unavailable")
                return False
        for _ in range(3):
            wait_for(lambda: r.set("a", "1") and answered(), "no reconnect")
            direct.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            time.sleep(0.2)
            wait_for(answered, "no reconnect")
        wait_for(lambda: pool_stats(sock, "r")["servers"][0]["tls_resumed"] >= 1, "the server's session not resumed")
    finally:
        srv.stop()


def test_bad_backend_certificates_give_errors_not_hangs(daemon, certs, tmp_path):
    expired = tls_redis(tmp_path, certs, name="expired")
    rogue = tls_redis(tmp_path, certs, name="rogue_server")
    good = tls_redis(tmp_path, certs)
    ports = [free_port() for _ in range(3)]
    sock = str(tmp_path / "admin.sock")
    try:
        d = daemon(config([
            {"name": f'"p{i}"', "listen": f'"127.0.0.1:{ports[i]}"', "mode": '"redis"',
             "server_tls": server_tls_group(certs), "servers": [f"127.0.0.1:{s.port}:1"]}
            for i, s in enumerate((expired, rogue, good))], sock), port=ports[2])
        for port, why in ((ports[0], "certificate has expired"), (ports[1], "unable to get local issuer certificate")):
            r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
            with pytest.raises(redis.ResponseError) as e:
                r.get("k")
            assert "TLS handshake failed (certificate)" in str(e.value) and why in str(e.value), str(e.value)
        assert redis.Redis(host="127.0.0.1", port=ports[2], socket_timeout=30).ping()
        assert "certificate has expired" in d.log() and "unable to get local issuer certificate" in d.log()
        wait_for(lambda: pool_stats(sock, "p0")["servers"][0]["tls_failures"] >= 1, "failures not counted")
        # verification can be turned off (for a test bench; the default checks)
        port = free_port()
        daemon(config([{"name": '"nv"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"',
                        "server_tls": server_tls_group(certs, verify="false"),
                        "servers": [f"127.0.0.1:{rogue.port}:1"]}]), port=port)
        assert redis.Redis(host="127.0.0.1", port=port, socket_timeout=30).ping()
    finally:
        for s in (expired, rogue, good):
            s.stop()


# ---- bad input on the client side -------------------------------------------------------------


def client_hello():
    """The bytes of a real ClientHello (Python's ssl, into memory)."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_plaintext_cut_and_slow_handshakes_are_closed_and_harm_no_one(daemon, certs, tmp_path):
    srv = RedisProc(tmp_path)
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    try:
        d = daemon(config([{"name": '"b"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"',
                            "tls": tls_group(certs, handshake_timeout=1500), "servers": [f"127.0.0.1:{srv.port}:1"]}],
                          sock), port=port)
        good = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs.path("ca.crt"),
                           socket_timeout=30)
        assert good.set("k", "v")
        # plaintext to the TLS port: closed, no reply
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            got = b""
            try:
                while (b := s.recv(100)) != b"":
                    got += b
            except ConnectionResetError:
                pass
            assert b"PONG" not in got
        # a handshake cut half-way
        hello = client_hello()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(hello[: len(hello) // 2])
        # slowloris: one byte a second, never done within handshake_timeout
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        closed_at = None
        start = time.monotonic()
        try:
            for b in hello:
                assert good.get("k") == b"v"        # others are served meanwhile
                try:
                    slow.sendall(bytes([b]))
                except OSError:
                    closed_at = time.monotonic()
                    break
                slow.settimeout(1.0)
                try:
                    if slow.recv(100) == b"":
                        closed_at = time.monotonic()
                        break
                except socket.timeout:
                    pass
                except OSError:
                    closed_at = time.monotonic()
                    break
                assert time.monotonic() - start < 30, "the slow handshake was never closed"
        finally:
            slow.close()
        assert closed_at is not None and closed_at - start >= 1.0
        st = None

        def counted():
            nonlocal st
            st = pool_stats(sock, "b")
            return (st["tls_fail_protocol"] >= 1 and st["tls_fail_closed"] >= 1 and st["tls_fail_timeout"] >= 1
                    and st["client_connections"] == 1)
        wait_for(counted, f"failures not counted or connections left: {st}")
        assert "TLS handshake with client 127.0.0.1:" in d.log()
        assert good.get("k") == b"v"
    finally:
        srv.stop()


# ---- tcp mode ---------------------------------------------------------------------------------


def tls_echo(certs):
    """A handler for conftest's ScriptedBackend: a TLS echo server (the
    backend of a tcp pool with server_tls)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.path("server.crt"), certs.path("server.key"))

    def serve(conn):
        with ctx.wrap_socket(conn, server_side=True) as s:   # (ssl.SSLError is an OSError: the backend drops it)
            while (b := s.recv(65536)) != b"":
                s.sendall(b)
    return serve


def pump(s, payload, timeout=120):
    """Sends payload on s while reading the echo, in one thread (an SSL socket
    is not to be used from two at once); returns what came back."""
    import select
    got = bytearray()
    off = 0
    s.setblocking(False)
    deadline = time.monotonic() + timeout
    while len(got) < len(payload):
        assert time.monotonic() < deadline, f"stuck: sent {off}, got {len(got)}"
        progress = False
        if off < len(payload):
            try:
                off += s.send(payload[off:off + (1 << 16)])
                progress = True
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                pass
        try:
            b = s.recv(1 << 17)
            if not b:
                break
            got.extend(b)
            progress = True
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            pass
        if not progress and not getattr(s, "pending", lambda: 0)():
            select.select([s], [s] if off < len(payload) else [], [], 1.0)
    s.setblocking(True)
    return bytes(got)


def test_tcp_mode_carries_10_mb_byte_exact_over_tls_both_ways(daemon, certs, echo_backend, scripted_backend,
                                                              tmp_path):
    echo = echo_backend()
    tls_echo_server = scripted_backend(tls_echo(certs))
    term, reenc = free_port(), free_port()
    sock = str(tmp_path / "admin.sock")
    daemon(config([
        {"name": '"term"', "listen": f'"127.0.0.1:{term}"', "mode": '"tcp"', "tls": tls_group(certs),
         "servers": [f"127.0.0.1:{echo}:1"]},
        {"name": '"reenc"', "listen": f'"127.0.0.1:{reenc}"', "mode": '"tcp"', "tls": tls_group(certs),
         "server_tls": server_tls_group(certs), "servers": [f"127.0.0.1:{tls_echo_server.port}:1"]},
    ], sock), port=reenc)
    payload = os.urandom(10 << 20)
    for port in (term, reenc):
        with tls_client(certs, port) as s:
            assert pump(s, payload) == payload
    wait_for(lambda: pool_stats(sock, "reenc")["servers"][0]["tls_handshakes"] == 1, "handshake not counted")
    # a plaintext client of the plaintext side of a TLS backend: server_tls alone
    plain = free_port()
    daemon(config([{"name": '"up"', "listen": f'"127.0.0.1:{plain}"', "mode": '"tcp"',
                    "server_tls": server_tls_group(certs), "servers": [f"127.0.0.1:{tls_echo_server.port}:1"]}]),
           port=plain)
    with socket.create_connection(("127.0.0.1", plain), timeout=30) as s:
        assert pump(s, payload[: 1 << 20]) == payload[: 1 << 20]
    # pass-through: no tls group, the client's TLS goes to the server untouched (its
    # certificate is the server's own, and the proxy counts no handshake)
    through = free_port()
    daemon(config([{"name": '"pt"', "listen": f'"127.0.0.1:{through}"', "mode": '"tcp"',
                    "servers": [f"127.0.0.1:{tls_echo_server.port}:1"]}], str(tmp_path / "pt.sock")), port=through)
    with tls_client(certs, through) as s:
        assert s.getpeercert()["subject"] == ((("commonName", "server"),),)
        assert pump(s, payload) == payload
    assert pool_stats(str(tmp_path / "pt.sock"), "pt")["tls_handshakes"] == 0


# ---- certificates reloaded -----------------------------------------------------------------------


def subject(certs, port):
    out = s_client(certs, port, "-servername", "localhost").stdout.decode()
    return next((line for line in out.splitlines() if line.startswith("subject=")), out)


def test_sighup_reloads_certificates_and_keeps_the_old_ones_when_the_new_are_bad(daemon, certs, tmp_path):
    srv = RedisProc(tmp_path)
    port = free_port()
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(certs.path("server.crt"), live / "cert.pem")
    shutil.copy(certs.path("server.key"), live / "key.pem")
    group = f'{{ certificate = "{live / "cert.pem"}"; key = "{live / "key.pem"}"; }}'
    try:
        d = daemon(config([{"name": '"h"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"', "tls": group,
                            "servers": [f"127.0.0.1:{srv.port}:1"]}]), port=port)
        assert subject(certs, port) == "subject=CN = server"
        kept = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs.path("ca.crt"),
                           socket_timeout=30)
        assert kept.set("a", "1")
        shutil.copy(certs.path("other.crt"), live / "cert.pem")
        shutil.copy(certs.path("other.key"), live / "key.pem")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload: applied" in d.log(), "no reload")
        wait_for(lambda: subject(certs, port) == "subject=CN = other", "the new certificate is not served")
        assert kept.get("a") == b"1"                 # the established connection goes on
        (live / "cert.pem").write_text("not a certificate\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "the running configuration stays" in d.log(), "the bad certificate was not refused")
        line = next(li for li in d.log().splitlines() if "the running configuration stays" in li)
        assert "cannot load the certificate" in line and str(live / "cert.pem") in line and "pools.[0].tls" in line
        assert subject(certs, port) == "subject=CN = other"
        assert kept.get("a") == b"1"
    finally:
        srv.stop()


def test_config_errors_name_the_setting_and_the_reason(certs, tmp_path):
    from conftest import COPROXY
    cases = [
        (f'tls = {{ certificate = "{tmp_path}/missing.pem"; }};', "pools.[0].tls.certificate",
         f"cannot load the certificate {tmp_path}/missing.pem: No such file or directory"),
        (f'tls = {{ certificate = "{certs.path("server.crt")}"; key = "{certs.path("other.key")}"; }};',
         "pools.[0].tls.key", "the key does not match the certificate"),
        (f'tls = {{ certificate = "{certs.path("server.crt")}"; key = "{certs.path("server.key")}"; '
         'verify_client = true; };', "pools.[0].tls.ca", "verify_client"),
        ('server_tls = { verify = true; };', "pools.[0].server_tls.ca", "required"),
        (f'tls = {{ key = "{certs.path("server.key")}"; }};', "pools.[0].tls.certificate", "required"),
    ]
    for i, (line, path, what) in enumerate(cases):
        conf = tmp_path / f"c{i}.conf"
        conf.write_text('threads = 1;\npools = ( { name = "p"; listen = "127.0.0.1:1"; mode = "redis";\n'
                        f'  {line}\n  servers = ( "127.0.0.1:2:1" ); }} );\n')
        out = run(COPROXY, "-t", "-c", str(conf))
        msg = out.stderr.decode() + out.stdout.decode()
        assert out.returncode != 0 and f"c{i}.conf:3: {path}" in msg and what in msg, msg
    conf = tmp_path / "tls_scheme.conf"
    conf.write_text('threads = 1;\npools = ( { name = "p"; listen = "tls://127.0.0.1:1"; mode = "redis";\n'
                    '  servers = ( "127.0.0.1:2:1" ); } );\n')
    out = run(COPROXY, "-t", "-c", str(conf))
    assert out.returncode != 0 and b"needs the pool's tls" in out.stderr + out.stdout


# ---- Redis Cluster over TLS --------------------------------------------------------------------


def test_a_tls_redis_cluster_behind_a_tls_listener(daemon, certs, tmp_path):
    nodes = []
    try:
        for i in range(3):
            d = tmp_path / f"n{i}"
            d.mkdir()
            nodes.append(tls_redis(d, certs, extra=(
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", str(free_port()),
                "--tls-cluster", "yes", "--cluster-node-timeout", "2000")))
        out = run("redis-cli", "--tls", "--cacert", certs.path("ca.crt"), "--cluster", "create",
                  *[f"127.0.0.1:{n.port}" for n in nodes], "--cluster-yes")
        assert out.returncode == 0, out.stdout + out.stderr
        direct = redis.Redis(host="127.0.0.1", port=nodes[0].port, ssl=True, ssl_ca_certs=certs.path("ca.crt"))
        wait_for(lambda: b"cluster_state:ok" in direct.execute_command("CLUSTER", "INFO"), "cluster not ok")
        port = free_port()
        daemon(config([{"name": '"c"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"',
                        "distribution": '"cluster"', "server_timeout": 10000, "tls": tls_group(certs),
                        "server_tls": server_tls_group(certs), "servers": [f"127.0.0.1:{nodes[0].port}:1"]}]),
               port=port)
        r = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs.path("ca.crt"), socket_timeout=30)
        keys = [f"user:{i}" for i in range(300)]
        for k in keys:
            r.set(k, k)
        assert r.mget(keys) == [k.encode() for k in keys]
        # every master holds some: the keys went to the nodes the slot map named, over TLS
        for n in nodes:
            d = redis.Redis(host="127.0.0.1", port=n.port, ssl=True, ssl_ca_certs=certs.path("ca.crt"))
            assert d.dbsize() > 0
    finally:
        for n in nodes:
            n.stop()


# ---- nothing lost over TLS --------------------------------------------------------------------


def test_a_tls_client_that_closes_during_blpop_loses_no_job(daemon, certs, tmp_path):
    """As in test_redis_noloss, over TLS: a client that leaves, with or without
    close_notify first (Node's TLS sends it, Python's and hiredis's do not),
    while its BLPOP waits has nothing popped for it."""
    srv = RedisProc(tmp_path)
    port = free_port()
    try:
        daemon(config([{"name": '"q"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"', "tls": tls_group(certs),
                        "servers": [f"127.0.0.1:{srv.port}:1"]}]), port=port)
        direct = redis.Redis(host="127.0.0.1", port=srv.port)
        for i in range(20):
            c = tls_client(certs, port)
            c.sendall(b"*3\r\n$5\r\nBLPOP\r\n$%d\r\nq%d\r\n$1\r\n0\r\n" % (len(str(i)) + 1, i))
            wait_for(lambda: int(direct.info("clients")["blocked_clients"]) == 1, "the BLPOP did not block")
            if i % 2:                            # close_notify (not waiting for the answer), then the FIN
                c.setblocking(False)
                try:
                    c.unwrap()
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            c.close()
            direct.rpush(f"q{i}", f"job{i}")
        wait_for(lambda: int(direct.info("clients")["blocked_clients"]) == 0, "a blocked command outlived its client")
        time.sleep(0.5)
        assert [direct.lrange(f"q{i}", 0, -1) for i in range(20)] == [[f"job{i}".encode()] for i in range(20)]
    finally:
        srv.stop()


def test_a_subscriber_that_sends_half_a_record_stalls_nobody(daemon, certs, tmp_path):
    """A TLS subscriber sends the first bytes of a record and stops: the
    worker waits for the rest (it spun on the part before, and served no one)."""
    srv = RedisProc(tmp_path)
    port = free_port()
    try:
        daemon(config([{"name": '"s"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"', "tls": tls_group(certs),
                        "servers": [f"127.0.0.1:{srv.port}:1"]}]), port=port)
        sub = tls_client(certs, port)
        sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n")
        assert sub.recv(100).startswith(b"*3\r\n$9\r\nsubscribe\r\n")
        os.write(sub.fileno(), b"\x17\x03\x03\x00\x40")      # a record's header, its body never sent
        time.sleep(0.5)
        other = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs.path("ca.crt"),
                            socket_timeout=10)
        assert other.ping() and other.publish("ch", "m") == 1   # (one worker: the same one)
        sub.close()
    finally:
        srv.stop()


def test_a_reload_that_turns_verification_on_is_not_skipped_by_a_resumed_session(daemon, certs, tmp_path):
    rogue = tls_redis(tmp_path, certs, name="rogue_server")
    port = free_port()
    conf = lambda verify: config([{"name": '"v"', "listen": f'"127.0.0.1:{port}"', "mode": '"redis"',   # noqa: E731
                                   "server_tls": server_tls_group(certs, verify=verify),
                                   "servers": [f"127.0.0.1:{rogue.port}:1"]}])
    try:
        d = daemon(conf("false"), port=port)
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
        assert r.set("a", "1") and r.get("a") == b"1"       # a session from the unverified server is kept
        d.conf.write_text(conf("true"))
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload: applied" in d.log(), "no reload")
        direct = redis.Redis(host="127.0.0.1", port=rogue.port, ssl=True, ssl_cert_reqs="none")
        direct.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        refused = None
        deadline = time.monotonic() + 30
        while refused is None and time.monotonic() < deadline:
            try:
                r.get("a")
                time.sleep(0.1)
            except redis.ResponseError as e:
                if "certificate" in str(e):
                    refused = str(e)
        assert refused and "unable to get local issuer certificate" in refused, refused
    finally:
        rogue.stop()
