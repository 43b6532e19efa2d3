"""The adapter's rules for a platform without the native module (a macOS or Windows dev
machine): direct invocations and the local server only. They mirror ``core/src/adapter`` and
are pinned to it by the same golden vectors (``core/tests/vectors``), which the tests replay
through the native module and through this file, as the Node package's ``ts/portable.ts`` is.
Relayed invocations need the native module."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any, Optional

from ._errors import RelayEventError, RelayUsageError, platform_error
from ._platform import CONSTANTS

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_COOKIE = re.compile(r"[\x00-\x1f\x7f]")
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_RESULT_VALUE = re.compile(r"^[\t\x20-\x7e]*$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_RELAY_HEADERS: list[str] = CONSTANTS["relay_headers"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _clip(s: str) -> str:
    return json.dumps(s[:64], ensure_ascii=False)


def _unsupported(shape: str) -> RelayEventError:
    return RelayEventError(f"unsupported event: {shape}; lambda-relay reads Function URL and API Gateway HTTP API (payload 2.0) events")


def _invalid(what: str) -> RelayEventError:
    return RelayEventError(f"invalid function url event: {what}")


def _str(obj: Optional[dict], key: str) -> Optional[str]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def request_view(event: Any, relayed: bool) -> dict[str, Any]:
    """``adapter::RequestView::from_event`` for a direct invocation, as the native module's dict."""
    if relayed:
        raise platform_error("a relayed invocation")
    if not isinstance(event, dict):
        raise _unsupported("not a JSON object")
    context = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else None
    if context is not None and "elb" in context:
        raise _unsupported("an Application Load Balancer event")
    if "httpMethod" in event:
        raise _unsupported("an API Gateway REST API (payload 1.0) event")
    version = event.get("version")
    if isinstance(version, str) and version != "2.0":
        raise _unsupported(f"a payload {_clip(version)} event")
    http = context.get("http") if context is not None and isinstance(context.get("http"), dict) else None
    if not (context is not None and "http" in context) and "rawPath" not in event:
        raise _unsupported("not an HTTP event (no requestContext.http, no rawPath)")
    method = http["method"] if http is not None and isinstance(http.get("method"), str) else "GET"
    if not _TOKEN.match(method):
        raise _invalid(f"invalid method {_clip(method)}")
    headers = _event_headers(event.get("headers"))
    domain = _str(context, "domainName") or None
    host = domain or next((v for n, v in headers if n == "host"), None) or "localhost"
    raw_path_field = event["rawPath"] if isinstance(event.get("rawPath"), str) else _str(http, "path")
    raw_path = "/"
    if raw_path_field:
        if not raw_path_field.startswith("/"):
            raise _invalid(f"invalid rawPath {_clip(raw_path_field)}")
        raw_path = raw_path_field
    raw_query = event["rawQueryString"] if isinstance(event.get("rawQueryString"), str) else ""
    if _BAD_TARGET.search(raw_path + raw_query):
        raise _invalid("the path or query has spaces or control characters")
    cookies = _cookie_list(event.get("cookies"))
    out = [(n, v) for n, v in headers if n not in _RELAY_HEADERS and not (n == "cookie" and cookies is not None)]
    if cookies is not None:
        out.append(("cookie", cookies))
    return {
        "method": method,
        "scheme": "https",
        "host": host,
        "url": f"https://{host}{raw_path}{'?' + raw_query if raw_query else ''}",
        "raw_path": raw_path,
        "raw_query": raw_query,
        "headers": out,
        "client": _str(http, "sourceIp") or None,
        "body": _inline_body(event),
        "head_request": method.upper() == "HEAD",
    }


def handler_event(event: Any) -> Any:
    """``adapter::handler_event`` for a direct invocation: the relay headers removed."""
    if not isinstance(event, dict):
        return event
    headers = event.get("headers") if isinstance(event.get("headers"), dict) else {}
    return {**event, "headers": {n: v for n, v in headers.items() if n.lower() not in _RELAY_HEADERS}}


def _event_headers(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise _invalid("headers is not an object")
    out = []
    for name, raw in headers.items():
        if isinstance(raw, bool):
            value = "true" if raw else "false"
        elif isinstance(raw, (int, float)):
            value = json.dumps(raw)
        elif isinstance(raw, str):
            value = raw
        elif raw is None:
            continue
        else:
            raise _invalid(f"header {_clip(name)} is not a string")
        if not _TOKEN.match(name):
            raise _invalid(f"invalid header name {_clip(name)}")
        if _BAD_VALUE.search(value):
            raise _invalid(f"invalid value for header {name.lower()}")
        out.append((name.lower(), value))
    return out


def _cookie_list(cookies: Any) -> Optional[str]:
    if not isinstance(cookies, list):
        return None
    kept = []
    for cookie in cookies:
        if not isinstance(cookie, str):
            raise _invalid("cookies holds a value that is not a string")
        if _BAD_COOKIE.search(cookie):
            raise _invalid("invalid cookie")
        if cookie:
            kept.append(cookie)
    return "; ".join(kept) if kept else None


def _inline_body(event: dict) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise _invalid("body is not a string")
    if event.get("isBase64Encoded") is True:
        if not _BASE64.match(body) or len(body) % 4:
            raise _invalid("body is not valid base64")
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise _invalid("body is not valid base64") from None
    return body.encode("utf-8", "surrogatepass")


def buffered_result(status: int, headers: list[tuple[str, str]], body: bytes, head_request: bool) -> dict[str, Any]:
    """``adapter::direct_result``."""
    if not isinstance(status, int) or not 200 <= status <= 599:
        raise RelayUsageError(f"invalid status {status} (a response's status is 200 to 599)")
    out: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, value in headers:
        name = raw_name.lower()
        if not _TOKEN.match(name):
            raise RelayUsageError(f"invalid header name {_clip(raw_name)}")
        if not _RESULT_VALUE.match(value):
            raise RelayUsageError(f"invalid value for header {name}")
        if name == "set-cookie":
            cookies.append(value)
        else:
            out[name] = f"{out[name]}, {value}" if name in out else value
    result: dict[str, Any] = {"statusCode": status, "headers": out}
    if cookies:
        result["cookies"] = cookies
    if body and not (head_request or status in (204, 205, 304)):
        try:
            result["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            result["body"] = base64.b64encode(body).decode()
            result["isBase64Encoded"] = True
    return result


def function_url_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str, request_id: str, time_epoch_ms: int
) -> dict[str, Any]:
    """``adapter::function_url_event``: the event Lambda's front door makes of a request."""
    fields: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, value in headers:
        name = raw_name.lower()
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        fields[name] = f"{fields[name]},{value}" if name in fields else value
    scheme = target.find("://")
    if scheme >= 0:
        slash = target.find("/", scheme + 3)
        target = target[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    path = path or "/"
    host = fields.get("host") or "localhost"
    event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = fields
    parameters: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        key, value = _percent_decode(key), _percent_decode(value if eq else "")
        parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
    if parameters:
        event["queryStringParameters"] = parameters
    event["requestContext"] = {
        "accountId": "anonymous",
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": fields.get("user-agent", "")},
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _clf_time(time_epoch_ms),
        "timeEpoch": time_epoch_ms,
    }
    try:
        text: Optional[str] = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    event["isBase64Encoded"] = text is None
    return event


def local_response(result_json: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """``adapter::LocalResponse::from_result``: what a local server sends for a result."""
    try:
        result = json.loads(result_json)
    except ValueError as e:
        raise RelayUsageError(f"the result is not JSON: {e}") from None
    compact = lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False)  # noqa: E731 — as serde_json writes it
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, [("content-type", "application/json")], compact(result).encode()
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise RelayUsageError(f"the function returned an invalid status {compact(status)}")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") if isinstance(result.get("headers"), dict) else {}).items():
        if value is None:
            continue
        headers.append((name, value if isinstance(value, str) else compact(value)))
    for cookie in result.get("cookies") if isinstance(result.get("cookies"), list) else []:
        if isinstance(cookie, str):
            headers.append(("set-cookie", cookie))
    body = result.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = base64.b64decode(body) if result.get("isBase64Encoded") is True else body.encode()
    else:
        data = compact(body).encode()
    return status, headers, data


def _percent_decode(s: str) -> str:
    raw = s.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        hex_digits = raw[i + 1 : i + 3]
        if raw[i] == 0x25 and len(hex_digits) == 2 and all(c in b"0123456789abcdefABCDEF" for c in hex_digits):
            out.append(int(hex_digits, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


def _clf_time(epoch_ms: int) -> str:
    t = time.gmtime(epoch_ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
