// End to end in a browser: headless Chromium (Debian's, driven by playwright-core) opens the
// demo page (scripts/demo-page.html) through the gateway in workerd. The page reads a relayed
// stream with fetch() and a ReadableStream, and server-sent events with an EventSource.
// - one by one: the function makes chunk i+1 only after the test saw chunk i on the page;
// - in order: the SSE events arrive with ids 0, 1, 2, … and spell the whole answer;
// - a WebSocket: Chromium's own client talks to the function's echo (text and binary apart,
//   the function's close code and reason);
// - the page looks as it should: its screenshot matches e2e/browser/demo-page.png (compared
//   pixel by pixel in the browser; UPDATE_SCREENSHOTS=1 rewrites it).

import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { freePort, ROOT, startGateway, startNodeFunction, stopAll } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const GOLDEN = path.join(ROOT, "e2e", "browser", "demo-page.png");
/** Share of pixels that may differ from the golden image: a few dozen, for antialiasing; one
 * changed word is ten times that. */
const MAX_DIFFERENT = 0.0001;

const CHUNKS = 4;
const PROMPT = "a browser test";
const ANSWER = `You asked: "${PROMPT}". Here is an answer, one token at a time.`;

describe("the demo page in headless Chromium", { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}` }, () => {
  let browser, page, gateway, fn;

  before(async () => {
    const { chromium } = await import("playwright-core");
    const [gp, fp] = [await freePort(), await freePort()];
    fn = await startNodeFunction({ port: fp, gatewayUrl: `ws://127.0.0.1:${gp}`, module: path.join(ROOT, "e2e", "browser-function.mjs") });
    gateway = await startGateway({ port: gp, lambdaUrl: fn });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--font-render-hinting=none"] });
    page = await browser.newPage({ viewport: { width: 800, height: 560 }, deviceScaleFactor: 1 });
  });

  after(async () => {
    await browser?.close();
    await stopAll();
  });

  it("shows each chunk before the next is made, and the SSE events in order", async () => {
    const stream = `/gated?chunks=${CHUNKS}&tag=browser`;
    const sse = `/sse?prompt=${encodeURIComponent(PROMPT)}`;
    await page.goto(`${gateway}/page?test=1&stream=${encodeURIComponent(stream)}&sse=${encodeURIComponent(sse)}`);
    for (let i = 1; i <= CHUNKS; i++) {
      // Chunk i is on the page while chunk i+1 does not exist yet: the browser got it streamed.
      await page.waitForFunction((n) => document.querySelectorAll("li.chunk").length >= n, i);
      assert.equal(await page.locator("li.chunk").count(), i, `exactly ${i} chunks before the release`);
      if (i < CHUNKS) await fetch(`${fn}/e2e/release?tag=browser&upto=${i + 1}`);
    }
    await page.waitForFunction(() => document.getElementById("stream-state").dataset.state === "done");
    assert.deepEqual(await page.locator("li.chunk").allTextContents(), Array.from({ length: CHUNKS }, (_, i) => `chunk ${i + 1}`));

    await page.waitForFunction(() => document.getElementById("sse-state").dataset.state !== "streaming" && document.getElementById("sse-state").dataset.state !== "waiting");
    assert.equal(await page.locator("#sse-state").getAttribute("data-state"), "done");
    assert.equal(await page.locator("#tokens").textContent(), ANSWER);
    const ids = await page.evaluate(() => window.sseIds);
    assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i), "event ids in order, none missing");
    assert.equal(ids.length, ANSWER.split(/(?<= )/).length);
  });

  it("talks over a WebSocket to the function: text and binary kept apart, the function's close", async () => {
    await page.waitForFunction(() => !["waiting", "open"].includes(document.getElementById("ws-state").dataset.state));
    assert.deepEqual(await page.evaluate(() => window.wsClose), { code: 4000, reason: "bye after 4 messages", wasClean: true });
    assert.equal(await page.locator("#ws-state").getAttribute("data-state"), "done");
    assert.deepEqual(await page.evaluate(() => window.wsLog), [
      { binary: false, data: "1: hello from the browser" },
      { binary: true, data: [0, 1, 2, 250, 251, 252] },
      { binary: false, data: "3: grüße, ünïcode" },
    ]);
  });

  it("looks as it should once the streams and the socket are done (screenshot)", async () => {
    const shot = await page.screenshot({ fullPage: false });
    if (process.env.UPDATE_SCREENSHOTS || !existsSync(GOLDEN)) {
      writeFileSync(GOLDEN, shot);
      if (!process.env.UPDATE_SCREENSHOTS) assert.fail(`no golden image yet: wrote ${GOLDEN}; check it and commit it`);
      return;
    }
    const diff = await page.evaluate(
      async ([a, b]) => {
        const load = async (b64) => {
          const img = new Image();
          img.src = `data:image/png;base64,${b64}`;
          await img.decode();
          const canvas = new OffscreenCanvas(img.width, img.height);
          const ctx = canvas.getContext("2d");
          ctx.drawImage(img, 0, 0);
          return ctx.getImageData(0, 0, img.width, img.height);
        };
        const [x, y] = [await load(a), await load(b)];
        if (x.width !== y.width || x.height !== y.height) return { size: `${x.width}x${x.height} vs ${y.width}x${y.height}` };
        let different = 0;
        for (let i = 0; i < x.data.length; i += 4) {
          const d = Math.abs(x.data[i] - y.data[i]) + Math.abs(x.data[i + 1] - y.data[i + 1]) + Math.abs(x.data[i + 2] - y.data[i + 2]);
          if (d > 48) different += 1;
        }
        return { share: different / (x.width * x.height) };
      },
      [shot.toString("base64"), readFileSync(GOLDEN).toString("base64")],
    );
    console.log(`screenshot: ${diff.size ?? `${(diff.share * 100).toFixed(3)}% of pixels differ`}`);
    if (diff.size || diff.share > MAX_DIFFERENT) writeFileSync(GOLDEN.replace(/\.png$/, ".actual.png"), shot);
    assert.equal(diff.size, undefined, `screenshot size: ${diff.size}`);
    assert.ok(diff.share <= MAX_DIFFERENT, `${(diff.share * 100).toFixed(2)}% of pixels differ from ${path.relative(ROOT, GOLDEN)} (see demo-page.actual.png)`);
  });
});
