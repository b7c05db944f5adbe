"""The journal: the durable, per-device-ordered log between the gateway and the monitor.

A journal is written by the gateway (it implements the gateway's ``ReportSink``: ``append`` returns only once
every report is durable, and raises :class:`JournalUnavailable` otherwise, so that the device is not
acknowledged) and read by the monitor through a :class:`JournalReader`, from the offsets of its last
checkpoint. Two implementations: :mod:`kuzet.journal.embedded` (SQLite, group commit) and
:mod:`kuzet.journal.nats` (NATS JetStream, subjects partitioned by device).

The journal never evaluates rules, never writes the store and never drops a record it has acknowledged.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from kuzet.domain.reports import DeviceReport

#: Default number of device partitions: the unit of scale-out for monitors.
DEFAULT_PARTITIONS = 8


class JournalUnavailable(Exception):
    """The journal could not make a record durable: the caller must not acknowledge it."""


def partition_of(device: str, partitions: int) -> int:
    """The partition a device's reports go to: stable across processes and restarts (CRC-32, not ``hash``).

    >>> partition_of("869606916162652", 8) == partition_of("869606916162652", 8)
    True
    """
    return zlib.crc32(device.encode()) % partitions


def encode_report(report: DeviceReport) -> bytes:
    """A report as the journal keeps it: its exchange-format JSON, plus the wire frame for evidence."""
    body = report.to_json()
    if report.raw is not None:
        body["_raw"] = base64.b64encode(report.raw).decode()
    return orjson.dumps(body)


def decode_report(data: bytes | str | dict[str, Any]) -> DeviceReport:
    body: dict[str, Any] = dict(data) if isinstance(data, dict) else orjson.loads(data)
    raw = body.pop("_raw", None)
    report = DeviceReport.from_json(body)
    if raw is not None:
        object.__setattr__(report, "raw", base64.b64decode(raw))
    return report


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journalled report. ``offset`` is strictly increasing within ``stream``; a stream is the unit a
    checkpoint remembers (the whole embedded journal, or one JetStream partition)."""

    stream: str
    offset: int
    protocol: str
    report: DeviceReport


class JournalReader(Protocol):
    """A monitor's view of the journal, positioned just after its checkpoint."""

    async def fetch(self, max_entries: int, wait_s: float) -> list[JournalEntry]:
        """Up to ``max_entries`` entries after the last fetched ones, each device's in journal order.

        Waits at most ``wait_s`` for the first one; returns an empty list when caught up."""
        ...

    async def confirm(self, offsets: Mapping[str, int]) -> None:
        """Tell the journal that everything up to ``offsets`` is checkpointed in the store (it may be released)."""
        ...

    async def close(self) -> None: ...


class Journal(Protocol):
    """The interface both journals implement (a ``ReportSink`` for the gateway, plus readers for monitors)."""

    partitions: int

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def append(self, reports: Sequence[DeviceReport], *, protocol: str) -> None:
        """Make ``reports`` durable before returning; raise :class:`JournalUnavailable` if that is impossible."""
        ...

    async def reader(self, name: str, partitions: Sequence[int] | None,
                     start_after: Mapping[str, int]) -> JournalReader:
        """A reader for the consumer ``name`` over ``partitions`` (``None``: all), after ``start_after``."""
        ...


def open_journal(url: str, *, var_dir: str = "var", partitions: int = DEFAULT_PARTITIONS,
                 stream: str = "KUZET") -> Journal:
    """The journal named by ``KUZET_JOURNAL_URL``: ``embedded`` (``var/journal.db``), ``sqlite:///path`` or
    ``nats://host:port``."""
    if url == "embedded" or url.startswith("sqlite"):
        from .embedded import EmbeddedJournal

        path = f"{var_dir}/journal.db" if url == "embedded" else url.split("///", 1)[-1]
        return EmbeddedJournal(path, partitions=partitions)
    if url.startswith("nats://"):
        from .nats import NatsJournal

        return NatsJournal(url, stream=stream, partitions=partitions)
    raise ValueError(f"unknown journal URL {url!r}: expected 'embedded', 'sqlite:///PATH' or 'nats://HOST:PORT'")
