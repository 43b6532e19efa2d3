// A handler as users bundle it with esbuild (what SAM, CDK's NodejsFunction and SST run): a
// Hono app, bundled in, and lambda-relay marked external, so it comes from node_modules or a
// layer at run time. e2e/bundles.test.mjs bundles it as ESM and as CommonJS.
import { createHash } from "node:crypto";

import { Hono } from "hono";
import { streamHandler } from "lambda-relay";

const app = new Hono();

// Five numbered chunks.
app.get("/chunks", (c) => {
  let i = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i === 5) return controller.close();
      controller.enqueue(new TextEncoder().encode(`chunk ${++i}\n`));
    },
  });
  return c.body(body, 200, { "content-type": "text/plain; charset=utf-8" });
});

// The request body's length and sha256.
app.post("/upload", async (c) => {
  const hash = createHash("sha256");
  let n = 0;
  for await (const chunk of c.req.raw.body) {
    hash.update(chunk);
    n += chunk.byteLength;
  }
  return c.text(`${n} ${hash.digest("hex")}`);
});

// Where the client's address reaches a Hono handler (its aws-lambda adapter's env).
app.get("/whoami", (c) => c.json({ sourceIp: c.env.requestContext?.http?.sourceIp, node: process.version }));

export const handler = streamHandler(app.fetch);
