// The adapter's rules for a platform without the native addon (a macOS or Windows dev
// machine): direct invocations and the local server only. They mirror `core/src/adapter`
// and are pinned to it by the same golden vectors (core/tests/vectors), which the Node
// tests replay through the addon and through this file. Relayed invocations need the addon.

import { isUtf8 } from "node:buffer";

import type * as Binding from "../binding.js";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const constants: Binding.BindingConstants = require("../constants.json");

type Json = Record<string, unknown>;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const BAD_COOKIE = /[\u0000-\u001f\u007f]/;

const code = (suffix: string) => constants.errorCodes.find((c) => c.endsWith(suffix))!;
const EVENT = code("_EVENT");
const USAGE = code("_USAGE");

/** An error with a stable `code`, as the addon throws them. */
function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function unsupported(shape: string): Error {
  return coded(
    EVENT,
    `unsupported event: ${shape}; lambda-relay reads Function URL and API Gateway HTTP API (payload 2.0) events`,
  );
}

function invalid(what: string): Error {
  return coded(EVENT, `invalid function url event: ${what}`);
}

const clip = (s: string) => JSON.stringify([...s].slice(0, 64).join(""));

/** `adapter::RequestView::from_event` for a direct invocation. */
export function requestView(event: unknown, relayed: boolean): Binding.BindingRequest {
  if (relayed) throw coded("ERR_RELAY_PLATFORM", "a relayed invocation needs the native addon");
  if (event === null || typeof event !== "object" || Array.isArray(event)) throw unsupported("not a JSON object");
  const e = event as Json;
  const context = isObject(e.requestContext) ? e.requestContext : undefined;
  if (context && "elb" in context) throw unsupported("an Application Load Balancer event");
  if ("httpMethod" in e) throw unsupported("an API Gateway REST API (payload 1.0) event");
  if (typeof e.version === "string" && e.version !== "2.0") throw unsupported(`a payload ${clip(e.version)} event`);
  const http = context && isObject(context.http) ? context.http : undefined;
  if (!(context && "http" in context) && !("rawPath" in e)) {
    throw unsupported("not an HTTP event (no requestContext.http, no rawPath)");
  }
  const method = typeof http?.method === "string" ? http.method : "GET";
  if (!TOKEN.test(method)) throw invalid(`invalid method ${clip(method)}`);
  const headers = eventHeaders(e.headers);
  const header = (name: string) => headers.find(([n]) => n === name)?.[1];
  const domain = typeof context?.domainName === "string" && context.domainName !== "" ? context.domainName : undefined;
  const host = domain ?? header("host") ?? "localhost";
  const rawPathField = typeof e.rawPath === "string" ? e.rawPath : typeof http?.path === "string" ? http.path : undefined;
  let rawPath = "/";
  if (rawPathField !== undefined && rawPathField !== "") {
    if (!rawPathField.startsWith("/")) throw invalid(`invalid rawPath ${clip(rawPathField)}`);
    rawPath = rawPathField;
  }
  const rawQuery = typeof e.rawQueryString === "string" ? e.rawQueryString : "";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(rawPath + rawQuery)) throw invalid("the path or query has spaces or control characters");
  const cookies = cookieList(e.cookies);
  const out: string[][] = [];
  for (const [name, value] of headers) {
    if (constants.relayHeaders.includes(name) || (name === "cookie" && cookies !== undefined)) continue;
    out.push([name, value]);
  }
  if (cookies !== undefined) out.push(["cookie", cookies]);
  const sourceIp = typeof http?.sourceIp === "string" && http.sourceIp !== "" ? http.sourceIp : undefined;
  const body = inlineBody(e);
  return {
    method,
    url: `https://${host}${rawPath}${rawQuery ? `?${rawQuery}` : ""}`,
    rawPath,
    rawQuery,
    headers: out,
    clientAddress: sourceIp,
    body: body.length ? body : undefined,
    headRequest: method.toUpperCase() === "HEAD",
  };
}

/** `adapter::handler_event` for a direct invocation: the relay headers removed. */
export function handlerEvent<E extends Json>(event: E): E {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(isObject(event.headers) ? event.headers : {})) {
    if (!constants.relayHeaders.includes(name.toLowerCase())) headers[name] = value;
  }
  return { ...event, headers };
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function eventHeaders(headers: unknown): [string, string][] {
  if (headers === undefined || headers === null) return [];
  if (!isObject(headers)) throw invalid("headers is not an object");
  const out: [string, string][] = [];
  for (const [name, raw] of Object.entries(headers)) {
    let value: string;
    if (typeof raw === "string") value = raw;
    else if (typeof raw === "number" || typeof raw === "boolean") value = String(raw);
    else if (raw === null || raw === undefined) continue;
    else throw invalid(`header ${clip(name)} is not a string`);
    if (!TOKEN.test(name)) throw invalid(`invalid header name ${clip(name)}`);
    if (BAD_VALUE.test(value)) throw invalid(`invalid value for header ${name.toLowerCase()}`);
    out.push([name.toLowerCase(), value]);
  }
  return out;
}

function cookieList(cookies: unknown): string | undefined {
  if (!Array.isArray(cookies)) return undefined;
  const kept: string[] = [];
  for (const cookie of cookies) {
    if (typeof cookie !== "string") throw invalid("cookies holds a value that is not a string");
    if (BAD_COOKIE.test(cookie)) throw invalid("invalid cookie");
    if (cookie !== "") kept.push(cookie);
  }
  return kept.length ? kept.join("; ") : undefined;
}

function inlineBody(event: Json): Buffer {
  const body = event.body;
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body !== "string") throw invalid("body is not a string");
  if (event.isBase64Encoded === true) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw invalid("body is not valid base64");
    return Buffer.from(body, "base64");
  }
  return Buffer.from(body, "utf8");
}

/** `adapter::direct_result`. */
export function bufferedResult(status: number, headers: string[][], body: Buffer, headRequest: boolean): Json {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw coded(USAGE, `invalid status ${status} (a response's status is 200 to 599)`);
  }
  const out: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [rawName, value] of headers) {
    const name = rawName!.toLowerCase();
    if (!TOKEN.test(name)) throw coded(USAGE, `invalid header name ${clip(rawName!)}`);
    // eslint-disable-next-line no-control-regex
    if (/[^\t\u0020-\u007e]/.test(value!)) throw coded(USAGE, `invalid value for header ${name}`);
    if (name === "set-cookie") cookies.push(value!);
    else out[name] = name in out ? `${out[name]}, ${value}` : value!;
  }
  const result: Json = { statusCode: status, headers: out };
  if (cookies.length) result.cookies = cookies;
  const hasBody = !(headRequest || status === 204 || status === 205 || status === 304);
  if (body.length && hasBody) {
    if (isUtf8(body)) result.body = body.toString("utf8");
    else {
      result.body = body.toString("base64");
      result.isBase64Encoded = true;
    }
  }
  return result;
}

/** `adapter::function_url_event`. */
export function functionUrlEvent(request: Binding.BindingLocalRequest): Json {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [rawName, value] of request.headers) {
    const name = rawName!.toLowerCase();
    if (name === "cookie") {
      for (const c of value!.split(";")) if (c.trim()) cookies.push(c.trim());
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value!;
  }
  let target = request.target;
  const scheme = target.indexOf("://");
  if (scheme >= 0) {
    const slash = target.indexOf("/", scheme + 3);
    target = slash >= 0 ? target.slice(slash) : "/";
  }
  const q = target.indexOf("?");
  const path = (q >= 0 ? target.slice(0, q) : target) || "/";
  const query = q >= 0 ? target.slice(q + 1) : "";
  const host = headers.host || "localhost";
  const event: Json = { version: "2.0", routeKey: "$default", rawPath: path, rawQueryString: query };
  if (cookies.length) event.cookies = cookies;
  event.headers = headers;
  const parameters: Record<string, string> = {};
  for (const pair of query.split("&")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    const key = percentDecode(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = percentDecode(eq >= 0 ? pair.slice(eq + 1) : "");
    parameters[key] = key in parameters ? `${parameters[key]},${value}` : value;
  }
  if (Object.keys(parameters).length) event.queryStringParameters = parameters;
  event.requestContext = {
    accountId: "anonymous",
    apiId: "local",
    domainName: host,
    domainPrefix: host.split(".")[0],
    http: { method: request.method, path, protocol: "HTTP/1.1", sourceIp: request.sourceIp, userAgent: headers["user-agent"] ?? "" },
    requestId: request.requestId,
    routeKey: "$default",
    stage: "$default",
    time: clfTime(request.timeEpochMs),
    timeEpoch: request.timeEpochMs,
  };
  const body = request.body;
  const utf8 = isUtf8(body);
  if (body.length) event.body = utf8 ? body.toString("utf8") : body.toString("base64");
  event.isBase64Encoded = !utf8;
  return event;
}

/** `adapter::LocalResponse::from_result`. */
export function localResponse(result: unknown): Binding.BindingLocalResponse {
  if (!isObject(result) || !("statusCode" in result)) {
    return { status: 200, headers: [["content-type", "application/json"]], body: Buffer.from(JSON.stringify(result ?? null)) };
  }
  const status = result.statusCode;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599) {
    throw coded(USAGE, `the function returned an invalid status ${JSON.stringify(status)}`);
  }
  const headers: string[][] = [];
  for (const [name, value] of Object.entries(isObject(result.headers) ? result.headers : {})) {
    if (value === null || value === undefined) continue;
    headers.push([name, typeof value === "string" ? value : JSON.stringify(value)]);
  }
  for (const cookie of Array.isArray(result.cookies) ? result.cookies : []) {
    if (typeof cookie === "string") headers.push(["set-cookie", cookie]);
  }
  const body = result.body;
  let bytes: Buffer;
  if (body === undefined || body === null) bytes = Buffer.alloc(0);
  else if (typeof body === "string") bytes = Buffer.from(body, result.isBase64Encoded === true ? "base64" : "utf8");
  else bytes = Buffer.from(JSON.stringify(body));
  return { status, headers, body: bytes };
}

function percentDecode(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const hex = raw[i] === 0x25 && i + 2 < raw.length ? raw.subarray(i + 1, i + 3).toString("latin1") : "";
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString("utf8");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function clfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
