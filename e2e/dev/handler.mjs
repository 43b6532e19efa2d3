// The handler `lambda-relay dev` serves in e2e/dev.test.mjs, from a folder with only the npm
// package installed: gated chunks (chunk i+1 only once the client released it, through the
// same URL), an upload's hash, and an endless stream that records the client leaving.

import { createHash } from "node:crypto";

import { streamHandler } from "lambda-relay";

const released = new Map();
const waiters = new Set();
const events = [];

export const handler = streamHandler(async (request) => {
  const url = new URL(request.url);
  const tag = url.searchParams.get("tag");
  switch (url.pathname) {
    case "/e2e/release":
      released.set(tag, Number(url.searchParams.get("upto")));
      for (const wake of waiters) wake();
      return new Response(null, { status: 204 });
    case "/e2e/events":
      return Response.json(events);
    case "/gated": {
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            if (i === Number(url.searchParams.get("chunks"))) return controller.close();
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
      );
    }
    case "/upload": {
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of request.body) {
        hash.update(chunk);
        bytes += chunk.length;
      }
      return Response.json({ bytes, sha256: hash.digest("hex") });
    }
    case "/endless":
      request.signal.addEventListener("abort", () => events.push({ tag, kind: "gone" }));
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 20));
            controller.enqueue(new TextEncoder().encode("tick\n"));
          },
        }),
      );
    default:
      return new Response("no such route", { status: 404 });
  }
});
