// `npm run demo`: the gateway in workerd and the demo function (scripts/demo-function.mjs:
// the classic, upload, SSE and WebSocket examples and a browser page) behind a local Function
// URL, all on 127.0.0.1. Shows chunks arriving a second apart, a 50 MB streamed upload and its
// hash check, and a WebSocket's round trip, then stops everything (unless --keep, which leaves
// it running for a browser).

import { createHash, randomBytes } from "node:crypto";
import path from "node:path";

import { freePort, ROOT, startNodeFunction, startWranglerGateway, stopAll } from "../e2e/support.mjs";

const keep = process.argv.includes("--keep");
const say = (text) => console.log(text);

async function portOr(preferred) {
  const free = await freePort();
  try {
    const net = await import("node:net");
    await new Promise((resolve, reject) => {
      const s = net.createServer().once("error", reject).listen(preferred, "127.0.0.1", () => s.close(resolve));
    });
    return preferred;
  } catch {
    return free;
  }
}

async function main() {
  const secret = randomBytes(24).toString("hex");
  const [gatewayPort, functionPort] = [await portOr(8787), await portOr(9000)];
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  say(`\nstarting the function (examples-node: classic, upload, sse; the browser page) on 127.0.0.1:${functionPort} …`);
  const fn = await startNodeFunction({
    port: functionPort,
    gatewayUrl: `ws://127.0.0.1:${gatewayPort}`,
    module: path.join(ROOT, "scripts", "demo-function.mjs"),
    secret,
  });
  say(`starting the gateway in workerd (wrangler dev) on ${gatewayUrl} …`);
  await startWranglerGateway({ port: gatewayPort, lambdaUrl: fn, secret });

  say(`\n1. GET ${gatewayUrl}/  — the classic: five chunks, one per second, relayed as they are made\n`);
  const started = Date.now();
  const res = await fetch(`${gatewayUrl}/`);
  say(`   ${((Date.now() - started) / 1000).toFixed(2)}s  HTTP ${res.status}, head received`);
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    for (const line of decoder.decode(chunk, { stream: true }).split("\n").filter(Boolean)) {
      say(`   ${((Date.now() - started) / 1000).toFixed(2)}s  ${line}`);
    }
  }
  say(`   ${((Date.now() - started) / 1000).toFixed(2)}s  end of response`);

  const size = 50 * 1000 * 1000;
  say(`\n2. POST ${gatewayUrl}/upload  — a ${size / 1e6} MB body, streamed to the function over the relay\n`);
  const body = randomBytes(size);
  const expected = createHash("sha256").update(body).digest("hex");
  const uploadStart = Date.now();
  const reply = await (await fetch(`${gatewayUrl}/upload`, { method: "POST", body })).json();
  const seconds = (Date.now() - uploadStart) / 1000;
  say(`   sent     ${size} bytes, sha256 ${expected}`);
  say(`   function ${reply.bytes} bytes, sha256 ${reply.sha256}`);
  const ok = reply.bytes === size && reply.sha256 === expected;
  say(`   ${ok ? "match" : "MISMATCH"} (${seconds.toFixed(2)} s, ${(size / 1e6 / seconds).toFixed(1)} MB/s)`);
  if (!ok) process.exitCode = 1;

  const wsUrl = `${gatewayUrl.replace(/^http/, "ws")}/ws`;
  say(`\n3. WebSocket ${wsUrl}  — a client's socket held by the function, messages both ways\n`);
  const wsStart = Date.now();
  const at = () => `${((Date.now() - wsStart) / 1000).toFixed(2)}s`;
  const closed = await new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, "echo.v1");
    socket.onopen = () => {
      say(`   ${at()}  open (subprotocol ${socket.protocol})`);
      for (const text of ["hello", "from the demo", "bye"]) {
        say(`   ${at()}  → ${text}`);
        socket.send(text);
      }
    };
    socket.onmessage = (event) => say(`   ${at()}  ← ${event.data}`);
    socket.onclose = (event) => resolve(event);
    socket.onerror = () => reject(new Error("the WebSocket failed"));
  });
  say(`   ${at()}  closed by the function: ${closed.code} ${closed.reason}`);
  if (closed.code !== 4000) process.exitCode = 1;

  if (keep) {
    say(`\nStill running (Ctrl-C stops everything). Try:\n`);
    say(`   ${gatewayUrl}/page  in a browser: the classic through fetch() and a ReadableStream,`);
    say(`                        the SSE example through an EventSource, and a WebSocket, as they arrive`);
    say(`   curl -N ${gatewayUrl}/`);
    say(`   curl -N ${gatewayUrl}/sse`);
    say(`   head -c 20000000 /dev/urandom > /tmp/upload.bin && curl --data-binary @/tmp/upload.bin ${gatewayUrl}/upload && sha256sum /tmp/upload.bin`);
    say(`   curl ${fn}/        # the same function invoked directly: a buffered response\n`);
    await new Promise((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
  }
  await stopAll();
  say(`\nstopped the gateway and the function.`);
}

main().catch(async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
