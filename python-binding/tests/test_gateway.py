"""Python functions through the real gateway in workerd: a FastAPI and a Starlette app served by
``lambda_relay.asgi``, and a ``stream_handler`` function. Every test asserts bytes, hashes,
orders or counts."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from .apps.shared import pattern_chunk

APPS = ["tests.apps.fastapi_app:app", "tests.apps.starlette_app:app"]
MiB = 1 << 20


def open_stream(url: str, method: str = "GET", body=None, headers=None) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers or {})
    return conn, conn.getresponse()


def fetch(url: str, method: str = "GET", body=None) -> tuple[int, bytes]:
    conn, res = open_stream(url, method, body)
    try:
        return res.status, res.read()
    finally:
        conn.close()


def read_sha256(res: http.client.HTTPResponse) -> tuple[int, str]:
    """The length and sha256 of the rest of a response's body, read as it streams."""
    digest, got = hashlib.sha256(), 0
    while chunk := res.read1(1 << 20):
        digest.update(chunk)
        got += len(chunk)
    return got, digest.hexdigest()


def pattern_sha256(n: int) -> str:
    """The sha256 of the first `n` bytes of the test apps' pattern."""
    digest, step = hashlib.sha256(), 251 * 4000
    for start in range(0, n, step):
        digest.update(pattern_chunk(start, min(step, n - start)))
    return digest.hexdigest()


def events(relay, tag: str) -> list[dict]:
    status, body = fetch(f"{relay.function_url}/events")
    assert status == 200
    data = json.loads(body)
    found = data["events"] if isinstance(data, dict) else data
    return [e for e in found if e.get("tag") == tag]


@pytest.fixture(scope="module", params=APPS, ids=["fastapi", "starlette"])
def relay(request, relay_factory):
    return relay_factory(request.param)


@pytest.fixture(scope="module")
def fastapi(relay_factory):
    return relay_factory(APPS[0])


def test_chunks_arrive_one_by_one(relay):
    # Chunk i+1 is made only after the client received chunk i: a relay that buffered would hang.
    tag = f"order-{os.getpid()}-{relay.url[-5:]}"
    conn, res = open_stream(f"{relay.url}/gated?chunks=4&tag={tag}")
    assert res.status == 200
    lines = []
    while len(lines) < 4:
        line = res.readline()
        assert line, "the stream ended early"
        lines.append(line.decode().rstrip("\n"))
        if len(lines) < 4:
            fetch(f"{relay.function_url}/e2e/release?tag={tag}&upto={len(lines) + 1}")
    assert lines == ["chunk 1", "chunk 2", "chunk 3", "chunk 4"]
    assert res.read() == b"", "the response ends after the last chunk"
    conn.close()


def test_100_mb_arrive_sha256_identical(fastapi):
    n = 100 * 1000 * 1000
    conn, res = open_stream(f"{fastapi.url}/bytes?n={n}")
    assert res.status == 200
    got = read_sha256(res)
    conn.close()
    assert got == (n, pattern_sha256(n))


def test_an_upload_read_with_cancelled_receives_loses_no_byte(fastapi):
    # Reads given a moment and cancelled when it runs out, and is_disconnected() between them
    # (which cancels a receive at once), must neither drop nor repeat a chunk.
    body = os.urandom(5 * 1000 * 1000)

    def chunks():  # no content-length: the body streams over the relay, in small pieces
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    conn, res = open_stream(f"{fastapi.url}/raw/impatient-upload", "POST", chunks())
    assert res.status == 200
    assert res.read().decode() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    conn.close()
    status, raw = fetch(f"{fastapi.function_url}/events")
    timeouts = [e["timeouts"] for e in json.loads(raw)["events"] if e.get("kind") == "impatient-upload"]
    assert timeouts and timeouts[-1] > 0, "some reads were cancelled, or the test proves nothing"


def test_a_20_mb_upload_streams_in_through_receive(relay):
    body = os.urandom(20 * 1000 * 1000)

    def chunks():  # no content-length: the body streams over the relay
        for i in range(0, len(body), 1 << 20):
            yield body[i : i + (1 << 20)]

    conn, res = open_stream(f"{relay.url}/upload", "POST", chunks())  # chunked, no length
    assert res.status == 200
    assert res.read().decode() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    conn.close()


def test_a_client_that_goes_away_reaches_the_app_as_http_disconnect(fastapi):
    tag = f"gone-{time.monotonic_ns()}"
    conn, res = open_stream(f"{fastapi.url}/raw/stream?tag={tag}")
    assert res.status == 200
    assert len(res.read(256 * 1024)) == 256 * 1024
    conn.sock.close()  # the client hangs up mid-stream
    conn.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        kinds = {e["kind"] for e in events(fastapi, tag)}
        if {"disconnect", "stopped"} <= kinds:
            break
        time.sleep(0.1)
    assert {"disconnect", "stopped"} <= kinds, f"the app saw {kinds}"
    failures = [e for e in events(fastapi, tag) if e["kind"] == "send-failed"]
    assert all(f["error"] == "ClientDisconnected" and f["code"] == "ERR_RELAY_ABORTED" for f in failures), failures
    # The app's endless stream stopped, having got out no more than the window and the
    # buffers in front of the client could take.
    stopped = next(e["bytes"] for e in events(fastapi, tag) if e["kind"] == "stopped")
    assert stopped < 64 * MiB, f"the app sent {stopped / MiB:.1f} MiB to a client that read 0.25 MiB"


def test_an_error_after_the_head_aborts_the_clients_transfer(relay):
    conn, res = open_stream(f"{relay.url}/fail-after-head")
    assert res.status == 200
    assert res.readline() == b"the head and a first chunk\n"
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        res.read()  # never a clean end
    conn.close()


WINDOW = 4 * MiB  # the gateway's default window
# How far the app may get ahead of the client: the window, two write batches (1 MiB each),
# and what workerd's, the kernel's and http.client's buffers hold.
AHEAD_BOUND = 64 * MiB


def test_a_paused_client_holds_the_app_back(fastapi):
    # The client reads nothing for a while: the app's sends block once the relay's window and
    # buffers are full, instead of the app producing all of it into memory. Counted, not
    # timed: the bound holds at every sample, paused and reading.
    tag = f"paused-{time.monotonic_ns()}"
    total = 400 * MiB
    conn, res = open_stream(f"{fastapi.url}/raw/stream?tag={tag}&total={total}")
    assert res.status == 200
    received, digest = 0, hashlib.sha256()

    def sample() -> dict:
        status, body = fetch(f"{fastapi.function_url}/events")
        assert status == 200
        f = json.loads(body)["flow"].get(tag, {"sent": 0, "pending": 0})
        ahead = f["sent"] - received
        assert ahead <= AHEAD_BOUND, f"the app got {ahead / MiB:.1f} MiB ahead of a client that read {received}"
        return f

    # Paused: the app fills the window, then sits inside a send the relay has not taken.
    deadline = time.monotonic() + 120  # a guard against a hang, not the measure
    while not ((f := sample())["pending"] and f["sent"] >= WINDOW):
        assert time.monotonic() < deadline, f"the app never filled the window: {f}"
        time.sleep(0.02)
    # Still paused: twenty more looks, each inside the bound, and the app never gets to the end.
    for _ in range(20):
        f = sample()
    assert f["pending"] and f["sent"] < total, f"a paused client let the app finish: {f}"
    print(f"figure: a paused client held the app at {f['sent'] / MiB:.1f} MiB of {total / MiB:.0f} MiB")

    # Reading: the app keeps pace with the client, never more than the bound ahead.
    next_look = 16 * MiB
    while chunk := res.read1(1 << 20):
        digest.update(chunk)
        received += len(chunk)
        if received >= next_look:
            sample()
            next_look += 16 * MiB
    conn.close()
    assert (received, digest.hexdigest()) == (total, pattern_sha256(total))
    assert sample() == {"sent": total, "pending": 0}


def test_server_sent_events_arrive_in_order(fastapi):
    status, body = fetch(f"{fastapi.url}/sse")
    assert status == 200
    ids = [int(line.split(": ")[1]) for line in body.decode().splitlines() if line.startswith("id: ")]
    assert ids == [0, 1, 2, 3, 4]


def test_the_lifespan_started_once(fastapi):
    status, body = fetch(f"{fastapi.function_url}/events")
    assert status == 200
    assert json.loads(body)["started"] == ["startup"]


def test_an_app_that_returns_without_ending_its_body_aborts_the_transfer(fastapi):
    # As uvicorn does: the transfer is cut, never ended cleanly. The abort races the head to the
    # client: when it wins, the connection closes before any response (as uvicorn's does when it
    # has not flushed); when the head is out first, the body is cut short.
    parts = urlsplit(f"{fastapi.url}/raw/unended?status=200")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.request("GET", f"{parts.path}?{parts.query}")
    try:
        res = conn.getresponse()
    except http.client.RemoteDisconnected:
        conn.close()
        return
    assert res.status == 200
    with pytest.raises(http.client.IncompleteRead) as cut:
        res.read()
    # What was sent may or may not be out before the abort; never more, never a clean end.
    assert b"partial".startswith(cut.value.partial)
    conn.close()


def test_an_app_whose_head_the_relay_refuses_gets_a_502_not_a_hang(fastapi):
    # The head is refused only when the app has returned and the relay ends the response.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{fastapi.url}/raw/unended?status=103", timeout=60)
    assert e.value.code == 502
    assert e.value.headers["x-lambda-relay-error"] == "handler_error"


def test_receive_reports_http_disconnect_once_the_response_was_sent(fastapi):
    tag = f"after-{time.monotonic_ns()}"
    status, body = fetch(f"{fastapi.url}/raw/after-response?tag={tag}")
    assert (status, len(body)) == (200, 100_000)
    deadline = time.monotonic() + 20
    while not (seen := [e["message"] for e in events(fastapi, tag) if e["kind"] == "after-response"]):
        assert time.monotonic() < deadline, "the app's receive never returned after its response"
        time.sleep(0.1)
    assert seen == ["http.disconnect"]


def test_a_stream_handler_generator_streams(relay_factory):
    relay = relay_factory("tests.apps.plain:handler")
    conn, res = open_stream(f"{relay.url}/count?n=5")
    assert res.status == 200
    assert res.getheader("content-type") == "text/plain"
    assert res.read().decode() == "".join(f"line {i}\n" for i in range(5))
    conn.close()
    status, body = fetch(f"{relay.url}/echo", "POST", b"x" * 3_000_000)
    assert status == 200
    assert body == b"3000000"
