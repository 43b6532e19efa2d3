// lambda-relay: true HTTP streaming for AWS Lambda through a Cloudflare Durable Object gateway.

export { streamHandler, streamifyHandler } from "./handlers.js";
export type { FetchHandler, FunctionUrlHandler, StreamifyHandler } from "./handlers.js";
export type { FunctionUrlEvent, FunctionUrlResult, LambdaContext } from "./event.js";
export { RelayError } from "./native.js";
export { ResponseStream } from "./response-stream.js";
export { serve } from "./serve.js";
export type { ServeOptions } from "./serve.js";
