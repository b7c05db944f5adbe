"""A deliberately simple baseline: per-fix point-in-zone, the way common trackers decide geofences.

Every fix is tested against every zone on its own: the first fix on the wrong side of an active zone opens
an episode and the first fix on the right side closes it. No accuracy, no grace, no dwell, no hysteresis,
no outlier rejection, no event-time ordering, no duplicate suppression; a subject already outside when a
curfew starts is noticed only at their next fix. Tamper, battery and silence alerts fire on every state
change. It exists so that every quality figure of :class:`kuzet.engine.Engine` can be shown beside it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import DEFAULT_SEVERITY, AlertType, Closure, Source
from kuzet.domain.plan import MonitoringPlan
from kuzet.domain.reports import DeviceReport

from .core import AlertChange, RuleSpec, SubjectSpec, _compile
from .zones import distance_m


class NaiveEngine:
    """Same calls as :class:`kuzet.engine.Engine` (``on_report``, ``on_time``, ``next_deadline``)."""

    def __init__(self, plan: MonitoringPlan) -> None:
        self.owner: dict[str, SubjectSpec] = {}
        self.pp_devices: set[str] = set()
        for s in plan.subjects:
            spec = _compile(s)
            for d in s.devices:
                self.owner[d.id] = spec
            self.pp_devices |= {p.device for p in s.protected_persons}
        self.pp_last: dict[str, tuple[float, float]] = {}
        self.open: dict[tuple[str, AlertType, str | None], AlertEpisode] = {}
        self.last_rx: dict[str, tuple[datetime, datetime]] = {}

    def _set(self, subject: str, atype: AlertType, target: str | None, wrong: bool, report: DeviceReport,
             now: datetime, ref: int | None) -> list[AlertChange]:
        key = (subject, atype, target)
        ep = self.open.get(key)
        if wrong and ep is None:
            ident = report.seq if report.seq is not None else ref
            ep = AlertEpisode(subject, atype, report.time, now, DEFAULT_SEVERITY[atype], target,
                              evidence=() if ident is None else (ident,), device=report.device, rule="naive")
            self.open[key] = ep
            return [AlertChange("raised", ep)]
        if not wrong and ep is not None:
            del self.open[key]
            return [AlertChange("closed", ep.closed(max(report.time, ep.start)))]
        return []

    def on_report(self, report: DeviceReport, *, now: datetime, ref: int | None = None) -> list[AlertChange]:
        if report.device in self.pp_devices and report.lat is not None and report.lon is not None:
            self.pp_last[report.device] = (report.lon, report.lat)
        spec = self.owner.get(report.device)
        if spec is None:
            return []
        out: list[AlertChange] = []
        key = (spec.id, AlertType.COMMUNICATION_LOSS, None)
        if key in self.open:
            ep = self.open.pop(key)
            out.append(AlertChange("closed", ep.closed(max(now, ep.start))))
        self.last_rx[report.device] = (now, report.time)
        if report.strap is not None:
            out += self._set(spec.id, AlertType.STRAP_TAMPER, None, report.strap is Closure.OPEN, report, now, ref)
        if report.case is not None:
            out += self._set(spec.id, AlertType.CASE_TAMPER, None, report.case is Closure.OPEN, report, now, ref)
        if report.battery_pct is not None:
            low = report.battery_pct <= 10 and report.charging is not True
            out += self._set(spec.id, AlertType.BATTERY_CRITICAL, None, low, report, now, ref)
        if report.lat is None or report.lon is None or report.source is Source.NONE:
            return out
        for rule in spec.rules:
            out += self._rule(spec, rule, report, now, ref)
        return out

    def _rule(self, spec: SubjectSpec, rule: RuleSpec, report: DeviceReport, now: datetime,
              ref: int | None) -> list[AlertChange]:
        assert report.lat is not None and report.lon is not None
        t = report.time.timestamp()
        if rule.geometry is not None:
            active = rule.window_at(t) is not None
            inside = rule.geometry.signed_distance(report.lon, report.lat) <= 0
            wrong = active and (not inside if rule.inclusion else inside)
        else:
            pp = self.pp_last.get(rule.protected_device or "")
            wrong = pp is not None and distance_m(report.lon, report.lat, pp[0], pp[1]) < rule.distance_m
        return self._set(spec.id, rule.type, rule.target, wrong, report, now, ref)

    def next_deadline(self) -> datetime | None:
        best = math.inf
        for device, (rx, _) in self.last_rx.items():
            spec = self.owner[device]
            if (spec.id, AlertType.COMMUNICATION_LOSS, None) not in self.open:
                best = min(best, rx.timestamp() + spec.timeout)
        return None if best == math.inf else datetime.fromtimestamp(best, UTC)

    def on_time(self, now: datetime) -> list[AlertChange]:
        out: list[AlertChange] = []
        for device, (rx, t) in self.last_rx.items():
            spec = self.owner[device]
            key = (spec.id, AlertType.COMMUNICATION_LOSS, None)
            if key not in self.open and now.timestamp() >= rx.timestamp() + spec.timeout:
                ep = AlertEpisode(spec.id, AlertType.COMMUNICATION_LOSS, t, now,
                                  DEFAULT_SEVERITY[AlertType.COMMUNICATION_LOSS], device=device, rule="naive")
                self.open[key] = ep
                out.append(AlertChange("raised", ep))
        return out
