"""Configuration checks: every kind of mistake names the file, the line and
the setting, and the daemon exits non-zero; -t only checks."""
import subprocess

import pytest

from conftest import COPROXY

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
     .replace(");\n", "").replace("} ", "}"), None, "pools.[1].listen", "already the listen address"),
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
