"""The ASGI lifespan protocol around an app: startup once, before the first request, and
shutdown when the interpreter exits."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from ._types import ASGIApp, Message

#: How long the app's lifespan shutdown may take when the interpreter exits.
SHUTDOWN_TIMEOUT_S = 5.0

log = logging.getLogger("lambda_relay")


class Lifespan:
    """The app's lifespan: ``mode`` ``"auto"`` runs its startup if it supports the protocol,
    ``"on"`` requires it. ``state`` is the lifespan state the app's requests copy."""

    def __init__(self, app: ASGIApp, mode: str, state: dict[str, Any]) -> None:
        self.app = app
        self.mode = mode
        self.state = state
        self._task: Optional[asyncio.Task[None]] = None
        self._inbox: Optional[asyncio.Queue[Message]] = None

    async def start(self) -> None:
        """ASGI lifespan startup; the app's task then waits for the shutdown sent at
        interpreter exit (on Lambda, the process is mostly frozen and ended instead)."""
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
                if not answer.done():
                    # Returned without a word: it does not speak the protocol (many plain apps
                    # return on a scope they do not know), as uvicorn reads it.
                    answer.set_exception(RuntimeError("the app returned from its lifespan without starting up"))
            except BaseException as e:  # an app without lifespan support raises here
                if not answer.done():
                    answer.set_exception(e)
                elif not isinstance(e, asyncio.CancelledError):
                    log.warning("lambda_relay: the app's lifespan ended with %r", e)

        self._inbox = inbox
        self._task = loop.create_task(run())
        try:
            message = await answer
        except Exception:
            if self.mode == "on":
                raise
            return
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"the app's lifespan startup failed: {message.get('message', '')}")

    async def shutdown(self) -> None:
        """ASGI lifespan shutdown, given ``SHUTDOWN_TIMEOUT_S``."""
        task, inbox = self._task, self._inbox
        if task is None or inbox is None or task.done():
            return
        await inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(task, SHUTDOWN_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("lambda_relay: the app's lifespan shutdown took over %.0f s; cancelled", SHUTDOWN_TIMEOUT_S)
