"""A relayed invocation: ASGI ``receive`` reads the request body from the native connection,
``send`` writes the response into it with backpressure. The relay's rules (the window,
chunking, resume, abort, the deadline, the result) are the connection's; the waiting calls
run in threads (they release the GIL), so the app's event loop keeps going."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from . import _event
from ._errors import RelayError
from ._event import header_pairs
from ._types import ASGIApp, Message, Scope

INLINE_RESPONSE_LIMIT: int = _event.CONSTANTS["inline_response_limit"]
WRITE_BATCH_BYTES: int = _event.CONSTANTS["write_batch_bytes"]
CHUNK_COST_BYTES: int = _event.CONSTANTS["chunk_cost_bytes"]


class Relay:
    """One relayed invocation: ASGI ``receive`` reads the request body from the connection
    (then reports ``http.disconnect`` when the client goes away), ``send`` writes the response
    into it with backpressure, and the result is the connection's."""

    def __init__(self, connection: Any, inline_body: Optional[bytes]) -> None:
        self.conn = connection
        self.inline_body = inline_body
        self.body_done = False
        self.status: Optional[int] = None
        self.headers: list[tuple[str, str]] = []
        self.head_sent = False
        self.ended = False
        self.inline_result: Optional[dict] = None
        self.pending: list[bytes] = []
        self.pending_cost = 0
        self.flushing: Optional[asyncio.Task[None]] = None
        self.write_error: Optional[BaseException] = None
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.deciding: Optional[asyncio.Task[None]] = None
        # The body read in flight: a receive cancelled while it waits (wait_for timing out,
        # Starlette's is_disconnected()) leaves it running, and the next receive takes its
        # chunk, so no byte is lost.
        self.reading: Optional[asyncio.Future[Optional[bytes]]] = None

    async def run(self, app: ASGIApp, scope: Scope) -> dict:
        loop = asyncio.get_running_loop()
        self.disconnected = loop.create_future()
        watcher = loop.create_task(self._watch())
        try:
            failure = await self._serve(app, scope)
            if self.inline_result is not None:
                # Answered in the invocation result: nothing went over the socket.
                return self.inline_result
            return await self._call(self.conn.result, failure)
        finally:
            watcher.cancel()

    async def _serve(self, app: ASGIApp, scope: Scope) -> Optional[str]:
        """Runs the app to its end, and fails its response if the app did not end it; returns
        why the response failed, if it did for a reason the relay does not know."""
        try:
            await app(scope, self.receive, self.send)
            if not self._over():
                if self.status is None:
                    raise RuntimeError("the app sent no response")
                # As uvicorn: what the app sent goes out, then the transfer is aborted, so a
                # body cut short never passes for a whole one.
                await self._send_held()
                await self._drain()
                raise RuntimeError("the app returned before its response body ended (more_body was never False)")
        except (Exception, asyncio.CancelledError) as e:  # the app's failure is the client's too
            if self._over():
                return None  # the relay was cancelled or the response is out: the result says why
            failure = f"{type(e).__name__}: {e}"
            fail = self.conn.body_failed if self.head_sent else self.conn.handler_failed
            try:
                await self._call(fail, failure)
            except RelayError:
                pass  # the relay itself failed: its result says why
            return failure
        return None

    def _over(self) -> bool:
        return self.ended or self.inline_result is not None or self.conn.is_cancelled

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def _watch(self) -> None:
        reason = await self._call(self.conn.settled)
        self._disconnect(reason)

    def _disconnect(self, reason: Any) -> None:
        """From now on ``receive`` reports ``http.disconnect``: the client went away, or the
        response is over (the ASGI spec's "response sent")."""
        if not self.disconnected.done():
            self.disconnected.set_result(reason)

    # ---- receive ----

    async def receive(self) -> Message:
        if not self.body_done:
            if self.conn.is_cancelled:
                # The client went away: said at once, as a server says it.
                self.body_done = True
                return {"type": "http.disconnect"}
            # Body bytes are handed over only after a yield: a receive cancelled at once
            # (Starlette's is_disconnected() polls that way) takes nothing, and the next
            # receive gets what it would have taken.
            await asyncio.sleep(0)
            if self.inline_body is not None:
                self.body_done = True
                return {"type": "http.request", "body": self.inline_body, "more_body": False}
            if self.reading is None:
                self.reading = asyncio.ensure_future(self._call(self.conn.read))
            try:
                chunk = await asyncio.shield(self.reading)
            except RelayError:
                self.reading = None
                self.body_done = True
                return {"type": "http.disconnect"}
            self.reading = None
            if chunk is None:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}
        await asyncio.shield(self.disconnected)
        return {"type": "http.disconnect"}

    # ---- send ----

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("http.response.start sent twice")
            self.status = int(message["status"])
            self.headers = header_pairs(message.get("headers") or [])
            return
        if kind != "http.response.body":
            return  # trailers, pathsend and other extensions are not offered in the scope
        if self.status is None:
            raise RuntimeError("http.response.body before http.response.start")
        if self.ended or self.inline_result is not None:
            return
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if not self.head_sent:
            # What the app sends before it first yields to the event loop may be the whole
            # response: hold it until then (or past the inline limit) to see.
            self.held.append(body)
            self.held_bytes += len(body)
            if not more:
                if self._answer_inline():
                    return
            elif self.held_bytes <= INLINE_RESPONSE_LIMIT:
                if self.deciding is None:
                    self.deciding = asyncio.get_running_loop().create_task(self._decide())
                return
            await self._send_held()
        elif body:
            await self._queue(body)
        if not more:
            await self._end()

    def _answer_inline(self) -> bool:
        """Answers in the invocation result if the relay allows it (small, complete, the
        request body did not stream): the rule is `FunctionSession::respond_inline`."""
        result = self.conn.respond_inline(self.status, self.headers, self.held)
        if result is None:
            return False
        self.inline_result = result
        self.ended = True
        self.held = []
        self._disconnect(None)
        return True

    async def _decide(self) -> None:
        """Runs once the app yielded to the loop with its response unfinished: it streams."""
        await asyncio.sleep(0)
        if not self.head_sent and not self.ended:
            try:
                await self._send_held()
            except BaseException as e:  # noqa: BLE001 — reported to the app's next send
                self.write_error = e
        self.deciding = None

    async def _send_held(self) -> None:
        if self.head_sent:
            return
        self.conn.send_head(self.status, self.headers)
        self.head_sent = True
        held, self.held, self.held_bytes = self.held, [], 0
        for chunk in held:  # all queued before any wait, so nothing sent later overtakes them
            if chunk:
                self._enqueue(chunk)
        if self.pending_cost >= WRITE_BATCH_BYTES:
            await self._drain()

    async def _queue(self, body: bytes) -> None:
        """Queues a chunk for the writer; waits while a batch's worth is queued (the window
        is full: the client is slow), so the app is held back, not buffered."""
        self._enqueue(body)
        if self.pending_cost >= WRITE_BATCH_BYTES:
            await self._drain()

    def _enqueue(self, body: bytes) -> None:
        if self.write_error is not None:
            raise self.write_error
        self.pending.append(body)
        self.pending_cost += len(body) + CHUNK_COST_BYTES
        if self.flushing is None:
            self.flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self.pending:
                batch, self.pending, self.pending_cost = self.pending, [], 0
                await self._call(self.conn.write, batch)
        except BaseException as e:  # noqa: BLE001 — reported to the app's next send
            self.write_error = self._send_error(e)
            self.pending, self.pending_cost = [], 0
        finally:
            self.flushing = None

    def _send_error(self, error: BaseException) -> BaseException:
        """What the app's send raises once a write failed. When the relay was cancelled (the
        client went away, the deadline passed), the app's ``receive`` reports
        ``http.disconnect`` from now on, and ``send`` raises :class:`ClientDisconnected`, an
        ``OSError`` as the ASGI spec asks of a send on a closed connection."""
        if not (isinstance(error, RelayError) and self.conn.is_cancelled):
            return error
        self._disconnect(error)
        gone = ClientDisconnected(f"the response cannot be sent: {error}")
        gone.code = getattr(error, "code", None)
        gone.__cause__ = error
        return gone

    async def _drain(self) -> None:
        while self.flushing is not None:
            await asyncio.shield(self.flushing)
        if self.write_error is not None:
            raise self.write_error

    async def _end(self) -> None:
        if self.ended:
            return
        await self._send_held()
        await self._drain()
        self.ended = True
        try:
            await self._call(self.conn.finish)
        finally:
            self._disconnect(None)


class ClientDisconnected(OSError):
    """Raised by ``send`` once the relay was cancelled: the client went away (``code`` is
    ``ERR_RELAY_ABORTED``) or the invocation's deadline passed (``ERR_RELAY_DEADLINE``)."""

    code: Optional[str] = None
