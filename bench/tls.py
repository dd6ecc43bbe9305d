#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tls.py — coproxy's TLS listeners against HAProxy 2.6's (tcp mode, `bind ... ssl crt`), one run.

  bench/tls.py [BUILD_DIR] [--quick] [--rounds N] [--data FILE]

A self-signed CA, an RSA-2048 and a P-256 server certificate (SAN
IP:127.0.0.1) are made with the openssl CLI in a temporary directory;
coproxy (threads = 1) and HAProxy (Debian's haproxy 2.6, nbthread 1, tcp
mode) serve the same files.  The clients offer TLS 1.3 with
TLS_AES_128_GCM_SHA256 only (an OPENSSL_CONF of their own) and X25519 first,
so both proxies negotiate the same; the start of the run prints what each
negotiated (openssl s_client -brief).  Backends: examples/echo_server
(echo) and a small Python sink.  Each figure is measured on both proxies in
turn, every round (default 3, --quick 1), medians:

  full:    fresh connections, full handshake (no session offered), one
           byte echoed through the backend, closed; RSA-2048 and P-256
           certificates.  Handshakes per CPU-second of the proxy process
           (utime + stime from /proc/PID/stat), from 3 client processes.
  resumed: the same with the last session ticket offered every time
           (TLS 1.3 PSK with (EC)DHE, as OpenSSL clients do).
  plain:   the same over plaintext listeners (the proxies' cost of a
           connection without TLS: what the two above add TLS to).
  bulk:    one TLS connection sending 1 GiB (--quick 128 MiB) in 1 MiB
           writes to a sink (plaintext): Gbit/s and proxy CPU-seconds per GB.
  idle:    2,000 (--quick 300) TLS clients that finished the handshake and
           had one byte echoed, held idle: the growth of the proxy's RSS
           (VmRSS) per client from the first 1,000 to all 2,000 (the first
           half is the warm-up), backend connections included; the same
           for plaintext.  Each of these four measurements has a proxy
           process of its own, started for it: memory an earlier test
           freed (HAProxy's pools, glibc's heap) would be reused, and the
           growth understated.
Then coproxy alone in redis mode (one redis-server behind it), one pool
with a TLS and a plaintext listener: redis-benchmark (--tls) GET and SET,
-c 50, -P 1 and -P 16: ops/s and CPU-seconds per million requests, TLS
against plaintext -- what TLS costs a redis pool.

Needs haproxy, openssl, redis-server and redis-tools; BUILD_DIR (default
build) holds coproxy and examples/echo_server.  Every client is a process of
its own (`tls.py --client ...`), bounded in time or count; every process is
stopped by PID and the temporary directory removed at the end, however the
run ends.  With --data FILE it also writes the medians (figure, coproxy,
haproxy, ratio; redis rows: TLS, plaintext, ratio) for bench/charts.gp's
reader (bench/benchutil.py's write_dat).
"""
import json
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import types

from benchutil import cpu, data_arg, free_port, machine, rss, wait_port, write_dat

CLIENTS = 3                        # handshake client processes
CIPHER = "TLS_AES_128_GCM_SHA256"  # what the clients offer (TLS 1.3)

# ---------------------------------------------------------------- clients
# Run as `tls.py --client MODE ...` in processes of their own, with an
# OPENSSL_CONF that offers TLS 1.3 and CIPHER only; each prints one JSON line.


def client_ctx(cafile):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def client_connections(mode, port, seconds, cap, cafile):
    """full | resume | plain: connect, (handshake), echo one byte, close; for `seconds` or `cap` connections."""
    ctx = client_ctx(cafile) if mode != "plain" else None
    n = reused = fails = 0
    session = None
    cipher = None
    start = time.monotonic()
    end = start + seconds
    while n < cap and time.monotonic() < end and fails < 50:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s = raw if ctx is None else ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
            try:
                s.sendall(b"x")
                if s.recv(1) != b"x":
                    raise OSError("no echo")
                if ctx is not None:
                    reused += s.session_reused
                    cipher = cipher or f"{s.version()} {s.cipher()[0]}"
                    if mode == "resume":
                        session = s.session   # the newest ticket (read with the echo)
            finally:
                s.close()
            n += 1
        except OSError:
            fails += 1
    print(json.dumps({"n": n, "reused": reused, "fails": fails, "cipher": cipher,
                      "seconds": time.monotonic() - start}), flush=True)


def client_bulk(port, nbytes, cafile):
    """One TLS connection: an 8-byte length, then nbytes in 1 MiB writes; the sink answers one byte at the end."""
    ctx = client_ctx(cafile)
    chunk = memoryview(bytes(range(256)) * 4096)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60), server_hostname="127.0.0.1")
    start = time.monotonic()
    s.sendall(struct.pack("!Q", nbytes))
    left = nbytes
    while left > 0:
        k = min(left, len(chunk))
        s.sendall(chunk[:k])
        left -= k
    ok = s.recv(1) == b"k"
    took = time.monotonic() - start
    cipher = f"{s.version()} {s.cipher()[0]}"
    s.close()
    print(json.dumps({"ok": ok, "seconds": took, "cipher": cipher}), flush=True)


def client_idle(mode, port, n, cafile):
    """Opens n connections (TLS or plain) in two halves, each connection echoing one byte; after
    each half it prints a line and waits for one on stdin; then it closes them all."""
    ctx = client_ctx(cafile) if mode == "tls" else None
    held = []
    for half in (n // 2, n - n // 2):
        fresh = []
        for _ in range(half):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            s = raw if ctx is None else ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            s.sendall(b"x")
            fresh.append(s)
        for s in fresh:
            if s.recv(1) != b"x":
                raise SystemExit("no echo")
        held += fresh
        print(json.dumps({"held": len(held)}), flush=True)
        if not select.select([sys.stdin], [], [], 300)[0]:   # bounded: gone after 5 minutes whatever happens
            break
        sys.stdin.readline()
    for s in held:
        s.close()


SINK = r"""
import os, selectors, socket, struct, sys
parent = os.getppid()
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1024)
ls.setblocking(False)
print("listening on 127.0.0.1:%d" % ls.getsockname()[1], flush=True)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ, None)
buf = bytearray(1 << 20)
while os.getppid() == parent:       # ends with the benchmark (or by its kill)
    for key, _ in sel.select(1.0):
        if key.data is None:
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ, [b"", 0])   # header read so far, body bytes
            continue
        c, st = key.fileobj, key.data
        try:
            n = c.recv_into(buf)
        except BlockingIOError:
            continue
        except OSError:
            n = 0
        if n == 0:
            sel.unregister(c)
            c.close()
            continue
        h = 8 - len(st[0])
        if h > 0:
            st[0] += bytes(buf[:min(h, n)])
        st[1] += n - min(max(h, 0), n)
        if len(st[0]) == 8 and st[1] >= struct.unpack("!Q", st[0])[0]:
            c.setblocking(True)
            c.sendall(b"k")
            c.setblocking(False)
            st[0], st[1] = b"", 0
"""

# ---------------------------------------------------------------- the run


def main():
    argv = sys.argv[1:]
    data = data_arg(argv)
    quick = "--quick" in argv
    argv = [a for a in argv if a != "--quick"]
    rounds = 1 if quick else 3
    if "--rounds" in argv:
        i = argv.index("--rounds")
        rounds = int(argv[i + 1])
        del argv[i:i + 2]
    build = argv[0] if argv else "build"
    o = types.SimpleNamespace(
        data=data, quick=quick, rounds=rounds,
        seconds=1.0 if quick else 5.0,          # per handshake measurement
        cap=200000,                             # connections per client process, at most
        bulk_bytes=(128 if quick else 1024) << 20,
        idle_n=300 if quick else 2000,
        redis_n=50000 if quick else 200000,
        redis_rounds=1 if quick else 2,
        settle=1.5 if quick else 2.5,           # seconds before reading RSS (jemalloc's decay: 1 s)
        coproxy_bin=os.path.join(build, "coproxy"),
        echo_bin=os.path.join(build, "examples", "echo_server"))
    for f in (o.coproxy_bin, o.echo_bin):
        if not os.access(f, os.X_OK):
            raise SystemExit(f"{f}: not built (bench/tls.py BUILD_DIR, with coproxy and examples/echo_server made)")
    for tool in ("haproxy", "openssl", "redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            raise SystemExit(f"needs {tool} (apt-get install haproxy openssl redis-server redis-tools)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # the proxies and clients inherit it
    if hard < 4 * o.idle_n + 1000:
        raise SystemExit(f"ulimit -n {hard} is too low for {o.idle_n} idle clients")

    procs = []
    tmp = tempfile.mkdtemp(prefix="coproxy-tls-bench-")
    try:
        run(procs, tmp, o)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def make_certs(tmp):
    def ssl_cmd(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
    with open(f"{tmp}/ext.cnf", "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n"
                "keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n")
    ssl_cmd("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{tmp}/ca.key", "-out", f"{tmp}/ca.crt", "-days", "2", "-subj", "/CN=coproxy bench CA")
    for name, key in (("rsa", ["rsa:2048"]), ("ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"])):
        ssl_cmd("req", "-newkey", *key, "-nodes", "-keyout", f"{tmp}/{name}.key", "-out", f"{tmp}/{name}.csr",
                "-subj", "/CN=127.0.0.1")
        ssl_cmd("x509", "-req", "-in", f"{tmp}/{name}.csr", "-CA", f"{tmp}/ca.crt", "-CAkey", f"{tmp}/ca.key",
                "-CAcreateserial", "-out", f"{tmp}/{name}.crt", "-days", "2", "-extfile", f"{tmp}/ext.cnf")
        with open(f"{tmp}/{name}.pem", "w") as f:   # HAProxy's crt: certificate and key in one file
            f.write(open(f"{tmp}/{name}.crt").read() + open(f"{tmp}/{name}.key").read())
    # the clients' OpenSSL configuration: TLS 1.3, one cipher suite
    with open(f"{tmp}/client.cnf", "w") as f:
        f.write("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = tls\n"
                f"[tls]\nMinProtocol = TLSv1.3\nCiphersuites = {CIPHER}\n")


def run(procs, tmp, o):
    make_certs(tmp)
    ca = f"{tmp}/ca.crt"
    client_env = dict(os.environ, OPENSSL_CONF=f"{tmp}/client.cnf")
    me = os.path.abspath(__file__)

    def spawn(cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        procs.append(p)
        return p

    def listening(cmd):
        p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([p.stdout], [], [], 10)
        line = p.stdout.readline() if ready else ""
        if not line:
            raise SystemExit(f"{cmd[0]} did not start")
        return p, int(line.rsplit(":", 1)[1])

    _, echo = listening([o.echo_bin, "-p", "0"])
    _, sink = listening([sys.executable, "-c", SINK])

    ports = {k: free_port() for k in ("h_rsa", "h_ec", "h_plain", "h_bulk",
                                      "c_rsa", "c_ec", "c_plain", "c_bulk")}
    with open(f"{tmp}/haproxy.cfg", "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 9000
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend rsa
    bind 127.0.0.1:{ports['h_rsa']} ssl crt {tmp}/rsa.pem
    default_backend echo
frontend ec
    bind 127.0.0.1:{ports['h_ec']} ssl crt {tmp}/ec.pem
    default_backend echo
frontend plain
    bind 127.0.0.1:{ports['h_plain']}
    default_backend echo
frontend bulk
    bind 127.0.0.1:{ports['h_bulk']} ssl crt {tmp}/rsa.pem
    default_backend sink
backend echo
    server e1 127.0.0.1:{echo}
backend sink
    server s1 127.0.0.1:{sink}
""")
    rsa_tls = f'tls = {{ certificate = "{tmp}/rsa.crt"; key = "{tmp}/rsa.key"; }};'
    ec_tls = f'tls = {{ certificate = "{tmp}/ec.crt"; key = "{tmp}/ec.key"; }};'
    with open(f"{tmp}/coproxy.conf", "w") as f:
        f.write(f"""threads = 1;
log_level = "error";
bpf = false;
pools = (
  {{ name = "rsa"; mode = "tcp"; listen = ( "127.0.0.1:{ports['c_rsa']}", "plain://127.0.0.1:{ports['c_plain']}" );
     {rsa_tls} servers = ( "127.0.0.1:{echo}:1" ); }},
  {{ name = "ec"; mode = "tcp"; listen = "127.0.0.1:{ports['c_ec']}"; {ec_tls}
     servers = ( "127.0.0.1:{echo}:1" ); }},
  {{ name = "bulk"; mode = "tcp"; listen = "127.0.0.1:{ports['c_bulk']}"; {rsa_tls}
     servers = ( "127.0.0.1:{sink}:1" ); }}
);
""")
    coproxy_log = open(f"{tmp}/coproxy.log", "w")

    def start_proxy(name):
        if name == "haproxy":
            p = spawn(["haproxy", "-f", f"{tmp}/haproxy.cfg", "-db"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            p = spawn([o.coproxy_bin, "-c", f"{tmp}/coproxy.conf"], stdout=coproxy_log, stderr=coproxy_log)
        for k, port in ports.items():
            if k[0] == name[0]:
                wait_port(port)   # (a plain connect on a TLS port: a failed handshake, logged at "warn")
        return p

    def stop(p):
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def client(*args, stdin=None):
        return spawn([sys.executable, me, "--client", *map(str, args)], env=client_env,
                     stdin=stdin, stdout=subprocess.PIPE, text=True)

    def collect(p, timeout):
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise SystemExit("a client did not finish in time")
        if p.returncode != 0 or not out.strip():
            raise SystemExit(f"a client failed (exit {p.returncode})")
        return json.loads(out.strip().splitlines()[-1])

    print(f"machine: {machine()}")
    print(f"clients offer TLS 1.3, {CIPHER} only, X25519 first; each proxy one thread")
    results = {}   # (figure, target) -> [values]

    def note(fig, target, v):
        results.setdefault((fig, target), []).append(v)

    print(f"memory: {o.idle_n} idle clients (one byte echoed each), a fresh proxy each time")
    # ---- 4. memory per idle client: a proxy of its own for each measurement (what an earlier one
    # freed would be reused), the RSS growth from the first half of the clients to all of them
    # (the first half is the warm-up: one-time allocations, buffers, pools)
    for name in ("coproxy", "haproxy"):
        for mode in ("tls", "plain"):
            proxy = start_proxy(name)
            pid, pre = proxy.pid, name[0] + "_"
            port = ports[pre + ("rsa" if mode == "tls" else "plain")]
            held = client("idle", mode, port, o.idle_n, ca, stdin=subprocess.PIPE)
            got = []
            for _ in range(2):
                if not select.select([held.stdout], [], [], 300)[0] or not held.stdout.readline():
                    raise SystemExit("idle clients did not connect")
                time.sleep(o.settle)   # (jemalloc gives back freed pages after 1 s)
                got.append(rss(pid))
                held.stdin.write("go on\n")
                held.stdin.flush()
            held.wait(timeout=60)
            stop(proxy)
            per = (got[1] - got[0]) / (o.idle_n - o.idle_n // 2)
            note(f"idle {mode} client: RSS B", name, per)
            print(f"  {name:8} idle {mode:5} clients: RSS {got[0] >> 10} KiB with {o.idle_n // 2}, "
                  f"{got[1] >> 10} KiB with {o.idle_n}: {per:.0f} B per client", flush=True)
    haproxy = start_proxy("haproxy")
    coproxy = start_proxy("coproxy")
    targets = {"coproxy": (coproxy.pid, "c_"), "haproxy": (haproxy.pid, "h_")}

    print("negotiated (openssl s_client -brief, the same client settings):")
    for name, (_, pre) in targets.items():
        for cert in ("rsa", "ec"):
            out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{ports[pre + cert]}", "-brief",
                                  "-CAfile", ca, "-ciphersuites", CIPHER, "-verify_return_error"],
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20,
                                 env=client_env)
            got = {k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in out.stderr.splitlines() if ":" in ln)}
            print(f"  {name:8} {cert:4}: {got.get('Protocol version', '?')} {got.get('Ciphersuite', '?')}, "
                  f"{got.get('Signature type', '?')}, key exchange {got.get('Server Temp Key', got.get('Peer Temp Key', '?'))}, "
                  f"verification {got.get('Verification', '?')}")

    # ---- 1-3. handshakes, resumed handshakes, plain connections, bulk
    loads = [("full handshake RSA-2048: hs/CPU-s", "full", "rsa"),
             ("full handshake P-256: hs/CPU-s", "full", "ec"),
             ("resumed handshake: hs/CPU-s", "resume", "rsa"),
             ("plain connection: conn/CPU-s", "plain", "plain")]
    print(f"\n{'round':5} {'target':8} {'figure':36} {'per CPU-s':>10} {'per s':>8} {'CPU-s':>6}  notes")
    order = list(targets)

    def connections(r, name, fig, mode, port):
        pid, pre = targets[name]
        c0 = cpu(pid)
        ps = [client(mode, ports[pre + port], o.seconds, o.cap, ca) for _ in range(CLIENTS)]
        outs = [collect(p, o.seconds + 60) for p in ps]
        used = cpu(pid) - c0
        n = sum(x["n"] for x in outs)
        reused = sum(x["reused"] for x in outs)
        fails = sum(x["fails"] for x in outs)
        wall = max(x["seconds"] for x in outs)
        if n == 0 or used <= 0:
            raise SystemExit(f"{name} {fig}: {n} connections, {used} CPU-s")
        note(fig, name, n / used)
        note(fig.split(":")[0] + ": per s (wall)", name, n / wall)
        extra = f"{reused}/{n} resumed" if mode != "plain" else ""
        if fails:
            extra += f", {fails} failed"
        print(f"{r:<5} {name:8} {fig:36} {n / used:10.0f} {n / wall:8.0f} {used:6.2f}  {extra}", flush=True)
        if mode == "resume" and reused < 0.95 * n:
            print(f"      warning: {name} resumed only {reused} of {n}")
        ciphers = {x["cipher"] for x in outs} - {None, f"TLSv1.3 {CIPHER}"}
        if ciphers:
            print(f"      warning: {name} negotiated {', '.join(sorted(ciphers))}")
        if mode == "full" and reused:
            print(f"      warning: {name} resumed {reused} of {n} 'full' handshakes")

    def bulk(r, name):
        pid, pre = targets[name]
        c0 = cpu(pid)
        b = collect(client("bulk", ports[pre + "bulk"], o.bulk_bytes, ca), 600)
        used = cpu(pid) - c0
        if not b["ok"]:
            raise SystemExit(f"{name}: bulk transfer not acknowledged")
        gbit = o.bulk_bytes * 8 / b["seconds"] / 1e9
        note("TLS bulk: Gbit/s", name, gbit)
        note("TLS bulk: CPU-s/GB", name, used / (o.bulk_bytes / 1e9))
        print(f"{r:<5} {name:8} {'TLS bulk ' + str(o.bulk_bytes >> 20) + ' MiB':36} {gbit:8.2f} Gbit/s "
              f"{used / (o.bulk_bytes / 1e9):6.3f} CPU-s/GB  ({b['cipher']})", flush=True)

    # each load on both proxies back to back (the first one alternating), so that a slow
    # minute of a shared machine falls on both
    for r in range(1, o.rounds + 1):
        for fig, mode, port in loads:
            for name in (order if r % 2 else order[::-1]):
                connections(r, name, fig, mode, port)
        for name in (order if r % 2 else order[::-1]):
            bulk(r, name)

    figures = ["full handshake RSA-2048: hs/CPU-s", "full handshake P-256: hs/CPU-s", "resumed handshake: hs/CPU-s",
               "plain connection: conn/CPU-s", "full handshake RSA-2048: per s (wall)",
               "full handshake P-256: per s (wall)", "resumed handshake: per s (wall)",
               "plain connection: per s (wall)", "TLS bulk: Gbit/s", "TLS bulk: CPU-s/GB",
               "idle tls client: RSS B", "idle plain client: RSS B"]
    print(f"\nmedians of {o.rounds} round(s); ratio = coproxy / haproxy (per CPU-s, per s, Gbit/s: higher is "
          "better; CPU-s/GB, RSS: lower is better; per s and Gbit/s are bound by the Python clients)")
    print(f"{'figure':40} {'coproxy':>10} {'haproxy':>10} {'ratio':>7}")
    rows = []
    for fig in figures:
        c = statistics.median(results[(fig, "coproxy")])
        h = statistics.median(results[(fig, "haproxy")])
        fmt = "{:10.3f}" if "CPU-s/GB" in fig or "Gbit" in fig else "{:10.0f}"
        ratio = c / h if h else float("nan")
        print(f"{fig:40} {fmt.format(c)} {fmt.format(h)} {ratio:7.2f}")
        rows.append([fig.replace(" ", "_").replace(":", ""), c, h, ratio])
    # CPU per handshake, with the plain connection's cost taken out
    per = {t: {fig: 1e6 / statistics.median(results[(fig, t)]) for fig, _, _ in loads} for t in targets}
    print("\nproxy CPU µs per connection (median), and with a plain connection's cost taken out:")
    for fig, _, _ in loads[:3]:
        c, h = per["coproxy"][fig], per["haproxy"][fig]
        cp, hp = per["coproxy"][loads[3][0]], per["haproxy"][loads[3][0]]
        print(f"  {fig.split(':')[0]:28} coproxy {c:7.0f} ({c - cp:6.0f} TLS)   haproxy {h:7.0f} ({h - hp:6.0f} TLS)"
              f"   TLS part coproxy/haproxy {(c - cp) / (h - hp):.2f}")

    # ---- 5. redis mode: the TLS tax
    redis_port, rtls, rplain = free_port(), free_port(), free_port()
    spawn(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(redis_port)
    with open(f"{tmp}/coproxy-redis.conf", "w") as f:
        f.write(f"""threads = 1;
log_level = "error";
bpf = false;
pools = ( {{ name = "cache"; mode = "redis"; listen = ( "127.0.0.1:{rtls}", "plain://127.0.0.1:{rplain}" );
            {rsa_tls} distribution = "ketama"; hash = "fnv1a_64"; server_timeout = 2000;
            servers = ( "127.0.0.1:{redis_port}:1 r0" ); }} );
""")
    credis = spawn([o.coproxy_bin, "-c", f"{tmp}/coproxy-redis.conf"], stdout=coproxy_log, stderr=coproxy_log)
    wait_port(rtls)
    wait_port(rplain)

    def redis_bench(port, tls, test, pipeline):
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", test, "-n", str(o.redis_n),
               "-c", "50", "-P", str(pipeline), "-d", "3", "-r", "100000", "-q", "--csv"]
        if tls:
            cmd += ["--tls", "--cacert", ca, "--tls-ciphersuites", CIPHER]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
        last = [ln for ln in out.splitlines() if ln.startswith('"')]
        if not last:
            raise SystemExit(f"redis-benchmark gave nothing: {' '.join(cmd)}")
        return float(last[-1].split(",")[1].strip('"'))

    print(f"\nredis mode, coproxy threads = 1, one pool with a TLS and a plaintext listener; redis-benchmark "
          f"-n {o.redis_n} -c 50 -d 3, {o.redis_rounds} round(s): best ops/s, mean CPU-s per million requests")
    print(f"{'config':14} {'TLS ops/s':>10} {'plain ops/s':>11} {'TLS CPU-s/M':>12} {'plain CPU-s/M':>14} {'TLS/plain CPU':>14}")
    redis_rows = []
    for pipeline in (1, 16):
        for test in ("get", "set"):
            got = {True: [0.0, []], False: [0.0, []]}
            for _ in range(o.redis_rounds):
                for tls in (True, False):
                    c0 = cpu(credis.pid)
                    ops = redis_bench(rtls if tls else rplain, tls, test, pipeline)
                    used = cpu(credis.pid) - c0
                    got[tls][0] = max(got[tls][0], ops)
                    got[tls][1].append(used / o.redis_n * 1e6)
            tc, pc = statistics.mean(got[True][1]), statistics.mean(got[False][1])
            key = f"{test} -P {pipeline}"
            print(f"{key:14} {got[True][0]:10.0f} {got[False][0]:11.0f} {tc:12.2f} {pc:14.2f} {tc / pc:14.2f}",
                  flush=True)
            redis_rows.append([f"redis_{test}_P{pipeline}", tc, pc, tc / pc])

    stop(coproxy)
    stop(credis)
    coproxy_log.close()
    lines = [ln for ln in open(f"{tmp}/coproxy.log") if ln.strip()]
    if lines:
        print(f"\ncoproxy logged {len(lines)} line(s) at level error; the last: {lines[-1].strip()[:200]}")

    med = {fig: (statistics.median(results[(fig, "coproxy")]), statistics.median(results[(fig, "haproxy")]))
           for fig in figures}

    def inv(fig):   # CPU per unit, coproxy's over HAProxy's, from the per-CPU-second rates
        c, h = med[fig]
        return h / c

    def direct(fig):
        c, h = med[fig]
        return c / h if h else float("nan")
    print("\nsummary, coproxy / HAProxy (below 1: coproxy spends less):")
    print(f"  proxy CPU per full handshake: {inv(figures[0]):.2f} (RSA-2048), {inv(figures[1]):.2f} (P-256); "
          f"per resumed handshake: {inv(figures[2]):.2f}; per plaintext connection: {inv(figures[3]):.2f}")
    print(f"  TLS bulk: CPU per GB {direct('TLS bulk: CPU-s/GB'):.2f}, throughput {direct('TLS bulk: Gbit/s'):.2f} "
          f"(one client connection, client-bound)")
    print(f"  RSS per idle client: {direct('idle tls client: RSS B'):.2f} with TLS "
          f"({med['idle tls client: RSS B'][0]:.0f} B against {med['idle tls client: RSS B'][1]:.0f} B), "
          f"plaintext {med['idle plain client: RSS B'][0]:.0f} B against {med['idle plain client: RSS B'][1]:.0f} B")
    print("  redis mode, TLS listener / plaintext listener, coproxy CPU per request: "
          + ", ".join(f"{row[0][6:].replace('_', ' -')} {row[3]:.2f}" for row in redis_rows))
    if o.data:
        write_dat(o.data, [f"run: bench/tls.py{' --quick' if o.quick else ''}, {o.rounds} round(s), medians",
                         "tcp figures: coproxy, haproxy, ratio; redis rows: TLS CPU-s/M, plain CPU-s/M, ratio"],
                  ["figure", "a", "b", "ratio"], rows + redis_rows)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        mode, rest = sys.argv[2], sys.argv[3:]
        if mode in ("full", "resume", "plain"):
            client_connections(mode, int(rest[0]), float(rest[1]), int(rest[2]), rest[3])
        elif mode == "bulk":
            client_bulk(int(rest[0]), int(rest[1]), rest[2])
        elif mode == "idle":
            client_idle(rest[0], int(rest[1]), int(rest[2]), rest[3])
        else:
            raise SystemExit(f"unknown client mode {mode}")
    else:
        main()
