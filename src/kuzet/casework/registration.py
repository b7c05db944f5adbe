"""Registration of a person with the probation service, and its two deadlines (DOMAIN.md section 2).

A released person is registered within **three working days** (:mod:`kuzet.casework.workdays`); when they
have not arrived within **two weeks**, a search starts and the court is informed. Reminders are computed from
the registration rows for a given day; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record
from kuzet.auth.principal import Principal
from kuzet.store.models import Person
from kuzet.web.services.people import PersonInput, create_person

from .errors import CaseworkError
from .models import Registration
from .orders import OrderTerms, record_initial_order
from .workdays import add_working_days

REGISTRATION_WORKING_DAYS = 3
NO_SHOW_AFTER = timedelta(weeks=2)


def local_midnight(day: date, timezone: str) -> datetime:
    """The start of ``day`` in the person's time zone, as UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def deadlines(released_on: date) -> tuple[date, date]:
    """(the last day to register, the first day a search may start) for a release on ``released_on``."""
    return add_working_days(released_on, REGISTRATION_WORKING_DAYS), released_on + NO_SHOW_AFTER


def register_person(session: Session, principal: Principal, person: PersonInput, terms: OrderTerms, *,
                    released_on: date, risk_notes: str = "", order_effective_from: datetime | None = None,
                    arrived_on: date | None = None) -> Registration:
    """Register a person: their record (``person`` is a :class:`kuzet.web.services.people.PersonInput`), the
    first version of their court order with its conditions and obligations, and the deadlines. The person's
    record is created by the shared person service, with its scope rules (an officer registers in their unit)."""
    if terms.category != person.category:
        raise CaseworkError(f"the order's category {terms.category!r} differs from the person's "
                            f"{person.category!r}", field="category")
    row = create_person(session, principal, person)
    row.risk_notes = risk_notes
    effective = order_effective_from or local_midnight(terms.start_date or released_on, row.timezone)
    record_initial_order(session, principal.actor, row, terms, effective_from=effective)
    due_on, search_from = deadlines(released_on)
    reg = Registration(person_id=row.id, released_on=released_on, due_on=due_on, search_from=search_from,
                       arrived_on=arrived_on, created_by=principal.user_id)
    session.add(reg)
    session.flush()
    record(session, principal.actor, "create", "registration", reg.id, person_id=row.id, purpose="registration",
           detail={"released_on": released_on.isoformat(), "due_on": due_on.isoformat()})
    return reg


def registration_of(session: Session, person_id: int) -> Registration | None:
    return session.execute(select(Registration).where(Registration.person_id == person_id)).scalar_one_or_none()


def _registration(session: Session, person_id: int) -> Registration:
    reg = registration_of(session, person_id)
    if reg is None:
        raise CaseworkError(f"person {person_id} has no registration record", field="person_id")
    return reg


def record_arrival(session: Session, actor: Actor, person_id: int, arrived_on: date) -> Registration:
    """The person came to the probation office. Arriving after the deadline is recorded, not refused."""
    reg = _registration(session, person_id)
    if arrived_on < reg.released_on:
        raise CaseworkError(f"arrival {arrived_on} is before the release on {reg.released_on}", field="arrived_on")
    if reg.arrived_on is not None:
        raise CaseworkError(f"arrival already recorded on {reg.arrived_on}", field="arrived_on")
    reg.arrived_on = arrived_on
    record(session, actor, "update", "registration", reg.id, person_id=person_id, purpose="registration",
           detail={"arrived_on": arrived_on.isoformat(), "late": arrived_on > reg.due_on})
    return reg


def start_search(session: Session, actor: Actor, person_id: int, on: date) -> Registration:
    """Start a search and inform the court: allowed once the person has not arrived for two weeks."""
    reg = _registration(session, person_id)
    if reg.arrived_on is not None:
        raise CaseworkError(f"the person arrived on {reg.arrived_on}; no search", field="person_id")
    if on < reg.search_from:
        raise CaseworkError(f"a search may start from {reg.search_from} (two weeks after release on "
                            f"{reg.released_on}), not on {on}", field="on")
    reg.search_started_on = on
    reg.court_informed_on = on
    record(session, actor, "update", "registration", reg.id, person_id=person_id, purpose="search",
           detail={"search_started_on": on.isoformat()})
    return reg


@dataclass(frozen=True, slots=True)
class Reminder:
    """Something an officer must do about a registration on a given day."""

    person_id: int
    kind: str  # "register_by", "registration_overdue", "start_search"
    due_on: date

    @property
    def message(self) -> str:
        return {"register_by": f"register by {self.due_on}",
                "registration_overdue": f"registration was due on {self.due_on}",
                "start_search": f"not arrived within two weeks: start a search and inform the court "
                                f"(from {self.due_on})"}[self.kind]


def reminder_for(reg: Registration, today: date) -> Reminder | None:
    if reg.arrived_on is not None or reg.search_started_on is not None:
        return None
    if today >= reg.search_from:
        return Reminder(reg.person_id, "start_search", reg.search_from)
    if today > reg.due_on:
        return Reminder(reg.person_id, "registration_overdue", reg.due_on)
    return Reminder(reg.person_id, "register_by", reg.due_on)


def registration_reminders(session: Session, today: date, person_ids: Sequence[int] | None = None) -> list[Reminder]:
    """Reminders for every person not yet arrived (or only those in ``person_ids``), most urgent first."""
    stmt = select(Registration).where(Registration.arrived_on.is_(None), Registration.search_started_on.is_(None))
    if person_ids is not None:
        stmt = stmt.where(Registration.person_id.in_(list(person_ids)))
    found = [r for r in (reminder_for(reg, today) for reg in session.execute(stmt).scalars()) if r is not None]
    rank = {"start_search": 0, "registration_overdue": 1, "register_by": 2}
    return sorted(found, key=lambda r: (rank[r.kind], r.due_on, r.person_id))


def person_of(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise CaseworkError(f"unknown person {person_id}", field="person_id")
    return person
