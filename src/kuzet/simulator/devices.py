"""What devices report about the truth: noisy fixes, indoor loss, battery, tamper, offline buffering."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import DeviceReport

from .movement import jitter, true_position, victim_position
from .world import TIMEZONE, SimPerson

FIX_INTERVAL = timedelta(seconds=60)


@dataclass(slots=True)
class DeviceState:
    serial: str
    rng: random.Random
    battery: float
    seq: int = 0
    drift_left: int = 0
    drift_bearing: float = 0.0
    drift_m: float = 0.0
    strap_open: bool = False
    powered: bool = True
    buffer: list[DeviceReport] = field(default_factory=list)


def _incident(p: SimPerson, kind: str, t: datetime) -> bool:
    return any(i.kind == kind and i.start <= t < i.start + i.duration for i in p.incidents)


def _charging(p: SimPerson, t: datetime, moving: bool) -> bool:
    if moving or not p.charges_daily or _incident(p, "battery_neglect", t):
        return False
    local = t.astimezone(ZoneInfo(TIMEZONE))
    return 20 <= local.hour < 23


def observe(state: DeviceState, t: datetime, truth: tuple[float, float], moving: bool, indoors: bool,
            *, charging: bool, no_fix: bool, events: list[str]) -> DeviceReport:
    """One report of ``truth`` as a real tracker would make it."""
    rng = state.rng
    state.seq += 1
    lat: float | None
    lon: float | None
    source = Source.GPS
    sats: int | None = rng.randint(7, 13)
    if no_fix or (indoors and rng.random() < 0.08):
        lat = lon = None
        accuracy = None
        source = Source.NONE
        sats = 0
    else:
        if indoors:
            r = rng.random()
            if r < 0.7:
                accuracy = rng.uniform(8, 35)
                sats = rng.randint(4, 7)
            elif r < 0.9:
                accuracy, source = rng.uniform(20, 60), Source.WIFI
            else:
                accuracy, source = rng.uniform(400, 1500), Source.CELL
                sats = None
        else:
            accuracy = rng.uniform(3, 10) if moving else rng.uniform(4, 15)
        # The true error follows the reported 68% radius, with heavy tails and the odd multipath lie.
        error = abs(rng.gauss(0, accuracy * 0.75))
        if state.drift_left == 0 and rng.random() < 0.002:
            state.drift_left = rng.randint(3, 8)
            state.drift_bearing = rng.uniform(0, 2 * math.pi)
            state.drift_m = rng.uniform(40, 100)
        point = jitter(truth, error, rng.uniform(0, 2 * math.pi))
        if state.drift_left:
            state.drift_left -= 1
            point = jitter(point, state.drift_m, state.drift_bearing)
            accuracy = rng.uniform(12, 30)
        elif rng.random() < 0.003:
            point = jitter(point, rng.uniform(300, 2500), rng.uniform(0, 2 * math.pi))
            accuracy = rng.uniform(5, 25)
        lon, lat = round(point[0], 6), round(point[1], 6)
        accuracy = round(accuracy, 1)
    drain = 2.0 if not moving else 3.0
    state.battery = min(100.0, state.battery + 25.0 / 60) if charging else max(0.0, state.battery - drain / 60)
    t = t.replace(microsecond=0)
    return DeviceReport(
        device=state.serial, time=t, received=t + timedelta(seconds=rng.randint(1, 3)), seq=state.seq,
        lat=lat, lon=lon, accuracy_m=accuracy, source=source, satellites=sats,
        speed_kmh=round(30.0 if moving else 0.0, 1), battery_pct=round(state.battery),
        charging=charging, strap=Closure.OPEN if state.strap_open else Closure.CLOSED, case=Closure.CLOSED,
        events=tuple(events),
    )


def wearer_reports(p: SimPerson, rng: random.Random, start: datetime, end: datetime) -> Iterator[DeviceReport]:
    """Reports from one wearer's device in measurement order (``received`` may be later: buffering)."""
    state = DeviceState(p.device, rng, battery=rng.uniform(55, 100))
    t = start + timedelta(seconds=rng.uniform(0, 59))
    while t < end:
        pos, moving = true_position(p, t)
        indoors = not moving
        events: list[str] = []
        strap_now = _incident(p, "strap_open", t)
        if strap_now != state.strap_open:
            state.strap_open = strap_now
            events.append("strap_open" if strap_now else "strap_closed")
        charging = _charging(p, t, moving)
        if state.battery <= 0.0 and not charging:
            if state.powered:
                state.powered = False
            t += FIX_INTERVAL
            state.battery = 0.0
            continue
        if not state.powered:
            state.powered = True
            events.append("power_on")
        report = observe(state, t, pos, moving, indoors, charging=charging,
                         no_fix=_incident(p, "indoor_loss", t), events=events)
        if _incident(p, "battery_neglect", t):
            # An old battery left uncharged: it drains within the hour.
            state.battery = max(0.0, min(state.battery, 25.0) - 0.5)
        if _incident(p, "offline", t):
            state.buffer.append(report)
        else:
            if state.buffer:
                # Reconnected: the buffered reports are uploaded now, late.
                for old in state.buffer:
                    yield old.with_received(report.received)
                state.buffer.clear()
            yield report
        t += FIX_INTERVAL + timedelta(seconds=rng.uniform(-2, 2))
    for old in state.buffer:
        yield old.with_received(end)


def victim_reports(p: SimPerson, rng: random.Random, start: datetime, end: datetime) -> Iterator[DeviceReport]:
    assert p.victim is not None
    state = DeviceState(p.victim.device, rng, battery=rng.uniform(60, 100))
    t = start + timedelta(seconds=rng.uniform(0, 59))
    while t < end:
        pos = victim_position(p, t)
        report = observe(state, t, pos, False, False, charging=True, no_fix=False, events=[])
        yield DeviceReport(device=report.device, time=report.time, received=report.received, lat=report.lat,
                           lon=report.lon, accuracy_m=report.accuracy_m, source=report.source,
                           satellites=report.satellites, battery_pct=report.battery_pct, charging=True)
        t += FIX_INTERVAL
