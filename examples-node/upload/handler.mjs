// A streamed upload: the request body is hashed as it arrives (it streams from the gateway,
// with no 6 MB limit) and the byte count and sha256 are streamed back.

import { createHash } from "node:crypto";

import { streamHandler } from "lambda-relay";

export const handler = streamHandler(async (request) => {
  const hash = createHash("sha256");
  let bytes = 0;
  if (request.body) {
    for await (const chunk of request.body) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  }
  return Response.json({ bytes, sha256: hash.digest("hex") });
});
