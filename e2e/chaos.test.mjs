// The chaos campaign's short form (the full one is `npm run test:chaos`): streams and client
// WebSockets through the gateway in workerd with the function's socket cut 1 to 5 times each,
// at seeded offsets.

import assert from "node:assert/strict";
import { before, it } from "node:test";

import { runChaos, runIdle, summary } from "./chaos.mjs";

let tally;

before(async () => {
  tally = await runChaos({ streams: 24, minBytes: 1_000_000, maxBytes: 4_000_000, sockets: 8, seed: 2026 });
  console.log(summary(tally));
});

it("cut 1 to 5 times each, 24 streams of 1-4 MB all arrive whole: none lost, duplicated, cut clean or failed", () => {
  assert.deepEqual(
    { lost: tally.lost, duplicated: tally.duplicated, truncated_clean: tally.truncated_clean, failed: tally.failed },
    { lost: 0, duplicated: 0, truncated_clean: 0, failed: 0 },
  );
  assert.equal(tally.streams, 24);
  assert.ok(tally.cuts >= 24, `every stream was cut at least once: ${tally.cuts} cuts`);
});

it("cut 1 to 5 times each, 8 WebSocket sessions get every message echoed once, in order", () => {
  const w = tally.websocket;
  assert.deepEqual({ lost: w.lost, duplicated: w.duplicated, failed: w.failed }, { lost: 0, duplicated: 0, failed: 0 });
  assert.equal(w.sessions, 8);
  assert.ok(w.messages > 8 * 50, `the sessions carried many messages: ${w.messages}`);
  assert.ok(w.cuts >= 8, `every session was cut at least once: ${w.cuts} cuts`);
});

it("holds an idle client WebSocket open on keepalives alone (20 s at a 3 s idle timeout; the full campaign idles two minutes)", async () => {
  const idle = await runIdle({ seconds: 20 });
  assert.deepEqual(
    { before: idle.before, after: idle.after, open: idle.open, closedEarly: idle.closedEarly, closeCode: idle.closeCode },
    { before: true, after: true, open: true, closedEarly: undefined, closeCode: 1000 },
  );
  // About 20 keepalives each way: the silence was the messages', not the relay's.
  assert.ok(idle.keepalive.toGateway > 0 && idle.keepalive.toFunction > 0, `keepalives flowed: ${JSON.stringify(idle.keepalive)}`);
});
