#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cluster.py — coproxy in front of a Redis Cluster vs the cluster directly, one run.

  bench/cluster.py [BUILD_DIR] [REQUESTS] [ROUNDS]

Starts a 3-master, 3-replica cluster from Debian's redis-server on loopback
(redis-cli --cluster create), and coproxy (threads = 1) with
distribution = "cluster" and one seed.  For GET and SET with 3-byte values at
-c 50 -P 1 and -c 50 -P 16, redis-benchmark runs against the cluster itself
(--cluster: it spreads its requests over the masters by slot) and against
coproxy, interleaved, ROUNDS rounds: best ops/s, and coproxy's CPU-seconds per
million requests (utime + stime from /proc/PID/stat around each run).
"""
import os
import re
import subprocess
import sys
import tempfile
import time

from benchutil import cpu, free_port, start, stop_all

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
def bench(port, test, pipeline, cluster):
    cmd = ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(REQUESTS), "-c", "50", "-P", str(pipeline),
           "-d", "3", "-r", "100000", "-q", "--csv"] + (["--cluster"] if cluster else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900).stdout
    m = re.search(r'"([\d.]+)"', out.strip().splitlines()[-1].split(",", 1)[1])
    return float(m.group(1))


def main():
    run = tempfile.mkdtemp(prefix="coproxy-cluster-bench-")
    ports = []
    for i in range(6):
        port, bus = free_port(), free_port()
        os.mkdir(f"{run}/n{i}")
        start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", f"{run}/n{i}", "--cluster-enabled", "yes", "--cluster-port", str(bus),
               "--cluster-config-file", "nodes.conf"], port)
        ports.append(port)
    subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                    "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
    for _ in range(300):
        infos = [subprocess.run(["redis-cli", "-p", str(p), "cluster", "info"], capture_output=True,
                                text=True).stdout for p in ports]
        if all("cluster_state:ok" in i for i in infos):
            break
        time.sleep(0.1)
    cport = free_port()
    with open(f"{run}/coproxy.conf", "w") as f:
        f.write(f'threads = 1;\nlog_level = "warn";\npools = ( {{ name = "cluster"; listen = "127.0.0.1:{cport}"; '
                f'mode = "redis"; distribution = "cluster"; server_timeout = 2000; '
                f'servers = ( "127.0.0.1:{ports[0]}:1" ); }} );\n')
    co = start([os.path.join(BUILD, "coproxy"), "-c", f"{run}/coproxy.conf"], cport)
    time.sleep(1)   # the slot map
    print(f"redis-benchmark -n {REQUESTS} -c 50 -d 3, {ROUNDS} rounds, best ops/s; coproxy CPU-s per million "
          f"requests (mean)")
    print(f"{'config':16} {'cluster (--cluster)':>20} {'coproxy':>12} {'coproxy CPU-s/M':>16}")
    for test in ("set", "get"):
        for pipeline in (1, 16):
            best = {"direct": 0.0, "coproxy": 0.0}
            cpus = []
            for _ in range(ROUNDS):
                best["direct"] = max(best["direct"], bench(ports[0], test, pipeline, True))
                before = cpu(co.pid)
                best["coproxy"] = max(best["coproxy"], bench(cport, test, pipeline, False))
                cpus.append((cpu(co.pid) - before) / REQUESTS * 1e6)
            print(f"{test + ' -P ' + str(pipeline):16} {best['direct']:>20.0f} {best['coproxy']:>12.0f} "
                  f"{sum(cpus) / len(cpus):>16.2f}", flush=True)


try:
    main()
finally:
    stop_all()
