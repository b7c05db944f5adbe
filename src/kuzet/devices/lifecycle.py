"""Each device's life: registered in stock at a unit, fitted, removed, repaired, lost, found, written off, moved.

One function per step (``register_device``, ``fit_device``, ``remove_device``, ``return_to_stock``,
``send_to_repair``, ``report_lost``, ``report_found``, ``write_off``, ``move_device``), shared by the API, the
UI and the CLI. Each checks :func:`kuzet.devices.states.next_status`, changes ``devices.status``, writes a
:class:`DeviceLifecycleEvent` and an audit entry, all inside the caller's transaction.

Must never: fit a device without its signed fitting record and a working test report, open a second
assignment for a device (the database refuses it too), or change a device's past.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.store.models import Assignment, Device, DeviceReportRecord, DeviceType, Person, Unit

from .errors import FittingRefused, NotFound, TransitionRefused
from .models import DeviceLifecycleEvent, FittingRecord
from .states import DeviceStatus, LifecycleAction, next_status

#: A test report counts when the device sent it at most this long before the fitting is signed...
TEST_REPORT_BEFORE = timedelta(minutes=30)
#: ...or this long after (clocks of device and server differ a little).
TEST_REPORT_AFTER = timedelta(minutes=5)
#: Below this charge a freshly fitted device would soon raise battery alerts.
TEST_MIN_BATTERY_PCT = 20.0


@dataclass(frozen=True, slots=True)
class FittingForm:
    """What the officer fills in and signs when fitting a device.

    ``checklist`` maps each item of the device type's fitting checklist to whether it was done.
    ``officer_name`` is the signature; ``wearer_acknowledged`` records that the person was told the rules
    and signed too. ``test_report_id`` picks the test report; by default the latest one in the window is used.
    """

    checklist: Mapping[str, bool]
    officer_name: str
    wearer_acknowledged: bool
    place: str = ""
    note: str = ""
    test_report_id: int | None = None


@dataclass(frozen=True, slots=True)
class TestVerdict:
    """What the test report showed: ``ok`` only when the device works on the person."""

    report_id: int
    time: datetime
    ok: bool
    problems: tuple[str, ...]
    summary: dict[str, Any]


# -- look-ups -------------------------------------------------------------------------------------------
def get_device(session: Session, serial: str, *, for_update: bool = False) -> Device:
    stmt = select(Device).where(Device.serial == serial)
    if for_update:
        stmt = stmt.with_for_update()
    device = session.execute(stmt).scalar_one_or_none()
    if device is None:
        raise NotFound(f"no device with serial {serial!r}", field="serial")
    return device


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}", field="person_id")
    return person


def get_unit(session: Session, unit: int | str) -> Unit:
    row = session.get(Unit, unit) if isinstance(unit, int) else session.execute(
        select(Unit).where(Unit.code == unit)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no unit {unit!r}", field="unit")
    return row


def open_assignment(session: Session, device_id: int) -> Assignment | None:
    return session.execute(
        select(Assignment).where(Assignment.device_id == device_id, Assignment.removed_at.is_(None))
    ).scalar_one_or_none()


def _now(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise TransitionRefused("naive datetime refused: give times in UTC with tzinfo", field="at")
    return at.astimezone(UTC)


def _last_event_at(session: Session, device_id: int) -> datetime | None:
    return session.execute(
        select(DeviceLifecycleEvent.at).where(DeviceLifecycleEvent.device_id == device_id)
        .order_by(DeviceLifecycleEvent.at.desc(), DeviceLifecycleEvent.id.desc()).limit(1)
    ).scalar()


def _step(session: Session, actor: Actor, device: Device, action: LifecycleAction, at: datetime, *,
          to_unit_id: int | None = None, person_id: int | None = None, assignment_id: int | None = None,
          note: str = "", detail: dict[str, Any] | None = None) -> DeviceLifecycleEvent:
    """Check and apply one transition; write the history row and the audit entry."""
    target = next_status(device.serial, device.status, action)
    last = _last_event_at(session, device.id)
    if last is not None and at < last:
        raise TransitionRefused(
            f"cannot {action.value.replace('_', ' ')} device {device.serial} at {at.isoformat()}: its last "
            f"recorded change was at {last.isoformat()}; a device's history is only appended to", field="at")
    event = DeviceLifecycleEvent(
        device_id=device.id, at=at, action=action.value, from_status=device.status, to_status=target.value,
        from_unit_id=device.unit_id, unit_id=device.unit_id if to_unit_id is None else to_unit_id,
        person_id=person_id, assignment_id=assignment_id, actor_user_id=actor.user_id,
        actor_name=actor.username, note=note, detail=detail or {})
    device.status = target.value
    if to_unit_id is not None:
        device.unit_id = to_unit_id
    session.add(event)
    session.flush()
    record(session, actor, f"device.{action.value}", "device", device.serial, person_id=person_id,
           purpose="device fleet", detail={"from": event.from_status, "to": event.to_status,
                                           "unit_id": event.unit_id, "note": note, **(detail or {})})
    return event


# -- registration and stock -------------------------------------------------------------------------------
def register_device(session: Session, actor: Actor, *, serial: str, type_code: str, unit: int | str,
                    protocol: str | None = None, firmware: str = "", secret: str = "",
                    at: datetime | None = None) -> Device:
    """Take a new device into stock at ``unit``. The type must be approved (active) and know the protocol."""
    serial = serial.strip()
    if not serial:
        raise TransitionRefused("a device needs a serial number", field="serial")
    if session.execute(select(Device.id).where(Device.serial == serial)).first():
        raise TransitionRefused(f"device {serial} is already registered", field="serial")
    dtype = session.execute(select(DeviceType).where(DeviceType.code == type_code)).scalar_one_or_none()
    if dtype is None:
        raise NotFound(f"no device type {type_code!r} in the catalogue", field="type_code")
    if not dtype.active:
        raise TransitionRefused(f"device type {type_code} is not approved (inactive in the catalogue)",
                                field="type_code")
    protocols = list(dtype.procedure.get("protocols") or [])
    chosen = protocol or (protocols[0] if protocols else "kuzet")
    if protocols and chosen not in protocols:
        raise TransitionRefused(f"device type {type_code} speaks {', '.join(protocols)}, not {chosen!r}",
                                field="protocol")
    home = get_unit(session, unit)
    when = _now(at)
    device = Device(serial=serial, type_id=dtype.id, protocol=chosen, status=DeviceStatus.IN_STOCK.value,
                    unit_id=home.id, firmware=firmware, secret=secret, created_at=when)
    session.add(device)
    session.flush()
    session.add(DeviceLifecycleEvent(device_id=device.id, at=when, action=LifecycleAction.REGISTER.value,
                                     from_status="", to_status=DeviceStatus.IN_STOCK.value, unit_id=home.id,
                                     actor_user_id=actor.user_id, actor_name=actor.username))
    session.flush()
    record(session, actor, "device.register", "device", serial, purpose="device fleet",
           detail={"type": type_code, "unit_id": home.id, "protocol": chosen, "firmware": firmware})
    return device


def move_device(session: Session, actor: Actor, serial: str, to_unit: int | str, *, note: str = "",
                at: datetime | None = None) -> DeviceLifecycleEvent:
    """Move a device in stock (or removed, awaiting inspection) to another unit's stock."""
    device = get_device(session, serial, for_update=True)
    unit = get_unit(session, to_unit)
    if unit.id == device.unit_id:
        raise TransitionRefused(f"device {serial} is already at unit {unit.code}", field="unit")
    return _step(session, actor, device, LifecycleAction.MOVE, _now(at), to_unit_id=unit.id, note=note)


def return_to_stock(session: Session, actor: Actor, serial: str, *, note: str = "",
                    at: datetime | None = None) -> DeviceLifecycleEvent:
    """Back into stock after inspection (after removal) or after repair."""
    device = get_device(session, serial, for_update=True)
    return _step(session, actor, device, LifecycleAction.RETURN_TO_STOCK, _now(at), note=note)


def send_to_repair(session: Session, actor: Actor, serial: str, *, fault: str,
                   at: datetime | None = None) -> DeviceLifecycleEvent:
    device = get_device(session, serial, for_update=True)
    if not fault.strip():
        raise TransitionRefused(f"say what is wrong with device {serial} before sending it to repair",
                                field="fault")
    return _step(session, actor, device, LifecycleAction.SEND_TO_REPAIR, _now(at), note=fault)


def report_lost(session: Session, actor: Actor, serial: str, *, circumstances: str,
                at: datetime | None = None) -> DeviceLifecycleEvent:
    """A device that cannot be found. A fitted device's assignment ends: nobody is monitored by it any more."""
    device = get_device(session, serial, for_update=True)
    if not circumstances.strip():
        raise TransitionRefused(f"say when and where device {serial} was last seen", field="circumstances")
    when = _now(at)
    next_status(serial, device.status, LifecycleAction.REPORT_LOST)
    assignment = open_assignment(session, device.id)
    if assignment is not None:
        _close(assignment, when, f"device lost: {circumstances}")
    return _step(session, actor, device, LifecycleAction.REPORT_LOST, when, note=circumstances,
                 person_id=assignment.person_id if assignment else None,
                 assignment_id=assignment.id if assignment else None)


def report_found(session: Session, actor: Actor, serial: str, *, note: str = "", unit: int | str | None = None,
                 at: datetime | None = None) -> DeviceLifecycleEvent:
    """A lost device is back: it waits for inspection (``removed``) at the unit that found it."""
    device = get_device(session, serial, for_update=True)
    to_unit = get_unit(session, unit).id if unit is not None else None
    return _step(session, actor, device, LifecycleAction.REPORT_FOUND, _now(at), to_unit_id=to_unit, note=note)


def write_off(session: Session, actor: Actor, serial: str, *, reason: str,
              at: datetime | None = None) -> DeviceLifecycleEvent:
    device = get_device(session, serial, for_update=True)
    if not reason.strip():
        raise TransitionRefused(f"a write-off of device {serial} needs a reason", field="reason")
    return _step(session, actor, device, LifecycleAction.WRITE_OFF, _now(at), note=reason)


def _close(assignment: Assignment, at: datetime, note: str) -> None:
    if at < assignment.fitted_at:
        raise TransitionRefused(f"removal at {at.isoformat()} is before the fitting at "
                                f"{assignment.fitted_at.isoformat()}", field="at")
    assignment.removed_at = at
    assignment.note = (assignment.note + "\n" if assignment.note else "") + note


def remove_device(session: Session, actor: Actor, serial: str, *, reason: str,
                  at: datetime | None = None) -> DeviceLifecycleEvent:
    """Take a device off the person (end of monitoring, replacement, fault). It waits at the person's unit."""
    device = get_device(session, serial, for_update=True)
    if not reason.strip():
        raise TransitionRefused(f"say why device {serial} is removed", field="reason")
    when = _now(at)
    next_status(serial, device.status, LifecycleAction.REMOVE)
    assignment = open_assignment(session, device.id)
    person_id = None
    unit_id = None
    if assignment is not None:
        _close(assignment, when, f"removed: {reason}")
        person = get_person(session, assignment.person_id)
        person_id, unit_id = person.id, person.unit_id
    return _step(session, actor, device, LifecycleAction.REMOVE, when, to_unit_id=unit_id, person_id=person_id,
                 assignment_id=assignment.id if assignment else None, note=reason)


# -- fitting ----------------------------------------------------------------------------------------------
def judge_test_report(report: DeviceReportRecord, procedure: Mapping[str, Any]) -> TestVerdict:
    """Does this report show a device that works on a person? Strap and case closed, a position, charge."""
    problems: list[str] = []
    events = set(report.events or [])
    wearable = "strap_open" in (procedure.get("events") or [])
    if wearable and report.strap != "closed":
        problems.append(f"strap is {report.strap or 'not reported'}, must be closed")
    if report.case == "open" or "case_open" in events:
        problems.append("case is open")
    if "strap_open" in events:
        problems.append("the device reported the strap opening")
    if report.source == "none" or (report.lat is None and report.source != "beacon"):
        problems.append("no position (no GPS, cell or beacon fix)")
    if report.battery_pct is not None and report.battery_pct < TEST_MIN_BATTERY_PCT:
        problems.append(f"battery {report.battery_pct:.0f}% is below {TEST_MIN_BATTERY_PCT:.0f}%")
    summary = {"report_id": report.id, "time": report.time.isoformat(), "source": report.source,
               "accuracy_m": report.accuracy_m, "battery_pct": report.battery_pct, "strap": report.strap,
               "case": report.case, "events": list(report.events or [])}
    return TestVerdict(report.id, report.time, not problems, tuple(problems), summary)


def find_test_report(session: Session, serial: str, at: datetime,
                     report_id: int | None = None) -> DeviceReportRecord:
    """The report that proves the device works: the chosen one, or the latest in the window around ``at``."""
    lo, hi = at - TEST_REPORT_BEFORE, at + TEST_REPORT_AFTER
    if report_id is not None:
        report = session.get(DeviceReportRecord, report_id)
        if report is None or report.device != serial:
            raise FittingRefused(f"report {report_id} is not a report of device {serial}", field="test_report_id")
    else:
        report = session.execute(
            select(DeviceReportRecord).where(DeviceReportRecord.device == serial,
                                             DeviceReportRecord.time >= lo, DeviceReportRecord.time <= hi)
            .order_by(DeviceReportRecord.time.desc(), DeviceReportRecord.id.desc()).limit(1)
        ).scalar_one_or_none()
        if report is None:
            raise FittingRefused(
                f"no test report from device {serial} between {lo.isoformat()} and {hi.isoformat()}: close the "
                "strap, let the device send a report and fit it again", field="test_report_id")
    if not (lo <= report.time <= hi):
        raise FittingRefused(f"test report {report.id} was sent at {report.time.isoformat()}, outside the "
                             f"{int(TEST_REPORT_BEFORE.total_seconds() // 60)} minutes before the fitting",
                             field="test_report_id")
    return report


def _checklist(procedure: Mapping[str, Any], ticked: Mapping[str, bool], type_code: str) -> list[dict[str, Any]]:
    items = [str(i) for i in procedure.get("fitting_checklist") or []]
    unknown = sorted(set(ticked) - set(items))
    if unknown:
        raise FittingRefused(f"not on the {type_code} fitting checklist: {', '.join(unknown)}", field="checklist")
    missing = [i for i in items if not ticked.get(i)]
    if missing:
        raise FittingRefused(f"fitting checklist incomplete for {type_code}: {'; '.join(missing)}",
                             field="checklist")
    return [{"item": i, "done": True} for i in items]


def fitting_signature(content: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON of a fitting record's content (what the officer signed)."""
    return hashlib.sha256(orjson.dumps(dict(content), option=orjson.OPT_SORT_KEYS)).hexdigest()


def signed_content(fitting: FittingRecord, serial: str) -> dict[str, Any]:
    return {"device": serial, "person_id": fitting.person_id, "fitted_at": fitting.fitted_at.isoformat(),
            "fitted_by": fitting.fitted_by, "checklist": fitting.checklist, "officer_name": fitting.officer_name,
            "wearer_acknowledged": fitting.wearer_acknowledged, "place": fitting.place,
            "test_report_id": fitting.test_report_id}


def fit_device(session: Session, actor: Actor, *, serial: str, person_id: int, form: FittingForm,
               at: datetime | None = None) -> FittingRecord:
    """Fit a device in stock to a person, with the signed fitting record and a working test report.

    Refused when: the device is not in stock; it is in stock at another unit than the person's; the person is
    not active or already wears a device of the same type; the checklist is incomplete; the record is not
    signed by the officer and acknowledged by the wearer; or the test report is missing or shows a fault.
    The device's reports from the test report on are attributed to the person.
    """
    when = _now(at)
    device = get_device(session, serial, for_update=True)
    next_status(serial, device.status, LifecycleAction.FIT)
    person = get_person(session, person_id)
    dtype = device.type
    if not dtype.active:
        raise FittingRefused(f"device type {dtype.code} is not approved (inactive in the catalogue)", field="type")
    if person.status != "active":
        raise FittingRefused(f"person {person.code} is {person.status}, not active", field="person_id")
    if device.unit_id != person.unit_id:
        here = session.get(Unit, device.unit_id) if device.unit_id else None
        there = session.get(Unit, person.unit_id)
        raise FittingRefused(
            f"device {serial} is in stock at unit {here.code if here else 'none'} but person {person.code} is "
            f"supervised by unit {there.code if there else person.unit_id}: move the device first", field="unit")
    same_type = session.execute(
        select(Device.serial).join(Assignment, Assignment.device_id == Device.id)
        .where(Assignment.person_id == person.id, Assignment.removed_at.is_(None), Device.type_id == dtype.id)
    ).scalar()
    if same_type is not None:
        raise FittingRefused(f"person {person.code} already wears {dtype.code} {same_type}: remove it first",
                             field="person_id")
    procedure = dtype.procedure or {}
    checklist = _checklist(procedure, form.checklist, dtype.code)
    if not form.officer_name.strip():
        raise FittingRefused("the fitting record must be signed by the fitting officer", field="officer_name")
    if not form.wearer_acknowledged:
        raise FittingRefused(f"person {person.code} has not acknowledged the fitting record",
                             field="wearer_acknowledged")
    test = judge_test_report(find_test_report(session, serial, when, form.test_report_id), procedure)
    if not test.ok:
        raise FittingRefused(f"test report {test.report_id} from device {serial} does not show a working "
                             f"device: {'; '.join(test.problems)}", field="test_report_id")

    assignment = Assignment(device_id=device.id, person_id=person.id, fitted_at=when, fitted_by=actor.user_id,
                            note=form.note)
    try:
        with session.begin_nested():
            session.add(assignment)
            session.flush()
    except IntegrityError:
        if open_assignment(session, device.id) is None:
            raise
        raise FittingRefused(f"device {serial} is already fitted to someone (open assignment exists)",
                             field="serial") from None
    fitting = FittingRecord(assignment_id=assignment.id, device_id=device.id, person_id=person.id,
                            fitted_at=when, fitted_by=actor.user_id, checklist=checklist,
                            officer_name=form.officer_name.strip(), wearer_acknowledged=True, place=form.place,
                            signature="", test_report_id=test.report_id, test_summary=test.summary,
                            address_check="pending" if person.home_lat is not None else "no_home_address")
    fitting.signature = fitting_signature(signed_content(fitting, serial))
    session.add(fitting)
    # The test report and anything the device sent since were made on this person.
    session.execute(
        update(DeviceReportRecord)
        .where(DeviceReportRecord.device == serial, DeviceReportRecord.time >= test.time,
               DeviceReportRecord.person_id.is_(None))
        .values(person_id=person.id))
    _step(session, actor, device, LifecycleAction.FIT, when, person_id=person.id, assignment_id=assignment.id,
          note=form.note, detail={"fitting_signature": fitting.signature, "test_report_id": test.report_id})
    session.flush()
    return fitting


def verify_fitting_signature(session: Session, fitting: FittingRecord) -> bool:
    """True when the stored fitting record still matches what was signed."""
    device = session.get(Device, fitting.device_id)
    serial = device.serial if device else ""
    return fitting_signature(signed_content(fitting, serial)) == fitting.signature


def take_step(session: Session, actor: Actor, serial: str, action: LifecycleAction | str, *, text: str = "",
              unit: int | str | None = None, at: datetime | None = None) -> DeviceLifecycleEvent:
    """Any step but registration and fitting (which have their own forms), by name: ``text`` is the reason,
    fault, circumstances or note the step asks for; ``unit`` the target of a move or where a lost device
    was found. The single dispatch used by the UI's action buttons and ``kuzet devices step``."""
    try:
        step = LifecycleAction(action)
    except ValueError:
        raise TransitionRefused(f"unknown step {action!r}", field="action") from None
    if step is LifecycleAction.REMOVE:
        return remove_device(session, actor, serial, reason=text, at=at)
    if step is LifecycleAction.REPORT_LOST:
        return report_lost(session, actor, serial, circumstances=text, at=at)
    if step is LifecycleAction.REPORT_FOUND:
        return report_found(session, actor, serial, note=text, unit=unit or None, at=at)
    if step is LifecycleAction.RETURN_TO_STOCK:
        return return_to_stock(session, actor, serial, note=text, at=at)
    if step is LifecycleAction.SEND_TO_REPAIR:
        return send_to_repair(session, actor, serial, fault=text, at=at)
    if step is LifecycleAction.WRITE_OFF:
        return write_off(session, actor, serial, reason=text, at=at)
    if step is LifecycleAction.MOVE:
        if unit is None or unit == "":
            raise TransitionRefused(f"say which unit device {serial} moves to", field="unit")
        return move_device(session, actor, serial, unit, note=text, at=at)
    raise TransitionRefused(f"{step.value} has its own form (it needs more than a reason)", field="action")
