"""Ground truth: the violation episodes that really happened, from the true tracks and device states."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
import shapely

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import DEFAULT_SEVERITY, AlertType, ZoneKind
from kuzet.domain.geometry import LocalProjection, haversine_m
from kuzet.domain.reports import DeviceReport

from .movement import true_position, victim_position
from .world import SimPerson

STEP = timedelta(seconds=5)
AMBIGUOUS_M = 30.0


def _episode(p: SimPerson, kind: AlertType, start: datetime, end: datetime | None, target: str | None = None,
             ambiguous: bool = False) -> AlertEpisode:
    return AlertEpisode(subject=p.code, type=kind, start=start, end=end, raised_at=start,
                        severity=DEFAULT_SEVERITY[kind], target=target, extra={"ambiguous": ambiguous})


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [i, j) where flags is True."""
    padded = np.concatenate(([False], flags, [False]))
    d = np.diff(padded.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def zone_truth(p: SimPerson, start: datetime, end: datetime) -> list[AlertEpisode]:
    n = int((end - start) / STEP)
    times = [start + STEP * i for i in range(n)]
    pts = [true_position(p, t)[0] for t in times]
    lon = np.array([q[0] for q in pts])
    lat = np.array([q[1] for q in pts])
    out: list[AlertEpisode] = []
    for zone in p.zones:
        proj = LocalProjection.about(zone.shape.anchor)
        geom = zone.shape.to_local(proj)
        x, y = proj.forward_many(lon, lat)
        inside = shapely.contains_xy(geom, x, y)
        boundary_d = shapely.distance(geom.boundary, shapely.points(x, y))
        if zone.schedule is None:
            active = np.ones(n, dtype=bool)
        else:
            active = np.zeros(n, dtype=bool)
            for s, e in zone.schedule.active_intervals(start, end):
                i0 = max(0, int(np.ceil((s - start) / STEP)))
                i1 = min(n, int(np.ceil((e - start) / STEP)))
                active[i0:i1] = True
        wrong = active & (~inside if zone.kind is ZoneKind.INCLUSION else inside)
        kind = AlertType.CURFEW_ABSENCE if zone.kind is ZoneKind.INCLUSION else AlertType.EXCLUSION_ENTRY
        for i, j in _runs(wrong):
            if (j - i) * STEP <= zone.grace:
                continue
            ambiguous = float(boundary_d[i:j].max()) < AMBIGUOUS_M
            out.append(_episode(p, kind, times[i], None if j >= n else times[j], zone.id, ambiguous))
    if p.victim is not None:
        near = np.array([haversine_m(*true_position(p, t)[0], *victim_position(p, t)) < p.victim.distance_m
                         for t in times])
        for i, j in _runs(near):
            if (j - i) * STEP > p.victim.grace:
                out.append(_episode(p, AlertType.PROXIMITY, times[i], None if j >= n else times[j], p.victim.id))
    return out


def device_truth(p: SimPerson, reports: Iterable[DeviceReport], end: datetime) -> list[AlertEpisode]:
    timeout = timedelta(seconds=1800)
    out: list[AlertEpisode] = []
    for inc in p.incidents:
        if inc.kind == "strap_open":
            close = inc.start + inc.duration
            out.append(_episode(p, AlertType.STRAP_TAMPER, inc.start, close if close < end else None))
    by_time = sorted(reports, key=lambda r: r.time)
    # battery at or below 10% and not charging
    crit_start: datetime | None = None
    for r in by_time:
        critical = r.battery_pct is not None and r.battery_pct <= 10 and not r.charging
        if critical and crit_start is None:
            crit_start = r.time
        elif not critical and crit_start is not None:
            out.append(_episode(p, AlertType.BATTERY_CRITICAL, crit_start, r.time))
            crit_start = None
    if crit_start is not None:
        out.append(_episode(p, AlertType.BATTERY_CRITICAL, crit_start, None))
    # silence, measured on the server's clock
    by_received = sorted(by_time, key=lambda r: r.received)
    last_time: datetime | None = None
    last_received: datetime | None = None
    for r in by_received:
        if last_received is not None and last_time is not None and r.received - last_received > timeout:
            out.append(_episode(p, AlertType.COMMUNICATION_LOSS, last_time, r.received))
        last_received = r.received
        last_time = r.time if last_time is None else max(last_time, r.time)
    if last_received is not None and last_time is not None and end - last_received > timeout:
        out.append(_episode(p, AlertType.COMMUNICATION_LOSS, last_time, None))
    # no usable fix while reports keep coming
    last_fix: datetime | None = None
    for r in by_time:
        if r.has_usable_fix:
            if last_fix is not None and r.time - last_fix > timeout and any(
                    last_fix + timeout < q.time < r.time for q in by_time):
                out.append(_episode(p, AlertType.LOCATION_LOSS, last_fix, r.time))
            last_fix = r.time
    return out


def merge_truth(episodes: Iterable[AlertEpisode]) -> list[AlertEpisode]:
    grouped: dict[str, list[AlertEpisode]] = defaultdict(list)
    for e in episodes:
        grouped[e.subject].append(e)
    return sorted((e for v in grouped.values() for e in v), key=lambda e: (e.start, e.subject))
