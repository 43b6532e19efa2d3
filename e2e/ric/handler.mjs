// An ES module handler (streamHandler) as the Node runtime interface client loads it from
// LAMBDA_TASK_ROOT with _HANDLER=handler.handler: e2e/runtimes.test.mjs.

import { streamHandler } from "lambda-relay";

import { pattern } from "../support.mjs";

export const handler = streamHandler(async (request, env) => {
  const url = new URL(request.url);
  if (url.pathname === "/context") {
    const seen = {
      module: "esm",
      pid: process.pid,
      requestId: env.awsRequestId,
      arn: env.invokedFunctionArn,
      functionName: env.functionName,
      memory: String(env.memoryLimitInMB),
      remainingMs: env.getRemainingTimeInMillis(),
    };
    // Streamed, not complete when returned: the response goes over the relay's socket.
    const body = new ReadableStream({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 5));
        controller.enqueue(new TextEncoder().encode(JSON.stringify(seen)));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }
  if (url.pathname === "/bytes") {
    const n = Number(url.searchParams.get("n"));
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent >= n) return controller.close();
        const len = Math.min(64 * 1024, n - sent);
        controller.enqueue(pattern(sent, len));
        sent += len;
      },
    });
    return new Response(body);
  }
  return new Response("no such route", { status: 404 });
});
