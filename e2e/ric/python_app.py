"""An ASGI app as ``awslambdaric`` loads it (``python -m awslambdaric python_app.handler``),
relayed through the gateway: what the context says, and a streamed body (e2e/runtimes.test.mjs;
the upload example runs under it too)."""

import json
import os
from urllib.parse import parse_qs

from lambda_relay import asgi


#: Byte i is (i * 7 + i // 256) mod 256, as e2e/support.mjs makes it; it repeats every 64 KiB.
_PERIOD = bytes((i * 7 + i // 256) & 0xFF for i in range(65536)) * 3


def pattern(start: int, length: int) -> bytes:
    assert length <= 2 * 65536
    at = start % 65536
    return _PERIOD[at : at + length]


async def app(scope, receive, send):
    path = scope["path"]
    if path == "/context":
        context = scope["aws.context"]
        seen = {
            "module": "python",
            "pid": os.getpid(),
            "requestId": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "functionName": context.function_name,
            "memory": str(context.memory_limit_in_mb),
            "remainingMs": context.get_remaining_time_in_millis(),
        }
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})
    elif path == "/bytes":
        n = int(parse_qs(scope["query_string"].decode())["n"][0])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for start in range(0, n, 64 * 1024):
            await send({"type": "http.response.body", "body": pattern(start, min(64 * 1024, n - start)), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"no such route"})


handler = asgi(app, lifespan="off")
