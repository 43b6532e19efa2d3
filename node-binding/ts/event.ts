// Function URL events (payload v2) to Fetch Requests, and buffered results back.

import { isUtf8 } from "node:buffer";

/** A Function URL event's request context (payload format 2.0). */
export interface FunctionUrlRequestContext {
  accountId: string;
  apiId: string;
  domainName: string;
  domainPrefix: string;
  http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
  requestId: string;
  routeKey: string;
  stage: string;
  time: string;
  timeEpoch: number;
}

/**
 * A Lambda Function URL event (payload format 2.0): the shape of `@types/aws-lambda`'s
 * `LambdaFunctionURLEvent`, assignable to and from it.
 */
export interface FunctionUrlEvent {
  version: string;
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  pathParameters?: Record<string, string | undefined>;
  stageVariables?: Record<string, string | undefined>;
  requestContext: FunctionUrlRequestContext;
  body?: string;
  isBase64Encoded: boolean;
}

/** What a Function URL handler returns (`@types/aws-lambda`'s structured result). */
export interface FunctionUrlResult {
  statusCode?: number;
  headers?: Record<string, boolean | number | string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/** The Lambda context: the shape of `@types/aws-lambda`'s `Context`, assignable to and from it. */
export interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  identity?: { cognitoIdentityId: string; cognitoIdentityPoolId: string } | undefined;
  clientContext?:
    | {
        client: { installationId: string; appTitle: string; appVersionName: string; appVersionCode: string; appPackageName: string };
        custom?: unknown;
        env: { platformVersion: string; platform: string; make: string; model: string; locale: string };
      }
    | undefined;
  tenantId?: string | undefined;
  getRemainingTimeInMillis(): number;
  /** @deprecated as in the Lambda runtime. */
  done(error?: Error, result?: unknown): void;
  /** @deprecated as in the Lambda runtime. */
  fail(error: Error | string): void;
  /** @deprecated as in the Lambda runtime. */
  succeed(messageOrObject: unknown): void;
  /** @deprecated as in the Lambda runtime. */
  succeed(message: string, object: unknown): void;
}

/**
 * What a Fetch handler gets as its second argument: the Lambda context, plus what Hono's own
 * AWS Lambda adapter passes as `c.env` (`event`, `requestContext`, `lambdaContext`), so
 * `streamHandler(app.fetch)` gives a Hono app the environment it expects, `getConnInfo`
 * included.
 */
export interface HandlerEnv extends LambdaContext {
  /** The invocation's event, relay headers removed. */
  event: FunctionUrlEvent;
  /** `event.requestContext`; for a relayed invocation `http.sourceIp` is the client's. */
  requestContext: FunctionUrlRequestContext;
  /** The Lambda context itself. */
  lambdaContext: LambdaContext;
}

/** The handler's environment: `context`, with `event`, `requestContext` and `lambdaContext`. */
export function handlerEnv(event: FunctionUrlEvent, context: LambdaContext): HandlerEnv {
  const env = Object.create(context) as HandlerEnv;
  return Object.assign(env, { event, requestContext: event.requestContext, lambdaContext: context });
}

/** Header names lowercased, undefined values dropped. */
export function lowercaseHeaders(headers: FunctionUrlEvent["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}

/** The event's inline body, decoded. */
export function inlineBody(event: FunctionUrlEvent): Uint8Array<ArrayBuffer> | undefined {
  if (event.body == null || event.body === "") return undefined;
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, "base64") : Buffer.from(event.body, "utf8");
  return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

/** The Fetch Request the handler sees: method, URL, headers (minus `strip`), cookies, body. */
export function toRequest(
  event: FunctionUrlEvent,
  options: { strip: string[]; body?: BodyInit | undefined; signal?: AbortSignal },
): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(lowercaseHeaders(event.headers))) {
    if (!options.strip.includes(name)) headers.set(name, value);
  }
  if (event.cookies?.length) headers.set("cookie", event.cookies.join("; "));
  const method = event.requestContext?.http?.method ?? "GET";
  const host = headers.get("x-forwarded-host") ?? headers.get("host") ?? event.requestContext?.domainName ?? "localhost";
  const proto = headers.get("x-forwarded-proto") ?? "https";
  const query = event.rawQueryString ? `?${event.rawQueryString}` : "";
  const url = `${proto}://${host}${event.rawPath ?? "/"}${query}`;
  const hasBody = options.body !== undefined && method !== "GET" && method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal: options.signal };
  if (hasBody) {
    init.body = options.body;
    init.duplex = "half";
  }
  return new Request(url, init);
}

/** Header pairs for the wire: every `set-cookie` separately, others as Fetch joins them. */
export function headerPairs(headers: Headers): string[][] {
  const pairs: string[][] = [];
  for (const [name, value] of headers) {
    if (name !== "set-cookie") pairs.push([name, value]);
  }
  for (const cookie of headers.getSetCookie()) pairs.push(["set-cookie", cookie]);
  return pairs;
}

/** A buffered Function URL result: UTF-8 bodies as text, others base64; cookies apart. */
export function bufferedResult(status: number, headers: Headers, body: Buffer): FunctionUrlResult {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) if (name !== "set-cookie") out[name] = value;
  const result: FunctionUrlResult = { statusCode: status, headers: out };
  const cookies = headers.getSetCookie();
  if (cookies.length) result.cookies = cookies;
  if (body.length) {
    if (isUtf8(body)) result.body = body.toString("utf8");
    else {
      result.body = body.toString("base64");
      result.isBase64Encoded = true;
    }
  }
  return result;
}
