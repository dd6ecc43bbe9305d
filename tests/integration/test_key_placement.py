# SPDX-License-Identifier: Apache-2.0
"""Key placement: for every hash and distribution, coproxy's hashkit and dist
(through tests/unit/dist_probe) send each key to the same backend as twemproxy
0.5.0 (Debian's nutcracker) does with the same pool settings, checked by
writing the keys through nutcracker to real redis-servers and finding them."""
import os
import random
import subprocess

import pytest
import redis

from conftest import BUILD, free_port, wait_port

NUTCRACKER = "/usr/sbin/nutcracker"
DIST_PROBE = os.path.join(BUILD, "tests", "unit", "dist_probe")

HASHES = ["one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64", "fnv1a_64",
          "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins"]

pytestmark = pytest.mark.skipif(not os.access(NUTCRACKER, os.X_OK),
                                reason="twemproxy (nutcracker) is not installed")


def make_keys():
    """A few hundred distinct keys, the same every run: the empty key, hash-tag
    shapes, and keys of every length 0..100 made of text, of any byte (half of
    them >= 0x80, which sign-extend in several of twemproxy's hashes) and of
    text with a {tag}.  No key holds a newline (dist_probe reads lines)."""
    rng = random.Random(0x7e3c)
    text = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-."
    anybyte = bytes(b for b in range(256) if b != 0x0a)
    keys = [b"", b"a", b"foo", b"{", b"}", b"{}", b"}{", b"{}x", b"x{}", b"{a}", b"x{tag}y",
            b"a{b}c{d}e", b"{{a}}", b"a}b{c", b"user:{1000}:name", b"user:{1000}:email",
            b"{user:1000}.following", b"\x80", b"\xff", b"\xff\xfe\xfd", b"\x00", b"a\x00b",
            b"caf\xc3\xa9", b"\r", b" ", b"key with spaces"]
    for length in range(101):
        keys.append(bytes(rng.choice(text) for _ in range(length)))
        keys.append(bytes(rng.choice(anybyte) for _ in range(length)))
        if length >= 2:
            inner = bytes(rng.choice(text) for _ in range(rng.randrange(0, length - 1)))
            tagged = b"{" + inner + b"}"
            pre = rng.randrange(0, length - len(tagged) + 1)
            rest = bytes(rng.choice(text) for _ in range(length - len(tagged)))
            keys.append(rest[:pre] + tagged + rest[pre:])
    seen, out = set(), []
    for k in keys:
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out


KEYS = make_keys()


class Nutcracker:
    """twemproxy with one redis pool over the given servers, stopped by PID."""

    def __init__(self, tmp_path, servers, **pool):
        self.port = free_port()
        self.log = tmp_path / "nutcracker.log"
        conf = tmp_path / "nutcracker.yml"
        lines = ["pool:", f"  listen: 127.0.0.1:{self.port}", "  redis: true",
                 "  auto_eject_hosts: false", "  timeout: 10000", "  server_connections: 1"]
        lines += [f"  {k}: {v}" for k, v in pool.items()]
        lines.append("  servers:")
        lines += [f"   - {s}" for s in servers]
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [NUTCRACKER, "-c", str(conf), "-s", str(free_port()), "-a", "127.0.0.1",
             "-o", str(self.log), "-p", str(tmp_path / "nutcracker.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(self.port, timeout=15)
        except AssertionError:
            self.stop()
            raise AssertionError("nutcracker did not start:\n" + self.log.read_text(errors="replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def nutcracker(tmp_path):
    started = []

    def start(servers, **pool):
        n = Nutcracker(tmp_path, servers, **pool)
        started.append(n)
        return n

    try:
        yield start
    finally:
        for n in started:
            n.stop()


def placed_by_nutcracker(proxy_port, backend_ports):
    """SETs every key through the proxy, then finds each on the backends
    (GET directly); returns the index of the backend holding each key."""
    proxy = redis.Redis(host="127.0.0.1", port=proxy_port, socket_timeout=30)
    backends = [redis.Redis(host="127.0.0.1", port=p, socket_timeout=30) for p in backend_ports]
    try:
        for b in backends:
            b.flushall()
        pipe = proxy.pipeline(transaction=False)
        for i, k in enumerate(KEYS):
            pipe.set(k, b"v%d" % i)
        assert all(pipe.execute())
        holders = [[] for _ in KEYS]
        for idx, b in enumerate(backends):
            pipe = b.pipeline(transaction=False)
            for k in KEYS:
                pipe.get(k)
            for i, v in enumerate(pipe.execute()):
                if v is not None:
                    assert v == b"v%d" % i
                    holders[i].append(idx)
        for k, h in zip(KEYS, holders):
            assert len(h) == 1, f"key {k!r} is on backends {h}"
        return [h[0] for h in holders]
    finally:
        proxy.close()
        for b in backends:
            b.close()


def placed_by_probe(distribution, hash_name, hash_tag, servers):
    assert os.access(DIST_PROBE, os.X_OK), f"build {DIST_PROBE} first (COPROXY_BUILD={BUILD})"
    r = subprocess.run([DIST_PROBE, distribution, hash_name, hash_tag, *servers],
                       input=b"".join(k + b"\n" for k in KEYS), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = [int(x) for x in r.stdout.split()]
    assert len(out) == len(KEYS)
    return out


def server_specs(ports, weights, names):
    return [f"127.0.0.1:{p}:{w}" + (f" {n}" if n else "")
            for p, w, n in zip(ports, weights, names)]


EQUAL = ((1, 1, 1), (None,) * 3)
CASES = [(d, h, *EQUAL, "") for d in ("ketama", "modula") for h in HASHES] + [
    # weights that do not divide the continuum evenly; with 1,1,3,10,10
    # twemproxy's float arithmetic gives the light servers fewer points
    ("ketama", "fnv1a_64", (1, 2, 4), (None,) * 3, ""),
    ("ketama", "murmur", (1, 1, 3, 10, 10), (None,) * 5, ""),
    ("modula", "md5", (3, 1, 2), (None,) * 3, ""),
    # ketama hashes the names rather than the addresses; modula lays the
    # servers out sorted by name (shorter first), not in config order
    ("ketama", "md5", (2, 1, 1), ("alpha", "beta", "gamma"), ""),
    ("modula", "crc32a", (1, 2, 3), ("zeta", "b", "alpha"), ""),
    ("modula", "fnv1a_32", (1, 1, 1, 1), ("srv10", "srv9", "srv1", "a"), ""),
    # hash tags, with the other options at once
    ("ketama", "fnv1a_64", *EQUAL, "{}"),
    ("modula", "crc16", *EQUAL, "{}"),
    ("ketama", "hsieh", (1, 1, 3), ("redis-a", "redis-b", "redis-c"), "{}"),
]


@pytest.mark.parametrize("distribution, hash_name, weights, names, hash_tag", CASES,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_key_lands_where_twemproxy_puts_it(redis_servers, nutcracker, distribution, hash_name,
                                            weights, names, hash_tag):
    ports = redis_servers(len(weights))
    servers = server_specs(ports, weights, names)
    pool = {"hash": hash_name, "distribution": distribution}
    if hash_tag:
        pool["hash_tag"] = f'"{hash_tag}"'
    proxy = nutcracker(servers, **pool)

    want = placed_by_nutcracker(proxy.port, ports)
    got = placed_by_probe(distribution, hash_name, hash_tag, servers)

    wrong = [(k, w, g) for k, w, g in zip(KEYS, want, got) if w != g]
    assert not wrong, (f"{len(wrong)} of {len(KEYS)} keys misplaced (key, twemproxy, probe), "
                       f"first ones: {wrong[:5]}")
    # the keys reach every server, so the comparison means something; but
    # crc32 keeps 15 bits, and under ketama they nearly all fall before the
    # first point of the 32-bit circle
    if not (hash_name == "crc32" and distribution == "ketama"):
        assert set(want) == set(range(len(ports)))
