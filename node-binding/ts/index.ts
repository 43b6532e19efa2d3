// lambda-relay: true HTTP streaming for AWS Lambda through a Cloudflare Durable Object gateway.

export { streamHandler, streamifyHandler, streamifyResponse } from "./handlers.js";
export type { AwsStreamingHandler, FetchHandler, FunctionUrlHandler, StreamifyHandler } from "./handlers.js";
export type { FunctionUrlEvent, FunctionUrlRequestContext, FunctionUrlResult, HandlerEnv, LambdaContext } from "./event.js";
export { RelayError } from "./native.js";
export { HttpResponseStream, ResponseStream } from "./response-stream.js";
export type { HttpResponseMetadata } from "./response-stream.js";
export { nodeHandler } from "./node-app.js";
export type { NodeApp, NodeListener } from "./node-app.js";
export { serve } from "./serve.js";
export type { ServeOptions } from "./serve.js";
export { RelayWebSocket, upgradeWebSocket } from "./websocket.js";
export type { UpgradeOptions, WebSocketContext, WebSocketEvents } from "./websocket.js";
