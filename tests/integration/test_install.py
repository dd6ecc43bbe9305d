# SPDX-License-Identifier: Apache-2.0
"""Installation: `make install` into a DESTDIR puts every file where it
belongs, the systemd unit passes `systemd-analyze verify` with a security
exposure of at most 1.2, and, run by systemd, `systemctl reload` under load
upgrades it with nothing lost and nothing restarted."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, free_port, wait_port
from redis_util import RedisProc, redis_config
from systemd_ns import SystemdNamespace
from test_upgrade import Connector, RedisLoad

UNIT_TARGET = 1.2


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["make", "-C", BUILD, "-s", "install", f"DESTDIR={dest}"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest


def prefix_of(dest):
    """The configured prefix (where coproxy went under DESTDIR)."""
    found = [os.path.dirname(p) for p, _, files in os.walk(dest) if "coproxy" in files
             and p.endswith("sbin")]
    assert len(found) == 1, found
    return found[0]


def test_install_tree(destdir):
    prefix = prefix_of(str(destdir))
    want = ["sbin/coproxy", "bin/coproxyctl", "etc/coproxy/coproxy.conf",
            "include/costack/co_routine.h", "include/costack/co_routine_specific.h", "include/costack/costack.h",
            "lib/pkgconfig/libcostack.pc", "share/man/man8/coproxy.8", "share/man/man5/coproxy.conf.5",
            "share/man/man1/coproxyctl.1", "share/man/man3/libcostack.3",
            "share/doc/coproxy/coproxy-privileged-ports.conf", "share/doc/coproxy/coproxy-kernel-stats.conf"]
    for rel in want:
        assert os.path.isfile(os.path.join(prefix, rel)), rel
    libs = os.listdir(os.path.join(prefix, "lib"))
    assert any(re.match(r"libcostack\.so\.\d+", f) for f in libs) and "libcostack.so" in libs
    assert os.access(os.path.join(prefix, "sbin/coproxy"), os.X_OK)
    units = [os.path.join(p, f) for p, _, files in os.walk(destdir) for f in files if f == "coproxy.service"]
    assert len(units) == 1 and units[0].endswith("/systemd/system/coproxy.service"), units
    unit = open(units[0]).read()
    real_prefix = prefix[len(str(destdir)):]
    assert f"ExecStart={real_prefix}/sbin/coproxy -c {real_prefix}/etc/coproxy/coproxy.conf" in unit
    assert re.search(r"@[a-z]+@", unit) is None             # every placeholder filled in
    # the installed sample configuration is valid as installed
    r = subprocess.run([os.path.join(BUILD, "coproxy"), "-t", "-c", os.path.join(prefix, "etc/coproxy/coproxy.conf")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_libco_example_shapes_build_against_the_installed_library(destdir, tmp_path):
    """libco's echo server (co_accept declared by the program, in C++) and
    specific-data example shapes, compiled with only the installed headers
    and linked with the installed library, run."""
    prefix = prefix_of(str(destdir))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    exe = str(tmp_path / "examples")
    r = subprocess.run(["g++", "-O1", "-I", os.path.join(prefix, "include/costack"),
                        "-I", os.path.join(root, "tests/unit"),   # (unit.h: CHECK)
                        os.path.join(root, "tests/unit/test_libco_examples.cc"), "-o", exe,
                        "-L", os.path.join(prefix, "lib"), "-lcostack", "-lpthread", "-ldl"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([exe], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "LD_LIBRARY_PATH": os.path.join(prefix, "lib")})
    assert r.returncode == 0 and "ran" in r.stdout, r.stdout + r.stderr


def unit_in_destdir(destdir, tmp_path):
    """The installed unit with its paths pointing into DESTDIR, so that
    systemd-analyze finds the binaries and manual pages it names."""
    prefix = prefix_of(str(destdir))
    real_prefix = prefix[len(str(destdir)):]
    unit = [os.path.join(p, f) for p, _, files in os.walk(destdir) for f in files if f == "coproxy.service"][0]
    text = open(unit).read().replace(f"{real_prefix}/", f"{prefix}/")
    out = tmp_path / "coproxy.service"
    out.write_text(text)
    return out, os.path.join(prefix, "share/man")


def exposure(unit_dir, name="coproxy.service"):
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit_dir / name)],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
    assert m, r.stdout + r.stderr
    return float(m.group(1))


def test_unit_verifies_and_meets_the_security_target(destdir, tmp_path):
    unit, manpath = unit_in_destdir(destdir, tmp_path)
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "MANPATH": manpath})
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    assert exposure(tmp_path) <= UNIT_TARGET
    text = unit.read_text()
    for setting in ("Type=notify", "ExecReload=/bin/kill -USR2 $MAINPID", "RuntimeDirectory=coproxy",
                    "User=coproxy", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                    "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "MemoryDenyWriteExecute=yes",
                    "LockPersonality=yes", "SystemCallFilter=@system-service", "RestrictAddressFamilies=",
                    "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes"):
        assert setting in text, setting
    assert int(re.search(r"LimitNOFILE=(\d+)", text).group(1)) >= 65536


def test_kernel_stats_drop_in(destdir, tmp_path):
    """With the BPF drop-in (CAP_BPF and CAP_PERFMON, bpf(2) allowed back) the
    unit still verifies; its exposure is what the drop-in says."""
    unit, manpath = unit_in_destdir(destdir, tmp_path)
    drop = os.path.join(prefix_of(str(destdir)), "share/doc/coproxy/coproxy-kernel-stats.conf")
    merged = unit.read_text().replace("\n[Install]", open(drop).read().split("[Service]", 1)[1] + "\n[Install]")
    (tmp_path / "bpf.service").write_text(merged)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "bpf.service")], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "MANPATH": manpath})
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    assert "AmbientCapabilities=CAP_BPF CAP_PERFMON" in merged and "SystemCallFilter=bpf" in merged
    said = float(re.search(r"rates the result (\d+\.\d)", open(drop).read()).group(1))
    assert exposure(tmp_path, "bpf.service") == said


def test_privileged_ports_drop_in(destdir, tmp_path):
    """With the drop-in (low ports: CAP_NET_BIND_SERVICE, no private user
    namespace) the unit still verifies; its exposure is what the drop-in says."""
    unit, manpath = unit_in_destdir(destdir, tmp_path)
    drop = os.path.join(prefix_of(str(destdir)), "share/doc/coproxy/coproxy-privileged-ports.conf")
    merged = unit.read_text().replace("\n[Install]", open(drop).read().split("[Service]", 1)[1] + "\n[Install]")
    (tmp_path / "low.service").write_text(merged)
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in merged
    said = float(re.search(r"rates the result (\d+\.\d)", open(drop).read()).group(1))
    assert exposure(tmp_path, "low.service") == said


@pytest.fixture
def installed_outside_tmp():
    """`make install` into a DESTDIR under /var/lib: a service with
    PrivateTmp=yes sees nothing under /tmp.  Removed at the end."""
    dest = tempfile.mkdtemp(prefix="coproxy-systemd-test.", dir="/var/lib")
    os.chmod(dest, 0o755)   # (the service's user reads its binary and configuration there)
    try:
        r = subprocess.run(["make", "-C", BUILD, "-s", "install", f"DESTDIR={dest}"], capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_systemctl_reload_under_load_restarts_nothing(installed_outside_tmp, tmp_path):
    """The installed unit, run by systemd (PID 1 of a namespace of the test's
    own: tests/integration/systemd_ns.py): `systemctl reload coproxy`, three
    times while pipelined clients check their values and others connect in a
    loop, hands the service to a new process each time (MainPID moves, the
    old one exits) with no refused connect, no wrong or lost reply, and no
    restart of the unit."""
    dest = installed_outside_tmp
    prefix = prefix_of(dest)
    real_prefix = prefix[len(dest):]
    unit = [os.path.join(p, f) for p, _, files in os.walk(dest) for f in files if f == "coproxy.service"][0]
    text = open(unit).read().replace(f"{real_prefix}/", f"{prefix}/")
    # what this namespace lacks: the network targets, the host's early boot; the library is not in ld.so's path
    text = "\n".join(l for l in text.splitlines() if not l.startswith(("After=network", "Wants=network")))
    text = text.replace("[Unit]\n", "[Unit]\nDefaultDependencies=no\n", 1)
    text = text.replace("[Service]\n", f"[Service]\nEnvironment=LD_LIBRARY_PATH={prefix}/lib\n", 1)
    backends = [RedisProc(tmp_path) for _ in range(2)]
    port = free_port()
    with open(os.path.join(prefix, "etc/coproxy/coproxy.conf"), "w") as f:
        f.write(redis_config(port, [b.port for b in backends], threads=2))
    work = os.path.join(dest, "ns")
    ns = None
    try:
        ns = SystemdNamespace(work, {"coproxy.service": text}, users=["coproxy"])
        ns.ctl("start", "coproxy.service")
        wait_port(port, timeout=30)
        assert ns.show("coproxy.service", "ActiveState") == "active"
        clients = [RedisLoad(port, f"c{i}") for i in range(4)]
        conn = Connector(port)
        for t in clients + [conn]:
            t.start()
        time.sleep(1)
        pids = [ns.show("coproxy.service", "MainPID")]
        for _ in range(3):
            ns.ctl("reload", "coproxy.service")
            deadline = time.monotonic() + 90
            while ns.show("coproxy.service", "MainPID") in pids:
                assert time.monotonic() < deadline, "MainPID did not move:\n" + ns.output()
                time.sleep(0.1)
            pids.append(ns.show("coproxy.service", "MainPID"))
            while ns.run("test", "-d", f"/proc/{pids[-2]}", check=False).returncode == 0:
                assert time.monotonic() < deadline, f"the old process {pids[-2]} did not exit"
                time.sleep(0.1)
            time.sleep(0.5)
        for t in clients + [conn]:
            t.stop.set()
        for t in clients + [conn]:
            t.join(60)
        for c in clients:
            assert c.failures == [] and c.refused == 0, (c.name, c.failures[:3], c.refused)
            assert c.done > 100
        assert conn.refused == 0 and conn.failures == [] and conn.done > 20, vars(conn)
        assert len(set(pids)) == 4
        assert ns.show("coproxy.service", "ActiveState") == "active"
        assert ns.show("coproxy.service", "NRestarts") == "0"
    finally:
        if ns is not None:
            ns.stop()
        for b in backends:
            b.stop()
