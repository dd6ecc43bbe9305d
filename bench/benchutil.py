# SPDX-License-Identifier: Apache-2.0
"""benchutil.py — what the Python benchmarks share: ports, a process's CPU time and RSS, data files."""
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


def data_arg(argv):
    """Takes `--data FILE` out of argv (in place) and returns FILE, or None."""
    if "--data" not in argv:
        return None
    i = argv.index("--data")
    if i + 1 >= len(argv):
        raise SystemExit("--data needs a file name")
    path = argv[i + 1]
    del argv[i:i + 2]
    return path


def machine():
    """One line naming the machine and the day: CPU model, CPUs, architecture, date
    (bench/run.sh writes the same line for its own data files)."""
    model = os.uname().machine
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{model}, {os.cpu_count()} CPUs, {os.uname().machine}, {time.strftime('%Y-%m-%d')}"


def write_dat(path, notes, columns, rows):
    """Writes a table for gnuplot (bench/charts.gp): `# machine: ...`, then
    `# ` notes (the first, `run: ...`, says what produced it), a `# ` line
    naming the columns, then one line per row, whitespace between columns.
    A string with spaces is quoted; None (not measured) is written NaN."""
    def cell(v):
        if v is None:
            return "NaN"
        if isinstance(v, float):
            return f"{v:.3f}"
        v = str(v)
        return f'"{v}"' if " " in v else v
    with open(path, "w") as f:
        f.write(f"# machine: {machine()}\n")
        for n in notes:
            f.write(f"# {n}\n")
        f.write("# " + " ".join(columns) + "\n")
        for r in rows:
            f.write(" ".join(cell(v) for v in r) + "\n")


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
