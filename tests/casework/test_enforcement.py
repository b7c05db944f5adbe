"""Violations and the legal steps: written warning, then submission to court, the decision and what follows."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.casework import (
    CaseworkError,
    end_supervision,
    extend_probation,
    file_submission,
    issue_written_warning,
    order_in_force,
    record_court_decision,
    record_violation,
    submit_to_court,
)
from kuzet.casework.enforcement import add_months
from kuzet.casework.models import SupervisionEnd
from kuzet.store.models import Assignment, Device, DeviceType, Person

from .factories import at, office, register


def _fit(s: Session, person: Person, serial: str) -> Device:
    dtype = s.execute(select(DeviceType).limit(1)).scalar_one()
    device = Device(serial=serial, type_id=dtype.id, unit_id=person.unit_id, status="fitted")
    s.add(device)
    s.flush()
    s.add(Assignment(device_id=device.id, person_id=person.id, fitted_at=at(2026, 3, 2)))
    s.flush()
    return device


def test_warning_then_submission_then_decision_revokes_and_recovers_the_device(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0200", category="restricted_freedom", effective_from=at(2026, 3, 2, 0))
        device = _fit(s, person, "BR-0200")
        actor = where.officer.actor
        first = record_violation(s, actor, person.id, kind="curfew_absence", breach_at=at(2026, 4, 3, 18))
        with pytest.raises(CaseworkError, match="issue a written warning before"):
            submit_to_court(s, actor, first.id, at=at(2026, 4, 4))
        warning = issue_written_warning(s, actor, first.id, at=at(2026, 4, 4, 5))
        assert warning.number == f"WW-2026-{warning.id:05d}" and first.status == "warned"
        assert first.authority_notified_at == at(2026, 4, 4, 5)
        with pytest.raises(CaseworkError, match="already has a written warning"):
            issue_written_warning(s, actor, first.id, at=at(2026, 4, 4, 6))

        second = record_violation(s, actor, person.id, kind="exclusion_entry", breach_at=at(2026, 5, 9, 20))
        submission = submit_to_court(s, actor, second.id, at=at(2026, 5, 11, 6), grounds="repeated breaches")
        assert submission.status == "draft" and submission.warnings == [warning.id]
        assert submission.court == "Алматы қаласының Алмалы аудандық соты" and second.status == "submitted"
        with pytest.raises(CaseworkError, match="has not been filed"):
            record_court_decision(s, actor, submission.id, "granted", decided_on=date(2026, 5, 20))
        file_submission(s, actor, submission.id, at=at(2026, 5, 11, 9))
        with pytest.raises(CaseworkError, match="before the submission was filed"):
            record_court_decision(s, actor, submission.id, "granted", decided_on=date(2026, 5, 10))
        decision = record_court_decision(s, actor, submission.id, "granted", decided_on=date(2026, 5, 20),
                                         at=at(2026, 5, 20, 10))
        revoked = order_in_force(s, person.id, at(2026, 5, 21))
        assert decision.order_id == revoked.id and (revoked.variation, revoked.status) == ("revocation", "revoked")
        assert order_in_force(s, person.id, at(2026, 5, 9, 20)).version == 1  # the breach stays explained by v1
        assert person.status == "ended" and second.status == "decided"
        end = s.execute(select(SupervisionEnd).where(SupervisionEnd.person_id == person.id)).scalar_one()
        assert end.reason == "revocation" and end.devices_recovered == ["BR-0200"]
        assignment = s.execute(select(Assignment).where(Assignment.device_id == device.id)).scalar_one()
        assert assignment.removed_at == at(2026, 5, 20, 10) and device.status == "removed"
        with pytest.raises(CaseworkError, match="already decided"):
            record_court_decision(s, actor, submission.id, "refused", decided_on=date(2026, 5, 21))


def test_an_excused_violation_gets_no_warning_and_no_submission(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0201")
        excused = record_violation(s, where.officer.actor, person.id, kind="curfew_absence",
                                   breach_at=at(2026, 4, 3, 18), authorised_absence=True)
        assert excused.status == "excused"
        with pytest.raises(CaseworkError, match="excused"):
            issue_written_warning(s, where.officer.actor, excused.id, at=at(2026, 4, 4))
        with pytest.raises(CaseworkError, match="excused"):
            submit_to_court(s, where.officer.actor, excused.id, kind="extend_probation", at=at(2026, 4, 4))
        with pytest.raises(CaseworkError, match="identified before it happened"):
            record_violation(s, where.officer.actor, person.id, kind="x", breach_at=at(2026, 4, 3),
                             identified_at=at(2026, 4, 2))


@pytest.mark.parametrize(("end", "months", "new_end"), [
    (date(2027, 1, 31), 1, date(2027, 2, 28)),   # the month's end is clamped
    (date(2027, 12, 31), 2, date(2028, 2, 29)),  # across the year into a leap February
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2026, 6, 15), 12, date(2027, 6, 15)),
])
def test_adding_months_at_month_and_year_ends(end: date, months: int, new_end: date) -> None:
    assert add_months(end, months) == new_end


def test_probation_is_extended_by_at_most_a_year_as_new_order_versions(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0202", end=date(2027, 1, 31), effective_from=at(2026, 3, 2, 0))
        actor = where.officer.actor
        violation = record_violation(s, actor, person.id, kind="failed_to_attend", breach_at=at(2026, 4, 6, 5))
        ext = extend_probation(s, actor, person.id, 1, violation_id=violation.id, at=at(2026, 5, 1))
        assert (ext.previous_end, ext.new_end) == (date(2027, 1, 31), date(2027, 2, 28))
        v2 = order_in_force(s, person.id, at(2026, 5, 2))
        assert (v2.version, v2.variation, v2.end_date, v2.id) == (2, "extension", date(2027, 2, 28), ext.order_id)
        extend_probation(s, actor, person.id, 10, at=at(2026, 6, 1))
        with pytest.raises(CaseworkError, match="at most 12 months in total: 11 already"):
            extend_probation(s, actor, person.id, 2, at=at(2026, 7, 1))
        with pytest.raises(CaseworkError, match="1 to 12 months"):
            extend_probation(s, actor, person.id, 0, at=at(2026, 7, 1))


def test_a_court_extension_or_added_obligations_become_order_versions(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0203", end=date(2026, 12, 31), effective_from=at(2026, 3, 2, 0))
        actor = where.officer.actor
        one = record_violation(s, actor, person.id, kind="failed_to_attend", breach_at=at(2026, 4, 6, 5))
        sub = file_submission(s, actor, submit_to_court(s, actor, one.id, kind="extend_probation",
                                                        at=at(2026, 4, 7)).id, at=at(2026, 4, 7))
        with pytest.raises(CaseworkError, match="months of the extension"):
            record_court_decision(s, actor, sub.id, "extended", decided_on=date(2026, 4, 20))
        decision = record_court_decision(s, actor, sub.id, "extended", decided_on=date(2026, 4, 20),
                                         extension_months=6, at=at(2026, 4, 20, 9))
        assert order_in_force(s, person.id, at(2026, 4, 21)).end_date == date(2027, 6, 30)
        assert decision.order_id == order_in_force(s, person.id, at(2026, 4, 21)).id
        two = record_violation(s, actor, person.id, kind="curfew_absence", breach_at=at(2026, 5, 6, 19))
        sub2 = file_submission(s, actor, submit_to_court(s, actor, two.id, kind="add_obligations",
                                                         at=at(2026, 5, 7)).id, at=at(2026, 5, 7))
        record_court_decision(s, actor, sub2.id, "obligations_added", decided_on=date(2026, 5, 15),
                              obligations=["attend an alcohol programme"], at=at(2026, 5, 15, 9))
        v3 = order_in_force(s, person.id, at(2026, 5, 16))
        assert v3.variation == "obligations_changed"
        assert v3.obligations == ["report to the probation office on Mondays", "attend an alcohol programme"]


@pytest.mark.parametrize("reason", ["expiry", "early_release"])
def test_the_end_of_supervision_closes_the_order_and_recovers_the_device(
        sqlite_sessions: sessionmaker[Session], reason: str) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0204", effective_from=at(2026, 3, 2, 0))
        device = _fit(s, person, "BR-0204")
        end = end_supervision(s, where.officer.actor, person.id, reason, at=at(2027, 3, 1, 6))
        last = order_in_force(s, person.id, at(2027, 3, 2))
        assert (last.variation, last.status, last.id) == (reason, "ended", end.order_id)
        assert device.status == "removed" and end.devices_recovered == ["BR-0204"]
        assert person.status == "ended"
        with pytest.raises(CaseworkError, match="already ended"):
            end_supervision(s, where.officer.actor, person.id, "expiry", at=at(2027, 3, 2))


def test_expired_orders_are_ended_the_day_after_their_end_date(sqlite_sessions: sessionmaker[Session]) -> None:
    from kuzet.casework import end_expired_orders

    with sqlite_sessions() as s, s.begin():
        where = office(s)
        done, _ = register(s, where, "S-0205", end=date(2026, 12, 31), effective_from=at(2026, 3, 2, 0))
        running, _ = register(s, where, "S-0206", end=date(2027, 1, 1), effective_from=at(2026, 3, 2, 0))
        assert end_expired_orders(s, where.officer.actor, date(2026, 12, 31), at=at(2026, 12, 31, 6)) == []
        ended = end_expired_orders(s, where.officer.actor, date(2027, 1, 1), at=at(2027, 1, 1, 6))
        assert [e.person_id for e in ended] == [done.id] and running.status == "active"
