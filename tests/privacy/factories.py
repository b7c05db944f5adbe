"""Builders for the privacy tests: people with fitted devices and trails placed in metres from a scene."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.domain.geometry import LocalProjection
from kuzet.privacy.index import index_positions
from kuzet.store.models import Assignment, Device, DeviceReportRecord, DeviceType, Person, Region, Unit
from kuzet.store.reports import store_reports

SCENE = (76.8897, 43.2389)  # lon, lat: central Almaty
PROJ = LocalProjection.about(SCENE)


def east_of_scene(metres: float, north: float = 0.0) -> tuple[float, float]:
    """(lat, lon) of the point ``metres`` east (and ``north`` north) of the scene, in the matcher's plane."""
    lon, lat = PROJ.inverse(metres, north)
    return lat, lon


@dataclass
class Wearer:
    person: Person
    device: str


def organisation(session: Session) -> Unit:
    region = Region(code="ALA", name="Almaty", timezone="Asia/Almaty")
    session.add(region)
    session.flush()
    unit = Unit(region_id=region.id, code="ALA-01", name="District 1")
    session.add(unit)
    session.flush()
    return unit


def wearer(session: Session, unit: Unit, code: str, fitted_at: datetime, **extra: Any) -> Wearer:
    person = Person(code=code, surname=f"Surname {code}", given_name="Given", category="parole",
                    region_id=unit.region_id, unit_id=unit.id, **extra)
    session.add(person)
    session.flush()
    dtype = session.execute(select(DeviceType).order_by(DeviceType.id)).scalars().first()
    assert dtype is not None
    device = Device(serial=f"D-{code}", type_id=dtype.id, unit_id=unit.id, status="fitted")
    session.add(device)
    session.flush()
    session.add(Assignment(device_id=device.id, person_id=person.id, fitted_at=fitted_at))
    session.flush()
    return Wearer(person, device.serial)


def fix(w: Wearer, time: datetime, lat: float, lon: float, accuracy_m: float | None = 8.0) -> dict[str, Any]:
    return {"dedup_key": f"{w.device}@{time.isoformat()}", "device": w.device, "person_id": w.person.id,
            "seq": None, "time": time, "received": time, "lat": lat, "lon": lon, "accuracy_m": accuracy_m,
            "source": "gps" if lat is not None else "none", "satellites": 9, "speed_kmh": None,
            "heading_deg": None, "altitude_m": None, "battery_pct": 80.0, "charging": False, "strap": "closed",
            "case": "closed", "events": [], "extra": {}, "protocol": "kuzet", "raw": None, "line": None}


def store_and_index(session: Session, rows: list[dict[str, Any]]) -> int:
    """What the pipeline does: store the reports, then index them in the same transaction."""
    store_reports(session, rows)
    return index_positions(session, rows)


def report_count(session: Session) -> int:
    return len(session.execute(select(DeviceReportRecord.id)).all())
