#!/usr/bin/env python3
"""Writes a waiting line of N users as RESP ZADD commands (1000 members each) for
`redis-cli --pipe`: members user:<n> at ENTER's arrival scores (a Unix ms plus a 1/2048 ms
slot per arrival, so every score is exact and the order strict), all in one sorted set.

    bench/scripts/line_gen.py N [key] > line.resp      (progress on stderr)
"""
import sys


def main():
    n = int(sys.argv[1])
    key = (sys.argv[2] if len(sys.argv) > 2 else "queue:{concert}").encode()
    t0 = 1765000000000
    out = sys.stdout.buffer
    batch = 1000
    head_key = b"$%d\r\n%s\r\n" % (len(key), key)
    for start in range(0, n, batch):
        end = min(start + batch, n)
        parts = [b"*%d\r\n$4\r\nZADD\r\n" % (2 + 2 * (end - start)), head_key]
        for i in range(start, end):
            score = repr(t0 + i / 2048).encode()
            member = b"user:%d" % i
            parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(score), score, len(member), member))
        out.write(b"".join(parts))
        if end % 1_000_000 == 0 or end == n:
            print(f"  generated {end:,} users", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
