// Bounded waiting for the library scripts: `sleep(ms)`, and `until(check, what, ms)`, which
// polls an async check and fails with `what` after `ms`, so no scenario can hang a test.
"use strict";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(check, what, ms = 20000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

module.exports = { sleep, until };
