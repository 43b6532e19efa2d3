// Direct mode (no relay headers) of both handlers, refusals of bad relay invocations, the
// Hono app and the local Function URL server, all against the real addon.

import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import http from "node:http";
import { describe, it } from "node:test";

import { Hono } from "hono";
import { streamSSE, streamText } from "hono/streaming";
import { getConnInfo } from "hono/aws-lambda";
import { HttpResponseStream, RelayError, serve, streamHandler, streamifyHandler, streamifyResponse } from "lambda-relay";

import { mintToken } from "../../e2e/token.mjs";

const context = { awsRequestId: "test", getRemainingTimeInMillis: () => 30_000 };

function event({ method = "GET", path = "/", query = "", headers = {}, body, base64 = false, cookies } = {}) {
  return {
    version: "2.0",
    rawPath: path,
    rawQueryString: query,
    cookies,
    headers: { host: "example.lambda-url.local", ...headers },
    requestContext: { domainName: "example.lambda-url.local", http: { method, path } },
    body,
    isBase64Encoded: base64,
  };
}

describe("streamHandler, direct", () => {
  it("sees the request as the client sent it and returns a buffered result", async () => {
    const handler = streamHandler(async (request) => {
      const seen = `${request.method} ${new URL(request.url).pathname}${new URL(request.url).search} cookie=${request.headers.get("cookie")} body=${await request.text()}`;
      const headers = new Headers({ "x-kind": "echo" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2; Path=/");
      return new Response(seen, { status: 201, headers });
    });
    const result = await handler(event({ method: "POST", path: "/items/7", query: "q=1", body: "hi", cookies: ["s=1", "t=2"] }), context);
    assert.equal(result.statusCode, 201);
    assert.equal(result.body, "POST /items/7?q=1 cookie=s=1; t=2 body=hi");
    assert.deepEqual(result.cookies, ["a=1", "b=2; Path=/"]);
    assert.equal(result.headers["x-kind"], "echo");
    assert.equal(result.headers["set-cookie"], undefined);
    assert.equal(result.isBase64Encoded, undefined);
  });

  it("decodes base64 request bodies and base64-encodes binary responses", async () => {
    const handler = streamHandler(async (request) => {
      const bytes = new Uint8Array(await request.arrayBuffer());
      return new Response(new Uint8Array([...bytes, 0xff, 0x00]));
    });
    const result = await handler(event({ method: "POST", body: Buffer.from([1, 2, 3]).toString("base64"), base64: true }), context);
    assert.equal(result.isBase64Encoded, true);
    assert.deepEqual([...Buffer.from(result.body, "base64")], [1, 2, 3, 0xff, 0x00]);
  });

  it("answers a bodiless response without a body", async () => {
    const result = await streamHandler(() => new Response(null, { status: 204 }))(event(), context);
    assert.deepEqual(result, { statusCode: 204, headers: {} });
  });

  it("lets a handler error fail the invocation, as Lambda would", async () => {
    const handler = streamHandler(() => {
      throw new Error("no such item");
    });
    await assert.rejects(handler(event(), context), /no such item/);
  });
});

describe("streamifyHandler, direct", () => {
  it("pipes a Readable into the response stream with status and headers", async () => {
    const handler = streamifyHandler(async (request, responseStream) => {
      responseStream.writeHead(202, { "content-type": "text/plain", "set-cookie": ["x=1", "y=2"] });
      await pipeline(Readable.from(["one ", "two ", new URL(request.url).pathname]), responseStream);
    });
    const result = await handler(event({ path: "/three" }), context);
    assert.equal(result.statusCode, 202);
    assert.equal(result.body, "one two /three");
    assert.deepEqual(result.cookies, ["x=1", "y=2"]);
    assert.equal(result.headers["content-type"], "text/plain");
  });

  it("waits for a stream the handler ends after it returned, and keeps setHeader and statusCode", async () => {
    const handler = streamifyHandler(async (_request, responseStream) => {
      responseStream.statusCode = 418;
      responseStream.setHeader("x-teapot", "yes");
      responseStream.write(Buffer.from([0xc3, 0x28]));
      // Returned with the body unfinished; it ends later, as an unawaited pipeline would.
      setTimeout(() => responseStream.end(Buffer.from([0x29])), 20);
    });
    const result = await handler(event(), context);
    assert.equal(result.statusCode, 418);
    assert.equal(result.headers["x-teapot"], "yes");
    assert.equal(result.isBase64Encoded, true, "invalid UTF-8 goes base64");
    assert.deepEqual([...Buffer.from(result.body, "base64")], [0xc3, 0x28, 0x29]);
  });

  it("direct and never ended, fails when the invocation's time is up instead of hanging", async () => {
    let wrote = false;
    const handler = streamifyHandler(async (_request, responseStream) => {
      responseStream.write("never ended");
      wrote = true;
    });
    await assert.rejects(handler(event(), { ...context, getRemainingTimeInMillis: () => 50 }), /never ended its response stream/);
    assert.ok(wrote, "the handler ran");
  });
});

describe("a handler that returns with its body unfinished", () => {
  it("is not a complete response: relayed, it is never answered inline as if it were", async () => {
    // A gateway that refuses the socket: the response, not complete, must go over one.
    const gateway = http.createServer((_req, res) => res.writeHead(403).end("relay token refused"));
    await new Promise((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    process.env.RELAY_GATEWAY_URL = `ws://127.0.0.1:${gateway.address().port}`;
    process.env.RELAY_SECRET = "a secret of at least sixteen bytes";
    try {
      const headers = {
        "x-lambda-relay-id": "abc126",
        "x-lambda-relay-token": mintToken(process.env.RELAY_SECRET, "abc126", Math.floor(Date.now() / 1000) + 60),
        "x-lambda-relay-body": "inline",
      };
      const handler = streamifyHandler(async (_request, responseStream) => {
        responseStream.write("partial");
      });
      const result = await handler(event({ headers }), { ...context, getRemainingTimeInMillis: () => 3_000 });
      assert.notEqual(result.headers["x-lambda-relay-outcome"], "complete");
      assert.equal(result.statusCode, 502);
      assert.equal(result.body, "relay failed: gateway refused the relay socket with HTTP 403");
    } finally {
      delete process.env.RELAY_GATEWAY_URL;
      delete process.env.RELAY_SECRET;
      gateway.close();
    }
  });
});

describe("relay invocations that cannot be relayed", () => {
  const relayHeaders = { "x-lambda-relay-id": "abc123", "x-lambda-relay-token": "v1.9999999999.00", "x-lambda-relay-body": "inline" };

  it("refuses a token that does not verify with 403, before any connection", async () => {
    process.env.RELAY_GATEWAY_URL = "ws://127.0.0.1:1";
    process.env.RELAY_SECRET = "a secret of at least sixteen bytes";
    try {
      const result = await streamHandler(() => new Response("never"))(event({ headers: relayHeaders }), context);
      assert.equal(result.statusCode, 403);
      assert.equal(result.headers["x-lambda-relay-outcome"], "refused");
      assert.match(result.body, /relay token refused/);
    } finally {
      delete process.env.RELAY_GATEWAY_URL;
      delete process.env.RELAY_SECRET;
    }
  });

  it("answers 500 when the function has no relay configuration", async () => {
    const result = await streamifyHandler(() => {})(event({ headers: relayHeaders }), context);
    assert.equal(result.statusCode, 500);
    assert.equal(result.headers["x-lambda-relay-outcome"], "unconfigured");
  });

  it("reports a gateway that refuses the socket as a failed relay (502 with the reason), not an abort", async () => {
    const gateway = http.createServer((_req, res) => res.writeHead(403).end("relay token refused"));
    await new Promise((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    const secret = "a secret of at least sixteen bytes";
    process.env.RELAY_GATEWAY_URL = `ws://127.0.0.1:${gateway.address().port}`;
    process.env.RELAY_SECRET = secret;
    let release;
    try {
      const headers = {
        "x-lambda-relay-id": "abc123",
        "x-lambda-relay-token": mintToken(secret, "abc123", Math.floor(Date.now() / 1000) + 60),
        "x-lambda-relay-body": "inline",
      };
      // A body that is not complete at once needs the socket (a complete one would ride inline):
      // this one waits until the relay gives up on it (cancel), however slowly the handler starts.
      const released = new Promise((resolve) => (release = resolve));
      const slow = new ReadableStream({
        async pull(controller) {
          await released;
          controller.close();
        },
        cancel: () => release(),
      });
      const result = await streamHandler(async () => new Response(slow))(event({ headers }), context);
      assert.equal(result.statusCode, 502);
      assert.equal(result.headers["x-lambda-relay-outcome"], "failed");
      assert.equal(result.body, "relay failed: gateway refused the relay socket with HTTP 403");
    } finally {
      release?.();
      delete process.env.RELAY_GATEWAY_URL;
      delete process.env.RELAY_SECRET;
      gateway.close();
    }
  });

  it("answers a small complete response in the invocation result, even before a socket exists", async () => {
    const secret = "a secret of at least sixteen bytes";
    // Nothing listens there: the response never needs the gateway.
    process.env.RELAY_GATEWAY_URL = "ws://127.0.0.1:1";
    process.env.RELAY_SECRET = secret;
    try {
      const headers = {
        "x-lambda-relay-id": "abc124",
        "x-lambda-relay-token": mintToken(secret, "abc124", Math.floor(Date.now() / 1000) + 60),
        "x-lambda-relay-body": "inline",
      };
      const respond = () => {
        const h = new Headers({ "x-kind": "inline" });
        h.append("set-cookie", "a=1");
        return new Response("small and complete", { status: 201, headers: h });
      };
      for (const handler of [streamHandler(respond), streamifyHandler((_r, s) => s.writeHead(201, { "x-kind": "inline", "set-cookie": ["a=1"] }).end("small and complete"))]) {
        const result = await handler(event({ headers }), context);
        assert.equal(result.statusCode, 201);
        assert.equal(result.body, "small and complete");
        assert.equal(result.headers["x-kind"], "inline");
        assert.deepEqual(result.cookies, ["a=1"]);
        assert.equal(result.headers["x-lambda-relay-outcome"], "complete");
      }
      // A writer that reuses its buffer once its write's callback ran: what was written is kept.
      const reuses = streamifyHandler((_r, s) => {
        const buf = Buffer.from("written, then reused");
        s.write(buf, () => {
          buf.fill("x");
          s.end();
        });
      });
      const result = await reuses(event({ headers: { ...headers, "x-lambda-relay-id": "abc125", "x-lambda-relay-token": mintToken(secret, "abc125", Math.floor(Date.now() / 1000) + 60) } }), context);
      assert.equal(result.headers["x-lambda-relay-outcome"], "complete");
      assert.equal(result.body, "written, then reused");
    } finally {
      delete process.env.RELAY_GATEWAY_URL;
      delete process.env.RELAY_SECRET;
    }
  });

  it("exports RelayError with a stable code", () => {
    const e = new RelayError("ERR_RELAY_ABORTED", "gone");
    assert.equal(e.code, "ERR_RELAY_ABORTED");
    assert.ok(e instanceof Error);
  });
});

describe("a Hono app", () => {
  const app = new Hono();
  app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name") }));
  app.get("/text", (c) =>
    streamText(c, async (stream) => {
      for (const word of ["streamed ", "by ", "hono"]) await stream.write(word);
    }),
  );
  app.get("/sse", (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 1; i <= 3; i++) await stream.writeSSE({ event: "token", data: `t${i}`, id: String(i) });
    }),
  );
  const handler = streamHandler(app.fetch);

  it("routes and answers JSON", async () => {
    const result = await handler(event({ path: "/hello/relay" }), context);
    assert.equal(result.statusCode, 200);
    assert.deepEqual(JSON.parse(result.body), { hello: "relay" });
  });

  it("streams text with streamText", async () => {
    const result = await handler(event({ path: "/text" }), context);
    assert.equal(result.body, "streamed by hono");
  });

  it("streams server-sent events with streamSSE", async () => {
    const result = await handler(event({ path: "/sse" }), context);
    assert.equal(result.headers["content-type"], "text/event-stream");
    assert.equal(result.body, "event: token\ndata: t1\nid: 1\n\nevent: token\ndata: t2\nid: 2\n\nevent: token\ndata: t3\nid: 3\n\n");
  });
});

describe("where users already are", () => {
  it("gives a Hono app the env Hono's own adapter gives it, getConnInfo included", async () => {
    const app = new Hono();
    app.get("/env", (c) =>
      c.json({
        rawPath: c.env.event.rawPath,
        method: c.env.requestContext.http.method,
        requestId: c.env.lambdaContext.awsRequestId,
        remaining: c.env.getRemainingTimeInMillis() > 0,
        address: getConnInfo(c).remote.address,
      }),
    );
    const e = event({ path: "/env" });
    e.requestContext.http.sourceIp = "198.51.100.7";
    const result = await streamHandler(app.fetch)(e, context);
    assert.deepEqual(JSON.parse(result.body), { rawPath: "/env", method: "GET", requestId: "test", remaining: true, address: "198.51.100.7" });
  });

  it("ports an awslambda.streamifyResponse handler by its import: raw event, HttpResponseStream.from", async () => {
    const handler = streamifyResponse(async (ev, responseStream, ctx) => {
      const stream = HttpResponseStream.from(responseStream, {
        statusCode: 201,
        headers: { "content-type": "text/plain", "x-path": ev.rawPath },
        cookies: ["a=1", "b=2"],
      });
      stream.write(`body=${Buffer.from(ev.body, ev.isBase64Encoded ? "base64" : "utf8")} id=${ctx.awsRequestId}`);
      stream.end();
    });
    const result = await handler(event({ method: "POST", path: "/aws", body: "hi" }), context);
    assert.equal(result.statusCode, 201);
    assert.equal(result.headers["content-type"], "text/plain");
    assert.equal(result.headers["x-path"], "/aws");
    assert.deepEqual(result.cookies, ["a=1", "b=2"]);
    assert.equal(result.body, "body=hi id=test");
  });
});

describe("the local Function URL server", () => {
  it("turns HTTP into Function URL events and results back into HTTP", async () => {
    const server = await serve(
      streamHandler(async (request) => {
        const headers = new Headers({ "content-type": "application/octet-stream" });
        headers.append("set-cookie", "a=1");
        headers.append("set-cookie", "b=2");
        const body = new Uint8Array(await request.arrayBuffer());
        return new Response(new Uint8Array([...body].reverse()), { headers });
      }),
      { port: 0 },
    );
    try {
      const { port } = server.address();
      const res = await fetch(`http://127.0.0.1:${port}/x`, { method: "POST", body: new Uint8Array([1, 2, 0xff]) });
      assert.equal(res.status, 200);
      assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.deepEqual([...new Uint8Array(await res.arrayBuffer())], [0xff, 2, 1]);
    } finally {
      server.close();
    }
  });
});
