// The packed npm tarballs (node-binding/pack, from scripts/pack-node.sh): both addons need
// at most glibc 2.34 (Lambda's Amazon Linux 2023), and the tarballs install into an empty
// folder and work there with no Rust toolchain on PATH.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const pack = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "pack");
const CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function maxGlibc(objdump, file) {
  const symbols = execFileSync(objdump, ["-T", file], { encoding: "utf8" });
  const versions = [...symbols.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return versions.at(-1);
}

describe("packaging", { skip: !existsSync(pack) && "run scripts/pack-node.sh first" }, () => {
  const dirs = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("builds both platform addons against glibc 2.34 at most", () => {
    const x64 = maxGlibc("objdump", path.join(pack, "artifacts", "lambda-relay.linux-x64-gnu.node"));
    const arm64 = maxGlibc("aarch64-linux-gnu-objdump", path.join(pack, "artifacts", "lambda-relay.linux-arm64-gnu.node"));
    for (const [major, minor] of [x64, arm64]) assert.ok(major === 2 && minor <= 34, `needs GLIBC_${major}.${minor}`);
  });

  it("installs from the tarballs into an empty folder and works without Rust on PATH", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lambda-relay-pack-"));
    dirs.push(dir);
    const tarballs = readdirSync(pack).filter((f) => f.endsWith(".tgz"));
    assert.deepEqual(tarballs.sort(), ["lambda-relay-0.1.0.tgz", "lambda-relay-linux-arm64-gnu-0.1.0.tgz", "lambda-relay-linux-x64-gnu-0.1.0.tgz"]);
    writeFileSync(path.join(dir, "package.json"), '{ "name": "empty", "version": "1.0.0", "private": true }');
    const env = { ...process.env, PATH: CLEAN_PATH };
    assert.throws(() => execFileSync("cargo", ["--version"], { env, stdio: "ignore" }), "cargo must not be on PATH");
    const install = ["install", "--no-audit", "--no-fund", ...["lambda-relay-0.1.0.tgz", "lambda-relay-linux-x64-gnu-0.1.0.tgz"].map((t) => path.join(pack, t))];
    execFileSync("npm", install, { cwd: dir, env, stdio: "ignore" });
    writeFileSync(
      path.join(dir, "handler.mjs"),
      `import { streamHandler, streamifyHandler } from "lambda-relay";
const event = (headers) => ({ rawPath: "/p", headers, requestContext: { http: { method: "GET" } } });
const direct = await streamHandler(async (r) => new Response("direct " + new URL(r.url).pathname))(event({}), {});
const relayed = await streamifyHandler(() => {})(event({ "x-lambda-relay-id": "abc", "x-lambda-relay-token": "t" }), {});
console.log(JSON.stringify([direct.body, relayed.statusCode, relayed.headers["x-lambda-relay-outcome"]]));
`,
    );
    const out = execFileSync("node", ["handler.mjs"], { cwd: dir, env, encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), ["direct /p", 500, "unconfigured"]);
    const cjs = execFileSync("node", ["-e", "console.log(typeof require('lambda-relay').streamHandler)"], { cwd: dir, env, encoding: "utf8" });
    assert.equal(cjs.trim(), "function");
  });

  it("runs the arm64 addon under qemu-user with an arm64 Node", { skip: !process.env.ARM64_NODE && "ARM64_NODE not set" }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lambda-relay-arm64-"));
    dirs.push(dir);
    writeFileSync(path.join(dir, "package.json"), '{ "name": "empty", "version": "1.0.0", "private": true }');
    const env = { ...process.env, PATH: CLEAN_PATH };
    // --force: npm would refuse an arm64 package on this x86_64 machine.
    const install = ["install", "--no-audit", "--no-fund", "--force", ...["lambda-relay-0.1.0.tgz", "lambda-relay-linux-arm64-gnu-0.1.0.tgz"].map((t) => path.join(pack, t))];
    execFileSync("npm", install, { cwd: dir, env, stdio: "ignore" });
    writeFileSync(
      path.join(dir, "handler.mjs"),
      `import { streamHandler } from "lambda-relay";
const event = (headers) => ({ rawPath: "/p", headers, requestContext: { http: { method: "GET" } } });
const direct = await streamHandler(async () => new Response("hello from " + process.arch))(event({}), {});
const relayed = await streamHandler(async () => new Response(""))(event({ "x-lambda-relay-id": "abc", "x-lambda-relay-token": "t" }), {});
console.log(JSON.stringify([direct.body, relayed.headers["x-lambda-relay-outcome"]]));
`,
    );
    const out = execFileSync("qemu-aarch64", ["-L", "/usr/aarch64-linux-gnu", process.env.ARM64_NODE, "handler.mjs"], { cwd: dir, env, encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), ["hello from arm64", "unconfigured"]);
  });
});
