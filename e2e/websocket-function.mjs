// Client WebSockets relayed to a Node function (e2e/websocket.test.mjs): a Fetch handler
// using `upgradeWebSocket(request)` under /ws/, a Hono app using `upgradeWebSocket(c => events)`
// under /hono/, and the test hooks under /e2e/. Served by `lambda-relay serve`.

import { createHash } from "node:crypto";

import { Hono } from "hono";
import { streamHandler, upgradeWebSocket } from "lambda-relay";

/** What the sockets saw, for the tests to read (GET /e2e/ws-events). */
const events = [];

const hono = new Hono();
hono.get(
  "/hono/echo",
  upgradeWebSocket(() => ({
    onMessage(event, ws) {
      ws.send(typeof event.data === "string" ? `hono:${event.data}` : event.data);
    },
    onClose(event) {
      events.push({ path: "/hono/echo", code: event.code, reason: event.reason, at: Date.now() });
    },
  })),
);

/** The subprotocols /ws/echo speaks, best first. */
const SPOKEN = ["chat.v2", "chat.v1"];

function echo(request, url) {
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  const protocol = SPOKEN.find((p) => offered.includes(p));
  const { socket, response } = upgradeWebSocket(request, { protocol, headers: { "set-cookie": "ws=1; Path=/" } });
  socket.binaryType = "arraybuffer";
  const tag = url.searchParams.get("tag") ?? "";
  const seen = { path: url.pathname, tag, texts: 0, binaries: 0, inOrder: true, origin: request.headers.get("origin"), cookie: request.headers.get("cookie") };
  socket.addEventListener("open", () => events.push({ ...seen, open: true }));
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      // "m<i>": numbered messages, which must come in order.
      if (event.data.startsWith("m") && event.data !== `m${seen.texts}`) seen.inOrder = false;
      seen.texts++;
      const close = /^close:(\d+):(.*)$/.exec(event.data);
      if (close) return socket.close(Number(close[1]), close[2]);
      if (event.data.startsWith("burst:")) {
        for (let i = 0; i < Number(event.data.slice(6)); i++) socket.send(`b${i}`);
        return;
      }
      if (event.data === "sha256") return socket.send(seen.sha256 ?? "");
      socket.send(event.data);
    } else {
      seen.binaries++;
      seen.sha256 = createHash("sha256").update(new Uint8Array(event.data)).digest("hex");
      socket.send(event.data);
    }
  };
  socket.onerror = (event) => events.push({ ...seen, error: event.message });
  seen.offered = request.headers.get("sec-websocket-protocol");
  socket.onclose = (event) => events.push({ ...seen, code: event.code, reason: event.reason, wasClean: event.wasClean, at: Date.now() });
  return response;
}

const app = streamHandler(async (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/e2e/ws-events") return Response.json(events, { headers: { "x-pid": String(process.pid) } });
  if (url.pathname.startsWith("/hono/")) return hono.fetch(request);
  if (url.pathname === "/ws/echo" || url.pathname === "/ws/deadline") return echo(request, url);
  if (url.pathname === "/ws/refuse") return new Response("no sockets for you", { status: 403, headers: { "x-why": "refused" } });
  if (url.pathname === "/ws/not-an-upgrade") {
    try {
      upgradeWebSocket(request);
      return new Response("upgraded?", { status: 500 });
    } catch (e) {
      return new Response(e.message, { status: 400 });
    }
  }
  return new Response("not found", { status: 404 });
});

/** `/ws/deadline` runs as an invocation with 1.5 s left (Lambda's context says so), to show the
 * deadline's close; every other path with the context it was given. */
export const handler = (event, context) => {
  if (event.rawPath !== "/ws/deadline") return app(event, context);
  const ends = Date.now() + 1500;
  return app(event, { ...context, getRemainingTimeInMillis: () => Math.max(0, ends - Date.now()) });
};
