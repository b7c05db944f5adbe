"""Authorised absences: a time-limited exception (hospital, court, a work shift) granted by an officer.

An absence lifts the person's *inclusion* zones (curfew, home) for its interval: the plan builder
(:func:`kuzet.exchange.store_io.plan_for_people`) adds it to those zones' schedules as a
:class:`~kuzet.domain.schedules.ScheduleException` of kind ``absence``, so the engine evaluates exactly the
rule in force. Exclusion zones and protected-person distances are never lifted by an absence. Every grant
and revocation is in the audit trail; a revoked absence is kept (with who revoked it and when), never deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.access import AccessDenied, NotVisible, check_person_access
from kuzet.audit import record
from kuzet.auth.principal import Principal
from kuzet.domain.enums import ZoneKind
from kuzet.domain.errors import DomainError
from kuzet.domain.plan import Zone
from kuzet.domain.schedules import ExceptionKind, Schedule, ScheduleException, WeeklyWindow
from kuzet.store.models import Person

from .models import AuthorisedAbsence
from .vocabulary import ABSENCE_ROLES, AbsenceReason

#: The longest absence one grant may cover; longer ones are a change of the order, for the court.
MAX_ABSENCE = timedelta(days=31)
_WHOLE_WEEK = WeeklyWindow(frozenset(range(7)), datetime.min.time(), datetime.min.time())


def absences_for(session: Session, person_id: int) -> list[ScheduleException]:
    """The person's authorised absences in force (not revoked), as schedule exceptions, by start."""
    rows = session.execute(select(AuthorisedAbsence).where(AuthorisedAbsence.person_id == person_id,
                                                           AuthorisedAbsence.revoked_at.is_(None))
                           .order_by(AuthorisedAbsence.start, AuthorisedAbsence.id)).scalars()
    return [ScheduleException(r.start, r.end, ExceptionKind.ABSENCE, f"{r.reason}#{r.id}") for r in rows]


def absences_fingerprint(session: Session) -> list[tuple[object, ...]]:
    """What the plan takes from absences, for a plan fingerprint: changes on every grant and revocation
    (the live monitor refreshes its plan when its fingerprint changes)."""
    return [tuple(row) for row in session.execute(
        select(AuthorisedAbsence.id, AuthorisedAbsence.person_id, AuthorisedAbsence.start, AuthorisedAbsence.end,
               AuthorisedAbsence.revoked_at).order_by(AuthorisedAbsence.id)).all()]


def with_absences(zones: Iterable[Zone], absences: Sequence[ScheduleException]) -> tuple[Zone, ...]:
    """The zones with ``absences`` lifting every inclusion zone (an always-on one gets an all-week schedule)."""
    out = []
    for z in zones:
        if not absences or z.kind is not ZoneKind.INCLUSION:
            out.append(z)
            continue
        # An always-active zone becomes "every day, all day" so that it can carry exceptions.
        base = z.schedule or Schedule((_WHOLE_WEEK,), "UTC")
        out.append(Zone(z.id, z.kind, z.shape, base.with_exceptions(absences), z.grace, z.extra))
    return tuple(out)


def grant_absence(session: Session, principal: Principal, person_id: int, start: datetime, end: datetime,
                  reason: str, note: str = "", *, now: datetime | None = None) -> AuthorisedAbsence:
    """Grant an absence (officer of the person, their supervisor, or an administrator)."""
    if principal.role not in ABSENCE_ROLES:
        raise AccessDenied(f"role {principal.role.value} may not grant an absence")
    person: Person = check_person_access(session, principal, person_id)
    try:
        kind = AbsenceReason(reason)
    except ValueError:
        raise DomainError(f"unknown reason {reason!r} ({', '.join(r.value for r in AbsenceReason)})",
                          field="reason") from None
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError("start and end must carry a time zone", field="start")
    if end <= start:
        raise DomainError("an absence must end after it starts", field="end")
    if end - start > MAX_ABSENCE:
        raise DomainError(f"an absence may last at most {MAX_ABSENCE.days} days; a longer one needs the court",
                          field="end")
    if kind is AbsenceReason.OTHER and not note.strip():
        raise DomainError("an absence for another reason needs a note", field="note")
    at = (now or datetime.now(UTC)).astimezone(UTC)
    row = AuthorisedAbsence(person_id=person.id, start=start.astimezone(UTC), end=end.astimezone(UTC),
                            reason=kind.value, note=note.strip()[:2000], granted_by=principal.user_id,
                            granted_at=at)
    session.add(row)
    session.flush()
    record(session, principal.actor, "grant_absence", "authorised_absence", row.id, person_id=person.id,
           purpose="authorised absence", at=at,
           detail={"start": row.start.isoformat(), "end": row.end.isoformat(), "reason": kind.value})
    return row


def revoke_absence(session: Session, principal: Principal, absence_id: int, *,
                   now: datetime | None = None) -> AuthorisedAbsence:
    """Withdraw an absence: the inclusion zones apply again from the next plan refresh."""
    if principal.role not in ABSENCE_ROLES:
        raise AccessDenied(f"role {principal.role.value} may not revoke an absence")
    row = session.get(AuthorisedAbsence, absence_id)
    if row is None:
        raise NotVisible(f"absence {absence_id} not found")
    check_person_access(session, principal, row.person_id)
    if row.revoked_at is not None:
        raise DomainError(f"absence {absence_id} is already revoked", field="revoked_at")
    at = (now or datetime.now(UTC)).astimezone(UTC)
    row.revoked_at, row.revoked_by = at, principal.user_id
    record(session, principal.actor, "revoke_absence", "authorised_absence", row.id, person_id=row.person_id,
           purpose="authorised absence", at=at)
    session.flush()
    return row


def list_absences(session: Session, principal: Principal, person_id: int) -> list[AuthorisedAbsence]:
    """Every absence of a person (revoked ones too), newest first, for the people in the caller's scope."""
    check_person_access(session, principal, person_id)
    return list(session.execute(select(AuthorisedAbsence).where(AuthorisedAbsence.person_id == person_id)
                                .order_by(AuthorisedAbsence.start.desc())).scalars())
