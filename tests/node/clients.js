// ioredis (the Node client) drives its documented stream, geo and bitfield APIs and client
// tracking against one server (port in argv[2]), asserts the shapes ioredis documents, and
// prints the results as JSON with clock-dependent fields blanked, so the caller can compare
// usher with redis-server. ioredis speaks RESP2 only, so tracking uses the REDIRECT form: a
// subscriber on `__redis__:invalidate` receives the invalidated keys.
"use strict";
const assert = require("assert");
const Redis = require("ioredis");

const port = Number(process.argv[2]);
const opts = { port, host: "127.0.0.1", lazyConnect: false, maxRetriesPerRequest: 1 };

async function streams(r, out) {
  const ids = [];
  for (let i = 1; i <= 4; i++) ids.push(await r.xadd("orders", `${i}-0`, "seat", `A${i}`));
  assert.deepStrictEqual(ids, ["1-0", "2-0", "3-0", "4-0"]);
  out.xadd_maxlen = await r.xadd("orders", "MAXLEN", "=", "10", "5-0", "seat", "B");
  out.xadd_auto_is_id = /^\d+-\d+$/.test(await r.xadd("clicks", "*", "page", "/"));
  out.xgroup_create = await r.xgroup("CREATE", "orders", "payments", "0");
  out.xreadgroup = await r.xreadgroup("GROUP", "payments", "alice", "COUNT", 2, "STREAMS", "orders", ">");
  out.xreadgroup_bob = await r.xreadgroup("GROUP", "payments", "bob", "COUNT", 2, "STREAMS", "orders", "2-0");
  out.xack = await r.xack("orders", "payments", "1-0", "9-0");
  const [count, lo, hi, consumers] = await r.xpending("orders", "payments");
  out.xpending = [count, lo, hi, consumers];
  out.xrange = await r.xrange("orders", "-", "3-0");
  out.xlen = await r.xlen("orders");
  out.xreadgroup_rest = await r.xreadgroup("GROUP", "payments", "carol", "COUNT", 10, "STREAMS", "orders", ">");
  out.xreadgroup_block_timeout = await r.xreadgroup("GROUP", "payments", "carol", "BLOCK", 20, "STREAMS", "orders", ">");
  out.xpending_carol = (await r.xpending("orders", "payments", "-", "+", 10, "carol")).map((p) => [p[0], p[1], p[3]]);
}

async function geo(r, out) {
  out.geoadd = await r.geoadd("venues", 13.361389, 38.115556, "teatro-massimo", 13.37, 38.12, "politeama",
    15.087269, 37.502669, "catania-stadium");
  out.geopos = await r.geopos("venues", "politeama", "nowhere");
  out.geodist = await r.geodist("venues", "teatro-massimo", "catania-stadium", "km");
  out.geohash = await r.geohash("venues", "politeama");
  out.geosearch = await r.geosearch("venues", "FROMLONLAT", 13.36, 38.115, "BYRADIUS", 5, "km", "ASC",
    "WITHCOORD", "WITHDIST", "COUNT", 5);
  out.geosearch_box = await r.geosearch("venues", "FROMMEMBER", "politeama", "BYBOX", 400, 400, "km", "DESC");
  out.geosearchstore = await r.geosearchstore("near", "venues", "FROMLONLAT", 13.36, 38.115, "BYRADIUS", 5, "km", "STOREDIST");
  out.near = await r.zrange("near", 0, -1, "WITHSCORES");
  try {
    await r.geosearch("venues", "FROMLONLAT", 13.36, 38.115, "BYRADIUS", 5, "parsecs");
    out.geosearch_bad_unit = "no error";
  } catch (e) {
    out.geosearch_bad_unit = e.message;
  }
}

async function bitfield(r, out) {
  out.bitfield = await r.bitfield("counters", "SET", "u8", 0, 250, "INCRBY", "u8", 0, 10,
    "OVERFLOW", "SAT", "INCRBY", "i8", 8, -300, "OVERFLOW", "FAIL", "INCRBY", "u4", "#4", 20,
    "GET", "u8", 0, "GET", "i8", 8);
  out.bitfield_ro = await r.bitfield_ro("counters", "GET", "u8", 0, "GET", "i8", 8);
  out.setbit = [await r.setbit("seats", 3, 1), await r.setbit("seats", 3, 1), await r.setbit("seats", 70, 1)];
  out.getbit = [await r.getbit("seats", 3), await r.getbit("seats", 4)];
  out.bitcount = await r.bitcount("seats");
  out.bitpos = await r.bitpos("seats", 1, 1);
  out.bitop = await r.bitop("OR", "both", "seats", "counters");
  out.bitop_count = await r.bitcount("both");
}

// Resolves with the first message published on `channel`, or "timeout" after `ms`.
function nextMessage(sub, channel, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { sub.removeListener("message", on); resolve("timeout"); }, ms);
    function on(ch, msg) {
      if (ch !== channel) return;
      clearTimeout(timer);
      sub.removeListener("message", on);
      resolve(msg);
    }
    sub.on("message", on);
  });
}

async function tracking(r, out) {
  const sub = new Redis(opts);
  const reader = new Redis(opts);
  try {
    const subId = await sub.client("ID");
    await sub.subscribe("__redis__:invalidate");
    out.tracking_on = await reader.client("TRACKING", "ON", "REDIRECT", subId);
    assert.strictEqual(await reader.client("GETREDIR"), subId);
    await r.set("price", "100");
    out.read = await reader.get("price");
    const invalidated = nextMessage(sub, "__redis__:invalidate", 2000);
    await r.set("price", "120");
    // RESP2 delivers the key list as the message; ioredis joins an array payload with commas.
    out.invalidated = await invalidated;
    out.reread = await reader.get("price");
    // Not read since the last invalidation: no message for a second write.
    const quiet = nextMessage(sub, "__redis__:invalidate", 200);
    await r.set("untracked", "x");
    out.untracked_write = await quiet;
    out.tracking_off = await reader.client("TRACKING", "OFF");
  } finally {
    sub.disconnect();
    reader.disconnect();
  }
}

async function main() {
  const r = new Redis(opts);
  try {
    await r.flushall();
    const out = {};
    await streams(r, out);
    await geo(r, out);
    await bitfield(r, out);
    await tracking(r, out);
    const sorted = Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
    console.log(JSON.stringify(sorted));
  } finally {
    r.disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
