"""``stream_handler``: a plain function in, a Lambda handler out, on the ASGI adapter."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Optional, Union

from ._asgi import Handler, Receive, Scope, Send, asgi

Body = Union[bytes, str, Iterable[Union[bytes, str]], AsyncIterable[Union[bytes, str]], None]


@dataclass
class Response:
    """What a ``stream_handler`` function returns (a ``(status, headers, body)`` tuple works
    too). ``body`` is bytes or text, or a sync or async iterator of either: each item reaches
    the client as it is produced."""

    status: int = 200
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = field(default_factory=dict)
    body: Body = b""


class Request:
    """The request a ``stream_handler`` function gets. Its body streams: read it with
    ``await request.body()`` or ``async for chunk in request.stream()``."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._scope = scope
        self._receive = receive
        self._consumed = False
        self._disconnected = False
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query_string: str = scope["query_string"].decode("latin-1")
        self.headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            self.headers[key] = f"{self.headers[key]}, {value.decode('latin-1')}" if key in self.headers else value.decode("latin-1")
        self.client: Optional[str] = scope["client"][0] if scope.get("client") else None
        #: The Lambda event and context.
        self.event: Mapping[str, Any] = scope["aws.event"]
        self.context: Any = scope["aws.context"]

    @property
    def url(self) -> str:
        host = self.headers.get("host", "localhost")
        return f"{self._scope['scheme']}://{host}{self.path}" + (f"?{self.query_string}" if self.query_string else "")

    async def stream(self) -> AsyncIterator[bytes]:
        """The request body, chunk by chunk as it arrives."""
        if self._consumed:
            raise RuntimeError("the request body was already read")
        self._consumed = True
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._disconnected = True
                return
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                return

    async def body(self) -> bytes:
        """The whole request body."""
        return b"".join([chunk async for chunk in self.stream()])

    @property
    def disconnected(self) -> bool:
        """Whether the client went away (seen while reading the body)."""
        return self._disconnected


def stream_handler(fn: Callable[[Request], Union[Response, tuple, Awaitable[Union[Response, tuple]]]]) -> Handler:
    """A Lambda handler for a function that takes a :class:`Request` and returns a
    :class:`Response` or ``(status, headers, body)`` — sync or async."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        result = fn(Request(scope, receive))
        if inspect.isawaitable(result):
            result = await result
        response = result if isinstance(result, Response) else Response(*result)
        headers = response.headers.items() if isinstance(response.headers, Mapping) else response.headers
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in headers],
            }
        )
        async for chunk in _chunks(response.body):
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return asgi(app, lifespan="off")


async def _chunks(body: Body) -> AsyncIterator[bytes]:
    if body is None:
        return
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        yield _bytes(body)
    elif hasattr(body, "__aiter__"):
        async for chunk in body:  # type: ignore[union-attr]
            yield _bytes(chunk)
    else:
        # A sync iterator may block between items (a generator that sleeps or reads a file):
        # each step runs in a thread, so the loop stays free for the relay.
        iterator: Iterator[Any] = iter(body)  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        done = object()
        while True:
            chunk = await loop.run_in_executor(None, next, iterator, done)
            if chunk is done:
                return
            yield _bytes(chunk)


def _bytes(chunk: Any) -> bytes:
    return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
