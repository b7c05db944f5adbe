"""The device lifecycle: allowed steps, refused impossible ones, and one device never on two people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import verify
from kuzet.devices.errors import FittingRefused, TransitionRefused
from kuzet.devices.lifecycle import (
    FittingForm,
    fit_device,
    get_device,
    move_device,
    remove_device,
    report_found,
    report_lost,
    return_to_stock,
    send_to_repair,
    verify_fitting_signature,
    write_off,
)
from kuzet.devices.models import DeviceLifecycleEvent
from kuzet.devices.states import DeviceStatus, LifecycleAction, allowed_actions, next_status
from kuzet.store.db import transaction
from kuzet.store.models import Assignment, DeviceReportRecord

from .factories import (
    OFFICER,
    checklist_of,
    fitted,
    organisation,
    person,
    report,
    stock_device,
    store,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_device_goes_through_its_whole_life_and_each_step_is_in_its_history(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, u2 = organisation(s)
        p = person(s, u2, "S-0001")
        stock_device(s, "KZ-100", u1, at=T0)
        move_device(s, OFFICER, "KZ-100", u2.code, at=T0 + timedelta(hours=1))
        fitting = fitted(s, "KZ-100", p, T0 + timedelta(hours=2))
        assert verify_fitting_signature(s, fitting)
        remove_device(s, OFFICER, "KZ-100", reason="end of order", at=T0 + timedelta(days=30))
        send_to_repair(s, OFFICER, "KZ-100", fault="strap clasp worn", at=T0 + timedelta(days=31))
        return_to_stock(s, OFFICER, "KZ-100", at=T0 + timedelta(days=40))
        report_lost(s, OFFICER, "KZ-100", circumstances="not found at stock count", at=T0 + timedelta(days=50))
        report_found(s, OFFICER, "KZ-100", note="behind the cabinet", at=T0 + timedelta(days=51))
        write_off(s, OFFICER, "KZ-100", reason="end of service life", at=T0 + timedelta(days=52))
        device = get_device(s, "KZ-100")
        steps = s.execute(select(DeviceLifecycleEvent.action, DeviceLifecycleEvent.to_status)
                          .where(DeviceLifecycleEvent.device_id == device.id)
                          .order_by(DeviceLifecycleEvent.id)).all()
        assert device.status == "written_off"
        assert [a for a, _ in steps] == ["register", "move", "fit", "remove", "send_to_repair",
                                         "return_to_stock", "report_lost", "report_found", "write_off"]
        assignment = s.execute(select(Assignment).where(Assignment.device_id == device.id)).scalar_one()
        assert assignment.removed_at == T0 + timedelta(days=30)
        assert verify(s).ok


@pytest.mark.parametrize(("status", "action"), [
    ("fitted", LifecycleAction.FIT),
    ("fitted", LifecycleAction.SEND_TO_REPAIR),
    ("fitted", LifecycleAction.WRITE_OFF),
    ("fitted", LifecycleAction.MOVE),
    ("in_stock", LifecycleAction.REMOVE),
    ("lost", LifecycleAction.FIT),
    ("lost", LifecycleAction.MOVE),
    ("in_repair", LifecycleAction.FIT),
    ("removed", LifecycleAction.FIT),
    ("written_off", LifecycleAction.RETURN_TO_STOCK),
    ("written_off", LifecycleAction.REPORT_FOUND),
    ("written_off", LifecycleAction.FIT),
    ("in_stock", LifecycleAction.REPORT_FOUND),
])
def test_impossible_transitions_are_refused_with_the_state_and_the_way_out(
        status: str, action: LifecycleAction) -> None:
    with pytest.raises(TransitionRefused) as exc:
        next_status("KZ-9", status, action)
    message = str(exc.value)
    assert "KZ-9" in message and status.replace("_", " ") in message and "needs a device that is" in message


def test_nothing_is_possible_after_a_write_off() -> None:
    assert allowed_actions(DeviceStatus.WRITTEN_OFF) == []


def test_refused_steps_leave_the_device_and_its_history_unchanged(sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-0001")
        stock_device(s, "KZ-1", u1, at=T0)
        fitted(s, "KZ-1", p, T0 + timedelta(hours=1))
    for step in (lambda s: send_to_repair(s, OFFICER, "KZ-1", fault="x"),
                 lambda s: write_off(s, OFFICER, "KZ-1", reason="x"),
                 lambda s: move_device(s, OFFICER, "KZ-1", "ALA-02"),
                 lambda s: return_to_stock(s, OFFICER, "KZ-1")):
        with pytest.raises(TransitionRefused, match="it is fitted"), transaction(sqlite_sessions) as s:
            step(s)
    with sqlite_sessions() as s:
        assert get_device(s, "KZ-1").status == "fitted"
        assert s.query(DeviceLifecycleEvent).count() == 2


def test_a_fitted_device_cannot_be_fitted_to_a_second_person(sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        first, second = person(s, u1, "S-0001"), person(s, u1, "S-0002")
        stock_device(s, "KZ-1", u1, at=T0)
        fitted(s, "KZ-1", first, T0 + timedelta(hours=1))
        with pytest.raises(TransitionRefused, match="cannot fit device KZ-1: it is fitted"):
            fitted(s, "KZ-1", second, T0 + timedelta(hours=2))


def test_the_database_refuses_a_second_open_assignment_for_a_device(sessions: sessionmaker[Session]) -> None:
    """Even a writer that skips the service cannot put one device on two people (SQLite and PostgreSQL)."""
    with transaction(sessions) as s:
        _, u1, _ = organisation(s)
        first, second = person(s, u1, "S-0001"), person(s, u1, "S-0002")
        stock_device(s, "KZ-1", u1, at=T0)
        fitted(s, "KZ-1", first, T0 + timedelta(hours=1))
        device_id = get_device(s, "KZ-1").id
        second_id = second.id
    with pytest.raises(IntegrityError), transaction(sessions) as s:
        s.add(Assignment(device_id=device_id, person_id=second_id, fitted_at=T0 + timedelta(hours=3)))
        s.flush()
    with transaction(sessions) as s:  # a closed assignment does not block the next fitting
        remove_device(s, OFFICER, "KZ-1", reason="replacement", at=T0 + timedelta(hours=4))
        return_to_stock(s, OFFICER, "KZ-1", at=T0 + timedelta(hours=5))
        fitted(s, "KZ-1", s.get(type(second), second_id), T0 + timedelta(hours=6))
        assert s.query(Assignment).filter_by(device_id=device_id).count() == 2


def test_fitting_needs_the_whole_checklist_and_both_signatures(sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-0001")
        stock_device(s, "KZ-1", u1, at=T0)
        store(s, [report("KZ-1", T0 + timedelta(minutes=58))])
        full = checklist_of(s, "gps_bracelet")
        at = T0 + timedelta(hours=1)
        with pytest.raises(FittingRefused, match=r"checklist incomplete.*charging explained"):
            fit_device(s, OFFICER, serial="KZ-1", person_id=p.id, at=at,
                       form=FittingForm({**full, "charging explained": False}, "A. Officer", True))
        with pytest.raises(FittingRefused, match="not on the gps_bracelet fitting checklist: paint it"):
            fit_device(s, OFFICER, serial="KZ-1", person_id=p.id, at=at,
                       form=FittingForm({**full, "paint it": True}, "A. Officer", True))
        with pytest.raises(FittingRefused, match="signed by the fitting officer"):
            fit_device(s, OFFICER, serial="KZ-1", person_id=p.id, at=at, form=FittingForm(full, " ", True))
        with pytest.raises(FittingRefused, match="S-0001 has not acknowledged"):
            fit_device(s, OFFICER, serial="KZ-1", person_id=p.id, at=at, form=FittingForm(full, "A. Officer", False))
        assert get_device(s, "KZ-1").status == "in_stock"


@pytest.mark.parametrize(("test_report", "problem"), [
    (None, "no test report from device KZ-1"),
    ({"strap": "open"}, "strap is open, must be closed"),
    ({"lat": None, "lon": None}, "no position"),
    ({"battery_pct": 9.0}, "battery 9% is below 20%"),
    ({"events": ["case_open"]}, "case is open"),
])
def test_fitting_needs_a_test_report_showing_the_device_works_on_the_person(
        sqlite_sessions: sessionmaker[Session], test_report: dict[str, object] | None, problem: str) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-0001")
        stock_device(s, "KZ-1", u1, at=T0)
        at = T0 + timedelta(hours=1)
        if test_report is not None:
            store(s, [report("KZ-1", at - timedelta(minutes=3), **test_report)])  # type: ignore[arg-type]
        store(s, [report("KZ-1", at - timedelta(hours=3))])  # too old to count
        with pytest.raises(FittingRefused, match=problem):
            fit_device(s, OFFICER, serial="KZ-1", person_id=p.id, at=at,
                       form=FittingForm(checklist_of(s, "gps_bracelet"), "A. Officer", True))


def test_the_test_report_and_later_reports_are_attributed_to_the_person(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-0001")
        stock_device(s, "KZ-1", u1, at=T0)
        store(s, [report("KZ-1", T0 - timedelta(days=1))])  # a bench test in the store, days before
        fitting = fitted(s, "KZ-1", p, T0 + timedelta(hours=1))
        owners = dict(s.execute(select(DeviceReportRecord.time, DeviceReportRecord.person_id)
                                .where(DeviceReportRecord.device == "KZ-1")).all())
        assert owners[T0 - timedelta(days=1)] is None
        assert owners[T0 + timedelta(minutes=58)] == p.id
        assert fitting.test_summary["strap"] == "closed"


def test_fitting_from_another_units_stock_or_a_second_bracelet_is_refused(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, u2 = organisation(s)
        p = person(s, u1, "S-0001")
        stock_device(s, "KZ-1", u1, at=T0)
        stock_device(s, "KZ-2", u1, at=T0)
        stock_device(s, "KZ-3", u2, at=T0)
        with pytest.raises(FittingRefused, match=r"KZ-3 is in stock at unit ALA-02 .* move the device first"):
            fitted(s, "KZ-3", p, T0 + timedelta(hours=1))
        fitted(s, "KZ-1", p, T0 + timedelta(hours=1))
        with pytest.raises(FittingRefused, match="S-0001 already wears gps_bracelet KZ-1"):
            fitted(s, "KZ-2", p, T0 + timedelta(hours=2))


def test_a_lost_fitted_device_ends_the_assignment_and_history_cannot_be_back_dated(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-0001")
        stock_device(s, "KZ-1", u1, at=T0)
        fitted(s, "KZ-1", p, T0 + timedelta(hours=1))
        report_lost(s, OFFICER, "KZ-1", circumstances="person absconded", at=T0 + timedelta(days=3))
        assert s.query(Assignment).filter_by(removed_at=None).count() == 0
        with pytest.raises(TransitionRefused, match="history is only appended to"):
            report_found(s, OFFICER, "KZ-1", at=T0 + timedelta(days=2))


def test_removal_loss_repair_and_write_off_need_a_reason(sqlite_sessions: sessionmaker[Session]) -> None:
    with transaction(sqlite_sessions) as s:
        _, u1, _ = organisation(s)
        p = person(s, u1, "S-0001")
        stock_device(s, "KZ-1", u1, at=T0)
        stock_device(s, "KZ-2", u1, at=T0)
        fitted(s, "KZ-1", p, T0 + timedelta(hours=1))
        with pytest.raises(TransitionRefused, match="say why device KZ-1 is removed"):
            remove_device(s, OFFICER, "KZ-1", reason=" ")
        with pytest.raises(TransitionRefused, match="last seen"):
            report_lost(s, OFFICER, "KZ-1", circumstances="")
        with pytest.raises(TransitionRefused, match="say what is wrong with device KZ-2"):
            send_to_repair(s, OFFICER, "KZ-2", fault="")
        with pytest.raises(TransitionRefused, match="needs a reason"):
            write_off(s, OFFICER, "KZ-2", reason="")
        assert get_device(s, "KZ-1").status == "fitted" and get_device(s, "KZ-2").status == "in_stock"


def test_two_officers_fitting_the_same_device_at_once_end_with_one_fitting(
        sessions: sessionmaker[Session]) -> None:
    """Two concurrent transactions: the second waits for the first and is refused; one assignment remains."""
    import threading

    with transaction(sessions) as s:
        _, u1, _ = organisation(s)
        ids = [person(s, u1, "S-0001").id, person(s, u1, "S-0002").id]
        stock_device(s, "KZ-1", u1, at=T0)
        store(s, [report("KZ-1", datetime.now(UTC) - timedelta(minutes=1))])
    fitted_first = threading.Event()
    outcomes: list[str] = []

    def fit(person_id: int, hold: bool) -> None:
        try:
            with transaction(sessions) as s:
                fit_device(s, OFFICER, serial="KZ-1", person_id=person_id,
                           form=FittingForm(checklist_of(s, "gps_bracelet"), "A. Officer", True))
                if hold:
                    fitted_first.set()
                    threading.Event().wait(0.5)  # keep the transaction open while the other one tries
            outcomes.append("fitted")
        except Exception as exc:  # the loser's error is the point of the test
            outcomes.append(type(exc).__name__)
            fitted_first.set()

    first = threading.Thread(target=fit, args=(ids[0], True))
    first.start()
    assert fitted_first.wait(10)
    second = threading.Thread(target=fit, args=(ids[1], False))
    second.start()
    first.join(20)
    second.join(20)
    assert outcomes.count("fitted") == 1 and len(outcomes) == 2, outcomes
    with sessions() as s:
        assert s.query(Assignment).filter_by(removed_at=None).count() == 1
