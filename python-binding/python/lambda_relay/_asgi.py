"""Any ASGI app as a Lambda handler for a Function URL, relayed or direct: the app's event
loop, and each invocation begun in the native module and handed to ``_direct`` or
``_relay``. What an invocation is and the request the app sees are the core's
(``begin_invocation``)."""

from __future__ import annotations

import asyncio
import atexit
import inspect
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from . import _event
from ._direct import direct
from ._lifespan import SHUTDOWN_TIMEOUT_S, Lifespan
from . import _portable
from ._errors import platform_error
from ._platform import native
from ._relay import ClientDisconnected, Relay
from ._types import ASGIApp, Handler, Message, Receive, Scope, Send
from ._websocket import WebSocketRelay

__all__ = ["asgi", "is_asgi_app", "ClientDisconnected", "Handler", "Message", "Receive", "Scope", "Send"]

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
        self.state: dict[str, Any] = {}
        self.lifespan = Lifespan(app, lifespan, self.state)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._lock = threading.Lock()
        self._startup: Optional[asyncio.Future[None]] = None

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
            asyncio.run_coroutine_threadsafe(self.lifespan.shutdown(), loop).result(SHUTDOWN_TIMEOUT_S + 1)
        except Exception as e:
            log.warning("lambda_relay: the app's lifespan shutdown did not complete: %r", e)
        loop.call_soon_threadsafe(loop.stop)

    async def invoke(self, event: dict, context: Any) -> dict:
        if self.lifespan.mode != "off":
            if self._startup is None:
                self._startup = asyncio.ensure_future(self.lifespan.start())
            await asyncio.shield(self._startup)
        if native is None:
            return await self._direct_without_native(event, context)
        time_left = getattr(context, "get_remaining_time_in_millis", None)
        invocation = native.begin_invocation(
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
            return await direct(self.app, scope, view["body"], view["head_request"])
        if invocation.websocket:
            return await WebSocketRelay(invocation.connect()).run(self.app, scope)
        body = None if invocation.streams_body else view["body"]
        return await Relay(invocation.connect(), body).run(self.app, scope)

    async def _direct_without_native(self, event: dict, context: Any) -> dict:
        """A platform without the native module: a direct invocation through ``_portable``;
        a relayed one is refused, naming the platform and the fix."""
        headers = event.get("headers") if isinstance(event, dict) else None
        if isinstance(headers, dict) and any(n.lower() == _event.CONSTANTS["relay_id_header"] for n in headers):
            raise platform_error("a relayed invocation")
        view = _portable.request_view(event, False)
        scope = _event.scope(view, _portable.handler_event(event), context)
        scope["state"] = dict(self.state)
        return await direct(self.app, scope, view["body"], view["head_request"])



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
