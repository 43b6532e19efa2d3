// Compiled, never run (`tsc -p tsconfig.check.json`, in npm test): the public API as users
// write it type-checks under strict settings, and misuse does not.

import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";

import { RelayError, serve, streamHandler, streamifyHandler, type FunctionUrlHandler } from "../../ts/index.js";

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

// ---- @types/aws-lambda: assignable to and from ----

import type { Context, Handler, LambdaFunctionURLEvent, LambdaFunctionURLHandler, LambdaFunctionURLResult } from "aws-lambda";

import { HttpResponseStream, streamifyResponse, type FunctionUrlEvent, type HandlerEnv, type LambdaContext } from "../../ts/index.js";

// Our handlers are AWS handlers.
export const asAws: LambdaFunctionURLHandler = streamHandler(() => new Response("ok"));
export const asAwsGeneric: Handler<LambdaFunctionURLEvent, LambdaFunctionURLResult> = streamifyHandler(() => {});

// AWS's event and context are ours, and ours are AWS's.
export function roundTrip(event: LambdaFunctionURLEvent, context: Context): [LambdaFunctionURLEvent, Context] {
  const ours: [FunctionUrlEvent, LambdaContext] = [event, context];
  return ours;
}

// An AWS streaming handler ports by changing its import.
export const ported = streamifyResponse(async (event, responseStream, context) => {
  const stream = HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "content-type": "text/plain" },
    cookies: ["a=1"],
  });
  stream.write(`${event.rawPath} ${context.awsRequestId} ${context.getRemainingTimeInMillis()}`);
  stream.end();
});

// Hono's adapter environment reaches a Fetch handler.
export const honoEnv = streamHandler((_request, env: HandlerEnv) => {
  const ip: string = env.requestContext.http.sourceIp;
  return new Response(`${env.event.rawPath} ${env.lambdaContext.awsRequestId} ${ip}`);
});

// The local server takes any of them, callback-style handlers too.
export const callbackStyle: Handler<LambdaFunctionURLEvent, LambdaFunctionURLResult> = (_event, _context, callback) =>
  callback(null, { statusCode: 200, body: "ok" });
void serve(callbackStyle, { port: 0 });
