""""What if": replay the last weeks of a person's trail against edited zone rules before they are saved.

The replay is the monitoring engine's own (:func:`kuzet.engine.replay`) on a bundle of the person's plan
(:func:`kuzet.exchange.store_io.plan_for_people`) and their reports of the period in arrival order, as
:func:`~kuzet.exchange.store_io.export_bundle` builds it but without loading their whole history. It runs
once with the rules in force and once with the edited ones, so an officer sees how many alerts the change
would have raised. It never stores anything but the audit entry for reading the trail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, can_change_plans, require_location_access
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.plan import MonitoringPlan, Zone
from kuzet.engine import replay
from kuzet.exchange.bundle import Bundle
from kuzet.exchange.store_io import plan_for_people, record_to_report
from kuzet.store.models import DeviceReportRecord

from .people import ZoneInput, validate_zone

DEFAULT_WEEKS = 3


@dataclass(frozen=True, slots=True)
class EpisodeView:
    type: str
    target: str | None
    start: datetime
    end: datetime | None
    severity: str


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    engine: str
    since: datetime
    until: datetime
    fixes: int
    current: list[EpisodeView]
    edited: list[EpisodeView]

    @property
    def added(self) -> int:
        return max(0, len(self.edited) - len(self.current))


def _views(episodes: list[AlertEpisode]) -> list[EpisodeView]:
    return [EpisodeView(e.type.value, e.target, e.start, e.end, e.severity.value) for e in episodes]


def _with_zone(plan: MonitoringPlan, subject_id: str, zone: Zone, replaced_code: str | None) -> MonitoringPlan:
    subjects = []
    for s in plan.subjects:
        if s.id == subject_id:
            kept = tuple(z for z in s.zones if z.id not in {zone.id, replaced_code})
            s = replace(s, zones=(*kept, zone))
        subjects.append(s)
    return replace(plan, subjects=tuple(subjects))


def what_if(session: Session, principal: Principal, person_id: int, edited: ZoneInput, *,
            replaces_code: str | None = None, weeks: int = DEFAULT_WEEKS, now: datetime | None = None
            ) -> WhatIfResult:
    """Replay the last ``weeks`` of the person's reports against the current and the edited rules."""
    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not change zones")
    person = require_location_access(session, principal, person_id)
    zone = validate_zone(edited, person.timezone)
    until = (now or datetime.now(UTC)).astimezone(UTC)
    since = until - timedelta(weeks=max(1, min(weeks, 8)))
    plan = plan_for_people(session, [person])
    serials = [d.id for s in plan.subjects for d in s.devices] + [
        p.device for s in plan.subjects for p in s.protected_persons]
    rows = session.execute(
        select(DeviceReportRecord)
        .where(DeviceReportRecord.device.in_(serials), DeviceReportRecord.time >= since,
               DeviceReportRecord.time < until)
        .order_by(DeviceReportRecord.received, DeviceReportRecord.id)
    ).scalars()
    reports = [(row.line or i, record_to_report(row)) for i, row in enumerate(rows, start=1)]
    current_bundle = Bundle(plan, reports, [])
    edited_bundle = Bundle(_with_zone(plan, person.code, zone, replaces_code), reports, [])
    record_read(session, principal.actor, "trail", person.id, person_id=person.id, purpose="what-if check",
                detail={"start": since.isoformat(), "end": until.isoformat(), "fixes": len(reports)})
    current = _views(replay(current_bundle, engine="kuzet"))
    after = _views(replay(edited_bundle, engine="kuzet"))
    return WhatIfResult("kuzet", since, until, len(reports), current, after)
