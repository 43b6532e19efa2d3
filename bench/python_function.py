"""The benchmarks' Python function (`python -m lambda_relay serve python_function:handler`,
from bench/): `/bytes` as the Rust and Node ones serve it, one shared buffer written again and
again, so what is measured is the relay."""

from urllib.parse import parse_qs

from lambda_relay import Request, Response, stream_handler

BUFFER = b"\x5a" * (512 * 1024)


async def respond(request: Request):
    q = {k: v[0] for k, v in parse_qs(request.query_string).items()}
    if request.path == "/upload":
        n = 0
        async for chunk in request.stream():
            n += len(chunk)
        return 200, {"content-type": "text/plain"}, str(n)
    n, size = int(q.get("n", 1 << 20)), max(1, min(int(q.get("chunk", 256 * 1024)), len(BUFFER)))
    chunk = BUFFER[:size]

    async def body():
        sent = 0
        while sent < n:
            length = min(size, n - sent)
            yield chunk if length == size else chunk[:length]
            sent += length

    return Response(200, {"content-type": "application/octet-stream"}, body())


handler = stream_handler(respond)
