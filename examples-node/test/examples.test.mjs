// Every example in direct mode (invoked without the gateway): the same handler answers with
// an ordinary buffered Function URL result. The classic also runs through the gateway in
// e2e/examples.test.mjs; the WebSocket example talks to Chromium in e2e/browser.test.mjs.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";

import { handler as classic } from "../classic/handler.mjs";
import { handler as expressApp } from "../express/handler.mjs";
import { handler as hono } from "../hono/handler.mjs";
import { handler as nodeStream } from "../node-stream/handler.mjs";
import { handler as sse } from "../sse/handler.mjs";
import { handler as upload } from "../upload/handler.mjs";
import { handler as websocket } from "../websocket/handler.mjs";

const context = { awsRequestId: "example", getRemainingTimeInMillis: () => 60_000 };

function event(path = "/", { method = "GET", query = "", body } = {}) {
  return {
    version: "2.0",
    rawPath: path,
    rawQueryString: query,
    headers: { host: "example.lambda-url.local" },
    requestContext: { http: { method, path } },
    body,
    isBase64Encoded: body !== undefined,
  };
}

describe("examples, direct", () => {
  it("classic: five chunks", async () => {
    const result = await classic(event(), context);
    assert.equal(result.statusCode, 200);
    assert.equal(result.body, [1, 2, 3, 4, 5].map((n) => `chunk ${n} of 5\n`).join(""));
  });

  it("node-stream: the piped Readable's lines", async () => {
    const result = await nodeStream(event("/", { query: "lines=3" }), context);
    assert.equal(result.headers["content-type"], "text/plain; charset=utf-8");
    assert.deepEqual(result.body.trim().split("\n").map((l) => l.split(":")[0]), ["line 1 of 3", "line 2 of 3", "line 3 of 3"]);
  });

  it("sse: one event per token, then done", async () => {
    const result = await sse(event("/", { query: "prompt=hi" }), context);
    assert.equal(result.headers["content-type"], "text/event-stream");
    const events = result.body.trim().split("\n\n");
    const tokens = events.filter((e) => e.includes("event: token")).map((e) => JSON.parse(e.split("data: ")[1]));
    assert.equal(tokens.join(""), 'You asked: "hi". Here is an answer, one token at a time.');
    assert.equal(events.at(-1), "event: done\ndata: {}");
  });

  it("hono: routes, JSON and streamText", async () => {
    assert.deepEqual(JSON.parse((await hono(event("/hello/relay"), context)).body), { hello: "relay" });
    assert.equal((await hono(event("/count"), context)).body, "1\n2\n3\n4\n5\n");
  });

  it("websocket: a plain request is told to upgrade (426); the socket itself needs the gateway", async () => {
    const result = await websocket(event("/ws"), context);
    assert.equal(result.statusCode, 426);
    assert.equal(result.headers.upgrade, "websocket");
    assert.match(result.body, /connect with a WebSocket/);
  });

  it("upload: byte count and sha256 of the body", async () => {
    const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff));
    const result = await upload(event("/", { method: "POST", body: bytes.toString("base64") }), context);
    assert.deepEqual(JSON.parse(result.body), { bytes: 100_000, sha256: createHash("sha256").update(bytes).digest("hex") });
  });

  it("express: routes, the event stream, an upload's size", async () => {
    assert.deepEqual(JSON.parse((await expressApp(event("/hello/relay"), context)).body), { hello: "relay" });
    const events = await expressApp(event("/events"), context);
    assert.equal(events.headers["content-type"], "text/event-stream; charset=utf-8");
    assert.deepEqual(events.body.trim().split("\n\n").map((e) => e.split("data: ")[1]), ["tick 1", "tick 2", "tick 3", "tick 4", "tick 5"]);
    const size = await expressApp(event("/size", { method: "POST", body: Buffer.alloc(70_000).toString("base64") }), context);
    assert.deepEqual(JSON.parse(size.body), { bytes: 70_000 });
  });
});
