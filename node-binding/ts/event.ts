// The Lambda types handlers see, and a Fetch Request made of the adapter's request view
// (core/src/adapter decides every field of it).

import type { BindingRequest } from "../binding.js";

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

/** The Fetch Request a handler sees: the adapter's view of the event, and its body. */
export function toRequest(view: BindingRequest, options: { body?: BodyInit | undefined; signal?: AbortSignal }): Request {
  const headers = new Headers();
  for (const [name, value] of view.headers) headers.append(name!, value!);
  const hasBody = options.body !== undefined && view.method !== "GET" && view.method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = { method: view.method, headers, signal: options.signal };
  if (hasBody) {
    init.body = options.body;
    init.duplex = "half";
  }
  return new Request(view.url, init);
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
