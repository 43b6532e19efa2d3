"""True HTTP streaming for AWS Lambda (Python), through a lambda-relay gateway.

``asgi(app)`` turns any ASGI app (FastAPI, Starlette, Litestar) into a Lambda handler for a
Function URL; ``stream_handler(fn)`` does the same for a plain function returning a status,
headers and a body that may be an iterator. Invoked by the gateway, the response streams
over a WebSocket back to it, the request body streams in, and a client that goes away reaches
the app as ``http.disconnect``; invoked directly, the handler answers the invocation with a
buffered response, like any Lambda.
"""

from . import _event
from ._asgi import ClientDisconnected, asgi
from ._errors import *  # noqa: F403 — the exception classes, each with its stable code
from ._errors import __all__ as _errors
from ._handler import Request, Response, stream_handler

__all__ = ["asgi", "stream_handler", "Request", "Response", "ClientDisconnected", *_errors]
