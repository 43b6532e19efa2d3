"""A direct invocation: the app's whole response, buffered into the invocation result."""

from __future__ import annotations

import asyncio

from ._event import header_pairs
from . import _portable
from ._platform import native
from ._types import ASGIApp, Message, Scope


async def direct(app: ASGIApp, scope: Scope, body: bytes, head_request: bool) -> dict:
    """A direct invocation: the app's whole response, buffered into the result."""
    sent = False
    status = 500
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []
    ended = False  # whether the app sent its last body message (more_body False)

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            # After a yield, as a relayed body: a receive cancelled at once takes nothing.
            await asyncio.sleep(0)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect to report: the invocation is the request
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers, ended
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = header_pairs(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            ended = not message.get("more_body", False)

    await app(scope, receive, send)
    if not ended:
        # A body cut short fails the invocation instead of passing for a whole one.
        raise RuntimeError("the app returned before its response body ended (more_body was never False)")
    buffered_result = native.buffered_result if native is not None else _portable.buffered_result
    return buffered_result(status, headers, b"".join(chunks), head_request)
