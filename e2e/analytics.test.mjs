// The gateway's optional Workers Analytics Engine dataset (bound as ANALYTICS): one data point
// per request, the same fields as its log line (docs/operations.md). Locally miniflare's own
// dataset drops data points, so the binding here is a spy that prints each one.

import assert from "node:assert/strict";
import { after, before, it } from "node:test";

import { freePort, gatewayProcess, hashBody, startGateway, startNodeFunction, stopAll } from "./support.mjs";

let gateway;
let fn;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  fn = await startNodeFunction({ port: functionPort, gatewayUrl: `ws://127.0.0.1:${gatewayPort}` });
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn, analyticsSpy: true });
});

after(stopAll);

/** The gateway's log line and data point for `relayId`, once both are out. */
async function recordsOf(relayId) {
  for (let i = 0; i < 200; i++) {
    const line = gatewayProcess.log.map((l) => /^\{.*"lambda-relay\.request".*\}$/.test(l) && JSON.parse(l)).find((l) => l && l.relay_id === relayId);
    const point = gatewayProcess.log.map((l) => l.startsWith("analytics-spy ") && JSON.parse(l.slice("analytics-spy ".length))).find((p) => p && p.blobs?.[0] === relayId);
    if (line && point) return { line, point };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line and data point for ${relayId}: ${gatewayProcess.log.slice(-20).join("\n")}`);
}

it("writes one data point per request: the function indexed, the log line's fields", async () => {
  const n = 1_000_000;
  const ok = await fetch(`${gateway}/bytes?n=${n}`);
  assert.equal((await hashBody(ok)).bytes, n);
  const failed = await fetch(`${gateway}/fail-before-head`);
  assert.equal(failed.status, 502);
  await failed.arrayBuffer();
  const functionHost = new URL(fn).host;
  for (const [res, path, status, responseBytes] of [
    [ok, "/bytes", 200, n],
    [failed, "/fail-before-head", 502, undefined],
  ]) {
    const relayId = res.headers.get("x-lambda-relay-id");
    const { line, point } = await recordsOf(relayId);
    assert.deepEqual(point.indexes, [functionHost]);
    assert.deepEqual(point.blobs, [relayId, "GET", path, line.outcome, line.error_code ?? "", functionHost]);
    assert.deepEqual(point.doubles, [status, line.request_bytes, line.response_bytes, line.ttfb_ms, line.duration_ms, line.resumes]);
    assert.equal(line.status, status);
    if (responseBytes !== undefined) assert.equal(point.doubles[2], responseBytes);
  }
  const spied = gatewayProcess.log.filter((l) => l.startsWith("analytics-spy ")).length;
  assert.equal(spied, 2, "one data point per request, no more");
});
