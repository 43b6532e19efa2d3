// A function behind a route of the example Worker (examples-gateway): it says which function
// it is (FUNCTION_NAME), the path it saw and the request's content-length, streams
// `…/bytes?n=` and hashes `…/upload`. Served by `lambda-relay serve`: e2e/gateway-package.test.mjs.

import { createHash } from "node:crypto";

import { streamHandler } from "lambda-relay";

import { pattern } from "./support.mjs";

export const handler = streamHandler(async (request) => {
  const url = new URL(request.url);
  const name = process.env.FUNCTION_NAME;
  if (url.pathname.endsWith("/bytes")) {
    const n = Number(url.searchParams.get("n"));
    let sent = 0;
    return new Response(
      new ReadableStream({
        pull(controller) {
          if (sent >= n) return controller.close();
          const len = Math.min(64 * 1024, n - sent);
          controller.enqueue(pattern(sent, len));
          sent += len;
        },
      }),
      { headers: { "x-function": name } },
    );
  }
  if (url.pathname.endsWith("/upload")) {
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of request.body ?? []) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return Response.json({ function: name, bytes, sha256: hash.digest("hex"), contentLength: request.headers.get("content-length") });
  }
  return Response.json({ function: name, path: url.pathname, authorization: request.headers.get("authorization") });
});
