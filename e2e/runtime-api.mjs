// A small Lambda Runtime API (2018-06-01) for AWS's own runtime interface clients, and a
// Function URL in front of it: the package's `serve` turns each HTTP request into the Function
// URL event Lambda would make, this hands it to the runtime client at its next
// `GET …/invocation/next` with the context headers Lambda sends, and the client's posted
// response (or error) becomes the HTTP response. One invocation at a time, in one process
// that lives across invocations, as in a Lambda execution environment.

import { randomUUID } from "node:crypto";
import http from "node:http";

import { serve } from "lambda-relay";

export const FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:relay-under-ric";

/**
 * Starts the Runtime API and the Function URL in front of it, both on 127.0.0.1. Returns
 * `{ runtimeApi, functionUrl, invocations, initErrors, settled, waitingForNext, close }`: `runtimeApi` is the
 * `host:port` for AWS_LAMBDA_RUNTIME_API; `invocations` lists what each invocation was given
 * and how it ended.
 */
export async function startRuntimeApi({ timeoutMs = 60_000 } = {}) {
  const queue = []; // invocations waiting for the runtime's next call
  const waiting = []; // the runtime's next calls waiting for an invocation
  const pending = new Map(); // request id → invocation handed out, not yet answered
  const invocations = [];
  const results = [];
  const initErrors = [];
  let firstNext;
  const waitingForNext = new Promise((resolve) => (firstNext = resolve));

  const handOut = (res, invocation) => {
    pending.set(invocation.requestId, invocation);
    invocation.nextCalls = (invocation.nextCalls ?? 0) + 1;
    res.writeHead(200, {
      "content-type": "application/json",
      "lambda-runtime-aws-request-id": invocation.requestId,
      "lambda-runtime-deadline-ms": String(invocation.deadlineMs),
      "lambda-runtime-invoked-function-arn": FUNCTION_ARN,
      "lambda-runtime-trace-id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, "").slice(0, 24)};Parent=0000000000000001;Sampled=0`,
    });
    res.end(invocation.payload);
  };

  const readBody = async (req) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks).toString("utf8");
  };

  const api = http.createServer(async (req, res) => {
    const path = new URL(req.url, "http://runtime").pathname;
    const answer = (status, body) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.method === "GET" && path === "/2018-06-01/runtime/invocation/next") {
      firstNext();
      const invocation = queue.shift();
      if (invocation) return handOut(res, invocation);
      waiting.push(res); // long-polls until an invocation comes
      return;
    }
    const done = path.match(/^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/);
    if (req.method === "POST" && done) {
      const invocation = pending.get(decodeURIComponent(done[1]));
      const body = await readBody(req);
      if (!invocation) return answer(400, { errorMessage: "no such invocation", errorType: "InvalidRequestID" });
      pending.delete(invocation.requestId);
      if (done[2] === "response") {
        invocation.outcome = "response";
        invocation.resolve(JSON.parse(body));
      } else {
        invocation.outcome = "error";
        invocation.errorType = req.headers["lambda-runtime-function-error-type"];
        const error = JSON.parse(body || "{}");
        invocation.reject(Object.assign(new Error(error.errorMessage ?? "the function failed"), { errorType: error.errorType }));
      }
      return answer(202, { status: "OK" });
    }
    if (req.method === "POST" && path === "/2018-06-01/runtime/init/error") {
      initErrors.push(await readBody(req));
      return answer(202, { status: "OK" });
    }
    answer(404, { errorMessage: `no such route: ${req.method} ${path}`, errorType: "NotFound" });
  });
  api.requestTimeout = 0; // `next` long-polls
  api.keepAliveTimeout = 120_000;
  await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));

  // The Function URL: every request an invocation of the one runtime client.
  const invoke = (event) => {
    const result = new Promise((resolve, reject) => {
      const invocation = { requestId: randomUUID(), deadlineMs: Date.now() + timeoutMs, payload: JSON.stringify(event), path: event.rawPath, resolve, reject };
      invocations.push(invocation);
      const next = waiting.shift();
      if (next) handOut(next, invocation);
      else queue.push(invocation);
    });
    results.push(result.catch(() => {}));
    return result;
  };
  const front = await serve((event) => invoke(event), { port: 0, host: "127.0.0.1" });

  return {
    runtimeApi: `127.0.0.1:${api.address().port}`,
    functionUrl: `http://127.0.0.1:${front.address().port}`,
    invocations,
    initErrors,
    /** Resolves when every invocation so far has ended: a streamed response reaches the
     * client before the function posts its result. */
    settled: () => Promise.all(results),
    /** Resolves when the runtime client first asked for an invocation: it is up. */
    waitingForNext: () => waitingForNext,
    async close() {
      for (const res of waiting.splice(0)) res.destroy();
      const closed = Promise.all([new Promise((r) => api.close(r)), new Promise((r) => front.close(r))]);
      // The runtime client's keep-alive connection and the gateway's would hold close() open.
      api.closeAllConnections();
      front.closeAllConnections();
      await closed;
    },
  };
}
