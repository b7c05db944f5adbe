"""What every codec produces: decoded messages with records, and their translation into device reports.

A codec decodes one wire frame into a :class:`Decoded` message holding zero or more :class:`Record` values in
the protocol's own terms (a fix may be invalid, an alarm is a word of the shared alarm vocabulary). Only
:func:`to_reports` turns records into :class:`~kuzet.domain.reports.DeviceReport` values, so that every protocol
maps alarms to report fields in the same way. Never performs I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import DeviceReport

#: The shared alarm vocabulary of the conformance corpus; every codec reports alarms in these words.
ALARMS = frozenset({"sos", "strap_open", "tamper", "battery_low", "power_cut", "jamming", "fall",
                    "geofence_enter", "geofence_exit", "shock", "overspeed", "power_off", "power_on"})

#: Alarm word -> device event of the report (``tamper`` means the case was opened).
ALARM_EVENTS: Mapping[str, str] = {
    "sos": "sos", "strap_open": "strap_open", "tamper": "case_open", "battery_low": "battery_low",
    "power_cut": "power_cut", "jamming": "jamming", "shock": "shock", "overspeed": "overspeed",
    "power_off": "power_off", "power_on": "power_on",
}

KNOTS_TO_KMH = 1.852


class FrameError(ValueError):
    """A frame that cannot be decoded; ``reason`` says what was wrong, ``http_status`` what an HTTP
    transport answers (400 by default)."""

    def __init__(self, reason: str, *, http_status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


@dataclass(frozen=True, slots=True)
class Record:
    """One measurement as the protocol carries it. ``lat``/``lon`` are present whenever the frame carries
    coordinates, even an invalid (last-known) fix; ``valid`` says whether they are a real fix."""

    time: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    valid: bool = False
    satellites: int | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    altitude_m: float | None = None
    accuracy_m: float | None = None
    battery_pct: float | None = None
    charging: bool | None = None
    alarms: tuple[str, ...] = ()
    seq: int | None = None
    source: str | None = None
    strap: str | None = None
    case: str | None = None
    events: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoded frame: what it is, whose it is, its records, and the exact reply the device expects."""

    protocol: str
    kind: str
    raw: bytes
    device_id: str | None = None
    records: tuple[Record, ...] = ()
    reply: bytes | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    crc_valid: bool | None = None


def to_reports(message: Decoded, device: str, received: datetime) -> list[DeviceReport]:
    """The device reports for ``message`` from ``device`` received at ``received`` (UTC).

    An invalid fix never becomes a position (its coordinates are kept in ``extra.last_known``); a record
    without a time is taken at ``received``; alarms become events and, for strap and case, closure states.
    ``raw`` is the whole wire frame, kept for evidence.
    """
    out: list[DeviceReport] = []
    for r in message.records:
        events: list[str] = list(r.events)
        strap: Closure | None = None if r.strap is None else Closure(r.strap)
        case: Closure | None = None if r.case is None else Closure(r.case)
        for alarm in r.alarms:
            event = ALARM_EVENTS.get(alarm)
            if event is not None and event not in events:
                events.append(event)
            if alarm == "strap_open":
                strap = Closure.OPEN
            elif alarm == "tamper":
                case = Closure.OPEN
        extra: dict[str, Any] = {"protocol": message.protocol}
        if r.alarms:
            extra["alarms"] = list(r.alarms)
        extra.update(r.extra)
        located = r.valid and r.lat is not None and r.lon is not None and _on_earth(r.lat, r.lon)
        if not located and r.lat is not None and r.lon is not None and _on_earth(r.lat, r.lon):
            extra["last_known"] = [r.lat, r.lon]
        source = Source(r.source) if r.source else Source.GPS
        battery = r.battery_pct
        if battery is not None and not 0 <= battery <= 100:
            extra["battery_out_of_range"] = battery
            battery = None
        out.append(DeviceReport(
            device=device, time=r.time or received, received=received, seq=r.seq,
            lat=r.lat if located else None, lon=r.lon if located else None,
            accuracy_m=r.accuracy_m if located else None,
            source=source if located or source is Source.BEACON else Source.NONE,
            satellites=r.satellites, speed_kmh=r.speed_kmh if located else None,
            heading_deg=r.course_deg if located else None, altitude_m=r.altitude_m if located else None,
            battery_pct=battery, charging=r.charging, strap=strap, case=case, events=tuple(events),
            extra=extra, raw=message.raw,
        ))
    return out


def _on_earth(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def crc16_ibm(data: bytes) -> int:
    """CRC-16/ARC (IBM): poly 0xA001 reflected, init 0. check('123456789') = 0xBB3D."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _x25_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_X25 = _x25_table()


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25 (CRC-ITU): poly 0x8408 reflected, init and xorout 0xFFFF. check('123456789') = 0x906E."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _X25[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def _ibm_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_IBM = _ibm_table()


def crc16_ibm_fast(data: bytes) -> int:
    """Table-driven :func:`crc16_ibm`."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _IBM[(crc ^ byte) & 0xFF]
    return crc
