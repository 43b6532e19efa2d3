"""A client's WebSocket relayed to an ASGI app: the ``websocket`` scope (connect, accept with a
subprotocol and headers, receive, send text or bytes, close with a code and reason,
disconnect, and the ``websocket.http.response`` extension for refusals). The record layout,
the limits and the close codes are the core's (``core/src/proto/websocket.rs``); this is the
event-loop glue, with the waiting native calls in threads."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from ._errors import RelayError
from ._event import header_pairs
from ._relay import ClientDisconnected
from ._types import ASGIApp, Message, Scope

#: The close code of a close without one, and of a connection that ended without a close.
NO_STATUS = 1005
ABNORMAL = 1006


def websocket_scope(http: Scope) -> Scope:
    """The ASGI ``websocket`` scope of an upgrade request, from its HTTP scope."""
    scope = {k: v for k, v in http.items() if k != "method"}
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if http["scheme"] == "https" else "ws"
    offered: list[str] = []
    for name, value in http["headers"]:
        if name.lower() == b"sec-websocket-protocol":
            offered += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    scope["subprotocols"] = offered
    scope["extensions"] = {"websocket.http.response": {}}
    return scope


class WebSocketRelay:
    """One relayed upgrade, served by an ASGI app."""

    def __init__(self, connection: Any) -> None:
        self.conn = connection
        self.connected = False  # websocket.connect was received
        self.accepted = False
        self.closed = False  # our close went out (or the refusal ended)
        self.client_closed = False  # the client's close (or its disappearance) came
        self.refusal_status: Optional[int] = None
        self.refusal_headers: list[tuple[str, str]] = []
        self.refusal_head_sent = False
        self.reading: Optional[asyncio.Future[Any]] = None

    async def run(self, app: ASGIApp, scope: Scope) -> dict:
        failure: Optional[str] = None
        try:
            await app(websocket_scope(scope), self.receive, self.send)
            if not self.accepted and not self.closed:
                # As uvicorn: an app that neither accepts nor refuses answers 500.
                raise RuntimeError("the app returned without accepting or closing the WebSocket")
            if self.accepted and not self.closed:
                await self._close(1000, "")
        except (Exception, asyncio.CancelledError) as e:  # the app's failure closes the client
            if not self.conn.is_cancelled and not self.closed:
                failure = f"{type(e).__name__}: {e}"
                fail = self.conn.body_failed if self.accepted or self.refusal_status else self.conn.handler_failed
                try:
                    await self._call(fail, failure)
                except RelayError:
                    pass
        return await self._call(self.conn.result, failure)

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        if self.client_closed or not self.accepted:
            if not self.accepted and not self.closed:
                raise RuntimeError("receive() before the WebSocket was accepted")
            return {"type": "websocket.disconnect", "code": ABNORMAL if not self.accepted else NO_STATUS}
        # A receive cancelled while it waits leaves the read running; the next takes it.
        if self.reading is None:
            self.reading = asyncio.ensure_future(self._call(self.conn.read_message))
        try:
            message = await asyncio.shield(self.reading)
        except RelayError:
            self.reading = None
            self.client_closed = True
            return {"type": "websocket.disconnect", "code": ABNORMAL, "reason": ""}
        self.reading = None
        if message is None:
            self.client_closed = True
            return {"type": "websocket.disconnect", "code": NO_STATUS, "reason": ""}
        kind, payload, code, reason = message
        if kind == "text":
            return {"type": "websocket.receive", "text": payload}
        if kind == "binary":
            return {"type": "websocket.receive", "bytes": payload}
        self.client_closed = True
        if not self.closed:
            # The reply to a close repeats it, as a WebSocket server does (a close without
            # a code comes with no reason).
            await self._close(code, reason)
        return {"type": "websocket.disconnect", "code": code, "reason": reason}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            if self.accepted or self.closed or self.refusal_status is not None:
                raise RuntimeError("websocket.accept after the WebSocket was accepted or refused")
            headers = header_pairs(message.get("headers") or [])
            subprotocol = message.get("subprotocol")
            if subprotocol:
                headers.append(("sec-websocket-protocol", subprotocol))
            self.conn.accept_websocket(headers)
            self.accepted = True
        elif kind == "websocket.send":
            if not self.accepted:
                raise RuntimeError("websocket.send before websocket.accept")
            if self.closed or self.client_closed:
                raise ClientDisconnected("the WebSocket is closed")
            if message.get("bytes") is not None:
                await self._call(self.conn.send_bytes, bytes(message["bytes"]))
            else:
                await self._call(self.conn.send_text, str(message.get("text", "")))
        elif kind == "websocket.close":
            if self.closed:
                return
            if not self.accepted:
                # A close before accept refuses the upgrade: the client gets a 403.
                await self._refuse(403, [("content-type", "text/plain")], b"")
                return
            await self._close(int(message.get("code") or 1000), str(message.get("reason") or ""))
        elif kind == "websocket.http.response.start":
            if self.accepted or self.refusal_status is not None:
                raise RuntimeError("websocket.http.response.start after accept or a response")
            self.refusal_status = int(message["status"])
            self.refusal_headers = header_pairs(message.get("headers") or [])
        elif kind == "websocket.http.response.body":
            if self.refusal_status is None:
                raise RuntimeError("websocket.http.response.body before websocket.http.response.start")
            await self._refusal_body(bytes(message.get("body", b"")), bool(message.get("more_body", False)))
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} on a WebSocket")

    async def _close(self, code: int, reason: str) -> None:
        self.closed = True
        try:
            await self._call(self.conn.close_websocket, code, reason)
        except RelayError:
            pass  # the relay failed or the client left: its result says why

    async def _refuse(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.refusal_status = status
        self.refusal_headers = headers
        await self._refusal_body(body, False)

    async def _refusal_body(self, body: bytes, more: bool) -> None:
        if self.closed:
            return
        if not self.refusal_head_sent:
            self.conn.send_head(self.refusal_status, self.refusal_headers)
            self.refusal_head_sent = True
        if body:
            await self._call(self.conn.write, [body])
        if not more:
            self.closed = True
            await self._call(self.conn.finish)
