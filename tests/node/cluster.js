// ioredis's Cluster client against a cluster (seed node host and port in argv[2], argv[3]):
// it discovers the nodes with CLUSTER SLOTS, writes keys spread over them, enters users into
// one event's waiting line with the native ENTER (sent to the node of its key), reads it all
// back and prints the results as one JSON line.
"use strict";
const Redis = require("ioredis");

async function main() {
  const [host, port] = [process.argv[2], Number(process.argv[3])];
  const cluster = new Redis.Cluster([{ host, port }], { redisOptions: { maxRetriesPerRequest: 2 } });
  const out = {};
  for (let i = 0; i < 200; i++) await cluster.set(`io:${i}`, String(i));
  let sum = 0;
  for (let i = 0; i < 200; i++) sum += Number(await cluster.get(`io:${i}`));
  out.sum = sum;
  const positions = [];
  for (let i = 0; i < 20; i++) {
    const r = await cluster.call("ENTER", "queue:{io}", "active:{io}", `u${i}`);
    positions.push(r[1]);
  }
  out.positions = positions;
  out.mset = await cluster.mset("{io}a", "1", "{io}b", "2");
  out.mget = await cluster.mget("{io}a", "{io}b");
  out.masters = cluster.nodes("master").length;
  await cluster.quit();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
