# SPDX-License-Identifier: Apache-2.0
"""The Debian package: `dpkg-buildpackage -us -uc -b` builds coproxy,
libcostack0 and libcostack-dev from a clean copy of the tree, lintian finds
no error, and `dpkg -i` installs them (the coproxy user is created); the
packages are purged again at the end."""
import glob
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ["coproxy", "libcostack0", "libcostack-dev"]


def clean_copy(dst):
    """The tracked and new (not ignored) files, as a fresh clone has them."""
    if os.path.isdir(os.path.join(ROOT, ".git")) or os.path.isfile(os.path.join(ROOT, ".git")):
        files = subprocess.run(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard", "-z"],
                               capture_output=True, check=True, timeout=60).stdout.split(b"\0")
        for f in filter(None, (x.decode() for x in files)):
            src = os.path.join(ROOT, f)
            if os.path.isfile(src):
                os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
                shutil.copy2(src, os.path.join(dst, f))
    else:
        shutil.copytree(ROOT, dst, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("build*", "autom4te.cache", "*.o", "*.lo"))


def test_deb_builds_lints_and_installs(tmp_path):
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "coproxy"], capture_output=True, text=True,
                               timeout=60).stdout
    assert "installed" not in installed, "a coproxy package is installed here already: this test would replace it"
    src = tmp_path / "coproxy"
    clean_copy(str(src))
    env = {**os.environ, "DEB_BUILD_OPTIONS": "nocheck parallel=%d" % (os.cpu_count() or 2)}
    r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, capture_output=True, text=True,
                       timeout=1200, env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    debs = {os.path.basename(p).split("_")[0]: p for p in glob.glob(str(tmp_path / "*.deb"))}
    assert set(PACKAGES) <= set(debs), debs
    contents = subprocess.run(["dpkg-deb", "-c", debs["coproxy"]], capture_output=True, text=True,
                              check=True, timeout=60).stdout
    for path in ("./usr/sbin/coproxy", "./usr/bin/coproxyctl", "./etc/coproxy/coproxy.conf",
                 "./lib/systemd/system/coproxy.service", "./usr/share/man/man8/coproxy.8.gz",
                 "./usr/share/man/man5/coproxy.conf.5.gz", "./usr/share/man/man1/coproxyctl.1.gz"):
        assert path in contents, path
    dev = subprocess.run(["dpkg-deb", "-c", debs["libcostack-dev"]], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert "costack/co_routine.h" in dev and "libcostack.pc" in dev and "man3/libcostack.3.gz" in dev
    changes = glob.glob(str(tmp_path / "*.changes"))
    lint = subprocess.run(["lintian", "--no-tag-display-limit", *changes], capture_output=True, text=True,
                          timeout=600)
    errors = [line for line in lint.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], lint.stdout
    try:
        r = subprocess.run(["dpkg", "-i", debs["libcostack0"], debs["libcostack-dev"], debs["coproxy"]],
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        assert r.returncode == 0, r.stdout + r.stderr
        assert subprocess.run(["getent", "passwd", "coproxy"], capture_output=True, timeout=30).returncode == 0
        r = subprocess.run(["/usr/sbin/coproxy", "-t", "-c", "/etc/coproxy/coproxy.conf"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["pkg-config", "--cflags", "--libs", "libcostack"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and "-lcostack" in r.stdout
    finally:
        subprocess.run(["dpkg", "-P", *PACKAGES], capture_output=True, timeout=300)
