"""Device health from built report series: each fault shows as its flag, a healthy device shows none."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kuzet.devices.health import (
    FlagCode,
    FlagKind,
    HealthSample,
    assess_health,
    device_health,
    fleet_health,
    gsm_quality,
    latest_health,
    snapshot_fleet_health,
)
from kuzet.devices.models import DeviceHealthSnapshot
from kuzet.store.catalogue import SEVEN_TYPES
from kuzet.store.db import transaction
from kuzet.store.models import AlertRecord

from .factories import fitted, organisation, person, report, stock_device, store

GPS = next(t for t in SEVEN_TYPES if t["code"] == "gps_bracelet")["procedure"]
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
ALMATY = ZoneInfo("Asia/Almaty")
HOME = (43.2389, 76.8897)


def series(hours: float = 48, *, every_s: int = 60, drain_pct_h: float = 3.0, charges: bool = True,
           start: datetime = START) -> list[HealthSample]:
    """A wearer at home and about: a fix a minute, charging 20:00-22:00 local time, battery draining."""
    out = []
    battery = 95.0
    for i in range(int(hours * 3600 // every_s)):
        t = start + timedelta(seconds=i * every_s)
        charging = charges and 20 <= t.astimezone(ALMATY).hour < 22
        battery = min(100.0, battery + 40 * every_s / 3600) if charging else max(1.0, battery - drain_pct_h
                                                                                  * every_s / 3600)
        wobble = 0.0003 * math.sin(i / 30)
        out.append(HealthSample(time=t, received=t + timedelta(seconds=5), lat=HOME[0] + wobble, lon=HOME[1],
                                accuracy_m=8.0 + (i % 5), source="gps", satellites=9, battery_pct=round(battery, 1),
                                charging=charging, strap="closed", gsm_quality=0.7))
    return out


def judge(samples: list[HealthSample], firmware: str = "2.1.0", latest: str | None = "2.1.0",
          hours: float = 48):
    return assess_health(samples, serial="KZ-1", type_code="gps_bracelet", procedure=GPS, firmware=firmware,
                         latest_firmware=latest, window_start=START, window_end=START + timedelta(hours=hours))


def codes(health) -> set[FlagCode]:  # type: ignore[no-untyped-def]
    return {f.code for f in health.flags}


def test_a_healthy_device_has_no_flag_and_its_charging_habit_is_seen() -> None:
    health = judge(series())
    assert codes(health) == set()
    assert not health.faulty
    assert health.metrics.usual_charging_hour == 20
    assert health.metrics.charges == 2
    assert 2.5 <= (health.metrics.discharge_pct_per_h or 0) <= 3.5
    assert health.metrics.delivery_ratio is not None and health.metrics.delivery_ratio > 0.99


def test_a_battery_that_cannot_last_a_day_is_a_fault() -> None:
    health = judge(series(drain_pct_h=9.0))
    assert FlagCode.BATTERY_DRAIN in codes(health)
    assert health.faulty


def test_a_wearer_who_does_not_charge_is_a_habit_not_a_device_fault() -> None:
    health = judge(series(charges=False, drain_pct_h=1.5))
    assert codes(health) == {FlagCode.NOT_CHARGED}
    assert health.flags[0].kind is FlagKind.HABIT
    assert not health.faulty


def _edit(samples: list[HealthSample], every: int,
          change: Callable[[HealthSample], HealthSample]) -> list[HealthSample]:
    return [change(s) if i % every == 0 and i else s for i, s in enumerate(samples)]


def test_a_strap_sensor_that_flickers_open_and_closed_is_flagged_before_it_raises_tamper_alerts() -> None:
    samples = series()
    for k in range(1, 5):  # open for one report, closed again a minute later
        i = k * 400
        samples[i] = replace(samples[i], strap="open", events=("strap_open",))
        samples[i + 1] = replace(samples[i + 1], strap="closed", events=("strap_closed",))
    health = judge(samples)
    assert FlagCode.STRAP_SENSOR_FLICKER in codes(health)
    assert health.metrics.strap_flickers == 4


def test_a_real_strap_removal_is_not_a_sensor_flicker() -> None:
    samples = series()
    for i in range(400, 460):
        samples[i] = replace(samples[i], strap="open", events=("strap_open",) if i == 400 else ())
    samples[460] = replace(samples[460], strap="closed", events=("strap_closed",))
    assert FlagCode.STRAP_SENSOR_FLICKER not in codes(judge(samples))


def test_impossible_jumps_and_poor_fixes_are_flagged() -> None:
    jumps = _edit(series(), 500, lambda s: replace(s, lat=HOME[0] + 0.5))
    assert FlagCode.POSITION_JUMPS in codes(judge(jumps))
    poor = [replace(s, accuracy_m=120.0, satellites=3) for s in series()]
    health = judge(poor)
    assert FlagCode.POOR_GPS in codes(health)
    assert health.metrics.poor_fix_share == 1.0


def test_weak_gsm_late_uploads_reboots_and_gaps_are_flagged() -> None:
    weak = [replace(s, gsm_quality=0.1) for s in series()]
    assert FlagCode.POOR_GSM in codes(judge(weak))
    late = [replace(s, received=s.time + timedelta(minutes=40)) for s in series()]
    assert FlagCode.POOR_GSM in codes(judge(late))
    reboots = _edit(series(), 300, lambda s: replace(s, events=("power_on",)))
    assert FlagCode.FREQUENT_REBOOTS in codes(judge(reboots))
    gappy = [s for s in series() if s.time.astimezone(ALMATY).hour % 3 == 0]
    health = judge(gappy)
    assert FlagCode.REPORTING_GAPS in codes(health)
    assert health.metrics.longest_gap_h is not None and health.metrics.longest_gap_h >= 2


def test_old_firmware_is_an_advisory_compared_numerically() -> None:
    health = judge(series(), firmware="1.9.3", latest="1.10.0")
    assert codes(health) == {FlagCode.OUTDATED_FIRMWARE}
    assert not health.faulty
    assert codes(judge(series(), firmware="1.10.0", latest="1.10.0")) == set()


def test_fleet_health_lists_faulty_devices_first_and_keeps_snapshots(sqlite_sessions: sessionmaker[Session]) -> None:
    now = START + timedelta(hours=48)
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        a, b, c = person(s, u1, "S-1"), person(s, u1, "S-2"), person(s, u1, "S-3")
        for serial, who in (("KZ-GOOD", a), ("KZ-DRAIN", b), ("KZ-MUTE", c)):
            stock_device(s, serial, u1, at=START - timedelta(days=2), firmware="2.1.0")
            fitted(s, serial, who, START - timedelta(hours=1))
        rows = []
        for serial, drain in (("KZ-GOOD", 3.0), ("KZ-DRAIN", 10.0)):
            for h in series(drain_pct_h=drain):
                rows.append(report(serial, h.time, battery_pct=h.battery_pct, charging=h.charging,
                                   accuracy_m=h.accuracy_m, extra={"gsm_signal": 20}))
        store(s, rows)
        health = {h.serial: h for h in fleet_health(s, now=now, window=timedelta(hours=48))}
        assert health["KZ-GOOD"].flags == ()
        assert FlagCode.BATTERY_DRAIN in codes(health["KZ-DRAIN"])
        assert FlagCode.SILENT in codes(health["KZ-MUTE"])
        assert [h.serial for h in fleet_health(s, now=now, window=timedelta(hours=48))][-1] == "KZ-GOOD"
        assert device_health(s, "KZ-GOOD", now=now, window=timedelta(hours=48)).metrics.median_gsm_quality == 0.65
        assert snapshot_fleet_health(s, now=now, window=timedelta(hours=48)) == 3
        assert s.query(DeviceHealthSnapshot).filter_by(faulty=True).count() == 2
        assert {h.serial for h in latest_health(s)} == {"KZ-DRAIN", "KZ-MUTE"}
        assert len(latest_health(s, flagged_only=False)) == 3


def test_a_device_whose_alerts_operators_closed_as_technical_faults_is_suspect(
        sqlite_sessions: sessionmaker[Session]) -> None:
    now = START + timedelta(hours=48)
    with transaction(sqlite_sessions) as s:
        region, u1, _ = organisation(s)
        who = person(s, u1, "S-1")
        stock_device(s, "KZ-1", u1, at=START - timedelta(days=2), firmware="2.1.0")
        fitted(s, "KZ-1", who, START - timedelta(hours=1))
        store(s, [report("KZ-1", h.time, battery_pct=h.battery_pct, charging=h.charging)
                  for h in series(every_s=60)])
        for i, outcome in enumerate(("technical_fault", "false_alarm", "violation_confirmed")):
            s.add(AlertRecord(person_id=who.id, subject_code="S-1", region_id=region.id, device="KZ-1",
                              type="strap_tamper", target_key="", start=START + timedelta(hours=i + 1),
                              raised_at=START + timedelta(hours=i + 1), severity="critical", status="closed",
                              outcome=outcome))
        s.flush()
        health = device_health(s, "KZ-1", now=now, window=timedelta(hours=48))
    assert codes(health) == {FlagCode.FALSE_ALERTS}
    assert health.metrics.alerts_closed_as_fault == 2 and health.faulty


@pytest.mark.parametrize(("extra", "quality"), [
    ({"gsm_signal": 31}, 1.0), ({"gsm_level": 1}, 0.25), ({"io": {"21": 4}}, 0.8),
    ({"cells": [{"mcc": 401, "rssi": -113}]}, 0.0), ({"cells": [{"rssi": -51}]}, 1.0), ({}, None),
    ({"gsm_level": True}, None),
])
def test_cellular_signal_is_read_from_each_protocols_own_field(extra: dict[str, object],
                                                               quality: float | None) -> None:
    assert gsm_quality(extra) == quality
