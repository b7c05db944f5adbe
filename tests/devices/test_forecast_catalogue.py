"""Stock forecast from a built caseload trend, and administration of the device catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kuzet.devices.catalogue import create_type, delete_type, get_type, list_types, parse_procedure, update_type
from kuzet.devices.errors import CatalogueError
from kuzet.devices.forecast import linear_trend, project, stock_forecast
from kuzet.devices.lifecycle import register_device
from kuzet.store.db import transaction
from kuzet.store.models import Assignment, Device, DeviceType, Unit

from .factories import OFFICER, organisation, person, stock_device

NOW = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


def _caseload(s: Session, unit: Unit, prefix: str, fitted_at: list[datetime]) -> None:
    """People of the unit's region wearing a GPS bracelet since the given times (history built directly)."""
    gps = s.query(DeviceType).filter_by(code="gps_bracelet").one()
    for i, when in enumerate(fitted_at):
        who = person(s, unit, f"{prefix}-{i}")
        device = Device(serial=f"{prefix}-D{i}", type_id=gps.id, status="fitted", unit_id=unit.id)
        s.add(device)
        s.flush()
        s.add(Assignment(device_id=device.id, person_id=who.id, fitted_at=when))
    s.flush()


def test_a_growing_region_is_forecast_to_run_short_and_a_flat_one_is_not(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, grow, _ = organisation(s, "GRW")
        _, flat, _ = organisation(s, "FLT")
        # Two new people on EM every week for twelve weeks; ten steady people in the other region.
        _caseload(s, grow, "G", [NOW - timedelta(weeks=11 - i // 2, hours=1) for i in range(24)])
        _caseload(s, flat, "F", [NOW - timedelta(weeks=30)] * 10)
        for i in range(5):
            stock_device(s, f"GS-{i}", grow, at=NOW - timedelta(days=1))
        for i in range(3):
            stock_device(s, f"FS-{i}", flat, at=NOW - timedelta(days=1))
        forecasts = {f.region_code: f for f in stock_forecast(s, now=NOW, weeks=12, horizon_weeks=8)}

    g = forecasts["GRW"]
    assert [n for _, n in g.history] == list(range(2, 25, 2))
    assert g.slope_per_week == pytest.approx(2.0)
    assert (g.fitted_now, g.in_stock, g.projected, g.reserve, g.needed) == (24, 5, 40, 4, 44)
    assert g.shortfall == 15
    assert g.weeks_of_stock == pytest.approx(2.5)
    f = forecasts["FLT"]
    assert (f.projected, f.needed, f.shortfall, f.weeks_of_stock) == (10, 11, 0, None)


def test_trend_arithmetic() -> None:
    assert linear_trend([5, 5, 5]) == (0.0, 5.0)
    assert project([10, 8, 6, 4], horizon_weeks=4).projected == 0  # a falling caseload never goes negative


def test_an_administrator_edits_a_seeded_type_but_cannot_withdraw_or_delete_it(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        gps = get_type(s, "gps_bracelet")
        procedure = dict(gps.procedure, check_interval_h=12,
                         fitting_checklist=[*gps.procedure["fitting_checklist"], "photo of the fitted strap"])
        update_type(s, OFFICER, "gps_bracelet", procedure=procedure, name_en="GPS ankle tag")
        assert get_type(s, "gps_bracelet").procedure["check_interval_h"] == 12
        with pytest.raises(CatalogueError, match="stays approved"):
            update_type(s, OFFICER, "gps_bracelet", active=False)
        with pytest.raises(CatalogueError, match="cannot be deleted"):
            delete_type(s, OFFICER, "home_unit")
        assert len(list_types(s)) == 7


def test_a_new_type_is_validated_approved_and_withdrawn(sqlite_sessions: sessionmaker[Session]) -> None:
    procedure = {"fitting_checklist": ["paired with phone"], "check_interval_h": 24, "charging_rule": "charge daily",
                 "reporting_interval_s": 60, "events": ["battery_low", "sos"], "protocols": ["osmand"]}
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        create_type(s, OFFICER, code="ble_tag", name_ru="BLE-метка", name_kk="BLE белгісі", name_en="BLE tag",
                    procedure=procedure)
        stock_device(s, "BLE-1", u1, type_code="ble_tag")
        update_type(s, OFFICER, "ble_tag", active=False)
        with pytest.raises(Exception, match="not approved"):
            register_device(s, OFFICER, serial="BLE-2", type_code="ble_tag", unit=u1.id)
        with pytest.raises(CatalogueError, match="1 devices are of type ble_tag"):
            delete_type(s, OFFICER, "ble_tag")
    for bad, field in ((dict(procedure, events=["teleport"]), "procedure.events"),
                       (dict(procedure, reporting_interval_s=0), "procedure.reporting_interval_s"),
                       (dict(procedure, fitting_checklist=[]), "procedure.fitting_checklist"),
                       (dict(procedure, protocols=["pigeon"]), "procedure.protocols")):
        with pytest.raises(CatalogueError) as exc:
            parse_procedure(bad)
        assert exc.value.field == field
