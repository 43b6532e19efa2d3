// Real Express and Fastify apps as one Lambda function, through `nodeHandler`: Express under
// /express/ (and the test hooks under /e2e/), Fastify under /fastify/. Served by
// `lambda-relay serve`; e2e/node-apps.test.mjs relays them through the gateway.

import { createHash } from "node:crypto";
import { once } from "node:events";
import { Readable } from "node:stream";

import express from "express";
import Fastify from "fastify";
import { nodeHandler } from "lambda-relay";

import { pattern } from "./support.mjs";

const events = [];
const produced = {};
/** How far the client released each gated stream, and who waits for it. */
const released = new Map();
const waiters = new Set();

async function releasedUpTo(tag, i) {
  while ((released.get(tag) ?? 0) < i) {
    await new Promise((resolve) => {
      const wake = () => (waiters.delete(wake), resolve());
      waiters.add(wake);
    });
  }
}

const app = express();
app.get("/e2e/events", (_req, res) => res.json(events));
app.get("/e2e/produced", (_req, res) => res.json(produced));
app.get("/e2e/release", (req, res) => {
  released.set(req.query.tag, Number(req.query.upto));
  for (const wake of waiters) wake();
  res.status(204).end();
});
app.get("/express/whoami", (req, res) => {
  res.cookie("seen", "1");
  res.cookie("again", "2");
  res.json({ ip: req.ip, protocol: req.protocol, hostname: req.hostname, url: req.originalUrl, query: req.query });
});
app.post("/express/json", express.json(), (req, res) => res.status(201).json({ got: req.body }));
app.get("/express/gated", async (req, res) => {
  // The head goes at once (flushHeaders); chunk i is written only once the client released
  // it, after it read chunk i-1: a relay that held the head or buffered would deadlock.
  const { tag } = req.query;
  res.setHeader("content-type", "text/plain");
  res.flushHeaders();
  for (let i = 1; i <= Number(req.query.chunks); i++) {
    await releasedUpTo(tag, i);
    res.write(`chunk ${i}\n`);
  }
  res.end();
});
app.get("/express/bytes", async (req, res) => {
  // Writes as Node apps do: until write says no, then waits for 'drain'.
  const n = Number(req.query.n);
  const tag = req.query.tag;
  const record = (produced[tag] = { sent: 0, waits: 0 });
  res.setHeader("content-type", "application/octet-stream");
  const closed = once(res, "close");
  while (record.sent < n && !res.destroyed) {
    const len = Math.min(64 * 1024, n - record.sent);
    const more = res.write(pattern(record.sent, len));
    record.sent += len;
    if (!more) {
      record.waits++;
      await Promise.race([once(res, "drain"), closed]);
    }
  }
  res.end();
});
app.post("/express/upload", (req, res) => {
  const hash = createHash("sha256");
  let bytes = 0;
  req.on("data", (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  req.on("end", () => res.json({ bytes, sha256: hash.digest("hex"), length: req.headers["content-length"] ?? null, chunked: req.headers["transfer-encoding"] ?? null }));
});
app.get("/express/endless", (req, res) => {
  const { tag } = req.query;
  req.on("close", () => events.push({ kind: "req-close", tag }));
  res.on("close", () => events.push({ kind: "res-close", tag, finished: res.writableFinished }));
  let ticks = 0;
  const timer = setInterval(() => {
    if (res.destroyed) {
      clearInterval(timer);
      events.push({ kind: "stopped", tag, ticks });
      return;
    }
    res.write(`tick ${ticks++}\n`);
  }, 20);
});

const fastify = Fastify();
// Bodies as streams, not buffered by Fastify.
fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
fastify.get("/fastify/whoami", async (request) => ({ ip: request.ip, hostname: request.hostname, protocol: request.protocol, query: request.query }));
fastify.get("/fastify/bytes", async (request, reply) => {
  const n = Number(request.query.n);
  async function* chunks() {
    for (let sent = 0; sent < n; sent += 64 * 1024) yield pattern(sent, Math.min(64 * 1024, n - sent));
  }
  reply.type("application/octet-stream");
  return Readable.from(chunks());
});
fastify.post("/fastify/upload", async (request) => {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of request.body) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest("hex") };
});

const expressHandler = nodeHandler(app);
const fastifyHandler = nodeHandler(fastify);

export const handler = (event, context) => (event.rawPath.startsWith("/fastify/") ? fastifyHandler : expressHandler)(event, context);
