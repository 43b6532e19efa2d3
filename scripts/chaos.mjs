// `npm run test:chaos [-- --streams N --websockets N --seed S --verbose]`: the full chaos
// campaign, 200 streams of 1-20 MB (responses and uploads) and 50 WebSocket sessions of
// 0.25-4 MB of messages through the gateway in workerd, each cut 1 to 5 times at seeded offsets;
// then a client WebSocket idle two minutes on keepalives alone (--idle-seconds). Prints one line per stream with --verbose, then the summary line;
// exits 1 unless every stream arrived whole.

import { runChaos, runIdle, summary } from "../e2e/chaos.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const verbose = process.argv.includes("--verbose");
const tally = await runChaos({
  streams: arg("streams", 200),
  sockets: arg("websockets", 50),
  seed: arg("seed", 1),
  log: verbose ? (line) => console.log(line) : () => {},
});
console.log(summary(tally));
const idleSeconds = arg("idle-seconds", 120);
const idle = await runIdle({ seconds: idleSeconds });
console.log(`chaos websocket idle: ${idleSeconds} s at a 3 s idle timeout, open=${idle.open} echo_after=${idle.after} close=${idle.closeCode} keepalive_bytes=${idle.keepalive.toGateway}/${idle.keepalive.toFunction}`);
const idleOk = idle.before && idle.after && idle.open && idle.closeCode === 1000;
const w = tally.websocket;
const clean = tally.lost + tally.duplicated + tally.truncated_clean + tally.failed + w.lost + w.duplicated + w.failed === 0;
process.exit(clean && idleOk ? 0 : 1);
