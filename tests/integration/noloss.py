"""The no-loss checker: clients drive INCRBY with unique increments and
SET/GET with unique values through the proxy while faults happen; every
request gets exactly one reply, every reply fits its own request (never
another's), errors are clear -ERR replies, and every acknowledged write is
on the servers afterwards.  Each client owns its keys, so what a reply may
be is known exactly: the set of values the key may hold grows only when a
write's outcome is unknown (it failed with an error or timed out)."""
import random
import threading
import time

from redis_util import Resp, encode

LOST = object()                                                    # no reply: the connection broke


class Client(threading.Thread):
    def __init__(self, port, name, nkeys=8, seed=0, limit_s=120):
        super().__init__(daemon=True)
        self.limit_s = limit_s
        self.port, self.name = port, name
        self.rng = random.Random(seed)
        self.keys = [f"{{{name}-{i}}}v" for i in range(nkeys)]       # a hash tag per key: any server
        self.counters = [f"{{{name}-{i}}}n" for i in range(nkeys)]
        self.may_be = {k: {None} for k in self.keys}               # values a key may hold now
        self.total = {k: {0} for k in self.counters}               # totals a counter may hold now
        self.requests = self.acked = self.errors = self.mismatched = self.lost = 0
        self.bad = []
        self.halt = threading.Event()
        self.seq = 0

    def mismatch(self, what):
        self.mismatched += 1
        if len(self.bad) < 5:
            self.bad.append(what)

    def call(self, conn, *args):
        """The reply, an ('error', text) pair, or LOST."""
        self.requests += 1
        try:
            conn.send(encode(*args))
            r = conn.reply()
        except (OSError, AssertionError) as e:
            self.lost += 1                                         # no reply at all: counted, not hidden
            self.bad.append(f"no reply to {args[0]}: {e!r}")
            return LOST
        if isinstance(r, bytes) and r.startswith(b"-"):
            self.errors += 1
            if not r.startswith(b"-ERR"):
                self.mismatch(f"unclear error {r!r}")
            return ("error", r)
        return r

    def one(self, conn):
        self.seq += 1
        op = self.rng.random()
        if op < 0.4:
            k = self.rng.choice(self.counters)
            d = self.seq * 1000 + self.rng.randrange(1000)         # unique increments
            r = self.call(conn, "INCRBY", k, d)
            if r is LOST:
                return False
            if isinstance(r, tuple):                               # may or may not have happened
                self.total[k] |= {t + d for t in self.total[k]}
            elif not isinstance(r, int) or r - d not in self.total[k]:
                self.mismatch(f"INCRBY {k} {d} -> {r!r}, expected one of {sorted(self.total[k])[:4]}+{d}")
            else:
                self.acked += 1
                self.total[k] = {r}
        elif op < 0.7:
            k = self.rng.choice(self.keys)
            v = f"{self.name}:{self.seq}".encode()                 # unique values
            r = self.call(conn, "SET", k, v)
            if r is LOST:
                return False
            if isinstance(r, tuple):
                self.may_be[k] |= {v}
            elif r != b"+OK":
                self.mismatch(f"SET {k} -> {r!r}")
            else:
                self.acked += 1
                self.may_be[k] = {v}
        else:
            k = self.rng.choice(self.keys)
            r = self.call(conn, "GET", k)
            if r is LOST:
                return False
            if not isinstance(r, tuple):
                if r not in self.may_be[k]:
                    self.mismatch(f"GET {k} -> {r!r}, expected one of {self.may_be[k]}")
                else:
                    self.acked += 1
                    self.may_be[k] = {r}
        return True

    def run(self):
        deadline = time.monotonic() + self.limit_s                 # bounded, whatever happens
        conn = Resp(self.port, timeout=30)
        while not self.halt.is_set() and time.monotonic() < deadline:
            if not self.one(conn):
                conn.close()
                conn = Resp(self.port, timeout=30)
        conn.close()

    def verify(self, direct):
        """Every acknowledged write is on the servers: direct(key) reads it there."""
        for k in self.keys:
            v = direct(k)
            if v not in self.may_be[k]:
                self.mismatch(f"{k} on the server is {v!r}, expected one of {self.may_be[k]}")
        for k in self.counters:
            v = direct(k)
            if int(v or 0) not in self.total[k]:
                self.mismatch(f"{k} on the server is {v!r}, expected one of {sorted(self.total[k])[:4]}")


class Checker:
    def __init__(self, port, nclients=6, limit_s=120):
        self.clients = [Client(port, f"c{i}", seed=i, limit_s=limit_s) for i in range(nclients)]

    def start(self):
        for c in self.clients:
            c.start()

    def stop(self):
        for c in self.clients:
            c.halt.set()
        for c in self.clients:
            c.join(60)

    def verify(self, direct):
        for c in self.clients:
            c.verify(direct)

    def summary(self):
        s = {k: sum(getattr(c, k) for c in self.clients)
             for k in ("requests", "acked", "errors", "mismatched", "lost")}
        s["bad"] = [b for c in self.clients for b in c.bad][:10]
        return s
