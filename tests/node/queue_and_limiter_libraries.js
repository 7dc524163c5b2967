// Two more libraries whose logic is Lua, against one server (port in argv[2]):
// bee-queue (a job queue on node-redis 3: addJob, raiseDelayedJobs, checkStalledJobs and
// removeJob are scripts) and rate-limiter-flexible on ioredis (its consume is an
// incr-with-ttl script). Prints what an application sees, without clock-dependent fields,
// as JSON, so the caller can compare usher with redis-server. Every wait is bounded.
"use strict";
const assert = require("assert");
const BeeQueue = require("bee-queue");
const Redis = require("ioredis");
const { RateLimiterRedis, BurstyRateLimiter, RateLimiterRes } = require("rate-limiter-flexible");

const port = Number(process.argv[2]);
const { sleep, until } = require("./wait");

function bee(name, settings = {}) {
  return new BeeQueue(name, {
    redis: { host: "127.0.0.1", port },
    removeOnSuccess: false,
    stallInterval: 500,
    delayedDebounce: 50,
    activateDelayedJobs: true,
    ...settings,
  });
}

/// Jobs run in order, with retries and backoff, a failure, and a removal.
async function beeBasics(out) {
  const q = bee("bq-basic");
  await q.ready();
  const order = [];
  const tries = {};
  q.process(async (job) => {
    order.push(job.data.n);
    tries[job.data.n] = (tries[job.data.n] || 0) + 1;
    if (job.data.n === 3 && tries[3] < 3) throw new Error("transient");
    if (job.data.n === 4) throw new Error("permanent");
    return job.data.n * 10;
  });
  const results = {};
  const failed = {};
  q.on("succeeded", (job, r) => (results[job.id] = r));
  // "failed" fires for every failed attempt, retried or not; the last one is kept.
  q.on("failed", (job, e) => (failed[job.id] = e.message));
  for (let n = 1; n <= 6; n++) {
    let job = q.createJob({ n });
    if (n === 3) job = job.retries(2).backoff("fixed", 30);
    if (n === 6) job = job.setId("custom-6");
    await job.save();
  }
  const removable = await q.createJob({ n: 99 }).delayUntil(Date.now() + 60000).save();
  await q.removeJob(removable.id);
  await until(async () => {
    const h = await q.checkHealth();
    return h.succeeded === 5 && h.failed === 1;
  }, "5 succeeded and 1 failed");
  out.order_first = order.slice(0, 2);
  out.tries = tries;
  out.results = results;
  out.failed = failed;
  out.health = await q.checkHealth();
  out.removed_exists = (await q.getJob(removable.id)) !== null;
  const page = await q.getJobs("succeeded", { size: 10 });
  out.succeeded_ids = page.map((j) => j.id).sort();
  await q.close();
}

/// Delayed jobs become ready in due order.
async function beeDelayed(out) {
  const q = bee("bq-delay");
  await q.ready();
  const order = [];
  q.process(async (job) => order.push(job.data.name));
  const now = Date.now();
  await q.createJob({ name: "late" }).delayUntil(now + 600).save();
  await q.createJob({ name: "early" }).delayUntil(now + 200).save();
  await q.createJob({ name: "now" }).save();
  out.delayed_before = (await q.checkHealth()).delayed;
  await until(async () => order.length === 3, "3 delayed jobs");
  out.order = order;
  await q.close();
}

/// A job whose worker vanished is found stalled and run again by another worker.
async function beeStalled(out) {
  const producer = bee("bq-stall", { isWorker: false });
  await producer.ready();
  const job = await producer.createJob({ v: 1 }).save();
  // A worker takes the job and dies without finishing it (its connection closes).
  const dying = bee("bq-stall");
  await dying.ready();
  let taken;
  const took = new Promise((r) => (taken = r));
  dying.process(() => {
    taken();
    return new Promise(() => {});
  });
  await took;
  await dying.close(10).catch(() => {});
  const rescuer = bee("bq-stall");
  await rescuer.ready();
  let done;
  const finished = new Promise((r) => (done = r));
  rescuer.process(async (j) => {
    done(j.id);
    return "rescued";
  });
  // The first check marks the active jobs, the next one (a stall interval later) moves the
  // ones nobody renewed back to waiting.
  out.stalled_found = [];
  for (let i = 0; i < 2; i++) {
    await sleep(600);
    out.stalled_found.push(await rescuer.checkStalledJobs());
  }
  out.rescued = await Promise.race([finished, sleep(10000).then(() => "not rescued")]);
  out.same_job = out.rescued === job.id;
  await rescuer.close();
  await producer.close();
}

/// Points consumed until refused, penalties, rewards, blocks and deletes, across keys.
async function limiter(out) {
  const client = new Redis({ host: "127.0.0.1", port, enableOfflineQueue: false });
  await new Promise((r) => client.once("ready", r));
  const rl = new RateLimiterRedis({ storeClient: client, points: 5, duration: 3600, keyPrefix: "rlf" });
  const seq = [];
  for (let i = 0; i < 7; i++) {
    try {
      const r = await rl.consume("u1");
      seq.push(["ok", r.remainingPoints, r.consumedPoints]);
    } catch (r) {
      assert.ok(r instanceof RateLimiterRes, `a refusal is a RateLimiterRes: ${r}`);
      seq.push(["refused", r.remainingPoints, r.consumedPoints, r.msBeforeNext > 0]);
    }
  }
  out.consume = seq;
  out.weighted = await rl.consume("u2", 3).then((r) => r.remainingPoints);
  out.penalty = (await rl.penalty("u2", 1)).consumedPoints;
  out.reward = (await rl.reward("u2", 2)).consumedPoints;
  const got = await rl.get("u2");
  out.get = [got.consumedPoints, got.remainingPoints, got.msBeforeNext > 0];
  out.get_missing = await rl.get("nobody");
  await rl.block("u3", 60);
  out.blocked = await rl.consume("u3").then(() => "allowed", (r) => ["refused", r.consumedPoints > 5]);
  out.deleted = await rl.delete("u1");
  out.after_delete = (await rl.consume("u1")).consumedPoints;
  // Burst: 2 points a second, plus a bucket of 3 more for bursts.
  const bursty = new BurstyRateLimiter(
    new RateLimiterRedis({ storeClient: client, points: 2, duration: 3600, keyPrefix: "steady" }),
    new RateLimiterRedis({ storeClient: client, points: 3, duration: 3600, keyPrefix: "burst" }),
  );
  const burst = [];
  for (let i = 0; i < 6; i++) burst.push(await bursty.consume("b").then(() => true, () => false));
  out.bursty = burst;
  // Concurrent consumers of one key never exceed its points.
  const many = new RateLimiterRedis({ storeClient: client, points: 50, duration: 3600, keyPrefix: "many" });
  const results = await Promise.all(Array.from({ length: 80 }, () => many.consume("k").then(() => 1, () => 0)));
  out.concurrent_allowed = results.reduce((a, b) => a + b, 0);
  client.disconnect();
}

(async () => {
  const out = {};
  for (const [name, scenario] of Object.entries({ beeBasics, beeDelayed, beeStalled, limiter })) {
    out[name] = {};
    try {
      await scenario(out[name]);
    } catch (e) {
      out[name].error = e.stack;
    }
  }
  console.log(JSON.stringify(out));
  process.exit(0);
})();
