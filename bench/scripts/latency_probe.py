#!/usr/bin/env python3
"""Measures how long a server leaves a client waiting: one connection sends PING, then a
write, in a loop, and times each reply, until STOP_FILE exists. Prints the longest waits
(the stall a full sync causes on its primary), with when they happened.

    bench/scripts/latency_probe.py PORT STOP_FILE usher|redis

The write is ENTER probe:{p} pa:{p} u<i> on usher, ZADD probe:{p} <i> u<i> on redis-server
(both take the probe line's shard lock; usher's full sync holds every shard lock while it
takes its image).
"""
import os
import socket
import sys
import time


def main():
    port, stop, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")

    def call(*args):
        s.sendall(b"".join([b"*%d\r\n" % len(args)] +
                           [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]))
        line = f.readline()
        if line[:1] == b"*":  # ENTER's [status, position, waiting]
            for _ in range(int(line[1:])):
                f.readline()
        elif line[:1] == b"-":
            raise SystemExit(f"probe: error {line!r}")

    t_start = time.monotonic()
    worst = {"PING": (0.0, 0.0), "write": (0.0, 0.0)}
    slow = []  # (at, op, seconds) for waits over 50 ms
    n = 0
    while not os.path.exists(stop):
        for op in ("PING", "write"):
            t = time.monotonic()
            if op == "PING":
                call(b"PING")
            elif kind == "usher":
                call(b"ENTER", b"probe:{p}", b"pa:{p}", b"u%d" % n)
            else:
                call(b"ZADD", b"probe:{p}", b"%d" % n, b"u%d" % n)
            took = time.monotonic() - t
            if took > worst[op][0]:
                worst[op] = (took, t - t_start)
            if took > 0.05:
                slow.append((t - t_start, op, took))
        n += 1
        time.sleep(0.001)
    print(f"  probe: {n} rounds of PING + write over {time.monotonic() - t_start:.1f} s")
    for op, (took, at) in worst.items():
        print(f"  probe: longest {op} wait {took * 1000:.1f} ms (at +{at:.2f} s)")
    for at, op, took in slow[:20]:
        print(f"  probe: +{at:.2f} s {op} waited {took * 1000:.1f} ms")
    if len(slow) > 20:
        print(f"  probe: ... {len(slow) - 20} more waits over 50 ms")


if __name__ == "__main__":
    main()
