"""Wrong-device detection: a fitted device's first reports must come from the person's home."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import verify
from kuzet.devices.addresscheck import (
    AddressVerdict,
    check_fitting_address,
    check_pending_fittings,
    fitting_mismatches,
)
from kuzet.store.db import transaction
from kuzet.store.models import AuditEntry

from .factories import ALMATY_HOME, OTHER_HOME, fitted, organisation, person, report, stock_device, store

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _evening_at(serial: str, where: tuple[float, float], start: datetime, hours: int = 8) -> list[dict]:
    """A fix every 10 minutes for ``hours`` hours, a few metres of GPS noise around ``where``."""
    return [report(serial, start + timedelta(minutes=10 * i), lat=where[0] + 0.00005 * (i % 3),
                   lon=where[1] - 0.00005 * (i % 2), accuracy_m=12.0) for i in range(hours * 6)]


def test_swapped_devices_are_flagged_with_the_other_persons_home(sessions: sessionmaker[Session]) -> None:
    """KZ-A is recorded on Aliya but worn by Bolat, and the other way round: both fittings are flagged."""
    with transaction(sessions) as s:
        _, u1, _ = organisation(s)
        aliya = person(s, u1, "S-ALIYA", home=ALMATY_HOME)
        bolat = person(s, u1, "S-BOLAT", home=OTHER_HOME)
        for serial in ("KZ-A", "KZ-B"):
            stock_device(s, serial, u1, at=T0 - timedelta(days=1))
        # Both fitted at the office (the test reports come from the office, which proves nothing about homes).
        office = (43.2500, 76.9000)
        fa = fitted(s, "KZ-A", aliya, T0, home=office)
        fb = fitted(s, "KZ-B", bolat, T0 + timedelta(minutes=20), home=office)
        store(s, _evening_at("KZ-A", OTHER_HOME, T0 + timedelta(hours=3)))
        store(s, _evening_at("KZ-B", ALMATY_HOME, T0 + timedelta(hours=3)))
        checks = check_pending_fittings(s, now=T0 + timedelta(hours=12))
        assert [c.verdict for c in checks] == [AddressVerdict.MISMATCH, AddressVerdict.MISMATCH]
        assert checks[0].matches_other_homes == ("S-BOLAT",)
        assert checks[1].matches_other_homes == ("S-ALIYA",)
        assert {f.id for f in fitting_mismatches(s)} == {fa.id, fb.id}
        assert s.query(AuditEntry).filter_by(action="device.address_check").count() == 2
        assert verify(s).ok


def test_a_device_reporting_from_home_is_confirmed_and_a_day_out_is_still_pending(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-1")
        stock_device(s, "KZ-1", u1, at=T0 - timedelta(days=1))
        fitting = fitted(s, "KZ-1", p, T0, home=(43.2500, 76.9000))
        # At work all afternoon (far from home): not yet evidence of a wrong device.
        store(s, [report("KZ-1", T0 + timedelta(minutes=10 * i), lat=43.30, lon=76.95) for i in range(1, 18)])
        assert check_fitting_address(s, fitting, now=T0 + timedelta(hours=3)).verdict is AddressVerdict.PENDING
        store(s, _evening_at("KZ-1", ALMATY_HOME, T0 + timedelta(hours=8), hours=1))
        check = check_fitting_address(s, fitting, now=T0 + timedelta(hours=10))
        assert check.verdict is AddressVerdict.CONFIRMED
        assert fitting.address_check == "confirmed"


def test_coarse_fixes_never_decide_and_no_home_address_is_said_so(sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-1")
        homeless = person(s, u1, "S-2", home=None)
        stock_device(s, "KZ-1", u1, at=T0 - timedelta(days=1))
        stock_device(s, "KZ-2", u1, at=T0 - timedelta(days=1))
        fitting = fitted(s, "KZ-1", p, T0)
        store(s, [report("KZ-1", T0 + timedelta(minutes=10 * i), lat=43.30, lon=76.95, accuracy_m=900.0,
                         source="cell") for i in range(1, 60)])
        assert check_fitting_address(s, fitting, now=T0 + timedelta(days=3)).verdict is AddressVerdict.PENDING
        other = fitted(s, "KZ-2", homeless, T0)
        assert other.address_check == "no_home_address"
