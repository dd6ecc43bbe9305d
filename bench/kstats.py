#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kstats.py — what the kernel-side statistics (bpf = true) cost: CPU per
million proxied requests with BPF on vs off, same run.

  bench/kstats.py [BUILD_DIR] [REQUESTS] [ROUNDS]        (as root)

One redis-server; coproxy (threads = 1) in front of it, started afresh for
every measurement with bpf = true or bpf = false, alternating, ROUNDS times
each (only one daemon at a time: attached programs run on every TCP event
of the machine, so the "off" runs must have none attached).  For each,
redis-benchmark GET and SET (-c 50, -P 1 and -P 16) and:

  - coproxy's CPU-seconds (utime + stime) per million requests;
  - the whole machine's busy CPU-seconds per million requests (/proc/stat):
    the programs also run in softirq work charged to other processes;
  - in one more run with BPF on and the kernel's bpf_stats switched on
    (restored after), the programs' own run time per request, per program.

Figures are medians over the rounds; the ratio on/off is the result
(target: under 1.03).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

from benchutil import cpu, free_port, start, stop_all, wait_port

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 300000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
COPROXY = os.path.join(BUILD, "coproxy")
LOADS = [("get", 1), ("set", 1), ("get", 16), ("set", 16)]


def machine_busy():
    """Busy CPU-seconds of the whole machine so far (all but idle and iowait)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def bpf_programs():
    """The kstats_* BPF programs loaded (the one daemon's: nothing else of
    ours runs during the benchmark): {name: (run time ns, runs)}, counted
    while kernel.bpf_stats_enabled is 1."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    return {p["name"]: (p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in json.loads(out or "[]") if p.get("name", "").startswith("kstats_")}


def bench(port, test, pipeline):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", test, "-n", str(REQUESTS), "-c", "50",
                          "-P", str(pipeline), "-r", "100000", "-q", "--csv"],
                         capture_output=True, text=True, timeout=900).stdout
    return float(re.search(r'"([\d.]+)"', out.splitlines()[-1].split(",", 1)[1]).group(1))


def measure(run, rport, bpf):
    port = free_port()
    conf = os.path.join(run, f"bpf-{bpf}.conf")
    with open(conf, "w") as f:
        f.write(f'threads = 1;\nlog_level = "warn";\nbpf = {"true" if bpf else "false"};\n'
                f'admin = {{ socket = "{run}/admin.sock"; }};\n'
                f'pools = ( {{ name = "p"; listen = "127.0.0.1:{port}"; mode = "redis";\n'
                f'    servers = ( "127.0.0.1:{rport}:1 r" ); }} );\n')
    p = subprocess.Popen([COPROXY, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        out = {}
        for test, pipeline in LOADS:
            c0, m0, b0 = cpu(p.pid), machine_busy(), bpf_programs()
            rate = bench(port, test, pipeline)
            c1, m1, b1 = cpu(p.pid), machine_busy(), bpf_programs()
            runs = {n: ((b1[n][0] - b0[n][0]) / REQUESTS, (b1[n][1] - b0[n][1]) / REQUESTS) for n in b1}
            out[(test, pipeline)] = ((c1 - c0) * 1e6 / REQUESTS, (m1 - m0) * 1e6 / REQUESTS, runs, rate)
        return out
    finally:
        p.terminate()
        p.wait()


def main():
    if os.geteuid() != 0:
        raise SystemExit("kstats.py: run as root (loading BPF needs it)")
    ver = subprocess.run([COPROXY, "--version"], capture_output=True, text=True).stdout
    if "built in" not in ver:
        raise SystemExit(f"kstats.py: {COPROXY} was built without BPF")
    if bpf_programs():
        raise SystemExit("kstats.py: kstats_* programs are loaded already: stop the other coproxy daemons")
    stats_flag = "/proc/sys/kernel/bpf_stats_enabled"
    old_flag = open(stats_flag).read().strip()
    run = tempfile.mkdtemp(prefix="coproxy-kstats-")
    rport = free_port()
    start(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", run], rport)
    results = {True: [], False: []}
    try:
        # on vs off with the kernel's BPF run-time accounting off (it costs two
        # clock reads per program run), then one run with it on for the
        # programs' own time
        with open(stats_flag, "w") as f:
            f.write("0")
        for r in range(ROUNDS):
            for bpf in (r % 2 == 0, r % 2 != 0):   # alternate which goes first
                results[bpf].append(measure(run, rport, bpf))
        with open(stats_flag, "w") as f:
            f.write("1")
        timed = measure(run, rport, True)
    finally:
        with open(stats_flag, "w") as f:
            f.write(old_flag)
        stop_all()
    print(f"{REQUESTS} requests per load, {ROUNDS} rounds each way, medians; CPU-s per million requests")
    print(f"{'load':<12} {'coproxy off':>12} {'coproxy on':>11} {'ratio':>7}   {'machine off':>12} "
          f"{'machine on':>11} {'ratio':>7}   {'ops/s off':>10} {'ops/s on':>10}")
    for load in LOADS:
        med = {b: [statistics.median(x[load][i] for x in results[b]) for i in (0, 1, 3)] for b in (True, False)}
        off, on = med[False], med[True]
        print(f"{load[0].upper()} -P{load[1]:<6} {off[0]:12.2f} {on[0]:11.2f} {on[0] / off[0]:7.3f}   "
              f"{off[1]:12.2f} {on[1]:11.2f} {on[1] / off[1]:7.3f}   {off[2]:10.0f} {on[2]:10.0f}")
    print("\nthe programs' own time (bpf_stats on, one run): per request, and as a share of the machine's CPU")
    for load in LOADS:
        machine_ns, runs = timed[load][1] * 1000, timed[load][2]
        total = sum(ns for ns, _ in runs.values())
        detail = ", ".join(f"{n[7:]} {cnt:.1f}x {ns / cnt if cnt else 0:.0f} ns" for n, (ns, cnt) in sorted(runs.items())
                           if cnt >= 0.05)
        print(f"{load[0].upper()} -P{load[1]:<6} {total:6.0f} ns/request = {100 * total / machine_ns:4.2f}% "
              f"of {machine_ns:6.0f} ns   ({detail})")


if __name__ == "__main__":
    main()
