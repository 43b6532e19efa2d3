// The golden vectors of core/tests/vectors, replayed through the addon, through the portable
// adapter a platform without the addon uses, and through streamHandler's direct path: the
// same rules as the Rust and Python suites.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { streamHandler } from "lambda-relay";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const addon = require(path.join(dir, "binding.cjs"));
const portable = require(path.join(dir, "dist", "cjs", "portable.js"));
const folder = path.join(dir, "..", "core", "tests", "vectors");
const cases = readdirSync(folder)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => ({ name: f.slice(0, -5), ...JSON.parse(readFileSync(path.join(folder, f), "utf8")) }));

const sortPairs = (pairs) => [...pairs].map((p) => [...p]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const b64 = (bytes) => Buffer.from(bytes ?? []).toString("base64");

function replay(adapter, c) {
  if (c.kind === "request") {
    const v = adapter.requestView(c.event, c.relayed);
    return {
      method: v.method,
      url: v.url,
      rawPath: v.rawPath,
      rawQuery: v.rawQuery,
      headers: sortPairs(v.headers),
      clientAddress: v.clientAddress ?? null,
      bodyBase64: b64(v.body),
    };
  }
  if (c.kind === "response") {
    const r = c.response;
    return adapter.bufferedResult(r.status, r.headers, Buffer.from(r.bodyBase64, "base64"), r.headRequest);
  }
  const r = c.request;
  return adapter.functionUrlEvent({ ...r, body: Buffer.from(r.bodyBase64, "base64") });
}

function check(adapter, c) {
  if (c.error) {
    assert.throws(
      () => replay(adapter, c),
      // The code is a property, not a prefix of the message.
      (e) => e.message.includes(c.error) && !e.message.startsWith("ERR_") && ["ERR_RELAY_EVENT", "ERR_RELAY_USAGE"].includes(e.code),
    );
    return;
  }
  const want = c.kind === "request" ? { ...c.expect, headers: sortPairs(c.expect.headers) } : c.expect;
  assert.deepEqual(JSON.parse(JSON.stringify(replay(adapter, c))), want);
}

describe("golden vectors", () => {
  it("the folder holds at least 40 cases", () => assert.ok(cases.length >= 40, `${cases.length}`));

  describe("through the addon", () => {
    for (const c of cases) it(c.name, () => check(addon, c));
  });

  describe("through the portable adapter (no addon; direct invocations only)", () => {
    for (const c of cases.filter((c) => !c.relayed)) it(c.name, () => check(portable, c));
  });

  describe("through streamHandler's direct path", () => {
    for (const c of cases.filter((c) => c.kind === "request" && !c.relayed)) {
      it(c.name, async () => {
        let seen;
        const handler = streamHandler(async (request, env) => {
          seen = { request, body: Buffer.from(await request.arrayBuffer()), env };
          return new Response("ok");
        });
        const invoke = () => handler(c.event, { getRemainingTimeInMillis: () => 1000 });
        if (c.error) {
          await assert.rejects(invoke, (e) => e.message.includes(c.error) && e.code === "ERR_RELAY_EVENT" && e.name === "RelayError");
          return;
        }
        assert.equal((await invoke()).body, c.expect.method === "HEAD" ? undefined : "ok");
        const want = c.expect;
        assert.equal(seen.request.method, want.method);
        assert.equal(seen.request.url, want.url);
        const headers = sortPairs([...seen.request.headers]);
        // Fetch joins repeated names; the vectors hold each name once.
        assert.deepEqual(headers, sortPairs(want.headers));
        assert.equal(seen.env.requestContext?.http?.sourceIp ?? null, want.clientAddress);
        assert.equal(b64(seen.body), ["GET", "HEAD"].includes(want.method) ? "" : want.bodyBase64);
        const eventHeaders = Object.keys(seen.env.event.headers ?? {});
        assert.ok(!eventHeaders.some((n) => n.toLowerCase().startsWith("x-lambda-relay-")), "no relay header in env.event");
      });
    }
  });
});
