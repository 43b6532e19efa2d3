"""``python -m lambda_relay serve module:attr [--port 9000] [--host 127.0.0.1]``: serves a
handler (or an ASGI app, wrapped with ``asgi``) as a local Function URL: each request becomes
a Function URL event (payload format 2.0), as Lambda's front door would invoke it, and the
handler's result becomes the response, buffered (the URL's ``InvokeMode: BUFFERED``)."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Sequence

from . import _portable
from ._errors import RelayError, require_native
from ._platform import native
from ._asgi import asgi, is_asgi_app

USAGE = (
    "python -m lambda_relay serve module:attr [--port 9000] [--host 127.0.0.1] [--auth none|aws_iam]\n"
    "       python -m lambda_relay dev module:attr [--port 8787]"
)
#: Lambda's longest run: the local context's remaining time at the start of an invocation.
TIMEOUT_MS = 900_000
_ids = itertools.count(1)


class LocalContext:
    """A Lambda context for local invocations: the deadline and ids a handler may read."""

    function_name = "lambda-relay-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:lambda-relay-local"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/lambda-relay-local"
    log_stream_name = "local"

    def __init__(self, request_id: str, remaining_ms: int = TIMEOUT_MS) -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load(spec: str) -> Callable[[dict, Any], Any]:
    """The handler named by ``module:attr`` (``attr`` defaults to ``handler``); an ASGI app
    is wrapped with ``asgi``."""
    module_name, _, attr = spec.partition(":")
    sys.path.insert(0, os.getcwd())
    target = getattr(importlib.import_module(module_name), attr or "handler")
    return asgi(target) if is_asgi_app(target) else target


def function_url_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, client: str, request_id: str) -> dict:
    """The Function URL event Lambda would make of this request (``adapter::function_url_event``,
    shared with the Rust and Node local servers)."""
    make = native.function_url_event if native is not None else _portable.function_url_event
    return make(method, target, headers, body, client, request_id, int(time.time() * 1000))


def _result_parts(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of a handler's result, as Lambda's front door reads it
    (``adapter::LocalResponse``)."""
    parts = native.local_response if native is not None else _portable.local_response
    return parts(json.dumps(result))


def iam_check(auth: str) -> Optional[Callable[[str, str, list[tuple[str, str]], bytes], Optional[tuple[int, list[tuple[str, str]], bytes]]]]:
    """The signature check ``auth`` asks for: ``aws_iam`` answers what does not verify for the key
    in ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` with Lambda's 403 (``adapter::iam_refusal``)."""
    if auth == "none":
        return None
    if auth != "aws_iam":
        raise ValueError(f'auth must be "none" or "aws_iam", got {auth!r}')
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID", ""), os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not key or not secret:
        raise ValueError('auth "aws_iam" needs a key: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY')
    token = os.environ.get("AWS_SESSION_TOKEN") or None
    signatures = require_native('`serve --auth aws_iam` (the signature check)')

    def check(method: str, target: str, headers: list[tuple[str, str]], body: bytes):
        return signatures.local_iam_refusal(method, target, headers, body, int(time.time() * 1000), key, secret, token)

    return check


def make_server(handler: Callable[[dict, Any], Any], host: str, port: int, auth: str = "none") -> ThreadingHTTPServer:
    iam = iam_check(auth)

    class FunctionUrl(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = self.headers.get("content-length")
            if length is not None:
                body = self.rfile.read(int(length))
            elif "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                body = self._read_chunked()
            else:
                body = b""
            request_id = f"local-{next(_ids)}"
            # Refused before the handler runs, as Lambda refuses before it invokes.
            refusal = iam and iam(self.command, self.path, list(self.headers.items()), body)
            if refusal:
                status, headers, data = refusal
            else:
                event = function_url_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0], request_id)
                try:
                    status, headers, data = _result_parts(handler(event, LocalContext(request_id)))
                except Exception:
                    traceback.print_exc()
                    # What Lambda's front door answers for a function error.
                    status, headers, data = 502, [("content-type", "text/plain")], b"Internal Server Error"
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _read_chunked(self) -> bytes:
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("LAMBDA_RELAY_LOG_REQUESTS"):
                super().log_message(format, *args)

    server = ThreadingHTTPServer((host, port), FunctionUrl)
    server.daemon_threads = True
    return server


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lambda_relay",
        usage=USAGE,
        description="serve: a handler (or an ASGI app) as a local Function URL. Buffered, as a Function URL "
        "is: each response arrives whole, when the handler is done. dev: the handler behind the gateway in "
        "workerd, streaming as deployed (uploads and disconnects too); it needs Node.js (npx) for the gateway, "
        "which comes from npm on first use.",
    )
    parser.add_argument("command", choices=["serve", "dev"])
    parser.add_argument("target", help="module:attr, a Lambda handler or an ASGI app")
    parser.add_argument("--port", type=int, default=None, help="9000 for serve, 8787 for dev")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--auth", choices=["none", "aws_iam"], default="none", help="aws_iam: answer requests whose SigV4 signature does not verify with Lambda's 403")
    args = parser.parse_args(argv)
    if args.command == "dev":
        return dev(args.target, 8787 if args.port is None else args.port)
    try:
        server = make_server(load(args.target), args.host, 9000 if args.port is None else args.port, args.auth)
    except (ValueError, RelayError) as e:
        print(f"lambda-relay: {e}", file=sys.stderr)
        return 2
    auth = ", AuthType AWS_IAM" if args.auth == "aws_iam" else ""
    print(f"lambda-relay: serving {args.target} as a Function URL on http://{args.host}:{server.server_address[1]}{auth}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def dev(target: str, port: int) -> int:
    """``dev``: the handler as a local Function URL on a free port, and in front of it the gateway
    (``lambda-relay-gateway dev``, run by npx from npm; LAMBDA_RELAY_DEV_GATEWAY names another
    package spec, such as a tarball) in workerd on 127.0.0.1, with a random secret shared by the
    two. One URL, whose responses stream exactly as deployed."""
    try:
        require_native("`dev` (it relays)")
        handler = load(target)
    except (ValueError, RelayError) as e:
        print(f"lambda-relay: {e}", file=sys.stderr)
        return 2
    npx = shutil.which("npx")
    if npx is None:
        print(
            "lambda-relay: dev runs the gateway in workerd with Node.js's npx, which is not on PATH; install Node.js "
            "22 or later (or 20, then Node 22 comes from npm), or use `serve` (buffered)",
            file=sys.stderr,
        )
        return 2
    secret = secrets.token_hex(32)
    server = make_server(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, name="lambda-relay-dev-function", daemon=True).start()
    function_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        version = importlib.metadata.version("lambda-relay")
    except importlib.metadata.PackageNotFoundError:
        version = "latest"
    spec = os.environ.get("LAMBDA_RELAY_DEV_GATEWAY") or f"lambda-relay-gateway@{version}"
    env = {**os.environ, "LAMBDA_RELAY_GATEWAY_VARS": json.dumps({"LAMBDA_URL": function_url, "RELAY_SECRET": secret})}
    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    gateway = subprocess.Popen(
        [npx, "--yes", "--package", spec, "lambda-relay-gateway", "dev", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert gateway.stdout is not None
        for line in gateway.stdout:
            ready = re.search(r"ready on (http\S+)", line)
            if not ready:
                print(line, end="", flush=True)
                continue
            url = ready.group(1)
            # The function dials the gateway at invocation time: from now on, this one.
            os.environ["RELAY_GATEWAY_URL"] = "ws" + url[len("http") :]
            os.environ["RELAY_SECRET"] = secret
            print(f"lambda-relay dev: {url} -> {target}, streaming through the gateway in workerd; the function itself on {function_url}", flush=True)
        code = gateway.wait()
        print(f"lambda-relay dev: the gateway exited ({code})", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        return 0
    finally:
        if gateway.poll() is None:
            gateway.terminate()
            gateway.wait(10)
        server.shutdown()
