// Function URL events (payload v2) to Fetch Requests, and buffered results back.

import { isUtf8 } from "node:buffer";

/** A Lambda Function URL event (payload format 2.0). */
export interface FunctionUrlEvent {
  version?: string;
  rawPath?: string;
  rawQueryString?: string;
  cookies?: string[];
  headers?: Record<string, string | undefined>;
  requestContext?: {
    domainName?: string;
    requestId?: string;
    http?: { method?: string; path?: string; protocol?: string; sourceIp?: string; userAgent?: string };
    [key: string]: unknown;
  };
  body?: string | null;
  isBase64Encoded?: boolean;
  [key: string]: unknown;
}

/** What a Function URL handler returns. */
export interface FunctionUrlResult {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/** The parts of the Lambda context lambda-relay uses; the real context has more. */
export interface LambdaContext {
  awsRequestId?: string;
  getRemainingTimeInMillis?: () => number;
  [key: string]: unknown;
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
