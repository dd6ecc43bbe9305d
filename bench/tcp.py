#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tcp.py — coproxy vs HAProxy (tcp mode) vs direct, same backends, one run.

  bench/tcp.py [BUILD_DIR] [SECONDS] [ROUNDS] [--data FILE]

For each target -- direct to the backend, through bench/relay_epoll (the
least a user-space relay does: one read and one write per message, no
features), through HAProxy (Debian's haproxy, one thread, tcp mode, no
splice) and through coproxy (threads = 1) -- it runs
  bulk: one connection sending 256 KiB writes to a discard sink (Gbit/s),
  rr:   50 connections ping-ponging 64-byte messages with an echo server,
and reads each relay's CPU time (utime + stime from /proc/PID/stat) around
each run: CPU-seconds per GB and per million round trips.  ROUNDS (default
3) rounds take every target in turn, so a slow minute of a shared host hits
them all; it prints every round, then the medians and coproxy's ratios to
HAProxy's medians.  Then it holds 5,000 idle client connections through
each proxy and reports the growth of its resident memory per connection
(backend side included).  Load generator: bench/tcpload (plain epoll);
backends: tcpload sink and bench/echo_epoll.

With --data FILE it also writes the medians and the idle memory as a table
for bench/charts.gp (bench/benchutil.py's write_dat), a row per target.
"""
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from benchutil import cpu, data_arg, free_port, rss, wait_port, write_dat

DATA = data_arg(sys.argv)
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
TCPLOAD = os.path.join(BUILD, "bench", "tcpload")
ECHO = os.path.join(BUILD, "bench", "echo_epoll")
RELAY = os.path.join(BUILD, "bench", "relay_epoll")
COPROXY = os.path.join(BUILD, "coproxy")
procs = []


def start_listening(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    procs.append(p)
    return int(p.stdout.readline().rsplit(":", 1)[1])


def load(mode, port, *extra):
    out = subprocess.run([TCPLOAD, mode, "-p", str(port), "-t", str(SECONDS), *extra],
                         capture_output=True, text=True, check=True).stdout
    return dict(kv.split("=") for kv in out.split())


def idle_rss(pid, port, n=5000):
    held = []
    for s in [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]:
        s.close()
    time.sleep(0.5)
    before = rss(pid)
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"x")
        held.append(s)
    for s in held:
        s.recv(1)
    time.sleep(1.0)
    after = rss(pid)
    for s in held:
        s.close()
    return (after - before) / n


def main():
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    tmp = tempfile.mkdtemp()
    sink = start_listening([TCPLOAD, "sink"])
    echo = start_listening([ECHO, "-p", "0"])
    relay_bulk = subprocess.Popen([RELAY, "-b", str(sink)], stdout=subprocess.PIPE, text=True)
    relay_rr = subprocess.Popen([RELAY, "-b", str(echo)], stdout=subprocess.PIPE, text=True)
    procs.extend((relay_bulk, relay_rr))
    rb, rr = (int(p.stdout.readline().rsplit(":", 1)[1]) for p in (relay_bulk, relay_rr))
    hb, hr, cb, cr = (free_port() for _ in range(4))
    with open(f"{tmp}/haproxy.cfg", "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 9000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend bulk
    bind 127.0.0.1:{hb}
    default_backend sink
backend sink
    server s1 127.0.0.1:{sink}
frontend rr
    bind 127.0.0.1:{hr}
    default_backend echo
backend echo
    server e1 127.0.0.1:{echo}
""")
    with open(f"{tmp}/coproxy.conf", "w") as f:
        f.write(f"""threads = 1;
log_level = "warn";
bpf = false;   # bench/kstats.py measures what the kernel-side statistics cost
pools = (
  {{ name = "bulk"; listen = "127.0.0.1:{cb}"; mode = "tcp"; servers = ( "127.0.0.1:{sink}:1" ); }},
  {{ name = "rr"; listen = "127.0.0.1:{cr}"; mode = "tcp"; servers = ( "127.0.0.1:{echo}:1" ); }}
);
""")
    haproxy = subprocess.Popen(["haproxy", "-f", f"{tmp}/haproxy.cfg", "-db"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(haproxy)
    coproxy = subprocess.Popen([COPROXY, "-c", f"{tmp}/coproxy.conf"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(coproxy)
    for p in (hb, hr, cb, cr):
        wait_port(p)
    targets = [("direct", None, None, sink, echo),
               ("relay_epoll", relay_bulk.pid, relay_rr.pid, rb, rr),
               ("haproxy", haproxy.pid, haproxy.pid, hb, hr),
               ("coproxy", coproxy.pid, coproxy.pid, cb, cr)]
    print(f"{'round':5} {'target':12} {'Gbit/s':>8} {'CPU-s/GB':>9} {'rt/s':>9} {'CPU-s/M rt':>11}")
    runs = {t[0]: [] for t in targets}
    for r in range(1, ROUNDS + 1):
        for name, bpid, rpid, bport, rport in targets:
            c0 = cpu(bpid)
            b = load("bulk", bport)
            c1 = cpu(bpid)
            c2 = cpu(rpid)
            t = load("rr", rport, "-c", "50", "-m", "64")
            c3 = cpu(rpid)
            gb = int(b["bytes"]) / 1e9
            trips = int(t["round_trips"])
            res = (float(b["gbit_per_s"]), (c1 - c0) / gb if bpid else 0.0,
                   float(t["per_s"]), (c3 - c2) / (trips / 1e6) if rpid else 0.0)
            runs[name].append(res)
            print(f"{r:<5} {name:12} {res[0]:8.2f} {res[1]:9.3f} {res[2]:9.0f} {res[3]:11.2f}",
                  flush=True)
    med = {name: [statistics.median(x[i] for x in v) for i in range(4)] for name, v in runs.items()}
    print(f"\nmedians of {ROUNDS} rounds")
    for name, m in med.items():
        print(f"{'':5} {name:12} {m[0]:8.2f} {m[1]:9.3f} {m[2]:9.0f} {m[3]:11.2f}")
    h, c, f = med["haproxy"], med["coproxy"], med["relay_epoll"]
    print(f"coproxy/haproxy: throughput {c[0] / h[0]:.2f}x, CPU per GB {c[1] / h[1]:.2f}x, "
          f"CPU per round trip {c[3] / h[3]:.2f}x (relay_epoll/haproxy: {f[3] / h[3]:.2f}x)")
    idle = {}
    for name, pid, port in (("haproxy", haproxy.pid, hr), ("coproxy", coproxy.pid, cr)):
        idle[name] = idle_rss(pid, port)
        print(f"{name}: {idle[name]:.0f} B of RSS per idle client connection (5,000 idle)")
    if DATA:
        write_dat(DATA, [f"run: bench/tcp.py, {SECONDS} s per load, medians of {ROUNDS} round(s)",
                         "cpu: CPU-s of the relay process (NaN: none); idle: its RSS per idle client, 5,000 idle"],
                  ["target", "gbit_s", "cpu_s_per_gb", "round_trips_s", "cpu_s_per_m_round_trips", "idle_rss_b"],
                  [[name, m[0], m[1] if name != "direct" else None, m[2], m[3] if name != "direct" else None,
                    idle.get(name)] for name, m in med.items()])


try:
    main()
finally:
    for p in procs:
        p.kill()
        p.wait()
