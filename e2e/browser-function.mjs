// The browser test's function: the demo's (page, classic, SSE) plus the e2e function's gated
// stream, whose next chunk is made only once the test released it (`/e2e/release`).
import { handler as demo } from "../scripts/demo-function.mjs";
import { handler as e2e } from "./node-function.mjs";

const E2E = new Set(["/gated", "/e2e/release"]);

export const handler = (event, context) => (E2E.has(event.rawPath) ? e2e : demo)(event, context);
