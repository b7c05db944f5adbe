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
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import msgspec
import orjson

from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import DeviceReport

log = logging.getLogger("kuzet.journal")

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


class Routing:
    """The partitions a journal writes each device's reports to (shared by both journals)."""

    partitions: int
    #: protected persons' devices -> the wearers' devices they are linked to (see :func:`partitions_for`)
    links: dict[str, tuple[str, ...]]

    def set_links(self, links: Mapping[str, Sequence[str]]) -> None:
        """Take the current links (the gateway's device directory hands them over with the fleet)."""
        self.links = {d: tuple(w) for d, w in links.items() if w}

    def partitions_of(self, device: str) -> list[int]:
        return partitions_for(device, self.partitions, self.links)


def partitions_for(device: str, partitions: int, links: Mapping[str, Sequence[str]]) -> list[int]:
    """Every partition a device's reports must reach: its own, and for a protected person's device those of
    the wearers it is linked to (``links``: device -> wearers' devices), so that the monitor deciding a wearer's
    proximity alerts reads the protected person's track whichever partitions it owns.

    >>> partitions_for("PP-1", 8, {"PP-1": ["869606916162652"]}) == sorted(
    ...     {partition_of("PP-1", 8), partition_of("869606916162652", 8)})
    True
    """
    own = partition_of(device, partitions)
    linked = links.get(device)
    if not linked:
        return [own]
    return sorted({own, *(partition_of(d, partitions) for d in linked)})


#: Journal bodies are ``[2, {the report's fields}]``, written and read by msgspec straight from and into the
#: :class:`DeviceReport` dataclass (its ``__post_init__`` checks run on reading). Format 1, still read, was the
#: exchange-format object with unknown fields flattened into it and the wire frame under ``_raw``.
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(tuple[Literal[2], DeviceReport])


def encode_report(report: DeviceReport) -> bytes:
    """A report as the journal keeps it (format 2): every field, the wire frame (base64) for evidence.

    >>> from datetime import datetime, UTC
    >>> r = DeviceReport(device="d1", time=datetime(2026, 1, 1, tzinfo=UTC), received=datetime(2026, 1, 1, tzinfo=UTC),
    ...                  raw=b"frame", extra={"io": {"66": 12}})
    >>> decode_report(encode_report(r)) == r
    True
    """
    return b"[2," + _ENCODER.encode(report) + b"]"


_FIELDS = frozenset({"device", "seq", "time", "received", "lat", "lon", "accuracy_m", "source", "satellites",
                     "speed_kmh", "heading_deg", "altitude_m", "battery_pct", "charging", "strap", "case",
                     "events", "_raw"})


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def decode_report(data: bytes | str | dict[str, Any]) -> DeviceReport:
    """The report that :func:`encode_report` wrote (it was validated before it was journalled); format 1
    bodies (a JSON object, or the object itself) are read as well."""
    if isinstance(data, bytes | str) and data[:1] in (b"[", "["):
        return _DECODER.decode(data)[1]
    b: dict[str, Any] = data if isinstance(data, dict) else orjson.loads(data)
    raw = b.get("_raw")
    strap, case = b.get("strap"), b.get("case")
    return DeviceReport(
        device=b["device"], time=_time(b["time"]), received=_time(b["received"]), seq=b.get("seq"),
        lat=b.get("lat"), lon=b.get("lon"), accuracy_m=b.get("accuracy_m"), source=Source(b.get("source") or "none"),
        satellites=b.get("satellites"), speed_kmh=b.get("speed_kmh"), heading_deg=b.get("heading_deg"),
        altitude_m=b.get("altitude_m"), battery_pct=b.get("battery_pct"), charging=b.get("charging"),
        strap=None if strap is None else Closure(strap), case=None if case is None else Closure(case),
        events=tuple(b.get("events") or ()), extra={k: v for k, v in b.items() if k not in _FIELDS},
        raw=None if raw is None else base64.b64decode(raw))


def decode_or_reject(data: bytes, where: str) -> DeviceReport | None:
    """:func:`decode_report`, or ``None`` with an error in the log when the body cannot be read (a damaged
    row, or one written by a newer version): a reader skips it and goes on, so one bad body never stops a
    monitor. The caller keeps the body where an operator can find it."""
    try:
        return decode_report(data)
    except Exception as exc:  # any failure to read one body is that body's, not the reader's
        log.error("journal %s: a body that cannot be read was set aside (%s: %s); its first bytes: %r",
                  where, type(exc).__name__, exc, bytes(data[:120]))
        return None


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
