# SPDX-License-Identifier: Apache-2.0
"""The README's run command and its hints, as a new user follows them:
tools/run.sh starts its setup, and every command it prints and every
command the README shows for the running daemon works against it."""
import os
import re
import select
import signal
import subprocess
import time

from conftest import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULTS = {"PORT": 22121, "TCP_PORT": 22122, "TLS_PORT": 22123, "ADMIN_PORT": 22190, "REDIS1": 22301,
            "REDIS2": 22302, "BACKEND1": 22201, "BACKEND2": 22202}


def readme_hints():
    """The commands of the README's "While run.sh runs" paragraph."""
    text = open(os.path.join(ROOT, "README.md")).read()
    para = text[text.index("While `run.sh` runs"):]
    para = para[:para.index("\n\n")]
    return [re.sub(r"\s+", " ", c) for c in re.findall(r"`([^`]+)`", para) if c != "run.sh"]


def run_sh_hints(lines):
    """The commands run.sh printed under "Try it from another terminal:"."""
    out, on = [], False
    for line in lines:
        if line.startswith("Try it from another terminal:"):
            on = True
        elif line.startswith("Ctrl-C"):
            break
        elif on and line.strip():
            out.append(re.sub(r"\s+\(.*\)\s*$", "", line.strip()))
    return out


def distinct_ports():
    """A free port for each of DEFAULTS, no two the same."""
    ports = {}
    for k in DEFAULTS:
        p = free_port()
        while p in ports.values():
            p = free_port()
        ports[k] = p
    return ports


def start_run_sh():
    """run.sh started and listening: (process, its output so far, the ports).
    A port picked at run time can be taken by another socket before the
    daemon binds it: then (and only then) it starts again on other ports."""
    for attempt in range(2):
        ports = distinct_ports()
        env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "NO_INSTALL": "1"}
        proc = subprocess.Popen(["sh", "tools/run.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        lines, deadline = [], time.monotonic() + 600   # (it builds first if it must)
        while not any(line.startswith("Ctrl-C") for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            if select.select([proc.stdout], [], [], 1)[0]:
                lines.append(proc.stdout.readline())
        deadline = time.monotonic() + 60
        waiting = [ports[k] for k in ("PORT", "TCP_PORT", "TLS_PORT", "ADMIN_PORT")]
        while waiting and proc.poll() is None and time.monotonic() < deadline:
            try:
                wait_port(waiting[0], timeout=0.5)
                waiting.pop(0)
            except AssertionError:
                pass
        if not waiting:
            return proc, lines, ports
        stop(proc)
        out = "".join(lines) + proc.stdout.read()
        assert attempt == 0 and "Address already in use" in out, \
            f"coproxy is not listening on {waiting} after 60 s:\n{out[-4000:]}"
    raise AssertionError("unreachable")


def stop(proc):
    """run.sh and what it started."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_run_sh_and_every_hint_work():
    proc, lines, ports = start_run_sh()
    try:
        run_dir = re.search(r"-s (\S+)/admin\.sock", "".join(lines)).group(1)
        printed = run_sh_hints(lines)
        assert len(printed) >= 7 and any(c.startswith("curl ") for c in printed), printed
        shown = readme_hints()
        assert len(shown) >= 6, shown
        for k, v in DEFAULTS.items():   # the README's default ports are this run's
            shown = [c.replace(str(v), str(ports[k])) for c in shown]
        shown = [c.replace("RUNDIR", run_dir) for c in shown]
        # what they run comes with run.sh: each program from a package it installs (on a fresh machine
        # nothing else is there), or built by it
        installs = " ".join(re.findall(r"^install_deps (.*)$", open(os.path.join(ROOT, "tools", "run.sh")).read(), re.M))
        for cmd in printed + shown:
            for prog in {seg.split()[0] for seg in cmd.split("|")}:
                if prog.startswith("build/") or prog in ("echo",):
                    continue
                path = subprocess.run(["sh", "-c", f"command -v {prog}"], capture_output=True, text=True).stdout.strip()
                pkg = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True,
                                     text=True).stdout.split(":")[0]
                assert pkg and re.search(r"(^|\s)" + re.escape(pkg) + r"(\s|$)", installs), \
                    f"{prog} (package {pkg or '?'}) is not installed by run.sh: {installs}"
        for cmd in printed + shown:
            r = subprocess.run(["sh", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
            out = r.stdout + r.stderr
            assert r.returncode == 0, f"{cmd}:\n{out}"
            assert out.strip() and "Could not connect" not in out and "ERR" not in out, f"{cmd}:\n{out}"
        # and they did what they say
        got = subprocess.run(["redis-cli", "-p", str(ports["PORT"]), "get", "greeting"], capture_output=True,
                             text=True, timeout=60).stdout.strip()
        assert got == "hello"
    finally:
        stop(proc)
