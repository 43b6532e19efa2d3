// The ESM entry: the CommonJS build, imported as a module (no createRequire, so bundlers
// follow it) and re-exported by name. test/package.test.mjs checks the names match.
import cjs from "../dist/cjs/index.js";

export const { streamHandler, streamifyHandler, streamifyResponse, nodeHandler, HttpResponseStream, RelayError, RelayWebSocket, ResponseStream, serve, upgradeWebSocket } = cjs;
export default cjs;
