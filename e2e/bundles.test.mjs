// End to end: a handler bundled by esbuild with lambda-relay external, as SAM, CDK's
// NodejsFunction and SST bundle it, relayed through the gateway in workerd. Each bundle runs
// on Lambda's current Node (NODE24, from npm test) from a folder where only what a deployment
// would hold is reachable:
// - ESM: the bundle next to node_modules holding the package and its x64 addon, unpacked from
//   the layer zip (what a zip deployment or CDK's `nodeModules` ships);
// - CommonJS: the bundle alone, the package found through NODE_PATH in the unpacked layer,
//   which is how Lambda's Node runtimes find a layer's packages (/opt/nodejs/node_modules).
// Hono is in the bundle and nowhere else.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { freePort, ROOT, startGateway, startNodeFunction, stopAll } from "./support.mjs";

const LAYER = path.join(ROOT, "node-binding", "pack", "layers", "lambda-relay-layer-linux-x64.zip");
const ESBUILD = path.join(ROOT, "node_modules", ".bin", "esbuild");
const NODE = process.env.NODE24 ?? process.execPath;

const work = mkdtempSync(path.join(tmpdir(), "lambda-relay-bundles-"));
after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

/** esbuild, as the deploy tools call it: node platform, lambda-relay external. */
function bundle(format, outfile) {
  execFileSync(ESBUILD, [
    path.join(ROOT, "e2e", "bundle", "app.mjs"),
    "--bundle",
    "--platform=node",
    "--target=node20",
    `--format=${format}`,
    "--external:lambda-relay",
    `--outfile=${outfile}`,
    "--log-level=warning",
  ]);
  const text = readFileSync(outfile, "utf8");
  assert.ok(text.includes("new Hono") || /class Hono/.test(text), "Hono is bundled in");
  assert.ok(!text.includes("beginInvocation"), "lambda-relay stays external");
  return outfile;
}

/** Starts a gateway in front of the function serving `module`; returns the gateway's URL. */
async function relayed(module, { cli, env }) {
  const [gp, fp] = [await freePort(), await freePort()];
  const fn = await startNodeFunction({ port: fp, gatewayUrl: `ws://127.0.0.1:${gp}`, module, node: NODE, cli, env });
  return startGateway({ port: gp, lambdaUrl: fn });
}

async function checkThrough(gateway) {
  const chunks = await fetch(`${gateway}/chunks`);
  const text = await chunks.text();
  assert.equal(chunks.status, 200, text);
  assert.equal(text, "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n");

  const body = randomBytes(3_000_000); // over the inline limit: streamed over the socket
  const upload = await fetch(`${gateway}/upload`, { method: "POST", body });
  assert.equal(upload.status, 200);
  assert.equal(await upload.text(), `${body.length} ${createHash("sha256").update(body).digest("hex")}`);

  const whoami = await (await fetch(`${gateway}/whoami`)).json();
  assert.equal(whoami.sourceIp, "127.0.0.1", "Hono sees the client's address in c.env");
  assert.equal(whoami.node, execFileSync(NODE, ["--version"], { encoding: "utf8" }).trim());
}

describe("esbuild bundles with lambda-relay external", { skip: !existsSync(LAYER) && "run npm run build:layers first" }, () => {
  let layer;
  before(() => {
    layer = path.join(work, "layer");
    mkdirSync(layer);
    execFileSync("unzip", ["-q", LAYER, "-d", layer]);
    assert.deepEqual(
      ["lambda-relay", "lambda-relay-linux-x64-gnu"].map((p) => existsSync(path.join(layer, "nodejs", "node_modules", p, "package.json"))),
      [true, true],
      "the layer holds the package and its addon under nodejs/node_modules",
    );
  });

  it("an ESM bundle next to node_modules relays a stream, an upload and the client's address", async () => {
    const dir = path.join(work, "esm");
    mkdirSync(dir);
    const module = bundle("esm", path.join(dir, "handler.mjs"));
    cpSync(path.join(layer, "nodejs", "node_modules"), path.join(dir, "node_modules"), { recursive: true });
    const gateway = await relayed(module, { cli: path.join(dir, "node_modules", "lambda-relay", "dist", "cjs", "cli.js"), env: {} });
    await checkThrough(gateway);
  });

  it("a CommonJS bundle finds the package in the layer through NODE_PATH, as Lambda does", async () => {
    const dir = path.join(work, "cjs");
    mkdirSync(dir);
    const module = bundle("cjs", path.join(dir, "handler.cjs"));
    const modules = path.join(layer, "nodejs", "node_modules");
    const gateway = await relayed(module, { cli: path.join(modules, "lambda-relay", "dist", "cjs", "cli.js"), env: { NODE_PATH: modules } });
    await checkThrough(gateway);
  });
});
