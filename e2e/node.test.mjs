// End to end for the Node package: a client → the gateway in workerd → a Node function
// (streamHandler and streamifyHandler, on the machine's Node) served by `lambda-relay serve`.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";

import { freePort, gatewayProcess, hashBody, processLog, patternSha256, readGated, startGateway, startNodeFunction, stopAll, gatewayErrors } from "./support.mjs";

let gateway, fn;

before(async () => {
  const [gatewayPort, functionPort] = [await freePort(), await freePort()];
  // Every relayed invocation logs its line (by default only those that went wrong do).
  fn = await startNodeFunction({ port: functionPort, gatewayUrl: `ws://127.0.0.1:${gatewayPort}`, env: { LAMBDA_RELAY_LOG: "info" } });
  // Every request here goes through a location-hinted stub (workerd run locally ignores where).
  gateway = await startGateway({ port: gatewayPort, lambdaUrl: fn, vars: { DO_LOCATION: "weur" } });
});

after(stopAll);

async function functionEvents() {
  return (await fetch(`${fn}/events`)).json();
}

describe("Node function through the gateway", () => {
  it("streamHandler delivers each chunk before the next is made", async () => {
    const res = await fetch(`${gateway}/gated?chunks=3&tag=order`);
    const { lines, ended } = await readGated(res, fn, "order", 3);
    assert.deepEqual(lines, ["chunk 1", "chunk 2", "chunk 3"]);
    assert.ok(ended);
  });

  it("a Hono app sees the client's address through getConnInfo, and Hono's env, relayed", async () => {
    // Locally the gateway takes the client's address from cf-connecting-ip (Cloudflare sets it in production).
    const res = await fetch(`${gateway}/hono/whoami`, { headers: { "cf-connecting-ip": "203.0.113.9" } });
    assert.equal(res.status, 200);
    const seen = await res.json();
    assert.equal(seen.address, "203.0.113.9", "the client's address, not the gateway's");
    assert.equal(seen.rawPath, "/hono/whoami");
    assert.deepEqual(seen.relayHeaders, [], "no relay header reaches the app");
    assert.ok(seen.requestId, "the Lambda context's request id");
  });

  it("streamHandler delivers 100 MB sha256-identical", async () => {
    const n = 100_000_000;
    const started = Date.now();
    const { bytes, sha256 } = await hashBody(await fetch(`${gateway}/bytes?n=${n}`));
    const seconds = (Date.now() - started) / 1000;
    console.log(`Node function, 100 MB through the gateway in ${seconds.toFixed(2)} s: ${(n / 1e6 / seconds).toFixed(1)} MB/s`);
    assert.equal(bytes, n);
    assert.equal(sha256, patternSha256(n));
  });

  it("streams an 8 MB upload into request.body", async () => {
    const body = randomBytes(8_000_000);
    const res = await fetch(`${gateway}/upload`, { method: "POST", body });
    assert.equal(await res.text(), `8000000 ${createHash("sha256").update(body).digest("hex")}`);
  });

  it("drops the headers the function's connection header names, streamed or inline", async () => {
    for (const [query, body] of [["", "streamed"], ["?inline=1", "small and complete"]]) {
      const res = await fetch(`${gateway}/connection-named${query}`);
      assert.equal(await res.text(), body);
      assert.equal(res.headers.get("x-kept"), "yes");
      assert.equal(res.headers.get("x-hop"), null, `x-hop crossed the gateway (${query || "streamed"})`);
    }
  });

  it("passes a function's own gzip body, streamed, through byte for byte", async () => {
    // Raw bytes (no decoding by the client): what the function sent, exactly.
    const { headers, body } = await new Promise((resolve, reject) => {
      http
        .get(`${gateway}/gzip-streamed`, { headers: { "accept-encoding": "gzip" } }, (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        })
        .on("error", reject);
    });
    assert.equal(headers["content-encoding"], "gzip");
    assert.equal(createHash("sha256").update(body).digest("hex"), headers["x-gzip-sha256"]);
    assert.equal(gunzipSync(body).toString(), "a body the function compressed itself\n".repeat(2000));
  });

  it("fires request.signal and cancels the response stream when the client disconnects", async () => {
    const controller = new AbortController();
    const res = await fetch(`${gateway}/endless?tag=gone`, { signal: controller.signal });
    const reader = res.body.getReader();
    await reader.read();
    const mine = async () => (await functionEvents()).events.filter((e) => e.tag === "gone").map((e) => e.kind);
    assert.deepEqual(await mine(), [], "nothing fired while the client reads");
    controller.abort();
    let kinds = [];
    for (let i = 0; i < 500 && !(kinds.includes("signal") && kinds.includes("cancelled")); i++) {
      await new Promise((r) => setTimeout(r, 20));
      kinds = await mine();
    }
    assert.ok(kinds.includes("signal") && kinds.includes("cancelled"), `fired: ${kinds}`);
    // Why, as the addon says it: a RelayError whose code is a property, not a message prefix.
    const signal = (await functionEvents()).events.find((e) => e.tag === "gone" && e.kind === "signal");
    assert.equal(signal.reason.name, "RelayError");
    assert.equal(signal.reason.code, "ERR_RELAY_ABORTED");
    assert.doesNotMatch(signal.reason.message, /^ERR_/);
  });

  it("names every request with a relay id the gateway's one log line for it carries, with its bytes, status and outcome", async () => {
    /** The gateway's log line for `relayId`, once written (the exchange ends after the client read its end). */
    const logLine = async (relayId) => {
      for (let i = 0; i < 250; i++) {
        const line = gatewayProcess.log.find((l) => l.includes('"event":"lambda-relay.request"') && l.includes(relayId));
        if (line) return JSON.parse(line.slice(line.indexOf("{")));
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.fail(`no log line for ${relayId}`);
    };
    const body = randomBytes(3_000_000);
    const upload = await fetch(`${gateway}/upload?secret=not-logged`, { method: "POST", body, headers: { "content-length": String(body.length) } });
    const uploaded = await upload.text();
    const relayId = upload.headers.get("x-lambda-relay-id");
    assert.match(relayId, /^[0-9a-f]{64}$/);
    const line = await logLine(relayId);
    assert.deepEqual(
      { method: line.method, path: line.path, status: line.status, outcome: line.outcome, request_bytes: line.request_bytes, resumes: line.resumes },
      { method: "POST", path: "/upload", status: 200, outcome: "complete", request_bytes: 3_000_000, resumes: 0 },
    );
    assert.equal(line.response_bytes, Buffer.byteLength(uploaded), "a streamed answer's bytes");
    assert.ok(line.ttfb_ms <= line.duration_ms, JSON.stringify(line));
    assert.ok(!JSON.stringify(line).includes("not-logged"), "the query stays out of the log");
    // The function's own line for the same request: the same relay id.
    let fnLine;
    for (let i = 0; i < 250 && !fnLine; i++) {
      fnLine = processLog("node function").find((l) => l.includes('"event":"lambda-relay.invocation"') && l.includes(relayId));
      if (!fnLine) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(fnLine, "the function logged the invocation");
    assert.deepEqual(
      (({ level, status, outcome }) => ({ level, status, outcome }))(JSON.parse(fnLine)),
      { level: "info", status: 200, outcome: "relayed" },
    );

    const failed = await fetch(`${gateway}/fail-before-head`);
    assert.equal(failed.status, 502);
    await failed.text();
    const failure = await logLine(failed.headers.get("x-lambda-relay-id"));
    assert.deepEqual([failure.status, failure.outcome, failure.error_code], [502, "failed", "handler_error"]);

    const bytes = await fetch(`${gateway}/bytes?n=1000`);
    assert.equal((await bytes.arrayBuffer()).byteLength, 1000);
    const small = await logLine(bytes.headers.get("x-lambda-relay-id"));
    assert.equal(small.status, 200);
    assert.ok(["complete", "inline"].includes(small.outcome), small.outcome);
  });

  it("aborts the client's transfer when the body fails after the head", async () => {
    for (const path of ["/fail-after-head", "/s/fail-after-head"]) {
      const res = await fetch(`${gateway}${path}`);
      assert.equal(res.status, 200);
      await assert.rejects(async () => {
        for await (const _ of res.body);
      }, `${path} must not end cleanly`);
    }
  });

  it("answers 502 with handler_error when the handler throws before the head", async () => {
    const res = await fetch(`${gateway}/fail-before-head`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-lambda-relay-error"), "handler_error");
  });

  it("streamifyHandler: destroy() without an error aborts the client's transfer instead of leaving it waiting", async () => {
    const res = await fetch(`${gateway}/s/destroy`);
    assert.equal(res.status, 200);
    const received = [];
    await assert.rejects(async () => {
      for await (const chunk of res.body) received.push(Buffer.from(chunk));
    });
    assert.equal(Buffer.concat(received).toString(), "partial\n");
  });

  it("streamifyHandler: a 1xx status is the handler's error, a 502", async () => {
    const res = await fetch(`${gateway}/s/status?code=103`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-lambda-relay-error"), "handler_error");
  });

  it("streams 5 million one-byte chunks intact with the function's memory bounded", async () => {
    const n = 5_000_000;
    const res = await fetch(`${gateway}/tiny?n=${n}&tag=tiny5m`);
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of res.body) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    const expected = createHash("sha256");
    const all = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) all[i] = i % 251;
    expected.update(all);
    assert.equal(bytes, n);
    assert.equal(hash.digest("hex"), expected.digest("hex"));
    const { produced } = await functionEvents();
    const growth = produced.tiny5m_rss_growth / 2 ** 20;
    console.log(`5 M one-byte chunks: function RSS grew ${growth.toFixed(1)} MiB`);
    assert.ok(growth < 64, `the function grew ${growth.toFixed(1)} MiB for a 5 MB body of one-byte chunks`);
  });

  it("keeps serving after clients of one-byte streams leave mid-way", async () => {
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const res = await fetch(`${gateway}/tiny?n=100000000&tag=left${i}`, { signal: controller.signal });
      const reader = res.body.getReader();
      let got = 0;
      while (got < 100_000) got += (await reader.read()).value.length;
      controller.abort();
    }
    // Each abandoned stream is cancelled, having made no more than the window let it.
    const tags = ["left0", "left1", "left2"];
    const cancelled = async () => {
      const { events } = await functionEvents();
      return tags.filter((tag) => events.some((e) => e.tag === tag && e.kind === "cancelled"));
    };
    let gone = [];
    for (let i = 0; i < 500 && gone.length < tags.length; i++) {
      await new Promise((r) => setTimeout(r, 20));
      gone = await cancelled();
    }
    assert.deepEqual(gone, tags, "every abandoned producer was cancelled");
    const { produced } = await functionEvents();
    for (const tag of tags) {
      assert.ok(produced[tag] < 8 * 2 ** 20, `${tag} made ${produced[tag]} bytes for a client that read 100 kB`);
    }
    const res = await fetch(`${gateway}/bytes?n=1000000`);
    assert.deepEqual(await hashBody(res), { bytes: 1_000_000, sha256: patternSha256(1_000_000) });
  });

  it("streamifyHandler: a paused client holds the Readable, then the body arrives identical", async () => {
    // Counted, not timed: the bound holds at every look, paused and reading.
    const n = 200_000_000;
    const window = 4 * 2 ** 20; // the gateway's default
    // The window, the stream's 1 MiB high-water mark, the Readable's own buffer, a write batch
    // in the addon, and what workerd's, the kernel's and undici's buffers hold.
    const aheadBound = 48_000_000;
    const res = await fetch(`${gateway}/s/readable?n=${n}&tag=paused`);
    const reader = res.body.getReader();
    const hash = createHash("sha256");
    let received = 0;
    const take = (value) => {
      hash.update(value);
      received += value.length;
    };
    take((await reader.read()).value);
    const look = async () => {
      const { produced, needDrain } = await functionEvents();
      const ahead = (produced.paused ?? 0) - received;
      assert.ok(ahead <= aheadBound, `the producer ran ${ahead} bytes ahead of a client that read ${received}`);
      return { produced: produced.paused ?? 0, held: needDrain.paused === true };
    };
    // Paused: the producer fills the window, then waits for 'drain' the relay does not give.
    let seen = await look();
    for (let i = 0; !(seen.held && seen.produced >= window); i++) {
      assert.ok(i < 6000, `the producer never filled the window: ${JSON.stringify(seen)}`); // a hang guard
      await new Promise((r) => setTimeout(r, 20));
      seen = await look();
    }
    // Still paused: twenty more looks, each inside the bound, and the producer never finishes.
    for (let i = 0; i < 20; i++) seen = await look();
    assert.ok(seen.held && seen.produced < n, `a paused client let the producer finish: ${JSON.stringify(seen)}`);
    console.log(`figure: a paused client held the Readable at ${(seen.produced / 1e6).toFixed(1)} MB of ${n / 1e6} MB`);
    // Reading: the producer keeps pace with the client, never more than the bound ahead.
    for (let next = 16 * 2 ** 20; ; ) {
      const { done, value } = await reader.read();
      if (done) break;
      take(value);
      if (received >= next) {
        await look();
        next += 16 * 2 ** 20;
      }
    }
    assert.equal(received, n);
    assert.equal(hash.digest("hex"), patternSha256(n));
  });
});

describe("uploads through the gateway", () => {
  it("arrive in frames of what the client sent, not one per chunk workerd hands over", async () => {
    // workerd hands a request body over in ~4 KiB pieces; read BYOB into a frame-sized
    // buffer, a fast upload crosses in far fewer, larger frames (a bound, not a timing).
    const n = 16 * 2 ** 20;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const body = new ReadableStream({
      pull(c) {
        if (sent >= n) return c.close();
        c.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const { bytes, pieces } = await (await fetch(`${gateway}/messages`, { method: "POST", body, duplex: "half" })).json();
    assert.equal(bytes, n);
    console.log(`figure: a 16 MiB upload crossed in ${pieces} frames, ${(n / pieces / 1024).toFixed(1)} KiB each`);
    assert.ok(n / pieces >= 16 * 1024, `${pieces} frames for 16 MiB: ${(n / pieces / 1024).toFixed(1)} KiB each`);
  });

  it("pass on a chunk that trickles at once, never held back for more", async () => {
    // Ten bytes, then silence until the function has them: a gateway that held small chunks
    // back to fill a frame (issue 20's gathering must not) would never deliver them, and the
    // hang guard would fail the test.
    const tag = `trickle-${Date.now()}`;
    const { hostname, port } = new URL(gateway);
    const req = http.request({ host: hostname, port, method: "POST", path: `/trickle?tag=${tag}`, headers: { "transfer-encoding": "chunked" } });
    const response = new Promise((resolve, reject) => {
      req.on("response", (r) => {
        let text = "";
        r.on("data", (d) => (text += d));
        r.on("end", () => resolve({ status: r.statusCode, text }));
      });
      req.on("error", reject);
    });
    for (const upto of [10, 20, 30]) {
      req.write(Buffer.alloc(10, upto));
      for (let i = 0; (await functionEvents()).produced[tag] !== upto; i++) {
        assert.ok(i < 500, `the function never got byte ${upto} of a trickled body`); // a hang guard
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    req.end();
    assert.deepEqual(await response, { status: 200, text: "30" });
  });
});

describe("the gateway's log", () => {
  it("reports no uncaught exception, panic or unhandled rejection but its deliberate aborts", () => {
    const { deliberate, unexpected } = gatewayErrors();
    assert.deepEqual(unexpected, []);
    assert.ok(deliberate.length > 0, "the tests above aborted transfers, and the log shows them");
  });
});
