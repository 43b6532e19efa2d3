// The chaos campaign: streams through the gateway in workerd while a TCP proxy between the
// function and the gateway cuts each stream's socket 1 to 5 times at seeded random byte
// offsets. Every stream must arrive complete and in order (its sha256), or the client must
// learn it did not. Responses come from the Rust function's /bytes, uploads go to its
// /upload, which answers with the byte count and sha256 it saw.
//
// The WebSocket mode does the same to clients' WebSockets: each session sends numbered text and
// binary messages to the Rust function's /ws/echo while its socket is cut, and every echo must
// come back once, whole and in order (messages lost=0 duplicated=0).
//
// `runChaos` is shared by `npm run test:chaos` (scripts/chaos.mjs, the full campaign) and the
// short form in `npm test` (e2e/chaos.test.mjs).

import { createHash } from "node:crypto";
import { once } from "node:events";
import net from "node:net";

import WebSocket from "ws";

import { freePort, openWebSocket, patternSha256, startFunction, startGateway, startProxy, stopAll } from "./support.mjs";

const MB = 1_000_000;

/** A small seeded generator (mulberry32), so a failing seed can be replayed. */
export function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** The streams of a campaign: kind, size and where each of its cuts falls. */
export function plan({ streams, minBytes, maxBytes, seed }) {
  const rng = random(seed);
  return Array.from({ length: streams }, (_, i) => {
    const size = rng.int(minBytes, maxBytes);
    const cuts = rng.int(1, 5);
    // Each cut falls within its share of the stream, so every one of them happens.
    const share = Math.floor(size / (cuts + 1));
    const offsets = Array.from({ length: cuts }, () => rng.int(16 * 1024, Math.max(16 * 1024, share)));
    return { index: i, kind: rng.next() < 0.5 ? "response" : "upload", size, offsets };
  });
}

/**
 * A TCP proxy that cuts (resets) the current stream's connections: the n-th connection is cut
 * after `offsets[n]` bytes went its stream's way (function → gateway for a response, gateway →
 * function for an upload); later connections pass untouched.
 */
async function startChaosProxy({ port, target }) {
  let current;
  let cuts = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    const stream = current;
    const index = stream ? stream.connections++ : 0;
    const limit = stream?.offsets[index];
    let seen = 0;
    let cut = false;
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    const pass = (from, to, counted) => {
      from.on("data", (data) => {
        if (cut) return;
        if (counted && limit !== undefined && seen + data.length >= limit) {
          // Deliver the bytes before the cut, then reset both sides mid-frame.
          to.write(data.subarray(0, limit - seen));
          cut = true;
          cuts++;
          client.resetAndDestroy();
          upstream.resetAndDestroy();
          return;
        }
        if (counted) seen += data.length;
        to.write(data);
      });
    };
    // A WebSocket session is cut on the echoes' way, which is every message's.
    pass(client, upstream, stream?.kind === "response" || stream?.kind === "websocket");
    pass(upstream, client, stream?.kind === "upload");
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${port}`,
    /** Cuts the connections of `stream` from now on. */
    set(stream) {
      current = { ...stream, connections: 0 };
    },
    get cuts() {
      return cuts;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The WebSocket sessions of a campaign: the bytes of messages each sends, and its cuts. */
export function planSockets({ sockets, minBytes, maxBytes, seed }) {
  const rng = random(seed ^ 0x5eed);
  return Array.from({ length: sockets }, (_, i) => {
    const size = rng.int(minBytes, maxBytes);
    const cuts = rng.int(1, 5);
    const share = Math.floor(size / (cuts + 1));
    const offsets = Array.from({ length: cuts }, () => rng.int(16 * 1024, Math.max(16 * 1024, share)));
    return { index: i, kind: "websocket", size, offsets };
  });
}

/** A session's messages: text and binary, 1 B to 256 KiB, each told apart by its number. */
function sessionMessages(session) {
  const rng = random(session.index + 7);
  const messages = [];
  for (let total = 0, i = 0; total < session.size; i++) {
    const len = rng.next() < 0.9 ? rng.int(1, 4096) : rng.int(4097, 256 * 1024);
    if (rng.next() < 0.5) {
      const text = `m${i} `.padEnd(len, String.fromCharCode(97 + (i % 26)));
      messages.push(text);
      total += text.length;
    } else {
      const bytes = Buffer.allocUnsafe(Math.max(len, 4));
      for (let j = 0; j < bytes.length; j++) bytes[j] = (j * 13 + i) & 0xff;
      bytes.writeUInt32BE(i, 0);
      messages.push(bytes);
      total += bytes.length;
    }
  }
  return messages;
}

const same = (a, b) => (typeof a === "string" ? a === b : Buffer.isBuffer(b) && a.equals(b));

/**
 * Runs one WebSocket session: sends every message, reads the echoes, closes. Returns how many
 * messages came back in order, how many were lost or duplicated, and whether it failed (the
 * socket closed before the last echo).
 */
async function runSocket(gateway, session) {
  const messages = sessionMessages(session);
  const result = { messages: messages.length, received: 0, lost: 0, duplicated: 0, failed: false };
  const ws = new WebSocket(`${gateway.replace(/^http/, "ws")}/ws/echo`, { maxPayload: 64 * 2 ** 20 });
  ws.on("error", () => {});
  let next = 0;
  const done = new Promise((resolve) => {
    ws.on("message", (data, isBinary) => {
      const got = isBinary ? data : data.toString();
      if (next < messages.length && same(messages[next], got)) {
        next++;
        result.received++;
      } else if (messages.slice(0, next).some((m) => same(m, got))) {
        result.duplicated++;
      } else {
        const at = messages.findIndex((m, i) => i > next && same(m, got));
        if (at > next) {
          result.lost += at - next;
          next = at + 1;
          result.received++;
        } else result.lost++;
      }
      if (next === messages.length) resolve();
    });
    ws.once("close", () => resolve());
  });
  try {
    await once(ws, "open");
  } catch {
    return { ...result, failed: true };
  }
  for (const m of messages) ws.send(m);
  const timer = new Promise((resolve) => setTimeout(resolve, 60_000).unref());
  await Promise.race([done, timer]);
  if (next < messages.length) {
    result.failed = true;
    ws.terminate();
    return result;
  }
  const closed = new Promise((resolve) => ws.once("close", resolve));
  ws.close(1000);
  await Promise.race([closed, timer]);
  return result;
}

/** A deterministic upload body for a stream. */
function uploadBody(stream) {
  const rng = random(stream.index + 1);
  const body = Buffer.allocUnsafe(stream.size);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((rng.next() * 2 ** 32) >>> 0, Math.min(i, body.length - 4));
  return body;
}

/** Runs one stream and says what became of it. */
async function runStream(gateway, stream) {
  try {
    if (stream.kind === "response") {
      const res = await fetch(`${gateway}/bytes?n=${stream.size}`);
      const hash = createHash("sha256");
      let bytes = 0;
      try {
        for await (const chunk of res.body) {
          hash.update(chunk);
          bytes += chunk.length;
        }
      } catch {
        return "failed";
      }
      return judge(res.status, bytes, hash.digest("hex"), stream.size, patternSha256(stream.size));
    }
    const body = uploadBody(stream);
    const res = await fetch(`${gateway}/upload`, { method: "POST", body });
    let text;
    try {
      text = await res.text();
    } catch {
      return "failed";
    }
    const [bytes, sha] = text.split(" ");
    return judge(res.status, Number(bytes), sha, stream.size, createHash("sha256").update(body).digest("hex"));
  } catch {
    return "failed";
  }
}

function judge(status, bytes, sha, size, expected) {
  if (status !== 200) return "failed";
  if (bytes === size && sha === expected) return "ok";
  if (bytes > size) return "duplicated";
  if (bytes < size) return "truncated_clean";
  return "lost";
}

/**
 * Starts a gateway, the Rust function and the chaos proxy between them, runs the campaign's
 * streams one after the other, stops everything, and returns the tallies.
 */
export async function runChaos({
  streams,
  minBytes = 1 * MB,
  maxBytes = 20 * MB,
  sockets = 0,
  socketMinBytes = 256 * 1024,
  socketMaxBytes = 4 * MB,
  seed = 1,
  log = () => {},
}) {
  const [gatewayPort, functionPort, proxyPort] = [await freePort(), await freePort(), await freePort()];
  const proxy = await startChaosProxy({ port: proxyPort, target: gatewayPort });
  try {
    const fn = await startFunction({ port: functionPort, gatewayUrl: proxy.url });
    const gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn });
    const tally = { streams: 0, cuts: 0, lost: 0, duplicated: 0, truncated_clean: 0, failed: 0 };
    for (const stream of plan({ streams, minBytes, maxBytes, seed })) {
      proxy.set(stream);
      const before = proxy.cuts;
      const outcome = await runStream(gateway, stream);
      tally.streams++;
      tally.cuts += proxy.cuts - before;
      if (outcome !== "ok") tally[outcome]++;
      log(`stream ${stream.index} ${stream.kind} ${stream.size} B, ${proxy.cuts - before} cuts: ${outcome}`);
    }
    const ws = { sessions: 0, cuts: 0, messages: 0, lost: 0, duplicated: 0, failed: 0 };
    for (const session of planSockets({ sockets, minBytes: socketMinBytes, maxBytes: socketMaxBytes, seed })) {
      proxy.set(session);
      const before = proxy.cuts;
      const r = await runSocket(gateway, session);
      ws.sessions++;
      ws.cuts += proxy.cuts - before;
      ws.messages += r.messages;
      ws.lost += r.lost + (r.failed ? r.messages - r.received - r.lost : 0);
      ws.duplicated += r.duplicated;
      if (r.failed) ws.failed++;
      log(`websocket ${session.index} ${r.messages} messages, ${proxy.cuts - before} cuts: lost=${r.lost} duplicated=${r.duplicated}${r.failed ? " FAILED" : ""}`);
    }
    tally.websocket = ws;
    return tally;
  } finally {
    await stopAll();
    await proxy.close();
  }
}

/** The campaign's summary lines: the streams', then the WebSocket sessions' (if any). */
export function summary(t) {
  const lines = [`chaos: streams=${t.streams} cuts=${t.cuts} lost=${t.lost} duplicated=${t.duplicated} truncated_clean=${t.truncated_clean} failed=${t.failed}`];
  const w = t.websocket;
  if (w?.sessions) {
    lines.push(`chaos websocket: sessions=${w.sessions} cuts=${w.cuts} messages=${w.messages} lost=${w.lost} duplicated=${w.duplicated} failed=${w.failed}`);
  }
  return lines.join("\n");
}

/**
 * A client's WebSocket left idle for `seconds` through a gateway with 1 s keepalives and a 3 s
 * idle timeout: the relay's keepalives must hold it open (the function's socket carries them
 * both ways while no message moves), and a message after the silence still comes back.
 */
export async function runIdle({ seconds }) {
  const [gatewayPort, functionPort, proxyPort] = [await freePort(), await freePort(), await freePort()];
  const proxy = await startProxy({ port: proxyPort, target: gatewayPort });
  try {
    const fn = await startFunction({ port: functionPort, gatewayUrl: proxy.url });
    const gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn, vars: { KEEPALIVE_MS: "1000", IDLE_TIMEOUT_MS: "3000" } });
    const { ws, next, closed } = await openWebSocket(`${gateway.replace(/^http/, "ws")}/ws/echo`);
    let closedEarly;
    closed.then(({ code, reason }) => (closedEarly ??= { code, reason }));
    // A message's echo, or `false` once the socket closed instead.
    const echo = async (text) => {
      ws.send(text);
      const reply = await Promise.race([next(), closed.then(() => null)]);
      return reply?.data === text;
    };
    const before = await echo("before the silence");
    const quiet = proxy.bytes;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const during = proxy.bytes;
    const after = await echo("after the silence");
    const open = ws.readyState === WebSocket.OPEN;
    const early = closedEarly;
    ws.close(1000);
    const closeCode = (await closed).code;
    return {
      before,
      after,
      open,
      closedEarly: early,
      closeCode,
      keepalive: { toGateway: during.up - quiet.up, toFunction: during.down - quiet.down },
    };
  } finally {
    await stopAll();
    await proxy.close();
  }
}
