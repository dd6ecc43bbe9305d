# SPDX-License-Identifier: Apache-2.0
"""The license: Apache 2.0 in LICENSE, an SPDX line at the top of every
source file, debian/copyright in DEP-5 form naming the same licenses, and
the BPF program dual-licensed as the kernel requires."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DUAL = {"stats/kstats.bpf.c", "stats/kstats_bpf.h"}   # loaded into the kernel: "Dual BSD/GPL"
SCRIPTS = {"bootstrap", ".ci/run", "debian/rules", "debian/coproxy.postinst", "debian/coproxy.postrm",
           "Makefile.am", "configure.ac"}
SKIP_DIRS = {".git", "node_modules", "autom4te.cache", "__pycache__"}


def source_files():
    """Every file the project writes as code: C, assembly, C++, Python, shell,
    JavaScript, autotools and packaging scripts, templates, manual pages."""
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                               check=True, timeout=60).stdout.split()
    except (OSError, subprocess.CalledProcessError):   # not a git checkout: the tree as it is
        names = []
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
            names += [os.path.relpath(os.path.join(d, f), ROOT) for f in files]
    for n in names:
        if (n.endswith((".c", ".h", ".cc", ".S", ".py", ".sh", ".mjs", ".in")) or n in SCRIPTS
                or n.startswith("man/")) and os.path.isfile(os.path.join(ROOT, n)):
            yield n


def test_the_license_is_apache_2():
    text = open(os.path.join(ROOT, "LICENSE")).read()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_every_source_file_has_its_spdx_line():
    files = list(source_files())
    assert len(files) > 150 and "proxy/redis_client.c" in files and "tools/test.sh" in files
    missing = []
    for f in files:
        head = open(os.path.join(ROOT, f), errors="replace").read().split("\n")[:3]
        want = "GPL-2.0-only OR BSD-2-Clause" if f in DUAL else "Apache-2.0"
        if not any(re.search(r"SPDX-License-Identifier: " + re.escape(want) + r"( |$|\*/)", line) for line in head):
            missing.append(f)
    assert not missing, f"without 'SPDX-License-Identifier' in their first lines: {missing}"


def test_the_bpf_program_declares_the_license_the_kernel_requires():
    src = open(os.path.join(ROOT, "stats", "kstats.bpf.c")).read()
    assert re.search(r'char LICENSE\[\] SEC\("license"\) = "Dual BSD/GPL";', src)


def test_debian_copyright_is_dep5_with_those_licenses():
    text = open(os.path.join(ROOT, "debian", "copyright")).read()
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    header = paragraphs[0]
    assert header.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    files = {}
    standalone = set()
    for p in paragraphs[1:]:
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", p, re.M))
        if "Files" in fields:
            assert fields.get("Copyright") and fields.get("License"), p
            files[fields["Files"]] = fields["License"]
        else:
            standalone.add(fields["License"])
    assert files["*"] == "Apache-2.0"
    assert files["stats/kstats.bpf.c stats/kstats_bpf.h"].startswith("GPL-2.0-only or BSD-2-Clause")
    assert "Apache-2.0" in standalone   # its text (or where Debian keeps it) follows
