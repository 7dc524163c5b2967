// Load for bullmq_side_by_side.sh: one BullMQ queue on the server at argv[2]; the phase in
// argv[3] is `add` (argv[4] jobs added by addBulk in batches of 500 from 4 producers at once)
// or `work` (4 workers, concurrency argv[5] each, until argv[4] jobs have completed, with
// removeOnComplete so the completed set does not grow). Prints the phase's seconds. BullMQ
// comes from tests/node (npm install there).
"use strict";
const path = require("path");
const { Queue, Worker } = require(path.join(__dirname, "../../tests/node/node_modules/bullmq"));

const [port, phase, n, concurrency] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Number(process.argv[5] || 10)];
const connection = { host: "127.0.0.1", port };
const name = "bench";

async function add() {
  const per = Math.ceil(n / 4);
  const t0 = process.hrtime.bigint();
  await Promise.all([0, 1, 2, 3].map(async (p) => {
    const q = new Queue(name, { connection });
    for (let i = 0; i < per; i += 500) {
      const size = Math.min(500, per - i);
      await q.addBulk(Array.from({ length: size }, (_, j) => ({
        name: "seat", data: { user: p * per + i + j }, opts: { removeOnComplete: true },
      })));
    }
    await q.close();
  }));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function work() {
  let done = 0;
  let finish;
  const all = new Promise((r) => (finish = r));
  const t0 = process.hrtime.bigint();
  const workers = [0, 1, 2, 3].map(() => {
    const w = new Worker(name, async (job) => job.data.user, { connection, concurrency });
    w.on("completed", () => { if (++done === n) finish(); });
    w.on("error", (e) => console.error(e.message));
    return w;
  });
  await all;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all(workers.map((w) => w.close()));
  return secs;
}

(async () => {
  const secs = phase === "add" ? await add() : await work();
  console.log(secs.toFixed(3));
  process.exit(0);
})();
