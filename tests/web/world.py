"""A small two-region world for the web tests, built through the real schema and services.

Region N (two units) and region S (one unit); one user of every role per region where the role is scoped;
people on two officers' caseloads in N and one person in S; a device on each person; positions; one open
alert per person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from kuzet.auth.service import create_user, issue_api_token
from kuzet.domain.enums import Role
from kuzet.store.models import (
    AlertRecord,
    Assignment,
    CourtOrder,
    Device,
    DeviceReportRecord,
    DeviceType,
    Person,
    Region,
    Unit,
    ZoneRecord,
)

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
ALMATY = (76.9286, 43.2567)
SHYMKENT = (69.5901, 42.3417)


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    zones: dict[str, int] = field(default_factory=dict)
    regions: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


USERS: dict[str, tuple[Role, str | None, str | None]] = {
    # name: (role, region, unit)
    "officer_n1": (Role.OFFICER, "N", "N1"),
    "officer_n1b": (Role.OFFICER, "N", "N1"),
    "officer_s": (Role.OFFICER, "S", "S1"),
    "supervisor_n1": (Role.SUPERVISOR, "N", "N1"),
    "supervisor_n2": (Role.SUPERVISOR, "N", "N2"),
    "operator_n": (Role.OPERATOR, "N", None),
    "operator_s": (Role.OPERATOR, "S", None),
    "admin": (Role.ADMINISTRATOR, None, None),
    "auditor": (Role.AUDITOR, None, None),
    "partner": (Role.PARTNER, None, None),
    "analyst": (Role.ANALYST, None, None),
    "police": (Role.POLICE_LIAISON, "N", None),
}

#: person code: (region, unit, officer, home lon/lat)
PEOPLE: dict[str, tuple[str, str, str, tuple[float, float]]] = {
    "N-A": ("N", "N1", "officer_n1", ALMATY),
    "N-B": ("N", "N1", "officer_n1b", (ALMATY[0] + 0.02, ALMATY[1])),
    "S-A": ("S", "S1", "officer_s", SHYMKENT),
}


def build_world(factory: sessionmaker[Session], *, fixes_per_person: int = 30) -> World:
    w = World()
    with factory() as session, session.begin():
        for code in ("N", "S"):
            region = Region(code=code, name=f"Region {code}", timezone="Asia/Almaty")
            session.add(region)
            session.flush()
            w.regions[code] = region.id
        for code, region_code in (("N1", "N"), ("N2", "N"), ("S1", "S")):
            unit = Unit(region_id=w.regions[region_code], code=code, name=f"Unit {code}")
            session.add(unit)
            session.flush()
            w.units[code] = unit.id
        for name, (role, region_code, unit_code) in USERS.items():
            user = create_user(session, name, PASSWORD, role,
                               region_id=w.regions[region_code] if region_code else None,
                               unit_id=w.units[unit_code] if unit_code else None,
                               partner_id=7 if role is Role.PARTNER else None, locale="en")
            w.user_ids[name] = user.id
            w.tokens[name] = issue_api_token(session, user, name="tests")
        dtype = DeviceType(code="test_bracelet", name_ru="браслет", name_kk="білезік", name_en="bracelet",
                           procedure={})
        session.add(dtype)
        session.flush()
        for i, (code, (region_code, unit_code, officer, home)) in enumerate(PEOPLE.items()):
            person = Person(code=code, surname=f"Surname{code}", given_name="Given", category="parole",
                            region_id=w.regions[region_code], unit_id=w.units[unit_code],
                            officer_id=w.user_ids[officer], home_lon=home[0], home_lat=home[1],
                            timezone="Asia/Almaty", extra={})
            session.add(person)
            session.flush()
            w.people[code] = person.id
            session.add(CourtOrder(person_id=person.id, version=1, category="parole", variation="initial",
                                   effective_from=T0 - timedelta(days=30)))
            zone = ZoneRecord(person_id=person.id, code="home", name="Home", kind="inclusion",
                              shape={"type": "Circle", "coordinates": list(home), "radius_m": 100.0},
                              schedule=[{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                         "start": "22:00", "end": "06:00"}],
                              timezone="Asia/Almaty", grace_s=300.0, extra={})
            session.add(zone)
            session.flush()
            w.zones[code] = zone.id
            device = Device(serial=f"DEV-{code}", type_id=dtype.id, unit_id=w.units[unit_code], status="fitted")
            session.add(device)
            session.flush()
            session.add(Assignment(device_id=device.id, person_id=person.id, fitted_at=T0 - timedelta(days=30)))
            for k in range(fixes_per_person):
                t = T0 + timedelta(minutes=k)
                session.add(DeviceReportRecord(
                    dedup_key=f"DEV-{code}#{k}", device=device.serial, person_id=person.id, seq=k, time=t,
                    received=t, lat=home[1] + 0.0001 * k, lon=home[0] + 0.0001 * k, accuracy_m=8.0 + k % 5,
                    source="gps", battery_pct=90.0, events=[], extra={}))
            alert = AlertRecord(person_id=person.id, subject_code=code, region_id=w.regions[region_code],
                                device=device.serial, type="curfew_absence", target="home", target_key="home",
                                start=T0 + timedelta(minutes=i), raised_at=T0 + timedelta(minutes=i + 5),
                                severity="high", evidence=[], status="new")
            session.add(alert)
            session.flush()
            w.alerts[code] = alert.id
    return w


def add_fix(factory: sessionmaker[Session], person_code: str, person_id: int, seq: int, lon: float, lat: float,
            at: datetime) -> None:
    with factory() as session, session.begin():
        session.add(DeviceReportRecord(
            dedup_key=f"DEV-{person_code}#{seq}", device=f"DEV-{person_code}", person_id=person_id, seq=seq,
            time=at, received=at, lat=lat, lon=lon, accuracy_m=12.0, source="gps", battery_pct=80.0, events=[],
            extra={}))


def add_alert(factory: sessionmaker[Session], person_code: str, person_id: int, region_id: int,
              start: datetime, alert_type: str = "exclusion_entry", severity: str = "critical") -> int:
    with factory() as session, session.begin():
        alert = AlertRecord(person_id=person_id, subject_code=person_code, region_id=region_id,
                            device=f"DEV-{person_code}", type=alert_type, target=None, target_key="",
                            start=start, raised_at=start, severity=severity, evidence=[], status="new")
        session.add(alert)
        session.flush()
        return alert.id
