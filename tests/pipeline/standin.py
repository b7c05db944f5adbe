"""A stand-in with the engine's interface, used only until kuzet.engine lands (strap tamper, silence)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import AlertType, Closure, Severity
from kuzet.domain.plan import MonitoringPlan
from kuzet.domain.reports import DeviceReport
from kuzet.domain.timeutil import format_utc, parse_utc


@dataclass(frozen=True)
class AlertChange:
    kind: str
    episode: AlertEpisode


class StandinEngine:
    def __init__(self, plan: MonitoringPlan) -> None:
        self.update_plan(plan)
        self.last: dict[str, tuple[datetime, datetime]] = {}  # device -> (time, received)
        self.open: dict[tuple[str, str], AlertEpisode] = {}

    def update_plan(self, plan: MonitoringPlan) -> None:
        self.plan = plan
        self.owner = {d.id: s for s in plan.subjects for d in s.devices}

    def on_report(self, report: DeviceReport, *, now: datetime, ref: int | None = None) -> list[AlertChange]:
        subject = self.owner.get(report.device)
        if subject is None:
            return []
        out = self.on_time(now)
        prev = self.last.get(report.device)
        if prev is None or report.time >= prev[0]:
            self.last[report.device] = (report.time, now)
        loss = self.open.pop((report.device, "comm"), None)
        if loss is not None:
            out.append(AlertChange("closed", loss.closed(report.time)))
        key = (report.device, "strap")
        if report.strap is Closure.OPEN and key not in self.open:
            ep = AlertEpisode(subject.id, AlertType.STRAP_TAMPER, report.time, now, Severity.CRITICAL,
                              device=report.device, evidence=(report.seq or 0,))
            self.open[key] = ep
            out.append(AlertChange("raised", ep))
        elif report.strap is Closure.CLOSED and key in self.open:
            out.append(AlertChange("closed", self.open.pop(key).closed(report.time)))
        return out

    def next_deadline(self) -> datetime | None:
        times = [received + self.owner[d].communication_timeout for d, (_, received) in self.last.items()
                 if (d, "comm") not in self.open]
        return min(times, default=None)

    def on_time(self, now: datetime) -> list[AlertChange]:
        out = []
        for device, (at, received) in self.last.items():
            timeout: timedelta = self.owner[device].communication_timeout
            if (device, "comm") not in self.open and now >= received + timeout:
                ep = AlertEpisode(self.owner[device].id, AlertType.COMMUNICATION_LOSS, at, now, Severity.HIGH,
                                  device=device)
                self.open[(device, "comm")] = ep
                out.append(AlertChange("raised", ep))
        return out

    def snapshot(self) -> bytes:
        return orjson.dumps({
            "last": {d: [format_utc(a), format_utc(b)] for d, (a, b) in self.last.items()},
            "open": [[d, k, ep.to_json() | {"device": ep.device}] for (d, k), ep in self.open.items()],
        })

    @classmethod
    def restore(cls, plan: MonitoringPlan, data: bytes) -> StandinEngine:
        engine = cls(plan)
        body: dict[str, Any] = orjson.loads(data)
        engine.last = {d: (parse_utc(a), parse_utc(b)) for d, (a, b) in body["last"].items()}
        for d, k, ep in body["open"]:
            episode = AlertEpisode.from_json(ep)
            engine.open[(d, k)] = AlertEpisode(**{**{f: getattr(episode, f) for f in (
                "subject", "type", "start", "raised_at", "severity", "target", "end", "confidence", "late",
                "evidence")}, "device": ep["device"]})
        return engine
