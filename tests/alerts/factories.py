"""Builders for the alert-workflow tests: a region with a monitoring centre, people, users and alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from kuzet.auth.principal import Principal
from kuzet.auth.service import principal_for
from kuzet.domain.enums import Role
from kuzet.store.models import (
    AlertRecord,
    Assignment,
    Device,
    DeviceType,
    Person,
    ProtectedPersonRecord,
    Region,
    Unit,
    User,
    ZoneRecord,
)

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)  # Monday 22:00 in Almaty
HOME = (76.8897, 43.2389)


@dataclass
class Centre:
    region: Region
    unit: Unit
    users: dict[str, User] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)

    def principal(self, name: str) -> Principal:
        return principal_for(self.users[name])


def user(session: Session, username: str, role: Role, region: Region | None, unit: Unit | None = None, *,
         email: str = "", phone: str = "") -> User:
    # Built directly: password hashing is not what these tests are about.
    row = User(username=username, full_name=username.title(), role=role.value,
               region_id=region.id if region else None, unit_id=unit.id if unit else None, email=email,
               phone=phone, locale="en", timezone="Asia/Almaty", password_hash="")
    session.add(row)
    session.flush()
    return row


def centre(session: Session, code: str = "ALA") -> Centre:
    region = Region(code=code, name=f"Region {code}", timezone="Asia/Almaty")
    session.add(region)
    session.flush()
    unit = Unit(region_id=region.id, code=f"{code}-1", name="District 1")
    session.add(unit)
    session.flush()
    c = Centre(region, unit)
    c.users["operator"] = user(session, f"{code.lower()}.operator", Role.OPERATOR, region,
                               email=f"operator@{code.lower()}.kz")
    c.users["operator2"] = user(session, f"{code.lower()}.operator2", Role.OPERATOR, region)
    c.users["supervisor"] = user(session, f"{code.lower()}.supervisor", Role.SUPERVISOR, region, unit,
                                 email=f"supervisor@{code.lower()}.kz", phone="+77010000001")
    c.users["chief"] = user(session, f"{code.lower()}.chief", Role.SUPERVISOR, region,
                            email=f"chief@{code.lower()}.kz")
    c.users["officer"] = user(session, f"{code.lower()}.officer", Role.OFFICER, region, unit)
    c.users["auditor"] = user(session, f"{code.lower()}.auditor", Role.AUDITOR, None)
    return c


def person(session: Session, c: Centre, code: str, *, protected_phone: str = "", serial: str | None = None,
           curfew: bool = True) -> Person:
    row = Person(code=code, surname=f"Surname{code}", given_name="Given", category="restricted_freedom",
                 region_id=c.region.id, unit_id=c.unit.id, officer_id=c.users["officer"].id,
                 timezone="Asia/Almaty", extra={})
    session.add(row)
    session.flush()
    session.add(ZoneRecord(person_id=row.id, code="home", kind="inclusion",
                           shape={"type": "Circle", "coordinates": list(HOME), "radius_m": 60.0},
                           schedule=[{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "22:00",
                                      "end": "06:00"}] if curfew else None,
                           timezone="Asia/Almaty", grace_s=300.0, extra={}))
    session.add(ZoneRecord(person_id=row.id, code="school", kind="exclusion",
                           shape={"type": "Circle", "coordinates": [76.95, 43.25], "radius_m": 100.0},
                           schedule=None, timezone="Asia/Almaty", grace_s=60.0, extra={}))
    if protected_phone:
        session.add(ProtectedPersonRecord(person_id=row.id, code="P-1", device_serial=f"PP-{code}",
                                          distance_m=500.0, grace_s=60.0, phone=protected_phone))
    dtype = session.query(DeviceType).filter_by(code="gps_bracelet").one()
    device = Device(serial=serial or f"DEV-{code}", type_id=dtype.id, unit_id=c.unit.id, status="fitted")
    session.add(device)
    session.flush()
    session.add(Assignment(device_id=device.id, person_id=row.id, fitted_at=T0 - timedelta(days=10)))
    session.flush()
    c.people[code] = row
    return row


def alert(session: Session, p: Person, *, type: str = "curfew_absence", severity: str = "high",
          start: datetime = T0, raised_at: datetime | None = None, target: str | None = "home") -> AlertRecord:
    row = AlertRecord(person_id=p.id, subject_code=p.code, region_id=p.region_id, device=f"DEV-{p.code}",
                      type=type, target=target, target_key=target or "", start=start,
                      raised_at=raised_at or start + timedelta(minutes=5), severity=severity, evidence=[1, 2],
                      status="new")
    session.add(row)
    session.flush()
    return row
