"""Builders for the casework tests: an organisation with an officer, and people registered through the
real registration service (person, first order version, deadlines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from kuzet.auth.principal import Principal
from kuzet.auth.service import principal_for
from kuzet.casework.models import Partner, Registration
from kuzet.casework.orders import OrderTerms
from kuzet.casework.programme import create_partner
from kuzet.casework.registration import register_person
from kuzet.domain.enums import Role
from kuzet.store.models import Person, Region, Unit, User
from kuzet.web.services.people import PersonInput

PASSWORD = "correct horse battery"


@dataclass
class Office:
    region: Region
    unit: Unit
    officer: Principal
    supervisor: Principal


def office(session: Session, code: str = "ALA") -> Office:
    region = Region(code=code, name=f"{code} region", timezone="Asia/Almaty")
    session.add(region)
    session.flush()
    unit = Unit(region_id=region.id, code=f"{code}-01", name="Almaly district probation service")
    session.add(unit)
    session.flush()
    # Users who never sign in here: rows without a password (hashing one costs a quarter of a second).
    officer = User(username=f"officer_{code.lower()}", role=Role.OFFICER.value, region_id=region.id,
                   unit_id=unit.id, full_name="Aigerim Sadykova")
    supervisor = User(username=f"supervisor_{code.lower()}", role=Role.SUPERVISOR.value, region_id=region.id,
                      unit_id=unit.id)
    session.add_all([officer, supervisor])
    session.flush()
    return Office(region, unit, principal_for(officer), principal_for(supervisor))


def register(session: Session, where: Office, code: str, *, category: str = "suspended_sentence",
             released_on: date = date(2026, 3, 2), start: date | None = None, end: date | None = date(2027, 3, 1),
             effective_from: datetime | None = None, conditions: tuple[str, ...] = ("be home 22:00-06:00",),
             obligations: tuple[str, ...] = ("report to the probation office on Mondays",)) -> tuple[Person,
                                                                                                      Registration]:
    reg = register_person(
        session, where.officer,
        PersonInput(code=code, category=category, unit_id=where.unit.id, surname="Нұрланов", given_name="Ерлан",
                    patronymic="Серікұлы", iin="900101300123", birth_date=date(1990, 1, 1),
                    address="Алматы, Абай даңғылы 10"),
        OrderTerms(category=category, court="Алматы қаласының Алмалы аудандық соты", case_number="2-1234/2026",
                   article="188 ч.2", start_date=start or released_on, end_date=end, conditions=conditions,
                   obligations=obligations),
        released_on=released_on, risk_notes="alcohol", order_effective_from=effective_from)
    person = session.get(Person, reg.person_id)
    assert person is not None
    return person, reg


def ngo(session: Session, where: Office, name: str = "«Жол» қоғамдық бірлестігі",
        services: tuple[str, ...] = ("employment", "documents", "psychological")) -> Partner:
    return create_partner(session, where.officer.actor, "ngo", name, region_id=where.region.id, services=services)


def akimat(session: Session, where: Office, name: str = "Алматы қаласының әкімдігі") -> Partner:
    return create_partner(session, where.officer.actor, "akimat", name, region_id=where.region.id,
                          services=("employment",))


def at(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)
