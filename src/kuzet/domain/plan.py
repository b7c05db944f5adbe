"""What a person must do, as the engine sees it: zones, schedules, protected persons, devices.

A :class:`MonitoringPlan` is the exchange format's ``scenario.json`` in typed form. The store builds the
same types from the order in force, so replay and the live service evaluate identical rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .enums import Category, ZoneKind
from .errors import DomainError
from .geometry import Shape, shape_from_geojson
from .schedules import Schedule, zone

DEFAULT_INCLUSION_GRACE = timedelta(seconds=300)
DEFAULT_EXCLUSION_GRACE = timedelta(seconds=60)
DEFAULT_PROXIMITY_GRACE = timedelta(seconds=60)
DEFAULT_COMMUNICATION_TIMEOUT = timedelta(seconds=1800)


@dataclass(frozen=True, slots=True)
class Zone:
    """An inclusion zone (must be inside while active) or exclusion zone (must be outside)."""

    id: str
    kind: ZoneKind
    shape: Shape
    schedule: Schedule | None  # None: always active
    grace: timedelta
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "kind": self.kind.value,
            "shape": self.shape.to_geojson(),
            "schedule": None if self.schedule is None else self.schedule.to_json(),
            "grace_s": self.grace.total_seconds(),
        }
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_json(cls, data: Any, timezone: str) -> Zone:
        if not isinstance(data, dict):
            raise DomainError("a zone must be a JSON object")
        zid = data.get("id")
        if not isinstance(zid, str) or not zid:
            raise DomainError("must be a non-empty string", field="id")
        try:
            kind = ZoneKind(str(data.get("kind")))
        except ValueError:
            raise DomainError(f"unknown zone kind {data.get('kind')!r} (inclusion or exclusion)",
                              field="kind") from None
        try:
            shape = shape_from_geojson(data.get("shape"))
        except DomainError as exc:
            raise exc.within("shape") from None
        raw_schedule = data.get("schedule")
        schedule = None if raw_schedule is None else Schedule.from_json(raw_schedule, timezone)
        default = DEFAULT_INCLUSION_GRACE if kind is ZoneKind.INCLUSION else DEFAULT_EXCLUSION_GRACE
        grace = _seconds(data, "grace_s", default)
        known = {"id", "kind", "shape", "schedule", "grace_s"}
        return cls(zid, kind, shape, schedule, grace, {k: v for k, v in data.items() if k not in known})


@dataclass(frozen=True, slots=True)
class ProtectedPerson:
    id: str
    device: str
    distance_m: float
    grace: timedelta = DEFAULT_PROXIMITY_GRACE

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "device": self.device, "distance_m": self.distance_m,
                "grace_s": self.grace.total_seconds()}

    @classmethod
    def from_json(cls, data: Any) -> ProtectedPerson:
        if not isinstance(data, dict):
            raise DomainError("a protected person must be a JSON object")
        for name in ("id", "device"):
            if not isinstance(data.get(name), str) or not data.get(name):
                raise DomainError("must be a non-empty string", field=name)
        distance = data.get("distance_m")
        if isinstance(distance, bool) or not isinstance(distance, int | float) or distance <= 0:
            raise DomainError(f"must be a positive number, got {distance!r}", field="distance_m")
        return cls(data["id"], data["device"], float(distance), _seconds(data, "grace_s", DEFAULT_PROXIMITY_GRACE))


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: str
    kind: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Subject:
    """A person under supervision and the rules the engine applies to them."""

    id: str
    category: Category
    devices: tuple[DeviceRef, ...]
    zones: tuple[Zone, ...] = ()
    protected_persons: tuple[ProtectedPerson, ...] = ()
    communication_timeout: timedelta = DEFAULT_COMMUNICATION_TIMEOUT
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "category": self.category.value,
            "devices": [d.to_json() for d in self.devices],
            "communication_timeout_s": self.communication_timeout.total_seconds(),
            "zones": [z.to_json() for z in self.zones],
            "protected_persons": [p.to_json() for p in self.protected_persons],
        }
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_json(cls, data: Any, timezone: str) -> Subject:
        if not isinstance(data, dict):
            raise DomainError("a subject must be a JSON object")
        sid = data.get("id")
        if not isinstance(sid, str) or not sid:
            raise DomainError("must be a non-empty string", field="id")
        try:
            category = Category(str(data.get("category")))
        except ValueError:
            raise DomainError(
                f"unknown category {data.get('category')!r} "
                "(restricted_freedom, suspended_sentence or parole)", field="category") from None
        devices = []
        for i, d in enumerate(data.get("devices") or []):
            if not isinstance(d, dict) or not isinstance(d.get("id"), str) or not d.get("id"):
                raise DomainError("each device needs a string id", field=f"devices[{i}].id")
            devices.append(DeviceRef(d["id"], str(d.get("kind", "gps_bracelet"))))
        zones = []
        for i, z in enumerate(data.get("zones") or []):
            try:
                zones.append(Zone.from_json(z, timezone))
            except DomainError as exc:
                raise exc.within(f"zones[{i}]") from None
        pps = []
        for i, p in enumerate(data.get("protected_persons") or []):
            try:
                pps.append(ProtectedPerson.from_json(p))
            except DomainError as exc:
                raise exc.within(f"protected_persons[{i}]") from None
        known = {"id", "category", "devices", "zones", "protected_persons", "communication_timeout_s"}
        return cls(sid, category, tuple(devices), tuple(zones), tuple(pps),
                   _seconds(data, "communication_timeout_s", DEFAULT_COMMUNICATION_TIMEOUT),
                   {k: v for k, v in data.items() if k not in known})


@dataclass(frozen=True, slots=True)
class MonitoringPlan:
    """A whole ``scenario.json``: the subjects and the time zone their schedules are written in."""

    timezone: str
    subjects: tuple[Subject, ...]
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": "emx/1", "timezone": self.timezone,
                               "subjects": [s.to_json() for s in self.subjects]}
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_json(cls, data: Any) -> MonitoringPlan:
        if not isinstance(data, dict):
            raise DomainError("scenario must be a JSON object")
        fmt = data.get("format")
        if fmt != "emx/1":
            raise DomainError(f"unsupported format {fmt!r} (expected 'emx/1')", field="format")
        tz = data.get("timezone")
        if not isinstance(tz, str):
            raise DomainError("must be an IANA time-zone name", field="timezone")
        zone(tz)
        subjects = []
        seen_devices: dict[str, str] = {}
        for i, s in enumerate(data.get("subjects") or []):
            try:
                subject = Subject.from_json(s, tz)
            except DomainError as exc:
                raise exc.within(f"subjects[{i}]") from None
            for d in subject.devices:
                if d.id in seen_devices:
                    raise DomainError(f"device {d.id} is already worn by {seen_devices[d.id]}",
                                      field=f"subjects[{i}].devices")
                seen_devices[d.id] = subject.id
            subjects.append(subject)
        known = {"format", "timezone", "subjects"}
        return cls(tz, tuple(subjects), {k: v for k, v in data.items() if k not in known})


def _seconds(data: Mapping[str, Any], name: str, default: timedelta) -> timedelta:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise DomainError(f"must be a non-negative number of seconds, got {value!r}", field=name)
    return timedelta(seconds=float(value))
