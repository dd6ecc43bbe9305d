#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""callgraph.py — draws the daemon's call and include graphs from the code
and says whether they go one way.

    tools/callgraph.py BUILD_DIR [--dot FILE] [--path FUNC...]

Each .c of src/, proxy/, stats/ and daemon/ is compiled by gcc with
-fcallgraph-info (BUILD_DIR gives config.h); every direct call becomes an
edge between the file that calls and the file that defines the callee (a
static inline function counts for the header it sits in). Calls through
function pointers are not edges: that is how a lower file reports to the one
above it. The same is done for #include "..." lines.

It fails (exit 1) when the call graph or the include graph of the daemon's
files (proxy/, stats/, daemon/) has a loop, when a folder calls or includes
a folder above it (asm <- src <- proxy <- stats <- daemon), or when a
function a file exports does not carry the file's prefix, or when a file
of the daemon is over 900 lines.  Loops inside the
runtime library (src/) are listed but not held against the daemon.
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ["asm", "src", "proxy", "stats", "daemon"]
# a folder may use the folders of a lower rank only
RANK = {"asm": 0, "src": 1, "proxy": 2, "stats": 3, "daemon": 4}
# the admin client is a program of its own, not part of the daemon
RUNTIME = "src/"
SKIP = {"stats/coproxyctl.c", "stats/kstats.bpf.c"}

NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"\\]+)\\n([^:"]+):\d+:\d+"( shape : ellipse)?')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)" label: "([^:"]+):(\d+)')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def rel(path):
    path = os.path.normpath(path)
    if path.startswith(ROOT + os.sep):
        return path[len(ROOT) + 1:]
    return None


def sources():
    out = []
    for folder in FOLDERS:
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            path = folder + "/" + name
            if name.endswith(".c") and path not in SKIP:
                out.append(path)
    return out


def compile_all(build, tmp):
    flags = ["-O0", "-w", "-fcallgraph-info", "-I" + build,
             "-I" + os.path.join(build, "stats")]
    flags += ["-I" + os.path.join(ROOT, f) for f in FOLDERS]
    flags += ['-DCOPROXY_VERSION="graph"', '-DCOPROXY_SYSCONFDIR="/etc"']
    for lib in ("libconfig", "libsystemd"):
        cf = subprocess.run(["pkg-config", "--cflags", lib], capture_output=True, text=True)
        flags += cf.stdout.split()
    cis = []
    for src in sources():
        stem = src.replace("/", "__")[:-2]
        obj = os.path.join(tmp, stem + ".o")
        r = subprocess.run(["gcc"] + flags + ["-c", os.path.join(ROOT, src), "-o", obj],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("callgraph: gcc failed on %s:\n%s" % (src, r.stderr))
        cis.append((src, os.path.join(tmp, stem + ".ci")))
    return cis


EXPORTED = {}    # a daemon file's functions other files may call -> their file


def read_calls(cis):
    """Maps (caller file, callee file) to a sample call."""
    defined = {}          # global function name -> file defining it
    declared = {}         # name -> header it was seen in (static inline ones)
    raw = []
    for src, ci in cis:
        with open(ci) as f:
            text = f.read()
        for title, name, loc, ellipse in NODE.findall(text):
            where = rel(loc)
            if where is None:
                continue
            if not ellipse:
                defined[title] = where
                if ":" not in title and where.endswith(".c"):
                    EXPORTED[title] = where
            else:
                declared.setdefault(title, where)
        for caller, callee, loc, line in EDGE.findall(text):
            raw.append((caller, callee, rel(loc), line))
    calls = {}
    for caller, callee, loc, line in raw:
        if loc is None:
            continue
        to = defined.get(callee)
        if to is None:
            decl = declared.get(callee)
            # a static inline function lives in its header
            if decl is not None and decl.endswith(".h"):
                to = decl
        if to is None or to == loc:
            continue
        name = callee.split(":")[-1]
        calls.setdefault((loc, to), "%s:%s calls %s" % (loc, line, name))
    return calls


def read_includes():
    inc = {}
    files = []
    for folder in FOLDERS:
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            path = folder + "/" + name
            if name.endswith((".c", ".h")) and path not in SKIP:
                files.append(path)
    known = set(files)
    for path in files:
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        for target in INCLUDE.findall(text):
            here = os.path.dirname(path) + "/" + target
            if here in known:
                to = here
            else:
                hits = [k for k in known if k.endswith("/" + target)]
                if len(hits) != 1:
                    continue       # a generated or system header
                to = hits[0]
            if to != path:
                inc.setdefault((path, to), "%s includes %s" % (path, target))
    return inc


def loops(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        work = [(v, iter(graph[v]))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(graph[w])))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def prefixes(path):
    """The prefixes a file's exported functions carry: its name (redis_route.c:
    route_ too, the mode's prefix dropped; worker_ctx.c: worker_ too, its
    family's)."""
    stem = os.path.basename(path)[:-2]
    out = {stem + "_", stem.split("_")[0] + "_"}
    if stem.startswith("redis_"):
        out.add(stem[len("redis_"):] + "_")
    out |= set(PREFIX_ALSO.get(stem, []))
    return out


# a file whose name is not its functions' prefix
PREFIX_ALSO = {"hashkit": ["hash_"]}


def misnamed():
    bad = []
    for name, path in sorted(EXPORTED.items()):
        if path.split("/")[0] not in ("proxy", "stats") or name == "main":
            continue
        stem = os.path.basename(path)[:-2]
        if name != stem and not any(name.startswith(p) for p in prefixes(path)):
            bad.append("%s exports %s (wants a prefix: %s)" % (path, name, ", ".join(sorted(prefixes(path)))))
    return bad


MAX_LINES = 900


def too_long():
    out = []
    for folder in ("proxy", "stats", "daemon"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            path = folder + "/" + name
            if name.endswith((".c", ".h")):
                with open(os.path.join(ROOT, path)) as f:
                    n = sum(1 for _ in f)
                if n > MAX_LINES:
                    out.append("%s has %d lines (at most %d)" % (path, n, MAX_LINES))
    return out


def upward(edges):
    bad = []
    for (a, b), why in sorted(edges.items()):
        fa, fb = a.split("/")[0], b.split("/")[0]
        if RANK[fb] > RANK[fa] or (RANK[fb] == RANK[fa] and fa != fb):
            bad.append(why)
    return bad


def report(kind, edges):
    ok = True
    for comp in loops(edges):
        if all(f.startswith(RUNTIME) for f in comp):
            # the runtime library's own files: shown, not held against the daemon
            print("runtime loop (%s graph, %d files of src/, not checked): %s"
                  % (kind, len(comp), " ".join(comp)))
            continue
        ok = False
        print("LOOP in the %s graph among %d files: %s" % (kind, len(comp), " ".join(comp)))
        for (a, b), why in sorted(edges.items()):
            if a in comp and b in comp:
                print("    " + why)
    for why in upward(edges):
        ok = False
        print("UPWARD %s: %s" % (kind, why))
    files = {f for e in edges for f in e}
    print("%s graph: %d files, %d arrows, %s" % (kind, len(files), len(edges),
                                                "one way" if ok else "NOT one way"))
    return ok


def write_dot(path, calls):
    with open(path, "w") as f:
        f.write("digraph calls {\n  rankdir=TB; node [shape=box,fontsize=10];\n")
        for a, b in sorted(calls):
            f.write('  "%s" -> "%s";\n' % (a, b))
        f.write("}\n")


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    build = os.path.abspath(args[0])
    if not os.path.exists(os.path.join(build, "config.h")):
        sys.exit("callgraph: %s has no config.h: run configure there first" % build)
    dot = None
    if "--dot" in args:
        dot = args[args.index("--dot") + 1]
    with tempfile.TemporaryDirectory() as tmp:
        calls = read_calls(compile_all(build, tmp))
    includes = read_includes()
    if dot:
        write_dot(dot, calls)
    ok = report("call", calls)
    ok = report("include", includes) and ok
    bad = misnamed()
    for why in bad:
        print("NAME: " + why)
    print("names: %d exported functions, %d without their file's prefix" % (len(EXPORTED), len(bad)))
    ok = ok and not bad
    long_files = too_long()
    for why in long_files:
        print("LONG: " + why)
    ok = ok and not long_files
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
