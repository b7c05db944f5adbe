"""The monitoring engine: per-device state in event time, timers, and alert episodes.

One :class:`Engine` serves both the live monitor (``kuzet.monitor``) and ``kuzet replay``: the caller passes
every report with ``now`` (the server clock: its arrival time) and calls :meth:`Engine.on_time` when
:meth:`Engine.next_deadline` has passed, so timers (a grace running out, a silent device) fire without new
data. The engine never reads a clock, never does I/O and never raises for bad data from a device.

Event time: each device's reports are evaluated in the order of their ``time``. A report that lands in the
past (a device uploading hours of buffered fixes after newer live ones) rewinds that device to the state
before it and re-runs the later reports (:data:`DEFAULT_LATENESS` bounds how far back). Violations found
this way are raised with ``late=True``. Duplicates on (device, seq) — or (device, time) where a device has
no ``seq`` — are ignored.

Zone decisions use each fix's accuracy and source (see :mod:`kuzet.engine.rules`), a speed gate against
impossible jumps, grace from the crossing (or from the window's start when the subject is already outside)
and hysteresis on the way back.

:meth:`Engine.on_reports` decides the reports that change nothing in bulk (:mod:`kuzet.engine.fast`, decision
007) and sends the rest through the same per-report transitions as :meth:`Engine.on_report`.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import msgspec
import numpy as np

from kuzet.domain.alerts import AlertEpisode
from kuzet.domain.enums import DEFAULT_SEVERITY, AlertType, Closure, Source, ZoneKind
from kuzet.domain.plan import MonitoringPlan, ProtectedPerson, Subject, Zone
from kuzet.domain.reports import USABLE_ACCURACY_M, DeviceReport
from kuzet.domain.schedules import Schedule
from kuzet.domain.timeutil import format_utc, parse_utc

from . import rules
from .rules import IDLE, Emission, RuleState
from .zones import ScheduleWindows, ZoneGeometry, distance_m, error_scale, signed_distances_many

if TYPE_CHECKING:
    from .fast import FastPath

#: How far back in event time a late report may still rewind its device.
DEFAULT_LATENESS = timedelta(hours=6)
#: A violation raised from a report that arrived more than this after it was measured is marked late.
LATE_AFTER_S = 120.0
#: Fastest credible movement between two fixes (a car on an open road), metres per second.
MAX_SPEED_MPS = 60.0
#: A protected person's fix is used for a subject's fix when their times are at most this far apart.
PROXIMITY_PAIRING_S = 180.0
#: Battery at or below this percentage, not charging, is critical (FORMAT.md).
BATTERY_CRITICAL_PCT = 10.0


@dataclass(frozen=True)
class AlertChange:
    """An episode raised, updated (end, evidence or confidence changed, or reopened) or closed."""

    kind: Literal["raised", "updated", "closed"]
    episode: AlertEpisode


def _ts(value: datetime) -> float:
    return value.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


# -- the plan, compiled ---------------------------------------------------------------------------------
@dataclass
class RuleSpec:
    type: AlertType
    target: str
    grace: float
    geometry: ZoneGeometry | None = None
    windows: ScheduleWindows | None = None
    inclusion: bool = True
    protected_device: str | None = None
    distance_m: float = 0.0

    def window_at(self, t: float) -> tuple[float, float] | None:
        return (-math.inf, math.inf) if self.windows is None else self.windows.window_at(t)

    def next_start(self, t: float) -> float | None:
        return None if self.windows is None else self.windows.next_start(t)


@dataclass
class SubjectSpec:
    id: str
    rules: list[RuleSpec]
    timeout: float


def _zone_rule(zone: Zone, windows: dict[Schedule, ScheduleWindows]) -> RuleSpec:
    inclusion = zone.kind is ZoneKind.INCLUSION
    shared = None
    if zone.schedule is not None:  # one cache per distinct schedule: most subjects share a few timetables
        shared = windows.get(zone.schedule)
        if shared is None:
            shared = windows[zone.schedule] = ScheduleWindows(zone.schedule)
    return RuleSpec(AlertType.CURFEW_ABSENCE if inclusion else AlertType.EXCLUSION_ENTRY, zone.id,
                    zone.grace.total_seconds(), ZoneGeometry.of(zone), shared, inclusion)


def _pp_rule(pp: ProtectedPerson) -> RuleSpec:
    return RuleSpec(AlertType.PROXIMITY, pp.id, pp.grace.total_seconds(), protected_device=pp.device,
                    distance_m=pp.distance_m)


def _compile(subject: Subject, windows: dict[Schedule, ScheduleWindows] | None = None) -> SubjectSpec:
    cache = {} if windows is None else windows
    specs = [_zone_rule(z, cache) for z in subject.zones] + [_pp_rule(p) for p in subject.protected_persons]
    return SubjectSpec(subject.id, specs, subject.communication_timeout.total_seconds())


# -- per-device state ----------------------------------------------------------------------------------
class Fix(NamedTuple):
    """What the state machines need from one report (positions already turned into wrong-side distances)."""

    t: float
    ident: int | None
    has_pos: bool
    lon: float
    lat: float
    scale: float
    beacon: bool
    usable: bool
    cs: tuple[float, ...]  # normalised wrong-side distance per rule (nan without a position)
    strap: tuple[bool, ...]  # True = opened, False = closed, in report order
    case: tuple[bool, ...]
    battery: int  # 1 critical, 0 fine, -1 unknown
    late: bool  # arrived more than LATE_AFTER_S after it was measured
    cell: bool = False  # a cell-network position: never by itself strong evidence of a zone violation
    no: int = 0  # arrival number: history is ordered by (t, no), so equal times keep their arrival order


class DevState(NamedTuple):
    rules: tuple[RuleState, ...]
    anchor: tuple[float, float, float, float] | None = None  # t, lon, lat, scale of the last accepted fix
    cand: tuple[float, float, float, float] | None = None  # last rejected fix, to re-anchor on two in a row
    first_t: float = -1.0
    last_usable: float = -1.0
    loc_since: float = -1.0  # open location_loss episode start, -1 when none
    strap_since: float = -1.0
    strap_ev: int = -1
    case_since: float = -1.0
    case_ev: int = -1
    batt_since: float = -1.0
    batt_ev: int = -1


Item = tuple[AlertType, str | None, Emission]


def _gate(anchor: tuple[float, float, float, float], t: float, lon: float, lat: float, scale: float) -> bool:
    dt = abs(t - anchor[0])
    allowed = MAX_SPEED_MPS * dt + 3.0 * (anchor[3] + scale)
    return distance_m(anchor[1], anchor[2], lon, lat) <= allowed


#: A protected person's fix further from the last accepted one than this speed allows (beyond both accuracies)
#: is a jump: it waits for the next fix to tell a real move from a multipath spike before it is paired.
PP_STEADY_MPS = 3.0
#: Verdicts on a protected person's fix.
PP_REJECTED, PP_ACCEPTED, PP_PENDING = 0, 1, 2


def _gate_track(times: list[float], fixes: list[tuple[float, float, float]], ok: list[int], i: int
                ) -> tuple[float, float]:
    """Re-decide which of a protected person's fixes may be paired with, from index ``i`` on, in event time.

    A fix that is an impossible move from the last accepted one is set aside (two consistent fixes in a row
    re-anchor the track, as for a subject's fixes). A fix that jumps further than a run
    (:data:`PP_STEADY_MPS`) is pending until the next fix arrives: if that one is closer to the fix before
    the jump than to the jump, the jump was a spike and is set aside; otherwise it is accepted. One stray fix
    of the protected person's phone therefore never stands alone as proof that the subject came close.
    Returns the times of the first and last fix whose verdict changed (or ``times[i]`` twice).
    """
    k0 = i - 1
    while k0 >= 0 and ok[k0] != PP_ACCEPTED:
        k0 -= 1
    anchor = None if k0 < 0 else (times[k0], *fixes[k0])
    cand: tuple[float, float, float, float] | None = None
    pending = -1
    first, last = times[i], times[i]
    for k in range(k0 + 1, len(times)):
        t = times[k]
        lon, lat, scale = fixes[k]
        verdict = PP_ACCEPTED
        if pending >= 0:
            p = (times[pending], *fixes[pending])
            assert anchor is not None
            spike = distance_m(anchor[1], anchor[2], lon, lat) < distance_m(p[1], p[2], lon, lat)
            ok[pending] = PP_REJECTED if spike else PP_ACCEPTED
            first, last = min(first, p[0]), max(last, p[0])
            if not spike:
                anchor = p
            pending = -1
        if anchor is not None:
            if not _gate(anchor, t, lon, lat, scale):
                verdict = PP_ACCEPTED if cand is not None and _gate(cand, t, lon, lat, scale) else PP_REJECTED
            elif distance_m(anchor[1], anchor[2], lon, lat) > 3.0 * (anchor[3] + scale) + \
                    PP_STEADY_MPS * abs(t - anchor[0]):
                verdict = PP_PENDING
        if ok[k] != verdict:
            first, last = min(first, t), max(last, t)
        elif verdict == PP_ACCEPTED and k > i:
            break  # accepted as before, from the same kind of anchor: everything after is decided as before
        ok[k] = verdict
        if verdict == PP_ACCEPTED:
            anchor, cand = (t, lon, lat, scale), None
        elif verdict == PP_REJECTED:
            cand = (t, lon, lat, scale)
        else:
            pending = k
    return first, last


def advance(spec: SubjectSpec, st: DevState, fix: Fix) -> tuple[DevState, list[Item]]:
    """One report through one device's state: tamper, battery, location loss, then every zone rule."""
    out: list[Item] = []
    t = fix.t
    first_t = st.first_t if st.first_t >= 0 else t
    ident = -1 if fix.ident is None else fix.ident
    ev: tuple[int, ...] = () if fix.ident is None else (fix.ident,)
    strap_since, strap_ev = st.strap_since, st.strap_ev
    for opened in fix.strap:
        if opened and strap_since < 0:
            strap_since, strap_ev = t, ident
            out.append((AlertType.STRAP_TAMPER, None, Emission("raise", t, None, 0.99, ev)))
        elif not opened and strap_since >= 0:
            out.append((AlertType.STRAP_TAMPER, None, Emission("close", strap_since, t, 0.99, ev)))
            strap_since, strap_ev = -1.0, -1
    case_since, case_ev = st.case_since, st.case_ev
    for opened in fix.case:
        if opened and case_since < 0:
            case_since, case_ev = t, ident
            out.append((AlertType.CASE_TAMPER, None, Emission("raise", t, None, 0.99, ev)))
        elif not opened and case_since >= 0:
            out.append((AlertType.CASE_TAMPER, None, Emission("close", case_since, t, 0.99, ev)))
            case_since, case_ev = -1.0, -1
    batt_since, batt_ev = st.batt_since, st.batt_ev
    if fix.battery == 1 and batt_since < 0:
        batt_since, batt_ev = t, ident
        out.append((AlertType.BATTERY_CRITICAL, None, Emission("raise", t, None, 0.99, ev)))
    elif fix.battery == 0 and batt_since >= 0:
        out.append((AlertType.BATTERY_CRITICAL, None, Emission("close", batt_since, t, 0.99, ev)))
        batt_since, batt_ev = -1.0, -1
    last_usable, loc_since = st.last_usable, st.loc_since
    if fix.usable:
        if loc_since >= 0:
            out.append((AlertType.LOCATION_LOSS, None, Emission("close", loc_since, t, 0.9, ev)))
            loc_since = -1.0
        last_usable = max(last_usable, t)
    elif loc_since < 0:
        ref = last_usable if last_usable >= 0 else first_t
        if t - ref > spec.timeout:
            loc_since = ref
            out.append((AlertType.LOCATION_LOSS, None, Emission("raise", ref, None, 0.9, ev)))

    anchor, cand = st.anchor, st.cand
    accepted = False
    if fix.has_pos:
        if fix.beacon or anchor is None or _gate(anchor, t, fix.lon, fix.lat, fix.scale):
            accepted = True
        elif cand is not None and _gate(cand, t, fix.lon, fix.lat, fix.scale):
            accepted = True  # two consistent fixes in a row: the anchor was the outlier
        if accepted:
            anchor, cand = (t, fix.lon, fix.lat, fix.scale), None
        else:
            cand = (t, fix.lon, fix.lat, fix.scale)
    new_rules: list[RuleState] | None = None
    for i, rule in enumerate(spec.rules):
        rs = st.rules[i]
        c = fix.cs[i] if accepted else math.nan
        usable = fix.usable
        if fix.cell and rule.geometry is not None:
            # Cell positions are hundreds of metres off whatever accuracy they claim: one can start or keep a
            # run going, never prove it, never cancel or end it, and never count as the accurate fix that
            # confirms or denies it.
            usable = False
            if c > rules.STRONG_WRONG:
                c = rules.STRONG_WRONG
            elif c < rules.RESET_RIGHT:
                c = rules.RESET_RIGHT
        if c != c:  # no usable position for this rule: only time moves on
            if rs is IDLE:
                continue
            nrs, em = rules.check(rs, t, rule.window_at(t), rule.grace)
        else:
            if rs is IDLE and c <= rules.WEAK_WRONG:
                continue
            nrs, em = rules.step(rs, t, c, fix.ident, rule.window_at(t), rule.grace, usable)
        if nrs is not rs:
            if new_rules is None:
                new_rules = list(st.rules)
            new_rules[i] = nrs
        if em is not None:
            out.append((rule.type, rule.target, em))
    return DevState(st.rules if new_rules is None else tuple(new_rules), anchor, cand, first_t, last_usable,
                    loc_since, strap_since, strap_ev, case_since, case_ev, batt_since, batt_ev), out


class DeviceRuntime:
    """Everything the engine keeps for one subject device."""

    __slots__ = ("base", "base_key", "checked_at", "comm_since", "device", "hist_fix", "hist_state", "hist_t",
                 "last_rx", "last_rx_t", "max_seq", "newest_t", "pushed", "seen", "state", "subject",
                 "version")

    def __init__(self, device: str, subject: SubjectSpec) -> None:
        self.device = device
        self.subject = subject
        self.state = DevState(tuple(IDLE for _ in subject.rules))
        self.base = self.state
        self.hist_t: list[float] = []
        self.hist_fix: list[Fix] = []
        self.hist_state: list[DevState] = []
        self.newest_t = -math.inf
        self.seen: dict[Any, float] = {}
        self.last_rx = -1.0  # server time of the last report
        self.last_rx_t = -1.0  # newest event time known at that moment
        self.comm_since = -1.0  # open communication_loss episode start
        self.checked_at = -math.inf
        self.version = 0
        self.pushed = math.inf  # the wake-up this device has in the timer heap
        self.base_key: tuple[float, int] = (-math.inf, -1)  # (t, no) of the newest entry pruned into ``base``
        self.max_seq = -1  # the highest ``seq`` ever seen (a larger one cannot be a duplicate)


# -- the engine ----------------------------------------------------------------------------------------
class Engine:
    """Per-device state machines for every alert type, driven by reports and by the clock passed in."""

    def __init__(self, plan: MonitoringPlan, *, lateness: timedelta = DEFAULT_LATENESS) -> None:
        self.lateness = lateness.total_seconds()
        self.devices: dict[str, DeviceRuntime] = {}
        # protected persons' tracks in event time: times, (lon, lat, scale) and whether the speed gate accepted it
        self.pp_tracks: dict[str, tuple[list[float], list[tuple[float, float, float]], list[int]]] = {}
        self.pp_seen: dict[str, dict[Any, float]] = {}
        self.open: dict[tuple[str, AlertType, str | None], AlertEpisode] = {}
        self.last_closed: dict[tuple[str, AlertType, str | None], AlertEpisode] = {}
        self.heap: list[tuple[float, int, str, int]] = []
        self.counter = 0
        self.dropped_too_late = 0
        self.no = 0  # arrival numbers handed out so far
        self._set_plan(plan)

    # -- plan -----------------------------------------------------------------------------------------
    def _set_plan(self, plan: MonitoringPlan) -> None:
        self.plan = plan
        self.specs: dict[str, SubjectSpec] = {}
        self.owner: dict[str, SubjectSpec] = {}
        self.pp_devices: set[str] = set()
        windows: dict[Schedule, ScheduleWindows] = {}
        self.subject_device = {s.id: s.devices[0].id for s in plan.subjects if s.devices}
        for s in plan.subjects:
            spec = _compile(s, windows)
            self.specs[s.id] = spec
            for d in s.devices:
                self.owner[d.id] = spec
            for p in s.protected_persons:
                self.pp_devices.add(p.device)
        self._circle_cache: dict[str, Any] = {}
        from .fast import FastPath

        self.fast: FastPath = FastPath(self)  # the quiet devices' state, decided in bulk

    def update_plan(self, plan: MonitoringPlan) -> None:
        """Take new zones, schedules, absences or devices; state of rules that still exist is kept."""
        self._take_back_all()
        old_specs = {d: rt.subject for d, rt in self.devices.items()}
        self._set_plan(plan)
        for device in list(self.devices):
            rt = self.devices[device]
            spec = self.owner.get(device)
            if spec is None:
                del self.devices[device]
                continue
            old = {(r.type, r.target): rt.state.rules[i] for i, r in enumerate(old_specs[device].rules)}
            new_rules = tuple(old.get((r.type, r.target), IDLE) for r in spec.rules)
            rt.subject = spec
            rt.state = rt.state._replace(rules=new_rules)
            rt.base = rt.state
            rt.base_key = (-math.inf, -1)
            rt.hist_t, rt.hist_fix, rt.hist_state = [], [], []
            self._reschedule(rt)
        for rt in self.devices.values():
            self.fast.adopt(rt)

    def _take_back_all(self) -> None:
        """Bring every device's state and history out of the fast path's arrays into its runtime."""
        self.fast.release_all()

    # -- reports --------------------------------------------------------------------------------------
    def on_report(self, report: DeviceReport, *, now: datetime, ref: int | None = None) -> list[AlertChange]:
        """Evaluate one report that arrived at ``now``; ``ref`` is its line number where it has no ``seq``."""
        self.no += 1
        return self._process(report, now.timestamp(), ref, None, self.no)

    def on_reports(self, reports: Sequence[DeviceReport], *, now: datetime | None = None,
                   arrivals: Sequence[datetime] | None = None,
                   refs: Sequence[int | None] | None = None) -> list[AlertChange]:
        """The batch path: the common case in bulk, every other report through the same transitions.

        With ``now``, gives exactly what calling :meth:`on_report` for each report in turn with that ``now``
        gives. With ``arrivals`` (each report's arrival, non-decreasing), gives what the live monitor and
        ``kuzet replay`` do report by report: before each report, the timers due by its arrival fire
        (:meth:`on_time` at each due time), then :meth:`on_report` with ``now`` = its arrival; and the
        timers due by the last arrival fire at the end.

        Reports that change nothing (a device whose every rule is idle, in order, with a good fix clearly on
        the right side of every zone) are decided together in NumPy by :class:`kuzet.engine.fast.FastPath`
        and kept as columns; the rest go one by one through :meth:`on_report`'s path, with their zone
        geometry computed for the batch at once. A held device's reports never meet a timer of their own
        (a silence long enough to be due makes a report take the careful path), so firing the others'
        timers around them changes nothing.
        """
        if (now is None) == (arrivals is None):
            raise TypeError("on_reports needs either now or arrivals")
        n = len(reports)
        tnows = [now.timestamp()] * n if now is not None else [a.timestamp() for a in arrivals or ()]
        if len(tnows) != n:
            raise ValueError(f"{n} reports but {len(tnows)} arrival times")
        base = self.no
        self.no += n
        slow = self.fast.run(reports, now.timestamp() if now is not None else np.array(tnows), refs, base)
        out: list[AlertChange] = []
        if slow:
            chosen = [reports[i] for i in slow]
            pre = self.fast.distances(chosen)
            if pre is None:
                pre = self._precompute(chosen)
            touched: dict[str, DeviceRuntime] = {}
            for k, i in enumerate(slow):
                if arrivals is not None:
                    out += fire_due(self, arrivals[i])
                out += self._process(chosen[k], tnows[i], None if refs is None else refs[i], pre[k], base + i + 1)
                rt = self.devices.get(chosen[k].device)
                if rt is not None:
                    touched[rt.device] = rt
            for rt in touched.values():
                self.fast.adopt(rt)
        if arrivals is not None and n:
            out += fire_due(self, arrivals[-1])
        return out

    def _precompute(self, reports: Sequence[DeviceReport]) -> list[tuple[float, ...] | None]:
        """Signed zone distances for every (fix, zone) pair of the batch in one vectorised pass."""
        rows: list[int] = []
        slots: list[int] = []
        geoms: list[ZoneGeometry] = []
        lons: list[float] = []
        lats: list[float] = []
        result: list[list[float] | None] = [None] * len(reports)
        for i, r in enumerate(reports):
            spec = self.owner.get(r.device)
            if spec is None or r.lat is None or r.lon is None or not spec.rules:
                continue
            result[i] = [math.nan] * len(spec.rules)
            for j, rule in enumerate(spec.rules):
                if rule.geometry is not None:
                    rows.append(i)
                    slots.append(j)
                    geoms.append(rule.geometry)
                    lons.append(r.lon)
                    lats.append(r.lat)
        if geoms:
            d = signed_distances_many(geoms, np.array(lons, dtype=np.float64),
                                      np.array(lats, dtype=np.float64)).tolist()
            for k, i in enumerate(rows):
                row = result[i]
                assert row is not None
                row[slots[k]] = d[k]
        return [None if row is None else tuple(row) for row in result]

    def _make_fix(self, spec: SubjectSpec, report: DeviceReport, ident: int | None,
                  distances: tuple[float, ...] | None, late: bool, no: int) -> Fix:
        t = report.time.timestamp()
        has_pos = report.lat is not None and report.lon is not None and report.source is not Source.NONE
        lon = report.lon if report.lon is not None else 0.0
        lat = report.lat if report.lat is not None else 0.0
        beacon = report.source is Source.BEACON
        scale = error_scale(report.source, report.accuracy_m)
        cs: list[float] = []
        if has_pos:
            for j, rule in enumerate(spec.rules):
                if rule.geometry is not None:
                    d = distances[j] if distances is not None else rule.geometry.signed_distance(lon, lat)
                    if beacon and rule.inclusion and d <= 0:
                        cs.append(-math.inf)  # the home unit sees the tag: inside, whatever the noise
                        continue
                    cs.append((d if rule.inclusion else -d) / scale)
                else:
                    cs.append(self._proximity_c(rule, t, lon, lat, scale))
        else:
            cs = [math.nan] * len(spec.rules)
        events = report.events
        strap: list[bool] = [e == "strap_open" for e in events if e in ("strap_open", "strap_closed")]
        if report.strap is not None:
            strap.append(report.strap is Closure.OPEN)
        case: list[bool] = [e == "case_open" for e in events if e in ("case_open", "case_closed")]
        if report.case is not None:
            case.append(report.case is Closure.OPEN)
        if report.battery_pct is not None:
            battery = 1 if report.battery_pct <= BATTERY_CRITICAL_PCT and report.charging is not True else 0
        else:
            battery = 0 if report.charging is True else -1
        usable = report.source is Source.BEACON or (
            has_pos and report.accuracy_m is not None and report.accuracy_m <= USABLE_ACCURACY_M)
        return Fix(t, ident, has_pos, lon, lat, scale, beacon, usable, tuple(cs), tuple(strap), tuple(case),
                   battery, late, report.source is Source.CELL, no)

    def _proximity_c(self, rule: RuleSpec, t: float, lon: float, lat: float, scale: float) -> float:
        track = self.pp_tracks.get(rule.protected_device or "")
        if track is None:
            return math.nan
        times, fixes, ok = track
        i = bisect.bisect_left(times, t)
        best: tuple[float, float, float] | None = None
        best_dt = PROXIMITY_PAIRING_S
        k = i - 1  # the nearest accepted fix before, then after (fixes the gate set aside are skipped)
        while k >= 0 and t - times[k] <= best_dt:
            if ok[k] == PP_ACCEPTED:
                best_dt, best = t - times[k], fixes[k]
                break
            k -= 1
        k = i
        while k < len(times) and times[k] - t <= best_dt:
            if ok[k] == PP_ACCEPTED:
                if times[k] - t < best_dt or best is None:
                    best_dt, best = times[k] - t, fixes[k]
                break
            k += 1
        if best is None:
            return math.nan
        dist = distance_m(lon, lat, best[0], best[1])
        return (rule.distance_m - dist) / math.hypot(scale, best[2])

    def _on_protected(self, report: DeviceReport, tnow: float) -> list[AlertChange]:
        seen = self.pp_seen.setdefault(report.device, {})
        t = report.time.timestamp()
        key: Any = report.seq if report.seq is not None else ("t", t)
        if key in seen:
            return []
        seen[key] = t
        if len(seen) > 4096:
            horizon = t - self.lateness
            for k in [k for k, v in seen.items() if v < horizon]:
                del seen[k]
        if report.lat is None or report.lon is None or report.source is Source.NONE:
            return []
        if report.accuracy_m is not None and report.accuracy_m > USABLE_ACCURACY_M:
            return []
        times, fixes, ok = self.pp_tracks.setdefault(report.device, ([], [], []))
        i = bisect.bisect_right(times, t)
        times.insert(i, t)
        fixes.insert(i, (report.lon, report.lat, error_scale(report.source, report.accuracy_m)))
        ok.insert(i, PP_PENDING)
        first, last = _gate_track(times, fixes, ok, i)
        if times[0] < times[-1] - self.lateness - 3600:
            k = bisect.bisect_left(times, times[-1] - self.lateness)
            del times[:k]
            del fixes[:k]
            del ok[:k]
        return self._reevaluate_proximity(report.device, min(t, first), max(t, last), tnow)

    def _process(self, report: DeviceReport, tnow: float, ref: int | None,
                 distances: tuple[float, ...] | None, no: int) -> list[AlertChange]:
        rt = self.devices.get(report.device)
        if rt is None:
            spec = self.owner.get(report.device)
            if spec is None:
                if report.device in self.pp_devices:
                    return self._on_protected(report, tnow)
                return []
            rt = self.devices[report.device] = DeviceRuntime(report.device, spec)
        self.fast.take_back(rt)
        spec = rt.subject
        changes: list[AlertChange] = []
        t = report.time.timestamp()
        # contact: a report (even a duplicate) ends a silence
        if rt.comm_since >= 0:
            changes += self._publish(spec.id, AlertType.COMMUNICATION_LOSS, None,
                                     Emission("close", rt.comm_since, max(tnow, rt.comm_since), 0.99, ()),
                                     tnow, False)
            rt.comm_since = -1.0
        elif rt.last_rx >= 0 and tnow - rt.last_rx > spec.timeout:
            start = rt.last_rx_t
            changes += self._publish(spec.id, AlertType.COMMUNICATION_LOSS, None,
                                     Emission("raise", start, None, 0.99, ()), tnow, False)
            changes += self._publish(spec.id, AlertType.COMMUNICATION_LOSS, None,
                                     Emission("close", start, tnow, 0.99, ()), tnow, False)
        rt.last_rx = max(rt.last_rx, tnow)
        rt.last_rx_t = max(rt.last_rx_t, t)
        if t < rt.newest_t - self.lateness:
            # beyond the lateness bound: the history it would rewind into is gone (and so are the keys that
            # would tell whether it is a duplicate)
            self.dropped_too_late += 1
            self._reschedule(rt)
            return changes
        key: Any = report.seq if report.seq is not None else ("t", t)
        if key not in rt.seen and not (key > rt.max_seq if report.seq is not None else t > rt.newest_t):
            self.fast.materialize(rt)  # it may repeat a report still held as columns
        if key in rt.seen:
            self._reschedule(rt)
            return changes
        rt.seen[key] = t
        if report.seq is not None and report.seq > rt.max_seq:
            rt.max_seq = report.seq
        if len(rt.seen) > 4096:
            horizon = rt.newest_t - self.lateness
            for k in [k for k, v in rt.seen.items() if v < horizon]:
                del rt.seen[k]
        ident = report.seq if report.seq is not None else ref
        late = tnow - t > LATE_AFTER_S
        fix = self._make_fix(spec, report, ident, distances, late, no)
        if t >= rt.newest_t:
            state, items = advance(spec, rt.state, fix)
            rt.state = state
            rt.newest_t = t
            rt.hist_t.append(t)
            rt.hist_fix.append(fix)
            rt.hist_state.append(state)
            for atype, target, em in items:
                changes += self._publish(spec.id, atype, target, em, tnow, late)
        else:
            changes += self._rewind(rt, fix, tnow)
        self._prune(rt)
        self._reschedule(rt)
        return changes

    def _rewind(self, rt: DeviceRuntime, fix: Fix, tnow: float) -> list[AlertChange]:
        """Insert a fix in the device's past and re-run everything after it; what it finds is late."""
        self.fast.materialize(rt)
        i = bisect.bisect_right(rt.hist_t, fix.t)
        rt.hist_t.insert(i, fix.t)
        rt.hist_fix.insert(i, fix)
        rt.hist_state.insert(i, rt.hist_state[i - 1] if i > 0 else rt.base)
        return self._rerun(rt, i, tnow, True, fix.t)

    def _rerun(self, rt: DeviceRuntime, i: int, tnow: float, late: bool, at: float) -> list[AlertChange]:
        """Re-run the device's history from index ``i`` (its fixes are already in place)."""
        spec = rt.subject
        state = rt.hist_state[i - 1] if i > 0 else rt.base
        changes: list[AlertChange] = []
        for k in range(i, len(rt.hist_fix)):
            state, items = advance(spec, state, rt.hist_fix[k])
            rt.hist_state[k] = state
            for atype, target, em in items:
                changes += self._publish(spec.id, atype, target, em, tnow, late)
        # the clock may have raised what the re-run has not reached yet: keep the published episode
        new_rules = list(state.rules)
        for j, rule in enumerate(spec.rules):
            rs = new_rules[j]
            ep = self.open.get((spec.id, rule.type, rule.target))
            if ep is None or rs.raised:
                continue
            if rs.wrong and rs.strong >= rules.MIN_STRONG:
                window = rule.window_at(_ts(ep.start))
                limit = window[1] if window is not None else rules.NEVER
                new_rules[j] = rs._replace(raised=True, ep_start=_ts(ep.start), ep_limit=limit)
            else:
                changes += self._publish(spec.id, rule.type, rule.target,
                                         Emission("close", _ts(ep.start), max(_ts(ep.start), at), 0.5, ()),
                                         tnow, late)
        rt.state = state._replace(rules=tuple(new_rules))
        return changes

    def _reevaluate_proximity(self, pp_device: str, t: float, t_last: float, tnow: float) -> list[AlertChange]:
        """A protected person's fix arrived at ``t`` (and the gate's verdict on their fixes up to ``t_last`` may
        have changed with it): re-decide the subjects' fixes they pair with, in event time."""
        changes: list[AlertChange] = []
        for rt in self.devices.values():
            slots = [j for j, r in enumerate(rt.subject.rules) if r.protected_device == pp_device]
            if not slots or not rt.hist_t:
                continue
            lo = bisect.bisect_left(rt.hist_t, t - PROXIMITY_PAIRING_S)
            hi = bisect.bisect_right(rt.hist_t, t_last + PROXIMITY_PAIRING_S)
            first: int | None = None
            for k in range(lo, hi):
                f = rt.hist_fix[k]
                if not f.has_pos:
                    continue
                cs = list(f.cs)
                for j in slots:
                    cs[j] = self._proximity_c(rt.subject.rules[j], f.t, f.lon, f.lat, f.scale)
                new = tuple(cs)
                if new != f.cs and not (all(x != x for x in new) and all(x != x for x in f.cs)):
                    rt.hist_fix[k] = f._replace(cs=new)
                    if first is None:
                        first = k
            if first is not None:
                changes += self._rerun(rt, first, tnow, tnow - t > LATE_AFTER_S, t)
                self._reschedule(rt)
        return changes

    def _prune(self, rt: DeviceRuntime) -> None:
        if not rt.hist_t or rt.hist_t[0] >= rt.newest_t - self.lateness:
            return
        k = bisect.bisect_left(rt.hist_t, rt.newest_t - self.lateness)
        if k < 16 and k < len(rt.hist_t):
            return
        rt.base = rt.hist_state[k - 1]
        rt.base_key = (rt.hist_t[k - 1], rt.hist_fix[k - 1].no)
        del rt.hist_t[:k]
        del rt.hist_fix[:k]
        del rt.hist_state[:k]

    # -- episodes -------------------------------------------------------------------------------------
    def _publish(self, subject: str, atype: AlertType, target: str | None, em: Emission, tnow: float,
                 late: bool) -> list[AlertChange]:
        key = (subject, atype, target)
        ep = self.open.get(key)
        if em.action == "raise":
            if ep is not None:
                merged = tuple(dict.fromkeys(ep.evidence + em.evidence))[: rules.MAX_EVIDENCE]
                if merged == ep.evidence:
                    return []
                ep = AlertEpisode(ep.subject, ep.type, ep.start, ep.raised_at, ep.severity, ep.target, None,
                                  ep.confidence, ep.late, merged, ep.device, ep.rule)
                self.open[key] = ep
                return [AlertChange("updated", ep)]
            closed = self.last_closed.get(key)
            if closed is not None and closed.end is not None and em.start <= _ts(closed.end) \
                    and em.start >= _ts(closed.start):
                ep = AlertEpisode(closed.subject, closed.type, closed.start, closed.raised_at, closed.severity,
                                  closed.target, None, closed.confidence, closed.late, closed.evidence,
                                  closed.device, closed.rule)
                del self.last_closed[key]
                self.open[key] = ep
                return [AlertChange("updated", ep)]
            ep = AlertEpisode(subject, atype, _dt(em.start), _dt(tnow), DEFAULT_SEVERITY[atype], target, None,
                              em.confidence, late, em.evidence, self._device_of(subject), _rule_name(atype))
            self.open[key] = ep
            return [AlertChange("raised", ep)]
        end = em.end if em.end is not None else tnow
        if ep is None:
            closed = self.last_closed.get(key)
            if closed is None or closed.end is None or em.start > _ts(closed.end) or end <= _ts(closed.start) \
                    or abs(_ts(closed.end) - end) < 1e-6:
                return []
            # late data moved the end of an episode already closed
            ep = AlertEpisode(closed.subject, closed.type, closed.start, closed.raised_at, closed.severity,
                              closed.target, _dt(max(end, _ts(closed.start))), closed.confidence, closed.late,
                              closed.evidence, closed.device, closed.rule)
            self.last_closed[key] = ep
            return [AlertChange("updated", ep)]
        ep = AlertEpisode(ep.subject, ep.type, ep.start, ep.raised_at, ep.severity, ep.target,
                          _dt(max(end, _ts(ep.start))), max(ep.confidence, em.confidence) if em.confidence
                          else ep.confidence, ep.late, ep.evidence, ep.device, ep.rule)
        del self.open[key]
        self.last_closed[key] = ep
        return [AlertChange("closed", ep)]

    def _device_of(self, subject: str) -> str | None:
        return self.subject_device.get(subject)

    # -- timers ---------------------------------------------------------------------------------------
    def _deadline(self, rt: DeviceRuntime) -> float | None:
        spec = rt.subject
        best = math.inf
        if rt.comm_since < 0 and rt.last_rx >= 0:
            best = rt.last_rx + spec.timeout
        for i, rule in enumerate(spec.rules):
            rs = rt.state.rules[i]
            if rs is IDLE:
                continue
            if rs.raised:
                if rs.ep_limit < best:
                    best = rs.ep_limit
                continue
            if not rs.wrong or rs.strong < rules.MIN_STRONG or not rs.latest_wrong:
                continue
            window = rule.window_at(rs.since)
            if window is not None:
                when = rules.due(rs, window, rule.grace)
                if when is None:
                    continue
                due = when
                if due >= window[1]:
                    nxt = rule.next_start(rs.since)
                    due = math.inf if nxt is None else nxt + rule.grace
            else:
                nxt = rule.next_start(rs.since)
                due = math.inf if nxt is None else nxt + rule.grace
            while due <= rt.checked_at and rule.windows is not None:
                nxt = rule.next_start(due)
                if nxt is None:
                    due = math.inf
                    break
                due = nxt + rule.grace
            if due < best:
                best = due
        return None if best == math.inf else best

    def _reschedule(self, rt: DeviceRuntime) -> None:
        """Make sure the heap wakes this device no later than its next deadline.

        A wake-up already in the heap that is earlier is kept (it is re-checked when it pops), so a device
        that reports every minute does not push a heap entry per report; ``next_deadline`` may therefore be
        early, never late.
        """
        due = self._deadline(rt)
        if due is None or due <= rt.checked_at or rt.pushed <= due:
            return
        rt.version += 1
        rt.pushed = due
        self.counter += 1
        heapq.heappush(self.heap, (due, self.counter, rt.device, rt.version))

    def next_deadline(self) -> datetime | None:
        """The earliest pending timer (a grace running out, a window ending, a device going silent).

        It may be earlier than anything actually due (calling :meth:`on_time` then changes nothing and
        moves the timer on), never later.
        """
        while self.heap:
            due, _, device, version = self.heap[0]
            rt = self.devices.get(device)
            if rt is None or rt.version != version:
                heapq.heappop(self.heap)
                continue
            return _dt(due)
        return None

    def on_time(self, now: datetime) -> list[AlertChange]:
        """Fire every timer due at or before ``now`` (server clock)."""
        tnow = now.timestamp()
        changes: list[AlertChange] = []
        due_devices: list[DeviceRuntime] = []
        while self.heap and self.heap[0][0] <= tnow:
            _, _, device, version = heapq.heappop(self.heap)
            rt = self.devices.get(device)
            if rt is not None and rt.version == version:
                rt.pushed = math.inf
                due_devices.append(rt)
        for rt in due_devices:
            self.fast.take_back(rt)
            spec = rt.subject
            rt.checked_at = tnow
            if rt.comm_since < 0 and rt.last_rx >= 0 and tnow >= rt.last_rx + spec.timeout:
                rt.comm_since = rt.last_rx_t
                changes += self._publish(spec.id, AlertType.COMMUNICATION_LOSS, None,
                                         Emission("raise", rt.last_rx_t, None, 0.99, ()), tnow, False)
            new_rules = list(rt.state.rules)
            for i, rule in enumerate(spec.rules):
                rs = new_rules[i]
                if rs is IDLE:
                    continue
                nrs, em = rules.check(rs, tnow, rule.window_at(tnow), rule.grace)
                new_rules[i] = nrs
                if em is not None:
                    changes += self._publish(spec.id, rule.type, rule.target, em, tnow, False)
            rt.state = rt.state._replace(rules=tuple(new_rules))
            self._reschedule(rt)
            self.fast.adopt(rt)
        return changes

    def open_episodes(self) -> list[AlertEpisode]:
        return sorted(self.open.values(), key=lambda e: (e.start, e.subject))

    # -- checkpoints ----------------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """All state as bytes (MessagePack of plain values): restore with :meth:`restore` and the same plan.

        Devices held by the fast path are written from their arrays, and the reports it keeps as columns go
        in as columns (``fast``): a checkpoint does not build their history as objects.
        """
        held = self.fast.hand_over_states()
        devices = {}
        for d, rt in self.devices.items():
            devices[d] = {
                "state": _plain(rt.state), "base": _plain(rt.base), "hist_t": rt.hist_t,
                "hist_fix": [_plain(f) for f in rt.hist_fix], "hist_state": [_plain(s) for s in rt.hist_state],
                "newest_t": rt.newest_t, "seen": [[_key_plain(k), v] for k, v in rt.seen.items()],
                "last_rx": rt.last_rx, "last_rx_t": rt.last_rx_t, "comm_since": rt.comm_since,
                "checked_at": rt.checked_at, "rules": [[r.type.value, r.target] for r in rt.subject.rules],
                "base_key": list(rt.base_key), "max_seq": rt.max_seq,
            }
        body = {
            "version": 2, "lateness": self.lateness, "devices": devices, "no": self.no,
            "fast": self.fast.snapshot_log(),
            "pp_tracks": {d: [t, [list(f) for f in fx], ok] for d, (t, fx, ok) in self.pp_tracks.items()},
            "pp_seen": {d: [[_key_plain(k), v] for k, v in s.items()] for d, s in self.pp_seen.items()},
            "open": [_episode_plain(e) for e in self.open.values()],
            "last_closed": [_episode_plain(e) for e in self.last_closed.values()],
        }
        data = msgspec.msgpack.encode(body)
        for rt in held:
            self.fast.adopt(rt)
        return data

    @classmethod
    def restore(cls, plan: MonitoringPlan, data: bytes) -> Engine:
        body: dict[str, Any] = msgspec.msgpack.decode(data)
        if body.get("version") not in (1, 2):
            raise ValueError(f"engine snapshot version {body.get('version')!r} is not supported (expected 1 or 2)")
        engine = cls(plan, lateness=timedelta(seconds=float(body["lateness"])))
        engine.no = int(body.get("no", 0))
        kept_history: set[str] = set()
        for d, raw in body["devices"].items():
            spec = engine.owner.get(d)
            if spec is None:
                continue
            rt = DeviceRuntime(d, spec)
            same_rules = [[r.type.value, r.target] for r in spec.rules] == raw["rules"]
            rt.state = _state_from(raw["state"])
            rt.base = _state_from(raw["base"])
            rt.hist_t = [float(x) for x in raw["hist_t"]]
            rt.hist_fix = [_fix_from(f) for f in raw["hist_fix"]]
            rt.hist_state = [_state_from(s) for s in raw["hist_state"]]
            rt.newest_t = float(raw["newest_t"])
            rt.seen = {_key_from(k): float(v) for k, v in raw["seen"]}
            rt.last_rx, rt.last_rx_t = float(raw["last_rx"]), float(raw["last_rx_t"])
            rt.comm_since, rt.checked_at = float(raw["comm_since"]), float(raw["checked_at"])
            rt.max_seq = int(raw["max_seq"]) if "max_seq" in raw else \
                max((k for k in rt.seen if isinstance(k, int)), default=-1)
            if "base_key" in raw:
                rt.base_key = (float(raw["base_key"][0]), int(raw["base_key"][1]))
            if rt.hist_fix:
                engine.no = max(engine.no, max(f.no for f in rt.hist_fix))
            engine.devices[d] = rt
            if not same_rules:  # the plan changed since the checkpoint: map rules by identity
                old = {(t, g): rt.state.rules[i] for i, (t, g) in enumerate(raw["rules"])}
                rt.state = rt.state._replace(rules=tuple(old.get((r.type.value, r.target), IDLE)
                                                         for r in spec.rules))
                rt.base = rt.state
                rt.base_key = (-math.inf, -1)
                rt.hist_t, rt.hist_fix, rt.hist_state = [], [], []
            else:
                kept_history.add(d)
            engine._reschedule(rt)
            engine.fast.restored(rt)
        if body.get("fast"):
            engine.fast.restore_log(body["fast"], kept_history)
        for d, raw_track in body["pp_tracks"].items():
            times, fixes = [float(x) for x in raw_track[0]], [(f[0], f[1], f[2]) for f in raw_track[1]]
            ok = [int(x) for x in raw_track[2]] if len(raw_track) > 2 else [PP_PENDING] * len(times)
            if len(raw_track) <= 2 and times:  # a checkpoint from before the gate: decide it now
                _gate_track(times, fixes, ok, 0)
            engine.pp_tracks[d] = (times, fixes, ok)
        for d, seen in body["pp_seen"].items():
            engine.pp_seen[d] = {_key_from(k): float(v) for k, v in seen}
        for raw_ep in body["open"]:
            ep = _episode_from(raw_ep)
            engine.open[(ep.subject, ep.type, ep.target)] = ep
        for raw_ep in body["last_closed"]:
            ep = _episode_from(raw_ep)
            engine.last_closed[(ep.subject, ep.type, ep.target)] = ep
        return engine


class Timed(Protocol):
    """What has timers: the engine, and the naive baseline."""

    def next_deadline(self) -> datetime | None: ...

    def on_time(self, now: datetime) -> list[AlertChange]: ...


def fire_due(driven: Timed, now: datetime) -> list[AlertChange]:
    """Every timer due by ``now``, each fired at its own due time: what replay and the live monitor do before
    each report (and :meth:`Engine.on_reports` before each report it does not decide in bulk)."""
    changes: list[AlertChange] = []
    due = driven.next_deadline()
    while due is not None and due <= now:
        changes += driven.on_time(due)
        nxt = driven.next_deadline()
        if nxt is not None and nxt <= due:
            break
        due = nxt
    return changes


def _rule_name(atype: AlertType) -> str:
    return f"kuzet/{atype.value}"


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _key_plain(key: Any) -> Any:
    return ["t", key[1]] if isinstance(key, tuple) else key


def _key_from(raw: Any) -> Any:
    return ("t", float(raw[1])) if isinstance(raw, list) else int(raw)


def _rule_from(raw: list[Any]) -> RuleState:
    rs = RuleState(bool(raw[0]), float(raw[1]), int(raw[2]), int(raw[3]), float(raw[4]), int(raw[5]),
                   bool(raw[6]), float(raw[7]), float(raw[8]), tuple(int(x) for x in raw[9]), float(raw[10]),
                   bool(raw[11]), int(raw[12]), int(raw[13]),
                   int(raw[14]) if len(raw) > 14 else rules.MIN_WRONG_ROW)
    return IDLE if rs == IDLE else rs


def _quad(raw: Any) -> tuple[float, float, float, float] | None:
    return None if raw is None else (float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3]))


def _state_from(raw: list[Any]) -> DevState:
    return DevState(tuple(_rule_from(r) for r in raw[0]), _quad(raw[1]), _quad(raw[2]), float(raw[3]),
                    float(raw[4]), float(raw[5]), float(raw[6]), int(raw[7]), float(raw[8]), int(raw[9]),
                    float(raw[10]), int(raw[11]))


def _fix_from(raw: list[Any]) -> Fix:
    return Fix(float(raw[0]), None if raw[1] is None else int(raw[1]), bool(raw[2]), float(raw[3]),
               float(raw[4]), float(raw[5]), bool(raw[6]), bool(raw[7]), tuple(float(x) for x in raw[8]),
               tuple(bool(x) for x in raw[9]), tuple(bool(x) for x in raw[10]), int(raw[11]), bool(raw[12]),
               bool(raw[13]) if len(raw) > 13 else False, int(raw[14]) if len(raw) > 14 else 0)


def _episode_plain(ep: AlertEpisode) -> dict[str, Any]:
    return {**ep.to_json(), "device": ep.device, "rule": ep.rule, "confidence": ep.confidence}


def _episode_from(raw: dict[str, Any]) -> AlertEpisode:
    base = AlertEpisode.from_json(raw)
    return AlertEpisode(base.subject, base.type, base.start, parse_utc(raw["raised_at"]), base.severity,
                        base.target, base.end, float(raw["confidence"]), base.late, base.evidence,
                        raw.get("device"), raw.get("rule"))


__all__ = ["DEFAULT_LATENESS", "AlertChange", "Engine", "fire_due", "format_utc"]
