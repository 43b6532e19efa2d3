// `lambda-relay dev` and `python -m lambda_relay dev`: from a folder with only the npm package
// installed (or the Python package), one URL whose responses stream as deployed — chunk by
// chunk, a 20 MB upload, a client that leaves — with the gateway (the packed
// lambda-relay-gateway, through npx) and workerd (miniflare, and Node 22 under Node 20) coming
// from npm on first use.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { freePort, readGated, ROOT, startProcess, stopAll, waitForEvent } from "./support.mjs";

const work = mkdtempSync(path.join(tmpdir(), "lambda-relay-dev-"));
const NODE = process.env.FUNCTION_NODE ?? "node"; // the machine's Node (20 here): dev fetches 22 itself
const PYTHON = process.env.PYTHON_TOOLS ?? path.join(ROOT, ".tools", "python", "bin", "python");
let env;

before(() => {
  const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work, path.join(ROOT, "gateway-worker", "npm")], { encoding: "utf8" }));
  env = {
    // The unpublished gateway, as npx would fetch lambda-relay-gateway@<version> from npm.
    LAMBDA_RELAY_DEV_GATEWAY: path.join(work, packed[0].filename),
    // Kept between runs on this machine (a fresh clone starts empty): Node 22 and miniflare.
    LAMBDA_RELAY_DEV_CACHE: path.join(ROOT, ".tools", "lambda-relay-dev"),
    PATH: `${path.dirname(NODE === "node" ? execFileSync("bash", ["-c", "command -v node"], { encoding: "utf8" }).trim() : NODE)}:/usr/bin:/bin`,
  };
});

after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

/** The dev URL's behaviour, whichever language serves it. */
function streamsAsDeployed(start) {
  let url;
  before(async () => {
    url = await start();
  });

  it("prints one URL whose response streams chunk by chunk", async () => {
    const tag = `gated-${Date.now()}`;
    const res = await fetch(`${url}/gated?chunks=3&tag=${tag}`);
    assert.equal(res.status, 200);
    assert.ok(res.headers.get("x-lambda-relay-id"), "through the gateway");
    // Chunk i+1 is made only once chunk i arrived (released through the same URL).
    const { lines, ended } = await readGated(res, url, tag, 3);
    assert.deepEqual(lines, ["chunk 1", "chunk 2", "chunk 3"]);
    assert.ok(ended);
  });

  it("takes a 20 MB chunked upload", async () => {
    const body = randomBytes(20_000_000);
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < body.length; i += 1 << 20) c.enqueue(body.subarray(i, i + (1 << 20)));
        c.close();
      },
    });
    const res = await fetch(`${url}/upload`, { method: "POST", body: stream, duplex: "half" });
    assert.deepEqual(await res.json(), { bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") });
  });

  it("tells the handler when the client leaves", async () => {
    const tag = `gone-${Date.now()}`;
    const controller = new AbortController();
    const res = await fetch(`${url}/endless?tag=${tag}`, { signal: controller.signal });
    await res.body.getReader().read();
    controller.abort();
    await waitForEvent(url, (e) => e.tag === tag && e.kind === "gone");
  });
}

describe("lambda-relay dev (Node), from a folder with only the npm package", () => {
  streamsAsDeployed(async () => {
    const dir = path.join(work, "node-app");
    execFileSync("mkdir", ["-p", dir]);
    writeFileSync(path.join(dir, "package.json"), '{ "name": "app", "private": true }\n');
    const pack = path.join(ROOT, "node-binding", "pack");
    const tarballs = readdirSync(pack).filter((f) => /^lambda-relay-(linux-x64-gnu-)?\d.*\.tgz$/.test(f)).map((f) => path.join(pack, f));
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], { cwd: dir, env: { ...process.env, ...env } });
    copyFileSync(path.join(ROOT, "e2e", "dev", "handler.mjs"), path.join(dir, "handler.mjs"));
    const port = await freePort();
    await startProcess("lambda-relay dev", "npx", ["lambda-relay", "dev", "handler.mjs", "--port", String(port)], {
      cwd: dir,
      env,
      ready: /^lambda-relay dev: http/,
      timeoutMs: 300_000,
    });
    return `http://127.0.0.1:${port}`;
  });

  it("says serve is buffered, and what dev is", () => {
    const cli = path.join(work, "node-app", "node_modules", "lambda-relay", "dist", "cjs", "cli.js");
    let failed;
    try {
      execFileSync(NODE, [cli], { stdio: "pipe" });
    } catch (e) {
      failed = e;
    }
    assert.equal(failed?.status, 1, "no command is a usage error");
    const usage = failed.stderr.toString();
    assert.match(usage, /serve: a Lambda handler as a local Function URL, buffered as a Function URL is/);
    assert.match(usage, /dev: the handler behind the gateway in workerd, streaming as deployed/);
  });
});

describe("python -m lambda_relay dev", () => {
  streamsAsDeployed(async () => {
    const dir = path.join(work, "python-app");
    execFileSync("mkdir", ["-p", dir]);
    copyFileSync(path.join(ROOT, "e2e", "dev", "app.py"), path.join(dir, "app.py"));
    const port = await freePort();
    await startProcess("python dev", PYTHON, ["-u", "-m", "lambda_relay", "dev", "app:app", "--port", String(port)], {
      cwd: dir,
      env,
      ready: /^lambda-relay dev: http/,
      timeoutMs: 300_000,
    });
    return `http://127.0.0.1:${port}`;
  });
});
