"""An upload hasher in Starlette: the request body streams in through ASGI receive, chunk by
chunk, however large (no 6 MB invocation cap), and the answer is its length and sha256."""

import hashlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lambda_relay import asgi


async def upload(request: Request):
    digest, n = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        n += len(chunk)
    return JSONResponse({"bytes": n, "sha256": digest.hexdigest()})


app = Starlette(routes=[Route("/", upload, methods=["POST", "PUT"])])
handler = asgi(app)
