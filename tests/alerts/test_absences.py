"""Authorised absences: granted by an officer, time-limited, audited, and honoured by the plan the engine runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.access import AccessDenied, NotVisible
from kuzet.alerts.absences import absences_for, grant_absence, list_absences, revoke_absence
from kuzet.domain.enums import ZoneKind
from kuzet.domain.errors import DomainError
from kuzet.domain.schedules import ExceptionKind
from kuzet.exchange.store_io import plan_for_people
from kuzet.store.models import AuditEntry

from .factories import T0, centre, person

# T0 is Monday 22:00 in Almaty, when the curfew starts.
HOSPITAL = (T0 - timedelta(hours=1), T0 + timedelta(hours=3))


def _zones(s: Session, p: object) -> dict[str, object]:
    from kuzet.store.models import Person

    assert isinstance(p, Person)
    plan = plan_for_people(s, [p])
    return {z.id: z for z in plan.subjects[0].zones}


def test_an_absence_lifts_the_curfew_for_its_interval_only_and_is_audited(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        c = centre(s)
        p = person(s, c, "A-1")
        row = grant_absence(s, c.principal("officer"), p.id, *HOSPITAL, "hospital", "appendicitis, City Hospital 1",
                            now=T0 - timedelta(hours=2))
        [exception] = absences_for(s, p.id)
        assert (exception.start, exception.end, exception.kind) == (*HOSPITAL, ExceptionKind.ABSENCE)
        zones = _zones(s, p)
        home, school = zones["home"], zones["school"]
        assert home.schedule is not None
        assert not home.schedule.is_active(T0 + timedelta(hours=1))  # in hospital during the curfew
        assert home.schedule.is_active(T0 + timedelta(hours=4))      # the curfew applies again afterwards
        assert home.schedule.is_active(T0 + timedelta(days=1, hours=1))
        assert school.kind is ZoneKind.EXCLUSION and school.schedule is None  # never lifted
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "grant_absence")).scalar_one()
        assert (entry.subject_person_id, entry.object_id, entry.username) == (p.id, str(row.id), "ala.officer")
        assert entry.detail["reason"] == "hospital"

        revoke_absence(s, c.principal("supervisor"), row.id, now=T0 - timedelta(minutes=30))
        assert absences_for(s, p.id) == []
        assert _zones(s, p)["home"].schedule.is_active(T0 + timedelta(hours=1))  # type: ignore[attr-defined]
        assert [r.revoked_at for r in list_absences(s, c.principal("officer"), p.id)] == [T0 - timedelta(minutes=30)]
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "revoke_absence")).scalar_one()


def test_an_always_on_home_zone_is_lifted_too(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        p = person(s, c, "A-1", curfew=False)
        assert _zones(s, p)["home"].schedule is None  # type: ignore[attr-defined]
        grant_absence(s, c.principal("officer"), p.id, *HOSPITAL, "court", now=T0)
        home = _zones(s, p)["home"]
        assert not home.schedule.is_active(T0)  # type: ignore[attr-defined]
        for hours in (-30, -2, 4, 50):
            assert home.schedule.is_active(T0 + timedelta(hours=hours))  # type: ignore[attr-defined]


def test_who_may_grant_an_absence_and_what_is_refused(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        other = centre(s, "SHY")
        p = person(s, c, "A-1")
        with pytest.raises(AccessDenied):
            grant_absence(s, c.principal("operator"), p.id, *HOSPITAL, "hospital")
        with pytest.raises(NotVisible):
            grant_absence(s, other.principal("officer"), p.id, *HOSPITAL, "hospital")
        with pytest.raises(DomainError, match="at most 31 days"):
            grant_absence(s, c.principal("officer"), p.id, T0, T0 + timedelta(days=40), "work_shift")
        with pytest.raises(DomainError, match="end after"):
            grant_absence(s, c.principal("officer"), p.id, T0, T0, "work_shift")
        with pytest.raises(DomainError, match="unknown reason"):
            grant_absence(s, c.principal("officer"), p.id, *HOSPITAL, "holiday")
        with pytest.raises(DomainError, match="needs a note"):
            grant_absence(s, c.principal("officer"), p.id, *HOSPITAL, "other")
        assert absences_for(s, p.id) == []
