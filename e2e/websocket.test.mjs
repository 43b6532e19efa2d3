// A client's WebSocket relayed to a Node function through the gateway in workerd, with the `ws`
// npm client: echo, order, kinds, sizes, close codes both ways, refusal before accept,
// subprotocols, a client that vanishes and a function that dies (e2e/websocket-function.mjs).

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { freePort, openWebSocket, ROOT, SECRET, startGateway, startNodeFunction, startProcess, stopAll } from "./support.mjs";

const FUNCTION = path.join(ROOT, "e2e", "websocket-function.mjs");
const PYTHON = process.env.PYTHON_TOOLS ?? path.join(ROOT, ".tools", "python", "bin", "python");
let gateway;
let fn;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  fn = await startNodeFunction({ port: functionPort, gatewayUrl: `ws://127.0.0.1:${gatewayPort}`, module: FUNCTION });
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn });
});

after(stopAll);

const wsUrl = (base, p) => `${base.replace(/^http/, "ws")}${p}`;

/** Opens a client socket to `p` on `base` (the Node function's gateway by default). */
const open = (p, { protocols, headers, base = gateway } = {}) => openWebSocket(wsUrl(base, p), { protocols, headers });

async function events(base = fn) {
  return (await fetch(`${base}/e2e/ws-events`)).json();
}

async function waitForSocketEvent(match, base = fn, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = (await events(base)).find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no matching socket event from the function");
}

describe("client WebSockets through the gateway", () => {
  it("echoes text as text and binary as binary, with the origin, cookies and the 101's cookie", async () => {
    const tag = `kinds-${Date.now()}`;
    const { ws, next, upgrade } = await open(`/ws/echo?tag=${tag}`, { headers: { origin: "https://app.example", cookie: "a=1" } });
    assert.deepEqual(upgrade.headers["set-cookie"], ["ws=1; Path=/"]);
    assert.ok(upgrade.headers["x-lambda-relay-id"], "the 101 names its relay id");
    ws.send("héllo");
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send("");
    ws.send(Buffer.alloc(0));
    assert.deepEqual(await next(), { data: "héllo", isBinary: false });
    const binary = await next();
    assert.equal(binary.isBinary, true);
    assert.deepEqual([...binary.data], [0, 1, 2, 255]);
    assert.deepEqual(await next(), { data: "", isBinary: false });
    const empty = await next();
    assert.equal(empty.isBinary, true);
    assert.equal(empty.data.length, 0);
    ws.close(1000, "done");
    const seen = await waitForSocketEvent((e) => e.tag === tag && e.code !== undefined);
    assert.deepEqual(
      { texts: seen.texts, binaries: seen.binaries, origin: seen.origin, cookie: seen.cookie, code: seen.code, reason: seen.reason, wasClean: seen.wasClean },
      { texts: 2, binaries: 2, origin: "https://app.example", cookie: "a=1", code: 1000, reason: "done", wasClean: true },
    );
  });

  it("carries 10,000 messages each way in order", async () => {
    const tag = `order-${Date.now()}`;
    const n = 10_000;
    const { ws, next, closed } = await open(`/ws/echo?tag=${tag}`);
    for (let i = 0; i < n; i++) ws.send(`m${i}`);
    for (let i = 0; i < n; i++) assert.equal((await next()).data, `m${i}`);
    ws.send(`burst:${n}`);
    for (let i = 0; i < n; i++) assert.equal((await next()).data, `b${i}`);
    ws.close(4000, "enough");
    assert.equal((await closed).code, 4000, "the function's reply repeats the client's code");
    const seen = await waitForSocketEvent((e) => e.tag === tag && e.code !== undefined);
    assert.equal(seen.texts, n + 1);
    assert.equal(seen.inOrder, true, "the function got them in order");
  });

  it("carries 1 MiB and 16 MiB messages whole", async () => {
    const tag = `big-${Date.now()}`;
    const { ws, next } = await open(`/ws/echo?tag=${tag}`);
    for (const size of [2 ** 20, 16 * 2 ** 20]) {
      const body = randomBytes(size);
      const sha256 = createHash("sha256").update(body).digest("hex");
      ws.send(body);
      const echoed = await next();
      assert.equal(echoed.data.length, size);
      assert.equal(createHash("sha256").update(echoed.data).digest("hex"), sha256);
      ws.send("sha256");
      assert.equal((await next()).data, sha256, "the function got it whole");
    }
    ws.close();
  });

  it("closes a client whose message is over 16 MiB with 1009, and tells the function", async () => {
    const tag = `toobig-${Date.now()}`;
    const { ws, closed } = await open(`/ws/echo?tag=${tag}`);
    ws.send(Buffer.alloc(16 * 2 ** 20 + 1));
    assert.equal((await closed).code, 1009);
    const seen = await waitForSocketEvent((e) => e.tag === tag && e.code !== undefined);
    assert.equal(seen.code, 1009);
    assert.equal(seen.binaries, 0, "the function never got it");
  });

  it("carries the function's close code and reason to the client", async () => {
    const tag = `fnclose-${Date.now()}`;
    const { ws, closed } = await open(`/ws/echo?tag=${tag}`);
    ws.send("close:4002:the function is done");
    const close = await closed;
    assert.deepEqual({ code: close.code, reason: close.reason }, { code: 4002, reason: "the function is done" });
    const seen = await waitForSocketEvent((e) => e.tag === tag && e.code !== undefined);
    assert.deepEqual({ code: seen.code, reason: seen.reason, wasClean: seen.wasClean }, { code: 4002, reason: "the function is done", wasClean: true });
  });

  it("carries the client's close code and reason to the function", async () => {
    const tag = `clientclose-${Date.now()}`;
    const { ws, closed } = await open(`/ws/echo?tag=${tag}`);
    ws.close(4001, "the client is done");
    await closed;
    const seen = await waitForSocketEvent((e) => e.tag === tag && e.code !== undefined);
    assert.deepEqual({ code: seen.code, reason: seen.reason }, { code: 4001, reason: "the client is done" });
  });

  it("negotiates the subprotocol the function chose from the client's offer", async () => {
    const { ws, closed } = await open("/ws/echo", { protocols: ["chat.v1", "chat.v2"] });
    assert.equal(ws.protocol, "chat.v2");
    ws.close();
    await closed;
    const none = await open("/ws/echo");
    assert.equal(none.ws.protocol, "", "none offered, none chosen");
    none.ws.close();
  });

  it("gives the client the function's refusal (403, headers, body) instead of a 101", async () => {
    const ws = new WebSocket(wsUrl(gateway, "/ws/refuse"));
    ws.on("error", () => {}); // terminate() of a refused handshake reports one
    const [, res] = await once(ws, "unexpected-response");
    assert.equal(res.statusCode, 403);
    assert.equal(res.headers["x-why"], "refused");
    let body = "";
    for await (const chunk of res) body += chunk;
    assert.equal(body, "no sockets for you");
    ws.terminate();
  });

  it("tells a handler that calls upgradeWebSocket on a plain request why it cannot", async () => {
    const res = await fetch(`${gateway}/ws/not-an-upgrade`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not a client's WebSocket upgrade/);
  });

  it("runs Hono's upgradeWebSocket(c => events) unchanged", async () => {
    const { ws, next, closed } = await open("/hono/echo");
    ws.send("hi");
    assert.deepEqual(await next(), { data: "hono:hi", isBinary: false });
    ws.send(Buffer.from("bytes"));
    const binary = await next();
    assert.equal(binary.isBinary, true);
    assert.equal(binary.data.toString(), "bytes");
    ws.close(1000);
    await closed;
    await waitForSocketEvent((e) => e.path === "/hono/echo" && e.code === 1000);
  });

  it("tells the function within a second when the client vanishes without a close", async () => {
    const tag = `vanish-${Date.now()}`;
    const { ws, next } = await open(`/ws/echo?tag=${tag}`);
    ws.send("ping");
    await next();
    const at = Date.now();
    ws.terminate();
    const seen = await waitForSocketEvent((e) => e.tag === tag && e.code !== undefined);
    assert.equal(seen.code, 1006);
    assert.equal(seen.wasClean, false);
    assert.ok(seen.at - at < 1000, `the function saw the close ${seen.at - at} ms later`);
  });

  it("closes the client with 1001 shortly before the invocation's deadline (1.5 s left here)", async () => {
    const { ws, next, closed } = await open("/ws/deadline");
    const opened = Date.now();
    ws.send("still here");
    assert.equal((await next()).data, "still here");
    const close = await closed;
    assert.equal(close.code, 1001, `closed with ${close.code} ${close.reason}`);
    // The function gives up DEFAULT_DEADLINE_MARGIN (500 ms) before its deadline: about 1 s in.
    assert.ok(close.at - opened < 1500, `closed ${close.at - opened} ms after opening, before the deadline`);
  });

  it("closes the client abnormally within a second when the function dies", async () => {
    const [gatewayPort, functionPort] = [await freePort(), await freePort()];
    const doomed = await startNodeFunction({ port: functionPort, gatewayUrl: `ws://127.0.0.1:${gatewayPort}`, module: FUNCTION });
    const own = await startGateway({ port: gatewayPort, lambdaUrl: doomed });
    const { ws, next, closed } = await open("/ws/echo", { base: own });
    ws.send("alive?");
    assert.equal((await next()).data, "alive?");
    const pid = Number((await (await fetch(`${doomed}/e2e/ws-events`)).headers.get("x-pid")) ?? NaN);
    const at = Date.now();
    killFunction(functionPort, pid);
    const close = await closed;
    assert.equal(close.code, 1011, `closed with ${close.code} ${close.reason}`);
    assert.ok(close.at - at < 1000, `the client saw the close ${close.at - at} ms later`);
  });
});

describe("client WebSockets to a FastAPI app (the ASGI websocket scope)", () => {
  let pyGateway;
  let pyFunction;

  before(async () => {
    const [gatewayPort, functionPort] = [await freePort(), await freePort()];
    await startProcess("python function", PYTHON, ["-u", "-m", "lambda_relay", "serve", "websocket_app:app", "--port", String(functionPort)], {
      cwd: path.join(ROOT, "e2e", "python"),
      env: { RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`, RELAY_SECRET: SECRET },
      ready: /serving/,
    });
    pyFunction = `http://127.0.0.1:${functionPort}`;
    pyGateway = await startGateway({ port: gatewayPort, lambdaUrl: pyFunction });
  });

  it("accepts with the subprotocol and headers, echoes text and bytes, and sees the client's close", async () => {
    const tag = `py-${Date.now()}`;
    const { ws, next, closed, upgrade } = await open(`/py/echo?tag=${tag}`, { base: pyGateway, protocols: ["chat.v1"], headers: { cookie: "a=1" } });
    assert.equal(ws.protocol, "chat.v1");
    assert.deepEqual(upgrade.headers["set-cookie"], ["py=1; Path=/"]);
    ws.send("grüße");
    assert.deepEqual(await next(), { data: "grüße", isBinary: false });
    const body = randomBytes(3 * 2 ** 20 + 17);
    ws.send(body);
    const echoed = await next();
    assert.equal(echoed.isBinary, true);
    assert.ok(echoed.data.equals(body), "3 MiB of bytes come back whole");
    ws.close(4010, "bye from the client");
    assert.equal((await closed).code, 4010);
    const seen = await waitForSocketEvent((e) => e.tag === tag, pyFunction);
    assert.deepEqual(
      { texts: seen.texts, binaries: seen.binaries, cookie: seen.cookie, code: seen.code, reason: seen.reason, by: seen.by },
      { texts: 1, binaries: 1, cookie: "1", code: 4010, reason: "bye from the client", by: "client" },
    );
  });

  it("carries the app's close code and reason to the client", async () => {
    const { ws, closed } = await open("/py/echo", { base: pyGateway });
    ws.send("close:4020:the app is done");
    const close = await closed;
    assert.deepEqual({ code: close.code, reason: close.reason }, { code: 4020, reason: "the app is done" });
  });

  it("refuses with the app's response (websocket.http.response) or a 403 for a close before accept", async () => {
    const refused = new WebSocket(wsUrl(pyGateway, "/py/refuse"));
    refused.on("error", () => {}); // terminate() of a refused handshake reports one
    const [, res] = await once(refused, "unexpected-response");
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers["www-authenticate"], "Bearer");
    let body = "";
    for await (const chunk of res) body += chunk;
    assert.equal(body, "members only");
    refused.terminate();
    const closed = new WebSocket(wsUrl(pyGateway, "/py/close-before-accept"));
    closed.on("error", () => {});
    const [, res403] = await once(closed, "unexpected-response");
    assert.equal(res403.statusCode, 403);
    closed.terminate();
  });

  it("closes a client with 1008 once 20 MiB of its messages wait for an app that does not read (never an unbounded buffer)", async () => {
    const { ws, closed } = await open("/py/deaf", { base: pyGateway });
    const mib = Buffer.alloc(2 ** 20, 1);
    let sent = 0;
    // The app's window takes 4 MiB, the gateway holds at most 20 MiB more: 40 MiB is past both.
    for (; sent < 40 && ws.readyState === WebSocket.OPEN; sent++) {
      ws.send(mib);
      await new Promise((r) => setTimeout(r, 5));
    }
    const close = await closed;
    assert.equal(close.code, 1008, `closed with ${close.code} ${close.reason} after ${sent} MiB sent`);
    assert.match(close.reason, /faster than the function reads/);
  });

  it("tells the app within a second when the client vanishes without a close", async () => {
    const tag = `py-vanish-${Date.now()}`;
    const { ws, next } = await open(`/py/echo?tag=${tag}`, { base: pyGateway });
    ws.send("ping");
    await next();
    const at = Date.now();
    ws.terminate();
    const seen = await waitForSocketEvent((e) => e.tag === tag, pyFunction);
    assert.equal(seen.code, 1006);
    assert.ok(seen.at - at < 1000, `the app saw the disconnect ${seen.at - at} ms later`);
  });
});

/** Kills the function serving on `port` (its process group: `lambda-relay serve`). */
function killFunction(_port, pid) {
  assert.ok(Number.isInteger(pid) && pid > 0, "the function says its pid");
  process.kill(pid, "SIGKILL");
}

describe("the FastAPI WebSocket example (examples-python/websocket.py)", () => {
  it("echoes with a count, closes with 4000 on bye", async () => {
    const [gatewayPort, functionPort] = [await freePort(), await freePort()];
    await startProcess("python example", PYTHON, ["-u", "-m", "lambda_relay", "serve", "websocket:handler", "--port", String(functionPort)], {
      cwd: path.join(ROOT, "examples-python"),
      env: { RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`, RELAY_SECRET: SECRET },
      ready: /serving/,
    });
    const base = await startGateway({ port: gatewayPort, lambdaUrl: `http://127.0.0.1:${functionPort}` });
    const { ws, next, closed } = await open("/ws", { base, protocols: ["echo.v1"] });
    assert.equal(ws.protocol, "echo.v1");
    ws.send("hello");
    ws.send("again");
    assert.equal((await next()).data, "1: hello");
    assert.equal((await next()).data, "2: again");
    ws.send("bye");
    const close = await closed;
    assert.deepEqual({ code: close.code, reason: close.reason }, { code: 4000, reason: "bye after 3 messages" });
  });
});
