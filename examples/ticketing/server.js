// The ticketing example's web tier: serves the page and a small JSON API over one Redis
// connection (ioredis). Two back ends, one API:
//
//   --mode native   usher's native commands: ENTER, QPOS, SEATLOCK, SEATCONFIRM; the server
//                   admits users itself at the policy's rate (QPOLICY SET ... RATE).
//   --mode scripts  the seed Lua scripts through EVALSHA, against redis-server (or usher):
//                   enter_queue.lua, seat_lock_with_token.lua, payment_verify.lua, and an
//                   admission loop here running admission_zpopmin.lua every second, as the
//                   seeds' worker does.
//
//   node server.js [--redis-port 6379] [--http-port 8080] [--mode native|scripts]
//                  [--rate 600] [--max-active 100] [--paused]
//
// --paused opens the waiting room with admissions paused: buyers join and see their place;
// the operator starts the sale with `QPOLICY SET queue:{demo} active:{demo} STATE open`
// (native) or `DEL paused:{demo}` (scripts).

"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");
const Redis = require("ioredis");

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const mode = option("mode", "native");
const redisPort = Number(option("redis-port", 6379));
const httpPort = Number(option("http-port", 8080));
const rate = Number(option("rate", 600));
const maxActive = Number(option("max-active", 100));
const sessionMs = 10 * 60 * 1000;
const holdSeconds = 300;
const paused = process.argv.includes("--paused");

// One event; its keys share the hash tag {demo}, so they live on one shard (and one slot).
const QUEUE = "queue:{demo}";
const ACTIVE = "active:{demo}";
const SEATS = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"];
const seatKey = (seat) => `seat:{demo}:${seat}`;
// The scripts back end's pause switch (usher's policy has its own state).
const PAUSED = "paused:{demo}";

const redis = new Redis({ port: redisPort, host: "127.0.0.1", maxRetriesPerRequest: 2 });
const seedDir = path.join(__dirname, "..", "..", "tests", "scripts");

function loadScripts() {
  // Each seed script with the number of its KEYS; ioredis sends them with EVALSHA.
  const keys = { enter_queue: 2, admission_zpopmin: 2, seat_lock_with_token: 1, payment_verify: 1 };
  for (const [name, numberOfKeys] of Object.entries(keys)) {
    const lua = fs.readFileSync(path.join(seedDir, `${name}.lua`), "utf8");
    redis.defineCommand(name, { numberOfKeys, lua });
  }
}

// The seeds' adaptive polling schedule, for the scripts back end (usher's QPOS returns it).
function pollMs(position) {
  if (position <= 1000) return 1000;
  if (position <= 5000) return 5000;
  if (position <= 10000) return 10000;
  return 30000;
}

async function isActive(user) {
  const expiry = await redis.zscore(ACTIVE, user);
  return expiry !== null && Number(expiry) > Date.now();
}

const api = {
  async enter({ user }) {
    if (mode === "native") {
      const [status, position, waiting] = await redis.call("ENTER", QUEUE, ACTIVE, user);
      return { status, position, waiting };
    }
    if (await isActive(user)) return { status: "ACTIVE", position: 0 };
    const now = Date.now();
    const r = JSON.parse(await redis.enter_queue(`token:{demo}:${user}`, QUEUE, user, now, now));
    return { status: r.status, position: r.position + 1, waiting: r.totalWaiting };
  },

  async status({ user }) {
    if (mode === "native") {
      const [status, position, waiting, eta_ms, poll_ms, , state, message] =
        await redis.call("QPOS", QUEUE, ACTIVE, user);
      return { status, position, waiting, eta_ms, poll_ms, state, message };
    }
    if (await isActive(user)) return { status: "ACTIVE", position: 0, poll_ms: -1 };
    const rank = await redis.zrank(QUEUE, user);
    if (rank === null) return { status: "NONE", position: 0, poll_ms: -1 };
    const waiting = await redis.zcard(QUEUE);
    // The seeds' estimate: position over the admission rate.
    const eta_ms = Math.round(((rank + 1) / rate) * 60000);
    return { status: "WAITING", position: rank + 1, waiting, eta_ms, poll_ms: pollMs(rank + 1) };
  },

  async seats() {
    const out = {};
    for (const seat of SEATS) out[seat] = (await redis.hget(seatKey(seat), "status")) || "FREE";
    return out;
  },

  async lock({ user, seat }) {
    if (!SEATS.includes(seat)) return { error: "no such seat" };
    if (!(await isActive(user))) return { error: "not admitted yet" };
    const r = mode === "native"
      ? await redis.call("SEATLOCK", seatKey(seat), user, holdSeconds)
      : await redis.seat_lock_with_token(seatKey(seat), user, holdSeconds);
    return r[0] === 1 ? { held: true, token: r[1] } : { held: false };
  },

  async confirm({ user, seat, token }) {
    const ok = mode === "native"
      ? await redis.call("SEATCONFIRM", seatKey(seat), user, token)
      : await redis.payment_verify(seatKey(seat), user, token);
    return { confirmed: ok === 1 };
  },
};

async function admissionLoop() {
  // The seeds' admission worker: every second, admit a second's worth of the rate.
  const perTick = Math.max(1, Math.round(rate / 60));
  if (paused) await redis.set(PAUSED, "1");
  setInterval(async () => {
    try {
      if (await redis.exists(PAUSED)) return;
      await redis.admission_zpopmin(QUEUE, ACTIVE, perTick, Date.now(), sessionMs, maxActive);
    } catch (e) {
      console.error("admission:", e.message);
    }
  }, 1000);
}

function serve() {
  const page = fs.readFileSync(path.join(__dirname, "public", "index.html"));
  http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    if (url.pathname === "/" || url.pathname === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(page);
    }
    const name = url.pathname.replace(/^\/api\//, "");
    if (!url.pathname.startsWith("/api/") || !api[name]) {
      res.writeHead(404);
      return res.end();
    }
    try {
      const body = Object.fromEntries(url.searchParams);
      const result = await api[name](body);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(result));
    } catch (e) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: String(e.message || e) }));
    }
  }).listen(httpPort, "127.0.0.1", () => {
    console.log(`ticketing example (${mode}) on http://127.0.0.1:${httpPort}/ , redis port ${redisPort}`);
  });
}

async function main() {
  if (mode === "native") {
    // The server admits at the rate into at most max-active live sessions: no worker needed.
    await redis.call("QPOLICY", "SET", QUEUE, ACTIVE, "RATE", rate, "MAXACTIVE", maxActive,
      "TTL", sessionMs, "STATE", paused ? "paused" : "open");
  } else if (mode === "scripts") {
    loadScripts();
    await admissionLoop();
  } else {
    throw new Error(`unknown --mode ${mode} (native or scripts)`);
  }
  serve();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
