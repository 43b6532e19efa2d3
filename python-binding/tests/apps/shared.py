"""What the test apps share: the byte pattern of /bytes (byte i is i mod 251), the upload
routes' answer, the record of what each app observed (read back through /events), and the
gated streams' releases."""

import asyncio
import hashlib
import threading
from typing import AsyncIterator

EVENTS: list[dict] = []
_RELEASED: dict[str, int] = {}
_LOCK = threading.Lock()


def record(**event) -> None:
    with _LOCK:
        EVENTS.append(event)


def events() -> list[dict]:
    with _LOCK:
        return list(EVENTS)


FLOW: dict[str, dict[str, int]] = {}


def flow(tag: str, **fields: int) -> None:
    """A stream's progress: ``sent``, the bytes of completed sends; ``pending``, the bytes of
    the send the app is inside of (0 between sends)."""
    with _LOCK:
        FLOW.setdefault(tag, {"sent": 0, "pending": 0}).update(fields)


def flows() -> dict[str, dict[str, int]]:
    with _LOCK:
        return {tag: dict(f) for tag, f in FLOW.items()}


async def length_and_sha256(body: AsyncIterator[bytes]) -> str:
    """What the upload routes answer: the body's length and sha256, as it streamed in."""
    digest, n = hashlib.sha256(), 0
    async for chunk in body:
        digest.update(chunk)
        n += len(chunk)
    return f"{n} {digest.hexdigest()}"


def release(tag: str, upto: int) -> None:
    with _LOCK:
        _RELEASED[tag] = upto


async def released(tag: str, i: int) -> None:
    """Waits until the client released chunk ``i`` of the gated stream ``tag``."""
    while True:
        with _LOCK:
            if _RELEASED.get(tag, 0) >= i:
                return
        await asyncio.sleep(0.005)


async def gated_chunks(chunks: int, tag: str):
    """`chunk i` lines, each after the client released it (chunk 1 at once)."""
    for i in range(1, chunks + 1):
        if i > 1:
            await released(tag, i)
        yield f"chunk {i}\n".encode()


async def pattern_chunks(n: int, size: int = 256 * 1024):
    """`n` bytes of the pattern in chunks of `size`."""
    sent = 0
    while sent < n:
        length = min(size, n - sent)
        yield pattern_chunk(sent, length)
        sent += length


def pattern(start: int, length: int) -> bytes:
    return bytes((start + j) % 251 for j in range(length))


# One period of the pattern, long enough to slice any chunk of up to 1 MiB from.
_PERIOD = pattern(0, 251 * 4200)


def pattern_chunk(start: int, length: int) -> bytes:
    offset = start % 251
    return _PERIOD[offset : offset + length]
