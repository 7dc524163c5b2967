"""redis-py's documented stream API against one server (port in argv[1]).

Asserts what the redis-py documentation promises each call returns, then prints the results
as JSON with the clock-dependent fields blanked, so the caller can compare two servers.
"""
import json
import sys

import redis

r = redis.Redis(port=int(sys.argv[1]), decode_responses=True)
r.flushall()
out = {}

ids = [r.xadd("orders", {"seat": f"A{i}", "user": f"u{i}"}, id=f"{i}-0") for i in range(1, 6)]
assert ids == ["1-0", "2-0", "3-0", "4-0", "5-0"], ids
auto = r.xadd("auto", {"k": "v"})
assert isinstance(auto, str) and "-" in auto
out["xadd_maxlen"] = r.xadd("orders", {"seat": "B1"}, id="6-0", maxlen=10, approximate=False)
out["xlen"] = r.xlen("orders")
out["xrange"] = r.xrange("orders", min="2-0", max="4-0")
out["xrevrange"] = r.xrevrange("orders", count=2)
out["xread"] = r.xread({"orders": "4-0"}, count=5)
out["xread_block_timeout"] = r.xread({"orders": "$"}, block=50)

assert r.xgroup_create("orders", "payments", id="0") is True
out["xreadgroup_a"] = r.xreadgroup("payments", "alice", {"orders": ">"}, count=3)
out["xreadgroup_b"] = r.xreadgroup("payments", "bob", {"orders": ">"}, count=1)
out["xack"] = r.xack("orders", "payments", "1-0")
summary = r.xpending("orders", "payments")
out["xpending"] = summary
rows = r.xpending_range("orders", "payments", min="-", max="+", count=10)
for row in rows:
    assert set(row) == {"message_id", "consumer", "time_since_delivered", "times_delivered"}
    row["time_since_delivered"] = 0
out["xpending_range"] = rows
claim = r.xautoclaim("orders", "payments", "carol", min_idle_time=0, start_id="0-0", count=2)
assert len(claim) == 3, claim  # cursor, claimed entries, deleted ids (Redis 7)
out["xautoclaim"] = claim
out["xautoclaim_justid"] = r.xautoclaim("orders", "payments", "dave", 0, "0-0", justid=True)
out["xclaim"] = r.xclaim("orders", "payments", "erin", 0, ["4-0"])
out["xdel"] = r.xdel("orders", "2-0")
out["xtrim"] = r.xtrim("orders", maxlen=4, approximate=False)

info = r.xinfo_stream("orders")
for key in ["length", "first-entry", "last-entry", "groups", "last-generated-id"]:
    assert key in info, info
out["xinfo_stream"] = info
full = r.xinfo_stream("orders", full=True)
for g in full["groups"]:
    for p in g["pending"]:
        p[2] = 0
    for c in g["consumers"]:
        c["seen-time"] = 0
        for p in c["pending"]:
            p[1] = 0
out["xinfo_stream_full"] = full
out["xinfo_groups"] = r.xinfo_groups("orders")
consumers = r.xinfo_consumers("orders", "payments")
for c in consumers:
    c["idle"] = 0
out["xinfo_consumers"] = consumers
print(json.dumps(out, sort_keys=True, default=str))
