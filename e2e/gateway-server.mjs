// Runs the gateway as it is packaged (the npm package lambda-relay-gateway in gateway-worker/npm:
// its default export over the built wasm, started by the package's own `startGateway`, which
// `lambda-relay dev` uses too) in workerd on 127.0.0.1 — no wrangler proxy in between, so what
// the tests and benchmarks see is the engine's own behaviour. Its own process, so tests stop it
// (and its workerd) by PID.
//
// Usage: node e2e/gateway-server.mjs <port>
// Environment: GATEWAY_VARS, a JSON object of the worker's vars and secrets; GATEWAY_DIR and
// GATEWAY_MAIN, another Worker's modules (every .js and .wasm under the folder) and its entry,
// such as `wrangler deploy --dry-run --outdir` makes of a project that imports the package;
// GATEWAY_ANALYTICS_SPY=1, an Analytics Engine dataset bound as ANALYTICS that prints each data
// point as a line `analytics-spy <json>` (miniflare's own dataset drops them);
// GATEWAY_INSPECTOR_PORT, V8's inspector for the gateway's isolate on that port.

import { startGateway } from "lambda-relay-gateway/dev";

const gateway = await startGateway({
  port: Number(process.argv[2] ?? 8787),
  vars: JSON.parse(process.env.GATEWAY_VARS ?? "{}"),
  ...(process.env.GATEWAY_INSPECTOR_PORT ? { inspectorPort: Number(process.env.GATEWAY_INSPECTOR_PORT) } : {}),
  ...(process.env.GATEWAY_DIR ? { dir: process.env.GATEWAY_DIR, main: process.env.GATEWAY_MAIN ?? "index.js" } : {}),
  ...(process.env.GATEWAY_ANALYTICS_SPY
    ? {
        // A service whose writeDataPoint is an RPC method: the binding as the gateway uses it.
        worker: { serviceBindings: { ANALYTICS: "analytics-spy" } },
        workers: [
          {
            name: "analytics-spy",
            modules: true,
            compatibilityDate: "2026-11-01",
            script: [
              'import { WorkerEntrypoint } from "cloudflare:workers";',
              "export default class extends WorkerEntrypoint {",
              "  writeDataPoint(point) { console.log(`analytics-spy ${JSON.stringify(point)}`); }",
              "}",
            ].join("\n"),
          },
        ],
      }
    : {}),
});
console.log(`Ready on ${gateway.url}/`);

const stop = async () => {
  await gateway.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
