"""Where each simulated person truly is: a daily routine with detours for planned incidents."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kuzet.domain.enums import ZoneKind
from kuzet.domain.geometry import LocalProjection, haversine_m

from .world import TIMEZONE, LonLat, SimPerson, offset

SPEED_MPS = 30 / 3.6  # city traffic
WALK_MPS = 1.4


def _lerp(a: LonLat, b: LonLat, f: float) -> LonLat:
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)


def _travel(a: LonLat, b: LonLat, speed: float = SPEED_MPS) -> timedelta:
    return timedelta(seconds=haversine_m(a[0], a[1], b[0], b[1]) / speed)


def routine_position(p: SimPerson, t: datetime) -> tuple[LonLat, bool]:
    """Position from the daily routine alone, and whether the person is moving."""
    tz = ZoneInfo(TIMEZONE)
    local = t.astimezone(tz)
    day = local.date()
    leave = datetime.combine(day, p.leave_home, tzinfo=tz)
    back = datetime.combine(day, p.return_home, tzinfo=tz)
    trip = _travel(p.home, p.work)
    if local < leave or local >= back + trip:
        return p.home, False
    if local < leave + trip:
        return _lerp(p.home, p.work, (local - leave) / trip), True
    if local < back:
        return p.work, False
    return _lerp(p.work, p.home, (local - back) / trip), True


def incident_target(p: SimPerson, kind: str) -> LonLat | None:
    if kind == "late_return":
        return offset(p.home, 1200.0, 900.0)
    if kind in ("exclusion_visit", "drive_by"):
        zone = next(z for z in p.zones if z.kind is ZoneKind.EXCLUSION)
        proj = LocalProjection.about(zone.shape.anchor)
        inner = zone.shape.to_local(proj).representative_point()
        return proj.inverse(inner.x, inner.y)
    if kind == "victim_approach" and p.victim_home is not None:
        return offset(p.victim_home, 80.0, 40.0)
    return None


def true_position(p: SimPerson, t: datetime) -> tuple[LonLat, bool]:
    """The person's true position at ``t`` (UTC) and whether they are moving."""
    for inc in p.incidents:
        target = incident_target(p, inc.kind)
        if target is None:
            continue
        speed = WALK_MPS * 4 if inc.kind == "drive_by" else SPEED_MPS
        a1 = inc.start
        a2 = inc.start + inc.duration
        base_in, _ = routine_position(p, a1)
        go = _travel(base_in, target, speed)
        a0 = a1 - go
        if t < a0:
            continue
        base_out, _ = routine_position(p, a2 + go)
        back = _travel(target, base_out, speed)
        a3 = a2 + back
        if t >= a3:
            continue
        if t < a1:
            start, _ = routine_position(p, a0)
            return _lerp(start, target, (t - a0) / go if go else 1.0), True
        if t < a2:
            return target, inc.kind == "drive_by"
        end, _ = routine_position(p, a3)
        return _lerp(target, end, (t - a2) / back if back else 1.0), True
    return routine_position(p, t)


def victim_position(p: SimPerson, t: datetime) -> LonLat:
    """The protected person moves too: at home, with a daily outing from 10:00 to 12:30."""
    assert p.victim_home is not None
    tz = ZoneInfo(TIMEZONE)
    local = t.astimezone(tz)
    out = offset(p.victim_home, 1500.0, -800.0)
    start = local.replace(hour=10, minute=0, second=0, microsecond=0)
    trip = _travel(p.victim_home, out)
    if local < start or local >= start + timedelta(hours=2, minutes=30) + trip:
        return p.victim_home
    if local < start + trip:
        return _lerp(p.victim_home, out, (local - start) / trip)
    if local < start + timedelta(hours=2, minutes=30):
        return out
    return _lerp(out, p.victim_home, (local - start - timedelta(hours=2, minutes=30)) / trip)


def jitter(point: LonLat, metres: float, bearing: float) -> LonLat:
    return offset(point, metres * math.cos(bearing), metres * math.sin(bearing))
