// nodeHandler in direct mode (a buffered result) with real Express, Fastify and Koa apps, and
// the corners of Node's own (req, res): raw header arrays, interim 1xx heads, an app's own
// chunked encoding, HEAD, 204, a destroyed response. Relayed, e2e/node-apps.test.mjs.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";

import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import { nodeHandler } from "lambda-relay";

const context = { awsRequestId: "test", getRemainingTimeInMillis: () => 5_000 };

function event({ method = "GET", path = "/", query = "", headers = {}, body, base64 = false, cookies } = {}) {
  return {
    version: "2.0",
    rawPath: path,
    rawQueryString: query,
    cookies,
    headers: { host: "example.lambda-url.local", ...headers },
    requestContext: { domainName: "example.lambda-url.local", http: { method, path, sourceIp: "203.0.113.9" } },
    body,
    isBase64Encoded: base64,
  };
}

describe("nodeHandler with real frameworks, direct", () => {
  it("runs an Express app: client address, https, raw query, cookies in and out, a JSON body", async () => {
    const app = express();
    app.set("trust proxy", false);
    app.post("/items/:id", express.json(), (req, res) => {
      res.cookie("a", "1");
      res.cookie("b", "2");
      res.status(201).json({ id: req.params.id, ip: req.ip, protocol: req.protocol, url: req.originalUrl, query: req.query, cookie: req.headers.cookie, body: req.body });
    });
    const result = await nodeHandler(app)(
      event({ method: "POST", path: "/items/7", query: "x=1&x=2", cookies: ["c=3", "d=4"], headers: { "content-type": "application/json" }, body: '{"n":1}' }),
      context,
    );
    assert.equal(result.statusCode, 201);
    assert.deepEqual(result.cookies, ["a=1; Path=/", "b=2; Path=/"]);
    assert.equal(result.headers["x-powered-by"], "Express");
    assert.equal(result.headers.connection, undefined, "Node's hop-by-hop headers are not the response's");
    assert.deepEqual(JSON.parse(result.body), { id: "7", ip: "203.0.113.9", protocol: "https", url: "/items/7?x=1&x=2", query: { x: ["1", "2"] }, cookie: "c=3; d=4", body: { n: 1 } });
  });

  it("answers Express's 404 and its error handler's 500 as Express would", async () => {
    const app = express();
    app.get("/boom", () => {
      throw new Error("route failed");
    });
    app.use((err, _req, res, _next) => res.status(500).send(`handled: ${err.message}`));
    const handler = nodeHandler(app);
    assert.equal((await handler(event({ path: "/nothing" }), context)).statusCode, 404);
    const failed = await handler(event({ path: "/boom" }), context);
    assert.equal(failed.statusCode, 500);
    assert.equal(failed.body, "handled: route failed");
  });

  it("runs a Fastify instance, made ready on the first invocation, and streams its Readable reply", async () => {
    const fastify = Fastify();
    fastify.get("/hi/:name", async (request) => ({ name: request.params.name, ip: request.ip, protocol: request.protocol, hostname: request.hostname }));
    fastify.get("/stream", async (_request, reply) => {
      const { Readable } = await import("node:stream");
      reply.type("text/plain");
      return Readable.from(["one ", "two ", "three"]);
    });
    const handler = nodeHandler(fastify);
    const hi = await handler(event({ path: "/hi/ada" }), context);
    assert.equal(hi.statusCode, 200);
    assert.deepEqual(JSON.parse(hi.body), { name: "ada", ip: "203.0.113.9", protocol: "https", hostname: "example.lambda-url.local" });
    const streamed = await handler(event({ path: "/stream" }), context);
    assert.equal(streamed.body, "one two three");
    assert.equal(streamed.headers["content-type"], "text/plain");
  });

  it("runs a Koa app through its callback", async () => {
    const koa = new Koa();
    koa.use(async (ctx) => {
      ctx.set("x-koa", "yes");
      ctx.body = { path: ctx.path, ip: ctx.ip, method: ctx.method };
    });
    const result = await nodeHandler(koa)(event({ method: "DELETE", path: "/k" }), context);
    assert.equal(result.statusCode, 200);
    assert.equal(result.headers["x-koa"], "yes");
    assert.deepEqual(JSON.parse(result.body), { path: "/k", ip: "203.0.113.9", method: "DELETE" });
  });
});

describe("nodeHandler with Node's own (req, res)", () => {
  it("takes writeHead's raw header array, repeated names included", async () => {
    const result = await nodeHandler((_req, res) => {
      res.writeHead(202, [
        ["x-many", "1"],
        ["x-many", "2"],
        ["set-cookie", "a=1"],
        ["set-cookie", "b=2"],
      ]);
      res.end("ok");
    })(event(), context);
    assert.equal(result.statusCode, 202);
    assert.equal(result.headers["x-many"], "1, 2");
    assert.deepEqual(result.cookies, ["a=1", "b=2"]);
    assert.equal(result.body, "ok");
  });

  it("keeps a header value as written, trimming only the spaces and tabs HTTP trims", async () => {
    const result = await nodeHandler((_req, res) => {
      res.setHeader("x-spaced", "a  b\tc");
      res.setHeader("x-colon", "http://example.com:8080/x");
      res.end(Buffer.from("ok"));
    })(event(), context);
    assert.equal(result.headers["x-spaced"], "a  b\tc");
    assert.equal(result.headers["x-colon"], "http://example.com:8080/x");
  });

  it("skips interim heads (100 Continue, 103 Early Hints): the response is the final head", async () => {
    const result = await nodeHandler((_req, res) => {
      res.writeContinue();
      res.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" });
      res.setHeader("content-type", "text/plain");
      res.end("final");
    })(event(), context);
    assert.equal(result.statusCode, 200);
    assert.equal(result.headers.link, undefined);
    assert.equal(result.body, "final");
  });

  it("decodes the chunked encoding Node applies when an app sets transfer-encoding itself", async () => {
    const result = await nodeHandler((_req, res) => {
      res.setHeader("transfer-encoding", "chunked");
      res.write("a".repeat(5000));
      res.write("b");
      res.end("c".repeat(17));
    })(event(), context);
    assert.equal(result.headers["transfer-encoding"], undefined);
    assert.equal(result.body, `${"a".repeat(5000)}b${"c".repeat(17)}`);
  });

  it("sends no body for HEAD and for 204, as Node's server would", async () => {
    const app = nodeHandler((req, res) => {
      if (req.url === "/empty") return res.writeHead(204).end("ignored");
      res.setHeader("content-type", "text/plain");
      res.end("a body");
    });
    const head = await app(event({ method: "HEAD" }), context);
    assert.equal(head.statusCode, 200);
    assert.ok(!head.body, "no body for HEAD");
    const empty = await app(event({ path: "/empty" }), context);
    assert.equal(empty.statusCode, 204);
    assert.ok(!empty.body, "no body for 204");
  });

  it("streams a base64 request body into req and reads it back whole", async () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const result = await nodeHandler((req, res) => {
      const hash = createHash("sha256");
      let n = 0;
      req.on("data", (c) => {
        hash.update(c);
        n += c.length;
      });
      req.on("end", () => res.end(`${n} ${hash.digest("hex")} ${req.complete}`));
    })(event({ method: "PUT", body: bytes.toString("base64"), base64: true }), context);
    assert.equal(result.body, `3000 ${createHash("sha256").update(bytes).digest("hex")} true`);
  });

  it("fails the invocation when the app destroys its response mid-way", async () => {
    const handler = nodeHandler((_req, res) => {
      res.write("partial");
      setTimeout(() => res.destroy(new Error("the app gave up")), 5);
    });
    await assert.rejects(handler(event(), context), /the app gave up/);
  });

  it("fails the invocation when the listener throws", async () => {
    const handler = nodeHandler(() => {
      throw new Error("listener failed");
    });
    await assert.rejects(handler(event(), context), /listener failed/);
  });

  it("refuses what is not an app, saying what it takes", () => {
    assert.throws(() => nodeHandler(42), TypeError);
  });
});
