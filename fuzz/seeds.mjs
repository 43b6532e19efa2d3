// Writes the seed corpus (fuzz/corpus/<target>/seed-*): valid frames of every type, and op
// sequences that open a session, exchange hellos and stream. The fuzzer grows the corpus
// from these; `npm run fuzz` keeps what it found (minimized) next to them.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "corpus");
const u16 = (n) => [n >> 8, n & 0xff];
const u32 = (n) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const u64 = (n) => [0, 0, 0, 0, ...u32(n)];
const text = (s) => [...u16(Buffer.byteLength(s)), ...Buffer.from(s)];
const headers = (pairs) => [...u16(pairs.length), ...pairs.flatMap(([n, v]) => [...text(n), ...text(v)])];

const hello = (received = 0, acked = 0) => [0x01, ...u64(received), ...u64(acked), ...u32(4096), ...u32(1024), ...u32(1024), ...u32(50)];
const frames = {
  hello: hello(),
  ack: [0x02, ...u64(1)],
  requestBody: [0x10, ...u64(0), ...u32(3), 1, 2, 3],
  requestEnd: [0x11, ...u64(1)],
  abort: [0x12, ...u16(1), ...text("client gone")],
  head: [0x20, ...u64(0), ...u16(200), ...headers([["content-type", "text/plain"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]])],
  body: [0x21, ...u64(1), ...u32(5), ...Buffer.from("hello")],
  end: [0x22, ...u64(2), ...headers([])],
  error: [0x23, ...u64(2), ...u16(1), ...text("boom")],
};
const message = (bytes) => [0, ...u16(bytes.length), ...bytes];
const seeds = {
  decode_frame: Object.values(frames),
  function_session: [
    [1, ...message(frames.hello), ...message(frames.requestBody), ...message(frames.requestEnd), 7, 7, 5, ...u16(200), ...u16(0), 6, ...u16(300), 8, 4, 10],
    [0, ...message(frames.hello), 5, ...u16(204), ...u16(0), 6, ...u16(10), 8, ...message([0x02, ...u64(2)])],
    [0, ...message(frames.hello), 5, ...u16(200), ...u16(0), 6, ...u16(4000), 9, 9, ...message(hello()), 4, 200, 4, 200],
    [1, ...message(frames.hello), ...message(frames.abort), 6, ...u16(1)],
  ],
  gateway_session: [
    [0, 5, 0, ...message(frames.hello), ...message(frames.head), ...message(frames.body), ...message(frames.end), 7, 7, 7, 8, ...u16(200), 2],
    [0, 5, 0, ...message(frames.hello), 6, ...u16(3000), ...message(frames.ack), 9, 5, 1, ...message(hello(0, 1)), 4, 100],
    [1, 5, 0, ...message(frames.hello), ...message(frames.head), ...message(frames.end), 7, 7],
    [0, 8, ...u16(302), 1, 5, 0, 4, 250, 4, 250, 4, 250, 4, 250],
  ],
  credentials: [
    "v2.1700000000.1700000960.5e3c88bf512178dd117891a4fa1990a2.95216beb29cfef87e33a2eaf0fd533539017e149342819bbefa1d16f40ddd16d\nid\nstream",
    "v1.01.00\nabc\nhttps://gw.example.com",
    "wss://gw.example.com/_relay\nrelay-1_2\nlambda-relay.v1, other",
    "ws://127.0.0.1:8787\na/b\nhttp://10.0.0.1:9000\nx-forwarded-for: 6.6.6.6\nconnection: x-a",
  ].map((s) => [...Buffer.from(s)]),
  sigv4: [
    "GET\n/\nAWS4-HMAC-SHA256 Credential=AKIDFUZZ/20231114/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\nhost:fn.example\nx-amz-date:20231114T221320Z",
    "POST\n/a/./b/../%2Fc//d?b=2&a=1&a=+&%E1%88%B4=%zz\n\ncontent-type: text/plain\nmy-header:  a   b\nMy-Header:c",
    "PUT\n/ሴ/..?\nAWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, SignedHeaders=, Signature=\nx-amz-date:2023",
  ].map((s) => [...Buffer.from(s)]),
};
for (const [target, inputs] of Object.entries(seeds)) {
  mkdirSync(path.join(dir, target), { recursive: true });
  inputs.forEach((bytes, i) => writeFileSync(path.join(dir, target, `seed-${i}`), Buffer.from(bytes)));
}
