// A CommonJS handler (streamifyHandler, a Node Writable) as the Node runtime interface client
// loads it with _HANDLER=handler-cjs.handler: e2e/runtimes.test.mjs.

const { streamifyHandler } = require("lambda-relay");

exports.handler = streamifyHandler(async (request, responseStream, env) => {
  const url = new URL(request.url);
  if (url.pathname !== "/context") {
    responseStream.statusCode = 404;
    return responseStream.end("no such route");
  }
  responseStream.setContentType("application/json");
  responseStream.write(""); // the head, then the body a little later: it streams
  await new Promise((r) => setTimeout(r, 5));
  responseStream.end(
    JSON.stringify({
      module: "cjs",
      pid: process.pid,
      requestId: env.awsRequestId,
      arn: env.invokedFunctionArn,
      functionName: env.functionName,
      memory: String(env.memoryLimitInMB),
      remainingMs: env.getRemainingTimeInMillis(),
    }),
  );
});
