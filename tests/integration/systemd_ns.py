# SPDX-License-Identifier: Apache-2.0
"""systemd as PID 1 of a PID and mount namespace of its own, for the tests
that must see coproxy run as a service (Type=notify, systemctl reload) on a
machine whose own PID 1 is not systemd.

Inside, /run, /tmp, /var/tmp, /var/log and systemd's own state are fresh
tmpfs mounts and the units come from the test; it boots a target of its own
that pulls nothing (no tmpfiles cleaning, no other service of the host),
and `nsenter` runs systemctl in it.  The network is the host's: the test
talks to the service over loopback.  stop() kills its PID 1, and with it
everything it started."""
import os
import signal
import subprocess
import time

BOOT = r"""#!/bin/sh
set -e
mount --make-rprivate /
for d in /run /tmp /var/tmp /var/log /var/lib/systemd /etc/systemd/system; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0755 tmpfs "$d"
done
chmod 1777 /tmp /var/tmp
cp "$WORK"/units/* /etc/systemd/system/
for u in systemd-tmpfiles-setup.service systemd-tmpfiles-clean.timer systemd-tmpfiles-setup-dev.service; do
    ln -sf /dev/null "/etc/systemd/system/$u"
done
mount --bind "$WORK/passwd" /etc/passwd
mount --bind "$WORK/group" /etc/group
mount -t tmpfs -o mode=0755 cgroup_root /sys/fs/cgroup
if grep -q cgroup2 /proc/filesystems && mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; then :; else
    mkdir -p /sys/fs/cgroup/systemd
    mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
fi
exec /lib/systemd/systemd --system --unit=coproxy-test.target --log-target=console --log-level=notice </dev/null
"""

TARGET = """[Unit]
Description=what the tests boot: nothing but what they start
DefaultDependencies=no
"""


class SystemdNamespace:
    """units: {name: text}; users: system users the units run as (added to a
    copy of /etc/passwd that only the namespace sees)."""

    def __init__(self, workdir, units, users=()):
        self.work = workdir
        os.makedirs(os.path.join(workdir, "units"), exist_ok=True)
        for name, text in dict(units, **{"coproxy-test.target": TARGET}).items():
            with open(os.path.join(workdir, "units", name), "w") as f:
                f.write(text)
        with open("/etc/passwd") as f:
            passwd = f.read()
        with open("/etc/group") as f:
            group = f.read()
        for i, user in enumerate(users):
            uid = 990 - i
            passwd += f"{user}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"
            group += f"{user}:x:{uid}:\n"
        for name, text in (("passwd", passwd), ("group", group), ("boot.sh", BOOT)):
            with open(os.path.join(workdir, name), "w") as f:
                f.write(text)
        os.chmod(os.path.join(workdir, "boot.sh"), 0o755)
        self.log = open(os.path.join(workdir, "systemd.log"), "wb")
        self.proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount", "--mount-proc",
                                      os.path.join(workdir, "boot.sh")], env={**os.environ, "WORK": workdir},
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.pid = self._init_pid()
            if self.pid and self.ctl("is-system-running", check=False).stdout.strip() in ("running", "degraded"):
                return
            assert self.proc.poll() is None, "systemd did not start:\n" + self.output()
            time.sleep(0.2)
        self.stop()
        raise AssertionError("systemd did not come up within 60 s:\n" + self.output())

    def _init_pid(self):
        """systemd: unshare's child, PID 1 inside."""
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = f.read().split()
        except FileNotFoundError:
            return None
        for k in kids:
            try:
                with open(f"/proc/{k}/comm") as f:
                    if f.read().strip() == "systemd":
                        return int(k)
            except FileNotFoundError:
                pass
        return None

    def run(self, *cmd, check=True, timeout=120):
        """cmd in the namespace (its mounts and PIDs)."""
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", *cmd], capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            units = [a for a in cmd if a.endswith(".service")]
            status = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "systemctl", "--no-pager", "-l",
                                     "status", *units], capture_output=True, text=True, timeout=60).stdout
            raise AssertionError(f"{cmd}: {r.stdout}{r.stderr}\n{status[-3000:]}\n{self.output()}")
        return r

    def ctl(self, *args, check=True):
        return self.run("systemctl", "--no-pager", *args, check=check)

    def show(self, unit, prop):
        return self.ctl("show", "-p", prop, "--value", unit).stdout.strip()

    def output(self):
        with open(os.path.join(self.work, "systemd.log"), errors="replace") as f:
            return f.read()[-4000:]

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)   # PID 1 of its namespace: every process in it goes too
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
