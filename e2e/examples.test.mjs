// The examples through the gateway: the classic's chunks arrive one by one, and the upload
// example hashes a body streamed over the relay.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { after, before, it } from "node:test";

import { freePort, ROOT, startGateway, startNodeFunction, stopAll } from "./support.mjs";

let gateway;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  const fn = await startNodeFunction({
    port: functionPort,
    gatewayUrl: `ws://127.0.0.1:${gatewayPort}`,
    module: path.join(ROOT, "scripts", "demo-function.mjs"),
  });
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn });
});

after(stopAll);

it("classic: the first chunk arrives before the rest are made, and all five arrive in order", async () => {
  // That each chunk reaches the client before the next is made is proven by count in
  // gateway.test.mjs (chunk i+1 is released only after chunk i arrived); here, the example
  // as a user runs it: a second between chunks, so a relay that buffered would hand over all
  // 80 bytes at the end, in the first read.
  const res = await fetch(`${gateway}/`);
  assert.equal(res.status, 200);
  const reads = [];
  for await (const chunk of res.body) reads.push(Buffer.from(chunk).toString());
  assert.equal(reads[0], "chunk 1 of 5\n", "the first read holds the first chunk alone");
  assert.equal(reads.join(""), [1, 2, 3, 4, 5].map((n) => `chunk ${n} of 5\n`).join(""));
  console.log(`figure (not asserted): the five chunks came in ${reads.length} reads`);
});

it("upload: a 10 MB body's count and sha256 come back", async () => {
  const body = randomBytes(10_000_000);
  const reply = await (await fetch(`${gateway}/upload`, { method: "POST", body })).json();
  assert.deepEqual(reply, { bytes: 10_000_000, sha256: createHash("sha256").update(body).digest("hex") });
});
