"""The relay's exceptions. Each carries ``code``, one of the stable ``ERR_RELAY_*`` codes the
Node package uses too; all derive from :class:`RelayError`. Without the native module (see
``_platform``) the same classes are made here, so code that catches them runs everywhere."""

from __future__ import annotations

from typing import Optional

from ._platform import CONSTANTS, MISSING, describe, native

if native is not None:
    from ._native import (
        RelayAborted,
        RelayClosed,
        RelayConfigError,
        RelayConnectError,
        RelayDeadline,
        RelayError,
        RelayEventError,
        RelayProtocolError,
        RelayRefused,
        RelaySessionError,
        RelayUsageError,
    )
else:

    class RelayError(Exception):  # type: ignore[no-redef]
        """An error from the relay. `code` is one of the stable ERR_RELAY_* codes, the same as the Node package's."""

        code: Optional[str] = None

    _classes = {name: type(name, (RelayError,), {"code": code, "__doc__": f"`code` is {code}."}) for code, name in CONSTANTS["error_classes"]}
    RelayAborted = _classes["RelayAborted"]
    RelayClosed = _classes["RelayClosed"]
    RelayConfigError = _classes["RelayConfigError"]
    RelayConnectError = _classes["RelayConnectError"]
    RelayDeadline = _classes["RelayDeadline"]
    RelayEventError = _classes["RelayEventError"]
    RelayProtocolError = _classes["RelayProtocolError"]
    RelayRefused = _classes["RelayRefused"]
    RelaySessionError = _classes["RelaySessionError"]
    RelayUsageError = _classes["RelayUsageError"]


class RelayPlatformError(RelayError):
    """This platform has no native module, which relayed invocations (and ``serve --auth
    aws_iam``) need. `code` is ERR_RELAY_PLATFORM."""

    code = "ERR_RELAY_PLATFORM"


def platform_error(what: str) -> RelayPlatformError:
    """The error for ``what`` on a platform without the native module: the platform, and the fix."""
    return RelayPlatformError(
        f"{what} needs lambda_relay's native module, which is not installed for this platform "
        f"({describe()}; {MISSING}). It is built for Linux x86_64 and arm64 (glibc), as Lambda "
        "runs: deploy with those wheels, e.g. `pip install --platform manylinux2014_x86_64 "
        "--only-binary=:all: --target <package dir> lambda-relay` (manylinux2014_aarch64 for "
        "arm64). Direct invocations and `python -m lambda_relay serve` work without it."
    )


def require_native(what: str):
    """The native module, or :func:`platform_error` for ``what``."""
    if native is None:
        raise platform_error(what)
    return native


__all__ = [
    "RelayError",
    "RelayAborted",
    "RelayClosed",
    "RelayConfigError",
    "RelayConnectError",
    "RelayDeadline",
    "RelayEventError",
    "RelayPlatformError",
    "RelayProtocolError",
    "RelayRefused",
    "RelaySessionError",
    "RelayUsageError",
]
