// Runs the bare pipe (bench/pipe/worker.js) in workerd through miniflare's API, on 127.0.0.1,
// with the gateway's compatibility date. Usage: node bench/pipe/server.mjs <port>
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..", "..");
const wrangler = readFileSync(path.join(root, "gateway-worker", "wrangler.toml"), "utf8");
const mf = new Miniflare(
  convertV4MiniflareOptions({
    // The pipe imports the gateway's own gatherer (gateway-worker/src/gather.js).
    modules: [
      { type: "ESModule", path: path.join(here, "worker.js") },
      { type: "ESModule", path: path.join(root, "gateway-worker", "src", "gather.js") },
    ],
    modulesRoot: root,
    compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wrangler)?.[1],
    durableObjects: { PIPE: "Pipe" },
    host: "127.0.0.1",
    port: Number(process.argv[2] ?? 8788),
  }),
);
console.log(`Ready on ${(await mf.ready).href}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
