// End to end: a client → the gateway in workerd (wrangler dev) → the Rust function behind its
// local Function URL, with the function's socket through a TCP proxy that can cut it.
// Every test asserts bytes, hashes or statuses.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";

import { freePort, hashBody, patternSha256, readGated, startFunction, startGateway, startProxy, startWranglerGateway, stopAll, gatewayErrors, waitForEvent, SECRET } from "./support.mjs";

const CONNECT_TIMEOUT_MS = 3000;
let gateway, fn, proxy;

before(async () => {
  const [gatewayPort, functionPort, proxyPort] = [await freePort(), await freePort(), await freePort()];
  proxy = await startProxy({ port: proxyPort, target: gatewayPort });
  fn = await startFunction({ port: functionPort, gatewayUrl: proxy.url });
  gateway = await startGateway({
    port: gatewayPort,
    lambdaUrl: fn,
    vars: { CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS), RESUME_GRACE_MS: "5000" },
  });
});

after(async () => {
  await stopAll();
  await proxy?.close();
});

describe("streaming", () => {
  it("delivers each chunk before the next is made: the client releases chunk i+1 only after chunk i arrived", async () => {
    const res = await fetch(`${gateway}/gated?chunks=4&tag=order`);
    assert.equal(res.status, 200);
    const { lines, ended } = await readGated(res, fn, "order", 4);
    assert.deepEqual(lines, ["chunk 1", "chunk 2", "chunk 3", "chunk 4"]);
    assert.ok(ended, "the response ends after the last chunk");
  });

  it("delivers a 100 MB binary response sha256-identical", async () => {
    const n = 100_000_000;
    const started = Date.now();
    const res = await fetch(`${gateway}/bytes?n=${n}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    const { bytes, sha256 } = await hashBody(res);
    const seconds = (Date.now() - started) / 1000;
    console.log(`100 MB through the gateway in ${seconds.toFixed(2)} s: ${(n / 1e6 / seconds).toFixed(1)} MB/s`);
    assert.equal(bytes, n);
    assert.equal(sha256, patternSha256(n));
  });

  it("streams a 20 MB request body to the function, which sends back its sha256", async () => {
    const body = randomBytes(20_000_000);
    const res = await fetch(`${gateway}/upload`, { method: "POST", body });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), `20000000 ${createHash("sha256").update(body).digest("hex")}`);
  });

  it("carries a small body inline, and its small answer rides back in the invocation result", async () => {
    const res = await fetch(`${gateway}/upload`, { method: "POST", body: "hello" });
    assert.equal(await res.text(), `5 ${createHash("sha256").update("hello").digest("hex")}`);
    // The outcome header is the gateway's; a client never sees it.
    assert.equal(res.headers.get("x-lambda-relay-outcome"), null);
  });
});

describe("heads", () => {
  it("answers 204 and 304 without a body", async () => {
    const noContent = await fetch(`${gateway}/status/204`);
    assert.equal(noContent.status, 204);
    assert.equal((await noContent.arrayBuffer()).byteLength, 0);
    const notModified = await fetch(`${gateway}/status/304`);
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("etag"), '"v1"');
    assert.equal((await notModified.arrayBuffer()).byteLength, 0);
  });

  it("answers HEAD with the head only", async () => {
    const res = await fetch(`${gateway}/headers`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
    assert.equal(res.headers.getSetCookie().length, 3);
  });

  it("keeps several set-cookie headers and a non-ASCII header value", async () => {
    const res = await fetch(`${gateway}/headers`);
    assert.deepEqual(res.headers.getSetCookie(), ["a=1; Path=/", "b=2; HttpOnly", "c=3"]);
    // Header bytes arrive as they were sent; fetch shows them as Latin-1.
    assert.equal(Buffer.from(res.headers.get("x-greeting"), "latin1").toString("utf8"), "grüß dich ✓");
    assert.equal(await res.text(), "headers");
  });
});

/**
 * Sends `first`, then a GET of `/sized?n=5` with `Connection: close`, on one connection, and
 * returns the first response's head and all that followed it. fetch cannot show this: it
 * hands a 205 or a HEAD response an empty body whatever came over the wire.
 */
async function thenAnother(first) {
  const { hostname, port } = new URL(gateway);
  const socket = net.connect(Number(port), hostname);
  socket.write(`${first} HTTP/1.1\r\nHost: ${hostname}\r\n\r\nGET /sized?n=5 HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
  const parts = [];
  for await (const part of socket) parts.push(part);
  const raw = Buffer.concat(parts).toString("latin1");
  const end = raw.indexOf("\r\n\r\n") + 4;
  return { head: raw.slice(0, end), rest: raw.slice(end) };
}

describe("odd corners of HTTP", () => {
  it("answers 205 without a body, though the handler wrote one, and the connection goes on", async () => {
    const { head, rest } = await thenAnother("GET /status/205");
    assert.match(head, /^HTTP\/1\.1 205 /);
    assert.match(rest, /^HTTP\/1\.1 200 /, "the next response follows the 205's head, with nothing between");
    assert.match(rest, /\r\n\r\nxxxxx$/i);
  });

  it("answers a handler's 1xx head with 502 handler_error: the relay carries 200 to 599", async () => {
    const res = await fetch(`${gateway}/status/103`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-lambda-relay-error"), "handler_error");
    assert.match(await res.text(), /invalid response status 103/);
  });

  it("hands a redirect from a function that is not relay-aware to the client, unfollowed", async () => {
    const res = await fetch(`${gateway}/e2e/redirect`, { redirect: "manual" });
    assert.equal(res.status, 302, "followed, the gateway would have served the target's 200");
    assert.equal(res.headers.get("location"), `${fn}/e2e/events`);
  });

  it("keeps a HEAD response's content-length and sends it no body", async () => {
    const { head, rest } = await thenAnother("HEAD /sized?n=1234");
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /\r\ncontent-length: 1234\r\n/i);
    assert.match(rest, /^HTTP\/1\.1 200 /, "the next response follows the HEAD's head, with nothing between");
  });

  it("forwards no header the client's Connection names, no Forwarded, and sets X-Forwarded-* itself", async () => {
    const { port } = new URL(gateway);
    const seen = await new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          path: "/echo-headers",
          headers: {
            connection: "keep-alive, x-hop-secret",
            "x-hop-secret": "for the next hop only",
            forwarded: "for=6.6.6.6;host=evil.example",
            "x-forwarded-for": "6.6.6.6",
            "x-forwarded-host": "evil.example",
            "x-kept": "yes",
          },
        },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve(body.split("\n")));
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.ok(seen.includes("x-kept: yes"), seen.join("\n"));
    assert.ok(!seen.some((l) => l.startsWith("x-hop-secret")), "a header the client's Connection named");
    assert.ok(!seen.some((l) => l.startsWith("forwarded")), "Forwarded");
    assert.ok(seen.includes("x-forwarded-for: 127.0.0.1"), "the connecting address, not the client's claim");
    assert.ok(seen.includes(`x-forwarded-host: 127.0.0.1:${port}`));
    assert.ok(!seen.some((l) => l.startsWith("x-lambda-relay")), "the relay's headers are stripped");
  });

  it("delivers an early 401 to a 5 MB and a 300 MB upload the function never read, whole", async () => {
    const { port } = new URL(gateway);
    const post = (size) =>
      new Promise((resolve) => {
        const req = http.request({ host: "127.0.0.1", port, path: "/reject-upload", method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve(`${res.statusCode} ${body}`));
          res.on("error", (e) => resolve(`response ${e.code}`));
        });
        req.on("error", (e) => resolve(`request ${e.code}`));
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        const write = () => {
          while (sent < size) {
            sent += chunk.length;
            if (!req.write(chunk)) return req.once("drain", write);
          }
          req.end();
        };
        write();
      });
    const expected = "401 no credentials: the upload was not read\n";
    const outcomes = [];
    for (let i = 0; i < 10; i++) outcomes.push(await post(5_000_000));
    outcomes.push(await post(300_000_000));
    assert.deepEqual(outcomes, Array(11).fill(expected));
  });

  it("ends an early answer while the client's upload is paused, waiting for it (a duplex client)", async () => {
    // One chunk, then the client waits for the response before it sends more, as a duplex
    // client may: the response must end (the gateway gives up on the paused body), not wait
    // for bytes that will come only after it.
    const { port } = new URL(gateway);
    const outcome = await new Promise((resolve) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/reject-upload", method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(`${res.statusCode} ${body}`));
        res.on("error", (e) => resolve(`response ${e.code}`));
      });
      req.on("error", () => {}); // the gateway may close the paused upload once it answered
      req.write(Buffer.alloc(1000, 7));
      setTimeout(() => resolve("the response never ended while the upload was paused"), 15_000).unref();
    });
    assert.equal(outcome, "401 no credentials: the upload was not read\n");
  });
});

describe("failures", () => {
  it("answers 504 when the function never connects, not before the connect timeout", async () => {
    const started = Date.now();
    const res = await fetch(`${gateway}/e2e/hang`);
    assert.equal(res.status, 504);
    assert.equal(res.headers.get("x-lambda-relay-error"), "connect_timeout");
    // A lower bound only: a loaded machine makes it later, never earlier.
    assert.ok(Date.now() - started >= CONNECT_TIMEOUT_MS - 50);
  });

  it("answers 502 when the invocation fails before connecting", async () => {
    const res = await fetch(`${gateway}/e2e/invocation-fails`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-lambda-relay-error"), "invocation_failed");
    assert.match(await res.text(), /answered 502/);
  });

  it("answers Lambda's own 403 with a 502 that names the missing permission, not as the function's answer", async () => {
    const res = await fetch(`${gateway}/e2e/lambda-refuses`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-lambda-relay-error"), "invocation_failed");
    const text = await res.text();
    assert.match(text, /Lambda refused the invocation \(403 AccessDeniedException\)/);
    assert.match(text, /lambda:InvokeFunction \(--invoked-via-function-url\)/);
    assert.match(text, /urls-auth\.html/, "Lambda's own message follows");
  });

  it("answers 502 with the error code when the handler fails before the head", async () => {
    const res = await fetch(`${gateway}/fail-before-head`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-lambda-relay-error"), "handler_error");
    assert.match(await res.text(), /the handler failed before the head/);
  });

  it("passes a function that is not relay-aware through unchanged", async () => {
    const res = await fetch(`${gateway}/e2e/not-relay`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-plain"), "yes");
    assert.equal(await res.text(), "plain response from a function that knows nothing of the relay");
  });

  it("aborts the client's transfer when the function fails after the head", async () => {
    const res = await fetch(`${gateway}/fail-after-head`);
    assert.equal(res.status, 200);
    const received = [];
    await assert.rejects(async () => {
      for await (const chunk of res.body) received.push(Buffer.from(chunk));
    }, "the body must not end cleanly");
    assert.equal(Buffer.concat(received).toString(), "the beginning of a body that never ends\n");
  });

  it("cancels the function's response stream when the client disconnects", async () => {
    const controller = new AbortController();
    const res = await fetch(`${gateway}/endless?tag=disconnect`, { signal: controller.signal });
    const reader = res.body.getReader();
    await reader.read();
    await reader.read();
    const before = await (await fetch(`${fn}/e2e/events`)).json();
    assert.ok(!before.some((e) => e.kind === "cancelled" && e.tag === "disconnect"), "not cancelled while read");
    controller.abort();
    // The endless stream never ends by itself: only the gateway's abort drops it.
    await waitForEvent(fn, (e) => e.kind === "cancelled" && e.tag === "disconnect");
  });
});

describe("resume", () => {
  it("resumes after the socket is cut mid-stream and delivers the body identical", async () => {
    const n = 30_000_000;
    const cutsBefore = proxy.cuts;
    const res = await fetch(`${gateway}/bytes?n=${n}`);
    let cut = false;
    const { bytes, sha256 } = await hashBody(res, (_, total) => {
      if (!cut && total > 5_000_000) {
        cut = true;
        proxy.cutAll();
      }
    });
    assert.equal(proxy.cuts, cutsBefore + 1, "the socket was cut once");
    assert.equal(bytes, n);
    assert.equal(sha256, patternSha256(n));
  });
});

// Sessions whose function the test plays, on the wire: the function records relay id and
// token and never connects, so the test can.
async function capturedSession(tag, base = gateway) {
  const pending = fetch(`${base}/e2e/capture?${tag}`);
  const captured = await waitForEvent(fn, (e) => e.kind === "capture" && e.tag === tag);
  return { ...captured, response: pending };
}

const KEY = "0123456789abcdef0123456789abcdef";

function open(relayId, token, { resume = false, protocol = "lambda-relay.v1", key = KEY, base = gateway } = {}) {
  const headers = { "x-lambda-relay-token": token };
  if (key) headers["x-lambda-relay-key"] = key;
  if (resume) headers["x-lambda-relay-resume"] = resume === true ? "1" : resume;
  return new WebSocket(`${base.replace("http", "ws")}/_relay/${relayId}`, protocol, { headers });
}

/** Resolves with the upgrade's HTTP status if refused, or "open". */
function outcome(ws) {
  return new Promise((resolve) => {
    ws.once("open", () => resolve("open"));
    ws.once("unexpected-response", (_, res) => resolve(res.statusCode));
    ws.once("error", () => {});
  });
}

function closeCode(ws) {
  return new Promise((resolve) => ws.once("close", (code) => resolve(code)));
}

const head200 = () => Buffer.from([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0]);

// Hello: received 0, acked 0, window 1 MiB, max_payload 64 KiB, max_header_bytes 64 KiB,
// keepalive 10 s.
const hello = () => {
  const b = Buffer.alloc(33);
  b[0] = 0x01;
  b.writeUInt32BE(1 << 20, 17);
  b.writeUInt32BE(1 << 16, 21);
  b.writeUInt32BE(1 << 16, 25);
  b.writeUInt32BE(10_000, 29);
  return b;
};

describe("refusals", () => {
  it("refuses bad sockets with their specific status or close code while a concurrent stream is unaffected", async () => {
    const n = 8_000_000;
    const concurrent = fetch(`${gateway}/bytes?n=${n}`).then((r) => hashBody(r));

    const a = await capturedSession("a");
    // Wrong token: refused at the edge.
    const forged = a.token.slice(0, -4) + (a.token.endsWith("0000") ? "1111" : "0000");
    assert.equal(await outcome(open(a.relayId, forged)), 403);
    // No token, and an unknown protocol version.
    assert.equal(await outcome(new WebSocket(`${gateway.replace("http", "ws")}/_relay/${a.relayId}`, "lambda-relay.v1")), 401);
    assert.equal(await outcome(open(a.relayId, a.token, { protocol: "lambda-relay.v2" })), 400);
    // No session key, and a resume marker that is not 1.
    assert.equal(await outcome(open(a.relayId, a.token, { key: null })), 400);
    assert.equal(await outcome(open(a.relayId, a.token, { resume: "yes" })), 400);
    // A resume before any socket connected.
    assert.equal(await outcome(open(a.relayId, a.token, { resume: true })), 409);
    // A first socket is accepted; until its hello arrives, a retried first socket replaces it
    // (the function may never have seen the first 101).
    const lost = open(a.relayId, a.token);
    assert.equal(await outcome(lost), "open");
    // Someone with the token but another session key cannot replace it.
    assert.equal(await outcome(open(a.relayId, a.token, { key: "e".repeat(32) })), 403);
    const replaced = closeCode(lost);
    const first = open(a.relayId, a.token);
    assert.equal(await outcome(first), "open");
    assert.equal(await replaced, 4004, "the replaced socket is closed as replaced");
    first.send(hello());
    first.send(head200());
    // The client's response starts: the gateway has our hello.
    const resA = await a.response;
    assert.equal(resA.status, 200);
    // After the hello, replaying the token for another first socket is refused, and a resume
    // without the session key the first socket presented is refused too.
    assert.equal(await outcome(open(a.relayId, a.token)), 409);
    assert.equal(await outcome(open(a.relayId, a.token, { resume: true, key: "f".repeat(32) })), 403);
    // A text frame closes the socket with 1003, and the client's transfer is aborted.
    const closedA = closeCode(first);
    first.send("text is not allowed");
    assert.equal(await closedA, 1003);
    await assert.rejects(resA.arrayBuffer(), "the body must not end cleanly");

    // An oversized frame closes with 1009; before the head, the client gets a 502.
    const b = await capturedSession("b");
    const second = open(b.relayId, b.token);
    assert.equal(await outcome(second), "open");
    const closedB = closeCode(second);
    second.send(hello());
    // A head frame larger than any frame: refused by its length before the gateway copies it.
    second.send(Buffer.alloc(1_000_000, 0x20));
    assert.equal(await closedB, 1009);
    const resB = await b.response;
    assert.equal(resB.status, 502);
    assert.equal(resB.headers.get("x-lambda-relay-error"), "protocol_error");

    // An id no session has: the token verifies (the test knows the secret), the id does not.
    const unknown = randomBytes(32).toString("hex");
    const { mintToken } = await import("./token.mjs");
    assert.equal(await outcome(open(unknown, mintToken(SECRET, unknown, Math.floor(Date.now() / 1000) + 60))), 404);

    const done = await concurrent;
    assert.deepEqual(done, { bytes: n, sha256: patternSha256(n) });
  });
});

describe("buffer budget", () => {
  const MiB = 1 << 20;
  const frame = 256 * 1024;
  const body = (seq, length) => {
    const b = Buffer.alloc(13 + length, seq);
    b[0] = 0x21;
    b.writeBigUInt64BE(BigInt(seq), 1);
    b.writeUInt32BE(length, 9);
    return b;
  };
  const end = (seq) => {
    const b = Buffer.alloc(11);
    b[0] = 0x22;
    b.writeBigUInt64BE(BigInt(seq), 1);
    return b;
  };

  /** Plays the function of a captured session: its socket, the gateway's hello, and the
   * highest ack the gateway sent so far (`acked`, `untilAcked(n)`). */
  async function playFunction(session, base) {
    const ws = open(session.relayId, session.token, { base });
    const played = { ws, acked: 0, waiting: [] };
    const gatewayHello = new Promise((resolve) => {
      ws.on("message", (data) => {
        if (data[0] === 0x01) resolve({ window: data.readUInt32BE(17), maxPayload: data.readUInt32BE(21) });
        if (data[0] === 0x02) played.acked = Math.max(played.acked, Number(data.readBigUInt64BE(1)));
        played.waiting = played.waiting.filter(({ n, resolve }) => (played.acked >= n ? (resolve(), false) : true));
      });
    });
    assert.equal(await outcome(ws), "open");
    ws.send(hello());
    played.hello = await gatewayHello;
    // Bounded: the gateway's keepalive (60 s here) would ack in the end; the budget must not
    // wait for it.
    played.untilAcked = (n) =>
      new Promise((resolve, reject) => {
        if (played.acked >= n) return resolve();
        const timer = setTimeout(() => reject(new Error(`ack ${n} not sent within 5 s (acked ${played.acked})`)), 5000);
        played.waiting.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    return played;
  }

  it("admits sessions with the window the isolate's budget has free, holds one to its share while others live, and gives it back as they end", async () => {
    const own = await startGateway({ port: await freePort(), lambdaUrl: fn, vars: { BUFFER_BUDGET: String(MiB), KEEPALIVE_MS: "60000", IDLE_TIMEOUT_MS: "180000" } });
    const sessions = [];
    for (const tag of ["budget-a", "budget-b", "budget-c"]) {
      const session = await capturedSession(tag, own);
      sessions.push({ ...session, fn: await playFunction(session, own) });
    }
    const [a, b, c] = sessions;
    // The first session takes the whole free budget (less than the 4 MiB WINDOW), the others
    // the floor, with frames no larger than their window.
    assert.deepEqual(
      sessions.map((s) => s.fn.hello),
      [
        { window: MiB, maxPayload: frame },
        { window: 64 * 1024, maxPayload: 64 * 1024 },
        { window: 64 * 1024, maxPayload: 64 * 1024 },
      ],
    );

    // a's client reads everything a's function sends: its whole window (each frame costs 64
    // more than its bytes) in four frames after the head.
    const lengths = [frame - 128, frame - 128, frame, frame];
    assert.equal(lengths.reduce((sum, n) => sum + n + 64, 0), MiB);
    a.fn.ws.send(head200());
    lengths.forEach((length, i) => a.fn.ws.send(body(i + 1, length)));
    const resA = await a.response;
    const reader = resA.body.getReader();
    const total = lengths.reduce((sum, n) => sum + n);
    let read = 0;
    while (read < total) read += (await reader.read()).value.length;
    assert.equal(read, total);
    // Its share is a third of the budget: the last two frames' acks are withheld, so a's
    // function can send only about the share more, not another whole window.
    await a.fn.untilAcked(3);
    // c ends: a's share is half the budget now, and one more frame's ack goes out (a looks
    // at the budget again within 100 ms, far sooner than its 10 s keepalive would).
    c.fn.ws.send(head200());
    c.fn.ws.send(end(1));
    assert.equal((await (await c.response).arrayBuffer()).byteLength, 0);
    await a.fn.untilAcked(4);
    assert.equal(a.fn.acked, 4, "the last frame's ack is withheld while b lives");
    // b ends: a has the whole budget, and every ack.
    b.fn.ws.send(head200());
    b.fn.ws.send(end(1));
    await (await b.response).arrayBuffer();
    await a.fn.untilAcked(5);
    // Nothing was lost to the withholding: a ends and its client has every byte.
    a.fn.ws.send(end(5));
    let rest = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value.length;
    assert.equal(rest, 0);
    // Every session gave its part back: a new one gets the whole budget again.
    const d = await capturedSession("budget-d", own);
    const played = await playFunction(d, own);
    assert.deepEqual(played.hello, { window: MiB, maxPayload: frame });
    for (const s of [...sessions, { fn: played }]) s.fn.ws.close();
  });
});

describe("uploads", () => {
  it("ends an upload that makes no progress for UPLOAD_IDLE_MS with a 408, so no Lambda is pinned", async () => {
    const [gatewayPort, functionPort] = [await freePort(), await freePort()];
    const own = await startFunction({ port: functionPort, gatewayUrl: `ws://127.0.0.1:${gatewayPort}` });
    const stalling = await startGateway({ port: gatewayPort, lambdaUrl: own, vars: { UPLOAD_IDLE_MS: "1000" } });
    const { hostname, port } = new URL(stalling);
    const res = await new Promise((resolve, reject) => {
      // A chunked body (it streams over the relay): one chunk, then nothing, never an end.
      const req = http.request({ host: hostname, port, method: "POST", path: "/upload", headers: { "transfer-encoding": "chunked" } });
      req.on("response", (r) => {
        let text = "";
        r.on("data", (d) => (text += d));
        r.on("end", () => {
          resolve({ status: r.statusCode, code: r.headers["x-lambda-relay-error"], text });
          req.destroy();
        });
      });
      req.on("error", reject);
      req.write(Buffer.alloc(1000, 1));
    });
    assert.equal(res.status, 408, JSON.stringify(res));
    assert.equal(res.code, "upload_idle");
    assert.match(res.text, /request body made no progress for 1s/);
  });
});

describe("configuration", () => {
  it("refuses every request until LAMBDA_URL is set, saying so", async () => {
    const unset = await startGateway({ port: await freePort(), lambdaUrl: undefined });
    const res = await fetch(`${unset}/anything`);
    assert.equal(res.status, 500);
    assert.equal(res.headers.get("x-lambda-relay-error"), "gateway_misconfigured");
    assert.match(await res.text(), /LAMBDA_URL is not set/);
  });

  it("refuses settings out of range, naming the setting, where an overflow waited", async () => {
    for (const [name, value] of [["TOKEN_TTL_S", "18446744073709551615"], ["INLINE_BODY_LIMIT", "100000000"], ["RESUME_GRACE_MS", "86400000"]]) {
      const bad = await startGateway({ port: await freePort(), lambdaUrl: fn, vars: { [name]: value } });
      const res = await fetch(`${bad}/anything`);
      assert.equal(res.status, 500, name);
      assert.equal(res.headers.get("x-lambda-relay-error"), "gateway_misconfigured");
      assert.match(await res.text(), new RegExp(`${name} = ${value} is out of range`, "i"));
    }
  });

  it("refuses a plain-text LAMBDA_URL to anything but loopback", async () => {
    const plain = await startGateway({ port: await freePort(), lambdaUrl: "http://fn.example.com" });
    const res = await fetch(`${plain}/anything`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /LAMBDA_URL: .* is not encrypted/);
  });

  it("refuses to run open under wrangler dev too: without RELAY_SECRET every request gets a 500 saying so", async () => {
    const open = await startWranglerGateway({ port: await freePort(), lambdaUrl: fn, vars: { RELAY_SECRET: undefined } });
    const res = await fetch(`${open}/anything`);
    assert.equal(res.status, 500);
    assert.equal(res.headers.get("x-lambda-relay-error"), "gateway_misconfigured");
    assert.match(await res.text(), /RELAY_SECRET is not set/);
  });
});

describe("the gateway's log", () => {
  it("reports no uncaught exception, panic or unhandled rejection but its deliberate aborts", () => {
    const { deliberate, unexpected } = gatewayErrors();
    assert.deepEqual(unexpected, []);
    assert.ok(deliberate.length > 0, "the tests above aborted transfers, and the log shows them");
  });
});
