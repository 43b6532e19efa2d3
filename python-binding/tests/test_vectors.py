"""The golden vectors of core/tests/vectors, replayed through the native module and through
the ASGI adapter's direct path: the same rules as the Rust and Node suites."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lambda_relay import RelayPlatformError, _native, _portable, asgi

VECTORS = Path(__file__).resolve().parents[2] / "core" / "tests" / "vectors"
CASES = sorted(VECTORS.glob("*.json"))


def test_the_folder_holds_every_case():
    assert len(CASES) >= 40


def _replay(case: dict, impl=_native):
    """Through the native module, or through ``_portable`` (the rules for platforms without it)."""
    kind = case["kind"]
    if kind == "request":
        if impl is _native:
            view = _native.request_view(json.dumps(case["event"]), case["relayed"])
        else:
            view = _portable.request_view(case["event"], case["relayed"])
        return {
            "method": view["method"],
            "url": view["url"],
            "rawPath": view["raw_path"],
            "rawQuery": view["raw_query"],
            "headers": sorted([list(p) for p in view["headers"]], key=json.dumps),
            "clientAddress": view["client"],
            "bodyBase64": base64.b64encode(view["body"]).decode(),
        }
    if kind == "response":
        r = case["response"]
        headers = [tuple(p) for p in r["headers"]]
        return impl.buffered_result(r["status"], headers, base64.b64decode(r["bodyBase64"]), r["headRequest"])
    r = case["request"]
    return impl.function_url_event(
        r["method"], r["target"], [tuple(p) for p in r["headers"]], base64.b64decode(r["bodyBase64"]), r["sourceIp"], r["requestId"], r["timeEpochMs"]
    )


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_vector_through_the_native_module(path: Path):
    case = json.loads(path.read_text())
    if "error" in case:
        with pytest.raises(_native.RelayError) as raised:
            _replay(case)
        assert case["error"] in str(raised.value)
        assert raised.value.code in ("ERR_RELAY_EVENT", "ERR_RELAY_USAGE")
    else:
        got = _replay(case)
        if case["kind"] == "request":
            case["expect"]["headers"] = sorted(case["expect"]["headers"], key=json.dumps)
        assert got == case["expect"]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_vector_through_the_portable_rules(path: Path):
    """What a platform without the native module runs: the same answers for every direct case,
    and for a relayed one the error that names the platform."""
    case = json.loads(path.read_text())
    if case.get("relayed"):
        with pytest.raises(RelayPlatformError) as raised:
            _replay(case, _portable)
        assert raised.value.code == "ERR_RELAY_PLATFORM"
    elif "error" in case:
        with pytest.raises(_native.RelayError) as raised:
            _replay(case, _portable)
        assert case["error"] in str(raised.value)
        assert raised.value.code in ("ERR_RELAY_EVENT", "ERR_RELAY_USAGE")
    else:
        got = _replay(case, _portable)
        if case["kind"] == "request":
            case["expect"]["headers"] = sorted(case["expect"]["headers"], key=json.dumps)
        assert got == case["expect"]


def test_the_constants_written_down_for_other_platforms_are_the_native_modules():
    written = json.loads((Path(_portable.__file__).parent / "_constants.json").read_text())
    assert written == json.loads(json.dumps(_native.constants())), (
        "python/lambda_relay/_constants.json is stale: write it again from lambda_relay._native.constants()"
    )


DIRECT = [p for p in CASES if p.stem.startswith("request-") and not json.loads(p.read_text())["relayed"]]


@pytest.mark.parametrize("path", DIRECT, ids=[p.stem for p in DIRECT])
def test_request_vector_through_an_asgi_app(path: Path, monkeypatch):
    """A direct invocation's scope is the view: what an ASGI app sees, and the event it gets."""
    monkeypatch.delenv("RELAY_GATEWAY_URL", raising=False)
    monkeypatch.delenv("RELAY_SECRET", raising=False)
    case = json.loads(path.read_text())
    seen: dict = {}

    async def app(scope, receive, send):
        seen["scope"] = scope
        seen["body"] = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    handler = asgi(app, lifespan="off")
    if "error" in case:
        with pytest.raises(_native.RelayError) as raised:
            handler(case["event"], None)
        assert case["error"] in str(raised.value)
        return
    assert handler(case["event"], None).get("body") == (None if case["expect"]["method"] == "HEAD" else "ok")
    scope, want = seen["scope"], case["expect"]
    assert scope["method"] == want["method"]
    assert scope["raw_path"] == want["rawPath"].encode()
    assert scope["query_string"] == want["rawQuery"].encode()
    headers = sorted([[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]], key=json.dumps)
    wire = lambda t: t.encode("utf-8").decode("latin-1")  # non-Latin-1 text crosses as its UTF-8 bytes
    assert headers == sorted([[wire(k), wire(v)] for k, v in want["headers"]], key=json.dumps)
    assert (scope["client"] or (None,))[0] == want["clientAddress"]
    assert seen["body"] == base64.b64decode(want["bodyBase64"])
    assert not any(k.lower().startswith("x-lambda-relay-") for k in scope["aws.event"].get("headers") or {}), "no relay header in aws.event"
