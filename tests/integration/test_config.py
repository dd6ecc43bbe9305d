# SPDX-License-Identifier: Apache-2.0
"""Configuration checks: every kind of mistake names the file, the line and
the setting, and the daemon exits non-zero; -t only checks."""
import signal
import subprocess
import time

import pytest

from conftest import COPROXY, free_port

GOOD_POOL = '''pools = ( {
    name = "p";
    listen = "127.0.0.1:%d";
    mode = "tcp";
    servers = ( "127.0.0.1:6379:1 r1" );
} );
'''


def check(tmp_path, text):
    f = tmp_path / "c.conf"
    f.write_text(text)
    return f, subprocess.run([COPROXY, "-t", "-c", str(f)], capture_output=True, text=True,
                             timeout=10)


def test_good_config_checks_ok(tmp_path):
    f, r = check(tmp_path, 'threads = 2;\nlog_level = "warn";\n' + GOOD_POOL % 20001)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout


@pytest.mark.parametrize("text, line, setting, words", [
    ('threadz = 2;\n' + GOOD_POOL % 20001, 1, "threadz", "unknown setting"),
    ('threads = "many";\n' + GOOD_POOL % 20001, 1, "threads", '"auto" or a number'),
    ('threads = 0;\n' + GOOD_POOL % 20001, 1, "threads", "out of range"),
    ('log_level = "loud";\n' + GOOD_POOL % 20001, 1, "log_level", "not one of"),
    ('pin_threads = 1;\n' + GOOD_POOL % 20001, 1, "pin_threads", "true or false"),
    ('shutdown_timeout = -5;\n' + GOOD_POOL % 20001, 1, "shutdown_timeout", "out of range"),
    ('coroutines = { shared_stacks = 0; };\n' + GOOD_POOL % 20001, 1,
     "coroutines.shared_stacks", "out of range"),
    ((GOOD_POOL % 20001).replace('listen = "127.0.0.1:20001"', 'listen = "127.0.0.1:99999"'), 3,
     "pools.[0].listen", "bad port"),
    ((GOOD_POOL % 20001).replace('listen = "127.0.0.1:20001"', 'listen = "nohost.invalid:80"'), 3,
     "pools.[0].listen", "cannot resolve"),
    ((GOOD_POOL % 20001).replace('listen = "127.0.0.1:20001"', 'listen = "::1:80"'), 3,
     "pools.[0].listen", "[addr]:port"),
    ((GOOD_POOL % 20001).replace('mode = "tcp"', 'mode = "udp"'), 4, "pools.[0].mode", "not one of"),
    ((GOOD_POOL % 20001).replace('listen = "127.0.0.1:20001"', 'listen = "127.0.0.1:0"'), 3,
     "pools.[0].listen", "bad port"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "tcp"; client_idle_timeout = 2500000000;'), 4,
     "pools.[0].client_idle_timeout", "out of range"),
    ((GOOD_POOL % 20001).replace('"127.0.0.1:6379:1 r1"', '"[::1]:6379:2x r1"'), 5,
     "pools.[0].servers.[0]", "bad weight"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "tcp"; balance = "fastest";'), 4,
     "pools.[0].balance", "not one of"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "tcp"; connect_timeout = "1s";'), 4,
     "pools.[0].connect_timeout", "must be a number"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "tcp"; speed = 3;'), 4,
     "pools.[0].speed", "unknown setting"),
    ((GOOD_POOL % 20001).replace('"127.0.0.1:6379:1 r1"', '"127.0.0.1:6379:0 r1"'), 5,
     "pools.[0].servers.[0]", "bad weight"),
    ((GOOD_POOL % 20001).replace('"127.0.0.1:6379:1 r1"', '"127.0.0.1 r1"'), 5,
     "pools.[0].servers.[0]", "bad address"),
    ((GOOD_POOL % 20001).replace('servers = ( "127.0.0.1:6379:1 r1" );', 'servers = ( );'), 5,
     "pools.[0].servers", "at least one server"),
    ('admin = { socket = "/tmp/x.sock"; mode = "0999"; };\n' + GOOD_POOL % 20001, 1, "admin.mode", "octal"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; hash = "sha1";'), 4,
     "pools.[0].hash", "not one of"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; distribution = "consistent";'), 4,
     "pools.[0].distribution", "not one of"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'distribution = "cluster";'), 4,
     "pools.[0].distribution", "needs mode"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; distribution = "cluster"; redis_db = 1;'), 4,
     "pools.[0].redis_db", "database 0 only"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; read_from = "slave";'), 4,
     "pools.[0].read_from", "not one of"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; hash_tag = "{";'), 4,
     "pools.[0].hash_tag", "two characters"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; server_connections = 0;'), 4,
     "pools.[0].server_connections", "out of range"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; redis_db = -1;'), 4,
     "pools.[0].redis_db", "out of range"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; auto_eject_hosts = "yes";'), 4,
     "pools.[0].auto_eject_hosts", "true or false"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; max_inline_length = 3;'), 4,
     "pools.[0].max_inline_length", "out of range"),
    ((GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; password = 1234;'), 4,
     "pools.[0].password", "must be a string"),
    (GOOD_POOL % 20001 + (GOOD_POOL % 20001).replace("pools = (", "").replace('name = "p"', 'name = "q"')
     .replace(");\n", "").replace("} ", "}"), None, "pools.[1].listen", "already a listen address"),
])
def test_bad_config_names_file_line_setting(tmp_path, text, line, setting, words):
    if setting == "pools.[1].listen":
        text = GOOD_POOL % 20001
        second = (GOOD_POOL % 20001).replace("pools = ( ", "").replace('name = "p"', 'name = "q"')
        text = text.replace("} );", "}, " + second.rstrip().rstrip(";").rstrip(")") + ");")
    f, r = check(tmp_path, text)
    assert r.returncode != 0
    msg = r.stderr
    assert str(f) in msg, msg
    if line is not None:
        assert f"{f}:{line}:" in msg, msg
    assert setting + ":" in msg, msg
    assert words in msg, msg


def test_syntax_error_names_the_line(tmp_path):
    f, r = check(tmp_path, 'threads = 2;\nlog_level = = "info";\n')
    assert r.returncode != 0
    assert f"{f}:2: syntax error" in r.stderr


def test_no_pools(tmp_path):
    f, r = check(tmp_path, 'threads = 1;\n')
    assert r.returncode != 0
    assert f"{f}: pools: no pools" in r.stderr


def test_very_long_path_is_reported_not_overrun(tmp_path):
    deep = tmp_path
    for i in range(12):
        deep = deep / ("d" * 60)
    deep.mkdir(parents=True)
    f = deep / "c.conf"
    f.write_text("bogus = 1;\n" + GOOD_POOL % 20001)
    r = subprocess.run([COPROXY, "-t", "-c", str(f)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1          # an error, reported, not a crash
    assert r.stderr.startswith("coproxy: ")


def test_missing_file(tmp_path):
    r = subprocess.run([COPROXY, "-t", "-c", str(tmp_path / "nope.conf")], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0
    assert "cannot read" in r.stderr


def test_version_and_help():
    v = subprocess.run([COPROXY, "--version"], capture_output=True, text=True, timeout=10)
    assert v.returncode == 0 and v.stdout.startswith("coproxy ")
    h = subprocess.run([COPROXY, "--help"], capture_output=True, text=True, timeout=10)
    assert h.returncode == 0 and "-c, --config" in h.stdout
    bad = subprocess.run([COPROXY], capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0


# ---- integers beyond 32 bits (issue 20): refused with the value as written -----------------
# libconfig 1.5 keeps the low 32 bits of a literal without an L suffix: 4294967396 read as
# 100.  Every integer setting must refuse such a number and print it as the user wrote it.
WIDE = 4294967296 + 100
INTEGER_SETTINGS = [   # (setting, where, lo, hi)
    ("threads", "top", 1, 1024),
    ("shutdown_timeout", "top", 0, 3600000),
    ("shared_stacks", "coroutines", 1, 65536),
    ("stack_size", "coroutines", 16384, 8 << 20),
    ("connect_timeout", "pool", 1, 3600000),
    ("client_idle_timeout", "pool", 0, 2147483647),
    ("client_connections", "pool", 0, 100000000),
    ("server_timeout", "pool", 1, 3600000),
    ("server_connections", "pool", 1, 1024),
    ("server_pinned_connections", "pool", 0, 65536),
    ("server_failure_limit", "pool", 1, 1000000),
    ("server_retry_timeout", "pool", 1, 86400000),
    ("redis_db", "pool", 0, 1000000),
    ("databases", "pool", 1, 1000000),
    ("max_multibulk_length", "pool", 1, 2147483647),
    ("max_bulk_length", "pool", 1, 2147483647),
    ("max_inline_length", "pool", 16, 2147483647),
    ("cluster_refresh_interval", "pool", 0, 86400000),
    ("cluster_max_redirects", "pool", 1, 100),
]


def with_setting(name, where, value):
    """GOOD_POOL (redis mode) with one setting added; returns (text, line, path)."""
    pool = (GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis";')
    if where == "top":
        return f"{name} = {value};\n" + pool, 1, name
    if where == "coroutines":
        return f"coroutines = {{ {name} = {value}; }};\n" + pool, 1, f"coroutines.{name}"
    return pool.replace('mode = "redis";', f'mode = "redis";\n    {name} = {value};'), 5, f"pools.[0].{name}"


@pytest.mark.parametrize("name, where, lo, hi", INTEGER_SETTINGS)
def test_integer_beyond_32_bits_is_out_of_range_not_wrapped(tmp_path, name, where, lo, hi):
    text, line, path = with_setting(name, where, WIDE)
    f, r = check(tmp_path, text)
    assert r.returncode != 0, f"{path} = {WIDE} was accepted (read as {WIDE % 2**32}?):\n{r.stdout}"
    assert f"{f}:{line}: {path}: {WIDE} is out of range ({lo} to {hi})" in r.stderr, r.stderr


@pytest.mark.parametrize("literal", ["4294967298", "-4294967295", "0x100000002", "2147483648",
                                     "-2147483649", "99999999999999999999999", "4294967298L"])
def test_big_literals_of_every_form_are_refused_as_written(tmp_path, literal):
    f, r = check(tmp_path, f"threads = {literal};\n" + GOOD_POOL % 20001)
    assert r.returncode != 0, f"threads = {literal} was accepted: {r.stdout}"
    assert f"{f}:1: threads: {literal} is out of range (1 to 1024)" in r.stderr, r.stderr


def start_and_wait(conf, timeout):
    """Runs the daemon on conf; returns (exit status or None if still running after
    timeout seconds, stderr).  The process is stopped either way."""
    proc = subprocess.Popen([COPROXY, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=timeout)
        return proc.returncode, err
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return None, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_wrapped_value_does_not_start_workers(tmp_path):
    """threads = 2**32 + 2 once started 2 workers; the daemon itself must refuse it too."""
    conf = tmp_path / "c.conf"
    conf.write_text('threads = 4294967298;\nadmin = { socket = ""; };\n'
                    + GOOD_POOL.replace("20001", "%d") % free_port())
    status, err = start_and_wait(conf, 15)
    assert status is not None and status != 0, f"started (status {status}):\n{err}"
    assert f"{conf}:1: threads: 4294967298 is out of range" in err, err


def test_big_number_is_blamed_on_its_own_pool_when_two_share_a_line(tmp_path):
    text = ('pools = ( { name = "p"; listen = "127.0.0.1:20001"; server_timeout = 5; servers = ( "127.0.0.1:6379" ); }, '
            f'{{ name = "q"; listen = "127.0.0.1:20002"; server_timeout = {WIDE}; servers = ( "127.0.0.1:6379" ); }} );\n')
    f, r = check(tmp_path, text)
    assert r.returncode != 0
    assert f"{f}:1: pools.[1].server_timeout: {WIDE} is out of range" in r.stderr, r.stderr


def test_in_range_numbers_in_every_form_still_work(tmp_path):
    pool = (GOOD_POOL % 20001).replace('mode = "tcp";', 'mode = "redis"; server_timeout = 500L; '
                                       'connect_timeout = 0x3e8; client_idle_timeout = 2147483647;')
    f, r = check(tmp_path, "threads = +2;\nshutdown_timeout = 0;\n" + pool)
    assert r.returncode == 0, r.stderr


# ---- errors inside an @include'd file name that file and its line -------------------------------
def test_setting_error_in_included_file_names_that_file(tmp_path):
    inc = tmp_path / "pools.conf"
    inc.write_text("# pools, kept apart\n\n" + (GOOD_POOL % 20001).replace('mode = "tcp"', 'mode = "udp"'))
    f, r = check(tmp_path, f'threads = 1;\nlog_level = "warn";\n@include "{inc}"\n')
    assert r.returncode != 0
    # GOOD_POOL's mode is on its 4th line, the included file's 6th
    assert f"{inc}:6: pools.[0].mode: 'udp' is not one of" in r.stderr, r.stderr
    assert f"{f}:" not in r.stderr, r.stderr


def test_syntax_error_in_included_file_names_that_file(tmp_path):
    inc = tmp_path / "extra.conf"
    inc.write_text('# extra\nlog_level = "info";\nshutdown_timeout = = 5;\n')
    f, r = check(tmp_path, f'threads = 1;\n@include "{inc}"\n' + GOOD_POOL % 20001)
    assert r.returncode != 0
    assert f"{inc}:3: syntax error" in r.stderr, r.stderr


def test_big_number_in_included_file_names_that_file(tmp_path):
    inc = tmp_path / "extra.conf"
    inc.write_text(f'# extra\n\nshutdown_timeout = {WIDE};\n')
    f, r = check(tmp_path, f'threads = 1;\n@include "{inc}"\n' + GOOD_POOL % 20001)
    assert r.returncode != 0
    assert f"{inc}:3: shutdown_timeout: {WIDE} is out of range" in r.stderr, r.stderr


def test_error_after_an_include_names_the_main_file(tmp_path):
    inc = tmp_path / "extra.conf"
    inc.write_text('# extra\nlog_level = "info";\n\n\n\n')
    f, r = check(tmp_path, f'threads = 1;\n@include "{inc}"\nshutdown_timeout = -1;\n' + GOOD_POOL % 20001)
    assert r.returncode != 0
    assert f"{f}:3: shutdown_timeout: -1 is out of range" in r.stderr, r.stderr


def test_missing_included_file_is_reported_where_it_is_included(tmp_path):
    f, r = check(tmp_path, f'threads = 1;\n@include "{tmp_path / "nope.conf"}"\n' + GOOD_POOL % 20001)
    assert r.returncode != 0
    assert f"{f}:2: cannot open include file" in r.stderr, r.stderr


# ---- a pool's servers are unique by name and by address ----------------------------------------
def pool_with(servers, mode="redis"):
    """A pool whose servers.[i] is on line 6 + i.  (The list closes on the last server's line:
    libconfig 1.5 gives a string list element the line of the token after it.)"""
    return ('pools = ( {\n    name = "p";\n    listen = "127.0.0.1:20001";\n'
            f'    mode = "{mode}";\n    servers = (\n'
            + ",\n".join(f'        "{s}"' for s in servers) + " );\n} );\n")


@pytest.mark.parametrize("mode", ["redis", "tcp"])
@pytest.mark.parametrize("servers, dup, orig, words", [
    (["127.0.0.1:6379:1 a", "127.0.0.1:6380:1 b", "127.0.0.1:6381:1 a"], 2, 0,
     "duplicate server name 'a'"),
    (["127.0.0.1:6379:1 a", "127.0.0.1:6380:1 b", "127.0.0.1:6379:1 c"], 2, 0,
     "duplicate server address '127.0.0.1:6379'"),
    (["127.0.0.1:6379:1", "127.0.0.1:6380:1", "127.0.0.1:6379:5"], 2, 0,
     "duplicate server address '127.0.0.1:6379'"),
    (["[::1]:6379:1 a", "127.0.0.1:6379:1 b", "[::1]:6379:1 c"], 2, 0,
     "duplicate server address '[::1]:6379'"),
    (["127.0.0.1:6379:1 a", "127.0.0.1:6380:1 b", "127.0.0.1:6381:1 c", "127.0.0.1:6382:1 b"], 3, 1,
     "duplicate server name 'b'"),
])
def test_duplicate_server_is_refused(tmp_path, mode, servers, dup, orig, words):
    f, r = check(tmp_path, pool_with(servers, mode))
    assert r.returncode != 0, f"duplicate accepted: {servers}\n{r.stdout}"
    # the list starts on line 6: servers.[i] is on line 6 + i
    assert f"{f}:{6 + dup}: pools.[0].servers.[{dup}]: {words}" in r.stderr, r.stderr
    assert f"pools.[0].servers.[{orig}]" in r.stderr, r.stderr


def test_same_server_in_two_pools_is_fine(tmp_path):
    text = ('pools = ( { name = "a"; listen = "127.0.0.1:20001"; mode = "redis";\n'
            '            servers = ( "127.0.0.1:6379:1 s1", "127.0.0.1:6380:1 s2" ); },\n'
            '          { name = "b"; listen = "127.0.0.1:20002"; mode = "redis";\n'
            '            servers = ( "127.0.0.1:6379:1 s1", "127.0.0.1:6380:1 s2" ); } );\n')
    f, r = check(tmp_path, text)
    assert r.returncode == 0, r.stderr


def test_many_distinct_servers_check_quickly(tmp_path):
    """20,000 tcp servers: no duplicates found, in well under the timeout (a sort, not n^2)."""
    servers = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}:80:1 s{i}" for i in range(20000)]
    f, r = check(tmp_path, "threads = 2;\n" + pool_with(servers, "tcp"))
    assert r.returncode == 0, r.stderr[-2000:]


# ---- memory mappings: what -t passes must be able to start ---------------------------------------
def max_map_count():
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            return int(f.read())
    except (OSError, ValueError):
        pytest.skip("/proc/sys/vm/max_map_count cannot be read")


def needs_about(stderr):
    import re
    m = re.search(r"needs about (\d+) memory mappings", stderr)
    assert m, stderr
    return int(m.group(1))


def test_too_many_threads_for_max_map_count_is_refused(tmp_path):
    limit = max_map_count()
    # each worker maps 2 per shared stack: pick enough of them to pass the limit
    stacks = max(64, limit // (2 * 1024) + 16)
    if stacks > 65536:
        pytest.skip(f"vm.max_map_count {limit} is too big to exceed with 1024 threads")
    f, r = check(tmp_path, f"threads = 1024;\ncoroutines = {{ shared_stacks = {stacks}; }};\n" + GOOD_POOL % 20001)
    assert r.returncode != 0, f"threads = 1024 passed -t but cannot start:\n{r.stdout}"
    assert f"{f}:1: threads: " in r.stderr, r.stderr
    assert f"vm.max_map_count ({limit})" in r.stderr and "threads (1024)" in r.stderr, r.stderr
    assert needs_about(r.stderr) > limit


def test_fifty_thousand_redis_servers_start_and_serve(tmp_path):
    """A pool of 50,000 servers with two workers once passed -t and then failed
    with "out of memory" (a private stack per server connection and worker ran
    past vm.max_map_count): the servers' coroutines share a few run stacks now."""
    import socket
    import time
    port = free_port()
    servers = ", ".join(f'"127.{1 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}:6379:1 s{i}"' for i in range(50000))
    conf = tmp_path / "c.conf"
    conf.write_text(f'threads = 2;\nadmin = {{ socket = ""; }};\npools = ( {{ name = "big"; '
                    f'listen = "127.0.0.1:{port}"; mode = "redis"; servers = ( {servers} ); }} );\n')
    r = subprocess.run([COPROXY, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    proc = subprocess.Popen([COPROXY, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "it did not start listening"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    c.sendall(b"PING\r\n")
                    assert c.recv(100) == b"+PONG\r\n"
                    break
            except OSError:
                time.sleep(0.2)
        with open(f"/proc/{proc.pid}/maps") as f:
            maps = sum(1 for _ in f)
        assert maps < 2000, maps                       # not one per server
    finally:
        proc.terminate()
        proc.wait(30)


def test_many_tcp_servers_need_no_mappings_each(tmp_path):
    """tcp mode keeps no coroutine per server: the same count is fine there."""
    limit = max_map_count()
    n = min(limit // 8 + 100, 100000)
    servers = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}:6379:1 s{i}" for i in range(n)]
    f, r = check(tmp_path, "threads = 2;\n" + pool_with(servers, "tcp"))
    assert r.returncode == 0, r.stderr[-2000:]


def test_daemon_refuses_to_start_past_max_map_count(tmp_path):
    """The daemon runs the same check before starting any worker: a clear error, not
    'out of memory' from a worker half-way through."""
    limit = max_map_count()
    stacks = max(64, limit // (2 * 1024) + 16)
    if stacks > 65536:
        pytest.skip(f"vm.max_map_count {limit} is too big to exceed with 1024 threads")
    conf = tmp_path / "c.conf"
    conf.write_text(f'threads = 1024;\ncoroutines = {{ shared_stacks = {stacks}; }};\nadmin = {{ socket = ""; }};\n'
                    + GOOD_POOL.replace("20001", "%d") % free_port())
    status, err = start_and_wait(conf, 60)
    assert status is not None and status != 0, f"started (status {status}):\n{err}"
    assert f"{conf}:1: threads: " in err and f"vm.max_map_count ({limit})" in err, err


def test_an_include_of_a_directory_is_an_error_not_an_exit(tmp_path, daemon):
    # libconfig's scanner ends the process on it ("input in flex scanner failed", found by fuzzing)
    f, r = check(tmp_path, 'threads = 1;\n@include "/"\n' + GOOD_POOL % 20001)
    assert r.returncode == 1, r.stderr
    assert f'{f}:2: @include "/": not a regular file' in r.stderr, r.stderr
    port = free_port()
    d = daemon('threads = 1;\nlog_level = "info";\n' + GOOD_POOL % port, port=port)
    d.conf.write_text('threads = 1;\n@include "/"\n' + GOOD_POOL % port)
    d.proc.send_signal(signal.SIGHUP)                 # a reload with it: the daemon stays
    deadline = time.monotonic() + 10
    while "not a regular file" not in d.log():
        assert time.monotonic() < deadline and d.proc.poll() is None, d.log()
        time.sleep(0.1)
    assert d.proc.poll() is None
