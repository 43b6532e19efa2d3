// A client's WebSocket on a plain Lambda: an echo that counts. Text comes back numbered,
// binary comes back as it was sent, and "bye" makes the function close (code 4000). The
// socket is the browser's shape (send, close, binaryType, message/close events); the handler
// returns `response` (a 101 for the gateway to accept, or whatever it wants to refuse with).

import { streamHandler, upgradeWebSocket } from "lambda-relay";

export const handler = streamHandler((request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("connect with a WebSocket: new WebSocket('wss://<gateway>/ws')\n", { status: 426, headers: { upgrade: "websocket" } });
  }
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  const { socket, response } = upgradeWebSocket(request, { protocol: offered.includes("echo.v1") ? "echo.v1" : undefined });
  socket.binaryType = "arraybuffer";
  let count = 0;
  socket.addEventListener("message", (event) => {
    count += 1;
    if (event.data === "bye") return socket.close(4000, `bye after ${count} messages`);
    socket.send(typeof event.data === "string" ? `${count}: ${event.data}` : event.data);
  });
  socket.addEventListener("close", (event) => console.log(`client socket closed: ${event.code} ${event.reason}`));
  return response;
});
