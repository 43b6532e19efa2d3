"""The ASGI app ``python -m lambda_relay dev`` serves in e2e/dev.test.mjs: gated chunks (chunk
i+1 only once the client released it, through the same URL), an upload's hash, and an endless
stream that records the client leaving (``http.disconnect``)."""

import asyncio
import hashlib
import json
from urllib.parse import parse_qs

released: dict = {}
changed: list = []  # the asyncio.Condition, made on the app's loop
events: list = []


async def respond(send, status, body, content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if not changed:
        changed.append(asyncio.Condition())
    cond = changed[0]
    q = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    tag, path = q.get("tag"), scope["path"]
    if path == "/e2e/release":
        async with cond:
            released[tag] = int(q["upto"])
            cond.notify_all()
        await respond(send, 204, b"")
    elif path == "/e2e/events":
        await respond(send, 200, json.dumps(events).encode(), b"application/json")
    elif path == "/gated":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(1, int(q["chunks"]) + 1):
            async with cond:
                await cond.wait_for(lambda: i == 1 or released.get(tag, 0) >= i)
            await send({"type": "http.response.body", "body": f"chunk {i}\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/upload":
        digest, size = hashlib.sha256(), 0
        while True:
            message = await receive()
            digest.update(message.get("body", b""))
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await respond(send, 200, json.dumps({"bytes": size, "sha256": digest.hexdigest()}).encode(), b"application/json")
    elif path == "/endless":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        gone = asyncio.ensure_future(receive())
        while True:
            done, _ = await asyncio.wait([gone], timeout=0.02)
            if done:
                if gone.result()["type"] == "http.disconnect":
                    events.append({"tag": tag, "kind": "gone"})
                    return
                gone = asyncio.ensure_future(receive())  # the (empty) request body: go on
                continue
            try:
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
            except OSError:
                pass
    else:
        await respond(send, 404, b"no such route")
