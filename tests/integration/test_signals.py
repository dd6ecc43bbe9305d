# SPDX-License-Identifier: Apache-2.0
"""Signals the daemon has no use for (SIGALRM, SIGPROF, ...) are ignored and
named in the log once, instead of killing it; the ones it uses still work."""
import re
import signal
import socket
import time

import pytest

from conftest import free_port, tcp_config

# What the daemon ignores, by the name its log gives each.  (SIGUSR2 upgrades:
# test_upgrade.py.)
IGNORED = [("SIGALRM", signal.SIGALRM), ("SIGVTALRM", signal.SIGVTALRM),
           ("SIGPROF", signal.SIGPROF), ("SIGIO", signal.SIGIO), ("SIGTTIN", signal.SIGTTIN),
           ("SIGTTOU", signal.SIGTTOU), ("SIGXFSZ", signal.SIGXFSZ), ("SIGPWR", signal.SIGPWR),
           ("SIGSTKFLT", getattr(signal, "SIGSTKFLT", 16)),
           ("SIGRTMIN", signal.SIGRTMIN), ("SIGRTMIN+3", signal.SIGRTMIN + 3),
           ("SIGRTMAX", signal.SIGRTMAX)]


def echo_once(port, msg=b"ping"):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            data = s.recv(100)
            if not data:
                break
            got += data
    return got


def wait_log(d, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in d.log():
        assert d.proc.poll() is None, f"coproxy exited ({d.proc.returncode}) on a signal:\n" + d.log()
        assert time.monotonic() < deadline, d.log()
        time.sleep(0.05)


@pytest.fixture
def running(daemon, echo_backend):
    port = free_port()
    d = daemon(tcp_config(port, [f"127.0.0.1:{echo_backend()}:1"], threads=2), port)
    return d, port


@pytest.mark.parametrize("name,sig", IGNORED, ids=[n for n, _ in IGNORED])
def test_unused_signal_is_ignored_and_named_in_the_log(running, name, sig):
    d, port = running
    d.proc.send_signal(sig)
    wait_log(d, f"ignoring {name}")
    lines = [l for l in d.log().splitlines() if re.search(rf"ignoring {re.escape(name)}\b(?!\+)", l)]
    assert len(lines) == 1, d.log()
    assert re.search(r"\b(WARN|INFO)\b", lines[0]), lines
    assert d.proc.poll() is None
    assert echo_once(port) == b"ping"                      # still serving


def test_repeated_signal_is_logged_once_and_sigterm_still_stops(running):
    d, port = running
    for _ in range(5):
        d.proc.send_signal(signal.SIGPROF)
        time.sleep(0.05)
    d.proc.send_signal(signal.SIGALRM)
    wait_log(d, "ignoring SIGALRM")
    assert d.log().count("ignoring SIGPROF") == 1, d.log()
    assert echo_once(port, b"still here") == b"still here"
    d.proc.send_signal(signal.SIGUSR1)                     # still reopens the log
    wait_log(d, "SIGUSR1: log file reopened")
    assert d.stop() == 0                                   # SIGTERM: a clean stop
    assert "SIGTERM: stopping" in d.log()


def test_every_ignored_signal_in_a_row(running):
    """One daemon takes all of them, one after another, and goes on."""
    d, port = running
    for name, sig in IGNORED:
        d.proc.send_signal(sig)
        wait_log(d, f"ignoring {name}")
    assert echo_once(port) == b"ping"
    assert d.stop() == 0
