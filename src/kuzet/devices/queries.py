"""What the fleet pages and API show: stock per unit, device lists, a device's page, its first reports.

Reads only, scoped to the caller: an administrator sees the whole fleet; everyone else the devices held by
the units of their region (or of their unit when they have no region). A device's positions are a person's
location: :func:`first_reports` checks location access to the wearer and writes the read to the audit trail.

Must never: show a position without that check and that audit entry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from kuzet.access.policy import check_person_access, people_scope, require_location_access
from kuzet.audit import record
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.store.models import Assignment, Device, DeviceReportRecord, DeviceType, Person, Unit

from .errors import NotFound
from .lifecycle import open_assignment
from .models import DeviceLifecycleEvent, FittingRecord
from .states import DeviceStatus, LifecycleAction, allowed_actions

#: Roles that work with the fleet (stock, devices, fittings).
FLEET_ROLES: tuple[Role, ...] = (Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR)
#: Roles that fit and remove devices.
FITTING_ROLES: tuple[Role, ...] = (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
#: Roles that manage stock: register, move, repair, write off.
STOCK_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMINISTRATOR)
#: Roles that see leases, invoices and reconciliations.
LEASE_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMINISTRATOR)
#: Roles that see the stock forecast (aggregated counts, no person).
FORECAST_ROLES: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMINISTRATOR, Role.ANALYST)

#: Which roles may take which lifecycle step (the page offers only these).
ACTION_ROLES: dict[LifecycleAction, tuple[Role, ...]] = {
    LifecycleAction.FIT: FITTING_ROLES,
    LifecycleAction.REMOVE: FITTING_ROLES,
    LifecycleAction.REPORT_LOST: FITTING_ROLES,
    LifecycleAction.REPORT_FOUND: FITTING_ROLES,
    LifecycleAction.RETURN_TO_STOCK: STOCK_ROLES,
    LifecycleAction.SEND_TO_REPAIR: STOCK_ROLES,
    LifecycleAction.WRITE_OFF: STOCK_ROLES,
    LifecycleAction.MOVE: STOCK_ROLES,
}


def device_scope(principal: Principal) -> ColumnElement[bool]:
    """A where-clause on :class:`Device`: the devices this principal may see (those held by visible units)."""
    if principal.role is Role.ADMINISTRATOR:
        return true()
    if principal.role not in FLEET_ROLES and principal.role not in FORECAST_ROLES:
        return false()
    return Device.unit_id.in_(select(Unit.id).where(unit_scope(principal)))


def unit_scope(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.ADMINISTRATOR:
        return true()
    if principal.region_id is not None:
        return Unit.region_id == principal.region_id
    if principal.unit_id is not None:
        return Unit.id == principal.unit_id
    return false()


def visible_device(session: Session, principal: Principal, serial: str) -> Device:
    device = session.execute(select(Device).where(Device.serial == serial, device_scope(principal))
                             ).scalar_one_or_none()
    if device is None:
        raise NotFound(f"no device with serial {serial!r}", field="serial")
    return device


def visible_units(session: Session, principal: Principal) -> list[Unit]:
    return list(session.execute(select(Unit).where(unit_scope(principal)).order_by(Unit.code)).scalars())


@dataclass(frozen=True, slots=True)
class StockRow:
    unit_code: str
    unit_name: str
    type_code: str
    counts: dict[str, int]

    @property
    def available(self) -> int:
        return self.counts.get(DeviceStatus.IN_STOCK.value, 0)


def stock_by_unit(session: Session, principal: Principal) -> list[StockRow]:
    """Devices per unit and type, counted by state (written-off devices are not stock and not counted)."""
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = session.execute(
        select(Unit.code, Unit.name, DeviceType.code, Device.status)
        .join(Unit, Unit.id == Device.unit_id).join(DeviceType, DeviceType.id == Device.type_id)
        .where(device_scope(principal), Device.status != DeviceStatus.WRITTEN_OFF.value))
    for unit_code, unit_name, type_code, status in rows:
        counts[(unit_code, unit_name, type_code)][status] += 1
    return [StockRow(u, n, t, dict(c)) for (u, n, t), c in sorted(counts.items())]


@dataclass(frozen=True, slots=True)
class DeviceRow:
    serial: str
    type_code: str
    status: str
    unit_code: str | None
    firmware: str
    person_code: str | None
    person_id: int | None


def list_devices(session: Session, principal: Principal, *, status: str | None = None, unit: str | None = None,
                 type_code: str | None = None, limit: int = 500) -> list[DeviceRow]:
    stmt = (select(Device.serial, DeviceType.code, Device.status, Unit.code, Device.firmware, Person.code, Person.id)
            .join(DeviceType, DeviceType.id == Device.type_id)
            .outerjoin(Unit, Unit.id == Device.unit_id)
            .outerjoin(Assignment, (Assignment.device_id == Device.id) & Assignment.removed_at.is_(None))
            .outerjoin(Person, Person.id == Assignment.person_id)
            .where(device_scope(principal)).order_by(Device.serial).limit(limit))
    if status:
        stmt = stmt.where(Device.status == status)
    if unit:
        stmt = stmt.where(Unit.code == unit)
    if type_code:
        stmt = stmt.where(DeviceType.code == type_code)
    return [DeviceRow(*row) for row in session.execute(stmt).all()]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    at: datetime
    action: str
    from_status: str
    to_status: str
    unit_code: str | None
    person_code: str | None
    actor: str
    note: str


@dataclass(frozen=True, slots=True)
class DevicePage:
    serial: str
    type_code: str
    type_names: dict[str, str]
    protocol: str
    status: str
    unit_code: str | None
    firmware: str
    wearer_id: int | None
    wearer_code: str | None
    fitted_at: datetime | None
    history: tuple[HistoryRow, ...]
    fittings: tuple[dict[str, Any], ...]
    #: The lifecycle steps this caller may take now.
    actions: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "type": self.type_code, "protocol": self.protocol, "status": self.status,
                "unit": self.unit_code, "firmware": self.firmware, "wearer": self.wearer_code,
                "wearer_id": self.wearer_id, "fitted_at": self.fitted_at.isoformat() if self.fitted_at else None,
                "actions": list(self.actions), "fittings": list(self.fittings),
                "history": [{"at": h.at.isoformat(), "action": h.action, "from": h.from_status, "to": h.to_status,
                             "unit": h.unit_code, "person": h.person_code, "actor": h.actor, "note": h.note}
                            for h in self.history]}


def device_page(session: Session, principal: Principal, serial: str) -> DevicePage:
    device = visible_device(session, principal, serial)
    dtype = session.get(DeviceType, device.type_id)
    assert dtype is not None
    units = dict(session.execute(select(Unit.id, Unit.code)).all())
    events = session.execute(
        select(DeviceLifecycleEvent, Person.code).outerjoin(Person, Person.id == DeviceLifecycleEvent.person_id)
        .where(DeviceLifecycleEvent.device_id == device.id)
        .order_by(DeviceLifecycleEvent.at.desc(), DeviceLifecycleEvent.id.desc())).all()
    history = tuple(HistoryRow(e.at, e.action, e.from_status, e.to_status, units.get(e.unit_id) if e.unit_id else None,
                               code, e.actor_name, e.note) for e, code in events)
    assignment = open_assignment(session, device.id)
    wearer = session.get(Person, assignment.person_id) if assignment else None
    fittings = tuple({"id": f.id, "person": code, "fitted_at": f.fitted_at.isoformat(),
                      "officer": f.officer_name, "checklist": f.checklist, "signature": f.signature,
                      "test": f.test_summary, "address_check": f.address_check, "address": f.address_detail}
                     for f, code in session.execute(
                         select(FittingRecord, Person.code).join(Person, Person.id == FittingRecord.person_id)
                         .where(FittingRecord.device_id == device.id).order_by(FittingRecord.id.desc())).all())
    actions = tuple(a.value for a in allowed_actions(device.status) if principal.role in ACTION_ROLES[a])
    return DevicePage(device.serial, dtype.code, {"ru": dtype.name_ru, "kk": dtype.name_kk, "en": dtype.name_en},
                      device.protocol, device.status, units.get(device.unit_id) if device.unit_id else None,
                      device.firmware, wearer.id if wearer else None, wearer.code if wearer else None,
                      assignment.fitted_at if assignment else None, history, fittings, actions)


@dataclass(frozen=True, slots=True)
class Position:
    time: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    source: str
    battery_pct: float | None

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m,
                "source": self.source, "battery_pct": self.battery_pct}


def first_reports(session: Session, principal: Principal, serial: str, *, limit: int = 50,
                  purpose: str = "device page: first reports after fitting") -> tuple[Person, list[Position]]:
    """The positions the device reported since its current fitting (oldest first), for the wearer's map.

    Refused unless the caller may see the wearer's locations; every read is written to the audit trail.
    """
    device = visible_device(session, principal, serial)
    assignment = open_assignment(session, device.id)
    if assignment is None:
        raise NotFound(f"device {serial} is not fitted to anyone", field="serial")
    person = require_location_access(session, principal, assignment.person_id)
    fitting_test = session.execute(select(FittingRecord.test_summary).where(
        FittingRecord.assignment_id == assignment.id)).scalar()
    since = assignment.fitted_at
    if fitting_test and fitting_test.get("time"):
        since = min(since, datetime.fromisoformat(fitting_test["time"]))
    rows = session.execute(
        select(DeviceReportRecord.time, DeviceReportRecord.lat, DeviceReportRecord.lon,
               DeviceReportRecord.accuracy_m, DeviceReportRecord.source, DeviceReportRecord.battery_pct)
        .where(DeviceReportRecord.device == serial, DeviceReportRecord.time >= since,
               DeviceReportRecord.lat.is_not(None))
        .order_by(DeviceReportRecord.time).limit(limit)).all()
    positions = [Position(t, lat, lon, acc, src, bat) for t, lat, lon, acc, src, bat in rows
                 if lat is not None and lon is not None]
    record(session, principal.actor, "read", "positions", serial, person_id=person.id, purpose=purpose,
           detail={"count": len(positions), "since": since.isoformat()})
    return person, positions


def fitting_candidates(session: Session, principal: Principal, serial: str) -> list[Person]:
    """The people this caller may fit the device to: active, in scope, supervised by the device's unit."""
    device = visible_device(session, principal, serial)
    return list(session.execute(
        select(Person).where(people_scope(principal), Person.unit_id == device.unit_id, Person.status == "active")
        .order_by(Person.code)).scalars())


def person_for_fitting(session: Session, principal: Principal, person_id: int) -> Person:
    return check_person_access(session, principal, person_id)


def device_checklist(session: Session, principal: Principal, serial: str) -> list[str]:
    device = visible_device(session, principal, serial)
    dtype = session.get(DeviceType, device.type_id)
    return [str(i) for i in (dtype.procedure.get("fitting_checklist") or [])] if dtype else []


def require_visible_unit(session: Session, principal: Principal, code: str) -> Unit:
    """A unit the caller may hold stock at; 404 otherwise."""
    unit = session.execute(select(Unit).where(Unit.code == code, unit_scope(principal))).scalar_one_or_none()
    if unit is None:
        raise NotFound(f"no unit {code!r}", field="unit")
    return unit


def visible_unit_ids(session: Session, principal: Principal) -> list[int]:
    return list(session.execute(select(Unit.id).where(unit_scope(principal))).scalars())


def forecast_regions(principal: Principal) -> list[int] | None:
    """The regions whose forecast the caller may see (``None``: all)."""
    if principal.role is Role.ADMINISTRATOR:
        return None
    return [principal.region_id] if principal.region_id is not None else []


def mismatches_in_scope(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Fittings flagged as a likely wrong device, for people the caller may see."""
    rows = session.execute(
        select(FittingRecord, Device.serial, Person.code)
        .join(Device, Device.id == FittingRecord.device_id).join(Person, Person.id == FittingRecord.person_id)
        .where(FittingRecord.address_check == "mismatch", people_scope(principal))
        .order_by(FittingRecord.fitted_at.desc())).all()
    return [{"fitting_id": f.id, "device": serial, "person": code, "person_id": f.person_id,
             "fitted_at": f.fitted_at.isoformat(), "detail": f.address_detail} for f, serial, code in rows]
