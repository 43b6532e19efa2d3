// The benchmarks' Node function (`lambda-relay serve bench/node-function.mjs`): the same
// routes as the Rust one, its bodies as cheap as they can be (one shared buffer written again
// and again), so what is measured is the relay. `/writable/bytes` is `/bytes` written to
// streamifyHandler's Node Writable instead of returned as a web ReadableStream.
import { streamHandler, streamifyHandler } from "lambda-relay";

const fetchStyle = streamHandler(async (request) => {
  const url = new URL(request.url);
  const q = (k, d) => Number(url.searchParams.get(k) ?? d);
  switch (url.pathname) {
    case "/bytes": {
      const n = q("n", 1 << 20);
      const size = Math.max(1, q("chunk", 256 * 1024));
      const chunk = new Uint8Array(size).fill(0x5a);
      let sent = 0;
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (sent >= n) return controller.close();
            const len = Math.min(size, n - sent);
            controller.enqueue(len === size ? chunk : chunk.subarray(0, len));
            sent += len;
          },
        }),
      );
    }
    case "/upload": {
      let n = 0;
      for await (const chunk of request.body) n += chunk.byteLength;
      return new Response(String(n));
    }
    case "/small":
      return new Response("ok");
    default:
      return new Response("no such route", { status: 404 });
  }
});

const writable = streamifyHandler(async (request, stream) => {
  const q = new URL(request.url).searchParams;
  const n = Number(q.get("n") ?? 1 << 20);
  const size = Math.max(1, Number(q.get("chunk") ?? 256 * 1024));
  const chunk = Buffer.alloc(size, 0x5a);
  for (let sent = 0; sent < n; ) {
    const len = Math.min(size, n - sent);
    if (!stream.write(len === size ? chunk : chunk.subarray(0, len))) await new Promise((r) => stream.once("drain", r));
    sent += len;
  }
  stream.end();
});

export const handler = (event, context) => (event.rawPath === "/writable/bytes" ? writable(event, context) : fetchStyle(event, context));
