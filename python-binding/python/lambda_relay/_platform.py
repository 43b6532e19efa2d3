"""The native module, where this platform has one (Linux x86_64 and arm64, glibc: what Lambda
runs), and the constants the package shares with Rust. Without it (a macOS or Windows dev
machine, the pure wheel) the package still imports: direct invocations and the local server
run on ``_portable``; a relayed invocation raises ``RelayPlatformError``."""

from __future__ import annotations

import json
import platform
import sys
from importlib import resources
from types import ModuleType
from typing import Any, Mapping, Optional

native: Optional[ModuleType]
try:
    from . import _native as native
except ImportError as e:  # not built for this platform
    native = None
    MISSING: Optional[ImportError] = e
else:
    MISSING = None


def _constants() -> dict[str, Any]:
    if native is not None:
        return native.constants()
    # What the native module says, written down for platforms without it: a test keeps
    # the two the same.
    return json.loads(resources.files(__package__).joinpath("_constants.json").read_text())


CONSTANTS: Mapping[str, Any] = _constants()


def describe() -> str:
    """This platform, as the error that names it says it."""
    return f"{sys.platform} {platform.machine()}, CPython {sys.version_info.major}.{sys.version_info.minor}"
