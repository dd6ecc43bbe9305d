#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tunlink.py — a lossy, slow link to a network namespace: two TUN devices and
a relay between them that drops and delays packets.

This does netem's job (`tc qdisc ... netem loss/delay`) where the kernel has
no sch_netem: the packets still cross the kernel's real TCP stack at both
ends, so retransmits and round-trip times are the kernel's own.

    tunlink.py --netns NS --near 10.77.1.1 --far 10.77.1.2 --loss 0.1 --delay-ms 50

makes namespace NS with address FAR (its loopback up), routes FAR from here
over the link, prints "ready" and relays until SIGTERM or SIGINT, then
removes NS.  --loss drops that share of the packets in each direction;
--delay-ms holds each packet coming back from NS that long (the round trip
grows by it).  Needs root.
"""
import argparse
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def ip(*args):
    subprocess.run(["ip", *args], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netns", required=True)
    ap.add_argument("--near", required=True, help="this side's address")
    ap.add_argument("--far", required=True, help="the namespace's address")
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    tag = a.netns[-8:]
    near_dev, far_dev = f"tn{tag}", f"tf{tag}"

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    ip("netns", "add", a.netns)
    try:
        near, far = open_tun(near_dev), open_tun(far_dev)
        ip("link", "set", far_dev, "netns", a.netns)
        ip("addr", "add", a.near, "peer", a.far, "dev", near_dev)
        ip("link", "set", near_dev, "up")
        ip("-n", a.netns, "link", "set", "lo", "up")
        ip("-n", a.netns, "addr", "add", a.far, "peer", a.near, "dev", far_dev)
        ip("-n", a.netns, "link", "set", far_dev, "up")
        print("ready", flush=True)
        relay(near, far, rnd, a.loss, a.delay_ms / 1000.0, stop)
    finally:
        subprocess.run(["ip", "netns", "del", a.netns], check=False)


def relay(near, far, rnd, loss, delay, stop):
    held = []                                   # (due, seq, fd, packet): packets from far, delayed
    seq = 0
    while not stop:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
        try:
            ready, _, _ = select.select([near, far], [], [], min(timeout, 0.5))
        except InterruptedError:
            continue
        for fd in ready:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if rnd.random() < loss:
                    continue
                if fd == near:
                    write(far, pkt)
                elif delay > 0:
                    seq += 1
                    heapq.heappush(held, (time.monotonic() + delay, seq, near, pkt))
                else:
                    write(near, pkt)
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(held)
            write(fd, pkt)


def write(fd, pkt):
    try:
        os.write(fd, pkt)
    except OSError:
        pass                                    # a full device queue drops, as a link would


if __name__ == "__main__":
    sys.exit(main())
