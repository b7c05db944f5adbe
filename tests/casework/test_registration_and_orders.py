"""Registration with its deadlines, and versioned orders: an alert is explained by the version in force."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import verify
from kuzet.casework import (
    CaseworkError,
    NoOrderInForce,
    order_in_force,
    record_arrival,
    record_violation_from_alert,
    registration_reminders,
    start_search,
    vary_order,
)
from kuzet.store.models import AlertRecord, AuditEntry, CourtOrder

from .factories import at, office, register


def test_registering_a_person_writes_the_first_order_version_and_the_deadlines(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, reg = register(s, where, "S-0001", released_on=date(2026, 12, 29))
        orders = s.execute(select(CourtOrder).where(CourtOrder.person_id == person.id)).scalars().all()
        assert [(o.version, o.variation, o.created_by) for o in orders] == [(1, "initial", where.officer.user_id)]
        assert orders[0].conditions == ["be home 22:00-06:00"]
        assert orders[0].obligations == ["report to the probation office on Mondays"]
        assert person.officer_id == where.officer.user_id and person.risk_notes == "alcohol"
        assert reg.due_on == date(2027, 1, 5)  # three working days across the New Year holidays
        assert reg.search_from == date(2027, 1, 12)  # two weeks
        actions = {(e.action, e.object_type) for e in s.execute(select(AuditEntry)).scalars()}
        assert {("create", "person"), ("create", "court_order"), ("create", "registration")} <= actions
        assert verify(s).ok


def test_an_alert_is_explained_by_the_order_version_in_force_when_it_happened(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0002", effective_from=at(2026, 3, 2, 0))
        v2 = vary_order(s, where.officer.actor, person.id, "curfew_changed", effective_from=at(2026, 6, 1, 0),
                        changes={"conditions": ["be home 21:00-06:00"]})
        v3 = vary_order(s, where.officer.actor, person.id, "zone_added", effective_from=at(2026, 9, 1, 0),
                        changes={"conditions": ["be home 21:00-06:00", "do not enter Zone A"]})
        assert (v2.version, v3.version) == (2, 3)
        assert order_in_force(s, person.id, at(2026, 5, 31, 23, 59)).version == 1
        assert order_in_force(s, person.id, at(2026, 6, 1, 0)).version == 2
        assert order_in_force(s, person.id, at(2026, 12, 31, 23)).version == 3
        with pytest.raises(NoOrderInForce, match="no court order in force"):
            order_in_force(s, person.id, at(2026, 3, 1, 23))
        alert = AlertRecord(person_id=person.id, subject_code=person.code, region_id=person.region_id,
                            type="curfew_absence", target="home", target_key="home", start=at(2026, 7, 4, 21, 30),
                            raised_at=at(2026, 7, 4, 21, 36), severity="high", evidence=[])
        s.add(alert)
        s.flush()
        violation = record_violation_from_alert(s, where.officer.actor, alert.id)
        assert violation.order_id == v2.id  # not v3, the version in force now
        assert violation.breach_at == alert.start and violation.identified_at == alert.raised_at
        assert record_violation_from_alert(s, where.officer.actor, alert.id).id == violation.id  # once per alert


def test_a_variation_never_rewrites_a_version_and_cannot_take_effect_before_it(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0003", effective_from=at(2026, 3, 2, 0))
        with pytest.raises(CaseworkError, match="cannot take effect"):
            vary_order(s, where.officer.actor, person.id, "new_address", effective_from=at(2026, 3, 1))
        with pytest.raises(CaseworkError, match="unknown variation"):
            vary_order(s, where.officer.actor, person.id, "whim", effective_from=at(2026, 4, 1))
        with pytest.raises(CaseworkError, match="cannot change category"):
            vary_order(s, where.officer.actor, person.id, "new_address", effective_from=at(2026, 4, 1),
                       changes={"category": "parole"})
        v2 = vary_order(s, where.officer.actor, person.id, "device_change", effective_from=at(2026, 4, 1))
        first = s.execute(select(CourtOrder).where(CourtOrder.person_id == person.id, CourtOrder.version == 1)
                          ).scalar_one()
        assert first.variation == "initial" and v2.conditions == first.conditions and v2.created_by is not None


def test_reminders_follow_the_three_working_days_and_the_two_week_no_show_rule(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        late, reg = register(s, where, "S-0010", released_on=date(2026, 12, 29))
        arrived, _ = register(s, where, "S-0011", released_on=date(2026, 12, 29))
        record_arrival(s, where.officer.actor, arrived.id, date(2026, 12, 30))

        def kinds(today: date) -> list[tuple[int, str]]:
            return [(r.person_id, r.kind) for r in registration_reminders(s, today)]

        assert kinds(date(2027, 1, 5)) == [(late.id, "register_by")]
        assert kinds(date(2027, 1, 6)) == [(late.id, "registration_overdue")]
        assert kinds(date(2027, 1, 11)) == [(late.id, "registration_overdue")]
        assert kinds(date(2027, 1, 12)) == [(late.id, "start_search")]
        with pytest.raises(CaseworkError, match="from 2027-01-12"):
            start_search(s, where.officer.actor, late.id, date(2027, 1, 11))
        with pytest.raises(CaseworkError, match="arrived on 2026-12-30"):
            start_search(s, where.officer.actor, arrived.id, date(2027, 1, 12))
        start_search(s, where.officer.actor, late.id, date(2027, 1, 12))
        assert reg.court_informed_on == date(2027, 1, 12)
        assert kinds(date(2027, 1, 13)) == []
        assert reg.search_from - reg.released_on == timedelta(weeks=2)


def test_arrival_before_release_or_twice_is_refused(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, reg = register(s, where, "S-0012", released_on=date(2027, 1, 29))
        with pytest.raises(CaseworkError, match="before the release"):
            record_arrival(s, where.officer.actor, person.id, date(2027, 1, 28))
        record_arrival(s, where.officer.actor, person.id, date(2027, 2, 8))  # late, recorded
        assert reg.arrived_on == date(2027, 2, 8) and reg.due_on == date(2027, 2, 3)
        with pytest.raises(CaseworkError, match="already recorded"):
            record_arrival(s, where.officer.actor, person.id, date(2027, 2, 9))


def test_the_orders_category_must_match_the_persons(sqlite_sessions: sessionmaker[Session]) -> None:
    from kuzet.casework import OrderTerms, register_person
    from kuzet.web.services.people import PersonInput

    with sqlite_sessions() as s, s.begin():
        where = office(s)
        with pytest.raises(CaseworkError, match="differs"):
            register_person(s, where.officer, PersonInput(code="X", category="parole", unit_id=where.unit.id),
                            OrderTerms(category="restricted_freedom"), released_on=date(2026, 1, 5))
