// Drives the ticketing example (examples/ticketing) in headless Chromium, as two buyers would:
// alice and bob open the page while the sale is paused and see their place in line; the
// operator opens the sale; their pages poll until they are admitted, alice takes seat A1, and
// bob, coming back to the page, finds it taken and takes A2. Prints one JSON line with what
// each page showed.
//
//   node example_app_browser.js <http-port> <redis-port> <native|scripts>
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM); playwright-core drives it.

"use strict";
const { chromium } = require("playwright-core");
const Redis = require("ioredis");

const port = Number(process.argv[2]);
const redisPort = Number(process.argv[3]);
const mode = process.argv[4];
const base = `http://127.0.0.1:${port}/`;

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // This machine's network is closed: no background fetches, no QUIC, no sandbox (root).
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const result = {};
  try {
    const alice = await browser.newPage();
    await alice.goto(`${base}?user=alice`);
    // The first poll shows a place in line (or, on an idle event, admission at once).
    await alice.waitForFunction(() => ["WAITING", "ACTIVE"].includes(document.getElementById("status").textContent));
    result.alice_first = {
      status: await alice.textContent("#status"),
      position: await alice.textContent("#position"),
      eta: await alice.textContent("#eta"),
    };
    const bob = await browser.newPage();
    await bob.goto(`${base}?user=bob`);
    await bob.waitForFunction(() => ["WAITING", "ACTIVE"].includes(document.getElementById("status").textContent));
    result.bob_first = { status: await bob.textContent("#status"), position: await bob.textContent("#position") };

    // The operator opens the sale.
    const operator = new Redis({ port: redisPort, host: "127.0.0.1" });
    if (mode === "native") {
      await operator.call("QPOLICY", "SET", "queue:{demo}", "active:{demo}", "STATE", "open");
    } else {
      await operator.del("paused:{demo}");
    }
    await operator.quit();

    // Admission: the page polls until its status turns ACTIVE and the seats appear.
    await alice.waitForSelector("#seat-A1:not([disabled])", { timeout: 60000 });
    result.alice_eta = await alice.textContent("#eta");
    await alice.click("#seat-A1");
    await alice.waitForFunction(() => document.getElementById("result").textContent.length > 0);
    result.alice = await alice.textContent("#result");

    // bob's turn comes after alice's; he comes back to the page once it has.
    await bob.waitForSelector("#hall:not([hidden])", { timeout: 60000 });
    await bob.reload();
    await bob.waitForSelector("#seat-A2:not([disabled])", { timeout: 30000 });
    result.bob_a1_disabled = await bob.isDisabled("#seat-A1");
    await bob.click("#seat-A2");
    await bob.waitForFunction(() => document.getElementById("result").textContent.length > 0);
    result.bob = await bob.textContent("#result");
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
