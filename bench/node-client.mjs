// The Node side of `npm run bench`: 1 GiB through the addon, with writev batches (as the
// Writable and the Fetch path use it) or one write per chunk. Prints its CPU time in ms.
import { createRequire } from "node:module";

const native = createRequire(import.meta.url)("../node-binding/binding.cjs");
const [mode, url, relayId, token] = process.argv.slice(2);
const TOTAL = 2 ** 30;
const CHUNK = 256 * 1024;
const BATCH = 4; // chunks per writev: 1 MiB, the Writable's high-water mark

// The invocation the bench's test gateway minted its token for: a POST of `/` with no body.
const event = {
  version: "2.0",
  rawPath: "/",
  rawQueryString: "",
  headers: { host: "bench.lambda-url.local", "x-lambda-relay-id": relayId, "x-lambda-relay-token": token, "x-lambda-relay-body": "inline" },
  requestContext: { http: { method: "POST", path: "/", sourceIp: "127.0.0.1" }, domainName: "bench.lambda-url.local" },
  isBase64Encoded: false,
};
const invocation = native.beginInvocation(event, url, process.env.RELAY_SECRET, 15 * 60 * 1000);
const conn = invocation.connect();
if (!conn) throw new Error(`not relayed: ${JSON.stringify(invocation.result())}`);
const chunk = Buffer.alloc(CHUNK, 0x5a);
const start = process.cpuUsage();
conn.sendHead(200, []);
if (mode === "writev") {
  const batch = Array(BATCH).fill(chunk);
  for (let sent = 0; sent < TOTAL; sent += CHUNK * BATCH) await conn.write(batch);
} else {
  for (let sent = 0; sent < TOTAL; sent += CHUNK) await conn.write([chunk]);
}
await conn.finish();
const used = process.cpuUsage(start);
console.log(((used.user + used.system) / 1000).toFixed(0));
