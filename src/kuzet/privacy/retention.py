"""Retention per data category, court holds, and the purge job.

Each category (``positions``, ``alerts``, ``audit``, ``documents``) is kept for ``settings.retention_days``
days. :func:`purge` deletes what has expired, except what an active court hold protects, and writes what it
deleted (how many, oldest and newest, how many were held back) to ``privacy_purge_log`` and the audit trail.

A court hold names a case, and a person and/or a time range ``[range_start, range_end)``; a hold with
neither protects everything. A hold protects a record when the person matches (or the hold names none) and
the record's time lies in the range.

What this module must never do: delete anything newer than its category's cut-off, anything a hold
protects, an alert that is still open, or a position a signed fitting record cites as its test report. The
audit trail is hash-chained, so it is pruned from its start only (:func:`kuzet.audit.chain.prune`): the
oldest run of expired, unheld entries goes, the new start is recorded under a signature, and the rest still
verifies; an expired entry that follows a held or unexpired one waits until the chain before it may go. A
chain that does not verify is not pruned: that would destroy the evidence of the tampering.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from kuzet.audit import SYSTEM, Actor, record
from kuzet.audit.chain import prune
from kuzet.settings import Settings, get_settings
from kuzet.store.models import AlertAction, AlertRecord, AuditEntry, Base, DeviceReportRecord

from .index import hour_of, refresh_hours
from .models import CourtHold, PositionCell, PurgeLogEntry, TrailHour


class DataCategory(StrEnum):
    POSITIONS = "positions"
    ALERTS = "alerts"
    AUDIT = "audit"
    DOCUMENTS = "documents"


class HoldError(ValueError):
    """A court hold that cannot be placed or released: names what was wrong."""


# -- court holds -------------------------------------------------------------------------------------------
def place_hold(session: Session, actor: Actor, *, case_reference: str, reason: str, person_id: int | None = None,
               range_start: datetime | None = None, range_end: datetime | None = None) -> CourtHold:
    """Place a court hold (audited). ``range_end`` is exclusive; either end may be open."""
    if len(case_reference.strip()) < 3:
        raise HoldError("a court hold needs the court's case reference")
    for name, value in (("range_start", range_start), ("range_end", range_end)):
        if value is not None and value.tzinfo is None:
            raise HoldError(f"{name} must be timezone-aware")
    if range_start is not None and range_end is not None and range_end <= range_start:
        raise HoldError(f"the held range must end after it starts ({range_start} .. {range_end})")
    hold = CourtHold(case_reference=case_reference.strip(), person_id=person_id, range_start=range_start,
                     range_end=range_end, reason=reason, placed_by=actor.username, placed_at=datetime.now(UTC))
    session.add(hold)
    session.flush()
    record(session, actor, "create", "court_hold", hold.id, person_id=person_id, purpose=case_reference,
           detail=hold_json(hold))
    return hold


def release_hold(session: Session, actor: Actor, hold_id: int, *, reason: str) -> CourtHold:
    hold = session.get(CourtHold, hold_id)
    if hold is None:
        raise HoldError(f"no court hold {hold_id}")
    if hold.released_at is not None:
        raise HoldError(f"court hold {hold_id} was already released at {hold.released_at.isoformat()}")
    hold.released_at = datetime.now(UTC)
    hold.released_by = actor.username
    session.flush()
    record(session, actor, "release", "court_hold", hold.id, person_id=hold.person_id, purpose=reason,
           detail=hold_json(hold))
    return hold


def active_holds(session: Session) -> list[CourtHold]:
    return list(session.execute(select(CourtHold).where(CourtHold.released_at.is_(None))
                                .order_by(CourtHold.id)).scalars())


def hold_json(hold: CourtHold) -> dict[str, Any]:
    def iso(v: datetime | None) -> str | None:
        return None if v is None else v.isoformat()

    return {"id": hold.id, "case_reference": hold.case_reference, "person_id": hold.person_id,
            "range_start": iso(hold.range_start), "range_end": iso(hold.range_end), "reason": hold.reason,
            "placed_by": hold.placed_by, "placed_at": iso(hold.placed_at), "released_at": iso(hold.released_at),
            "released_by": hold.released_by}


def held(holds: list[CourtHold], person: Any, start: Any, end: Any | None = None) -> ColumnElement[bool]:
    """Where-clause: the record (person column, time span ``[start, end]``) is protected by one of ``holds``."""
    end = start if end is None else end
    clauses = []
    for h in holds:
        parts: list[ColumnElement[bool]] = []
        if h.person_id is not None:
            parts.append(person == h.person_id)
        if h.range_start is not None:
            parts.append(end >= h.range_start)
        if h.range_end is not None:
            parts.append(start < h.range_end)
        clauses.append(and_(true(), *parts))
    return or_(false(), *clauses)


def held_hours(holds: list[CourtHold], person: Any, hour: Any) -> ColumnElement[bool]:
    """Where-clause: the clock hour ``[hour, hour + 1 h)`` overlaps a hold's range (and person)."""
    clauses = []
    for h in holds:
        parts: list[ColumnElement[bool]] = []
        if h.person_id is not None:
            parts.append(person == h.person_id)
        if h.range_start is not None:
            parts.append(hour > h.range_start - timedelta(hours=1))
        if h.range_end is not None:
            parts.append(hour < h.range_end)
        clauses.append(and_(true(), *parts))
    return or_(false(), *clauses)


# -- purge ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CategoryPurge:
    category: DataCategory
    cutoff: datetime
    deleted: int
    held: int
    oldest: datetime | None
    newest: datetime | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    run_id: str
    at: datetime
    categories: list[CategoryPurge]

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "at": self.at.isoformat(), "categories": [
            {"category": c.category.value, "cutoff": c.cutoff.isoformat(), "deleted": c.deleted, "held": c.held,
             "oldest": c.oldest.isoformat() if c.oldest else None,
             "newest": c.newest.isoformat() if c.newest else None, "detail": c.detail}
            for c in self.categories]}


def cutoff_for(category: DataCategory, now: datetime, settings: Settings) -> datetime:
    try:
        days = settings.retention_days[category.value]
    except KeyError:
        raise ValueError(f"no retention period configured for {category.value} "
                         f"(settings.retention_days has {sorted(settings.retention_days)})") from None
    if days <= 0:
        raise ValueError(f"retention for {category.value} must be a positive number of days, got {days}")
    return now - timedelta(days=days)


def _span(session: Session, time: InstrumentedAttribute[Any], where: ColumnElement[bool]
          ) -> tuple[int, datetime | None, datetime | None]:
    n, lo, hi = session.execute(select(func.count(), func.min(time), func.max(time)).where(where)).one()
    return int(n), _utc(lo), _utc(hi)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates return the stored text
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _purge_positions(session: Session, cutoff: datetime, holds: list[CourtHold]) -> CategoryPurge:
    r = DeviceReportRecord
    from kuzet.devices.models import FittingRecord

    cited = exists().where(FittingRecord.test_report_id == r.id)
    expired = r.time < cutoff
    protected = or_(held(holds, r.person_id, r.time), cited)
    n_held = int(session.execute(select(func.count()).where(expired, protected)).scalar() or 0)
    deletable = and_(expired, ~protected)
    n, oldest, newest = _span(session, r.time, deletable)
    method = "privacy"
    if n and all(h.range_start is None and h.range_end is None for h in holds) \
            and not session.execute(select(exists().where(expired, cited))).scalar():
        # Person-wide holds only and no cited report: the pipeline's chunked purge does exactly this.
        from kuzet.pipeline.retention import purge_positions

        n = purge_positions(session, cutoff, {h.person_id for h in holds if h.person_id is not None})
        method = "pipeline.purge_positions"
    elif n:
        from kuzet.store.partitions import drop_expired

        drop_expired(session, cutoff, protected)  # whole expired days without a protected row (PostgreSQL)
        while True:
            ids = list(session.execute(select(r.id).where(deletable).limit(20_000)).scalars())
            if not ids:
                break
            session.execute(delete(r).where(r.id.in_(ids)))
    # The index follows the store: the same rule on the same times.
    c = PositionCell
    index_deleted = session.execute(select(func.count()).where(
        c.time < cutoff, ~held(holds, c.person_id, c.time))).scalar() or 0
    session.execute(delete(c).where(c.time < cutoff, ~held(holds, c.person_id, c.time)))
    t = TrailHour
    boundary: set[tuple[int, datetime]] = set()
    session.execute(delete(t).where(t.hour <= cutoff - timedelta(hours=1), ~held_hours(holds, t.person_id, t.hour)))
    # Hours cut by the cut-off or by a hold's edge are recomputed from the fixes that remain.
    edges = [cutoff] + [e for h in holds for e in (h.range_start, h.range_end) if e is not None and e < cutoff]
    for edge in edges:
        hour = hour_of(edge)
        pids = session.execute(select(t.person_id).where(t.hour == hour)).scalars().all()
        boundary.update((int(p), hour) for p in pids)
    refresh_hours(session, boundary)
    return CategoryPurge(DataCategory.POSITIONS, cutoff, n, n_held, oldest, newest,
                         {"method": method, "index_rows_deleted": int(index_deleted)})


def _dependents_of(table_name: str) -> list[tuple[Any, Any]]:
    """(table, column) pairs with a foreign key to ``table_name``'s id, in any registered area."""
    from kuzet.store import registry  # noqa: F401 - registers every area's tables

    out = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == table_name and fk.parent.table is table:
                out.append((table, fk.parent))
    return out


def _purge_alerts(session: Session, cutoff: datetime, holds: list[CourtHold]) -> CategoryPurge:
    a = AlertRecord
    expired = and_(a.end.is_not(None), a.end < cutoff, a.start < cutoff)
    protected = held(holds, a.person_id, a.start, a.end)
    n_held = int(session.execute(select(func.count()).where(expired, protected)).scalar() or 0)
    deletable = and_(expired, ~protected)
    n, oldest, newest = _span(session, a.start, deletable)
    if n:
        ids = list(session.execute(select(a.id).where(deletable)).scalars())
        for i in range(0, len(ids), 5000):
            part = ids[i : i + 5000]
            session.execute(delete(AlertAction).where(AlertAction.alert_id.in_(part)))
            for table, column in _dependents_of("alerts"):
                if table.name != AlertAction.__tablename__:
                    session.execute(table.delete().where(column.in_(part)))
            session.execute(delete(a).where(a.id.in_(part)))
    return CategoryPurge(DataCategory.ALERTS, cutoff, n, n_held, oldest, newest)


def _purge_documents(session: Session, cutoff: datetime, holds: list[CourtHold]) -> CategoryPurge:
    from kuzet.devices.models import FittingRecord

    f = FittingRecord
    expired = f.fitted_at < cutoff
    protected = held(holds, f.person_id, f.fitted_at)
    n_held = int(session.execute(select(func.count()).where(expired, protected)).scalar() or 0)
    deletable = and_(expired, ~protected)
    n, oldest, newest = _span(session, f.fitted_at, deletable)
    if n:
        session.execute(delete(f).where(deletable))
    return CategoryPurge(DataCategory.DOCUMENTS, cutoff, n, n_held, oldest, newest,
                         {"tables": [FittingRecord.__tablename__]})


def _purge_audit(session: Session, cutoff: datetime, holds: list[CourtHold], key: str) -> CategoryPurge:
    """Prune the audit trail's oldest entries (:func:`kuzet.audit.chain.prune`): only from its start, so that the
    rest still verifies from a signed start; an entry under a court hold, and every entry after it, stays."""
    e = AuditEntry
    protected = held(holds, e.subject_person_id, e.at)
    n_held = int(session.execute(select(func.count()).where(e.at < cutoff, protected)).scalar() or 0)
    pruned = prune(session, cutoff, key, keep=protected if holds else None)
    detail: dict[str, Any] = {"kept_for_chain": max(0, pruned.kept_for_chain - n_held),
                              "first_kept_id": pruned.first_kept_id}
    if pruned.refused:
        detail["refused"] = pruned.refused
    return CategoryPurge(DataCategory.AUDIT, cutoff, pruned.deleted, n_held, pruned.oldest, pruned.newest, detail)


def purge(session: Session, *, now: datetime | None = None, settings: Settings | None = None,
          actor: Actor = SYSTEM, categories: tuple[DataCategory, ...] = tuple(DataCategory)) -> PurgeReport:
    """Delete every expired record not under a court hold; log and audit what was deleted. One transaction."""
    settings = settings or get_settings()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    holds = active_holds(session)
    run_id = uuid.uuid4().hex
    results = []
    for category in categories:
        cutoff = cutoff_for(category, now, settings)
        if category is DataCategory.POSITIONS:
            result = _purge_positions(session, cutoff, holds)
        elif category is DataCategory.ALERTS:
            result = _purge_alerts(session, cutoff, holds)
        elif category is DataCategory.DOCUMENTS:
            result = _purge_documents(session, cutoff, holds)
        else:
            result = _purge_audit(session, cutoff, holds, settings.secret_key)
        results.append(result)
        session.add(PurgeLogEntry(run_id=run_id, category=category.value, cutoff=cutoff, deleted=result.deleted,
                                  oldest=result.oldest, newest=result.newest, held=result.held,
                                  detail={**result.detail, "holds": [h.id for h in holds]}, at=now,
                                  actor=actor.username))
    report = PurgeReport(run_id, now, results)
    session.flush()
    record(session, actor, "purge", "retention", run_id, purpose="retention schedule",
           detail=report.to_json(), at=now)
    return report


def purge_log(session: Session, *, limit: int = 200) -> list[PurgeLogEntry]:
    return list(session.execute(select(PurgeLogEntry).order_by(PurgeLogEntry.id.desc()).limit(limit)).scalars())
