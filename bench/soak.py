#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""soak.py — a long mixed load through coproxy with server restarts, judged
by the no-loss checker; RSS, open fds and error counts sampled every second
into a CSV and (with gnuplot) a plot.  Not part of CI: run it before a release.

    bench/soak.py [BUILD_DIR] [--minutes 60] [--restart-every 180] [--out DIR]
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# bench/redis.py would shadow the redis package: this directory is not searched
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("COPROXY_BUILD", os.path.join(HERE, "..", "build"))

from conftest import free_port, wait_port  # noqa: E402
from noloss import Checker  # noqa: E402
from redis_util import RedisProc, redis_config  # noqa: E402


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.environ["COPROXY_BUILD"])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--restart-every", type=float, default=180, help="seconds between server restarts")
    ap.add_argument("--out", default=None, help="where soak.csv and soak.png go (default: a new temp dir)")
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="coproxy-soak.")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="coproxy-soak-run.")
    servers = []
    for i in range(3):
        d = os.path.join(work, f"r{i}")
        os.mkdir(d)
        servers.append(RedisProc(work, extra=["--dir", d, "--appendonly", "yes", "--appendfsync", "always"]))
    port = free_port()
    conf = os.path.join(work, "c.conf")
    with open(conf, "w") as f:
        f.write(redis_config(port, [s.port for s in servers], threads=2, hash_tag="{}", server_timeout=1000))
    proc = subprocess.Popen([os.path.join(a.build, "coproxy"), "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(out, "coproxy.log"), "wb"))
    duration = a.minutes * 60
    check = Checker(port, nclients=8, limit_s=duration + 60)
    rows, restarts = [], 0
    try:
        wait_port(port)
        check.start()
        t0 = next_restart = time.monotonic()
        next_restart += a.restart_every
        while time.monotonic() - t0 < duration:
            time.sleep(1)
            now = time.monotonic()
            s = check.summary()
            rows.append((round(now - t0), rss_kb(proc.pid), len(os.listdir(f"/proc/{proc.pid}/fd")),
                         s["requests"], s["errors"], s["mismatched"]))
            if now >= next_restart:
                victim = random.choice(servers)
                victim.proc.send_signal(signal.SIGKILL)
                victim.proc.wait()
                time.sleep(1)
                victim.start()
                restarts += 1
                next_restart = now + a.restart_every
            if proc.poll() is not None:
                print("coproxy exited", file=sys.stderr)
                break
        check.stop()
        s = check.summary()
        for line in s["bad"]:
            print("mismatch:", line)
        with open(os.path.join(out, "soak.csv"), "w") as f:
            f.write("seconds,rss_kb,fds,requests,errors,mismatched\n")
            f.writelines(",".join(map(str, r)) + "\n" for r in rows)
        if shutil.which("gnuplot"):
            subprocess.run(["gnuplot", "-e", f"""
                set terminal png size 1000,600; set output '{out}/soak.png'; set datafile separator ',';
                set key autotitle columnhead; set xlabel 'seconds'; set ylabel 'RSS KiB / fds';
                set y2label 'errors'; set y2tics;
                plot '{out}/soak.csv' using 1:2 with lines, '' using 1:3 with lines,
                     '' using 1:5 axes x1y2 with lines"""], check=False, timeout=60)
        print(f"soak: {a.minutes} min, {restarts} server restarts; requests {s['requests']}, acknowledged "
              f"{s['acked']}, errors {s['errors']}, mismatched {s['mismatched']}, lost {s['lost']}; RSS "
              f"{rows[0][1] if rows else 0} -> {rows[-1][1] if rows else 0} KiB, fds {rows[0][2] if rows else 0}"
              f" -> {rows[-1][2] if rows else 0}; {out}/soak.csv")
        return 0 if s["mismatched"] == 0 and s["lost"] == 0 and proc.poll() is None else 1
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
