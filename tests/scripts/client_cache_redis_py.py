"""redis-py's client-side caching (RESP3, `cache_config=CacheConfig()`) against one server
(port in argv[1]).

The cached client reads keys, a second plain client modifies them, and the cached client must
see the new values: the server pushes an invalidation, redis-py drops the entry and reads
again. The server's own GET count (INFO commandstats) shows the unmodified reads were served
from the cache. Prints the observations as JSON so the caller can compare two servers.
"""
import json
import sys
import time

import redis

try:
    from redis.cache import CacheConfig
except ImportError:
    sys.exit(f"redis-py {redis.__version__} has no client-side cache: pip install -U 'redis>=5.1'")

# redis-py refuses to cache against a server whose HELLO reports a version under 7.4 (a
# policy gate on the version string). What it drives, HELLO 3 + CLIENT TRACKING ON + RESP3
# `invalidate` pushes, is Redis 6's protocol and 7.0.15 (usher's reference) serves it, so the
# gate is lowered to 7.0 for both servers alike.
redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"

port = int(sys.argv[1])
plain = redis.Redis(port=port, decode_responses=True)
plain.flushall()
cached = redis.Redis(port=port, protocol=3, cache_config=CacheConfig(), decode_responses=True)
cache = cached.get_cache()
out = {}


def after_push(read, expected):
    """Reads through the cache until it returns `expected` (2 s at most). The invalidation is
    pushed on the cached client's own connection, with no ordering against the writer's reply
    on another connection: redis-py drains pushes before each cached read, so a read issued the
    instant the writer got its reply may still see the old entry. A stale read is a cache hit,
    so the server's GET count below stays exact."""
    deadline = time.monotonic() + 2
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.001)
        value = read()
    return value


def server_gets():
    stats = plain.info("commandstats").get("cmdstat_get", {})
    return stats.get("calls", 0)


plain.set("price", "100")
plain.hset("seat:A1", mapping={"state": "free"})
plain.config_resetstat()

out["first_read"] = cached.get("price")
out["repeat_reads"] = [cached.get("price") for _ in range(5)]
out["cache_size_after_reads"] = cache.size
assert out["cache_size_after_reads"] == 1, out
out["server_gets_after_repeats"] = server_gets()
assert out["server_gets_after_repeats"] == 1, out

# The cached connection is a tracking client, as CLIENT LIST shows.
flags = [c["flags"] for c in plain.client_list() if "t" in c["flags"]]
out["tracking_clients"] = len(flags)

plain.set("price", "120")
out["after_set"] = after_push(lambda: cached.get("price"), "120")
assert out["after_set"] == "120", out
out["server_gets_after_invalidation"] = server_gets()

out["hash_first"] = cached.hgetall("seat:A1")
plain.hset("seat:A1", "state", "held")
out["hash_after_hset"] = after_push(lambda: cached.hgetall("seat:A1"), {"state": "held"})
assert out["hash_after_hset"] == {"state": "held"}, out

cached.get("price")
plain.delete("price")
out["after_del"] = after_push(lambda: cached.get("price"), None)
assert out["after_del"] is None, out

cached.get("gone-soon")
plain.set("gone-soon", "x")
out["after_create"] = after_push(lambda: cached.get("gone-soon"), "x")

# FLUSHALL invalidates everything the client tracked (a null invalidation message).
cached.get("gone-soon")
plain.flushall()
out["after_flushall"] = after_push(lambda: cached.get("gone-soon"), None)
assert out["after_flushall"] is None, out
out["cache_size_end"] = cache.size
print(json.dumps(out, sort_keys=True))
