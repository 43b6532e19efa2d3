// The demo's function. One gateway invokes one function URL, so it routes by path: the
// classic example at /, the upload example at /upload, the SSE example at /sse, the
// WebSocket example at /ws, and the browser page (scripts/demo-page.html) at /page.
import { readFileSync } from "node:fs";

import { streamHandler } from "lambda-relay";

import { handler as classic } from "../examples-node/classic/handler.mjs";
import { handler as sse } from "../examples-node/sse/handler.mjs";
import { handler as upload } from "../examples-node/upload/handler.mjs";
import { handler as websocket } from "../examples-node/websocket/handler.mjs";

const html = readFileSync(new URL("./demo-page.html", import.meta.url));
const page = streamHandler(() => new Response(html, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } }));

const routes = { "/upload": upload, "/sse": sse, "/ws": websocket, "/page": page };

export const handler = (event, context) => (routes[event.rawPath] ?? classic)(event, context);
