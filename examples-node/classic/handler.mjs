// The classic: five chunks, one per second, from a Fetch Response with a ReadableStream.
// Each reaches the client when it is produced, not all at the end.

import { streamHandler } from "lambda-relay";

const encoder = new TextEncoder();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const handler = streamHandler(async () => {
  let n = 0;
  const body = new ReadableStream({
    async pull(controller) {
      if (n > 0) await sleep(1000);
      n += 1;
      controller.enqueue(encoder.encode(`chunk ${n} of 5\n`));
      if (n === 5) controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
});
