"""A Starlette app exercising what the tests assert, served by lambda_relay.asgi."""

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from . import shared


async def gated(request: Request):
    chunks, tag = int(request.query_params.get("chunks", "3")), request.query_params["tag"]
    return StreamingResponse(shared.gated_chunks(chunks, tag), media_type="text/plain")


async def release(request: Request):
    shared.release(request.query_params["tag"], int(request.query_params["upto"]))
    return Response(status_code=204)


async def bytes_route(request: Request):
    n = int(request.query_params.get("n", str(1 << 20)))
    return StreamingResponse(shared.pattern_chunks(n), media_type="application/octet-stream")


async def upload(request: Request):
    return PlainTextResponse(await shared.length_and_sha256(request.stream()))


async def events(request: Request):
    return JSONResponse(shared.events())


async def fail_after_head(request: Request):
    async def body():
        yield b"the head and a first chunk\n"
        await asyncio.sleep(0.05)
        raise RuntimeError("the app failed after the head")

    return StreamingResponse(body(), media_type="text/plain")


routes = [
    Route("/gated", gated),
    Route("/e2e/release", release),
    Route("/bytes", bytes_route),
    Route("/upload", upload, methods=["POST"]),
    Route("/events", events),
    Route("/fail-after-head", fail_after_head),
]

app = Starlette(routes=routes)
