"""People, court orders (versioned), zones and schedules: scoped reads and validated changes, all audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, NotVisible, can_change_plans, check_person_access, people_scope
from kuzet.audit import record
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Category, Role
from kuzet.domain.errors import DomainError
from kuzet.domain.plan import Zone
from kuzet.domain.schedules import Schedule, zone
from kuzet.store.models import CourtOrder, Person, Unit, User, ZoneRecord

DEFAULT_PURPOSE = "case supervision"


def list_people(session: Session, principal: Principal, *, purpose: str = DEFAULT_PURPOSE,
                search: str | None = None, limit: int = 500) -> Sequence[Person]:
    """People in the caller's scope (an officer: their caseload), audited as one list read."""
    if principal.role not in (Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR):
        raise AccessDenied(f"role {principal.role.value} may not list people")
    stmt = select(Person).where(people_scope(principal))
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.where(Person.code.ilike(like) | Person.surname.ilike(like) | Person.given_name.ilike(like))
    people = list(session.execute(stmt.order_by(Person.surname, Person.code).limit(limit)).scalars())
    record_read(session, principal.actor, "person_list", "", purpose=purpose,
                detail={"people": [p.id for p in people][:500]})
    return people


def get_person(session: Session, principal: Principal, person_id: int, *,
               purpose: str = DEFAULT_PURPOSE) -> Person:
    person = check_person_access(session, principal, person_id)
    record_read(session, principal.actor, "person", person.id, person_id=person.id, purpose=purpose)
    return person


@dataclass(frozen=True, slots=True)
class PersonInput:
    code: str
    category: str
    unit_id: int
    surname: str = ""
    given_name: str = ""
    patronymic: str = ""
    birth_date: date | None = None
    iin: str = ""
    phone: str = ""
    address: str = ""
    home_lat: float | None = None
    home_lon: float | None = None
    officer_id: int | None = None
    timezone: str = "Asia/Almaty"


def _check_person_input(session: Session, principal: Principal, data: PersonInput) -> Unit:
    try:
        Category(data.category)
    except ValueError:
        raise DomainError(f"unknown category {data.category!r} (restricted_freedom, suspended_sentence or "
                          "parole)", field="category") from None
    if data.iin and (len(data.iin) != 12 or not data.iin.isdigit()):
        raise DomainError("an IIN is 12 digits", field="iin")
    zone(data.timezone)
    if (data.home_lat is None) != (data.home_lon is None):
        raise DomainError("give both home latitude and longitude, or neither", field="home_lat")
    if data.home_lat is not None and not (-90 <= data.home_lat <= 90):
        raise DomainError("latitude out of range", field="home_lat")
    if data.home_lon is not None and not (-180 <= data.home_lon <= 180):
        raise DomainError("longitude out of range", field="home_lon")
    unit = session.get(Unit, data.unit_id)
    if unit is None:
        raise DomainError(f"unknown unit {data.unit_id}", field="unit_id")
    if principal.role is not Role.ADMINISTRATOR:
        if principal.role is Role.OFFICER and unit.id != principal.unit_id:
            raise AccessDenied("an officer registers people in their own unit only")
        if principal.region_id is not None and unit.region_id != principal.region_id:
            raise AccessDenied("the unit is outside your region")
        if principal.role is Role.SUPERVISOR and principal.unit_id is not None and unit.id != principal.unit_id:
            raise AccessDenied("the unit is outside your scope")
    if data.officer_id is not None:
        officer = session.get(User, data.officer_id)
        if officer is None or officer.role != Role.OFFICER.value or officer.unit_id != unit.id:
            raise DomainError(f"user {data.officer_id} is not an officer of unit {unit.id}", field="officer_id")
    return unit


def create_person(session: Session, principal: Principal, data: PersonInput) -> Person:
    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not register people")
    unit = _check_person_input(session, principal, data)
    if not data.code.strip():
        raise DomainError("must not be empty", field="code")
    if session.execute(select(Person.id).where(Person.code == data.code)).first():
        raise DomainError(f"a person with code {data.code!r} already exists", field="code")
    officer_id = data.officer_id
    if officer_id is None and principal.role is Role.OFFICER:
        officer_id = principal.user_id
    person = Person(code=data.code.strip(), category=data.category, surname=data.surname,
                    given_name=data.given_name, patronymic=data.patronymic, birth_date=data.birth_date,
                    iin=data.iin, phone=data.phone, address=data.address, home_lat=data.home_lat,
                    home_lon=data.home_lon, region_id=unit.region_id, unit_id=unit.id, officer_id=officer_id,
                    timezone=data.timezone, extra={})
    session.add(person)
    session.flush()
    record(session, principal.actor, "create", "person", person.id, person_id=person.id,
           purpose="registration", detail={"code": person.code})
    return person


UPDATABLE_PERSON_FIELDS = ("surname", "given_name", "patronymic", "birth_date", "iin", "phone", "address",
                           "home_lat", "home_lon", "officer_id", "status")


def update_person(session: Session, principal: Principal, person_id: int, changes: dict[str, Any]) -> Person:
    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not change people's records")
    person = check_person_access(session, principal, person_id)
    unknown = set(changes) - set(UPDATABLE_PERSON_FIELDS)
    if unknown:
        raise DomainError(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    merged = PersonInput(code=person.code, category=person.category, unit_id=person.unit_id,
                         **{k: changes.get(k, getattr(person, k)) for k in UPDATABLE_PERSON_FIELDS
                            if k != "status"}, timezone=person.timezone)
    _check_person_input(session, principal, merged)
    if "status" in changes and changes["status"] not in ("active", "suspended", "ended"):
        raise DomainError("status is active, suspended or ended", field="status")
    for k, v in changes.items():
        setattr(person, k, v)
    record(session, principal.actor, "update", "person", person.id, person_id=person.id, purpose="case change",
           detail={"fields": sorted(changes)})
    return person


# -- orders ------------------------------------------------------------------------------------------------
def list_orders(session: Session, principal: Principal, person_id: int, *,
                purpose: str = DEFAULT_PURPOSE) -> Sequence[CourtOrder]:
    person = check_person_access(session, principal, person_id)
    record_read(session, principal.actor, "court_order", "", person_id=person.id, purpose=purpose)
    return list(person.orders)


def current_order(person: Person) -> CourtOrder | None:
    return person.orders[-1] if person.orders else None


@dataclass(frozen=True, slots=True)
class OrderInput:
    category: str
    variation: str = "initial"
    court: str = ""
    case_number: str = ""
    article: str = ""
    start_date: date | None = None
    end_date: date | None = None
    conditions: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()
    effective_from: datetime | None = None


def add_order_version(session: Session, principal: Principal, person_id: int, data: OrderInput) -> CourtOrder:
    """Record a new version of the person's court order (a variation never overwrites the previous one).

    One code path with casework: the first version is :func:`kuzet.casework.orders.record_initial_order`,
    every later one :func:`kuzet.casework.orders.vary_order` (which refuses a version taking effect before the
    one it follows). The body is the whole new version: its court, dates, conditions and obligations replace
    the previous version's; the category stays the order's.
    """
    # casework registers people through this module, so its order service is imported here, not at the top
    from kuzet.casework import orders
    from kuzet.casework.vocabulary import Variation

    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not record court orders")
    person = check_person_access(session, principal, person_id)
    try:
        Category(data.category)
    except ValueError:
        raise DomainError(f"unknown category {data.category!r}", field="category") from None
    if data.start_date and data.end_date and data.end_date < data.start_date:
        raise DomainError("the order ends before it starts", field="end_date")
    variation = data.variation.strip()
    if not variation:
        raise DomainError("name what this version changes", field="variation")
    eff = data.effective_from or datetime.now(UTC)
    if eff.tzinfo is None:
        raise DomainError("must carry a time zone", field="effective_from")
    previous = orders.latest_version(session, person.id)
    if previous is None:
        if variation != Variation.INITIAL.value:
            raise DomainError(f"person {person.code} has no court order yet: record the initial order "
                              f"(variation {Variation.INITIAL.value!r}) first", field="variation")
        order = orders.record_initial_order(session, principal.actor, person, orders.OrderTerms(
            category=data.category, court=data.court, case_number=data.case_number, article=data.article,
            start_date=data.start_date, end_date=data.end_date, conditions=data.conditions,
            obligations=data.obligations), effective_from=eff)
    else:
        if data.category != previous.category:
            raise DomainError(f"a variation keeps the order's category ({previous.category}); a new sentence "
                              "is a new registration", field="category")
        order = orders.vary_order(session, principal.actor, person.id, variation, effective_from=eff, changes={
            "court": data.court, "case_number": data.case_number, "article": data.article,
            "start_date": data.start_date, "end_date": data.end_date, "conditions": list(data.conditions),
            "obligations": list(data.obligations)})
    session.refresh(person)
    return order


# -- zones and schedules -------------------------------------------------------------------------------------
def list_zones(session: Session, principal: Principal, person_id: int, *, include_inactive: bool = False,
               purpose: str = DEFAULT_PURPOSE) -> Sequence[ZoneRecord]:
    person = check_person_access(session, principal, person_id)
    record_read(session, principal.actor, "zone", "", person_id=person.id, purpose=purpose)
    return [z for z in person.zones if include_inactive or z.active]


@dataclass(frozen=True, slots=True)
class ZoneInput:
    code: str
    kind: str
    shape: dict[str, Any]
    schedule: list[Any] | None = None
    grace_s: float | None = None
    name: str = ""


def validate_zone(data: ZoneInput, timezone: str) -> Zone:
    """The domain's own validation: shape, kind, schedule windows and grace, with the field that is wrong."""
    raw: dict[str, Any] = {"id": data.code, "kind": data.kind, "shape": data.shape, "schedule": data.schedule}
    if data.grace_s is not None:
        raw["grace_s"] = data.grace_s
    try:
        return Zone.from_json(raw, timezone)
    except DomainError:
        raise
    except (TypeError, ValueError, ArithmeticError) as exc:  # geometry libraries' own refusals
        raise DomainError(f"invalid zone: {exc}", field="shape") from None


def validate_schedule(windows: list[Any] | None, timezone: str) -> Schedule | None:
    return None if windows is None else Schedule.from_json(windows, timezone)


def _zone(session: Session, person: Person, zone_id: int) -> ZoneRecord:
    row = session.get(ZoneRecord, zone_id)
    if row is None or row.person_id != person.id:
        raise NotVisible(f"zone {zone_id} not found")
    return row


def create_zone(session: Session, principal: Principal, person_id: int, data: ZoneInput) -> ZoneRecord:
    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not change zones")
    person = check_person_access(session, principal, person_id)
    valid = validate_zone(data, person.timezone)
    if session.execute(select(ZoneRecord.id).where(ZoneRecord.person_id == person.id,
                                                   ZoneRecord.code == data.code)).first():
        raise DomainError(f"zone {data.code!r} already exists for this person", field="code")
    row = ZoneRecord(person_id=person.id, code=valid.id, name=data.name[:200], kind=valid.kind.value,
                     shape=valid.shape.to_geojson(),
                     schedule=None if valid.schedule is None else valid.schedule.to_json(),
                     timezone=person.timezone, grace_s=valid.grace.total_seconds(), active=True, extra={})
    session.add(row)
    session.flush()
    session.refresh(person)
    record(session, principal.actor, "create", "zone", row.id, person_id=person.id, purpose="plan change",
           detail={"code": row.code, "kind": row.kind, "shape": row.shape, "schedule": row.schedule})
    return row


def update_zone(session: Session, principal: Principal, person_id: int, zone_id: int,
                data: ZoneInput) -> ZoneRecord:
    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not change zones")
    person = check_person_access(session, principal, person_id)
    row = _zone(session, person, zone_id)
    valid = validate_zone(ZoneInput(row.code, data.kind, data.shape, data.schedule, data.grace_s, data.name),
                          person.timezone)
    before = {"kind": row.kind, "shape": row.shape, "schedule": row.schedule, "grace_s": row.grace_s}
    row.kind = valid.kind.value
    row.shape = valid.shape.to_geojson()
    row.schedule = None if valid.schedule is None else valid.schedule.to_json()
    row.grace_s = valid.grace.total_seconds()
    row.name = data.name[:200] or row.name
    record(session, principal.actor, "update", "zone", row.id, person_id=person.id, purpose="plan change",
           detail={"code": row.code, "before": before,
                   "after": {"kind": row.kind, "shape": row.shape, "schedule": row.schedule,
                             "grace_s": row.grace_s}})
    return row


def set_zone_schedule(session: Session, principal: Principal, person_id: int, zone_id: int,
                      schedule: list[Any] | None) -> ZoneRecord:
    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not change schedules")
    person = check_person_access(session, principal, person_id)
    row = _zone(session, person, zone_id)
    return update_zone(session, principal, person.id, row.id,
                       ZoneInput(row.code, row.kind, row.shape, schedule, row.grace_s, row.name))


def deactivate_zone(session: Session, principal: Principal, person_id: int, zone_id: int) -> ZoneRecord:
    """Zones are never deleted (old alerts must stay explainable); they are switched off."""
    if not can_change_plans(principal):
        raise AccessDenied(f"role {principal.role.value} may not change zones")
    person = check_person_access(session, principal, person_id)
    row = _zone(session, person, zone_id)
    row.active = False
    record(session, principal.actor, "deactivate", "zone", row.id, person_id=person.id, purpose="plan change",
           detail={"code": row.code})
    return row
