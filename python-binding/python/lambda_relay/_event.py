"""Function URL events (payload format 2.0) in, ASGI scopes and buffered results out."""

from __future__ import annotations

import base64
from typing import Any, Iterable, Mapping, Optional

from ._native import constants

CONSTANTS: Mapping[str, Any] = constants()
RELAY_HEADERS = frozenset(CONSTANTS["relay_headers"])


def lowercase_headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The event's headers with lowercase names."""
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}


def method(event: Mapping[str, Any]) -> str:
    return ((event.get("requestContext") or {}).get("http") or {}).get("method") or "GET"


def inline_body(event: Mapping[str, Any]) -> bytes:
    """The event's own body, decoded."""
    body = event.get("body")
    if not body:
        return b""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8")


def _wire(text: str) -> bytes:
    """Header (or query) text as the bytes that came over the wire: Latin-1 where each
    character is one byte, as a local server decodes them; UTF-8 where a character cannot
    be, as Lambda decodes a Function URL request's bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def scope(
    event: Mapping[str, Any],
    context: Any,
    headers: Mapping[str, str],
    client_address: Optional[str],
) -> dict[str, Any]:
    """The ASGI HTTP scope of an invocation: the relay's headers stripped, the cookies as one
    header, the client's own address (for a relayed request, the one the gateway saw)."""
    http = (event.get("requestContext") or {}).get("http") or {}
    raw_path = event.get("rawPath") or http.get("path") or "/"
    pairs = [(_wire(k), _wire(v)) for k, v in headers.items() if k not in RELAY_HEADERS and k != "cookie"]
    cookies = event.get("cookies") or ([headers["cookie"]] if "cookie" in headers else [])
    if cookies:
        pairs.append((b"cookie", _wire("; ".join(cookies))))
    host = headers.get("host") or (event.get("requestContext") or {}).get("domainName") or "localhost"
    address = client_address or http.get("sourceIp")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method(event).upper(),
        "scheme": headers.get("x-forwarded-proto", "https"),
        "path": _unquote(raw_path),
        "raw_path": raw_path.encode("latin-1", "replace"),
        "query_string": _wire(event.get("rawQueryString") or ""),
        "root_path": "",
        "headers": pairs,
        "client": (address, 0) if address else None,
        "server": (host.split(":")[0], 443),
        "state": {},
        "aws.event": event,
        "aws.context": context,
    }


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


def buffered_result(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> dict[str, Any]:
    """A buffered Function URL result: UTF-8 bodies as text, others base64; cookies apart;
    repeated headers joined with commas."""
    out: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "set-cookie":
            cookies.append(value)
        elif name in out:
            out[name] = f"{out[name]}, {value}"
        else:
            out[name] = value
    result: dict[str, Any] = {"statusCode": status, "headers": out}
    if cookies:
        result["cookies"] = cookies
    if body:
        try:
            result["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            result["body"] = base64.b64encode(body).decode("ascii")
            result["isBase64Encoded"] = True
    return result
