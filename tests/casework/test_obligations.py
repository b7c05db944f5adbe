"""Obligations as they run: appointment outcomes, forced labour caps, notices of change, treatment, notes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.casework import (
    CaseworkError,
    add_case_note,
    close_appointment,
    order_in_force,
    record_change_notice,
    record_check_in,
    record_labour_hours,
    schedule_appointment,
)
from kuzet.casework.models import Violation
from kuzet.casework.supervision import labour_balance, order_treatment, place_for_labour, update_treatment
from kuzet.casework.vocabulary import AppointmentOutcome

from .factories import akimat, at, ngo, office, register


@pytest.mark.parametrize(("outcome", "reason", "breach"), [
    ("attended_complied", None, False),
    ("attended_failed_to_comply", None, True),
    ("acceptable_absence", "medical", False),
    ("unacceptable_absence", None, True),
    ("failed_to_attend", None, True),
])
def test_each_appointment_outcome_closes_it_and_breaches_become_violations(
        sqlite_sessions: sessionmaker[Session], outcome: str, reason: str | None, breach: bool) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0100", effective_from=at(2026, 3, 2, 0))
        appt = schedule_appointment(s, where.officer.actor, person.id, "office_report", at(2026, 4, 6, 5))
        close_appointment(s, where.officer.actor, appt.id, outcome, at=at(2026, 4, 6, 6), absence_reason=reason,
                          note="did not bring the employment certificate")
        assert appt.outcome == outcome and appt.closed_by == where.officer.user_id
        violations = s.execute(select(Violation).where(Violation.person_id == person.id)).scalars().all()
        assert [(v.kind, v.source, v.appointment_id) for v in violations] == (
            [(outcome, "appointment", appt.id)] if breach else [])
        if breach:
            assert violations[0].order_id == order_in_force(s, person.id, appt.scheduled_at).id


def test_the_outcomes_are_a_closed_set_with_their_rules(sqlite_sessions: sessionmaker[Session]) -> None:
    assert {o.value for o in AppointmentOutcome} == {"attended_complied", "attended_failed_to_comply",
                                                      "acceptable_absence", "unacceptable_absence",
                                                      "failed_to_attend"}
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0101")
        appt = schedule_appointment(s, where.officer.actor, person.id, "home_visit", at(2026, 4, 6, 15))
        actor = where.officer.actor
        with pytest.raises(CaseworkError, match="unknown outcome"):
            close_appointment(s, actor, appt.id, "came_late", at=at(2026, 4, 6, 16))
        with pytest.raises(CaseworkError, match="needs its reason"):
            close_appointment(s, actor, appt.id, "acceptable_absence", at=at(2026, 4, 6, 16))
        with pytest.raises(CaseworkError, match="only an acceptable absence takes a reason"):
            close_appointment(s, actor, appt.id, "failed_to_attend", at=at(2026, 4, 6, 16), absence_reason="court")
        with pytest.raises(CaseworkError, match="cannot be recorded before"):
            close_appointment(s, actor, appt.id, "attended_complied", at=at(2026, 4, 6, 14))
        with pytest.raises(CaseworkError, match="failed to comply with"):
            close_appointment(s, actor, appt.id, "attended_failed_to_comply", at=at(2026, 4, 6, 16))
        # An absence for a court hearing may be agreed in advance.
        close_appointment(s, actor, appt.id, "acceptable_absence", at=at(2026, 4, 5, 9), absence_reason="court")
        with pytest.raises(CaseworkError, match="already closed"):
            close_appointment(s, actor, appt.id, "attended_complied", at=at(2026, 4, 6, 16))


def test_a_check_in_is_an_office_report_attended_and_complied(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0102")
        appt = record_check_in(s, where.officer.actor, person.id, at=at(2026, 4, 6, 4))
        assert (appt.kind, appt.outcome, appt.closed_at) == ("office_report", "attended_complied", at(2026, 4, 6, 4))
        note = add_case_note(s, where.officer.actor, person.id, "Found a job at a bakery", at=at(2026, 4, 6, 5))
        assert note.author_id == where.officer.user_id
        with pytest.raises(CaseworkError, match="needs text"):
            add_case_note(s, where.officer.actor, person.id, "  ", at=at(2026, 4, 6, 5))


def test_forced_labour_is_at_most_four_hours_a_day_and_a_hundred_a_year(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0103", category="restricted_freedom", released_on=date(2026, 1, 5),
                             end=date(2028, 1, 4))
        city = akimat(s, where)
        actor = where.officer.actor
        placement = place_for_labour(s, actor, person.id, city.id, starts_on=date(2026, 1, 5), site="park cleaning")
        record_labour_hours(s, actor, placement.id, date(2026, 1, 5), 2.5)
        record_labour_hours(s, actor, placement.id, date(2026, 1, 5), 1.5)
        with pytest.raises(CaseworkError, match=r"at most 4 hours a day: 4 already recorded on 2026-01-05"):
            record_labour_hours(s, actor, placement.id, date(2026, 1, 5), 0.5)
        with pytest.raises(CaseworkError, match="more than zero"):
            record_labour_hours(s, actor, placement.id, date(2026, 1, 6), 0)
        with pytest.raises(CaseworkError, match="outside the placement"):
            record_labour_hours(s, actor, placement.id, date(2026, 1, 4), 1)
        # 24 more days of four hours: 100 hours on 31 December, the last day of the year.
        days = [date(2026, 2, 1 + i) for i in range(23)] + [date(2026, 12, 31)]
        for day in days:
            record_labour_hours(s, actor, placement.id, day, 4)
        assert labour_balance(s, person.id, 2026).done_h == 100.0
        assert labour_balance(s, person.id, 2026).remaining_h == 0.0
        with pytest.raises(CaseworkError, match=r"at most 100 hours a year: 100 already done in 2026"):
            record_labour_hours(s, actor, placement.id, date(2026, 12, 30), 1)
        # The next morning is a new year with its own hundred hours.
        record_labour_hours(s, actor, placement.id, date(2027, 1, 1), 4)
        assert labour_balance(s, person.id, 2027).done_h == 4.0


def test_forced_labour_is_for_restricted_freedom_with_an_akimat(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        suspended, _ = register(s, where, "S-0104", category="suspended_sentence")
        restricted, _ = register(s, where, "S-0105", category="restricted_freedom")
        city, charity = akimat(s, where), ngo(s, where)
        with pytest.raises(CaseworkError, match="restricted freedom only"):
            place_for_labour(s, where.officer.actor, suspended.id, city.id, starts_on=date(2026, 3, 2))
        with pytest.raises(CaseworkError, match="not an akimat"):
            place_for_labour(s, where.officer.actor, restricted.id, charity.id, starts_on=date(2026, 3, 2))


def test_a_new_address_is_a_new_order_version_and_a_late_notice_is_a_violation(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0106", effective_from=at(2026, 3, 1, 19))
        actor = where.officer.actor
        notice = record_change_notice(s, actor, person.id, "address", notified_on=date(2026, 5, 25),
                                      changes_on=date(2026, 6, 1), detail="moves to his sister",
                                      new_address="Алматы, Төле би 5", at=at(2026, 5, 25))
        assert notice.in_time and person.address == "Алматы, Төле би 5"
        v2 = order_in_force(s, person.id, at(2026, 6, 1, 12))
        assert v2.id == notice.order_id and v2.variation == "new_address"
        assert "address: Алматы, Төле би 5" in v2.conditions and "be home 22:00-06:00" in v2.conditions
        assert order_in_force(s, person.id, at(2026, 5, 31, 12)).version == 1
        job = record_change_notice(s, actor, person.id, "job", notified_on=date(2026, 7, 10),
                                   changes_on=date(2026, 7, 1), detail="left the bakery", at=at(2026, 7, 10))
        assert not job.in_time
        late = s.execute(select(Violation).where(Violation.person_id == person.id)).scalar_one()
        assert late.kind == "job_change_without_notice" and late.order_id == v2.id
        with pytest.raises(CaseworkError, match="give the new address"):
            record_change_notice(s, actor, person.id, "address", notified_on=date(2026, 8, 1),
                                 changes_on=date(2026, 8, 2), detail="", at=at(2026, 8, 1))


def test_court_ordered_treatment_is_tracked(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0107")
        row = order_treatment(s, where.officer.actor, person.id, kind="alcohol dependence", provider="city clinic",
                              starts_on=date(2026, 3, 10))
        update_treatment(s, where.officer.actor, row.id, "in_progress", "attends weekly")
        assert row.status == "in_progress"
        with pytest.raises(CaseworkError, match="status is one of"):
            update_treatment(s, where.officer.actor, row.id, "cured")
