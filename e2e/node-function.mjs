// The Node function the end-to-end tests relay: one Lambda handler that dispatches to a
// streamHandler (Fetch) app and, under /s/, a streamifyHandler (Node stream) app. Served by
// `lambda-relay serve`. `/events` (direct) reports what the function observed.

import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { Hono } from "hono";
import { getConnInfo } from "hono/aws-lambda";
import { streamHandler, streamifyHandler } from "lambda-relay";

// A Hono app, as Hono's docs write one: its env and getConnInfo work relayed too.
const hono = new Hono();
hono.get("/hono/whoami", (c) => {
  const slow = new ReadableStream({
    async start(controller) {
      // Streamed (not complete at once), so it goes over the socket.
      await new Promise((r) => setTimeout(r, 5));
      controller.enqueue(
        new TextEncoder().encode(
          JSON.stringify({
            address: getConnInfo(c).remote.address,
            rawPath: c.env.event.rawPath,
            relayHeaders: Object.keys(c.env.event.headers).filter((h) => h.startsWith("x-lambda-relay")),
            requestId: c.env.lambdaContext.awsRequestId,
          }),
        ),
      );
      controller.close();
    },
  });
  return new Response(slow, { headers: { "content-type": "application/json" } });
});
const honoApp = streamHandler(hono.fetch);

const events = [];
const produced = {};
// The streamifyHandler response streams still running, by tag: whether one waits for
// 'drain' says whether the relay holds its producer back.
const live = new Map();
/** How far the client released each `/gated` stream, and who waits for it. */
const released = new Map();
const waiters = new Set();

/** Byte i is (i * 7 + floor(i / 256)) mod 256, as in the Rust function. */
function pattern(start, length) {
  const out = Buffer.allocUnsafe(length);
  for (let j = 0; j < length; j++) {
    const i = start + j;
    out[j] = (i * 7 + Math.floor(i / 256)) & 0xff;
  }
  return out;
}

function patternStream(n, tag) {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= n) return controller.close();
      const len = Math.min(64 * 1024, n - sent);
      controller.enqueue(pattern(sent, len));
      sent += len;
      produced[tag] = sent;
    },
  });
}

const fetchApp = streamHandler(async (request) => {
  const url = new URL(request.url);
  const q = (k, d) => Number(url.searchParams.get(k) ?? d);
  switch (url.pathname) {
    case "/events":
      return Response.json({
        events,
        produced,
        needDrain: Object.fromEntries([...live].map(([tag, stream]) => [tag, stream.writableNeedDrain])),
      });
    case "/e2e/release": {
      released.set(url.searchParams.get("tag"), q("upto", 0));
      for (const wake of waiters) wake();
      return new Response(null, { status: 204 });
    }
    case "/gated": {
      // Chunk i+1 only once the client released it: a relay that buffered would deadlock.
      const chunks = q("chunks", 3);
      const tag = url.searchParams.get("tag");
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            if (i === chunks) return controller.close();
            i++;
            while (i > 1 && (released.get(tag) ?? 0) < i) {
              await new Promise((resolve) => {
                const wake = () => (waiters.delete(wake), resolve());
                waiters.add(wake);
              });
            }
            controller.enqueue(new TextEncoder().encode(`chunk ${i}\n`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    }
    case "/stream": {
      const chunks = q("chunks", 5);
      const delay = q("delay_ms", 1000);
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            if (i === chunks) return controller.close();
            if (i > 0) await new Promise((r) => setTimeout(r, delay));
            i++;
            controller.enqueue(new TextEncoder().encode(`chunk ${i} produced_at=${Date.now()}\n`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    }
    case "/auth":
      // What the app sees of the client's credentials: relayed, the client's own header, never
      // the gateway's signature.
      return Response.json({ method: request.method, authorization: request.headers.get("authorization"), amz: [...request.headers.keys()].filter((h) => h.startsWith("x-amz-")) });
    case "/bytes":
      return new Response(patternStream(q("n", 1024), url.searchParams.get("tag") ?? "bytes"), {
        headers: { "content-type": "application/octet-stream" },
      });
    case "/messages": {
      // How many pieces the body arrived in: each is one relay frame.
      let n = 0;
      let pieces = 0;
      for await (const chunk of request.body) {
        n += chunk.length;
        pieces++;
      }
      return Response.json({ bytes: n, pieces });
    }
    case "/trickle": {
      // Records how much of the body arrived, as it arrives.
      const tag = url.searchParams.get("tag");
      let n = 0;
      for await (const chunk of request.body) {
        n += chunk.length;
        produced[tag] = n;
      }
      return new Response(String(n));
    }
    case "/upload": {
      const hash = createHash("sha256");
      let n = 0;
      for await (const chunk of request.body) {
        hash.update(chunk);
        n += chunk.length;
      }
      return new Response(`${n} ${hash.digest("hex")}`);
    }
    case "/connection-named": {
      // Headers the function's own connection header names are for its hop alone.
      const headers = { connection: "x-hop", "x-hop": "internal", "x-kept": "yes" };
      if (url.searchParams.get("inline")) return new Response("small and complete", { headers });
      const body = new ReadableStream({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 5)); // not complete when returned: it streams
          controller.enqueue(new TextEncoder().encode("streamed"));
          controller.close();
        },
      });
      return new Response(body, { headers });
    }
    case "/gzip-streamed": {
      // The function's own compressed body, sent in pieces over the socket: the client must
      // get these exact bytes, not the runtime's second encoding of them.
      const gz = gzipSync(Buffer.from("a body the function compressed itself\n".repeat(2000)));
      let at = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 5)); // not complete when returned: it streams
            if (at >= gz.length) return controller.close();
            controller.enqueue(gz.subarray(at, at + 1000));
            at += 1000;
          },
        }),
        { headers: { "content-type": "text/plain", "content-encoding": "gzip", "x-gzip-sha256": createHash("sha256").update(gz).digest("hex") } },
      );
    }
    case "/endless": {
      const tag = url.searchParams.get("tag");
      request.signal.addEventListener("abort", () => {
        const { name, code, message } = request.signal.reason ?? {};
        events.push({ kind: "signal", tag, at: Date.now(), reason: { name, code, message } });
      });
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 50));
            controller.enqueue(new TextEncoder().encode(`tick ${i++}\n`));
          },
          cancel() {
            events.push({ kind: "cancelled", tag, at: Date.now() });
          },
        }),
      );
    }
    case "/fail-after-head":
      return new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("the beginning of a body that never ends\n"));
          },
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 100));
            controller.error(new Error("the data source broke"));
          },
        }),
      );
    case "/fail-before-head":
      throw new Error("the handler failed before the head");
    case "/tiny": {
      // One byte per chunk, as token-by-token streams are: the relay must hold this bounded.
      const n = q("n", 1000);
      const tag = url.searchParams.get("tag") ?? "tiny";
      const base = process.memoryUsage().rss;
      let i = 0;
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (i === n) {
              produced[`${tag}_rss_growth`] = Math.max(produced[`${tag}_rss_growth`] ?? 0, process.memoryUsage().rss - base);
              return controller.close();
            }
            controller.enqueue(new Uint8Array([i % 251]));
            i++;
            produced[tag] = i;
            if (i % 65536 === 0) {
              produced[`${tag}_rss_growth`] = Math.max(produced[`${tag}_rss_growth`] ?? 0, process.memoryUsage().rss - base);
            }
          },
          cancel() {
            events.push({ kind: "cancelled", tag, at: Date.now() });
          },
        }),
      );
    }
    default:
      return new Response("no such route", { status: 404 });
  }
});

const streamApp = streamifyHandler(async (request, responseStream) => {
  const url = new URL(request.url);
  if (url.pathname === "/s/readable") {
    const n = Number(url.searchParams.get("n"));
    const tag = url.searchParams.get("tag") ?? "readable";
    async function* chunks() {
      for (let sent = 0; sent < n; ) {
        const len = Math.min(64 * 1024, n - sent);
        yield pattern(sent, len);
        sent += len;
        produced[tag] = sent;
      }
    }
    responseStream.setContentType("application/octet-stream");
    live.set(tag, responseStream);
    try {
      await pipeline(Readable.from(chunks()), responseStream);
    } finally {
      live.delete(tag);
    }
    return;
  }
  if (url.pathname === "/s/destroy") {
    // Destroyed without an error: the client must learn the body is cut short, not wait.
    responseStream.write("partial\n");
    await new Promise((r) => setTimeout(r, 50));
    responseStream.destroy();
    return;
  }
  if (url.pathname === "/s/status") {
    responseStream.statusCode = Number(url.searchParams.get("code"));
    responseStream.end("interim");
    return;
  }
  if (url.pathname === "/s/fail-after-head") {
    responseStream.write("partial\n");
    await new Promise((r) => setTimeout(r, 50));
    throw new Error("the stream handler broke");
  }
  responseStream.statusCode = 404;
  responseStream.end("no such route");
});

export const handler = (event, context) => {
  if (event.rawPath?.startsWith("/hono/")) return honoApp(event, context);
  return (event.rawPath?.startsWith("/s/") ? streamApp : fetchApp)(event, context);
};
