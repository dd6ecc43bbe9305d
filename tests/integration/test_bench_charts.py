# SPDX-License-Identifier: Apache-2.0
"""The benchmarks' charts: bench/run.sh writes its switch figures as data
files and draws them (bench/charts.gp, gnuplot), the script draws every
chart from data files in the format bench/redis.py and bench/tcp.py write,
and every chart the READMEs show is a real PNG in the tree, its data beside it."""
import importlib.util
import os
import re
import shlex
import shutil
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("COPROXY_BUILD", os.path.join(ROOT, "build"))
CHARTS = os.path.join(ROOT, "bench", "charts")
# chart: its size (bench/charts.gp's terminal) and the data files it is drawn from
DRAWN = {"switch.png": ((1000, 600), ["switch.dat"]),
         "shared_stack.png": ((1000, 600), ["shared_stack.dat", "libaco_published.dat"]),
         "shared_stack_instructions.png": ((1000, 600), ["shared_stack_instructions.dat",
                                                         "libaco_instructions.dat"]),
         "redis_cpu.png": ((1100, 860), ["redis.dat"]),
         "tcp.png": ((1000, 600), ["tcp.dat"])}


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails unless the file is one."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", head[8:16])
    assert kind == b"IHDR" and length == 13, f"{path}: no IHDR chunk first"
    return struct.unpack(">II", head[16:24])


def assert_chart(path, size):
    assert os.path.isfile(path), f"{path} was not drawn"
    assert os.path.getsize(path) > 2000, f"{path} is too small to hold a chart"
    assert png_size(path) == size, (path, png_size(path))


def draw(directory):
    r = subprocess.run(["gnuplot", "-e", f"dir='{directory}'", os.path.join(ROOT, "bench", "charts.gp")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def rows(path):
    """The rows of a data file, a list of columns each ("quoted words" one column)."""
    return [shlex.split(line) for line in open(path) if line.strip() and not line.startswith("#")]


def load_benchutil():
    # loaded by path: adding bench/ to sys.path would let bench/redis.py shadow the redis package
    spec = importlib.util.spec_from_file_location("benchutil", os.path.join(ROOT, "bench", "benchutil.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_run_sh_writes_the_switch_figures_and_draws_them(tmp_path):
    out = tmp_path / "charts"
    env = {**os.environ, "BENCH_ONLY": "switch", "BENCH_SWITCH_N": "200000"}
    r = subprocess.run(["sh", os.path.join(ROOT, "bench", "run.sh"), BUILD, str(out)], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "== bench/park" not in r.stdout and "== bench/redis.py" not in r.stdout   # only the section named

    switch = rows(out / "switch.dat")
    assert [c[0] for c in switch] == ["private stack", "shared stack, no copy", "swapcontext"], switch
    assert all(float(c[-1]) > 0 for c in switch)
    shared = rows(out / "shared_stack.dat")
    assert len(shared) == 8 and all(len(c) == 4 for c in shared), shared
    saved = [int(c[0]) for c in shared]
    assert saved == sorted(saved) and saved[-1] >= 3000, saved
    assert len(rows(out / "libaco_published.dat")) == 12
    notes = open(out / "switch.dat").read()
    assert re.search(r"^# machine: .+, \d+ CPUs, .+, \d{4}-\d\d-\d\d$", notes, re.M), notes
    assert "# run: bench/switch 200000" in notes

    assert_chart(out / "switch.png", DRAWN["switch.png"][0])
    assert_chart(out / "shared_stack.png", DRAWN["shared_stack.png"][0])
    assert not (out / "redis_cpu.png").exists() and not (out / "tcp.png").exists()   # no data: no chart
    assert f"  {out}/switch.png" in r.stdout

    asan = "#define CO_ASAN 1" in open(os.path.join(BUILD, "config.h")).read()
    if asan:   # valgrind cannot run a sanitizer build: run.sh says so and goes on
        assert "valgrind cannot run" in r.stdout, r.stdout[-3000:]
    elif shutil.which("valgrind"):
        # the callgrind table: private, shared/0, then by size, swapcontext last
        table = r.stdout.split("instructions per resume+yield round trip\n")[1].split("\n\n")[0].split("\n")
        names = [line.split()[0] for line in table]
        assert names[0] == "private" and names[-1] == "swapcontext", names
        sizes = [int(n.split("/")[1]) for n in names[1:-1]]
        assert sizes[0] == 0 and sizes == sorted(sizes) and len(sizes) == 9, names
        assert [c[0] for c in rows(out / "switch_instructions.dat")] == [c[0] for c in switch]
        assert len(rows(out / "shared_stack_instructions.dat")) > 100
        assert_chart(out / "shared_stack_instructions.png", DRAWN["shared_stack_instructions.png"][0])


def test_charts_gp_draws_every_chart_from_its_data(tmp_path):
    bu = load_benchutil()
    # as bench/run.sh writes them
    (tmp_path / "switch.dat").write_text('# machine: test\n# run: test\n# case ns_per_roundtrip\n'
                                         '"private stack" 12.0\n"shared stack, no copy" 12.5\nswapcontext 600\n')
    (tmp_path / "switch_instructions.dat").write_text('# case instructions_per_roundtrip\n"private stack" 69\n'
                                                      '"shared stack, no copy" 69\nswapcontext 114\n')
    (tmp_path / "shared_stack.dat").write_text("".join(f"{b} {20 + b / 40} {30 + b / 7} {b}\n"
                                                       for b in (80, 208, 1008, 4000)))
    (tmp_path / "libaco_published.dat").write_text("8 33.2\n232 59.9\n4072 594.0\n")
    (tmp_path / "shared_stack_instructions.dat").write_text("".join(f"{b} {140 + b / 6}\n"
                                                                    for b in range(80, 4097, 16)))
    shutil.copy(os.path.join(ROOT, "bench", "libaco_instructions.dat"), tmp_path)
    # as bench/redis.py --data and bench/tcp.py --data write them
    targets = ["redis", "twemproxy", "coproxy-1", "coproxy-2", "coproxy-1_RESP3"]
    bu.write_dat(str(tmp_path / "redis.dat"), ["run: test"],
                 ["test", "clients", "pipeline", "size"] + [f"{t}_{w}" for t in targets for w in ("ops", "cpu")],
                 [[t, c, p, d] + [v for i in range(5) for v in (90000.0 + i, None if i == 0 else 10.0 / p + i)]
                  for c, p in ((50, 1), (50, 16), (1000, 1)) for d in (3, 1024) for t in ("set", "get")])
    bu.write_dat(str(tmp_path / "tcp.dat"), ["run: test"],
                 ["target", "gbit_s", "cpu_s_per_gb", "round_trips_s", "cpu_s_per_m_round_trips", "idle_rss_b"],
                 [["direct", 30.0, None, 90000.0, None, None], ["relay_epoll", 12.0, 0.6, 60000.0, 13.0, None],
                  ["haproxy", 12.0, 0.63, 57000.0, 15.7, 3323.0], ["coproxy", 22.0, 0.16, 57000.0, 13.4, 954.0]])
    assert rows(tmp_path / "redis.dat")[4][:4] == ["set", "50", "16", "3"]
    assert "NaN" in rows(tmp_path / "tcp.dat")[0]
    draw(tmp_path)
    for name, (size, _) in DRAWN.items():
        assert_chart(tmp_path / name, size)


def test_every_chart_the_readmes_show_is_in_the_tree_with_its_data():
    shown = set()
    for readme in ("README.md", os.path.join("bench", "README.md")):
        text = open(os.path.join(ROOT, readme)).read()
        links = re.findall(r"!\[[^\]]+\]\(([^)\s]+)\)", text)
        for link in links:
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(readme), link))
            assert os.path.isfile(path), f"{readme} shows {link}, which is not in the tree"
            assert png_size(path)[0] >= 600, path
            shown.add(os.path.relpath(path, ROOT))
        assert {f"bench/charts/{n}" for n in ("switch.png", "shared_stack.png", "redis_cpu.png", "tcp.png")} \
            <= {os.path.relpath(os.path.normpath(os.path.join(ROOT, os.path.dirname(readme), link)), ROOT)
                for link in links}, f"{readme} does not show the headline charts"
    for name, (size, data) in DRAWN.items():
        assert_chart(os.path.join(CHARTS, name), size)
        for d in data:
            assert rows(os.path.join(CHARTS, d)), f"bench/charts/{d}, the data of {name}, is missing or empty"
    assert shown <= {f"bench/charts/{n}" for n in DRAWN}, shown
