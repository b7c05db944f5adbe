"""Small builders for engine tests: a plan in a few lines, a track of reports, a replay loop."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.plan import MonitoringPlan
from kuzet.domain.reports import DeviceReport
from kuzet.engine import Engine
from kuzet.engine.replay import run

HOME = (76.8897, 43.2389)  # Almaty
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # Monday 17:00 in Almaty
DEVICE = "860000000000001"
PP_DEVICE = "PP-000001"


def offset(point: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    lon, lat = point
    kx = math.radians(1.0) * 6_371_008.8 * math.cos(math.radians(lat))
    ky = math.radians(1.0) * 6_371_008.8
    return (lon + east_m / kx, lat + north_m / ky)


def plan(*, zones: list[dict[str, Any]] | None = None, pps: list[dict[str, Any]] | None = None,
         timeout_s: float = 1800) -> MonitoringPlan:
    return MonitoringPlan.from_json({
        "format": "emx/1", "timezone": "Asia/Almaty",
        "subjects": [{"id": "S-1", "category": "parole", "devices": [{"id": DEVICE, "kind": "gps_bracelet"}],
                      "communication_timeout_s": timeout_s, "zones": zones or [], "protected_persons": pps or []}],
    })


def home_zone(schedule: list[dict[str, Any]] | None = None, radius_m: float = 60,
              grace_s: float = 300) -> dict[str, Any]:
    return {"id": "home", "kind": "inclusion", "shape": {"type": "Circle", "coordinates": list(HOME),
                                                          "radius_m": radius_m},
            "schedule": schedule, "grace_s": grace_s}


def school_zone(grace_s: float = 60) -> dict[str, Any]:
    a, b = offset(HOME, 1000, 1000), offset(HOME, 1200, 1200)
    ring = [[a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]], [a[0], a[1]]]
    return {"id": "school", "kind": "exclusion", "shape": {"type": "Polygon", "coordinates": [ring]},
            "schedule": None, "grace_s": grace_s}


SCHOOL_CENTRE = offset(HOME, 1100, 1100)


def report(minute: float, pos: tuple[float, float] | None, *, seq: int | None, device: str = DEVICE,
           accuracy_m: float = 8.0, source: str = "gps", delay_s: float = 2.0, received: datetime | None = None,
           **fields: Any) -> DeviceReport:
    t = T0 + timedelta(minutes=minute)
    data: dict[str, Any] = {"device": device, "time": t.isoformat(), "received":
                            (received or t + timedelta(seconds=delay_s)).isoformat(),
                            "source": source if pos is not None else "none", "battery_pct": 80,
                            "charging": False, "strap": "closed", "case": "closed", "events": []}
    if seq is not None:
        data["seq"] = seq
    if pos is not None:
        data.update(lon=pos[0], lat=pos[1], accuracy_m=accuracy_m)
    data.update(fields)
    return DeviceReport.from_json(data)


def track(points: list[tuple[float, float] | None], *, start_minute: float = 0, step_min: float = 1,
          seq0: int = 1, **kw: Any) -> list[DeviceReport]:
    return [report(start_minute + i * step_min, p, seq=seq0 + i, **kw) for i, p in enumerate(points)]


def replay_reports(p: MonitoringPlan, reports: list[DeviceReport], *, engine: Engine | None = None
                   ) -> list[AlertEpisode]:
    """Arrival order = order of ``received``, the clock driven by it (what ``kuzet replay`` does)."""
    ordered = sorted(enumerate(reports, start=1), key=lambda x: (x[1].received, x[0]))
    return run(engine or Engine(p), ordered)


def of_type(alerts: list[AlertEpisode], kind: str) -> list[AlertEpisode]:
    return [a for a in alerts if a.type.value == kind]
