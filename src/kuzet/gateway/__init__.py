"""The device gateway: market tracker protocols and the open Kuzet protocol in, durable reports out.

``codecs`` holds one pure module per protocol; ``tcp``, ``http`` and ``mqtt`` are thin servers around them;
``sink`` defines where reports go before a device is acknowledged; ``directory`` is the device lookup and the
command queue. Public names are loaded lazily so that importing the package (for its models or for
``queue_command``) does not start or import any server machinery.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Gateway": "kuzet.gateway.service", "GatewayConfig": "kuzet.gateway.service",
    "DEFAULT_PORTS": "kuzet.gateway.service", "Limits": "kuzet.gateway.tcp",
    "ReportSink": "kuzet.gateway.sink", "SinkUnavailable": "kuzet.gateway.sink", "StoreSink": "kuzet.gateway.sink",
    "queue_command": "kuzet.gateway.directory", "pending_commands": "kuzet.gateway.directory",
    "note_unknown_device": "kuzet.gateway.directory",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kuzet.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
