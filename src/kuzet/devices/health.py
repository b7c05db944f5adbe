"""Health of each device from its own reports: battery, charging habits, GPS and GSM quality, firmware, faults.

A quarter of the trackers in a California audit were faulty, and faulty tags cause false alerts and wrongful
recalls (DOMAIN.md section 4). This module looks at a device's recent report series and names what looks
wrong *before* it turns into alerts: a battery that drains too fast, a strap sensor that flickers open and
closed, reboots, impossible jumps, poor fixes, silent gaps, old firmware. Each finding is a :class:`HealthFlag`
of a kind: ``fault`` (the device itself: take it off and test it), ``habit`` (the wearer: e.g. not charging)
or ``advisory`` (e.g. firmware update).

:func:`assess_health` is pure and takes the clock from its arguments; the services around it read the store.
Must never: change a device's state or raise alerts; it only reports.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.domain.geometry import haversine_m
from kuzet.store.models import AlertRecord, Assignment, Device, DeviceReportRecord, DeviceType, Person

from .lifecycle import get_device
from .models import DeviceHealthSnapshot

#: Speed no person on the ground reaches: a jump faster than this is a bad fix (or spoofing).
IMPOSSIBLE_SPEED_KMH = 250.0
#: A strap reported open and closed again within this time is a sensor flicker, not a removal.
STRAP_FLICKER = timedelta(minutes=2)
#: Fixes worse than this are of little use for zone decisions.
POOR_ACCURACY_M = 50.0
#: A report later than this after its measurement is a late upload (coverage problem).
LATE_UPLOAD = timedelta(minutes=10)
#: This many alerts closed as technical faults or false alarms in the window make the device suspect.
FALSE_ALERTS_LIMIT = 2
#: Alert outcomes that blame the device rather than the wearer (the alert workflow's vocabulary).
FAULT_OUTCOMES: tuple[str, ...] = ("technical_fault", "false_alarm")
#: Median cellular signal below this share of full scale is poor (about CSQ 8 of 31, -97 dBm).
POOR_GSM_QUALITY = 0.25
#: A battery at or below this is empty.
EMPTY_PCT = 5.0
#: A wearer of a daily-charged device who has not charged for this long has a habit problem.
MAX_HOURS_WITHOUT_CHARGE = 36.0


class FlagKind(StrEnum):
    FAULT = "fault"
    HABIT = "habit"
    ADVISORY = "advisory"


class FlagCode(StrEnum):
    BATTERY_DRAIN = "battery_drain"
    NOT_CHARGED = "not_charged"
    STRAP_SENSOR_FLICKER = "strap_sensor_flicker"
    FREQUENT_REBOOTS = "frequent_reboots"
    POSITION_JUMPS = "position_jumps"
    POOR_GPS = "poor_gps"
    POOR_GSM = "poor_gsm"
    REPORTING_GAPS = "reporting_gaps"
    OUTDATED_FIRMWARE = "outdated_firmware"
    SILENT = "silent"
    FALSE_ALERTS = "false_alerts"


_KIND: dict[FlagCode, FlagKind] = {
    FlagCode.BATTERY_DRAIN: FlagKind.FAULT, FlagCode.STRAP_SENSOR_FLICKER: FlagKind.FAULT,
    FlagCode.FREQUENT_REBOOTS: FlagKind.FAULT, FlagCode.POSITION_JUMPS: FlagKind.FAULT,
    FlagCode.POOR_GPS: FlagKind.FAULT, FlagCode.POOR_GSM: FlagKind.FAULT, FlagCode.REPORTING_GAPS: FlagKind.FAULT,
    FlagCode.SILENT: FlagKind.FAULT, FlagCode.FALSE_ALERTS: FlagKind.FAULT, FlagCode.NOT_CHARGED: FlagKind.HABIT,
    FlagCode.OUTDATED_FIRMWARE: FlagKind.ADVISORY,
}


@dataclass(frozen=True, slots=True)
class HealthFlag:
    code: FlagCode
    kind: FlagKind
    message: str


@dataclass(frozen=True, slots=True)
class HealthSample:
    """The fields of one stored report that health looks at."""

    time: datetime
    received: datetime
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    source: str = "none"
    satellites: int | None = None
    battery_pct: float | None = None
    charging: bool | None = None
    strap: str | None = None
    events: tuple[str, ...] = ()
    #: Cellular signal quality 0..1 (see :func:`gsm_quality`).
    gsm_quality: float | None = None


@dataclass(frozen=True, slots=True)
class HealthMetrics:
    reports: int
    expected_reports: int
    delivery_ratio: float | None
    longest_gap_h: float | None
    late_upload_share: float | None
    fix_share: float | None
    median_accuracy_m: float | None
    poor_fix_share: float | None
    median_satellites: float | None
    median_gsm_quality: float | None
    battery_last_pct: float | None
    battery_min_pct: float | None
    discharge_pct_per_h: float | None
    charges: int
    charges_per_day: float | None
    longest_without_charge_h: float | None
    usual_charging_hour: int | None
    strap_flickers: int
    reboots: int
    position_jumps: int
    fault_events_per_day: float
    #: Alerts from this device that operators closed as a technical fault or a false alarm.
    alerts_closed_as_fault: int = 0


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    serial: str
    type_code: str
    firmware: str
    window_start: datetime
    window_end: datetime
    metrics: HealthMetrics
    flags: tuple[HealthFlag, ...] = field(default=())

    @property
    def faulty(self) -> bool:
        return any(f.kind is FlagKind.FAULT for f in self.flags)

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "type": self.type_code, "firmware": self.firmware,
                "window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
                "faulty": self.faulty, "metrics": asdict(self.metrics),
                "flags": [{"code": f.code.value, "kind": f.kind.value, "message": f.message} for f in self.flags]}


def firmware_key(version: str) -> tuple[int, ...]:
    """Order firmware versions numerically: ``1.10.0`` is newer than ``1.9.3``."""
    parts = []
    for piece in version.replace("-", ".").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def expected_endurance_h(procedure: Mapping[str, Any]) -> float | None:
    """How long a full battery should last under the type's charging rule; ``None`` for mains power."""
    rule = str(procedure.get("charging_rule") or "").lower()
    if "mains" in rule:
        return None
    if "month" in rule or "no charging" in rule:
        return 24.0 * 270
    if "daily" in rule:
        return 24.0
    return None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def gsm_quality(extra: Mapping[str, Any]) -> float | None:
    """Cellular signal quality 0..1 from whatever the protocol reported, kept in the report's ``extra``:
    ``gsm_signal`` (CSQ 0-31), ``gsm_level`` (GT06, 0-4), Teltonika IO element 21 (0-5) in ``io``, or the
    serving cell's ``rssi`` in dBm (OsmAnd ``cells``; -113 dBm is 0, -51 dBm is 1).

    >>> gsm_quality({"gsm_level": 2}), gsm_quality({"cells": [{"rssi": -82}]})
    (0.5, 0.5)
    """
    csq = _number(extra.get("gsm_signal"))
    if csq is not None:
        return min(max(csq / 31, 0.0), 1.0)
    level = _number(extra.get("gsm_level"))
    if level is not None:
        return min(max(level / 4, 0.0), 1.0)
    io = extra.get("io")
    if isinstance(io, Mapping):
        teltonika = _number(io.get("21"))
        if teltonika is not None:
            return min(max(teltonika / 5, 0.0), 1.0)
    cells = extra.get("cells")
    if isinstance(cells, list) and cells and isinstance(cells[0], Mapping):
        rssi = _number(cells[0].get("rssi"))
        if rssi is not None:
            return min(max((rssi + 113) / 62, 0.0), 1.0)
    return None


def _discharge_rate(battery: Sequence[HealthSample]) -> float | None:
    """%/h lost over the runs without charging of an hour or more (devices report whole percents, so
    minute-to-minute differences are meaningless; whole runs are not)."""
    runs: list[list[HealthSample]] = [[]]
    for r in battery:
        current = runs[-1]
        rising = bool(current) and (r.battery_pct or 0) > (current[-1].battery_pct or 0)
        if r.charging or rising:
            runs.append([])
        elif not current or (current[-1].battery_pct or 0) > EMPTY_PCT:
            current.append(r)  # an empty battery reads flat until it dies: that is not a slow drain
    drop = hours = 0.0
    for run in runs:
        if len(run) < 2:
            continue
        span_h = (run[-1].time - run[0].time).total_seconds() / 3600
        if span_h >= 1.0:
            drop += (run[0].battery_pct or 0) - (run[-1].battery_pct or 0)
            hours += span_h
    return drop / hours if hours >= 3.0 else None


def assess_health(samples: Sequence[HealthSample], *, serial: str, type_code: str, procedure: Mapping[str, Any],
                  firmware: str, latest_firmware: str | None, window_start: datetime, window_end: datetime,
                  timezone: str = "Asia/Almaty", alerts_closed_as_fault: int = 0) -> DeviceHealth:
    """The health of one device over ``[window_start, window_end]`` from its reports (any order), and from how
    many of its alerts operators closed as a technical fault or a false alarm."""
    rows = sorted(samples, key=lambda r: r.time)
    interval_s = float(procedure.get("reporting_interval_s") or 60)
    span_s = max((window_end - window_start).total_seconds(), 1.0)
    expected = max(int(span_s // interval_s), 1)
    days = span_s / 86400.0
    flags: list[HealthFlag] = []

    def flag(code: FlagCode, message: str) -> None:
        flags.append(HealthFlag(code, _KIND[code], message))

    # Communication: did the reports arrive, regularly and on time?
    times = [window_start, *(r.time for r in rows), window_end]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    longest_gap_h = max(gaps) / 3600 if gaps else None
    delivery = min(len(rows) / expected, 1.0) if rows else 0.0
    late = [r for r in rows if r.received - r.time > LATE_UPLOAD]
    late_share = len(late) / len(rows) if rows else None

    # GPS.
    fixes = [r for r in rows if r.lat is not None and r.lon is not None and r.source != "none"]
    gps = [r for r in fixes if r.source == "gps" and r.accuracy_m is not None]
    fix_share = len(fixes) / len(rows) if rows else None
    med_acc = statistics.median(r.accuracy_m for r in gps if r.accuracy_m is not None) if gps else None
    poor_share = (sum(1 for r in gps if (r.accuracy_m or 0) > POOR_ACCURACY_M) / len(gps)) if gps else None
    sats = [r.satellites for r in rows if r.satellites is not None and r.lat is not None]
    med_sats = statistics.median(sats) if sats else None
    gsm = [r.gsm_quality for r in rows if r.gsm_quality is not None]
    med_gsm = statistics.median(gsm) if gsm else None

    jumps = 0
    for a, b in itertools.pairwise(fixes):
        hours = (b.time - a.time).total_seconds() / 3600
        if hours <= 0:
            continue
        assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
        metres = haversine_m(a.lon, a.lat, b.lon, b.lat)
        slack = (a.accuracy_m or 0) + (b.accuracy_m or 0)
        if metres > slack and (metres - slack) / 1000 / hours > IMPOSSIBLE_SPEED_KMH:
            jumps += 1

    # Battery and charging.
    battery = [r for r in rows if r.battery_pct is not None]
    discharge = _discharge_rate(battery)
    charge_starts: list[datetime] = []
    previous = False
    for r in rows:
        now_charging = bool(r.charging) or "charging_start" in r.events
        if now_charging and not previous:
            charge_starts.append(r.time)
        previous = now_charging and "charging_stop" not in r.events
    marks = [window_start, *charge_starts, window_end]
    longest_dry_h = max((b - a).total_seconds() for a, b in itertools.pairwise(marks)) / 3600
    tz = ZoneInfo(timezone)
    usual_hour = Counter(t.astimezone(tz).hour for t in charge_starts).most_common(1)[0][0] if charge_starts else None

    # Faults reported by the device itself.
    flickers = 0
    opened_at: datetime | None = None
    for r in rows:
        if "strap_open" in r.events or r.strap == "open":
            opened_at = opened_at or r.time
        elif opened_at is not None and ("strap_closed" in r.events or r.strap == "closed"):
            if r.time - opened_at <= STRAP_FLICKER:
                flickers += 1
            opened_at = None
    reboots = sum(1 for r in rows if "power_on" in r.events)
    fault_events = flickers + reboots + jumps

    endurance = expected_endurance_h(procedure)
    if discharge is not None and endurance is not None and discharge * endurance > 130:
        flag(FlagCode.BATTERY_DRAIN, f"battery drains {discharge:.1f}%/h: a full charge lasts "
                                     f"{100 / discharge:.0f} h, the type should last {endurance:.0f} h")
    if endurance == 24.0 and days * 24 >= MAX_HOURS_WITHOUT_CHARGE and longest_dry_h > MAX_HOURS_WITHOUT_CHARGE:
        flag(FlagCode.NOT_CHARGED, f"not charged for {longest_dry_h:.0f} h (rule: "
                                   f"{procedure.get('charging_rule', 'charge daily')})")
    if flickers >= 3:
        flag(FlagCode.STRAP_SENSOR_FLICKER, f"strap reported open and closed again within "
                                            f"{int(STRAP_FLICKER.total_seconds())} s {flickers} times")
    if reboots / max(days, 1 / 24) >= 2:
        flag(FlagCode.FREQUENT_REBOOTS, f"{reboots} restarts in {days:.1f} days")
    if jumps >= 3:
        flag(FlagCode.POSITION_JUMPS, f"{jumps} jumps faster than {IMPOSSIBLE_SPEED_KMH:.0f} km/h")
    if gps and len(gps) >= 20 and poor_share is not None and poor_share > 0.5:
        flag(FlagCode.POOR_GPS, f"{poor_share:.0%} of GPS fixes worse than {POOR_ACCURACY_M:.0f} m "
                                f"(median {med_acc:.0f} m, {med_sats or 0:.0f} satellites)")
    if med_gsm is not None and med_gsm < POOR_GSM_QUALITY:
        flag(FlagCode.POOR_GSM, f"median cellular signal {med_gsm:.0%} of full scale")
    elif late_share is not None and len(rows) >= 20 and late_share > 0.3:
        flag(FlagCode.POOR_GSM, f"{late_share:.0%} of reports uploaded more than "
                                f"{int(LATE_UPLOAD.total_seconds() // 60)} min late")
    if not rows:
        flag(FlagCode.SILENT, f"no report in {days:.1f} days")
    elif delivery < 0.7 and longest_gap_h is not None and longest_gap_h * 3600 > 10 * interval_s:
        flag(FlagCode.REPORTING_GAPS, f"{delivery:.0%} of the expected reports arrived; longest gap "
                                      f"{longest_gap_h:.1f} h")
    if alerts_closed_as_fault >= FALSE_ALERTS_LIMIT:
        flag(FlagCode.FALSE_ALERTS, f"{alerts_closed_as_fault} of its alerts were closed as a technical fault "
                                    "or a false alarm")
    if latest_firmware and firmware and firmware_key(firmware) < firmware_key(latest_firmware):
        flag(FlagCode.OUTDATED_FIRMWARE, f"firmware {firmware}, fleet has {latest_firmware}")

    metrics = HealthMetrics(
        reports=len(rows), expected_reports=expected, delivery_ratio=_round(delivery, 3),
        longest_gap_h=_round(longest_gap_h), late_upload_share=_round(late_share, 3),
        fix_share=_round(fix_share, 3), median_accuracy_m=_round(med_acc, 1), poor_fix_share=_round(poor_share, 3),
        median_satellites=_round(med_sats, 1), median_gsm_quality=_round(med_gsm, 2),
        battery_last_pct=battery[-1].battery_pct if battery else None,
        battery_min_pct=min(r.battery_pct for r in battery if r.battery_pct is not None) if battery else None,
        discharge_pct_per_h=_round(discharge), charges=len(charge_starts),
        charges_per_day=_round(len(charge_starts) / days if days >= 1 else None),
        longest_without_charge_h=_round(longest_dry_h, 1), usual_charging_hour=usual_hour,
        strap_flickers=flickers, reboots=reboots, position_jumps=jumps,
        fault_events_per_day=round(fault_events / max(days, 1 / 24), 2), alerts_closed_as_fault=alerts_closed_as_fault)
    return DeviceHealth(serial, type_code, firmware, window_start, window_end, metrics, tuple(flags))


# -- services over the store ------------------------------------------------------------------------------
def _samples(session: Session, serial: str, start: datetime, end: datetime) -> list[HealthSample]:
    rows = session.execute(
        select(DeviceReportRecord).where(DeviceReportRecord.device == serial, DeviceReportRecord.time >= start,
                                         DeviceReportRecord.time <= end).order_by(DeviceReportRecord.time)
    ).scalars()
    out = []
    for r in rows:
        out.append(HealthSample(
            time=r.time, received=r.received, lat=r.lat, lon=r.lon, accuracy_m=r.accuracy_m, source=r.source,
            satellites=r.satellites, battery_pct=r.battery_pct, charging=r.charging, strap=r.strap,
            events=tuple(r.events or ()), gsm_quality=gsm_quality(r.extra or {})))
    return out


def latest_firmware_by_type(session: Session) -> dict[int, str]:
    """The newest firmware seen on any device of each type."""
    newest: dict[int, str] = {}
    for type_id, firmware in session.execute(select(Device.type_id, Device.firmware).distinct()).all():
        if firmware and (type_id not in newest or firmware_key(firmware) > firmware_key(newest[type_id])):
            newest[type_id] = firmware
    return newest


def _timezone_of_wearer(session: Session, device_id: int) -> str:
    tz = session.execute(
        select(Person.timezone).join(Assignment, Assignment.person_id == Person.id)
        .where(Assignment.device_id == device_id).order_by(Assignment.fitted_at.desc()).limit(1)).scalar()
    return tz or "Asia/Almaty"


def device_health(session: Session, serial: str, *, now: datetime, window: timedelta = timedelta(days=7),
                  latest_firmware: Mapping[int, str] | None = None) -> DeviceHealth:
    """Health of one device over the last ``window`` (limited to its current fitting, if it has one)."""
    device = get_device(session, serial)
    dtype = session.get(DeviceType, device.type_id)
    assert dtype is not None
    start = now - window
    fitted_at = session.execute(select(Assignment.fitted_at).where(
        Assignment.device_id == device.id, Assignment.removed_at.is_(None))).scalar()
    if fitted_at is not None and fitted_at > start:
        start = fitted_at
    newest = latest_firmware if latest_firmware is not None else latest_firmware_by_type(session)
    blamed = session.execute(select(func.count()).select_from(AlertRecord).where(
        AlertRecord.device == serial, AlertRecord.outcome.in_(FAULT_OUTCOMES), AlertRecord.start >= now - window,
        AlertRecord.start <= now)).scalar_one()
    return assess_health(_samples(session, serial, start, now), serial=serial, type_code=dtype.code,
                         procedure=dtype.procedure or {}, firmware=device.firmware,
                         latest_firmware=newest.get(device.type_id), window_start=start, window_end=now,
                         timezone=_timezone_of_wearer(session, device.id), alerts_closed_as_fault=blamed)


def fleet_health(session: Session, *, now: datetime, window: timedelta = timedelta(days=7),
                 unit_ids: Sequence[int] | None = None) -> list[DeviceHealth]:
    """Health of every fitted device (optionally of some units), the faulty-looking first."""
    stmt = select(Device.serial).where(Device.status == "fitted")
    if unit_ids is not None:
        stmt = stmt.where(Device.unit_id.in_(list(unit_ids)))
    newest = latest_firmware_by_type(session)
    result = [device_health(session, serial, now=now, window=window, latest_firmware=newest)
              for serial in session.execute(stmt.order_by(Device.serial)).scalars()]
    return sorted(result, key=lambda h: (not h.faulty, -len(h.flags), h.serial))


def snapshot_fleet_health(session: Session, *, now: datetime | None = None,
                          window: timedelta = timedelta(days=7)) -> int:
    """Store today's health of every fitted device (for trends); returns how many were stored."""
    at = now or datetime.now(UTC)
    ids = dict(session.execute(select(Device.serial, Device.id)).all())
    count = 0
    for health in fleet_health(session, now=at, window=window):
        data = health.to_json()
        session.add(DeviceHealthSnapshot(device_id=ids[health.serial], at=at, window_start=health.window_start,
                                         window_end=health.window_end, faulty=health.faulty,
                                         flags=data["flags"], metrics=data["metrics"]))
        count += 1
    session.flush()
    return count


@dataclass(frozen=True, slots=True)
class HealthSnapshotView:
    """The latest stored health of a device (what the fleet pages list, without recomputing every device)."""

    serial: str
    type_code: str
    at: datetime
    faulty: bool
    flags: tuple[dict[str, str], ...]
    metrics: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "type": self.type_code, "at": self.at.isoformat(), "faulty": self.faulty,
                "flags": list(self.flags), "metrics": self.metrics}


def latest_health(session: Session, *, unit_ids: Sequence[int] | None = None,
                  flagged_only: bool = True) -> list[HealthSnapshotView]:
    """Each device's most recent snapshot (of devices now at the given units), the faulty-looking first."""
    newest = (select(DeviceHealthSnapshot.device_id, func.max(DeviceHealthSnapshot.id).label("last_id"))
              .group_by(DeviceHealthSnapshot.device_id).subquery())
    stmt = (select(DeviceHealthSnapshot, Device.serial, DeviceType.code)
            .join(newest, newest.c.last_id == DeviceHealthSnapshot.id)
            .join(Device, Device.id == DeviceHealthSnapshot.device_id)
            .join(DeviceType, DeviceType.id == Device.type_id))
    if unit_ids is not None:
        stmt = stmt.where(Device.unit_id.in_(list(unit_ids)))
    out = [HealthSnapshotView(serial, code, snap.at, snap.faulty, tuple(snap.flags), dict(snap.metrics))
           for snap, serial, code in session.execute(stmt).all() if snap.flags or not flagged_only]
    return sorted(out, key=lambda h: (not h.faulty, -len(h.flags), h.serial))


def health_trend(session: Session, serial: str, *, limit: int = 30) -> list[HealthSnapshotView]:
    """A device's stored snapshots, newest first: how its battery, charging and fixes changed over time."""
    device = get_device(session, serial)
    dtype = session.get(DeviceType, device.type_id)
    rows = session.execute(select(DeviceHealthSnapshot).where(DeviceHealthSnapshot.device_id == device.id)
                           .order_by(DeviceHealthSnapshot.at.desc(), DeviceHealthSnapshot.id.desc()).limit(limit))
    return [HealthSnapshotView(serial, dtype.code if dtype else "", snap.at, snap.faulty, tuple(snap.flags),
                               dict(snap.metrics)) for snap in rows.scalars()]
