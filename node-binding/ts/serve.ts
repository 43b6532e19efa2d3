// A local Function URL: HTTP requests become Function URL events (payload v2), the handler's
// results become HTTP responses, as AWS does. For local development, the demo and the tests.

import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

import type { FunctionUrlEvent, LambdaContext } from "./event.js";
import type * as Binding from "../binding.js";
import { adapter, callSync, native } from "./native.js";

export interface ServeOptions {
  /** Port to listen on (default 9000; 0 picks a free one). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Simulated invocation timeout in ms (default 900000, Lambda's maximum). */
  timeoutMs?: number;
  /** The Function URL's `AuthType`: `"none"` (default), or `"aws_iam"` to answer every request
   * whose SigV4 signature does not verify with Lambda's 403, as a URL with `AuthType AWS_IAM`
   * does (a local stand-in for IAM: one key is allowed, any region). */
  auth?: "none" | "aws_iam";
  /** The key `aws_iam` allows; default `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
   * `AWS_SESSION_TOKEN` from the environment. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** A Lambda handler: async, or in the older callback style (`@types/aws-lambda`'s `Handler`). */
type Handler = (event: FunctionUrlEvent, context: LambdaContext, callback: (error?: unknown, result?: unknown) => void) => unknown;

/** Serves `handler` as a Function URL; resolves with the listening server. */
export async function serve(handler: Handler, options: ServeOptions = {}): Promise<http.Server> {
  const { port = 9000, host = "127.0.0.1", timeoutMs = 15 * 60 * 1000, auth = "none" } = options;
  const iam = iamCheck(auth, options.credentials);
  const server = http.createServer((req, res) => {
    invoke(handler, req, timeoutMs, iam).then(
      (result) => {
        try {
          send(res, result);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          res.writeHead(502, { "content-type": "text/plain; charset=utf-8" }).end(`${message}\n`);
        }
      },
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

/** Lambda's answer instead of the handler's result. */
class Refusal {
  constructor(readonly response: Binding.BindingLocalResponse) {}
}

type IamCheck = (request: Binding.BindingLocalRequest) => Binding.BindingLocalResponse | null;

/** The signature check `auth` asks for (`adapter::iam_refusal`), or none. */
function iamCheck(auth: string, credentials: ServeOptions["credentials"]): IamCheck | undefined {
  if (auth === "none") return undefined;
  if (auth !== "aws_iam") throw new TypeError(`serve: auth must be "none" or "aws_iam", got ${JSON.stringify(auth)}`);
  const key = credentials ?? {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "",
    sessionToken: process.env.AWS_SESSION_TOKEN || undefined,
  };
  if (!key.accessKeyId || !key.secretAccessKey) {
    throw new TypeError('serve: auth "aws_iam" needs a key: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass credentials');
  }
  const addon = native();
  return (request) => callSync(() => addon.localIamRefusal(request, key.accessKeyId, key.secretAccessKey, key.sessionToken));
}

async function invoke(handler: Handler, req: http.IncomingMessage, timeoutMs: number, iam?: IamCheck): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers: string[][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  const requestId = randomUUID();
  const request = {
    method: req.method ?? "GET",
    target: req.url ?? "/",
    headers,
    body: Buffer.concat(chunks),
    sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
    requestId,
    timeEpochMs: Date.now(),
  };
  // Refused before the handler runs, as Lambda refuses before it invokes.
  const refusal = iam?.(request);
  if (refusal) return new Refusal(refusal);
  // The event AWS would build (`adapter::function_url_event`, shared with Rust's and Python's servers).
  const event = adapter().functionUrlEvent(request) as unknown as FunctionUrlEvent;
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

/** Sends a handler's result as AWS's front door would (`adapter::LocalResponse`), or
 * Lambda's own refusal. */
function send(res: http.ServerResponse, result: unknown): void {
  const response = result instanceof Refusal ? result.response : adapter().localResponse(result ?? null);
  const headers: string[] = [];
  for (const [name, value] of response.headers) headers.push(name!, value!);
  res.writeHead(response.status, headers).end(response.body);
}

/** The address a server listens on, as a URL. */
export function serverUrl(server: http.Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address}:${port}`;
}
