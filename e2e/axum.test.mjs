// An axum Router, run with `run_service` as lambda_http users would bring it, through the
// gateway in workerd: a JSON answer (small: it rides in the invocation result), a streamed
// one chunk by chunk, an upload, and a client's WebSocket taken with the axum extractor.

import assert from "node:assert/strict";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { freePort, openWebSocket, ROOT, SECRET, startGateway, startProcess, stopAll } from "./support.mjs";

let gateway;
let functionUrl;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  await startProcess("axum function", path.join(ROOT, "target", "debug", "axum"), [], {
    env: { LOCAL_PORT: String(functionPort), RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`, RELAY_SECRET: SECRET },
    ready: /listening on/,
  });
  functionUrl = `http://127.0.0.1:${functionPort}`;
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: functionUrl });
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

describe("a client's WebSocket to axum (lambda_relay::lambda::websocket::WebSocketUpgrade)", () => {
  const wsUrl = (p) => `${gateway.replace(/^http/, "ws")}${p}`;

  const open = (protocols) => openWebSocket(wsUrl("/ws/echo"), { protocols });

  it("echoes text as text and binary as binary, 1,000 of each in order, with the chosen subprotocol", async () => {
    const { ws, next, closed } = await open(["other", "echo.v1"]);
    assert.equal(ws.protocol, "echo.v1");
    const sent = [];
    for (let i = 0; i < 1000; i++) {
      const text = `message ${i}`;
      const bytes = randomBytes(1 + (i % 300));
      ws.send(text);
      ws.send(bytes);
      sent.push(text, bytes);
    }
    for (const expected of sent) {
      const got = await next();
      if (typeof expected === "string") assert.deepEqual(got, { data: expected, isBinary: false });
      else assert.ok(got.isBinary && got.data.equals(expected), "a binary message comes back whole, as binary");
    }
    const big = randomBytes(5 * 2 ** 20 + 3);
    ws.send(big);
    assert.ok((await next()).data.equals(big), "a 5 MiB message comes back whole");
    ws.close(1000);
    assert.equal((await closed).code, 1000);
  });

  it("carries the function's close code and reason to the client", async () => {
    const { ws, closed } = await open();
    ws.send("close:4021:axum is done");
    const { code, reason } = await closed;
    assert.deepEqual({ code, reason }, { code: 4021, reason: "axum is done" });
  });

  it("carries the client's close code and reason to the handler", async () => {
    const { ws, next, closed } = await open();
    ws.send("hi");
    await next();
    const reason = `bye ${Date.now()}`;
    ws.close(4010, reason);
    // The runtime answers the client's close at once; the handler sees it as the record
    // arrives, a moment later: poll for it (bounded).
    assert.equal((await closed).code, 4010);
    let closes = [];
    for (let i = 0; i < 250 && !closes.includes(`4010 ${reason}`); i++) {
      if (i) await new Promise((r) => setTimeout(r, 20));
      closes = await (await fetch(`${functionUrl}/ws/closes`)).json();
    }
    assert.ok(closes.includes(`4010 ${reason}`), `the handler saw the close: ${JSON.stringify(closes)}`);
  });

  it("answers a plain request to the WebSocket route with the extractor's 400", async () => {
    const res = await fetch(`${gateway}/ws/echo`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not a client's WebSocket upgrade/);
  });
});
