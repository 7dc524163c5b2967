"""redis-py's RedisCluster against a cluster (seed node host and port in argv[1:3]).

Phase "write" (argv[3]) stores 300 keys spread over every node, enters 50 users into one
event's waiting line with the native ENTER (routed by its key like any command), and runs a
pipeline; phase "read" reads everything back and asks every user's place, after the test moved
slots between the phases. Both print their results as one JSON line.
"""
import json
import sys

from redis.cluster import RedisCluster

host, port, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rc = RedisCluster(host=host, port=port)
out = {}
if phase == "write":
    for i in range(300):
        rc.set(f"key:{i}", i)
    out["entered"] = [
        rc.execute_command("ENTER", "queue:{e1}", "active:{e1}", f"u{i}")[1] for i in range(50)
    ]
    pipe = rc.pipeline()
    for i in range(20):
        pipe.incr(f"counter:{i}")
    out["pipeline"] = pipe.execute()
    out["nodes"] = len(rc.get_nodes())
else:
    out["sum"] = sum(int(rc.get(f"key:{i}")) for i in range(300))
    out["missing"] = [i for i in range(300) if rc.get(f"key:{i}") is None]
    out["positions"] = [
        rc.execute_command("QPOS", "queue:{e1}", "active:{e1}", f"u{i}")[1] for i in range(50)
    ]
    out["counters"] = [int(rc.get(f"counter:{i}")) for i in range(20)]
print(json.dumps(out))
