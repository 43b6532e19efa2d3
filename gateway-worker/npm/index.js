// lambda-relay-gateway: the gateway (gateway-worker, built to wasm and its JS glue), for any
// Worker project. Deploying it needs Node and wrangler, no Rust.
//
//   export { default, RelaySession } from "lambda-relay-gateway";   // the whole gateway
//
// or, with your own code in front (auth, rate limits, several functions by route):
//
//   import { relay, RelaySession } from "lambda-relay-gateway";
//   export { RelaySession };
//   export default { fetch: (request, env, ctx) => relay(request, env, ctx, { function: env.MY_FUNCTION_URL }) };

import gateway, { RelaySession } from "./build/index.js";

export { RelaySession };

/** The settings a route may set, and the gateway variable each one stands for. The relay
 * secret (RELAY_SECRET) and the socket path (RELAY_SOCKET_PATH) are the gateway's, shared by
 * every route. */
export const ROUTE_SETTINGS = Object.freeze({
  function: "LAMBDA_URL",
  auth: "LAMBDA_AUTH",
  awsAccessKeyId: "AWS_ACCESS_KEY_ID",
  awsSecretAccessKey: "AWS_SECRET_ACCESS_KEY",
  awsSessionToken: "AWS_SESSION_TOKEN",
  awsRegion: "AWS_REGION",
  location: "DO_LOCATION",
  inlineBodyLimit: "INLINE_BODY_LIMIT",
  tokenTtlS: "TOKEN_TTL_S",
  connectTimeoutMs: "CONNECT_TIMEOUT_MS",
  resumeGraceMs: "RESUME_GRACE_MS",
  keepaliveMs: "KEEPALIVE_MS",
  idleTimeoutMs: "IDLE_TIMEOUT_MS",
  uploadIdleMs: "UPLOAD_IDLE_MS",
  maxPayload: "MAX_PAYLOAD",
  window: "WINDOW",
  maxHeaderBytes: "MAX_HEADER_BYTES",
});

/**
 * Relays `request` through the gateway: a client's request invokes the function and streams
 * its response back; a function's socket (`/_relay/<id>`, whatever route its request took)
 * joins its session. `options` are the route's settings, over the Worker's own variables of
 * the same meaning (`{ function: "https://….lambda-url.us-east-1.on.aws" }` for LAMBDA_URL,
 * see ROUTE_SETTINGS); the Worker needs the RelaySession Durable Object bound as
 * RELAY_SESSION and RELAY_SECRET set.
 */
export function relay(request, env, ctx, options = {}) {
  if (!(request instanceof Request)) throw new TypeError("relay(request, env, ctx, options): request is not a Request");
  if (env === null || typeof env !== "object") throw new TypeError("relay(request, env, ctx, options): env is the Worker's env");
  const vars = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    const name = ROUTE_SETTINGS[key];
    if (!name) {
      throw new TypeError(`relay(): unknown setting ${JSON.stringify(key)}; a route may set ${Object.keys(ROUTE_SETTINGS).join(", ")}`);
    }
    if (value === undefined || value === null) continue;
    if (!["string", "number"].includes(typeof value)) throw new TypeError(`relay(): ${key} must be a string or a number`);
    vars[name] = String(value);
  }
  // A route's own function is signed for its own region (its URL's), not the Worker's.
  if (vars.LAMBDA_URL !== undefined && vars.AWS_REGION === undefined) vars.AWS_REGION = "";
  // The route's settings seen through the Worker's env (its bindings stay where they are),
  // and apart (LAMBDA_RELAY_ROUTE): only these travel on to the request's Durable Object.
  const routed = Object.keys(vars).length ? Object.assign(Object.create(env), vars, { LAMBDA_RELAY_ROUTE: JSON.stringify(vars) }) : env;
  // Through the generated entrypoint class, which restarts the wasm module after a crash.
  return new gateway(ctx, routed).fetch(request);
}

/** The whole gateway: every request relayed with the Worker's own variables. */
export default {
  fetch(request, env, ctx) {
    return relay(request, env, ctx);
  },
};
