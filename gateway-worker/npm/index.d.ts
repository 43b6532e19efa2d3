/** The settings a route may set for itself, over the Worker's variables of the same meaning. */
export interface RouteSettings {
  /** LAMBDA_URL: the function's Function URL. */
  function?: string;
  /** LAMBDA_AUTH: "none" or "aws_iam" (sign each invocation with SigV4). */
  auth?: "none" | "aws_iam";
  /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: the key "aws_iam" signs with. */
  awsAccessKeyId?: string;
  awsSecretAccessKey?: string;
  awsSessionToken?: string;
  /** AWS_REGION, when LAMBDA_URL's host does not say it. */
  awsRegion?: string;
  /** DO_LOCATION: "auto" (near the function), "off" (near the client) or a location hint. */
  location?: string;
  /** INLINE_BODY_LIMIT: largest request body of known length sent inside the invocation. */
  inlineBodyLimit?: number | string;
  /** TOKEN_TTL_S: lifetime of a relay token. */
  tokenTtlS?: number | string;
  /** CONNECT_TIMEOUT_MS, RESUME_GRACE_MS, KEEPALIVE_MS, IDLE_TIMEOUT_MS, UPLOAD_IDLE_MS. */
  connectTimeoutMs?: number | string;
  resumeGraceMs?: number | string;
  keepaliveMs?: number | string;
  idleTimeoutMs?: number | string;
  uploadIdleMs?: number | string;
  /** MAX_PAYLOAD, WINDOW, MAX_HEADER_BYTES. */
  maxPayload?: number | string;
  window?: number | string;
  maxHeaderBytes?: number | string;
}

/** Each route setting and the gateway variable it stands for. */
export declare const ROUTE_SETTINGS: Readonly<Record<keyof RouteSettings, string>>;

/** What a Worker's fetch gets as its third argument. */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

/**
 * Relays `request` through the gateway: a client's request invokes the function and streams its
 * response back; a function's socket (`/_relay/<id>`) joins its session, whatever route its
 * request took. The Worker binds the RelaySession Durable Object as RELAY_SESSION and sets
 * RELAY_SECRET.
 */
export declare function relay(request: Request, env: object, ctx: ExecutionContext, options?: RouteSettings): Promise<Response>;

/** The Durable Object of one client request and its relay session: export it from your Worker. */
export declare class RelaySession {
  constructor(state: unknown, env: unknown);
  fetch(request: Request): Promise<Response>;
}

/** The whole gateway as a Worker: every request relayed with the Worker's own variables. */
declare const gateway: {
  fetch(request: Request, env: object, ctx: ExecutionContext): Promise<Response>;
};
export default gateway;
