"""Response-time targets and escalation, driven by a clock the tests control; the shift handover."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.access import AccessDenied
from kuzet.alerts import escalation, workflow
from kuzet.alerts.escalation import LevelSpec, run_escalations
from kuzet.alerts.models import Delivery, EscalationEvent
from kuzet.alerts.vocabulary import Outcome
from kuzet.domain.enums import Role
from kuzet.domain.errors import DomainError
from kuzet.store.models import AlertAction, AuditEntry

from .factories import T0, alert, centre, person

RAISED = T0 + timedelta(minutes=5)


def _tree(s: Session, c: object) -> None:
    from .factories import Centre

    assert isinstance(c, Centre)
    escalation.set_escalation_tree(s, c.principal("chief"), [
        LevelSpec(1, user_id=c.users["supervisor"].id),
        LevelSpec(2, role=Role.SUPERVISOR),
    ], region_id=c.region.id)


def test_a_missed_acknowledgement_escalates_on_time_and_level_by_level(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        c = centre(s)
        _tree(s, c)
        a = alert(s, person(s, c, "A-1"), type="strap_tamper", severity="critical", target=None, raised_at=RAISED)
        # Critical: acknowledge within 5 minutes. One second before the deadline nothing happens.
        assert run_escalations(s, RAISED + timedelta(minutes=5) - timedelta(seconds=1)) == []
        [first] = run_escalations(s, RAISED + timedelta(minutes=5))
        assert (first.level, first.reason, first.due_at) == (1, "acknowledgement_missed", RAISED + timedelta(minutes=5))
        assert first.recipients == [c.users["supervisor"].id]
        # Running the clock again within the same period takes no new step.
        assert run_escalations(s, RAISED + timedelta(minutes=9)) == []
        [second] = run_escalations(s, RAISED + timedelta(minutes=10))
        assert second.level == 2
        assert set(second.recipients) == {c.users["supervisor"].id, c.users["chief"].id}
        # The tree has two levels: nothing further, however long it stays unacknowledged.
        assert run_escalations(s, RAISED + timedelta(hours=3)) == []
        kinds = s.execute(select(AlertAction.kind).where(AlertAction.alert_id == a.id)).scalars().all()
        assert kinds == ["escalate", "escalate"]
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "escalate")).scalars().all()
        queued = s.execute(select(Delivery.recipient).where(Delivery.alert_id == a.id)).scalars().all()
        # Level 1 tells the supervisor (e-mail and SMS); level 2 tells them again and the chief.
        assert sorted(queued) == sorted(["supervisor@ala.kz", "+77010000001", "supervisor@ala.kz", "+77010000001",
                                         "chief@ala.kz"])
        queue = workflow.alert_queue(s, c.principal("operator"), RAISED + timedelta(hours=3))
        assert queue[0].overdue and queue[0].escalation_level == 2


def test_an_acknowledged_alert_does_not_escalate_for_acknowledgement(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        _tree(s, c)
        a = alert(s, person(s, c, "A-1"), severity="high", raised_at=RAISED)
        workflow.acknowledge_alert(s, c.principal("operator"), a.id, now=RAISED + timedelta(minutes=14))
        # High: acknowledge within 15 minutes (met); close within 4 hours.
        assert run_escalations(s, RAISED + timedelta(minutes=30)) == []
        [late_close] = run_escalations(s, RAISED + timedelta(hours=4))
        assert (late_close.reason, late_close.level) == ("closure_missed", 1)
        workflow.close_alert(s, c.principal("operator"), a.id, Outcome.FALSE_ALARM, now=RAISED + timedelta(hours=5))
        assert run_escalations(s, RAISED + timedelta(hours=9)) == []


def test_a_region_sets_its_own_targets(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        _tree(s, c)
        escalation.set_response_target(s, c.principal("chief"), "high", acknowledge_within=timedelta(minutes=2),
                                       region_id=c.region.id)
        alert(s, person(s, c, "A-1"), severity="high", raised_at=RAISED)
        assert run_escalations(s, RAISED + timedelta(minutes=1)) == []
        assert len(run_escalations(s, RAISED + timedelta(minutes=2))) == 1
        with pytest.raises(AccessDenied):
            escalation.set_response_target(s, c.principal("operator"), "high",
                                           acknowledge_within=timedelta(minutes=1), region_id=c.region.id)
        with pytest.raises(AccessDenied):  # a supervisor configures their own region only
            escalation.set_response_target(s, c.principal("chief"), "high", acknowledge_within=timedelta(minutes=1),
                                           region_id=None)
        with pytest.raises(DomainError):
            escalation.set_response_target(s, c.principal("chief"), "high", acknowledge_within=timedelta(minutes=9),
                                           close_within=timedelta(minutes=5), region_id=c.region.id)


def test_a_unit_tree_takes_precedence_and_without_a_tree_the_miss_is_still_recorded(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a = alert(s, person(s, c, "A-1"), type="strap_tamper", severity="critical", target=None, raised_at=RAISED)
        [step] = run_escalations(s, RAISED + timedelta(minutes=6))
        assert step.recipients == []  # nobody configured: the miss is on record and shown in the queue
        _tree(s, c)
        escalation.set_escalation_tree(s, c.principal("chief"), [LevelSpec(1, user_id=c.users["chief"].id)],
                                       region_id=c.region.id, unit_id=c.unit.id)
        tree = escalation.escalation_tree(s, c.region.id, c.unit.id)
        assert [(r.level, r.user_id) for r in tree] == [(1, c.users["chief"].id)]
        assert s.execute(select(EscalationEvent).where(EscalationEvent.alert_id == a.id)).scalars().all()


def test_the_handover_lists_open_overdue_escalated_and_closed_alerts_with_notes(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        _tree(s, c)
        p = person(s, c, "A-1")
        overdue = alert(s, p, type="strap_tamper", severity="critical", target=None, raised_at=RAISED)
        handled = alert(s, person(s, c, "A-2"), raised_at=RAISED)
        op = c.principal("operator")
        workflow.acknowledge_alert(s, op, handled.id, now=RAISED + timedelta(minutes=3))
        done = alert(s, person(s, c, "A-3"), severity="medium", raised_at=RAISED)
        workflow.close_alert(s, op, done.id, Outcome.TECHNICAL_FAULT, "battery swapped",
                             now=RAISED + timedelta(minutes=30))
        run_escalations(s, RAISED + timedelta(minutes=6))
        now = RAISED + timedelta(hours=1)
        escalation.write_handover_note(s, op, "A-1 strap: police informed, waiting for patrol", now)
        h = escalation.handover_view(s, c.principal("operator2"), now)
        assert {a.id for a in h.open_alerts} == {overdue.id, handled.id}
        assert [a.id for a in h.overdue] == [overdue.id]
        assert [e.alert_id for e in h.escalated] == [overdue.id]
        assert [a.id for a in h.closed] == [done.id]
        assert h.raised == 3
        assert h.notes[0].note.startswith("A-1 strap") and set(h.notes[0].open_alerts) == {overdue.id, handled.id}
        with pytest.raises(DomainError):
            escalation.write_handover_note(s, op, "  ", now)


def test_an_old_imported_alert_is_not_escalated(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        _tree(s, c)
        alert(s, person(s, c, "A-1"), type="strap_tamper", severity="critical", target=None, raised_at=RAISED)
        assert run_escalations(s, RAISED + timedelta(days=3)) == []
        # Still shown as overdue in the queue: nothing is hidden, only nobody is paged about history.
        [item] = workflow.alert_queue(s, c.principal("operator"), RAISED + timedelta(days=3))
        assert item.overdue and item.escalation_level == 0
