"""Dramatiq (PyPI, pinned by scripts/test), a task queue whose Redis broker is one Lua script
(`dispatch.lua`: enqueue, fetch, ack, nack, requeue, purge and maintenance, every key built at
run time from one declared namespace key, and `maxstack.lua`, which measures how many values
`unpack` takes), against one server (port in argv[1]).

Actors that succeed, fail and retry, delayed messages, a result backend, dead letters, and a
worker stopped with messages it had fetched but not run, which go back to the queue. Prints
what the application sees as JSON, so the caller can compare two servers.
"""
import json
import sys
import threading
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

port = int(sys.argv[1])
url = f"redis://127.0.0.1:{port}/0"
redis.Redis(port=port).flushall()
out = {}

broker = RedisBroker(url=url, namespace="dq")
backend = RedisBackend(url=url, namespace="dq-results")
broker.add_middleware(Results(backend=backend))
dramatiq.set_broker(broker)
out["max_unpack_size"] = broker._max_unpack_size()

calls = {}
lock = threading.Lock()


def count(name):
    with lock:
        calls[name] = calls.get(name, 0) + 1
        return calls[name]


@dramatiq.actor(store_results=True, max_retries=0)
def add(x, y):
    count("add")
    return x + y


@dramatiq.actor(max_retries=2, min_backoff=10, max_backoff=20)
def flaky(n):
    if count(f"flaky{n}") < 3:
        raise RuntimeError("not yet")


@dramatiq.actor(max_retries=0)
def doomed():
    count("doomed")
    raise ValueError("always")


@dramatiq.actor(queue_name="slow", max_retries=0)
def slow(i):
    count("slow")
    time.sleep(0.05)


def run_worker(queues=None, threads=2):
    worker = dramatiq.Worker(broker, worker_threads=threads, queues=queues, worker_timeout=100)
    worker.start()
    return worker


messages = [add.send(i, i * 10) for i in range(20)]
for n in range(3):
    flaky.send(n)
doomed.send()
delayed = add.send_with_options(args=(1000, 1), delay=300)
out["declared_queues"] = sorted(broker.get_declared_queues())
worker = run_worker(queues={"default", "default.DQ"})
broker.join("default", timeout=20000)
broker.join("default.DQ", timeout=20000)
worker.join()
out["results"] = [m.get_result(backend=backend, block=True, timeout=10000) for m in messages]
out["delayed_result"] = delayed.get_result(backend=backend, block=True, timeout=10000)
worker.stop()
out["calls"] = dict(sorted(calls.items()))

# Dead letters: the failed message sits in the default queue's XQ set.
r = redis.Redis(port=port, decode_responses=True)
out["dead_letters"] = r.zcard("dq:default.XQ")
out["dead_letter_kept"] = r.hlen("dq:default.XQ.msgs")

# A worker stopped while it holds fetched messages: they are requeued and run by the next.
for i in range(30):
    slow.send(i)
stopping = run_worker(queues={"slow"}, threads=1)
deadline = time.time() + 20
while calls.get("slow", 0) < 2 and time.time() < deadline:
    time.sleep(0.01)
stopping.stop(timeout=100)
out["slow_done_before_stop_some"] = 0 < calls.get("slow", 0) < 30
rescuer = run_worker(queues={"slow"}, threads=2)
broker.join("slow", timeout=30000)
rescuer.join()
rescuer.stop()
out["slow_runs_at_least_all"] = calls["slow"] >= 30
out["slow_queue_left"] = r.llen("dq:slow")
out["acks_left"] = sum(r.scard(k) for k in r.scan_iter("dq:__acks__.*"))

broker.flush_all()
out["after_flush"] = sorted(k for k in r.scan_iter("dq:*") if not k.startswith("dq:__heartbeats__"))
broker.close()
print(json.dumps(out, sort_keys=True))
