// The chaos campaign's short form (the full one is `npm run test:chaos`): streams through the
// gateway in workerd with the function's socket cut 1 to 5 times each, at seeded offsets.

import assert from "node:assert/strict";
import { it } from "node:test";

import { runChaos, summary } from "./chaos.mjs";

it("cut 1 to 5 times each, 24 streams of 1-4 MB all arrive whole: none lost, duplicated, cut clean or failed", async () => {
  const tally = await runChaos({ streams: 24, minBytes: 1_000_000, maxBytes: 4_000_000, seed: 2026 });
  console.log(summary(tally));
  assert.deepEqual(
    { lost: tally.lost, duplicated: tally.duplicated, truncated_clean: tally.truncated_clean, failed: tally.failed },
    { lost: 0, duplicated: 0, truncated_clean: 0, failed: 0 },
  );
  assert.equal(tally.streams, 24);
  assert.ok(tally.cuts >= 24, `every stream was cut at least once: ${tally.cuts} cuts`);
});
