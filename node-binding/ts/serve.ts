// A local Function URL: HTTP requests become Function URL events (payload v2), the handler's
// results become HTTP responses, as AWS does. For local development, the demo and the tests.

import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

import type { FunctionUrlEvent, FunctionUrlResult, LambdaContext } from "./event.js";

export interface ServeOptions {
  /** Port to listen on (default 9000; 0 picks a free one). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Simulated invocation timeout in ms (default 900000, Lambda's maximum). */
  timeoutMs?: number;
}

/** A Lambda handler: async, or in the older callback style (`@types/aws-lambda`'s `Handler`). */
type Handler = (event: FunctionUrlEvent, context: LambdaContext, callback: (error?: unknown, result?: unknown) => void) => unknown;

/** Serves `handler` as a Function URL; resolves with the listening server. */
export async function serve(handler: Handler, options: ServeOptions = {}): Promise<http.Server> {
  const { port = 9000, host = "127.0.0.1", timeoutMs = 15 * 60 * 1000 } = options;
  const server = http.createServer((req, res) => {
    invoke(handler, req, timeoutMs).then(
      (result) => send(res, result),
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        res.writeHead(502, { "content-type": "text/plain; charset=utf-8" }).end(`the function failed: ${message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

async function invoke(handler: Handler, req: http.IncomingMessage, timeoutMs: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === "cookie") {
      cookies = String(value).split(";").map((c) => c.trim()).filter(Boolean);
      continue;
    }
    headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const requestId = randomUUID();
  const utf8 = isUtf8(body);
  const event: FunctionUrlEvent = {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies,
    headers,
    requestContext: {
      accountId: "anonymous",
      apiId: "local",
      domainName: req.headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: req.headers["user-agent"] ?? "",
      },
      requestId,
      routeKey: "$default",
      stage: "$default",
      time: clfTime(new Date()),
      timeEpoch: Date.now(),
    },
    body: body.length ? (utf8 ? body.toString("utf8") : body.toString("base64")) : undefined,
    isBase64Encoded: body.length > 0 && !utf8,
  };
  const deadline = Date.now() + timeoutMs;
  const finish: { done?: (error: unknown, result?: unknown) => void } = {};
  const settled = new Promise<unknown>((resolve, reject) => {
    finish.done = (error, result) => (error ? reject(error) : resolve(result));
  });
  const context: LambdaContext = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "local",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:local:000000000000:function:local",
    memoryLimitInMB: "1024",
    awsRequestId: requestId,
    logGroupName: "/aws/lambda/local",
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: (error, result) => finish.done!(error, result),
    fail: (error) => finish.done!(error),
    succeed: (result: unknown) => finish.done!(undefined, result),
  };
  const returned = handler(event, context, (error, result) => finish.done!(error, result));
  // An async handler's promise is its result; a callback-style one calls back.
  return returned instanceof Promise ? returned : returned === undefined ? settled : returned;
}

/** A timestamp as Function URL events carry it: `28/Nov/2026:21:30:00 +0000`. */
function clfTime(d: Date): string {
  const month = d.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function send(res: http.ServerResponse, result: unknown): void {
  // As AWS: a result without a statusCode is a 200 with the result as a JSON body.
  if (result === null || typeof result !== "object" || !("statusCode" in result)) {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result ?? null));
    return;
  }
  const r = result as FunctionUrlResult;
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(r.headers ?? {})) headers[name] = String(value);
  if (r.cookies?.length) headers["set-cookie"] = r.cookies;
  const body = r.body === undefined ? undefined : Buffer.from(r.body, r.isBase64Encoded ? "base64" : "utf8");
  res.writeHead(r.statusCode ?? 200, headers).end(body);
}

/** The address a server listens on, as a URL. */
export function serverUrl(server: http.Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address}:${port}`;
}
