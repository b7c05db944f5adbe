"""Alert volume: how many alerts (and incidents, after grouping) a monitoring centre sees per wearer per day.

Pure functions over exchange-format bundles (a replay's ``alerts.ndjson``, or ``truth.ndjson`` for the
floor a perfect engine would reach). The grouping rule is the workflow's own (:data:`INCIDENT_WINDOW`):
an alert joins its person's incident when it starts within the window after the incident's last activity
(the latest start or end of its alerts; an episode still open at the end of the data keeps it active).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kuzet.domain.alerts import AlertEpisode
from kuzet.exchange.bundle import Bundle

from .vocabulary import INCIDENT_WINDOW


@dataclass(frozen=True, slots=True)
class Volume:
    wearers: int
    days: float
    alerts: int
    incidents: int
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def wearer_days(self) -> float:
        return self.wearers * self.days

    @property
    def alerts_per_wearer_day(self) -> float:
        return self.alerts / self.wearer_days if self.wearer_days else 0.0

    @property
    def incidents_per_wearer_day(self) -> float:
        return self.incidents / self.wearer_days if self.wearer_days else 0.0


def count_incidents(alerts: Sequence[AlertEpisode], window: timedelta = INCIDENT_WINDOW) -> int:
    """How many incidents the workflow would open for these alerts."""
    by_subject: dict[str, list[AlertEpisode]] = {}
    for a in alerts:
        by_subject.setdefault(a.subject, []).append(a)
    total = 0
    for episodes in by_subject.values():
        active_until: datetime | None = None
        ongoing = False
        for a in sorted(episodes, key=lambda e: (e.start, e.raised_at)):
            if active_until is None or not (ongoing or a.start - window <= active_until):
                total += 1
                active_until, ongoing = a.start, False
            active_until = max(active_until, a.end or a.start)
            ongoing = ongoing or a.end is None
    return total


def bundle_volume(bundle: Bundle, *, alerts: Sequence[AlertEpisode] | None = None) -> Volume:
    """Alert volume of a bundle: its alerts (or ``alerts``) over its wearers and the days its reports span."""
    chosen = list(bundle.alerts if alerts is None else alerts)
    times = [r.time for _, r in bundle.reports]
    days = (max(times) - min(times)) / timedelta(days=1) if times else 0.0
    wearers = sum(1 for s in bundle.plan.subjects if s.devices)
    return Volume(wearers, days, len(chosen), count_incidents(chosen),
                  dict(sorted(Counter(a.type.value for a in chosen).items())))
