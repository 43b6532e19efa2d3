"""A client's WebSocket on a plain Lambda, written as for uvicorn: a FastAPI endpoint that
echoes with a count, closes with 4000 on "bye", and sees the client leave. The gateway accepts
the client's upgrade only once the endpoint called ``accept``; each open socket holds one
invocation (docs/websockets.md has the cost model)."""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from lambda_relay import asgi

app = FastAPI()


@app.websocket("/ws")
async def echo(ws: WebSocket):
    await ws.accept(subprotocol="echo.v1" if "echo.v1" in ws.scope["subprotocols"] else None)
    count = 0
    try:
        while True:
            text = await ws.receive_text()
            count += 1
            if text == "bye":
                await ws.close(4000, f"bye after {count} messages")
                return
            await ws.send_text(f"{count}: {text}")
    except WebSocketDisconnect as gone:
        print(f"client socket closed: {gone.code} {gone.reason or ''}")


handler = asgi(app)
