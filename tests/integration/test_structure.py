# SPDX-License-Identifier: Apache-2.0
"""The daemon's structure: its files call and include each other one way
(tools/callgraph.py, over gcc's call graph of the code), and the checker
itself sees a loop, an upward call and a misnamed function when there is one."""
import importlib.util
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "callgraph.py")
BUILD = os.environ.get("COPROXY_BUILD", os.path.join(ROOT, "build"))


def load_tool():
    spec = importlib.util.spec_from_file_location("callgraph", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_daemon_call_and_include_graphs_go_one_way():
    r = subprocess.run(["/usr/bin/python3", TOOL, BUILD], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "call graph:" in r.stdout and "include graph:" in r.stdout
    for line in r.stdout.splitlines():
        if line.startswith(("call graph:", "include graph:")):
            assert line.endswith("one way") and "NOT" not in line, line
    # it did look at the request path's files
    assert int(r.stdout.split("call graph: ")[1].split(" files")[0]) >= 40, r.stdout


def test_checker_finds_a_loop_and_an_upward_call():
    cg = load_tool()
    edges = {("proxy/a.c", "proxy/b.c"): "a calls b", ("proxy/b.c", "proxy/c.c"): "b calls c",
             ("proxy/c.c", "proxy/a.c"): "c calls a", ("proxy/c.c", "proxy/d.c"): "c calls d"}
    assert cg.loops(edges) == [["proxy/a.c", "proxy/b.c", "proxy/c.c"]]
    del edges[("proxy/c.c", "proxy/a.c")]
    assert cg.loops(edges) == []
    assert cg.upward({("src/co_x.c", "proxy/worker.c"): "up"}) == ["up"]
    assert cg.upward({("stats/admin.c", "daemon/main.c"): "up"}) == ["up"]
    assert cg.upward({("daemon/main.c", "stats/admin.c"): "down"}) == []


def test_checker_finds_a_function_without_its_files_prefix():
    cg = load_tool()
    cg.EXPORTED.clear()
    cg.EXPORTED.update({"route_keys": "proxy/redis_route.c", "worker_now_ms": "proxy/worker_ctx.c",
                        "send_whole": "proxy/redis_route.c"})
    bad = cg.misnamed()
    assert len(bad) == 1 and "send_whole" in bad[0], bad
