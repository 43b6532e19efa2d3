// streamHandler (Fetch Request → Response) and streamifyHandler (Node Writable), each
// answering relayed invocations over the relay and direct ones with a buffered result.

import { Writable } from "node:stream";

import {
  bufferedResult,
  type FunctionUrlEvent,
  type FunctionUrlResult,
  headerPairs,
  inlineBody,
  type LambdaContext,
  lowercaseHeaders,
  outcomeResult,
  toRequest,
} from "./event.js";
import { native, RelayError } from "./native.js";
import { pipeBody, Relay } from "./relay.js";
import { BufferedResponseStream, RelayResponseStream, type ResponseStream } from "./response-stream.js";

/** A Fetch-style handler: `app.fetch` of Hono and other Fetch frameworks fits. */
export type FetchHandler = (request: Request, context: LambdaContext) => Response | Promise<Response>;
/** A streaming handler in the shape of `awslambda.streamifyResponse`'s. */
export type StreamifyHandler = (request: Request, responseStream: ResponseStream, context: LambdaContext) => unknown;
/** What both return: a Lambda handler for Function URL events. */
export type FunctionUrlHandler = (event: FunctionUrlEvent, context: LambdaContext) => Promise<FunctionUrlResult>;

const RELAY_HEADERS = native.relayHeaderNames();
const OUTCOME_HEADER = native.outcomeHeaderName();
const TOKEN_HEADER = "x-lambda-relay-token";

type Invocation =
  | { kind: "direct" }
  | { kind: "refused"; result: FunctionUrlResult }
  | { kind: "relay"; relay: Relay; request: Request };

/** Reads the relay headers, verifies the token and, when relayed, opens the connection. */
function begin(event: FunctionUrlEvent): Invocation {
  const headers = lowercaseHeaders(event.headers);
  const gatewayUrl = process.env.RELAY_GATEWAY_URL;
  const info = native.classifyInvocation(headers, process.env.RELAY_SECRET, gatewayUrl);
  if (info.kind === "direct") return { kind: "direct" };
  if (info.kind === "refused") {
    return { kind: "refused", result: outcomeResult(info.status!, info.outcome!, info.reason!, OUTCOME_HEADER) };
  }
  const relay = new Relay(gatewayUrl!, info.relayId!, headers[TOKEN_HEADER]!, info.bodyMode!);
  const body = info.bodyMode === "stream" ? relay.requestBody() : inlineBody(event);
  const request = toRequest(event, { strip: RELAY_HEADERS, body, signal: relay.signal });
  return { kind: "relay", relay, request };
}

/** The request of a direct invocation: its body is the event's. */
function directRequest(event: FunctionUrlEvent): Request {
  return toRequest(event, { strip: RELAY_HEADERS, body: inlineBody(event) });
}

/** The invocation's own result once the relay is over. */
async function settle(relay: Relay, work: Promise<void>, context: LambdaContext): Promise<FunctionUrlResult> {
  try {
    await relay.withDeadline(context, work);
    return outcomeResult(200, "relayed", "relayed", OUTCOME_HEADER);
  } catch (e) {
    if (e instanceof RelayError && e.code === "ERR_RELAY_ABORTED") {
      return outcomeResult(200, "aborted", "aborted by the gateway: the client went away", OUTCOME_HEADER);
    }
    const message = e instanceof Error ? e.message : String(e);
    return outcomeResult(502, "failed", `relay failed: ${message}`, OUTCOME_HEADER);
  }
}

/**
 * Wraps a Fetch handler as a Lambda handler for Function URL events. Relayed invocations
 * stream the response through the gateway (and `request.body` streams from it;
 * `request.signal` aborts when the client goes away); direct ones get a buffered result.
 */
export function streamHandler(handler: FetchHandler): FunctionUrlHandler {
  return async (event, context) => {
    const invocation = begin(event);
    if (invocation.kind === "refused") return invocation.result;
    if (invocation.kind === "direct") {
      const request = directRequest(event);
      const response = await handler(request, context);
      return bufferedResult(response.status, response.headers, Buffer.from(await response.arrayBuffer()));
    }
    const { relay, request } = invocation;
    return settle(relay, respond(relay, () => handler(request, context)), context);
  };
}

async function respond(relay: Relay, produce: () => Response | Promise<Response>): Promise<void> {
  let response: Response;
  try {
    response = await produce();
    if (!(response instanceof Response)) throw new TypeError("the handler did not return a Response");
  } catch (e) {
    if (relay.signal.aborted) throw relay.signal.reason;
    return relay.fail("handler_error", e);
  }
  relay.sendHead(response.status, headerPairs(response.headers));
  if (response.body) {
    try {
      await pipeBody(relay, response.body);
    } catch (e) {
      if (e instanceof RelayError || relay.signal.aborted) throw relay.signal.reason ?? e;
      return relay.fail("body_error", e);
    }
  }
  await relay.finish();
}

/**
 * Wraps a streaming handler as a Lambda handler for Function URL events, in the shape of
 * `awslambda.streamifyResponse`: `responseStream` is a Node `Writable` with `statusCode`,
 * `setHeader` and `writeHead`, so `await pipeline(readable, responseStream)` works, with
 * backpressure.
 */
export function streamifyHandler(handler: StreamifyHandler): FunctionUrlHandler {
  return async (event, context) => {
    const invocation = begin(event);
    if (invocation.kind === "refused") return invocation.result;
    if (invocation.kind === "direct") {
      const request = directRequest(event);
      const stream = new BufferedResponseStream();
      await handler(request, stream, context);
      await endAndWait(stream);
      return bufferedResult(stream.statusCode, stream.headerObject(), stream.body());
    }
    const { relay, request } = invocation;
    const stream = new RelayResponseStream(relay);
    const work = (async () => {
      try {
        await handler(request, stream, context);
        await endAndWait(stream);
      } catch (e) {
        if (relay.signal.aborted) throw relay.signal.reason;
        if (e instanceof RelayError) throw e;
        stream.destroy();
        return relay.fail(relay.headSent ? "body_error" : "handler_error", e);
      }
    })();
    return settle(relay, work, context);
  };
}

/** Ends the stream if the handler did not, and waits until everything was taken. */
function endAndWait(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.writableFinished) return resolve();
    if (stream.errored) return reject(stream.errored);
    stream.once("finish", resolve);
    stream.once("error", reject);
    if (!stream.writableEnded) stream.end();
  });
}
