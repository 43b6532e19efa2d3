"""The handlers without a gateway: direct invocations, relay invocations the function refuses
or answers in the result, the exceptions' codes, and the types."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import lambda_relay
from lambda_relay import RelayAborted, RelayDeadline, RelayError, Response, asgi, stream_handler

from .apps.fastapi_app import app as fastapi_app

SECRET = "a secret of at least sixteen bytes"


class Context:
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def event(path="/", method="GET", headers=None, body=None, b64=False, query=""):
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "fn.example", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "203.0.113.9"}, "domainName": "fn.example"},
        "body": body,
        "isBase64Encoded": b64,
    }


def binding(method: str = "GET", path_and_query: str = "/", body_mode: str = "inline", body: bytes = b"", client: str = "") -> str:
    """The request binding of docs/protocol.md ("Tokens"), written from the spec."""
    digest = hashlib.sha256(b"lambda-relay.binding.v2\0")
    for part in [method.encode(), path_and_query.encode(), body_mode.encode(), hashlib.sha256(body).digest(), client.encode()]:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()[:16].hex()


def mint(relay_id: str, expiry: int, secret: str = SECRET, path_and_query: str = "/") -> str:
    issued, bound = int(time.time()), binding(path_and_query=path_and_query)
    message = f"lambda-relay.v2\0{relay_id}\0{issued}\0{expiry}\0{bound}".encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"v2.{issued}.{expiry}.{bound}.{mac}"


def relay_headers(relay_id="abc123", token=None, path_and_query="/"):
    """The relay headers of a GET of `path_and_query` with no body, as the gateway sends them."""
    return {
        "x-lambda-relay-id": relay_id,
        "x-lambda-relay-token": token or mint(relay_id, int(time.time()) + 60, path_and_query=path_and_query),
        "x-lambda-relay-body": "inline",
    }


@pytest.fixture
def relay_env(monkeypatch):
    monkeypatch.setenv("RELAY_GATEWAY_URL", "ws://127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("RELAY_SECRET", SECRET)


def test_a_direct_invocation_buffers_the_apps_response():
    handler = asgi(fastapi_app)
    result = handler(event("/sse"), Context())
    assert result["statusCode"] == 200
    assert result["headers"]["content-type"].startswith("text/event-stream")
    assert "id: 4" in result["body"]


def test_a_direct_invocation_carries_the_body_and_answers_binary_in_base64():
    handler = asgi(fastapi_app)
    payload = bytes(range(256)) * 10
    result = handler(event("/upload", "POST", body=base64.b64encode(payload).decode(), b64=True), Context())
    assert result["body"] == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}"

    binary = stream_handler(lambda request: (200, {"content-type": "application/octet-stream"}, iter([b"\xff\x00", b"\xfe"])))
    result = binary(event("/"), Context())
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == b"\xff\x00\xfe"


def test_an_app_that_returns_at_once_on_its_lifespan_is_served_not_waited_for_forever():
    """Many plain ASGI apps return on a scope they do not know: that is no lifespan support
    (uvicorn reads it so), and the first request must not wait for a startup that never comes."""

    async def plain(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"served"})

    assert asgi(plain)(event("/"), Context())["body"] == "served"
    with pytest.raises(RuntimeError, match="returned from its lifespan without starting up"):
        asgi(plain, lifespan="on")(event("/"), Context())


def test_the_apps_lifespan_shutdown_runs_when_the_interpreter_exits(tmp_path):
    script = tmp_path / "serve_once.py"
    script.write_text(
        textwrap.dedent(
            """
            from contextlib import asynccontextmanager

            from starlette.applications import Starlette
            from starlette.responses import PlainTextResponse
            from starlette.routing import Route

            import lambda_relay

            @asynccontextmanager
            async def lifespan(app):
                print("startup", flush=True)
                yield
                print("shutdown", flush=True)

            async def hello(request):
                return PlainTextResponse("hello")

            handler = lambda_relay.asgi(Starlette(routes=[Route("/", hello)], lifespan=lifespan))
            event = {
                "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {"host": "fn.example"},
                "requestContext": {"http": {"method": "GET", "path": "/", "sourceIp": "203.0.113.9"}},
            }
            result = handler(event, None)
            print(result["statusCode"], result["body"], flush=True)
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == ["startup", "200 hello", "shutdown", ""]
    # No task of the app's is left pending when the interpreter goes.
    assert "Task was destroyed" not in done.stderr, done.stderr
    assert "lambda_relay" not in done.stderr, done.stderr


def test_header_values_beyond_latin_1_reach_the_app_as_their_utf_8_bytes():
    # Lambda hands a Function URL request's header bytes over as UTF-8 text.
    async def echo(scope, receive, send):
        value = dict(scope["headers"])[b"x-greeting"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": value})

    result = asgi(echo, lifespan="off")(event("/", headers={"x-greeting": "grüß dich ✓"}), Context())
    assert result["statusCode"] == 200
    body = base64.b64decode(result["body"]) if result.get("isBase64Encoded") else result["body"].encode()
    assert body == "grüß dich ✓".encode()


def test_stream_handler_takes_sync_and_async_functions_and_iterators():
    async def agen():
        for part in ("a", "b", "c"):
            yield part

    async def handler_async(request):
        return Response(201, [("x-kind", "async"), ("set-cookie", "a=1"), ("set-cookie", "b=2")], agen())

    result = stream_handler(handler_async)(event("/", query="q=1"), Context())
    assert (result["statusCode"], result["body"], result["headers"]["x-kind"]) == (201, "abc", "async")
    assert result["cookies"] == ["a=1", "b=2"]

    seen = {}

    def handler_sync(request):
        seen.update(method=request.method, path=request.path, query=request.query_string, client=request.client, url=request.url)
        return 200, {}, "plain"

    result = stream_handler(handler_sync)(event("/p", query="q=1"), Context())
    assert result["body"] == "plain"
    assert seen == {"method": "GET", "path": "/p", "query": "q=1", "client": "203.0.113.9", "url": "https://fn.example/p?q=1"}


def test_a_relay_invocation_without_configuration_answers_500_unconfigured(monkeypatch):
    monkeypatch.delenv("RELAY_GATEWAY_URL", raising=False)
    monkeypatch.delenv("RELAY_SECRET", raising=False)
    result = asgi(fastapi_app)(event("/sse", headers=relay_headers(path_and_query="/sse")), Context())
    assert result["statusCode"] == 500
    assert result["headers"]["x-lambda-relay-outcome"] == "unconfigured"


def test_a_token_that_does_not_verify_is_refused_with_403(relay_env):
    result = asgi(fastapi_app)(event("/sse", headers=relay_headers(token=mint("abc123", int(time.time()) + 60, "another secret, sixteen+"))), Context())
    assert result["statusCode"] == 403
    assert result["headers"]["x-lambda-relay-outcome"] == "refused"
    assert "relay token refused" in result["body"]


def test_a_small_complete_response_rides_in_the_result_without_a_socket(relay_env):
    handler = stream_handler(lambda request: Response(201, [("x-kind", "inline"), ("set-cookie", "a=1")], b"small and complete"))
    result = handler(event("/", headers=relay_headers()), Context())
    assert result["statusCode"] == 201
    assert result["body"] == "small and complete"
    assert result["headers"]["x-kind"] == "inline"
    assert result["cookies"] == ["a=1"]
    assert result["headers"]["x-lambda-relay-outcome"] == "complete"


def test_an_asgi_apps_small_complete_response_rides_in_the_result_without_a_socket(relay_env):
    # Nothing listens at the gateway URL: a response that needed the socket would fail.
    result = asgi(fastapi_app)(event("/e2e/release", query="tag=x&upto=0", headers=relay_headers(path_and_query="/e2e/release?tag=x&upto=0")), Context())
    assert result["statusCode"] == 204
    assert result["headers"]["x-lambda-relay-outcome"] == "complete"


def test_a_gateway_that_refuses_the_socket_is_a_failed_relay_not_an_abort(monkeypatch):
    # The function reaches a "gateway" that answers the upgrade with 403: the invocation's
    # result says so (502, outcome failed, the reason).
    class Refusing(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(403)
            self.send_header("content-length", "19")
            self.end_headers()
            self.wfile.write(b"relay token refused")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("RELAY_GATEWAY_URL", f"ws://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("RELAY_SECRET", SECRET)

    def streamed(request):
        def body():
            yield b"x" * 100_000  # over the inline limit: it needs the socket
            yield b"more"

        return 200, {}, body()

    try:
        result = stream_handler(streamed)(event("/", headers=relay_headers()), Context())
    finally:
        server.shutdown()
    assert result["statusCode"] == 502
    assert result["headers"]["x-lambda-relay-outcome"] == "failed"
    assert result["body"] == "relay failed: gateway refused the relay socket with HTTP 403"


def test_the_exceptions_carry_the_stable_codes():
    assert RelayAborted.code == "ERR_RELAY_ABORTED"
    assert RelayDeadline.code == "ERR_RELAY_DEADLINE"
    codes = {getattr(lambda_relay, name).code for name in lambda_relay.__all__ if name.startswith("Relay") and name != "RelayError"}
    # ERR_RELAY_PLATFORM is the wrapper's own (no native module to raise it), as in Node.
    assert codes == set(lambda_relay._event.CONSTANTS["error_codes"]) | {"ERR_RELAY_PLATFORM"}
    assert all(issubclass(getattr(lambda_relay, name), RelayError) for name in lambda_relay.__all__ if name.startswith("Relay"))


def test_the_package_is_typed():
    from importlib import resources

    files = {p.name for p in resources.files("lambda_relay").iterdir()}
    assert {"py.typed", "_native.pyi"} <= files


def test_a_direct_app_that_returns_without_ending_its_body_fails_the_invocation(monkeypatch):
    monkeypatch.delenv("RELAY_GATEWAY_URL", raising=False)
    monkeypatch.delenv("RELAY_SECRET", raising=False)

    async def unended(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})

    with pytest.raises(RuntimeError, match="before its response body ended"):
        asgi(unended, lifespan="off")(event(), None)


def test_a_panic_inside_the_native_module_is_a_python_exception_and_the_module_carries_on():
    from lambda_relay import _native

    with pytest.raises(BaseException) as raised:
        _native._panic_for_test("boom in Rust")
    assert type(raised.value).__name__ == "PanicException"
    assert "boom in Rust" in str(raised.value)
    assert _native.constants()["relay_id_header"] == "x-lambda-relay-id"


def test_serve_with_aws_iam_answers_what_botocore_did_not_sign_with_lambdas_403(monkeypatch):
    # botocore's SigV4Auth is AWS's own Python signer: what it signs gets through, anything
    # else gets the 403 a Function URL with AuthType AWS_IAM sends, before the handler runs.
    import json
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from lambda_relay._serve import make_server

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDPYTHONLOCAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "python/secret+key")
    ran = []

    def handler(event, context):
        ran.append(event["rawPath"])
        return {"statusCode": 200, "body": "ran"}

    server = make_server(handler, "127.0.0.1", 0, auth="aws_iam")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def send(url, body, key):
        request = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json"})
        SigV4Auth(Credentials("AKIDPYTHONLOCAL", key), "lambda", "eu-west-1").add_auth(request)
        prepared = urllib.request.Request(url, data=body, method="POST", headers=dict(request.headers.items()))
        try:
            with urllib.request.urlopen(prepared, timeout=10) as res:
                return res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    try:
        # A space as %20: botocore signs a literal `+` in a query as `+`, where AWS's Rust SDK,
        # npm aws4 and this verifier read it as a space (%20); the gateway's own signatures are
        # checked against aws4 end to end.
        status, _, body = send(f"{base}/orders/a%3Ab?x=1&y=a%20b", b'{"qty":1}', "python/secret+key")
        assert (status, body) == (200, b"ran")
        status, headers, body = send(f"{base}/orders", b"{}", "not the key")
        assert status == 403
        assert headers["x-amzn-ErrorType"] == "InvalidSignatureException"
        assert json.loads(body)["Message"].startswith("The request signature we calculated does not match")
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            urllib.request.urlopen(f"{base}/orders", timeout=10)
        assert unsigned.value.code == 403
        assert json.loads(unsigned.value.read()) == {"Message": "Forbidden"}
        assert ran == ["/orders/a%3Ab"], "only the signed request ran the handler"
    finally:
        server.shutdown()
        server.server_close()
