"""FastAPI WebSocket endpoints relayed to a Python function (e2e/websocket.test.mjs), served by
``python -m lambda_relay serve websocket_app:app``: as they would be written for uvicorn."""

import asyncio
import hashlib
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.responses import PlainTextResponse

app = FastAPI()
EVENTS: list[dict] = []


@app.get("/e2e/ws-events")
async def events():
    return JSONResponse(EVENTS)


@app.websocket("/py/echo")
async def echo(ws: WebSocket):
    offered = ws.scope["subprotocols"]
    protocol = next((p for p in ("chat.v2", "chat.v1") if p in offered), None)
    await ws.accept(subprotocol=protocol, headers=[(b"set-cookie", b"py=1; Path=/")])
    tag = ws.query_params.get("tag", "")
    seen = {"path": "/py/echo", "tag": tag, "texts": 0, "binaries": 0, "cookie": ws.cookies.get("a")}
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
            if message.get("text") is not None:
                text = message["text"]
                seen["texts"] += 1
                if text.startswith("close:"):
                    _, code, reason = text.split(":", 2)
                    await ws.close(int(code), reason)
                    EVENTS.append({**seen, "code": int(code), "reason": reason, "by": "function", "at": time.time() * 1000})
                    return
                await ws.send_text(text)
            else:
                seen["binaries"] += 1
                data = message["bytes"]
                seen["sha256"] = hashlib.sha256(data).hexdigest()
                await ws.send_bytes(data)
    except WebSocketDisconnect as e:
        EVENTS.append({**seen, "code": e.code, "reason": e.reason or "", "by": "client", "at": time.time() * 1000})


@app.websocket("/py/refuse")
async def refuse(ws: WebSocket):
    # The websocket.http.response extension: any HTTP response instead of a 101.
    await ws.send_denial_response(PlainTextResponse("members only", status_code=401, headers={"www-authenticate": "Bearer"}))


@app.websocket("/py/close-before-accept")
async def close_before_accept(ws: WebSocket):
    await ws.close(code=1008)


@app.websocket("/py/deaf")
async def deaf(ws: WebSocket):
    # Accepts and never reads: the client's messages back up at the gateway.
    await ws.accept()
    await asyncio.sleep(60)
