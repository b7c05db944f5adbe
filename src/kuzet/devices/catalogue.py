"""Administration of the catalogue of approved device types and their procedures.

The catalogue is data (DOMAIN.md section 1): an administrator adds types, edits names and procedures,
withdraws approval. The seven seeded types (:data:`kuzet.store.catalogue.SEVEN_TYPES`) always stay: they can be
edited but never deleted or withdrawn. A procedure is validated as a whole before it is stored.

Must never: delete a type that any device has, or store a procedure that another module could not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.domain.enums import DeviceEvent
from kuzet.store.catalogue import SEVEN_TYPES
from kuzet.store.models import Device, DeviceType

from .errors import CatalogueError, NotFound

SEEDED_CODES: frozenset[str] = frozenset(t["code"] for t in SEVEN_TYPES)
KNOWN_PROTOCOLS: frozenset[str] = frozenset({"kuzet", "teltonika", "gt06", "h02", "osmand", "watch"})
KNOWN_EVENTS: frozenset[str] = frozenset(e.value for e in DeviceEvent)


@dataclass(frozen=True, slots=True)
class Procedure:
    """A validated procedure: the keys every device type carries."""

    fitting_checklist: tuple[str, ...]
    check_interval_h: int
    charging_rule: str
    reporting_interval_s: int
    events: tuple[str, ...]
    protocols: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"fitting_checklist": list(self.fitting_checklist), "check_interval_h": self.check_interval_h,
                "charging_rule": self.charging_rule, "reporting_interval_s": self.reporting_interval_s,
                "events": list(self.events), "protocols": list(self.protocols)}


def _str_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if isinstance(value, str):
        value = [line for line in value.splitlines()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise CatalogueError("must be a list of texts", field=f"procedure.{key}")
    items = tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
    if not items:
        raise CatalogueError("must not be empty", field=f"procedure.{key}")
    return items


def _positive_int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CatalogueError(f"must be a whole number, got {value!r}", field=f"procedure.{key}") from None
    if number <= 0:
        raise CatalogueError(f"must be positive, got {number}", field=f"procedure.{key}")
    return number


def parse_procedure(data: Mapping[str, Any]) -> Procedure:
    """Validate a procedure; raise :class:`CatalogueError` naming the field that is wrong."""
    events = _str_list(data, "events")
    unknown_events = sorted(set(events) - KNOWN_EVENTS)
    if unknown_events:
        raise CatalogueError(f"unknown events: {', '.join(unknown_events)}", field="procedure.events")
    protocols = _str_list(data, "protocols")
    unknown_protocols = sorted(set(protocols) - KNOWN_PROTOCOLS)
    if unknown_protocols:
        raise CatalogueError(f"unknown protocols: {', '.join(unknown_protocols)}", field="procedure.protocols")
    rule = str(data.get("charging_rule") or "").strip()
    if not rule:
        raise CatalogueError("must say how the device is powered or charged", field="procedure.charging_rule")
    return Procedure(_str_list(data, "fitting_checklist"), _positive_int(data, "check_interval_h"), rule,
                     _positive_int(data, "reporting_interval_s"), events, protocols)


def list_types(session: Session, *, include_inactive: bool = True) -> list[DeviceType]:
    stmt = select(DeviceType).order_by(DeviceType.id)
    if not include_inactive:
        stmt = stmt.where(DeviceType.active.is_(True))
    return list(session.execute(stmt).scalars())


def get_type(session: Session, code: str) -> DeviceType:
    dtype = session.execute(select(DeviceType).where(DeviceType.code == code)).scalar_one_or_none()
    if dtype is None:
        raise NotFound(f"no device type {code!r} in the catalogue", field="code")
    return dtype


def create_type(session: Session, actor: Actor, *, code: str, name_ru: str, name_kk: str, name_en: str,
                procedure: Mapping[str, Any]) -> DeviceType:
    code = code.strip()
    if not code or not code.replace("_", "").isalnum() or code.lower() != code:
        raise CatalogueError(f"a type code is lower-case letters, digits and '_', got {code!r}", field="code")
    if session.execute(select(DeviceType.id).where(DeviceType.code == code)).first():
        raise CatalogueError(f"device type {code} already exists", field="code")
    if not (name_ru.strip() and name_kk.strip() and name_en.strip()):
        raise CatalogueError("a type needs its name in Russian, Kazakh and English", field="name")
    valid = parse_procedure(procedure)
    dtype = DeviceType(code=code, name_ru=name_ru.strip(), name_kk=name_kk.strip(), name_en=name_en.strip(),
                       procedure=valid.to_json(), active=True)
    session.add(dtype)
    session.flush()
    record(session, actor, "catalogue.create", "device_type", code, purpose="device catalogue",
           detail={"procedure": valid.to_json()})
    return dtype


def update_type(session: Session, actor: Actor, code: str, *, name_ru: str | None = None,
                name_kk: str | None = None, name_en: str | None = None,
                procedure: Mapping[str, Any] | None = None, active: bool | None = None) -> DeviceType:
    """Edit a type. Withdrawing approval (``active=False``) is refused for the seven seeded types."""
    dtype = get_type(session, code)
    before = {"name_ru": dtype.name_ru, "name_kk": dtype.name_kk, "name_en": dtype.name_en,
              "procedure": dtype.procedure, "active": dtype.active}
    for attr, value in (("name_ru", name_ru), ("name_kk", name_kk), ("name_en", name_en)):
        if value is not None:
            if not value.strip():
                raise CatalogueError("a name must not be empty", field=attr)
            setattr(dtype, attr, value.strip())
    if procedure is not None:
        dtype.procedure = parse_procedure(procedure).to_json()
    if active is not None:
        if not active and code in SEEDED_CODES:
            raise CatalogueError(f"{code} is one of the seven approved types and stays approved", field="active")
        if active and not dtype.procedure:
            raise CatalogueError(f"{code} has no procedure yet: give it one before approving it",
                                 field="procedure")
        dtype.active = active
    after = {"name_ru": dtype.name_ru, "name_kk": dtype.name_kk, "name_en": dtype.name_en,
             "procedure": dtype.procedure, "active": dtype.active}
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    session.flush()
    if changed:
        record(session, actor, "catalogue.update", "device_type", code, purpose="device catalogue",
               detail=changed)
    return dtype


def delete_type(session: Session, actor: Actor, code: str) -> None:
    """Delete a type added by mistake: never a seeded type, never one that devices have."""
    dtype = get_type(session, code)
    if code in SEEDED_CODES:
        raise CatalogueError(f"{code} is one of the seven approved types and cannot be deleted", field="code")
    devices = session.execute(select(func.count()).select_from(Device).where(Device.type_id == dtype.id)).scalar()
    if devices:
        raise CatalogueError(f"{devices} devices are of type {code}: withdraw its approval instead", field="code")
    session.delete(dtype)
    session.flush()
    record(session, actor, "catalogue.delete", "device_type", code, purpose="device catalogue")


def type_name(dtype: DeviceType, locale: str) -> str:
    return {"ru": dtype.name_ru, "kk": dtype.name_kk}.get(locale, dtype.name_en)
