#!/usr/bin/env python3
"""Measures how long a server leaves a client waiting: two connections (opened one after the
other, so on different worker threads of a usher with two), each in its own thread, send PING,
then a write, in a loop, and time each reply, until STOP_FILE exists. Prints each connection's
longest waits (the stall a full sync causes on its primary), with when they happened.

    bench/scripts/latency_probe.py PORT STOP_FILE usher|redis

The write is ENTER probe:{p} pa:{p} u<i> on usher, ZADD probe:{p} <i> u<i> on redis-server
(both take the probe line's shard lock; usher's full sync holds every shard lock while it
takes its image).
"""
import os
import socket
import sys
import threading
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, s.makefile("rb")


def call(conn, *args):
    s, f = conn
    s.sendall(b"".join([b"*%d\r\n" % len(args)] +
                       [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]))
    line = f.readline()
    if line[:1] == b"*":  # ENTER's [status, position, waiting]
        for _ in range(int(line[1:])):
            f.readline()
    elif line[:1] == b"-":
        raise SystemExit(f"probe: error {line!r}")


def probe(c, port, stop, kind, t_start, worst, slow, rounds):
    conn = connect(port)
    n = 0
    while not os.path.exists(stop):
        for op in ("PING", "write"):
            t = time.monotonic()
            if op == "PING":
                call(conn, b"PING")
            elif kind == "usher":
                call(conn, b"ENTER", b"probe:{p}", b"pa:{p}", b"c%du%d" % (c, n))
            else:
                call(conn, b"ZADD", b"probe:{p}", b"%d" % n, b"c%du%d" % (c, n))
            took = time.monotonic() - t
            if took > worst[(c, op)][0]:
                worst[(c, op)] = (took, t - t_start)
            if took > 0.05:
                slow.append((t - t_start, c, op, took))
        n += 1
        time.sleep(0.001)
    rounds[c] = n


def main():
    port, stop, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    t_start = time.monotonic()
    worst = {(c, op): (0.0, 0.0) for c in (0, 1) for op in ("PING", "write")}
    slow = []  # (at, connection, op, seconds) for waits over 50 ms
    rounds = [0, 0]
    # One thread per connection: a connection stuck behind a stall does not hide another's.
    threads = []
    for c in (0, 1):
        t = threading.Thread(target=probe, args=(c, port, stop, kind, t_start, worst, slow, rounds))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # connected one after the other: round robin puts them apart
    for t in threads:
        t.join()
    print(f"  probe: {rounds[0]} + {rounds[1]} rounds of PING + write on 2 connections over "
          f"{time.monotonic() - t_start:.1f} s")
    for (c, op), (took, at) in worst.items():
        print(f"  probe: connection {c}: longest {op} wait {took * 1000:.1f} ms (at +{at:.2f} s)")
    for at, c, op, took in sorted(slow)[:20]:
        print(f"  probe: +{at:.2f} s connection {c} {op} waited {took * 1000:.1f} ms")
    if len(slow) > 20:
        print(f"  probe: ... {len(slow) - 20} more waits over 50 ms")


if __name__ == "__main__":
    main()
