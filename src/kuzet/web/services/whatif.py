""""What if": replay the last weeks of a person's trail against edited zone rules before they are saved.

The replay uses the monitoring engine (``kuzet.engine.replay``) on a bundle built by
:func:`kuzet.exchange.store_io.export_bundle`, once with the rules in force and once with the edited ones,
so an officer sees how many alerts the change would have raised. When the engine package is not installed
the check falls back to a plain point-in-zone count over the fixes (no grace, no hysteresis), marked as
such. It never stores anything but the audit entry for reading the trail.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import Point
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, can_change_plans, require_location_access
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import ZoneKind
from kuzet.domain.geometry import LocalProjection
from kuzet.domain.plan import MonitoringPlan, Zone
from kuzet.exchange.bundle import Bundle
from kuzet.exchange.store_io import export_bundle

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
    engine: str  # "kuzet" or "simple"
    since: datetime
    until: datetime
    fixes: int
    current: list[EpisodeView]
    edited: list[EpisodeView]

    @property
    def added(self) -> int:
        return max(0, len(self.edited) - len(self.current))


def _replay_fn() -> Any | None:
    try:
        module = importlib.import_module("kuzet.engine")
    except ImportError:
        return None
    return getattr(module, "replay", None)


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


def _simple(bundle: Bundle, zone_code: str) -> list[EpisodeView]:
    """Consecutive fixes breaking the zone's rule, at least its grace long, as rough episodes."""
    zones = [z for s in bundle.plan.subjects for z in s.zones if z.id == zone_code]
    if not zones:
        return []
    zone = zones[0]
    proj = LocalProjection.about(zone.shape.anchor)
    geom = zone.shape.to_local(proj)
    out: list[EpisodeView] = []
    start: datetime | None = None
    last: datetime | None = None
    fixes = sorted((r for _, r in bundle.reports if r.lat is not None and r.lon is not None), key=lambda r: r.time)
    for r in fixes:
        assert r.lat is not None and r.lon is not None
        active = zone.schedule is None or zone.schedule.is_active(r.time)
        inside = geom.contains(Point(*proj.forward(r.lon, r.lat)))
        breaking = active and (inside if zone.kind is ZoneKind.EXCLUSION else not inside)
        if breaking:
            start = start or r.time
            last = r.time
        elif start is not None and last is not None:
            if last - start >= zone.grace:
                out.append(EpisodeView(_kind(zone), zone.id, start, r.time, "high"))
            start = last = None
    if start is not None and last is not None and last - start >= zone.grace:
        out.append(EpisodeView(_kind(zone), zone.id, start, None, "high"))
    return out


def _kind(zone: Zone) -> str:
    return "exclusion_entry" if zone.kind is ZoneKind.EXCLUSION else "curfew_absence"


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
    full = export_bundle(session, person_codes=[person.code])
    reports = [(n, r) for n, r in full.reports if since <= r.time < until]
    current_bundle = Bundle(full.plan, reports, [])
    edited_bundle = Bundle(_with_zone(full.plan, person.code, zone, replaces_code), reports, [])
    record_read(session, principal.actor, "trail", person.id, person_id=person.id, purpose="what-if check",
                detail={"start": since.isoformat(), "end": until.isoformat(), "fixes": len(reports)})
    replay = _replay_fn()
    if replay is not None:
        current = _views(list(replay(current_bundle, engine="kuzet")))
        after = _views(list(replay(edited_bundle, engine="kuzet")))
        engine = "kuzet"
    else:
        current = _simple(current_bundle, replaces_code or zone.id) if (replaces_code or any(
            z.id == zone.id for s in full.plan.subjects for z in s.zones)) else []
        after = _simple(edited_bundle, zone.id)
        engine = "simple"
    return WhatIfResult(engine, since, until, len(reports), current, after)
