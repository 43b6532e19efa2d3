// streamHandler (Fetch Request → Response) and streamifyHandler (Node Writable), each
// answering relayed invocations over the relay and direct ones with a buffered result.

import { Writable } from "node:stream";

import {
  bufferedResult,
  type FunctionUrlEvent,
  type FunctionUrlResult,
  type HandlerEnv,
  handlerEnv,
  headerPairs,
  inlineBody,
  type LambdaContext,
  lowercaseHeaders,
  toRequest,
} from "./event.js";
import { constants, native, RelayError } from "./native.js";
import { pipeBody, type Ready, readReady, Relay } from "./relay.js";
import { BufferedResponseStream, RelayResponseStream, type ResponseStream } from "./response-stream.js";

/** A Fetch-style handler: `app.fetch` of Hono and other Fetch frameworks fits. */
export type FetchHandler = (request: Request, env: HandlerEnv) => Response | Promise<Response>;
/** A streaming handler: the Request, a Node Writable for the response, and the environment. */
export type StreamifyHandler = (request: Request, responseStream: ResponseStream, env: HandlerEnv) => unknown;
/** What they return: a Lambda handler for Function URL events. */
export type FunctionUrlHandler = (event: FunctionUrlEvent, context: LambdaContext) => Promise<FunctionUrlResult>;

type Invocation =
  | { kind: "direct"; event: FunctionUrlEvent; request: Request }
  | { kind: "result"; result: FunctionUrlResult }
  | { kind: "relay"; relay: Relay; event: FunctionUrlEvent; request: Request };

/**
 * Classifies the invocation. Without the relay id header it is direct, and the addon is not
 * even loaded (so direct mode works on any platform); otherwise the addon classifies it
 * (`proto::classify_invocation`) and, when relayed, starts connecting. The event handlers
 * see has no relay headers, and for a relayed invocation the client's address as its
 * `requestContext.http.sourceIp`.
 */
function begin(event: FunctionUrlEvent, context: LambdaContext): Invocation {
  const headers = lowercaseHeaders(event.headers);
  const strip = constants.relayHeaders;
  if (headers[constants.relayIdHeader] === undefined) {
    return { kind: "direct", event, request: toRequest(event, { strip, body: inlineBody(event) }) };
  }
  const method = event.requestContext?.http?.method ?? "GET";
  const invocation = native().beginInvocation(
    headers,
    method,
    process.env[constants.gatewayUrlEnv],
    process.env[constants.secretEnv],
    context.getRemainingTimeInMillis?.(),
  );
  const seen = handlerEvent(event, strip, invocation.clientAddress);
  if (invocation.kind === "direct") {
    return { kind: "direct", event: seen, request: toRequest(event, { strip, body: inlineBody(event) }) };
  }
  const connection = invocation.connect();
  if (!connection) return { kind: "result", result: invocation.result() as FunctionUrlResult };
  const relay = new Relay(connection);
  const body = invocation.streamsBody ? relay.requestBody() : inlineBody(event);
  const request = toRequest(event, { strip, body, signal: relay.signal });
  return { kind: "relay", relay, event: seen, request };
}

/** The event as handlers see it: no relay headers, and the client's own address. */
function handlerEvent(event: FunctionUrlEvent, strip: string[], clientAddress: string | null | undefined): FunctionUrlEvent {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (!strip.includes(name.toLowerCase())) headers[name] = value;
  }
  const requestContext =
    clientAddress && event.requestContext?.http
      ? { ...event.requestContext, http: { ...event.requestContext.http, sourceIp: clientAddress } }
      : event.requestContext;
  return { ...event, headers, requestContext };
}

/**
 * Wraps a Fetch handler as a Lambda handler for Function URL events. Relayed invocations
 * stream the response through the gateway (and `request.body` streams from it;
 * `request.signal` aborts when the client goes away); direct ones get a buffered result.
 */
export function streamHandler(handler: FetchHandler): FunctionUrlHandler {
  return async (event, context) => {
    const invocation = begin(event, context);
    if (invocation.kind === "result") return invocation.result;
    const env = handlerEnv(invocation.event, context);
    if (invocation.kind === "direct") {
      const response = await handler(invocation.request, env);
      return bufferedResult(response.status, response.headers, Buffer.from(await response.arrayBuffer()));
    }
    const { relay, request } = invocation;
    return relay.result(respond(relay, () => handler(request, env)));
  };
}

async function respond(relay: Relay, produce: () => Response | Promise<Response>): Promise<FunctionUrlResult | void> {
  let response: Response;
  try {
    response = await produce();
    if (!(response instanceof Response)) throw new TypeError("the handler did not return a Response");
  } catch (e) {
    if (relay.signal.aborted) throw relay.signal.reason;
    return relay.handlerFailed(e);
  }
  const reader = response.body?.getReader();
  let ready: Ready = { chunks: [], bytes: 0, done: true };
  try {
    if (reader) ready = await readReady(reader, constants.inlineResponseLimit);
  } catch (e) {
    return relay.handlerFailed(e);
  }
  if (ready.done) {
    // Small and complete: it rides in the invocation result, no socket needed.
    const inline = relay.respondInline(response.status, response.headers, ready.chunks);
    if (inline) return inline;
  }
  try {
    relay.sendHead(response.status, headerPairs(response.headers));
  } catch (e) {
    // A head the relay cannot carry (a 1xx status, too many headers): the handler's error.
    return relay.handlerFailed(e);
  }
  if (reader) {
    try {
      await pipeBody(relay, reader, ready);
    } catch (e) {
      if (e instanceof RelayError || relay.signal.aborted) throw relay.signal.reason ?? e;
      return relay.bodyFailed(e);
    }
  }
  await relay.finish();
}

/**
 * Wraps a streaming handler as a Lambda handler for Function URL events: `responseStream` is a
 * Node `Writable` with `statusCode`, `setHeader` and `writeHead`, so
 * `await pipeline(readable, responseStream)` works, with backpressure.
 */
export function streamifyHandler(handler: StreamifyHandler): FunctionUrlHandler {
  return streaming((request, stream, env) => handler(request, stream, env));
}

/**
 * A handler written for `awslambda.streamifyResponse`, as AWS's own examples write them:
 * `(event, responseStream, context)`. Porting one is changing its import:
 * `import { streamifyResponse, HttpResponseStream } from "lambda-relay"`. The event is
 * Lambda's, without relay headers; a request body that streamed over the relay is read into
 * `event.body` first (use `streamifyHandler` to read it as it arrives).
 */
export type AwsStreamingHandler = (event: FunctionUrlEvent, responseStream: ResponseStream, context: LambdaContext) => unknown;

/** `awslambda.streamifyResponse`'s shape, relayed: see {@link AwsStreamingHandler}. */
export function streamifyResponse(handler: AwsStreamingHandler): FunctionUrlHandler {
  return streaming(async (request, stream, env) => {
    let event = env.event;
    if (request.body && event.body === undefined) {
      const body = Buffer.from(await request.arrayBuffer());
      if (body.length) event = { ...event, body: body.toString("base64"), isBase64Encoded: true };
    }
    return handler(event, stream, env.lambdaContext);
  });
}

/** The Lambda handler around a streaming handler of either shape. */
function streaming(run: StreamifyHandler): FunctionUrlHandler {
  return async (event, context) => {
    const invocation = begin(event, context);
    if (invocation.kind === "result") return invocation.result;
    const env = handlerEnv(invocation.event, context);
    if (invocation.kind === "direct") {
      const stream = new BufferedResponseStream();
      await run(invocation.request, stream, env);
      await endAndWait(stream);
      return bufferedResult(stream.statusCode, stream.headerObject(), stream.body());
    }
    const { relay, request } = invocation;
    const stream = new RelayResponseStream(relay);
    const work = (async () => {
      try {
        await run(request, stream, env);
        await endAndWait(stream);
        return stream.inlineResult;
      } catch (e) {
        if (relay.signal.aborted) throw relay.signal.reason;
        if (e instanceof RelayError) throw e;
        const failed = stream.fail(e);
        stream.destroy();
        return failed;
      }
    })();
    return relay.result(work);
  };
}

/** Ends the stream if the handler did not, and waits until everything was taken. A stream the
 * handler destroyed has already failed the response. */
function endAndWait(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.writableFinished) return resolve();
    if (stream.errored) return reject(stream.errored);
    if (stream.destroyed) return resolve();
    stream.once("finish", resolve);
    stream.once("error", reject);
    stream.once("close", resolve);
    if (!stream.writableEnded) stream.end();
  });
}
