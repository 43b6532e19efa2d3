// A Hono app served by streamHandler(app.fetch): routing, JSON, and Hono's own streaming
// helpers, unchanged.

import { Hono } from "hono";
import { streamSSE, streamText } from "hono/streaming";
import { streamHandler } from "lambda-relay";

export const app = new Hono();

app.get("/", (c) => c.text("Hono on Lambda, streamed through lambda-relay\n"));

app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name") }));

app.get("/count", (c) =>
  streamText(c, async (stream) => {
    for (let i = 1; i <= 5; i++) {
      await stream.writeln(`${i}`);
      await stream.sleep(200);
    }
  }),
);

app.get("/events", (c) =>
  streamSSE(c, async (stream) => {
    for (let i = 1; i <= 3; i++) {
      await stream.writeSSE({ event: "tick", data: String(i), id: String(i) });
      await stream.sleep(200);
    }
  }),
);

export const handler = streamHandler(app.fetch);
