// A direct WebSocket echo server (the `ws` package) on 127.0.0.1, for `npm run bench`: the
// round trip with no Durable Object and no Lambda in the way. Usage: node bench/ws-echo.mjs <port>
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 8790) });
wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on("listening", () => console.log(`listening on 127.0.0.1:${wss.address().port}`));
