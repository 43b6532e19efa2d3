// The packages under the runtime interface clients Lambda itself uses — `awslambdaric`
// (PyPI) for Python, `aws-lambda-ric` (npm) for Node, ES module and CommonJS — against a
// small Runtime API (e2e/runtime-api.mjs), relayed through the gateway in workerd. What this
// shows that `serve` cannot: the handler resolved as Lambda resolves it, the context object
// the clients build, and one process serving invocation after invocation.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { FUNCTION_ARN, startRuntimeApi } from "./runtime-api.mjs";
import { freePort, hashBody, patternSha256, ROOT, SECRET, startGateway, startProcess, stopAll } from "./support.mjs";

const RIC_DIR = path.join(ROOT, "e2e", "ric");
const PYTHON = process.env.PYTHON_TOOLS ?? path.join(ROOT, ".tools", "python", "bin", "python");
const NODE_RIC = path.join(RIC_DIR, "node_modules", "aws-lambda-ric", "index.mjs");

after(stopAll);

/** A runtime client process (its handler in `taskRoot`) behind a Runtime API and its Function
 * URL, and a gateway in front. */
async function underRuntimeClient(name, command, args, env, taskRoot = RIC_DIR) {
  const runtime = await startRuntimeApi();
  const gatewayPort = await freePort();
  await startProcess(name, command, args, {
    cwd: taskRoot,
    env: {
      AWS_LAMBDA_RUNTIME_API: runtime.runtimeApi,
      AWS_LAMBDA_FUNCTION_NAME: "relay-under-ric",
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1024",
      AWS_LAMBDA_LOG_GROUP_NAME: "/aws/lambda/relay-under-ric",
      AWS_LAMBDA_LOG_STREAM_NAME: "local",
      AWS_REGION: "us-east-1",
      LAMBDA_TASK_ROOT: taskRoot,
      RELAY_GATEWAY_URL: `ws://127.0.0.1:${gatewayPort}`,
      RELAY_SECRET: SECRET,
      ...env,
    },
    // Ready once it asked for its first invocation (it may print nothing).
    ready: /^\b$/,
    readyWhen: runtime.waitingForNext(),
  });
  const gateway = await startGateway({ port: gatewayPort, lambdaUrl: runtime.functionUrl });
  return { runtime, gateway };
}

/** Two invocations of /context: the same process, each with its own id and the context Lambda's headers gave. */
async function assertContextAcrossInvocations({ runtime, gateway }, module) {
  const seen = [];
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${gateway}/context`);
    assert.equal(res.status, 200);
    seen.push(await res.json());
  }
  await runtime.settled();
  const ids = runtime.invocations.filter((inv) => inv.path === "/context").map((inv) => inv.requestId);
  assert.deepEqual(seen.map((s) => s.requestId), ids, "each invocation's awsRequestId is the Runtime API's");
  assert.equal(seen[0].pid, seen[1].pid, "one process served both invocations");
  for (const s of seen) {
    assert.equal(s.module, module);
    assert.equal(s.arn, FUNCTION_ARN);
    assert.equal(s.functionName, "relay-under-ric");
    assert.equal(s.memory, "1024");
    assert.ok(s.remainingMs > 0 && s.remainingMs <= 60_000, `remaining time from the deadline header: ${s.remainingMs}`);
  }
  assert.ok(runtime.invocations.every((inv) => inv.outcome === "response"), "every invocation posted a response");
  assert.deepEqual(runtime.initErrors, []);
}

/** Posts a 10 MB body chunked (no content-length) and checks the length and sha256 it gets back. */
async function assertUpload(gateway, route) {
  const body = randomBytes(10_000_000);
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < body.length; i += 1 << 20) c.enqueue(body.subarray(i, i + (1 << 20)));
      c.close();
    },
  });
  const res = await fetch(`${gateway}${route}`, { method: "POST", body: stream, duplex: "half" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") });
}

describe("Python under awslambdaric", () => {
  const started = [];
  after(() => Promise.all(started.map((fn) => fn.runtime.close())));
  const python = async (handler, taskRoot) => {
    const fn = await underRuntimeClient(`awslambdaric ${handler}`, PYTHON, ["-m", "awslambdaric", handler], {}, taskRoot);
    started.push(fn);
    return fn;
  };

  let app;
  it("gets Lambda's context, and one process serves invocation after invocation", async () => {
    app = await python("python_app.handler");
    await assertContextAcrossInvocations(app, "python");
  });

  it("streams 20 MB down, sha256-identical", async () => {
    const fn = (app ??= await python("python_app.handler"));
    const n = 20_000_000;
    assert.deepEqual(await hashBody(await fetch(`${fn.gateway}/bytes?n=${n}`)), { bytes: n, sha256: patternSha256(n) });
  });

  it("runs the upload example (Starlette): a 10 MB chunked upload's length and sha256", async () => {
    const fn = await python("upload.handler", path.join(ROOT, "examples-python"));
    await assertUpload(fn.gateway, "/");
  });
});

describe("Node under aws-lambda-ric", { skip: existsSync(NODE_RIC) ? false : "aws-lambda-ric is not installed in e2e/ric (scripts/test.sh installs it)" }, () => {
  const started = [];
  after(() => Promise.all(started.map((fn) => fn.runtime.close())));
  const node = async (handler, taskRoot) => {
    const fn = await underRuntimeClient(`aws-lambda-ric ${handler}`, process.execPath, [NODE_RIC], { _HANDLER: handler }, taskRoot);
    started.push(fn);
    return fn;
  };

  it("an ES module handler gets Lambda's context, one process serving invocation after invocation, and streams 20 MB", async () => {
    const fn = await node("handler.handler");
    await assertContextAcrossInvocations(fn, "esm");
    const n = 20_000_000;
    assert.deepEqual(await hashBody(await fetch(`${fn.gateway}/bytes?n=${n}`)), { bytes: n, sha256: patternSha256(n) });
  });

  it("a CommonJS handler (streamifyHandler) gets Lambda's context across invocations", async () => {
    await assertContextAcrossInvocations(await node("handler-cjs.handler"), "cjs");
  });

  it("runs the upload example: a 10 MB chunked upload's length and sha256", async () => {
    const fn = await node("upload/handler.handler", path.join(ROOT, "examples-node"));
    await assertUpload(fn.gateway, "/");
  });

  it("runs the Express example (nodeHandler)", async () => {
    const fn = await node("express/handler.handler", path.join(ROOT, "examples-node"));
    const res = await fetch(`${fn.gateway}/hello/ric`, { headers: { "cf-connecting-ip": "203.0.113.5" } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { hello: "ric", from: "203.0.113.5" });
  });
});
