"""Current positions and trails. Every read is checked against the caller's scope, refused outright for
roles that may never see a location (partner, analyst, auditor), and written to the audit trail with the
purpose the caller gave. Nothing here returns a location without having recorded that read first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, alerts_scope, can_read_locations, people_scope, require_location_access
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.domain.errors import DomainError
from kuzet.store.models import AlertRecord, DeviceReportRecord, Person

MAX_TRAIL_PERIOD = timedelta(days=31)
LIVE_PURPOSE = "live monitoring"


@dataclass(frozen=True, slots=True)
class Fix:
    id: int
    device: str
    time: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    source: str
    speed_kmh: float | None
    battery_pct: float | None


@dataclass(frozen=True, slots=True)
class LivePosition:
    person_id: int
    code: str
    name: str
    fix: Fix
    open_alerts: int


def _fix(row: DeviceReportRecord) -> Fix:
    assert row.lat is not None and row.lon is not None
    return Fix(row.id, row.device, row.time, row.lat, row.lon, row.accuracy_m, row.source, row.speed_kmh,
               row.battery_pct)


def _require_purpose(purpose: str) -> str:
    purpose = (purpose or "").strip()
    if len(purpose) < 3:
        raise DomainError("state why you need this location (at least 3 characters)", field="purpose")
    return purpose[:300]


def live_positions(session: Session, principal: Principal, *, purpose: str = LIVE_PURPOSE,
                   since_id: int | None = None, audit: bool = True) -> Sequence[LivePosition]:
    """The latest fix of every person in scope (only people with a newer fix than ``since_id`` when given)."""
    if not can_read_locations(principal):
        raise AccessDenied(f"role {principal.role.value} may not see locations")
    purpose = _require_purpose(purpose)
    # The newest fix by fix time (not arrival), found per person by a backward scan of the
    # (person_id, time) index, so the cost does not grow with the length of anyone's history.
    latest_id = (
        select(DeviceReportRecord.id)
        .where(DeviceReportRecord.person_id == Person.id, DeviceReportRecord.lat.is_not(None),
               DeviceReportRecord.lon.is_not(None))
        .order_by(DeviceReportRecord.time.desc(), DeviceReportRecord.id.desc())
        .limit(1).correlate(Person).scalar_subquery()
    )
    latest: dict[int, int | None] = dict(
        session.execute(select(Person.id, latest_id).where(people_scope(principal))).all())
    wanted = [i for i in latest.values() if i is not None and (since_id is None or i > since_id)]
    records = {r.id: r for r in session.execute(
        select(DeviceReportRecord).where(DeviceReportRecord.id.in_(wanted))).scalars()} if wanted else {}
    people = {p.id: p for p in session.execute(
        select(Person).where(Person.id.in_([pid for pid, i in latest.items() if i in records]))).scalars()}
    rows = [(records[i], people[pid]) for pid, i in sorted(latest.items()) if i in records]
    open_counts = dict(session.execute(
        select(AlertRecord.person_id, func.count()).where(alerts_scope(principal), AlertRecord.status != "closed")
        .group_by(AlertRecord.person_id)).all())
    out = [LivePosition(p.id, p.code, p.display_name, _fix(r), int(open_counts.get(p.id, 0))) for r, p in rows]
    if audit and out:
        record_read(session, principal.actor, "position", "live", purpose=purpose,
                    detail={"people": [lp.person_id for lp in out][:1000]})
    return out


def trail(session: Session, principal: Principal, person_id: int, start: datetime, end: datetime, *,
          purpose: str, limit: int = 50_000) -> Sequence[Fix]:
    """A person's fixes between ``start`` and ``end`` (UTC), oldest first, each with its accuracy."""
    purpose = _require_purpose(purpose)
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError("times must carry a time zone", field="start")
    if end <= start:
        raise DomainError("the period must end after it starts", field="end")
    if end - start > MAX_TRAIL_PERIOD:
        raise DomainError(f"a trail covers at most {MAX_TRAIL_PERIOD.days} days", field="end")
    person = require_location_access(session, principal, person_id)
    rows = session.execute(
        select(DeviceReportRecord)
        .where(DeviceReportRecord.person_id == person.id, DeviceReportRecord.time >= start.astimezone(UTC),
               DeviceReportRecord.time < end.astimezone(UTC), DeviceReportRecord.lat.is_not(None),
               DeviceReportRecord.lon.is_not(None))
        .order_by(DeviceReportRecord.time, DeviceReportRecord.id).limit(limit)
    ).scalars().all()
    record_read(session, principal.actor, "trail", person.id, person_id=person.id, purpose=purpose,
                detail={"start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat(),
                        "fixes": len(rows)})
    return [_fix(r) for r in rows]


def latest_report_id(session: Session) -> int:
    return int(session.execute(select(func.max(DeviceReportRecord.id))).scalar() or 0)
