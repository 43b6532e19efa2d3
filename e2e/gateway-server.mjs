// Runs the built gateway (gateway-worker/build) in workerd through miniflare's API, on
// 127.0.0.1 — no wrangler proxy in between, so what the tests and benchmarks see is the
// engine's own behaviour. Its own process, so tests stop it (and its workerd) by PID.
//
// Usage: node e2e/gateway-server.mjs <port>
// Environment: GATEWAY_VARS, a JSON object of the worker's vars and secrets.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const build = path.join(root, "gateway-worker", "build");
const wrangler = readFileSync(path.join(root, "gateway-worker", "wrangler.toml"), "utf8");
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wrangler)?.[1];
const compatibilityFlags = JSON.parse(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(wrangler)?.[1] ?? "[]");
const port = Number(process.argv[2] ?? 8787);

const mf = new Miniflare(
  convertV4MiniflareOptions({
    modulesRoot: build,
    modules: [
      { type: "ESModule", path: path.join(build, "index.js") },
      { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
    ],
    compatibilityDate,
    compatibilityFlags,
    durableObjects: { RELAY_SESSION: "RelaySession" },
    bindings: JSON.parse(process.env.GATEWAY_VARS ?? "{}"),
    host: "127.0.0.1",
    port,
  }),
);
const url = await mf.ready;
console.log(`Ready on ${url.href}`);

const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
