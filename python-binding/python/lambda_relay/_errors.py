"""The relay's exceptions. Each carries ``code``, one of the stable ``ERR_RELAY_*`` codes the
Node package uses too; all derive from :class:`RelayError`."""

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

__all__ = [
    "RelayError",
    "RelayAborted",
    "RelayClosed",
    "RelayConfigError",
    "RelayConnectError",
    "RelayDeadline",
    "RelayEventError",
    "RelayProtocolError",
    "RelayRefused",
    "RelaySessionError",
    "RelayUsageError",
]
