"""Register a simulated region in the store: regions, units, people, orders, zones, devices, fittings."""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import SYSTEM, record
from kuzet.domain.enums import Category
from kuzet.store.models import (
    Assignment,
    CourtOrder,
    Device,
    DeviceType,
    Person,
    ProtectedPersonRecord,
    Region,
    Unit,
    ZoneRecord,
)

from .world import CITIES, TIMEZONE, SimPerson

SURNAMES = ("Абенов", "Жумабаев", "Серикбаев", "Касымов", "Нурланов", "Ахметов", "Сапаров", "Омаров",
            "Искаков", "Тулегенов", "Бекмуханов", "Ермеков", "Мукашев", "Садыков", "Калиев", "Рахимов")
GIVEN = ("Ерлан", "Данияр", "Асхат", "Нурсултан", "Бауыржан", "Айдос", "Марат", "Ержан", "Алмас", "Руслан",
         "Тимур", "Арман", "Дамир", "Мейрам", "Серик", "Кайрат")
PATRONYMIC = ("Серикович", "Маратович", "Ерланович", "Болатович", "Кайратович", "Нурланович")
COURTS = {
    "Almaty": "Специализированный межрайонный суд по уголовным делам г. Алматы",
    "Astana": "Специализированный межрайонный суд по уголовным делам г. Астаны",
    "Shymkent": "Специализированный межрайонный суд по уголовным делам г. Шымкента",
}
ARTICLES = {
    Category.RESTRICTED_FREEDOM: ("188 ч.2", "190 ч.2", "293 ч.1"),
    Category.SUSPENDED_SENTENCE: ("106 ч.1", "188 ч.2", "296 ч.1"),
    Category.PAROLE: ("188 ч.3", "200 ч.2", "297 ч.1"),
}
REGION_CODES = {"Almaty": "ALA", "Astana": "AST", "Shymkent": "SHY"}
PROTOCOL_TYPES = {"teltonika": "gps_bracelet", "gt06": "gps_bracelet", "osmand": "personal_tracker",
                  "kuzet": "gps_bracelet"}


def seed_regions(session: Session) -> dict[str, tuple[Region, Unit]]:
    """One region per city (each is a city of republican significance), with one probation unit."""
    out: dict[str, tuple[Region, Unit]] = {}
    for city in CITIES:
        code = REGION_CODES[city.name]
        region = session.execute(select(Region).where(Region.code == code)).scalar_one_or_none()
        if region is None:
            region = Region(code=code, name=city.name, timezone=TIMEZONE)
            session.add(region)
            session.flush()
        unit = session.execute(select(Unit).where(Unit.region_id == region.id)).scalars().first()
        if unit is None:
            unit = Unit(region_id=region.id, code=f"{code}-01", name=f"{city.name}: probation service No. 1")
            session.add(unit)
            session.flush()
        out[city.name] = (region, unit)
    return out


def seed_people(session: Session, people: list[SimPerson], regions: dict[str, tuple[Region, Unit]],
                *, officers: dict[str, int] | None = None, fitted_at: datetime) -> dict[str, str]:
    """Register each simulated person with an order, zones, a fitted device and any protected person.

    Returns the device secrets for the Kuzet device protocol, by serial.
    """
    rng = random.Random(len(people))
    types = {t.code: t.id for t in session.execute(select(DeviceType)).scalars()}
    secrets_by_serial: dict[str, str] = {}
    for p in people:
        region, unit = regions[p.city.name]
        person = Person(
            code=p.code, surname=rng.choice(SURNAMES), given_name=rng.choice(GIVEN),
            patronymic=rng.choice(PATRONYMIC), birth_date=date(rng.randint(1970, 2003), rng.randint(1, 12),
                                                               rng.randint(1, 28)),
            address=f"{p.city.name}, ул. {rng.choice(('Абая', 'Сейфуллина', 'Толе би', 'Жибек жолы'))}, "
                    f"{rng.randint(1, 180)}, кв. {rng.randint(1, 120)}",
            home_lat=p.home[1], home_lon=p.home[0], region_id=region.id, unit_id=unit.id,
            officer_id=(officers or {}).get(p.city.name), category=p.category.value, timezone=TIMEZONE,
            communication_timeout_s=1800.0, extra={"city": p.city.name},
        )
        session.add(person)
        session.flush()
        start = (fitted_at - timedelta(days=rng.randint(20, 300))).date()
        curfew = p.curfew[0]
        session.add(CourtOrder(
            person_id=person.id, version=1, category=p.category.value, court=COURTS[p.city.name],
            case_number=f"{rng.randint(1, 9)}{rng.randint(100, 999)}-{start.year % 100}-00-1/{rng.randint(10, 999)}",
            article=rng.choice(ARTICLES[p.category]), start_date=start,
            end_date=start + timedelta(days=365 * rng.randint(1, 3)),
            conditions=[f"be at home from {curfew.start:%H:%M} to {curfew.end:%H:%M}",
                        "do not leave the city without the probation service's consent",
                        "do not visit the places named in the order"],
            obligations=["report to the probation service three times a week",
                         "notify the probation service of any change of address or job"],
            variation="initial", effective_from=fitted_at - timedelta(days=1),
        ))
        for zone in p.zones:
            session.add(ZoneRecord(person_id=person.id, code=zone.id, kind=zone.kind.value,
                                   name="Home" if zone.id == "home" else "Exclusion zone",
                                   shape=zone.shape.to_geojson(),
                                   schedule=None if zone.schedule is None else zone.schedule.to_json(),
                                   timezone=TIMEZONE, grace_s=zone.grace.total_seconds()))
        secret = secrets.token_hex(16) if p.protocol == "kuzet" else ""
        device = Device(serial=p.device, type_id=types[PROTOCOL_TYPES[p.protocol]], protocol=p.protocol,
                        status="fitted", unit_id=unit.id, firmware="1.4.2", secret=secret)
        session.add(device)
        session.flush()
        if secret:
            secrets_by_serial[p.device] = secret
        session.add(Assignment(device_id=device.id, person_id=person.id, fitted_at=fitted_at,
                               note="fitted at registration"))
        if p.victim is not None:
            session.add(ProtectedPersonRecord(person_id=person.id, code=p.victim.id, device_serial=p.victim.device,
                                              distance_m=p.victim.distance_m, grace_s=p.victim.grace.total_seconds(),
                                              name="Protected person"))
            session.add(Device(serial=p.victim.device, type_id=types["protected_person_device"], protocol="osmand",
                               status="issued", unit_id=unit.id))
        record(session, SYSTEM, "register", "person", person.id, person_id=person.id, purpose="demo seed")
    session.flush()
    return secrets_by_serial
