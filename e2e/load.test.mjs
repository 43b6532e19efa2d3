// Load: 200 concurrent streams through one gateway in workerd (its default timeouts). Asserts
// counts and bytes: that 200 sessions are open at once, and that 200 concurrent bodies arrive
// intact. Time to the response head and workerd's peak memory are printed as figures, not
// asserted (timings belong to `npm run bench`).

import assert from "node:assert/strict";
import { after, before, it } from "node:test";

import { freePort, gatewayErrors, hashBody, patternSha256, startFunction, startGateway, stopAll, workerdPeakRss } from "./support.mjs";

let gateway;
let fn;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  fn = await startFunction({ port: functionPort, gatewayUrl: `ws://127.0.0.1:${gatewayPort}` });
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn });
});

after(stopAll);

/** The next line of a streamed body. */
async function line(reader) {
  let text = "";
  while (!text.endsWith("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  return text;
}

it("holds 200 streams open at once through one gateway (counted)", async () => {
  const readers = (await Promise.all(Array.from({ length: 200 }, () => fetch(`${gateway}/gated?chunks=2&tag=load`)))).map((r) =>
    r.body.getReader(),
  );
  // Chunk 2 is not made until the release: all 200 sessions are open now, each one chunk in.
  assert.deepEqual(await Promise.all(readers.map(line)), Array(200).fill("chunk 1\n"));
  await fetch(`${fn}/e2e/release?tag=load&upto=2`);
  assert.deepEqual(await Promise.all(readers.map(line)), Array(200).fill("chunk 2\n"));
  for (const reader of readers) assert.equal((await reader.read()).done, true);
});

it("completes 200 concurrent 1 MB streams intact through one gateway", async () => {
  const n = 1_000_000;
  const expected = patternSha256(n);
  const results = await Promise.all(
    Array.from({ length: 200 }, async () => {
      const started = performance.now();
      const res = await fetch(`${gateway}/bytes?n=${n}`);
      const head = performance.now() - started;
      return { head, result: { status: res.status, ...(await hashBody(res)) } };
    }),
  );
  for (const { result } of results) assert.deepEqual(result, { status: 200, bytes: n, sha256: expected });
  const heads = results.map((r) => r.head).sort((a, b) => a - b);
  const peak = workerdPeakRss();
  console.log(
    `figure (not asserted): 200 concurrent 1 MB streams, time to the response head p50 ${heads[99].toFixed(0)} ms, ` +
      `p99 ${heads[197].toFixed(0)} ms; workerd peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
  );
  assert.deepEqual(gatewayErrors().unexpected, []);
});
