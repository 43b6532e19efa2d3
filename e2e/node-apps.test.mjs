// Real Express and Fastify apps (e2e/node-apps-function.mjs, through `nodeHandler`) relayed
// by the gateway in workerd: streaming chunk by chunk after flushHeaders, res.write's
// backpressure, uploads into req, a client that leaves, and Fastify's streams.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { freePort, hashBody, patternSha256, readGated, ROOT, startGateway, startNodeFunction, stopAll, waitForEvent } from "./support.mjs";

let gateway;
let fn;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  fn = await startNodeFunction({
    port: functionPort,
    gatewayUrl: `ws://127.0.0.1:${gatewayPort}`,
    module: path.join(ROOT, "e2e", "node-apps-function.mjs"),
  });
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn });
});

after(stopAll);

/** A body of `n` random bytes sent chunked (no content-length), in 256 KiB pieces. */
function chunkedBody(n) {
  const body = randomBytes(n);
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < n; i += 256 * 1024) controller.enqueue(body.subarray(i, i + 256 * 1024));
      controller.close();
    },
  });
  return { body, stream, sha256: createHash("sha256").update(body).digest("hex") };
}

describe("Express through the gateway", () => {
  it("sees the client's address, host and query, and sets both cookies", async () => {
    const res = await fetch(`${gateway}/express/whoami?a=1&a=2`, { headers: { "cf-connecting-ip": "203.0.113.9" } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers.getSetCookie(), ["seen=1; Path=/", "again=2; Path=/"]);
    assert.equal(res.headers.get("x-powered-by"), "Express");
    assert.equal(res.headers.get("connection"), null, "Node's own hop-by-hop headers stay at the function");
    assert.deepEqual(await res.json(), { ip: "203.0.113.9", protocol: "http", hostname: "127.0.0.1", url: "/express/whoami?a=1&a=2", query: { a: ["1", "2"] } });
  });

  it("parses a JSON body with express.json()", async () => {
    const res = await fetch(`${gateway}/express/json`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ x: [1, 2] }) });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { got: { x: [1, 2] } });
  });

  it("sends the head at flushHeaders, then each chunk as it is written", async () => {
    const tag = `gated-${Date.now()}`;
    // No chunk is written before the client has the head: fetch resolving proves the head
    // went out on its own.
    const res = await fetch(`${gateway}/express/gated?chunks=4&tag=${tag}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain");
    await fetch(`${fn}/e2e/release?tag=${tag}&upto=1`);
    const { lines, ended } = await readGated(res, fn, tag, 4);
    assert.deepEqual(lines, ["chunk 1", "chunk 2", "chunk 3", "chunk 4"]);
    assert.ok(ended);
  });

  it("res.write returns false while a paused client holds the window, and the body arrives identical", async () => {
    const n = 96 * 2 ** 20;
    const tag = `bytes-${Date.now()}`;
    const res = await fetch(`${gateway}/express/bytes?n=${n}&tag=${tag}`);
    const reader = res.body.getReader();
    const hash = createHash("sha256");
    let received = 0;
    const first = await reader.read();
    hash.update(first.value);
    received += first.value.length;
    // Paused: the app runs into write() === false and waits; it is held far short of the end.
    const look = async () => (await (await fetch(`${fn}/e2e/produced`)).json())[tag] ?? { sent: 0, waits: 0 };
    let seen = await look();
    for (let i = 0, last = -1; seen.sent !== last || seen.waits === 0; i++) {
      assert.ok(i < 3000, `the app never settled: ${JSON.stringify(seen)}`); // a hang guard
      last = seen.sent;
      await new Promise((r) => setTimeout(r, 50));
      seen = await look();
    }
    assert.ok(seen.waits > 0, "write() said no at least once");
    assert.ok(seen.sent < 48 * 2 ** 20, `the app wrote ${seen.sent} bytes for a client that read ${received}`);
    console.log(`figure: a paused client held the Express app at ${(seen.sent / 2 ** 20).toFixed(1)} MiB of ${n / 2 ** 20} MiB`);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      received += value.length;
    }
    assert.equal(received, n);
    assert.equal(hash.digest("hex"), patternSha256(n));
  });

  it("reads a 20 MB chunked upload from req as it streams", async () => {
    const { stream, sha256 } = chunkedBody(20_000_000);
    const res = await fetch(`${gateway}/express/upload`, { method: "POST", body: stream, duplex: "half" });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { bytes: 20_000_000, sha256, length: null, chunked: "chunked" }, "a body of unknown length, as Node sees a chunked one");
  });

  it("hears a client that leaves: req and res close before the response finished, and the app stops", async () => {
    const tag = `gone-${Date.now()}`;
    const controller = new AbortController();
    const res = await fetch(`${gateway}/express/endless?tag=${tag}`, { signal: controller.signal });
    const reader = res.body.getReader();
    await reader.read();
    controller.abort();
    const resClose = await waitForEvent(fn, (e) => e.tag === tag && e.kind === "res-close");
    assert.equal(resClose.finished, false, "closed before it finished: the client left");
    await waitForEvent(fn, (e) => e.tag === tag && e.kind === "req-close");
    await waitForEvent(fn, (e) => e.tag === tag && e.kind === "stopped");
  });
});

describe("Fastify through the gateway", () => {
  it("sees the client's address and host", async () => {
    const res = await fetch(`${gateway}/fastify/whoami?x=y`, { headers: { "cf-connecting-ip": "198.51.100.7" } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ip: "198.51.100.7", hostname: "127.0.0.1", protocol: "http", query: { x: "y" } });
  });

  it("streams a Readable reply of 50 MB sha256-identical", async () => {
    const n = 50_000_000;
    const res = await fetch(`${gateway}/fastify/bytes?n=${n}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.deepEqual(await hashBody(res), { bytes: n, sha256: patternSha256(n) });
  });

  it("reads a 20 MB chunked upload as a stream", async () => {
    const { stream, sha256 } = chunkedBody(20_000_000);
    const res = await fetch(`${gateway}/fastify/upload`, { method: "POST", body: stream, duplex: "half", headers: { "content-type": "application/octet-stream" } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { bytes: 20_000_000, sha256 });
  });
});
