// An axum Router, run with `run_service` as lambda_http users would bring it, through the
// gateway in workerd: a JSON answer (small: it rides in the invocation result), a streamed
// one chunk by chunk, and an upload.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, it } from "node:test";

import { freePort, ROOT, SECRET, startGateway, startProcess, stopAll } from "./support.mjs";

let gateway;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  await startProcess("axum function", path.join(ROOT, "target", "debug", "axum"), [], {
    env: { LOCAL_PORT: String(functionPort), RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`, RELAY_SECRET: SECRET },
    ready: /listening on/,
  });
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: `http://127.0.0.1:${functionPort}` });
});

after(stopAll);

it("routes and answers JSON through the gateway", async () => {
  const res = await fetch(`${gateway}/hello/relay`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { hello: "relay" });
});

it("streams an axum body made in three steps, in order", async () => {
  // How the chunks group into reads is the network's business (the gated tests elsewhere
  // show each chunk arriving before the next is made); the bytes and their order are ours.
  const res = await fetch(`${gateway}/count`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "1\n2\n3\n");
});

it("takes an upload streamed over the relay", async () => {
  const res = await fetch(`${gateway}/length`, { method: "POST", body: Buffer.alloc(3_000_000, 1) });
  assert.equal(await res.text(), "3000000");
});
