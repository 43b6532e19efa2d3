// A Worker of your own in front of the lambda-relay gateway: Hono routes two functions by
// path, and checks a bearer token first. The gateway is the npm package: no Rust to deploy.

import { Hono } from "hono";
import { relay, RelaySession } from "lambda-relay-gateway";

// The gateway's Durable Object, bound as RELAY_SESSION in wrangler.toml.
export { RelaySession };

const app = new Hono();

// The functions' sockets, whichever route their requests took: before any check of yours
// (each carries its own relay token, which the gateway checks).
app.all("/_relay/*", (c) => relay(c.req.raw, c.env, c.executionCtx));

// Your own code in front: here, a bearer token (set API_TOKEN with `wrangler secret put`).
app.use("*", async (c, next) => {
  if (c.env.API_TOKEN && c.req.header("authorization") !== `Bearer ${c.env.API_TOKEN}`) {
    return c.text("unauthorized\n", 401);
  }
  await next();
});

// Two functions by path, each with its settings.
app.all("/orders/*", (c) => relay(c.req.raw, c.env, c.executionCtx, { function: c.env.ORDERS_URL }));
app.all("/reports/*", (c) =>
  relay(c.req.raw, c.env, c.executionCtx, {
    function: c.env.REPORTS_URL,
    // Reports upload large files: stream every body, and give the function longer to call back.
    inlineBodyLimit: 0,
    connectTimeoutMs: 30_000,
  }),
);

app.notFound((c) => c.text("no such route\n", 404));

export default app;
