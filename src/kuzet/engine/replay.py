"""Replay a bundle through an engine with a clock driven by ``received``, and score alerts against truth.

``replay`` is what ``kuzet replay`` and the what-if check run; it drives the very same :class:`Engine` the
live monitor uses. ``score`` implements the scoring section of FORMAT.md. Neither does any I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import AlertType
from kuzet.domain.plan import MonitoringPlan
from kuzet.domain.reports import DeviceReport
from kuzet.exchange.bundle import Bundle

from .core import AlertChange, Engine, fire_due
from .naive import NaiveEngine

ENGINES = ("kuzet", "naive")
#: FORMAT.md: the truth interval is widened by this much before its start and after its end when matching.
MATCH_BEFORE = timedelta(seconds=120)
MATCH_AFTER = timedelta(seconds=300)


class _Driven(Protocol):
    def on_report(self, report: DeviceReport, *, now: datetime, ref: int | None = None) -> list[AlertChange]: ...
    def on_time(self, now: datetime) -> list[AlertChange]: ...
    def next_deadline(self) -> datetime | None: ...


def make_engine(plan: MonitoringPlan, engine: str = "kuzet") -> _Driven:
    if engine == "kuzet":
        return Engine(plan)
    if engine == "naive":
        return NaiveEngine(plan)
    raise ValueError(f"unknown engine {engine!r} (kuzet or naive)")


def run(driven: _Driven, reports: list[tuple[int, DeviceReport]], *, batch: int = 2000) -> list[AlertEpisode]:
    """Feed reports in arrival order; before each, fire the timers that fell due by its arrival.

    An engine with a batch path gets ``batch`` reports a call with their arrival times
    (:meth:`kuzet.engine.Engine.on_reports`), which gives exactly what one call per report gives;
    ``batch=1`` makes one call per report.
    """
    latest: dict[tuple[Any, ...], AlertEpisode] = {}
    order: list[tuple[Any, ...]] = []

    def apply(changes: list[AlertChange]) -> None:
        for change in changes:
            ep = change.episode
            key = (ep.subject, ep.type, ep.target, ep.start, ep.raised_at)
            if key not in latest:
                order.append(key)
            latest[key] = ep

    clock: datetime | None = None
    batch_path = getattr(driven, "on_reports", None) if batch > 1 else None
    if batch_path is not None:
        for start in range(0, len(reports), batch):
            chunk = reports[start:start + batch]
            arrivals = []
            for _, report in chunk:
                clock = report.received if clock is None or report.received > clock else clock
                arrivals.append(clock)
            apply(batch_path([r for _, r in chunk], arrivals=arrivals, refs=[line for line, _ in chunk]))
        return sorted((latest[k] for k in order), key=lambda e: (e.raised_at, e.subject, e.type.value))
    for line, report in reports:
        now = report.received if clock is None or report.received > clock else clock
        clock = now
        apply(fire_due(driven, now))
        apply(driven.on_report(report, now=now, ref=line))
    return sorted((latest[k] for k in order), key=lambda e: (e.raised_at, e.subject, e.type.value))


def replay(bundle: Bundle, *, engine: str = "kuzet") -> list[AlertEpisode]:
    """The alert episodes ``engine`` raises over ``bundle``, in the order they were raised."""
    return run(make_engine(bundle.plan, engine), bundle.reports)


# -- scoring --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    p95_latency_s: float | None
    alerts: int
    matched: int
    false_alerts: int
    ambiguous_only: int
    truth: int
    missed: list[AlertEpisode] = field(default_factory=list)
    false: list[AlertEpisode] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    wearers: int = 0
    days: float = 0.0

    @property
    def alerts_per_wearer_day(self) -> float:
        if self.wearers == 0 or self.days <= 0:
            return 0.0
        return self.alerts / (self.wearers * self.days)

    def to_json(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4), "recall": round(self.recall, 4),
            "p95_latency_s": None if self.p95_latency_s is None else round(self.p95_latency_s, 1),
            "max_latency_s": max(self.latencies_s) if self.latencies_s else None,
            "alerts": self.alerts, "matched": self.matched, "false_alerts": self.false_alerts,
            "ambiguous_only": self.ambiguous_only, "truth": self.truth, "missed": len(self.missed),
            "alerts_per_wearer_day": round(self.alerts_per_wearer_day, 3),
            "wearers": self.wearers, "days": round(self.days, 3),
        }


def grace_of(plan: MonitoringPlan, episode: AlertEpisode) -> timedelta:
    """How long after ``start`` a violation of this kind is due: zone or proximity grace, or the timeout."""
    for s in plan.subjects:
        if s.id != episode.subject:
            continue
        if episode.type in (AlertType.CURFEW_ABSENCE, AlertType.EXCLUSION_ENTRY):
            for z in s.zones:
                if z.id == episode.target:
                    return z.grace
        if episode.type is AlertType.PROXIMITY:
            for p in s.protected_persons:
                if p.id == episode.target:
                    return p.grace
        if episode.type in (AlertType.COMMUNICATION_LOSS, AlertType.LOCATION_LOSS):
            return s.communication_timeout
    return timedelta(0)


def _overlaps(alert: AlertEpisode, truth: AlertEpisode) -> bool:
    lo = truth.start - MATCH_BEFORE
    hi = None if truth.end is None else truth.end + MATCH_AFTER
    a_end = alert.end
    return (hi is None or alert.start <= hi) and (a_end is None or a_end >= lo)


def _percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation between closest ranks (NumPy's default definition)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def score(truth: list[AlertEpisode], alerts: list[AlertEpisode], plan: MonitoringPlan, *,
          wearers: int | None = None, days: float | None = None) -> Score:
    """FORMAT.md scoring: one alert per truth episode, widened intervals, ambiguous episodes left out.

    Latency is ``raised_at - (truth start + grace)`` of matched non-late alerts, where grace is the zone's
    or protected person's grace, or the communication timeout for the two loss types.
    """
    unambiguous = [t for t in truth if not t.extra.get("ambiguous")]
    ambiguous = [t for t in truth if t.extra.get("ambiguous")]
    taken: set[int] = set()
    matched = 0
    left_out = 0
    false: list[AlertEpisode] = []
    latencies: list[float] = []
    for alert in sorted(alerts, key=lambda a: (a.start, a.raised_at)):
        hit = None
        for i, t in enumerate(unambiguous):
            if i in taken or (t.subject, t.type, t.target) != (alert.subject, alert.type, alert.target):
                continue
            if _overlaps(alert, t):
                hit = i
                break
        if hit is not None:
            taken.add(hit)
            matched += 1
            if not alert.late:
                t = unambiguous[hit]
                latencies.append((alert.raised_at - (t.start + grace_of(plan, t))).total_seconds())
            continue
        if any((t.subject, t.type, t.target) == (alert.subject, alert.type, alert.target) and _overlaps(alert, t)
               for t in ambiguous):
            left_out += 1
            continue
        false.append(alert)
    counted = len(alerts) - left_out
    precision = matched / counted if counted else 1.0
    recall = len(taken) / len(unambiguous) if unambiguous else 1.0
    missed = [t for i, t in enumerate(unambiguous) if i not in taken]
    return Score(precision, recall, _percentile(latencies, 0.95), len(alerts), matched, len(false), left_out,
                 len(unambiguous), missed, false, latencies,
                 wearers if wearers is not None else sum(1 for s in plan.subjects if s.devices),
                 days if days is not None else 0.0)


def bundle_days(bundle: Bundle) -> float:
    """How many days of reports a bundle covers (by event time)."""
    if not bundle.reports:
        return 0.0
    times = [r.time for _, r in bundle.reports]
    return (max(times) - min(times)).total_seconds() / 86400.0


def score_bundle(bundle: Bundle, alerts: list[AlertEpisode]) -> Score:
    return score(bundle.truth, alerts, bundle.plan, days=bundle_days(bundle))
