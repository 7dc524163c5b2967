// BullMQ, the Node job queue whose whole state machine is Lua scripts sent with EVALSHA (keys
// built at run time from the queue's prefix and the job id, cmsgpack-packed arguments,
// blocking stream reads for its events), runs one fixed set of queue scenarios against one
// server (port in argv[2]) and prints what a user of the queue sees as JSON: processing
// order, return values, attempts, failure reasons, job states and counts, flow results and
// events. Clock-dependent fields (timestamps, durations) are left out, so the caller can
// compare usher with redis-server. Each scenario has its own queue, and every wait is bounded.
"use strict";
const assert = require("assert");
const { Queue, Worker, FlowProducer, QueueEvents, Job } = require("bullmq");

const port = Number(process.argv[2]);
const connection = { host: "127.0.0.1", port };

const { sleep, until } = require("./wait");

/// A worker on `name` running `fn` one job at a time, recording the order jobs were taken.
function worker(name, fn, opts = {}) {
  const taken = [];
  const w = new Worker(
    name,
    async (job) => {
      taken.push(job.name);
      return fn(job);
    },
    { connection, concurrency: 1, ...opts },
  );
  w.on("error", (e) => console.error(`worker ${name}: ${e.message}`));
  return { w, taken };
}

async function counts(q) {
  return q.getJobCounts("waiting", "active", "delayed", "prioritized", "completed", "failed", "paused", "waiting-children");
}

/// Jobs added one by one and in bulk, run in order by one worker; return values stored.
async function fifo(out) {
  const q = new Queue("fifo", { connection });
  for (let i = 1; i <= 10; i++) await q.add(`j${i}`, { n: i });
  const bulk = await q.addBulk([11, 12, 13].map((n) => ({ name: `j${n}`, data: { n } })));
  out.bulk_ids = bulk.map((j) => j.id);
  out.waiting_before = await q.getWaitingCount();
  out.waiting_jobs = (await q.getWaiting(0, 3)).map((j) => [j.id, j.name, j.data]);
  const { w, taken } = worker("fifo", async (job) => job.data.n * 2);
  await until(async () => (await q.getCompletedCount()) === 13, "13 completed");
  await w.close();
  out.order = taken;
  const done = await q.getCompleted(0, -1);
  out.returns = done.map((j) => [j.id, j.returnvalue, j.attemptsMade]).sort((a, b) => a[0] - b[0]);
  out.counts = await counts(q);
  const job = await q.getJob("5");
  out.job5 = [job.name, job.data, job.returnvalue, await job.getState(), job.finishedOn >= job.processedOn];
  await q.close();
}

/// Priorities (lower runs first, ties FIFO) and LIFO, added while the queue is paused.
async function priorities(out) {
  const q = new Queue("prio", { connection });
  await q.pause();
  out.paused = await q.isPaused();
  await q.add("p5a", {}, { priority: 5 });
  await q.add("p1", {}, { priority: 1 });
  await q.add("p5b", {}, { priority: 5 });
  await q.add("plain", {});
  await q.add("p3", {}, { priority: 3 });
  await q.add("lifo", {}, { lifo: true });
  out.counts_paused = await counts(q);
  out.prioritized = (await q.getPrioritized()).map((j) => [j.name, j.priority]);
  const changed = await q.add("p9", {}, { priority: 9 });
  await changed.changePriority({ priority: 2 });
  const { w, taken } = worker("prio", async () => "ok");
  await q.resume();
  await until(async () => (await q.getCompletedCount()) === 7, "7 completed");
  await w.close();
  out.order = taken;
  out.counts = await counts(q);
  await q.close();
}

/// Delayed jobs run after their delay, in due order; one is promoted, one has its delay changed.
async function delayed(out) {
  const q = new Queue("delay", { connection });
  await q.add("d900", {}, { delay: 900 });
  await q.add("d300", {}, { delay: 300 });
  await q.add("now", {});
  const promoted = await q.add("promoted", {}, { delay: 60000 });
  const moved = await q.add("moved", {}, { delay: 60000 });
  out.delayed = (await q.getDelayed()).map((j) => j.name).sort();
  out.counts_before = await counts(q);
  await promoted.promote();
  await moved.changeDelay(600);
  out.state_promoted = await promoted.getState();
  const { w, taken } = worker("delay", async () => null);
  await until(async () => (await q.getCompletedCount()) === 5, "5 completed");
  await w.close();
  out.order = taken.slice(0, 2).sort().concat(taken.slice(2));
  out.counts = await counts(q);
  await q.close();
}

/// Attempts with fixed and exponential backoff; a job that gives up, an unrecoverable error.
async function retries(out) {
  const q = new Queue("retry", { connection });
  await q.add("flaky", {}, { attempts: 3, backoff: { type: "fixed", delay: 50 } });
  await q.add("doomed", {}, { attempts: 2, backoff: { type: "exponential", delay: 20 } });
  await q.add("once", {});
  const seen = {};
  const { w, taken } = worker("retry", async (job) => {
    seen[job.name] = (seen[job.name] || 0) + 1;
    if (job.name === "flaky" && job.attemptsMade < 2) throw new Error(`flaky try ${job.attemptsMade}`);
    if (job.name === "doomed") throw new Error("always fails");
    if (job.name === "once") throw new Error("no retries");
    return `done after ${job.attemptsMade}`;
  });
  await until(async () => {
    const c = await q.getJobCounts("completed", "failed");
    return c.completed === 1 && c.failed === 2;
  }, "1 completed and 2 failed");
  await w.close();
  out.runs = seen;
  out.taken_count = taken.length;
  const failed = await q.getFailed();
  out.failed = failed.map((j) => [j.name, j.attemptsMade, j.failedReason, j.stacktrace.length]).sort();
  const ok = (await q.getCompleted())[0];
  out.completed = [ok.name, ok.returnvalue, ok.attemptsMade];
  // A failed job retried by hand runs again.
  const again = failed.find((j) => j.name === "once");
  await again.retry();
  out.retried_state = await again.getState();
  out.counts = await counts(q);
  await q.obliterate({ force: true });
  out.after_obliterate = await q.getJobCountByTypes("waiting", "completed", "failed");
  await q.close();
}

/// Custom ids are unique, deduplication keeps one job per id, removal and cleaning.
async function idsAndRemoval(out) {
  const q = new Queue("ids", { connection });
  const a = await q.add("a", { v: 1 }, { jobId: "order-42" });
  const b = await q.add("a", { v: 2 }, { jobId: "order-42" });
  out.same_id = [a.id, b.id, (await q.getJob("order-42")).data];
  const d1 = await q.add("dedup", { v: 1 }, { deduplication: { id: "seat-7" } });
  const d2 = await q.add("dedup", { v: 2 }, { deduplication: { id: "seat-7" } });
  out.dedup = [d1.id, d2.id, await q.getDeduplicationJobId("seat-7"), await q.getWaitingCount()];
  for (let i = 0; i < 5; i++) await q.add("bulk", { i }, { removeOnComplete: 2, removeOnFail: true });
  await (await q.getJob("order-42")).remove();
  out.after_remove = await q.getWaitingCount();
  const { w } = worker("ids", async (job) => {
    await job.updateProgress(50);
    await job.log(`log of ${job.name}`);
    return job.data;
  });
  await until(async () => (await q.getWaitingCount()) === 0 && (await q.getActiveCount()) === 0, "drained");
  await sleep(50);
  await w.close();
  out.kept_completed = (await q.getCompleted()).map((j) => [j.name, j.data, j.progress]).sort();
  const kept = (await q.getCompleted())[0];
  out.logs = await q.getJobLogs(kept.id);
  out.cleaned = (await q.clean(0, 10, "completed")).length;
  out.counts = await counts(q);
  await q.add("left", {});
  await q.drain();
  out.after_drain = await q.getWaitingCount();
  await q.close();
}

/// A flow: a parent runs after its three children and reads their results.
async function flows(out) {
  const flow = new FlowProducer({ connection });
  const tree = await flow.add({
    name: "checkout",
    queueName: "flow-parent",
    data: { order: 7 },
    children: [1, 2, 3].map((n) => ({ name: `seat${n}`, queueName: "flow-child", data: { n } })),
  });
  out.children = tree.children.map((c) => [c.job.name, c.job.queueName]);
  const parentQ = new Queue("flow-parent", { connection });
  out.parent_state = await tree.job.getState();
  out.parent_counts = await counts(parentQ);
  const child = worker("flow-child", async (job) => `seat-${job.data.n}-held`);
  let childValues = null;
  const parent = worker("flow-parent", async (job) => {
    childValues = await job.getChildrenValues();
    return Object.keys(childValues).length;
  });
  await until(async () => (await parentQ.getCompletedCount()) === 1, "the parent completed");
  await child.w.close();
  await parent.w.close();
  out.child_order = child.taken;
  out.children_values = Object.values(childValues).sort();
  out.parent_return = (await parentQ.getCompleted())[0].returnvalue;
  const deps = await (await Job.fromId(parentQ, tree.job.id)).getDependenciesCount();
  out.deps = deps;
  await parentQ.close();
  await flow.close();
}

/// A job scheduler with a limit produces exactly that many jobs.
async function schedulers(out) {
  const q = new Queue("sched", { connection });
  await q.upsertJobScheduler("tick", { every: 100, limit: 3 }, { name: "tick", data: { k: 1 } });
  out.schedulers = (await q.getJobSchedulers()).map((s) => [s.key, s.every, s.limit]);
  const { w, taken } = worker("sched", async (job) => job.data.k);
  await until(async () => (await q.getCompletedCount()) === 3, "3 scheduled runs");
  await sleep(300);
  await w.close();
  out.runs = taken.length;
  out.removed = await q.removeJobScheduler("tick");
  out.schedulers_after = (await q.getJobSchedulers()).length;
  await q.close();
}

/// QueueEvents reads the events stream with blocking XREAD: every completion arrives once.
async function events(out) {
  const qe = new QueueEvents("ev", { connection });
  await qe.waitUntilReady();
  const seen = [];
  qe.on("completed", ({ jobId, returnvalue }) => seen.push([jobId, returnvalue]));
  const q = new Queue("ev", { connection });
  const { w } = worker("ev", async (job) => `r${job.id}`);
  const jobs = [];
  for (let i = 0; i < 6; i++) jobs.push(await q.add("e", {}));
  // waitUntilFinished is built on the same stream.
  out.finished = await jobs[5].waitUntilFinished(qe, 20000);
  await until(async () => seen.length === 6, "6 completed events");
  await w.close();
  out.events = seen.sort((a, b) => Number(a[0]) - Number(b[0]));
  await qe.close();
  await q.close();
}

/// A worker limited to 4 jobs per 400 ms still completes everything.
async function rateLimited(out) {
  const q = new Queue("rl", { connection });
  await q.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: `r${i}`, data: {} })));
  const { w, taken } = worker("rl", async () => 1, { limiter: { max: 4, duration: 400 } });
  await until(async () => (await q.getCompletedCount()) === 10, "10 rate-limited jobs");
  await w.close();
  out.order = taken;
  out.counts = await counts(q);
  await q.close();
}

/// Many producers and workers at once (each worker its own connections, so the scripts run
/// on both of usher's threads): every job runs exactly once and none is lost.
async function concurrent(out) {
  const q = new Queue("busy", { connection });
  const runs = new Map();
  const workers = [];
  for (let i = 0; i < 4; i++) {
    const w = new Worker(
      "busy",
      async (job) => {
        runs.set(job.id, (runs.get(job.id) || 0) + 1);
        if (job.data.n % 7 === 0) await sleep(1);
        return job.data.n;
      },
      { connection, concurrency: 5 },
    );
    w.on("error", (e) => console.error(`worker busy: ${e.message}`));
    workers.push(w);
  }
  const producers = [0, 1, 2].map(async (p) => {
    const producer = new Queue("busy", { connection });
    for (let b = 0; b < 5; b++) {
      await producer.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: "b", data: { n: p * 1000 + b * 20 + i } })));
      for (let i = 0; i < 20; i++) await producer.add("s", { n: p * 1000 + 500 + b * 20 + i });
    }
    await producer.close();
  });
  await Promise.all(producers);
  await until(async () => (await q.getCompletedCount()) === 600, "600 completed");
  await Promise.all(workers.map((w) => w.close()));
  out.jobs_run = runs.size;
  out.runs_per_job = [...new Set(runs.values())];
  const done = await q.getCompleted(0, -1);
  out.distinct_returns = new Set(done.map((j) => j.returnvalue)).size;
  out.counts = await counts(q);
  await q.close();
}

/// A worker that dies holding a job: its lock runs out, the stalled-job check moves the job
/// back, and another worker finishes it.
async function stalled(out) {
  const q = new Queue("stall", { connection });
  await q.add("held", { v: 1 });
  let release;
  const blocked = new Promise((r) => (release = r));
  const dying = new Worker("stall", async () => blocked, {
    connection, lockDuration: 300, stalledInterval: 300, skipLockRenewal: true,
  });
  dying.on("error", () => {});
  await until(async () => (await q.getActiveCount()) === 1, "the job taken");
  // The dying worker stops renewing and checking: close without waiting for its job.
  const closing = dying.close(true);
  const rescuer = new Worker("stall", async (job) => `rescued after ${job.attemptsStarted} starts`, {
    connection, lockDuration: 300, stalledInterval: 300,
  });
  const stalledIds = [];
  rescuer.on("stalled", (id) => stalledIds.push(id));
  rescuer.on("error", (e) => console.error(`worker stall: ${e.message}`));
  await until(async () => (await q.getCompletedCount()) === 1, "the stalled job rescued");
  release();
  await closing;
  await rescuer.close();
  out.stalled = stalledIds;
  const job = (await q.getCompleted())[0];
  out.job = [job.name, job.returnvalue, job.stalledCounter];
  out.counts = await counts(q);
  await q.close();
}

(async () => {
  const out = {};
  for (const [name, scenario] of Object.entries({
    fifo, priorities, delayed, retries, idsAndRemoval, flows, schedulers, events, rateLimited,
    concurrent, stalled,
  })) {
    out[name] = {};
    try {
      await scenario(out[name]);
    } catch (e) {
      out[name].error = e.message;
    }
  }
  assert.ok(out.fifo.order, "the first scenario ran");
  console.log(JSON.stringify(out));
  process.exit(0);
})();
