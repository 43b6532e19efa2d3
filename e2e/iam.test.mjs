// End to end for `LAMBDA_AUTH = "aws_iam"`: the gateway in workerd signs every invocation with
// SigV4; an independent signer (npm `aws4`) recomputes each signature from the request as it
// arrived, and the Node function's local Function URL (`lambda-relay serve --auth aws_iam`)
// answers anything that does not verify with Lambda's 403.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { after, before, describe, it } from "node:test";

import aws4 from "aws4";

import { freePort, startGateway, startNodeFunction, stopAll } from "./support.mjs";

const KEY = { accessKeyId: "AKIDE2ELOCALTEST", secretAccessKey: "e2e/secret+key=for-sigv4" };
const REGION = "us-east-1";

let fn, gateway, wrongKeyGateway, proxy;
/** Every invocation the recording proxy saw: its path and whether aws4 agreed with its signature. */
const seen = [];

/** An HTTP proxy in front of the function that checks each invocation's signature with aws4
 * (from the request as received: its method, path, host, x-amz-date and body) before
 * forwarding it unchanged. */
async function startCheckingProxy(port, target) {
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const date = req.headers["x-amz-date"];
    const headers = { "X-Amz-Date": date, "X-Amz-Content-Sha256": createHash("sha256").update(body).digest("hex") };
    const signer = new aws4.RequestSigner(
      { host: req.headers.host, path: req.url, method: req.method, service: "lambda", region: REGION, headers, body, doNotModifyHeaders: true },
      KEY,
    );
    signer.datetime = date;
    const expected = signer.sign().headers.Authorization;
    seen.push({ path: req.url, agrees: expected === req.headers.authorization, signed: req.headers.authorization, expected });
    const forward = http.request({ host: "127.0.0.1", port: target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.rawHeaders);
      answer.pipe(res);
    });
    forward.on("error", (e) => res.destroy(e));
    forward.end(body);
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

before(async () => {
  const [gatewayPort, wrongPort, functionPort, proxyPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  fn = await startNodeFunction({
    port: functionPort,
    gatewayUrl: `ws://127.0.0.1:${gatewayPort}`,
    env: { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey },
    args: ["--auth", "aws_iam"],
  });
  proxy = await startCheckingProxy(proxyPort, functionPort);
  const iam = { LAMBDA_AUTH: "aws_iam", AWS_REGION: REGION, AWS_ACCESS_KEY_ID: KEY.accessKeyId };
  // A LAMBDA_URL whose path the URL parser normalises away: what is signed and bound must be
  // what fetch sends.
  const lambdaUrl = `http://127.0.0.1:${proxyPort}/unused/..`;
  gateway = await startGateway({ port: gatewayPort, lambdaUrl, vars: { ...iam, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey } });
  wrongKeyGateway = await startGateway({ port: wrongPort, lambdaUrl: fn, vars: { ...iam, AWS_SECRET_ACCESS_KEY: "not the key" } });
});

after(async () => {
  proxy?.close();
  await stopAll();
});

describe("IAM-signed invocations", () => {
  it("an unsigned call to the function's URL gets Lambda's 403 and runs no handler", async () => {
    const res = await fetch(`${fn}/auth`);
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("x-amzn-errortype"), "AccessDeniedException");
    assert.deepEqual(await res.json(), { Message: "Forbidden" });
  });

  it("relays through a signature aws4 recomputes, for a GET with an awkward path and query", async () => {
    seen.length = 0;
    const res = await fetch(`${gateway}/stream/%2Fa:b/?q=a+b&%E2%9C%93=1&z&chunks=3&delay_ms=1`);
    assert.equal(res.status, 404, "the app's own answer for an unknown path, relayed");
    await res.arrayBuffer();
    assert.equal(seen.length, 1);
    assert.ok(seen[0].agrees, `aws4 computed ${seen[0].expected}, the gateway sent ${seen[0].signed}`);
    const streamed = await fetch(`${gateway}/stream?chunks=3&delay_ms=1`);
    assert.equal(streamed.status, 200);
    assert.equal((await streamed.text()).split("\n").filter(Boolean).length, 3);
    assert.ok(seen[1].agrees);
  });

  it("signs an inline body's hash, and a streamed upload's invocation without one", async () => {
    seen.length = 0;
    const small = randomBytes(10_000);
    const res = await fetch(`${gateway}/upload`, { method: "POST", body: small });
    assert.equal(await res.text(), `10000 ${createHash("sha256").update(small).digest("hex")}`);
    const large = randomBytes(3_000_000);
    const streamed = await fetch(`${gateway}/upload`, { method: "PUT", body: large, headers: { "content-length": String(large.length) } });
    assert.equal(await streamed.text(), `3000000 ${createHash("sha256").update(large).digest("hex")}`);
    assert.equal(seen.length, 2);
    assert.ok(seen.every((s) => s.agrees), JSON.stringify(seen));
  });

  it("the app sees the client's own authorization header, never the gateway's signature", async () => {
    const res = await fetch(`${gateway}/auth`, { headers: { authorization: "Bearer client-token", "x-amz-date": "20000101T000000Z" } });
    const seen = await res.json();
    assert.equal(seen.authorization, "Bearer client-token");
    assert.deepEqual(seen.amz, [], "neither the gateway's x-amz-* signing headers nor a client's");
    const bare = await fetch(`${gateway}/auth`);
    assert.equal((await bare.json()).authorization, null, "no client authorization, none seen");
  });

  it("relays, signs and binds a method the worker library does not know as the client sent it", async () => {
    seen.length = 0;
    const res = await fetch(`${gateway}/auth`, { method: "PROPFIND" });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).method, "PROPFIND");
    assert.ok(seen[0].agrees, JSON.stringify(seen[0]));
  });

  it("a wrong key reaches the client as a 502 that names the cause", async () => {
    const res = await fetch(`${wrongKeyGateway}/stream?chunks=1`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-lambda-relay-error"), "invocation_failed");
    const text = await res.text();
    assert.match(text, /403 InvalidSignatureException/);
    assert.match(text, /AWS_SECRET_ACCESS_KEY/);
    assert.match(text, /The request signature we calculated does not match/);
  });
});
