"""Synthetic scenarios with ground truth, to test the engine on data it was never tuned on.

A subject lives in a home circle under a nightly curfew and must avoid an exclusion polygon. Their true
track is a day of home, trips (some shorter than the grace, some longer, some during the curfew, some into
the exclusion zone) and drive-bys. The device sees it through a noise model with the failure modes of real
trackers: a slowly wandering bias (multipath; errors are correlated over minutes, not independent),
heavy-tailed outliers up to kilometres away, indoor loss (no fix, or a cell fix hundreds of metres off),
urban canyons (Wi-Fi fixes, worse accuracy), a device offline for hours that uploads its backlog late,
and duplicate deliveries. Truth follows FORMAT.md from the *true* track, with ``ambiguous`` set when the
true track stayed within 30 m of the boundary.

Pure: a seeded :class:`random.Random` drives everything; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import DEFAULT_SEVERITY, AlertType, Closure, Source
from kuzet.domain.plan import MonitoringPlan
from kuzet.domain.reports import DeviceReport
from kuzet.exchange.bundle import Bundle

from .zones import ZoneGeometry

AMBIGUOUS_M = 30.0


@dataclass(frozen=True)
class Noise:
    """How bad the device's view of the world is. ``level`` 0 is open sky, 1 a dense city."""

    level: float = 0.5
    outlier_rate: float = 0.02
    offline_hours: float = 3.0
    duplicate_rate: float = 0.02


def _offset(lon: float, lat: float, east: float, north: float) -> tuple[float, float]:
    kx = math.radians(1.0) * 6_371_008.8 * math.cos(math.radians(lat))
    return lon + east / kx, lat + north / (math.radians(1.0) * 6_371_008.8)


def scenario(seed: int, *, subjects: int = 4, days: float = 1.0, noise: Noise | None = None,
             city: tuple[float, float] = (71.43, 51.13), timezone: str = "Asia/Almaty") -> Bundle:
    """A bundle (plan, reports in arrival order, truth) for ``subjects`` people over ``days`` days."""
    noise = noise or Noise()
    rng = random.Random(seed)
    start = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    minutes = int(days * 1440)
    raw_subjects = []
    tracks = []
    for k in range(subjects):
        home = _offset(*city, rng.uniform(-5000, 5000), rng.uniform(-5000, 5000))
        radius = rng.choice([45.0, 60.0, 75.0])
        ex = _offset(*home, rng.choice([-1, 1]) * rng.uniform(700, 1500), rng.choice([-1, 1]) * rng.uniform(700, 1500))
        a, b = _offset(*ex, -100, -100), _offset(*ex, 100, 100)
        raw_subjects.append({
            "id": f"S-{k + 1:04d}", "category": "parole", "devices": [{"id": f"86{seed % 1000:03d}{k:010d}",
                                                                       "kind": "gps_bracelet"}],
            "communication_timeout_s": 1800,
            "zones": [
                {"id": "home", "kind": "inclusion", "shape": {"type": "Circle", "coordinates": list(home),
                                                              "radius_m": radius},
                 "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "22:00",
                               "end": "06:00"}], "grace_s": 300},
                {"id": "school", "kind": "exclusion", "shape": {"type": "Polygon", "coordinates": [[
                    [a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]], [a[0], a[1]]]]},
                 "schedule": None, "grace_s": 60},
            ],
        })
        tracks.append(_true_track(rng, home, ex, minutes))
    plan = MonitoringPlan.from_json({"format": "emx/1", "timezone": timezone, "subjects": raw_subjects})
    reports: list[DeviceReport] = []
    truth: list[AlertEpisode] = []
    for subject, track in zip(plan.subjects, tracks, strict=True):
        device = subject.devices[0].id
        offline = None
        if noise.offline_hours > 0 and rng.random() < 0.5:
            off_start = rng.randint(60, max(61, minutes - int(noise.offline_hours * 60) - 60))
            offline = (off_start, off_start + int(noise.offline_hours * 60))
        dev_reports, comm = _observe(rng, device, track, start, noise, offline)
        reports += dev_reports
        truth += [AlertEpisode(subject.id, AlertType.COMMUNICATION_LOSS, s, s, DEFAULT_SEVERITY[
            AlertType.COMMUNICATION_LOSS], end=e) for s, e in comm]
        truth += _zone_truth(subject.id, plan, track, start)
    reports.sort(key=lambda r: (r.received, r.device, r.time))
    return Bundle(plan, list(enumerate(reports, start=1)), [], truth)


def _true_track(rng: random.Random, home: tuple[float, float], ex: tuple[float, float],
                minutes: int) -> list[tuple[float, float]]:
    """One true position a minute: home, with trips of random length and destination."""
    out: list[tuple[float, float]] = []
    spot = _offset(*home, rng.uniform(-15, 15), rng.uniform(-15, 15))
    while len(out) < minutes:
        stay = rng.randint(30, 240)
        out += [spot] * stay
        kind = rng.random()
        if kind < 0.15:  # into the exclusion zone and stay a while, or only drive by
            dest, dwell = _offset(*ex, rng.uniform(-60, 60), rng.uniform(-60, 60)), rng.choice([0, 0, 5, 15])
        elif kind < 0.3:  # a step out under the grace
            dest, dwell = _offset(*home, rng.uniform(120, 200), rng.uniform(-50, 50)), 0
        else:
            dest, dwell = _offset(*home, rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)), rng.randint(10, 180)
        legs = max(2, int(math.dist(home, dest) * 111_000 / 400))  # about 400 m a minute
        out += [(spot[0] + (dest[0] - spot[0]) * i / legs, spot[1] + (dest[1] - spot[1]) * i / legs)
                for i in range(1, legs + 1)]
        out += [dest] * dwell
        out += [(dest[0] + (spot[0] - dest[0]) * i / legs, dest[1] + (spot[1] - dest[1]) * i / legs)
                for i in range(1, legs + 1)]
    return out[:minutes]


def _observe(rng: random.Random, device: str, track: list[tuple[float, float]], start: datetime, noise: Noise,
             offline: tuple[int, int] | None) -> tuple[list[DeviceReport], list[tuple[datetime, datetime]]]:
    out: list[DeviceReport] = []
    bias_e = bias_n = 0.0
    indoor = False
    upload_at = start + timedelta(minutes=offline[1]) if offline else None
    for i, (lon, lat) in enumerate(track):
        t = start + timedelta(minutes=i, seconds=rng.uniform(0, 2))
        if rng.random() < 0.02:
            indoor = not indoor
        acc = rng.uniform(5, 12) * (1 + 3 * noise.level * rng.random())
        # a slowly wandering bias: correlated over minutes, scaled to the claimed accuracy
        bias_e = 0.9 * bias_e + rng.gauss(0, acc * 0.4)
        bias_n = 0.9 * bias_n + rng.gauss(0, acc * 0.4)
        source = Source.GPS
        pos: tuple[float, float] | None
        if indoor and rng.random() < 0.6:
            if rng.random() < 0.5:
                pos, source, acc = None, Source.NONE, 0.0
            else:
                acc = rng.uniform(400, 1500)
                pos, source = _offset(lon, lat, rng.gauss(0, acc * 0.7), rng.gauss(0, acc * 0.7)), Source.CELL
        else:
            if rng.random() < noise.level * 0.4:
                source, acc = Source.WIFI, rng.uniform(20, 60)
            e, n = bias_e + rng.gauss(0, acc * 0.5), bias_n + rng.gauss(0, acc * 0.5)
            if rng.random() < noise.outlier_rate:  # heavy tail: a fix that claims to be good and is not
                e, n = rng.uniform(-2000, 2000), rng.uniform(-2000, 2000)
            pos = _offset(lon, lat, e, n)
        received = t + timedelta(seconds=rng.uniform(1, 8))
        if offline and offline[0] <= i < offline[1] and upload_at is not None:
            received = upload_at + timedelta(seconds=(i - offline[0]) * 0.01)
        r = DeviceReport(device=device, time=t, received=received, seq=i + 1,
                         lat=None if pos is None else pos[1], lon=None if pos is None else pos[0],
                         accuracy_m=None if pos is None else round(acc, 1), source=source, battery_pct=80.0,
                         charging=False, strap=Closure.CLOSED, case=Closure.CLOSED)
        out.append(r)
        if rng.random() < noise.duplicate_rate:
            out.append(r.with_received(received + timedelta(seconds=rng.uniform(5, 60))))
    comm: list[tuple[datetime, datetime]] = []
    if offline is not None and upload_at is not None:
        comm.append((out[0].time if offline[0] == 0 else
                     next(r.time for r in out if r.seq == offline[0]), upload_at))
    return out, comm


def _zone_truth(subject: str, plan: MonitoringPlan, track: list[tuple[float, float]],
                start: datetime) -> list[AlertEpisode]:
    """FORMAT.md truth from the true track: wrong side of an active zone for longer than its grace."""
    out: list[AlertEpisode] = []
    spec = next(s for s in plan.subjects if s.id == subject)
    for zone in spec.zones:
        geometry = ZoneGeometry.of(zone)
        inclusion = zone.kind.value == "inclusion"
        atype = AlertType.CURFEW_ABSENCE if inclusion else AlertType.EXCLUSION_ENTRY
        run_start: datetime | None = None
        near = True
        for i, (lon, lat) in enumerate([*track, (math.nan, math.nan)]):
            t = start + timedelta(minutes=i)
            if math.isnan(lon):
                wrong, d = False, 0.0
            else:
                d = geometry.signed_distance(lon, lat)
                active = zone.schedule is None or zone.schedule.is_active(t)
                wrong = active and ((d > 0) if inclusion else (d < 0))
            if wrong and run_start is None:
                run_start, near = t, True
            if wrong and abs(d) > AMBIGUOUS_M:
                near = False
            if not wrong and run_start is not None:
                if t - run_start > zone.grace:
                    out.append(AlertEpisode(subject, atype, run_start, run_start, DEFAULT_SEVERITY[atype],
                                            zone.id, end=None if math.isnan(lon) else t,
                                            extra={"ambiguous": near}))
                run_start = None
    return out
