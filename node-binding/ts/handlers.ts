// streamHandler (Fetch Request → Response) and streamifyHandler (Node Writable), each
// answering relayed invocations over the relay and direct ones with a buffered result.

import { Writable } from "node:stream";

import type { BindingRequest } from "../binding.js";
import {
  type FunctionUrlEvent,
  type FunctionUrlResult,
  type HandlerEnv,
  handlerEnv,
  headerPairs,
  type LambdaContext,
  toRequest,
} from "./event.js";
import { adapter, callSync, constants, native, RelayError, tryNative } from "./native.js";
import * as portable from "./portable.js";
import { pipeBody, type Ready, readReady, Relay } from "./relay.js";
import { BufferedResponseStream, RelayResponseStream, type ResponseStream } from "./response-stream.js";
import { acceptedSocket, markUpgrade } from "./websocket.js";

/** A Fetch-style handler: `app.fetch` of Hono and other Fetch frameworks fits. */
export type FetchHandler = (request: Request, env: HandlerEnv) => Response | Promise<Response>;
/** A streaming handler: the Request, a Node Writable for the response, and the environment. */
export type StreamifyHandler = (request: Request, responseStream: ResponseStream, env: HandlerEnv) => unknown;
/** What they return: a Lambda handler for Function URL events. */
export type FunctionUrlHandler = (event: FunctionUrlEvent, context: LambdaContext) => Promise<FunctionUrlResult>;

type Invocation =
  | { kind: "direct"; event: FunctionUrlEvent; request: Request; headRequest: boolean }
  | { kind: "result"; result: FunctionUrlResult }
  | { kind: "relay"; relay: Relay; event: FunctionUrlEvent; request: Request };

/**
 * Begins the invocation in the addon (`adapter::begin`): it classifies it, reads the request
 * the handler sees and, when relayed, starts connecting. The event handlers see has no relay
 * headers, and for a relayed invocation the client's address as its
 * `requestContext.http.sourceIp`. Without an addon for this platform (a dev machine), direct
 * invocations go through the portable adapter; a relayed one needs the addon.
 */
function begin(event: FunctionUrlEvent, context: LambdaContext): Invocation {
  const addon = tryNative();
  if (!addon) {
    const relayed = Object.keys(event?.headers ?? {}).some((n) => n.toLowerCase() === constants.relayIdHeader);
    if (relayed) native(); // throws ERR_RELAY_PLATFORM, naming the platform
    const view = callSync(() => portable.requestView(event, false));
    return direct(portable.handlerEvent(event as unknown as Record<string, unknown>) as unknown as FunctionUrlEvent, view);
  }
  const invocation = callSync(() =>
    addon.beginInvocation(
      event,
      process.env[constants.gatewayUrlEnv],
      process.env[constants.secretEnv],
      context.getRemainingTimeInMillis?.(),
    ),
  );
  if (invocation.kind === "result") return { kind: "result", result: invocation.result() as FunctionUrlResult };
  const view = invocation.request()!;
  const seen = invocation.event() as FunctionUrlEvent;
  if (invocation.kind === "direct") return direct(seen, view);
  const relay = new Relay(invocation.connect()!);
  const body = invocation.streamsBody ? relay.requestBody() : bodyOf(view);
  const request = toRequest(view, { body, signal: relay.signal });
  if (invocation.websocket) markUpgrade(request, relay);
  return { kind: "relay", relay, event: seen, request };
}

function direct(event: FunctionUrlEvent, view: BindingRequest): Invocation {
  return { kind: "direct", event, request: toRequest(view, { body: bodyOf(view) }), headRequest: view.headRequest };
}

function bodyOf(view: BindingRequest): Uint8Array<ArrayBuffer> | undefined {
  const b = view.body;
  return b ? new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength) : undefined;
}

/** A direct invocation's whole response as its result (`adapter::direct_result`). */
function bufferedResult(invocation: { headRequest: boolean }, status: number, headers: string[][], body: Buffer): FunctionUrlResult {
  return callSync(() => adapter().bufferedResult(status, headers, body, invocation.headRequest)) as FunctionUrlResult;
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
      const body = Buffer.from(await response.arrayBuffer());
      return bufferedResult(invocation, response.status, headerPairs(response.headers), body);
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
  const socket = acceptedSocket(response);
  if (socket) {
    try {
      relay.acceptWebSocket(headerPairs(response.headers));
    } catch (e) {
      return relay.handlerFailed(e);
    }
    // The close (either side's) ends the response; the socket is over once it is closed.
    return socket.run();
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
    const inline = relay.respondInline(response.status, headerPairs(response.headers), ready.chunks);
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
 * `await pipeline(readable, responseStream)` works, with backpressure. The response is
 * complete when the handler ends the stream, before or after it returns; as on AWS, one it
 * never ends runs to the invocation's deadline, and a relayed client's transfer is then
 * aborted, never ended cleanly.
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

/** The Lambda handler around a streaming handler of any shape (also `nodeHandler`'s). */
export function streaming(run: StreamifyHandler): FunctionUrlHandler {
  return async (event, context) => {
    const invocation = begin(event, context);
    if (invocation.kind === "result") return invocation.result;
    const env = handlerEnv(invocation.event, context);
    if (invocation.kind === "direct") {
      const stream = new BufferedResponseStream();
      await run(invocation.request, stream, env);
      // Nothing else ends a direct invocation: without a bound, a stream never ended would
      // hold a local server's request forever (Lambda would end it at the deadline).
      await within(whenEnded(stream), context.getRemainingTimeInMillis?.(), "the handler never ended its response stream before the invocation's time was up");
      return bufferedResult(invocation, stream.statusCode, headerPairs(stream.headerObject()), stream.body());
    }
    const { relay, request } = invocation;
    const stream = new RelayResponseStream(relay);
    const work = (async () => {
      try {
        await run(request, stream, env);
        await whenEnded(stream);
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

/** `work`, failed with `why` once `ms` (if known) have passed. */
async function within<T>(work: Promise<T>, ms: number | undefined, why: string): Promise<T> {
  if (ms === undefined || !Number.isFinite(ms)) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), Math.max(0, ms));
  });
  try {
    return await Promise.race([work, timeUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the handler ended the stream and everything was taken. A handler may end it
 * after it returned (in a write's callback, an unawaited pipeline); one that never does is
 * not complete: as on AWS, the invocation runs to its deadline, and a relayed response is
 * then failed (`deadline`), never ended cleanly. A stream the handler destroyed has already
 * failed the response. */
function whenEnded(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.writableFinished) return resolve();
    if (stream.errored) return reject(stream.errored);
    if (stream.destroyed) return resolve();
    stream.once("finish", resolve);
    stream.once("error", reject);
    stream.once("close", resolve);
  });
}
