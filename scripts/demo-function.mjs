// The demo's function: the classic example, and the upload example under /upload. (One
// gateway invokes one function URL, so the demo routes by path.)
import { handler as classic } from "../examples-node/classic/handler.mjs";
import { handler as upload } from "../examples-node/upload/handler.mjs";

export const handler = (event, context) => (event.rawPath === "/upload" ? upload : classic)(event, context);
