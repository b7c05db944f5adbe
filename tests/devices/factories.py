"""Data builders for the device-fleet tests: organisation, people, devices and report series."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from kuzet.audit import Actor
from kuzet.devices.lifecycle import FittingForm, fit_device, register_device
from kuzet.devices.models import FittingRecord
from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import DeviceReport
from kuzet.store.models import DeviceReportRecord, DeviceType, Person, Region, Unit
from kuzet.store.reports import report_to_record, store_reports

OFFICER = Actor(None, "a.officer", "officer")
ALMATY_HOME = (43.2389, 76.8897)
OTHER_HOME = (43.2600, 76.9300)


def organisation(session: Session, code: str = "ALA") -> tuple[Region, Unit, Unit]:
    region = Region(code=code, name=f"{code} region", timezone="Asia/Almaty")
    session.add(region)
    session.flush()
    first = Unit(region_id=region.id, code=f"{code}-01", name="District 1")
    second = Unit(region_id=region.id, code=f"{code}-02", name="District 2")
    session.add_all([first, second])
    session.flush()
    return region, first, second


def person(session: Session, unit: Unit, code: str, home: tuple[float, float] | None = ALMATY_HOME,
           **extra: Any) -> Person:
    row = Person(code=code, surname=f"Surname {code}", given_name="Given", category="parole",
                 region_id=unit.region_id, unit_id=unit.id,
                 home_lat=home[0] if home else None, home_lon=home[1] if home else None, **extra)
    session.add(row)
    session.flush()
    return row


def checklist_of(session: Session, type_code: str) -> dict[str, bool]:
    dtype = session.query(DeviceType).filter_by(code=type_code).one()
    return dict.fromkeys(dtype.procedure["fitting_checklist"], True)


def report(serial: str, time: datetime, *, lat: float | None = ALMATY_HOME[0], lon: float | None = ALMATY_HOME[1],
           accuracy_m: float | None = 8.0, source: str = "gps", battery_pct: float | None = 90.0,
           charging: bool | None = False, strap: str | None = "closed", case: str | None = "closed",
           events: Iterable[str] = (), satellites: int | None = 9, received: datetime | None = None,
           person_id: int | None = None, seq: int | None = None,
           extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One device report as the store keeps it (``lat=None`` makes a report without a fix)."""
    fix = lat is not None and lon is not None
    device_report = DeviceReport(
        device=serial, time=time, received=received or time, seq=seq, lat=lat if fix else None,
        lon=lon if fix else None, accuracy_m=accuracy_m if fix else None,
        source=Source(source) if fix else Source.NONE, satellites=satellites if fix else 0,
        battery_pct=battery_pct, charging=charging, strap=Closure(strap) if strap else None,
        case=Closure(case) if case else None, events=tuple(events), extra=extra or {})
    return report_to_record(device_report, person_id, protocol="kuzet")


def store(session: Session, rows: list[dict[str, Any]]) -> int:
    return store_reports(session, rows)


def last_report_id(session: Session, serial: str) -> int:
    return session.query(DeviceReportRecord.id).filter_by(device=serial).order_by(
        DeviceReportRecord.time.desc()).limit(1).scalar()


def stock_device(session: Session, serial: str, unit: Unit, type_code: str = "gps_bracelet",
                 at: datetime | None = None, firmware: str = "1.4.2") -> None:
    register_device(session, OFFICER, serial=serial, type_code=type_code, unit=unit.id, firmware=firmware, at=at)


def fitted(session: Session, serial: str, who: Person, at: datetime, *, type_code: str = "gps_bracelet",
           home: tuple[float, float] = ALMATY_HOME) -> FittingRecord:
    """Send a working test report at ``at - 2 min`` and fit the device (already in stock) at ``at``."""
    store(session, [report(serial, at - timedelta(minutes=2), lat=home[0], lon=home[1])])
    return fit_device(session, OFFICER, serial=serial, person_id=who.id, at=at,
                      form=FittingForm(checklist=checklist_of(session, type_code), officer_name="A. Officer",
                                       wearer_acknowledged=True, place="District 1 office"))
