#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""soak_jobs.py — the no-loss soak for blocking consumers: two redis-servers, coproxy with
two workers, producers pushing numbered jobs, blocking consumers that give
up (FIN) at random while blocked -- for SECONDS (default 600).  Prints the
figures and exits 1 if any job was lost, consumed twice, or came from
nowhere.  The same check, for 15 s, is in the test suite
(test_redis_noloss.py).

    bench/soak_jobs.py [BUILD_DIR] [SECONDS]
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# bench/redis.py would shadow the redis package: this directory is not searched
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
if len(sys.argv) > 1:
    os.environ["COPROXY_BUILD"] = os.path.abspath(sys.argv[1])

import redis  # noqa: E402

from conftest import COPROXY, free_port, wait_port  # noqa: E402
from noloss import JobQueues  # noqa: E402
from redis_util import RedisProc, redis_config  # noqa: E402


def main():
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 600
    with tempfile.TemporaryDirectory() as tmp:
        servers = [RedisProc(tmp) for _ in range(2)]
        port = free_port()
        conf = os.path.join(tmp, "coproxy.conf")
        with open(conf, "w") as f:
            f.write(redis_config(port, [s.port for s in servers], threads=2, hash_tag="{}"))
        with open(os.path.join(tmp, "coproxy.log"), "wb") as log:
            proc = subprocess.Popen([COPROXY, "-c", conf], stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_port(port)
            jobs = JobQueues(port, nproducers=4, nconsumers=12, limit_s=seconds + 60)
            t0 = time.monotonic()
            jobs.start()
            while time.monotonic() - t0 < seconds:
                time.sleep(min(30, seconds))
                print(f"{time.monotonic() - t0:6.0f} s: {len(jobs.acked)} pushed, {len(jobs.consumed)} consumed, "
                      f"{jobs.left} consumers gave up", flush=True)
            jobs.stop()
            left = [j for s in servers for q in jobs.queues
                    for j in redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=10).lrange(q, 0, -1)]
            got = jobs.verify(left)
            print(got)
            given = subprocess.run(["grep", "-c", "pushed back", os.path.join(tmp, "coproxy.log")],
                                   stdout=subprocess.PIPE, text=True).stdout.strip()
            print(f"pops given back by the proxy: {given}")
            ok = not got["duplicates"] and not got["lost"] and not got["unknown"] and not got["bad"]
            print("no job lost, none twice" if ok else "FAILED")
            return 0 if ok else 1
        finally:
            proc.terminate()
            proc.wait(30)
            for s in servers:
                s.stop()


if __name__ == "__main__":
    sys.exit(main())
