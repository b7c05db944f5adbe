"""Import a bundle into the store and export the store as a bundle.

An import runs in one transaction: a bad bundle is refused whole, and nothing is written.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.alerts.absences import absences_for, with_absences
from kuzet.audit import SYSTEM, Actor, record
from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import AlertType, Category, Closure, Severity, Source
from kuzet.domain.plan import DeviceRef, MonitoringPlan, ProtectedPerson, Subject, Zone
from kuzet.domain.reports import DeviceReport
from kuzet.store.models import (
    AlertRecord,
    Assignment,
    CourtOrder,
    Device,
    DeviceReportRecord,
    DeviceType,
    Person,
    ProtectedPersonRecord,
    Region,
    Unit,
    ZoneRecord,
)
from kuzet.store.reports import report_to_record, store_reports

from .bundle import Bundle


def ensure_region(session: Session, code: str, timezone: str) -> tuple[Region, Unit]:
    region = session.execute(select(Region).where(Region.code == code)).scalar_one_or_none()
    if region is None:
        region = Region(code=code, name=code, timezone=timezone)
        session.add(region)
        session.flush()
    unit = session.execute(select(Unit).where(Unit.region_id == region.id).order_by(Unit.id)).scalars().first()
    if unit is None:
        unit = Unit(region_id=region.id, code=f"{code}-01", name=f"{code} unit 1")
        session.add(unit)
        session.flush()
    return region, unit


def _device_type(session: Session, code: str) -> DeviceType:
    dtype = session.execute(select(DeviceType).where(DeviceType.code == code)).scalar_one_or_none()
    if dtype is None:
        # An unknown kind from another vendor's bundle joins the catalogue, inactive, for review.
        dtype = DeviceType(code=code, name_ru=code, name_kk=code, name_en=code, procedure={}, active=False)
        session.add(dtype)
        session.flush()
    return dtype


def _ensure_device(session: Session, serial: str, kind: str, unit_id: int, status: str) -> Device:
    device = session.execute(select(Device).where(Device.serial == serial)).scalar_one_or_none()
    if device is None:
        device = Device(serial=serial, type_id=_device_type(session, kind).id, unit_id=unit_id, status=status)
        session.add(device)
        session.flush()
    return device


def import_bundle(session: Session, bundle: Bundle, *, region_code: str = "IMPORT",
                  actor: Actor = SYSTEM, fitted_at: datetime | None = None) -> dict[str, int]:
    """Write the bundle's subjects, zones, devices, reports and alerts. Existing subject codes are refused."""
    plan = bundle.plan
    region, unit = ensure_region(session, region_code, plan.timezone)
    first_time = min((r.time for _, r in bundle.reports), default=None)
    fitted = fitted_at or first_time or datetime.now(UTC)
    people: dict[str, Person] = {}
    for subject in plan.subjects:
        if session.execute(select(Person.id).where(Person.code == subject.id)).first():
            raise ValueError(f"subject {subject.id} already exists in the store")
        person = Person(code=subject.id, category=subject.category.value, region_id=region.id, unit_id=unit.id,
                        timezone=plan.timezone,
                        communication_timeout_s=subject.communication_timeout.total_seconds(),
                        extra=dict(subject.extra))
        session.add(person)
        session.flush()
        people[subject.id] = person
        session.add(CourtOrder(person_id=person.id, version=1, category=subject.category.value,
                               variation="initial", effective_from=fitted))
        for zone in subject.zones:
            session.add(ZoneRecord(person_id=person.id, code=zone.id, kind=zone.kind.value,
                                   shape=zone.shape.to_geojson(),
                                   schedule=None if zone.schedule is None else zone.schedule.to_json(),
                                   timezone=plan.timezone, grace_s=zone.grace.total_seconds(),
                                   extra=dict(zone.extra)))
        for pp in subject.protected_persons:
            session.add(ProtectedPersonRecord(person_id=person.id, code=pp.id, device_serial=pp.device,
                                              distance_m=pp.distance_m, grace_s=pp.grace.total_seconds()))
            _ensure_device(session, pp.device, "protected_person_device", unit.id, "issued")
        for ref in subject.devices:
            device = _ensure_device(session, ref.id, ref.kind, unit.id, "fitted")
            session.add(Assignment(device_id=device.id, person_id=person.id, fitted_at=fitted))
        record(session, actor, "import", "person", person.id, person_id=person.id, purpose="bundle import")
    session.flush()
    device_owner = {d.id: people[s.id].id for s in plan.subjects for d in s.devices}
    stored = store_reports(session, [report_to_record(r, device_owner.get(r.device), line=n)
                                     for n, r in bundle.reports])
    for alert in bundle.alerts:
        owner = people.get(alert.subject)
        save_alert(session, alert, owner.id if owner else None, region.id)
    return {"subjects": len(plan.subjects), "reports": stored, "alerts": len(bundle.alerts)}


def save_alert(session: Session, alert: AlertEpisode, person_id: int | None, region_id: int | None) -> AlertRecord:
    row = AlertRecord(person_id=person_id, subject_code=alert.subject, region_id=region_id, device=alert.device,
                      type=alert.type.value, target=alert.target, target_key=alert.target or "",
                      start=alert.start, end=alert.end, raised_at=alert.raised_at,
                      severity=alert.severity.value, confidence=alert.confidence, late=alert.late,
                      evidence=list(alert.evidence), rule=alert.rule)
    session.add(row)
    session.flush()
    return row


def plan_for_people(session: Session, people: list[Person]) -> MonitoringPlan:
    """Build the engine's plan from stored people (their zones, protected persons and fitted devices).

    A fixed number of queries whatever the number of people (fitted devices and the people with absences
    are read in bulk), so that a monitor of 50,000 people starts in seconds.
    """
    from datetime import timedelta

    from kuzet.alerts.models import AuthorisedAbsence

    tz = people[0].timezone if people else "Asia/Almaty"
    ids = [p.id for p in people]
    fitted: dict[int, list[DeviceRef]] = {}
    with_absence: set[int] = set()
    for i in range(0, len(ids), 5000):
        chunk = ids[i:i + 5000]
        for person_id, serial, kind in session.execute(
                select(Assignment.person_id, Device.serial, DeviceType.code)
                .join(Device, Assignment.device_id == Device.id)
                .join(DeviceType, DeviceType.id == Device.type_id)
                .where(Assignment.person_id.in_(chunk), Assignment.removed_at.is_(None))
                .order_by(Assignment.id)):
            fitted.setdefault(person_id, []).append(DeviceRef(serial, kind))
        with_absence.update(session.execute(
            select(AuthorisedAbsence.person_id).where(AuthorisedAbsence.person_id.in_(chunk),
                                                      AuthorisedAbsence.revoked_at.is_(None))).scalars())
    subjects = []
    for person in people:
        zones = tuple(
            Zone.from_json({"id": z.code, "kind": z.kind, "shape": z.shape, "schedule": z.schedule,
                            "grace_s": z.grace_s, **z.extra}, z.timezone)
            for z in person.zones if z.active
        )
        if person.id in with_absence:
            # Authorised absences lift the inclusion zones for their interval (alert workflow).
            zones = with_absences(zones, absences_for(session, person.id))
        pps = tuple(ProtectedPerson.from_json({"id": p.code, "device": p.device_serial,
                                               "distance_m": p.distance_m, "grace_s": p.grace_s})
                    for p in person.protected_persons)
        subjects.append(Subject(person.code, Category(person.category), tuple(fitted.get(person.id, ())), zones,
                                pps, timedelta(seconds=person.communication_timeout_s), dict(person.extra)))
    return MonitoringPlan(tz, tuple(subjects))


def record_to_report(row: DeviceReportRecord) -> DeviceReport:
    return DeviceReport(
        device=row.device, time=row.time, received=row.received, seq=row.seq, lat=row.lat, lon=row.lon,
        accuracy_m=row.accuracy_m, source=Source(row.source), satellites=row.satellites,
        speed_kmh=row.speed_kmh, heading_deg=row.heading_deg, altitude_m=row.altitude_m,
        battery_pct=row.battery_pct, charging=row.charging,
        strap=None if row.strap is None else Closure(row.strap),
        case=None if row.case is None else Closure(row.case), events=tuple(row.events), extra=dict(row.extra),
        raw=row.raw,
    )


def export_bundle(session: Session, *, person_codes: list[str] | None = None) -> Bundle:
    """The store (or the named people) as a bundle: reports in arrival order, alerts by start."""
    query = select(Person).order_by(Person.id)
    if person_codes is not None:
        query = query.where(Person.code.in_(person_codes))
    people = list(session.execute(query).scalars())
    plan = plan_for_people(session, people)
    serials = {d.id for s in plan.subjects for d in s.devices} | {
        p.device for s in plan.subjects for p in s.protected_persons}
    report_query = select(DeviceReportRecord).order_by(DeviceReportRecord.received, DeviceReportRecord.id)
    if person_codes is not None:
        report_query = report_query.where(DeviceReportRecord.device.in_(serials))
    reports = [(row.line or i, record_to_report(row))
               for i, row in enumerate(session.execute(report_query).scalars(), start=1)]
    codes = [p.code for p in people]
    alerts = [
        AlertEpisode(subject=a.subject_code, type=AlertType(a.type), target=a.target, start=a.start, end=a.end,
                     raised_at=a.raised_at, severity=Severity(a.severity), confidence=a.confidence, late=a.late,
                     evidence=tuple(a.evidence), device=a.device, rule=a.rule)
        for a in session.execute(select(AlertRecord).where(AlertRecord.subject_code.in_(codes))
                                 .order_by(AlertRecord.start, AlertRecord.id)).scalars()
    ]
    return Bundle(plan, reports, alerts)
