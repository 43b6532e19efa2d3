// A Node Readable piped into streamifyHandler's response stream, with backpressure: if the
// client reads slowly, the generator waits.

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { streamifyHandler } from "lambda-relay";

async function* lines(count) {
  for (let i = 1; i <= count; i++) {
    yield `line ${i} of ${count}: ${"·".repeat(i % 40)}\n`;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const handler = streamifyHandler(async (request, responseStream) => {
  const count = Number(new URL(request.url).searchParams.get("lines") ?? 100);
  responseStream.setContentType("text/plain; charset=utf-8");
  await pipeline(Readable.from(lines(count)), responseStream);
});
