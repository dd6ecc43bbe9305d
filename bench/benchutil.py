# SPDX-License-Identifier: Apache-2.0
"""benchutil.py — what the Python benchmarks share: ports, and a process's CPU time and RSS."""
import os
import socket
import subprocess
import time

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, tries=400):
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing on port {port}")


def cpu(pid):
    """CPU-seconds (user + system) the process has used, from /proc/PID/stat; 0 for None."""
    if pid is None:
        return 0.0
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def rss(pid):
    """Resident memory of the process in bytes."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


procs = []   # what start() started: stop_all() ends them


def start(cmd, port):
    """Starts cmd (output dropped) and waits until it listens on port."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_port(port)
    return p


def stop_all():
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()
