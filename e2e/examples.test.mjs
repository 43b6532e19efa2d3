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

it("classic: five chunks arrive one by one, each in a read of its own", async () => {
  const res = await fetch(`${gateway}/`);
  assert.equal(res.status, 200);
  const arrivals = [];
  let text = "";
  for await (const chunk of res.body) {
    text += Buffer.from(chunk).toString();
    arrivals.push(chunk.length);
  }
  assert.equal(text, [1, 2, 3, 4, 5].map((n) => `chunk ${n} of 5\n`).join(""));
  // Produced a second apart: buffered, the 80 bytes would arrive in one read.
  assert.equal(arrivals.length, 5, "one read per chunk");
});

it("upload: a 10 MB body's count and sha256 come back", async () => {
  const body = randomBytes(10_000_000);
  const reply = await (await fetch(`${gateway}/upload`, { method: "POST", body })).json();
  assert.deepEqual(reply, { bytes: 10_000_000, sha256: createHash("sha256").update(body).digest("hex") });
});
