"""The device report: one measurement from one device, in the exchange format's terms."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .enums import Closure, DeviceEvent, Source
from .errors import DomainError, ReportError
from .timeutil import format_utc, parse_utc

#: A fix is usable for zone decisions when it is this accurate or better (FORMAT.md, location_loss).
USABLE_ACCURACY_M = 100.0

_KNOWN_FIELDS = frozenset(
    {
        "device", "seq", "time", "received", "lat", "lon", "accuracy_m", "source", "satellites",
        "speed_kmh", "heading_deg", "altitude_m", "battery_pct", "charging", "strap", "case", "events",
    }
)


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """What a device measured at ``time`` and the server received at ``received`` (both UTC).

    Position fields are ``None`` when the device had no fix. ``extra`` keeps unknown fields so that
    an import followed by an export loses nothing; ``raw`` keeps the wire frame for evidence.
    """

    device: str
    time: datetime
    received: datetime
    seq: int | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    source: Source = Source.NONE
    satellites: int | None = None
    speed_kmh: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    battery_pct: float | None = None
    charging: bool | None = None
    strap: Closure | None = None
    case: Closure | None = None
    events: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)
    raw: bytes | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.device:
            raise ReportError("device id is empty", field="device")
        for name in ("time", "received"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ReportError("timestamp without a time zone", field=name)
        if (self.lat is None) != (self.lon is None):
            raise ReportError("lat and lon must both be present or both absent", field="lat")
        if self.lat is not None and self.lon is not None:
            if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
                raise ReportError(f"latitude out of range: {self.lat}", field="lat")
            if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
                raise ReportError(f"longitude out of range: {self.lon}", field="lon")
        if self.accuracy_m is not None and not (math.isfinite(self.accuracy_m) and self.accuracy_m >= 0):
            raise ReportError(f"accuracy must be a non-negative number: {self.accuracy_m}", field="accuracy_m")
        if self.battery_pct is not None and not (0.0 <= self.battery_pct <= 100.0):
            raise ReportError(f"battery must be 0..100: {self.battery_pct}", field="battery_pct")
        if self.seq is not None and self.seq < 0:
            raise ReportError(f"seq must not be negative: {self.seq}", field="seq")

    @property
    def has_fix(self) -> bool:
        return self.lat is not None and self.source is not Source.NONE

    @property
    def has_usable_fix(self) -> bool:
        """A fix good enough to decide zones: a home-beacon contact, or accuracy of 100 m or better."""
        if self.source is Source.BEACON:
            return True
        if not self.has_fix:
            return False
        return self.accuracy_m is not None and self.accuracy_m <= USABLE_ACCURACY_M

    def with_received(self, received: datetime) -> DeviceReport:
        return replace(self, received=received)

    # -- exchange format -------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceReport:
        """Build a report from one ``reports.ndjson`` object; raise :class:`ReportError` naming the field."""
        if not isinstance(data, Mapping):
            raise ReportError("a report must be a JSON object")
        try:
            device = data["device"]
        except KeyError:
            raise ReportError("missing", field="device") from None
        if not isinstance(device, str):
            raise ReportError("must be a string", field="device")
        try:
            time = parse_utc(data.get("time"), field="time")  # type: ignore[arg-type]
            received_text = data.get("received")
            received = time if received_text is None else parse_utc(received_text, field="received")
        except DomainError as exc:
            raise ReportError(exc.message, field=exc.field) from None
        source_text = data.get("source") or "none"
        try:
            source = Source(source_text)
        except ValueError:
            raise ReportError(f"unknown source {source_text!r}", field="source") from None
        events = data.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise ReportError("must be a list of strings", field="events")
        lat, lon = _opt_float(data, "lat"), _opt_float(data, "lon")
        if lat is None or lon is None:
            lat = lon = None
        return cls(
            device=device,
            time=time,
            received=received,
            seq=_opt_int(data, "seq"),
            lat=lat,
            lon=lon,
            accuracy_m=_opt_float(data, "accuracy_m"),
            source=source if lat is not None or source is Source.BEACON else Source.NONE,
            satellites=_opt_int(data, "satellites"),
            speed_kmh=_opt_float(data, "speed_kmh"),
            heading_deg=_opt_float(data, "heading_deg"),
            altitude_m=_opt_float(data, "altitude_m"),
            battery_pct=_opt_float(data, "battery_pct"),
            charging=_opt_bool(data, "charging"),
            strap=_opt_closure(data, "strap"),
            case=_opt_closure(data, "case"),
            events=tuple(events),
            extra={k: v for k, v in data.items() if k not in _KNOWN_FIELDS},
        )

    def to_json(self) -> dict[str, Any]:
        """The ``reports.ndjson`` object for this report (unknown fields from import are kept)."""
        out: dict[str, Any] = {"device": self.device}
        if self.seq is not None:
            out["seq"] = self.seq
        out["time"] = format_utc(self.time)
        out["received"] = format_utc(self.received)
        out["lat"] = self.lat
        out["lon"] = self.lon
        out["accuracy_m"] = self.accuracy_m
        out["source"] = self.source.value
        for name in ("satellites", "speed_kmh", "heading_deg", "altitude_m", "battery_pct", "charging"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.strap is not None:
            out["strap"] = self.strap.value
        if self.case is not None:
            out["case"] = self.case.value
        out["events"] = list(self.events)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


KNOWN_EVENTS = frozenset(e.value for e in DeviceEvent)


def _opt_float(data: Mapping[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(f"must be a number, got {value!r}", field=name)
    result = float(value)
    if not math.isfinite(result):
        raise ReportError(f"must be finite, got {value!r}", field=name)
    return result


def _opt_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ReportError(f"must be an integer, got {value!r}", field=name)
    return value


def _opt_bool(data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ReportError(f"must be true or false, got {value!r}", field=name)
    return value


def _opt_closure(data: Mapping[str, Any], name: str) -> Closure | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        return Closure(value)
    except ValueError:
        raise ReportError(f"must be 'closed' or 'open', got {value!r}", field=name) from None
