#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""redis.py — coproxy vs twemproxy (Debian's nutcracker) vs direct Redis, one run.

  bench/redis.py [BUILD_DIR] [REQUESTS] [ROUNDS] [--data FILE]
  bench/redis.py [BUILD_DIR] [REQUESTS] [ROUNDS] --monitors-ab
  bench/redis.py [BUILD_DIR] [REQUESTS] [ROUNDS] --acl-ab

Two redis-servers are the backends of both proxies (same servers, same
ketama/fnv1a_64 pool).  For every configuration -- GET and SET, 3-byte and
1 KiB values, at -c 50 -P 1, -c 50 -P 16 and -c 1000 -P 1 -- redis-benchmark
runs against: Redis directly (one of the two servers), twemproxy, coproxy
with threads = 1 and coproxy with threads = 2, interleaved (every target
once per round, ROUNDS rounds), and coproxy with threads = 1 again with
RESP3 clients (redis-benchmark -3: HELLO 3 first), and a coproxy with threads = 1
and the slow log, hot keys and big keys off (what they cost: "monitors on/off").
For the proxies it reads the CPU time of
the proxy process (utime + stime, /proc/PID/stat) around each run and
reports CPU-seconds per million requests -- the figure that holds on a
noisy machine -- next to ops/s (the best of the rounds).

Then memory: RSS growth per idle client connection (5,000 clients, each
having sent one PING), and RSS before and after a burst (1,000 clients with
a 1 KiB SET in flight at once), once the clients are idle again.

With --monitors-ab it measures only what the slow log, hot keys and big
keys cost: the coproxy with them and the one without, loaded at the same
time (two redis-benchmarks started together), so that a noisy machine
disturbs both alike; the on/off ratio of on-CPU time per request per
round, and its median over ROUNDS rounds.  With --acl-ab, the same for a
pool with 20 users whose rules name key patterns (redis-benchmark logs in
as one of them, --user) against the pool with no users.

With --data FILE it also writes the figures as a table for bench/charts.gp
(bench/benchutil.py's write_dat): a row per configuration, ops/s and CPU-s
per million requests of each target, and the memory figures as `# memory` notes.
"""
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

from benchutil import cpu, data_arg, free_port, rss, start, stop_all, write_dat

DATA = data_arg(sys.argv)
AB = next((a[2:-3] for a in sys.argv if a in ("--monitors-ab", "--acl-ab")), None)
if AB:
    sys.argv.remove(f"--{AB}-ab")
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
COPROXY = os.path.join(BUILD, "coproxy")
def bench(port, test, clients, pipeline, size, resp3=False):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", test, "-n", str(REQUESTS),
                          "-c", str(clients), "-P", str(pipeline), "-d", str(size), "-r", "100000",
                          "-q", "--csv"] + (["-3"] if resp3 else []), capture_output=True, text=True,
                         timeout=900).stdout
    m = re.search(r'"([\d.]+)"', out.splitlines()[-1].split(",", 1)[1])
    return float(m.group(1))


def connect_many(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        socks.append(s)
    return socks


def idle_rss(pid, port, n=5000):
    warm = connect_many(port, 200)
    for s in warm:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        s.recv(64)
        s.close()
    time.sleep(1)
    before = rss(pid)
    socks = connect_many(port, n)
    for s in socks:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
    for s in socks:
        s.recv(64)
    time.sleep(2.5)   # coproxy sheds idle coroutines after 1 s
    after = rss(pid)
    for s in socks:
        s.close()
    return (after - before) / n


def burst_rss(pid, port, n=1000):
    socks = connect_many(port, n)
    for s in socks:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        s.recv(64)
    time.sleep(3)   # idle: past coproxy's 1 s coroutine shedding and jemalloc's 1 s decay
    before = rss(pid)
    value = b"x" * 1024
    req = b"*3\r\n$3\r\nSET\r\n$5\r\nburst\r\n$1024\r\n" + value + b"\r\n"
    for _ in range(3):
        for s in socks:
            s.sendall(req * 16)
        for s in socks:
            got = b""
            while len(got) < 5 * 16:
                got += s.recv(4096)
    peak = rss(pid)
    time.sleep(5)   # idle again: coproxy sheds coroutines after 1 s, trims caches 1 s later
    after = rss(pid)
    for s in socks:
        s.close()
    return before, peak, after


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # the servers inherit it
    run = tempfile.mkdtemp(prefix="coproxy-bench-")
    rports = [free_port(), free_port()]
    for p in rports:
        start(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", run], p)
    twem_port, twem_stats = free_port(), free_port()
    with open(f"{run}/nutcracker.yml", "w") as f:
        f.write(f"cache:\n  listen: 127.0.0.1:{twem_port}\n  redis: true\n  hash: fnv1a_64\n"
                f"  distribution: ketama\n  timeout: 2000\n  server_connections: 1\n"
                f"  servers:\n" + "".join(f"   - 127.0.0.1:{p}:1 s{i}\n" for i, p in enumerate(rports)))
    twem = start(["nutcracker", "-c", f"{run}/nutcracker.yml", "-s", str(twem_stats), "-o", f"{run}/nc.log",
                  "-p", f"{run}/nc.pid"], twem_port)
    coproxies = {}
    for threads in (1, 2):
        port = free_port()
        with open(f"{run}/coproxy{threads}.conf", "w") as f:
            f.write(f'threads = {threads};\nlog_level = "warn";\npools = ( {{ name = "cache"; '
                    f'listen = "127.0.0.1:{port}"; mode = "redis"; distribution = "ketama"; '
                    f'hash = "fnv1a_64"; server_timeout = 2000; servers = ( '
                    + ", ".join(f'"127.0.0.1:{p}:1 s{i}"' for i, p in enumerate(rports)) + " ); } );\n")
        coproxies[threads] = (start([COPROXY, "-c", f"{run}/coproxy{threads}.conf"], port), port)
    # threads = 1 again with the slow log, hot keys and big keys off: what the monitors cost
    port = free_port()
    with open(f"{run}/coproxy-quiet.conf", "w") as f:
        f.write(f'threads = 1;\nlog_level = "warn";\npools = ( {{ name = "cache"; '
                f'listen = "127.0.0.1:{port}"; mode = "redis"; distribution = "ketama"; '
                f'hash = "fnv1a_64"; server_timeout = 2000; slowlog_slower_than = -1; hotkeys = false; '
                f'bigkey_threshold = 0; servers = ( '
                + ", ".join(f'"127.0.0.1:{p}:1 s{i}"' for i, p in enumerate(rports)) + " ); } );\n")
    quiet = (start([COPROXY, "-c", f"{run}/coproxy-quiet.conf"], port), port)

    targets = [("redis", None, rports[0]), ("twemproxy", twem, twem_port),
               ("coproxy-1", coproxies[1][0], coproxies[1][1]), ("coproxy-2", coproxies[2][0], coproxies[2][1]),
               ("coproxy-1 RESP3", coproxies[1][0], coproxies[1][1]),   # the same process, HELLO 3 clients
               ("coproxy-1 no monitors", quiet[0], quiet[1])]
    configs = [(t, c, pl, d) for (c, pl) in ((50, 1), (50, 16), (1000, 1)) for d in (3, 1024) for t in ("set", "get")]
    print(f"redis-benchmark -n {REQUESTS}, {ROUNDS} rounds, best ops/s; CPU-s per million requests (mean)")
    print(f"{'config':28} " + " ".join(f"{name:>22}" for name, _, _ in targets))
    results = {}
    for test, clients, pipeline, size in configs if REQUESTS > 0 else []:
        key = f"{test} -c {clients} -P {pipeline} -d {size}"
        for _ in range(ROUNDS):
            for name, proc, port in targets:
                before = cpu(proc.pid) if proc else 0
                ops = bench(port, test, clients, pipeline, size, resp3=name.endswith("RESP3"))
                used = cpu(proc.pid) - before if proc else 0
                r = results.setdefault((key, name), [0.0, []])
                r[0] = max(r[0], ops)
                r[1].append(used / REQUESTS * 1e6)
        cells = []
        for name, proc, _ in targets:
            ops, cpus = results[(key, name)]
            c = f"{sum(cpus) / len(cpus):5.2f}" if proc else "    -"
            cells.append(f"{ops:>12.0f} {c:>9}")
        line = f"{key:28} " + " ".join(f"{c:>22}" for c in cells)
        tw = sum(results[(key, "twemproxy")][1]) / ROUNDS
        co = sum(results[(key, "coproxy-1")][1]) / ROUNDS
        co3 = sum(results[(key, "coproxy-1 RESP3")][1]) / ROUNDS
        off = sum(results[(key, "coproxy-1 no monitors")][1]) / ROUNDS
        print(line + (f"   cpu ratio coproxy-1/twemproxy {co / tw:.2f}" if tw > 0 else "")
              + (f", RESP3/RESP2 {co3 / co:.2f}" if co > 0 else "")
              + (f", monitors on/off {co / off:.3f}" if off > 0 else ""), flush=True)
    notes = [f"run: bench/redis.py, redis-benchmark -n {REQUESTS}, {ROUNDS} round(s)",
             "ops: best ops/s of the rounds; cpu: the process's CPU-s per million requests, mean of the rounds "
             "(NaN: not measured)"]
    columns = ["test", "clients", "pipeline", "size"] + [f"{name.replace(' ', '_')}_{what}"
                                                         for name, _, _ in targets for what in ("ops", "cpu")]
    rows = []
    for test, clients, pipeline, size in configs if REQUESTS > 0 else []:
        row = [test, clients, pipeline, size]
        for name, proc, _ in targets:
            ops, cpus = results[(f"{test} -c {clients} -P {pipeline} -d {size}", name)]
            row += [ops, sum(cpus) / len(cpus) if proc else None]
        rows.append(row)
    if DATA:
        write_dat(DATA, notes, columns, rows)

    print("\nmemory (user-space RSS)")
    for name, proc, port in targets[1:3]:   # (twemproxy, coproxy-1)
        per = idle_rss(proc.pid, port)
        before, peak, after = burst_rss(proc.pid, port)
        print(f"  {name:10} idle client: {per:7.0f} B   burst of 1,000 clients: before {before >> 10} KiB, "
              f"peak {peak >> 10} KiB, after {after >> 10} KiB ({(after - before) / max(before, 1) * 100:+.1f}%)",
              flush=True)
        notes.append(f"memory {name}: idle_client_B {per:.0f} burst_before_KiB {before >> 10} "
                     f"burst_peak_KiB {peak >> 10} burst_after_KiB {after >> 10}")
        if DATA:
            write_dat(DATA, notes, columns, rows)


def oncpu(pid):
    """Nanoseconds the process has run on a CPU, all its threads (/proc/PID/schedstat)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


# 20 users with key patterns; the benchmark logs in as the last one, whose
# key:* pattern comes after others it must try first
ACL_USERS = ["default off"] + [f"u{i} on >pw{i} ~u{i}:* %R~shared:{i}:* &u{i}:* -@all +@read +@write"
                               for i in range(19)] \
    + ["bench on >benchpw ~other:* %R~ref:* ~key:* &* -@all +@read +@write +@connection"]
AB_KINDS = {
    # name: (what the two are called, the first's pool settings, the second's, redis-benchmark's extra arguments)
    "monitors": (("on", "off"), "", "slowlog_slower_than = -1; hotkeys = false; bigkey_threshold = 0; ", [], []),
    "acl": (("20 users", "no users"), "users = ( " + ", ".join(f'"{u}"' for u in ACL_USERS) + " ); ", "",
            ["--user", "bench", "-a", "benchpw"], []),
}


def ab(kind, rounds):
    """--monitors-ab, --acl-ab: the same pool with and without a feature, the
    two proxies loaded AT ONCE (two redis-benchmarks started together, one
    each), so that what disturbs this machine disturbs both alike; per round
    the ratio of their on-CPU time per request, and the median of the rounds."""
    (first, second), extra_a, extra_b, args_a, args_b = AB_KINDS[kind]
    run = tempfile.mkdtemp(prefix="coproxy-bench-")
    rports = [free_port(), free_port()]
    for p in rports:
        start(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", run], p)
    procs = {}
    for name, extra, args in ((first, extra_a, args_a), (second, extra_b, args_b)):
        port = free_port()
        conf = f"{run}/coproxy-{name.replace(' ', '_')}.conf"
        with open(conf, "w") as f:
            f.write(f'threads = 1;\nlog_level = "warn";\npools = ( {{ name = "cache"; listen = "127.0.0.1:{port}"; '
                    f'mode = "redis"; distribution = "ketama"; hash = "fnv1a_64"; server_timeout = 2000; {extra}'
                    "servers = ( " + ", ".join(f'"127.0.0.1:{p}:1 s{i}"' for i, p in enumerate(rports)) + " ); } );\n")
        procs[name] = (start([COPROXY, "-c", conf], port), port, args)
    print(f"{kind}: {first}/{second}, both loaded at once: redis-benchmark -n {REQUESTS} -c 50 -d 3 each, "
          f"{rounds} rounds; on-CPU time per request (schedstat)")
    for test, pipeline in (("get", 1), ("set", 1), ("get", 16), ("set", 16)):
        ratios = []
        for r in range(rounds):
            order = (first, second) if r % 2 == 0 else (second, first)   # (who starts first alternates)
            before = {n: oncpu(procs[n][0].pid) for n in order}
            runs = {n: subprocess.Popen(["redis-benchmark", "-p", str(procs[n][1]), "-t", test, "-n", str(REQUESTS),
                                         "-c", "50", "-P", str(pipeline), "-d", "3", "-r", "100000", "-q"]
                                        + procs[n][2], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for n in order}
            used = {}
            for n in order:
                assert runs[n].wait(timeout=900) == 0, f"redis-benchmark against {n} failed"
                used[n] = oncpu(procs[n][0].pid) - before[n]
            ratios.append(used[first] / used[second])
        ratios.sort()
        med = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
        print(f"  {test} -P {pipeline:2}: {first}/{second} median {med:.3f}  (rounds: {ratios[0]:.3f} .. "
              f"{ratios[-1]:.3f}; {' '.join(f'{x:.3f}' for x in ratios)})", flush=True)


try:
    if AB:
        ab(AB, ROUNDS)
    else:
        main()
finally:
    stop_all()
