# SPDX-License-Identifier: Apache-2.0
"""The no-loss checker: clients drive INCRBY with unique increments and
SET/GET with unique values through the proxy while faults happen; every
request gets exactly one reply, every reply fits its own request (never
another's), errors are clear -ERR replies, and every acknowledged write is
on the servers afterwards.  Each client owns its keys, so what a reply may
be is known exactly: the set of values the key may hold grows only when a
write's outcome is unknown (it failed with an error or timed out)."""
import random
import socket
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


class JobQueues:
    """Numbered jobs through lists, judged exactly: producers RPUSH unique
    job ids; blocking consumers BLPOP them with short timeouts of their
    own and, at random, give up while blocked -- they shut down their
    sending side (the FIN a client library sends when its own timeout
    fires) and read what still comes until the proxy closes.  Every job
    pushed is consumed exactly once or is still in its list; none is
    lost, none is consumed twice, none appears that was not pushed.  (A
    consumer that closes without reading what was already sent to it
    loses that with Redis itself too: not what this checks.)"""

    def __init__(self, port, queues=("{qa}jobs", "{qb}jobs"), nproducers=2, nconsumers=6, seed=0,
                 limit_s=900, leave_rate=0.3):
        self.port, self.queues, self.limit_s, self.leave_rate = port, list(queues), limit_s, leave_rate
        self.rng = random.Random(seed)
        self.acked, self.maybe = set(), set()          # pushed for sure / perhaps (the push got an error)
        self.consumed = []                             # every job a consumer got, duplicates kept
        self.left = self.errors = self.pushes = 0
        self.bad = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = ([threading.Thread(target=self.produce, args=(i,), daemon=True) for i in range(nproducers)]
                        + [threading.Thread(target=self.consume, args=(i,), daemon=True) for i in range(nconsumers)])

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(60)

    def produce(self, i):
        rng = random.Random(1000 + i)
        deadline = time.monotonic() + self.limit_s
        conn, seq = None, 0
        while not self.halt.is_set() and time.monotonic() < deadline:
            seq += 1
            job = f"p{i}-{seq}"
            q = rng.choice(self.queues)
            try:
                conn = conn or Resp(self.port, timeout=30)
                conn.send(encode("RPUSH", q, job))
                r = conn.reply()
            except (OSError, EOFError, AssertionError):
                r, conn = LOST, None
            with self.lock:
                self.pushes += 1
                if isinstance(r, int):
                    self.acked.add(job)
                else:                                  # an error or no reply: it may have happened
                    self.maybe.add(job)
                    self.errors += 1
            time.sleep(rng.random() * 0.02)          # slower than the consumers: they block

    def consume(self, i):
        rng = random.Random(2000 + i)
        deadline = time.monotonic() + self.limit_s
        while not self.halt.is_set() and time.monotonic() < deadline:
            q = rng.choice(self.queues)
            try:
                c = Resp(self.port, timeout=30)
            except OSError:
                time.sleep(0.1)
                continue
            try:
                while not self.halt.is_set():
                    own = rng.choice((0.05, 0.1, 0.3, 1))   # BLPOP's own timeout, seconds
                    c.send(encode("BLPOP", q, own))
                    if rng.random() < self.leave_rate:       # give up while blocked: FIN, then read to EOF
                        time.sleep(rng.random() * own)
                        c.sock.shutdown(socket.SHUT_WR)
                        self.take(self.drain(c))
                        with self.lock:
                            self.left += 1
                        break
                    self.take([c.reply()])
            except (OSError, EOFError, AssertionError) as e:
                with self.lock:
                    if len(self.bad) < 5:
                        self.bad.append(f"consumer {i}: {e!r}")
            finally:
                c.close()

    @staticmethod
    def drain(c):
        """Every whole reply that comes until the proxy closes the connection."""
        c.sock.settimeout(30)
        out = []
        while True:
            try:
                out.append(c.reply())
            except (EOFError, ConnectionResetError):
                return out

    def take(self, replies):
        with self.lock:
            for r in replies:
                if isinstance(r, list) and len(r) == 2:
                    self.consumed.append(r[1].decode())
                elif r is None:
                    pass                               # its own timeout: nothing there
                elif isinstance(r, bytes) and r.startswith(b"-ERR"):
                    self.errors += 1
                else:
                    self.bad.append(f"odd reply {r!r}")

    def verify(self, lists):
        """lists: what is left in the queues, read from the servers."""
        left = [j.decode() for j in lists]
        seen = self.consumed + left
        dup = sorted({j for j in seen if seen.count(j) > 1}) if len(set(seen)) != len(seen) else []
        lost = sorted(self.acked - set(seen))
        unknown = sorted(set(seen) - self.acked - self.maybe)
        return {"pushed": self.pushes, "acked": len(self.acked), "consumed": len(self.consumed), "left_in_lists": len(left),
                "consumers_left": self.left, "errors": self.errors, "duplicates": dup[:10], "lost": lost[:10],
                "unknown": unknown[:10], "bad": self.bad[:5]}
