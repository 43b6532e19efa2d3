// Load: 200 concurrent streams through one gateway in workerd (its default timeouts), all
// intact. Reports TTFB and workerd's peak memory; asserts bytes, not time.

import assert from "node:assert/strict";
import { after, before, it } from "node:test";

import { freePort, gatewayErrors, hashBody, patternSha256, startFunction, startGateway, stopAll, workerdPeakRss } from "./support.mjs";

let gateway;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  const fn = await startFunction({ port: functionPort, gatewayUrl: `ws://127.0.0.1:${gatewayPort}` });
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn });
});

after(stopAll);

it("completes 200 concurrent 1 MB streams intact through one gateway", async () => {
  const n = 1_000_000;
  const expected = patternSha256(n);
  const results = await Promise.all(
    Array.from({ length: 200 }, async () => {
      const started = performance.now();
      const res = await fetch(`${gateway}/bytes?n=${n}`);
      const ttfb = performance.now() - started;
      return { ttfb, result: { status: res.status, ...(await hashBody(res)) } };
    }),
  );
  for (const { result } of results) assert.deepEqual(result, { status: 200, bytes: n, sha256: expected });
  const ttfbs = results.map((r) => r.ttfb).sort((a, b) => a - b);
  const peak = workerdPeakRss();
  console.log(
    `200 concurrent 1 MB streams: TTFB p50 ${ttfbs[99].toFixed(0)} ms, p99 ${ttfbs[197].toFixed(0)} ms; ` +
      `workerd peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
  );
  assert.ok(peak > 0, "workerd's peak RSS was read");
  assert.deepEqual(gatewayErrors().unexpected, []);
});
