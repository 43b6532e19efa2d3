// Server-sent events, token by token, as an LLM front end sends them.

import { streamHandler } from "lambda-relay";

const encoder = new TextEncoder();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const handler = streamHandler(async (request) => {
  const prompt = new URL(request.url).searchParams.get("prompt") ?? "stream me a sentence";
  const tokens = `You asked: "${prompt}". Here is an answer, one token at a time.`.split(/(?<= )/);
  const body = new ReadableStream({
    async start(controller) {
      for (const [i, token] of tokens.entries()) {
        if (request.signal.aborted) return; // the client went away: stop generating
        controller.enqueue(encoder.encode(`id: ${i}\nevent: token\ndata: ${JSON.stringify(token)}\n\n`));
        await sleep(80);
      }
      controller.enqueue(encoder.encode("event: done\ndata: {}\n\n"));
      controller.close();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
});
