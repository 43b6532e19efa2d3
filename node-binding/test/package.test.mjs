// The packed npm tarballs (node-binding/pack, from scripts/pack-node.sh): both addons need
// at most glibc 2.34 (Lambda's Amazon Linux 2023), and the tarballs install into an empty
// folder and work there with no Rust toolchain on PATH.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  it("every tarball carries the licences, a README and the metadata, at the workspace's one version", () => {
    const root = path.resolve(pack, "..", "..");
    const version = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(readFileSync(path.join(root, "Cargo.toml"), "utf8"))?.[1];
    assert.ok(version, "Cargo.toml's [workspace.package] has a version");
    const tarballs = readdirSync(pack).filter((f) => f.endsWith(".tgz"));
    assert.equal(tarballs.length, 3);
    for (const tarball of tarballs) {
      const files = execFileSync("tar", ["tzf", path.join(pack, tarball)], { encoding: "utf8" }).split("\n").filter(Boolean);
      for (const file of ["package/LICENSE-MIT", "package/LICENSE-APACHE", "package/README.md", "package/package.json"]) {
        assert.ok(files.includes(file), `${tarball} lacks ${file}: ${files.join(", ")}`);
      }
      const license = execFileSync("tar", ["xzfO", path.join(pack, tarball), "package/LICENSE-APACHE"], { encoding: "utf8" });
      assert.equal(license, readFileSync(path.join(root, "LICENSE-APACHE"), "utf8"), `${tarball}'s LICENSE-APACHE is the repository's`);
      const manifest = JSON.parse(execFileSync("tar", ["xzfO", path.join(pack, tarball), "package/package.json"], { encoding: "utf8" }));
      assert.equal(manifest.version, version, `${tarball} is at ${version}`);
      assert.equal(manifest.license, "MIT OR Apache-2.0");
      assert.match(manifest.repository.url, /github\.com\/lambda-relay\/lambda-relay/);
      assert.ok(manifest.homepage && manifest.bugs.url && manifest.keywords.includes("aws-lambda"), tarball);
    }
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

  it("without a platform package: direct mode and `serve` work, a relayed invocation names the platform", async () => {
    // What a macOS or Windows user gets: the main package and no addon for their machine.
    const dir = mkdtempSync(path.join(tmpdir(), "lambda-relay-noaddon-"));
    dirs.push(dir);
    writeFileSync(path.join(dir, "package.json"), '{ "name": "empty", "version": "1.0.0", "private": true }');
    const env = { ...process.env, PATH: CLEAN_PATH };
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--omit=optional", path.join(pack, "lambda-relay-0.1.0.tgz")], { cwd: dir, env, stdio: "ignore" });
    assert.ok(!existsSync(path.join(dir, "node_modules", "lambda-relay-linux-x64-gnu")), "no platform package installed");
    writeFileSync(
      path.join(dir, "handler.mjs"),
      `import { streamHandler } from "lambda-relay";
export const handler = streamHandler(async (r) => new Response("direct " + new URL(r.url).pathname));
if (process.argv[2] === "invoke") {
  const event = (headers) => ({ rawPath: "/p", headers, requestContext: { http: { method: "GET" } } });
  const direct = await handler(event({}), {});
  const relayed = await handler(event({ "x-lambda-relay-id": "abc", "x-lambda-relay-token": "t" }), {}).then(
    () => ({ code: "resolved" }),
    (e) => ({ code: e.code, name: e.name, message: e.message }),
  );
  console.log(JSON.stringify({ direct: direct.body, relayed }));
}
`,
    );
    const out = JSON.parse(execFileSync("node", ["handler.mjs", "invoke"], { cwd: dir, env, encoding: "utf8" }));
    assert.equal(out.direct, "direct /p");
    assert.equal(out.relayed.code, "ERR_RELAY_PLATFORM");
    assert.equal(out.relayed.name, "RelayError");
    assert.ok(out.relayed.message.includes(`${process.platform}-${process.arch}`), out.relayed.message);
    assert.match(out.relayed.message, /--cpu=x64/);

    const cli = path.join(dir, "node_modules", ".bin", "lambda-relay");
    const server = spawn(cli, ["serve", "handler.mjs", "--port", "0"], { cwd: dir, env, stdio: ["ignore", "pipe", "inherit"] });
    try {
      const url = await new Promise((resolve, reject) => {
        let seen = "";
        server.stdout.on("data", (d) => {
          seen += d;
          const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
          if (m) resolve(m[1]);
        });
        server.once("exit", (code) => reject(new Error(`serve exited ${code}: ${seen}`)));
      });
      const res = await fetch(`${url}/served`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "direct /served");
    } finally {
      server.kill();
    }
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
