// Compiled, never run (`tsc -p tsconfig.check.json`, in npm test): the public API as users
// write it type-checks under strict settings, and misuse does not.

import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";

import { RelayError, streamHandler, streamifyHandler, type FunctionUrlHandler } from "../../ts/index.js";

export const fetchStyle: FunctionUrlHandler = streamHandler(async (request, context) => {
  const signal: AbortSignal = request.signal;
  void signal;
  void context.awsRequestId;
  return new Response(request.body, { headers: { "content-type": "application/octet-stream" } });
});

export const streamStyle: FunctionUrlHandler = streamifyHandler(async (_request, responseStream) => {
  responseStream.setContentType("text/plain");
  responseStream.writeHead(201, { "set-cookie": ["a=1", "b=2"] });
  await pipeline(Readable.from(["a", "b"]), responseStream);
});

export function code(error: unknown): string | undefined {
  return error instanceof RelayError ? error.code : undefined;
}

// @ts-expect-error a Fetch handler returns a Response
streamHandler(async () => "not a response");
