"""A FastAPI app exercising what the tests assert, served by lambda_relay.asgi, with a raw
ASGI route for disconnects and backpressure (what the app's send and receive see)."""

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from . import shared

STARTED: list[str] = []


@asynccontextmanager
async def lifespan(_app):
    STARTED.append("startup")
    yield


api = FastAPI(lifespan=lifespan)


@api.get("/gated")
async def gated(chunks: int, tag: str):
    return StreamingResponse(shared.gated_chunks(chunks, tag), media_type="text/plain")


@api.get("/e2e/release")
async def release(tag: str, upto: int):
    shared.release(tag, upto)
    return Response(status_code=204)


@api.get("/bytes")
async def bytes_route(n: int = 1 << 20):
    return StreamingResponse(shared.pattern_chunks(n), media_type="application/octet-stream")


@api.post("/upload")
async def upload(request: Request):
    return PlainTextResponse(await shared.length_and_sha256(request.stream()))


@api.get("/events")
async def events():
    return {"events": shared.events(), "started": STARTED, "flow": shared.flows()}


@api.get("/fail-after-head")
async def fail_after_head():
    async def body():
        yield b"the head and a first chunk\n"
        await asyncio.sleep(0.05)
        raise RuntimeError("the app failed after the head")

    return StreamingResponse(body(), media_type="text/plain")


@api.get("/sse")
async def sse():
    async def body():
        for i in range(5):
            yield f"id: {i}\ndata: token {i}\n\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(body(), media_type="text/event-stream")


async def raw(scope, receive, send):
    """Plain ASGI: `/raw/stream?tag=` sends 64 KiB chunks until the client goes away or
    `total` bytes are out, recording each send it completed, the http.disconnect it got and
    that it stopped."""
    from urllib.parse import parse_qs

    q = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    tag, total = q.get("tag", ""), int(q.get("total", str(1 << 40)))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    disconnected = asyncio.Event()

    async def watch():
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                shared.record(tag=tag, kind="disconnect")
                disconnected.set()
                return

    watcher = asyncio.ensure_future(watch())
    sent = 0
    try:
        while sent < total and not disconnected.is_set():
            length = min(64 * 1024, total - sent)
            shared.flow(tag, pending=length)
            await send({"type": "http.response.body", "body": shared.pattern_chunk(sent, length), "more_body": True})
            sent += length
            shared.flow(tag, sent=sent, pending=0)
        if not disconnected.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError as e:  # the relay refuses sends once the client is gone; receive says so
        shared.record(tag=tag, kind="send-failed", error=type(e).__name__, code=getattr(e, "code", None))
        if not disconnected.is_set():
            message = await receive()
            shared.record(tag=tag, kind=message["type"].removeprefix("http."))
    finally:
        watcher.cancel()
        shared.record(tag=tag, kind="stopped", bytes=sent)


async def unended(scope, receive, send):
    """`/raw/unended?status=`: a head and part of a body, then the app returns without
    ending it; the relay ends the response (or fails it, for a status it cannot carry)."""
    status = int(dict(x.split("=") for x in scope["query_string"].decode().split("&"))["status"])
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})


async def after_response(scope, receive, send):
    """`/raw/after-response?tag=`: a response too large to ride in the result, then what
    ``receive`` says once it was sent (the ASGI spec: ``http.disconnect``)."""
    tag = scope["query_string"].decode().removeprefix("tag=")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": shared.pattern_chunk(0, 100_000), "more_body": False})
    while (message := await receive())["type"] == "http.request":
        pass
    shared.record(tag=tag, kind="after-response", message=message["type"])


async def impatient_upload(scope, receive, send):
    """`/raw/impatient-upload`: reads the body as apps that poll do, each read given a moment
    (``wait_for`` with a tiny timeout, cancelled when it runs out) and Starlette's
    ``is_disconnected()`` between reads; answers the length and sha256 of what it got."""
    import hashlib

    from starlette.requests import Request as StarletteRequest

    request = StarletteRequest(scope, receive)
    digest, n, timeouts = hashlib.sha256(), 0, 0
    while True:
        try:
            message = await asyncio.wait_for(receive(), timeout=0.001)
        except asyncio.TimeoutError:
            timeouts += 1
            await request.is_disconnected()
            continue
        if message["type"] != "http.request":
            break
        digest.update(message.get("body", b""))
        n += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = f"{n} {digest.hexdigest()}".encode()
    shared.record(kind="impatient-upload", timeouts=timeouts)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/raw/impatient-upload":
        return await impatient_upload(scope, receive, send)
    if scope["type"] == "http" and scope["path"] == "/raw/unended":
        return await unended(scope, receive, send)
    if scope["type"] == "http" and scope["path"] == "/raw/after-response":
        return await after_response(scope, receive, send)
    if scope["type"] == "http" and scope["path"].startswith("/raw/"):
        return await raw(scope, receive, send)
    return await api(scope, receive, send)
