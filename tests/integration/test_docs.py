# SPDX-License-Identifier: Apache-2.0
"""The manual pages: they lint clean, and coproxy.conf(5) documents every
setting the daemon accepts (read from proxy/config_file.c's lists of known names)."""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(ROOT, "man")
PAGES = sorted(os.listdir(MAN))


@pytest.mark.parametrize("page", PAGES)
def test_man_page_lints_clean(page):
    path = os.path.join(MAN, page)
    r = subprocess.run(["mandoc", "-T", "lint", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MANWIDTH": "80"})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "NAME" in r.stdout and "SEE ALSO" in r.stdout


def known_settings():
    """The names in each `known` array of config_file.c (global, admin, coroutines, pool)."""
    src = open(os.path.join(ROOT, "proxy", "config_file.c")).read()
    return [re.findall(r'"(\w+)"', m.group(1))
            for m in re.finditer(r'static const char \*const \w*known\[\] = \{([^}]*)\}', src)]


def test_every_setting_is_documented():
    known = known_settings()
    assert len(known) == 4 and all(known), known
    page = open(os.path.join(MAN, "coproxy.conf.5")).read()
    documented = set(re.findall(r"^\.TP\n\.B (\w+)$", page, re.M))     # settings: a tagged paragraph each
    documented |= {w.lower() for h in re.findall(r"^\.SH (.*)$", page, re.M) for w in h.split()}   # groups: a section
    missing = {name for names in known for name in names} - documented
    assert not missing, f"settings missing from coproxy.conf(5): {sorted(missing)}"


def test_every_runtime_function_is_documented():
    api = set()
    for header in ("co_routine.h", "costack.h"):
        src = open(os.path.join(ROOT, "src", header)).read()
        api |= set(re.findall(r"^CO_API [^(]*?\b(\w+)\(", src, re.M))
    assert len(api) >= 35 and "co_create" in api and "co_fd_watch" in api, sorted(api)
    page = open(os.path.join(MAN, "libcostack.3")).read()
    documented = set(re.findall(r"^\.TP\n\.B (\w+)$", page, re.M))
    assert not api - documented, f"missing from libcostack(3): {sorted(api - documented)}"
    assert "shared" in page.lower() and "heap" in page      # the shared-stack pointer rule
