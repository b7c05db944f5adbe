"""Write a simulated region as an exchange-format bundle, with its ground truth."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.reports import DeviceReport
from kuzet.domain.timeutil import format_utc
from kuzet.exchange.bundle import Bundle, write_bundle, write_ndjson

from .devices import victim_reports, wearer_reports
from .truth import device_truth, merge_truth, zone_truth
from .world import SimPerson, build_world, plan_of


def truth_json(e: AlertEpisode) -> dict[str, Any]:
    return {"subject": e.subject, "type": e.type.value, "target": e.target, "start": format_utc(e.start),
            "end": None if e.end is None else format_utc(e.end), "severity": e.severity.value,
            "late": False, "ambiguous": bool(e.extra.get("ambiguous", False))}


def person_streams(people: list[SimPerson], seed: int, start: datetime, end: datetime
                   ) -> list[Iterator[DeviceReport]]:
    streams: list[Iterator[DeviceReport]] = []
    for i, p in enumerate(people):
        streams.append(wearer_reports(p, random.Random(seed * 1_000_003 + i), start, end))
        if p.victim is not None:
            streams.append(victim_reports(p, random.Random(seed * 2_000_003 + i), start, end))
    return streams


def arrival_order(streams: list[Iterator[DeviceReport]]) -> Iterator[DeviceReport]:
    """All streams merged in the order the server receives them.

    Each stream yields in received order except that a reconnecting device uploads its buffer at once, so
    sorting a stream's own reports by ``received`` is stable and exact.
    """
    return heapq.merge(*(iter(sorted(s, key=lambda r: r.received)) for s in streams),
                       key=lambda r: (r.received, r.device))


def generate(seed: int, wearers: int, start: datetime, hours: float, *, with_truth: bool = True,
             violation_rate: float = 0.35) -> Bundle:
    rng = random.Random(seed)
    end = start + timedelta(hours=hours)
    people = build_world(rng, wearers, start, hours, violation_rate)
    by_device: dict[str, list[DeviceReport]] = {}
    merged: list[DeviceReport] = []
    for report in arrival_order(person_streams(people, seed, start, end)):
        merged.append(report)
        by_device.setdefault(report.device, []).append(report)
    truth: list[AlertEpisode] = []
    if with_truth:
        for p in people:
            truth += zone_truth(p, start, end)
            truth += device_truth(p, by_device.get(p.device, []), end)
    return Bundle(plan_of(people), [(i, r) for i, r in enumerate(merged, start=1)], [], merge_truth(truth))


def write(directory: Path, bundle: Bundle) -> None:
    write_bundle(directory, bundle)
    write_ndjson(directory / "truth.ndjson", (truth_json(e) for e in bundle.truth))
