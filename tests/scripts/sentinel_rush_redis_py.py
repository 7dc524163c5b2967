"""A ticket-rush client that finds the primary through Sentinel, as redis-py applications do.

Usage: sentinel_rush_redis_py.py <seconds> <sentinel-port>[,<sentinel-port>...]

For <seconds> it joins users to the waiting line with ENTER and acknowledges each join with
WAIT 1, through `Sentinel.master_for`, which resolves the primary from the Sentinels and
resolves it again after a connection fails. Connection errors and READONLY (a demoted node)
are retried after a pause, as an application would. Prints one JSON line: the users whose join
was acknowledged by a replica, the errors met, and the primaries seen (host:port, in order).
"""

import json
import sys
import time

import redis
from redis.sentinel import Sentinel

QUEUE = "queue:{rush}"
ACTIVE = "active:{rush}"


def main():
    seconds = float(sys.argv[1])
    ports = [int(p) for p in sys.argv[2].split(",")]
    sentinel = Sentinel(
        [("127.0.0.1", p) for p in ports], socket_timeout=0.5, socket_connect_timeout=0.5
    )
    primary = sentinel.master_for(
        "tickets", socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False
    )
    acked, errors, seen = [], 0, []
    deadline = time.time() + seconds
    i = 0
    while time.time() < deadline:
        try:
            addr = "%s:%d" % sentinel.discover_master("tickets")
            if not seen or seen[-1] != addr:
                seen.append(addr)
        except redis.exceptions.RedisError:
            pass
        user = "py-%d" % i
        try:
            status = primary.execute_command("ENTER", QUEUE, ACTIVE, user)[0]
            if status not in (b"NEW", b"WAITING", b"ACTIVE"):
                raise SystemExit("ENTER answered %r" % (status,))
            if primary.execute_command("WAIT", 1, 500) >= 1:
                acked.append(user)
            i += 1
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ReadOnlyError, redis.exceptions.ResponseError) as e:
            if isinstance(e, redis.exceptions.ResponseError) and "MASTERDOWN" not in str(e) \
                    and "READONLY" not in str(e):
                raise
            errors += 1
            time.sleep(0.05)
    print(json.dumps({"acked": acked, "errors": errors, "primaries": seen}))


if __name__ == "__main__":
    main()
