"""The `limits` rate-limiting library (PyPI, pinned by scripts/test) against one server (port in
argv[1]), sync and asyncio, through its Redis storage.

Its moving window and sliding-window counter are Lua scripts sent with EVALSHA (LINDEX, LPUSH,
LTRIM, EXPIRE; GET, PTTL, RENAME between two keys), and its reset is a script that lists keys
with KEYS and deletes them: key names only known at run time. The same sequence of hits runs
on each strategy; the script prints what the application sees (allowed or not, the remaining
count, the window stats without their clock-dependent reset time) as JSON, so the caller can
compare two servers.
"""
import asyncio
import json
import sys

import redis
from limits import RateLimitItemPerDay, RateLimitItemPerHour, parse
from limits.aio import strategies as aio_strategies
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.storage import RedisStorage
from limits import strategies

port = int(sys.argv[1])
uri = f"redis://127.0.0.1:{port}"
redis.Redis(port=port).flushall()
out = {}

STRATEGIES = {
    "fixed": (strategies.FixedWindowRateLimiter, aio_strategies.FixedWindowRateLimiter),
    "moving": (strategies.MovingWindowRateLimiter, aio_strategies.MovingWindowRateLimiter),
    "sliding": (
        strategies.SlidingWindowCounterRateLimiter,
        aio_strategies.SlidingWindowCounterRateLimiter,
    ),
}
# Day- and hour-long windows: a run (about a second) never crosses one's edge in practice.
FIVE_A_DAY = RateLimitItemPerDay(5)
BURST = parse("10/hour")


def run_sync(name, limiter_cls):
    storage = RedisStorage(uri)
    assert storage.check(), "the storage answers PING"
    lim = limiter_cls(storage)
    res = {}
    res["hits"] = [lim.hit(FIVE_A_DAY, "user", "u1") for _ in range(7)]
    res["other_user"] = lim.hit(FIVE_A_DAY, "user", "u2")
    res["test"] = [lim.test(FIVE_A_DAY, "user", "u1"), lim.test(FIVE_A_DAY, "user", "u2")]
    stats = lim.get_window_stats(FIVE_A_DAY, "user", "u2")
    res["remaining_u2"] = stats.remaining
    res["reset_in_future"] = stats.reset_time > 0
    # Weighted hits: a cost of 4 fits once in 10, then 2 fit, then nothing.
    res["costs"] = [lim.hit(BURST, "seat", cost=c) for c in (4, 4, 2, 1, 11)]
    res["remaining_seat"] = lim.get_window_stats(BURST, "seat").remaining
    lim.clear(FIVE_A_DAY, "user", "u1")
    res["after_clear"] = lim.hit(FIVE_A_DAY, "user", "u1")
    # reset() deletes every key under the storage's prefix with a KEYS-driven script.
    res["reset_removed"] = storage.reset()
    res["after_reset"] = [lim.test(FIVE_A_DAY, "user", "u2"), lim.get_window_stats(BURST, "seat").remaining]
    out[f"sync_{name}"] = res


async def run_async(name, limiter_cls):
    storage = AsyncRedisStorage(f"async+{uri}", implementation="redispy")
    assert await storage.check(), "the async storage answers PING"
    lim = limiter_cls(storage)
    res = {}
    hits = await asyncio.gather(*(lim.hit(FIVE_A_DAY, "crowd", str(i % 3)) for i in range(12)))
    res["allowed_per_user"] = sorted(
        sum(1 for i, ok in enumerate(hits) if ok and i % 3 == u) for u in range(3)
    )
    res["costs"] = [await lim.hit(BURST, "async-seat", cost=c) for c in (6, 5, 4)]
    res["remaining"] = (await lim.get_window_stats(BURST, "async-seat")).remaining
    res["reset_removed"] = await storage.reset()
    out[f"async_{name}"] = res


for name, (sync_cls, async_cls) in STRATEGIES.items():
    run_sync(name, sync_cls)
    asyncio.run(run_async(name, async_cls))

assert out["sync_fixed"]["hits"] == [True] * 5 + [False] * 2, out
assert out["sync_moving"]["costs"][:2] == [True, True], out
print(json.dumps(out, sort_keys=True))
