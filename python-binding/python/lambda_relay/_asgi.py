"""Any ASGI app as a Lambda handler for a Function URL, relayed or direct.

The relay's rules (what is relayed, the window, chunking, resume, abort, the deadline, the
result) are the native connection's; this module only moves ASGI messages to and from it.
Its waiting calls run in threads (they release the GIL), so the app's event loop keeps going.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, MutableMapping, Optional

from . import _event
from ._errors import RelayError
from ._native import begin_invocation, buffered_result

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Handler = Callable[[dict, Any], dict]

INLINE_RESPONSE_LIMIT: int = _event.CONSTANTS["inline_response_limit"]
WRITE_BATCH_BYTES: int = _event.CONSTANTS["write_batch_bytes"]
CHUNK_COST_BYTES: int = _event.CONSTANTS["chunk_cost_bytes"]
# How long the app's lifespan shutdown may take when the interpreter exits.
SHUTDOWN_TIMEOUT_S = 5.0

log = logging.getLogger("lambda_relay")


def asgi(app: ASGIApp, *, lifespan: str = "auto") -> Handler:
    """A Lambda handler ``handler(event, context)`` serving ``app``.

    ``lifespan``: ``"auto"`` runs the app's startup once, before the first request, if it
    supports the lifespan protocol; ``"on"`` requires it; ``"off"`` skips it.
    """
    if lifespan not in ("auto", "on", "off"):
        raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan!r}")
    runner = _Runner(app, lifespan)

    def handler(event: dict, context: Any) -> dict:
        return runner.call(event, context)

    handler.app = app  # type: ignore[attr-defined]
    return handler


class _Runner:
    """The app's event loop, on a thread of its own that lives as long as the handler: every
    invocation runs on it (Lambda's one at a time, a local server's side by side), and the
    app's lifespan starts on it once, and shuts down when the interpreter exits. The waiting
    native calls run in its thread pool."""

    def __init__(self, app: ASGIApp, lifespan: str) -> None:
        self.app = app
        self.lifespan = lifespan
        self.state: dict[str, Any] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._lock = threading.Lock()
        self._startup: Optional[asyncio.Future[None]] = None
        self._lifespan_task: Optional[asyncio.Task[None]] = None
        self._lifespan_inbox: Optional[asyncio.Queue[Message]] = None

    def call(self, event: dict, context: Any) -> dict:
        return asyncio.run_coroutine_threadsafe(self.invoke(event, context), self._running_loop()).result()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                # Each relayed invocation keeps a thread waiting for its end, and reads and
                # writes take one while they wait: more than the default pool's few.
                loop.set_default_executor(ThreadPoolExecutor(max_workers=256, thread_name_prefix="lambda-relay"))
                threading.Thread(target=loop.run_forever, name="lambda-relay-asgi", daemon=True).start()
                self._loop = loop
                atexit.register(self._close)
            return self._loop

    def _close(self) -> None:
        """At interpreter exit (a local server stopping, a test run ending; Lambda mostly just
        ends the process): the app's lifespan shutdown runs, then the loop stops, so the app's
        shutdown hooks run and no task is left pending."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(SHUTDOWN_TIMEOUT_S + 1)
        except Exception as e:
            log.warning("lambda_relay: the app's lifespan shutdown did not complete: %r", e)
        loop.call_soon_threadsafe(loop.stop)

    async def _shutdown(self) -> None:
        task, inbox = self._lifespan_task, self._lifespan_inbox
        if task is None or inbox is None or task.done():
            return
        await inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(task, SHUTDOWN_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("lambda_relay: the app's lifespan shutdown took over %.0f s; cancelled", SHUTDOWN_TIMEOUT_S)

    async def invoke(self, event: dict, context: Any) -> dict:
        if self.lifespan != "off":
            if self._startup is None:
                self._startup = asyncio.ensure_future(self._start())
            await asyncio.shield(self._startup)
        time_left = getattr(context, "get_remaining_time_in_millis", None)
        invocation = begin_invocation(
            json.dumps(event),
            os.environ.get(_event.CONSTANTS["gateway_url_env"]),
            os.environ.get(_event.CONSTANTS["secret_env"]),
            float(time_left()) if callable(time_left) else None,
        )
        if invocation.kind == "result":
            return invocation.result()  # type: ignore[return-value]
        view = invocation.request
        scope = _event.scope(view, invocation.event, context)
        scope["state"] = dict(self.state)
        if invocation.kind == "direct":
            return await _direct(self.app, scope, view["body"])
        body = None if invocation.streams_body else view["body"]
        return await _Relay(invocation.connect(), body).run(self.app, scope)

    async def _start(self) -> None:
        """ASGI lifespan startup; the app's task then waits for the shutdown `_close` sends
        at interpreter exit (on Lambda, the process is mostly frozen and ended instead)."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        answer: asyncio.Future[Message] = loop.create_future()
        await inbox.put({"type": "lifespan.startup"})

        async def send(message: Message) -> None:
            if not answer.done():
                answer.set_result(message)
            elif message["type"] == "lifespan.shutdown.failed":
                log.warning("lambda_relay: the app's lifespan shutdown failed: %s", message.get("message", ""))

        async def run() -> None:
            try:
                await self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}, inbox.get, send)
            except BaseException as e:  # an app without lifespan support raises here
                if not answer.done():
                    answer.set_exception(e)
                elif not isinstance(e, asyncio.CancelledError):
                    log.warning("lambda_relay: the app's lifespan ended with %r", e)

        self._lifespan_inbox = inbox
        self._lifespan_task = loop.create_task(run())
        try:
            message = await answer
        except Exception:
            if self.lifespan == "on":
                raise
            return
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"the app's lifespan startup failed: {message.get('message', '')}")


async def _direct(app: ASGIApp, scope: Scope, body: bytes) -> dict:
    """A direct invocation: the app's whole response, buffered into the result."""
    sent = False
    status = 500
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect to report: the invocation is the request
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = _header_pairs(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    return buffered_result(status, headers, b"".join(chunks), scope["method"] == "HEAD")


def _header_pairs(raw: Any) -> list[tuple[str, str]]:
    return [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw]


class _Relay:
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
        """Runs the app to its end, and ends its response if the app did not; returns why
        the response failed, if it did for a reason the relay does not know."""
        try:
            await app(scope, self.receive, self.send)
            if not self._over():
                if self.status is None:
                    raise RuntimeError("the app sent no response")
                await self._end()
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
            if self.inline_body is not None:
                self.body_done = True
                return {"type": "http.request", "body": self.inline_body, "more_body": False}
            try:
                chunk = await self._call(self.conn.read)
            except RelayError:
                self.body_done = True
                return {"type": "http.disconnect"}
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
            self.headers = _header_pairs(message.get("headers") or [])
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


def is_asgi_app(obj: Any) -> bool:
    """Whether ``obj`` looks like an ASGI app (``app(scope, receive, send)``) rather than a
    Lambda handler (``handler(event, context)``)."""
    target = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else getattr(obj, "__call__", None)
    if target is None:
        return False
    try:
        params = [p for p in inspect.signature(target).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 3
