"""The ASGI scope made of the adapter's request view (``core/src/adapter`` decides every field
of it), and the constants the package shares with Rust."""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import unquote

from ._platform import CONSTANTS


def _wire(text: str) -> bytes:
    """Header (or query) text as the bytes that came over the wire: Latin-1 where each
    character is one byte, as a local server decodes them; UTF-8 where a character cannot
    be, as Lambda decodes a Function URL request's bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def scope(view: Mapping[str, Any], event: Any, context: Any) -> dict[str, Any]:
    """The ASGI HTTP scope of an invocation's request view; ``event`` is the event a handler
    may see (no relay headers, the client's own address)."""
    host, _, port = view["host"].rpartition(":") if view["host"].rsplit(":", 1)[-1].isdigit() else (view["host"], "", "")
    default_port = 443 if view["scheme"] == "https" else 80
    raw_path = view["raw_path"]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": view["method"],
        "scheme": view["scheme"],
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1", "replace"),
        "query_string": _wire(view["raw_query"]),
        "root_path": "",
        "headers": [(_wire(k), _wire(v)) for k, v in view["headers"]],
        "client": (view["client"], 0) if view["client"] else None,
        "server": (host, int(port) if port else default_port),
        "state": {},
        "aws.event": event,
        "aws.context": context,
    }


def header_pairs(raw: Any) -> list[tuple[str, str]]:
    """An ASGI message's header pairs as text (Latin-1, byte for byte)."""
    return [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw]
