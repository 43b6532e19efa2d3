// An Express app served by nodeHandler(app): routes, middleware and res.write streaming,
// unchanged. Fastify (`nodeHandler(fastify)`) and Koa (`nodeHandler(koa)`) go the same way.

import express from "express";
import { nodeHandler } from "lambda-relay";

export const app = express();

app.get("/", (_req, res) => res.type("text").send("Express on Lambda, streamed through lambda-relay\n"));

app.get("/hello/:name", (req, res) => res.json({ hello: req.params.name, from: req.ip }));

// Server-sent events: the head goes at once, then one event every 200 ms.
app.get("/events", async (req, res) => {
  res.set({ "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  for (let i = 1; i <= 5 && !res.destroyed; i++) {
    res.write(`id: ${i}\ndata: tick ${i}\n\n`);
    await new Promise((r) => setTimeout(r, 200));
  }
  res.end();
});

// An upload read as it streams in: its size and nothing else kept.
app.post("/size", (req, res) => {
  let bytes = 0;
  req.on("data", (chunk) => (bytes += chunk.length));
  req.on("end", () => res.json({ bytes }));
});

export const handler = nodeHandler(app);
