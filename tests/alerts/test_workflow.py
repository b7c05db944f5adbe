"""The queue and the life of an alert: claim, acknowledge, act, close with a decision; incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.access import AccessDenied, NotVisible
from kuzet.alerts import workflow
from kuzet.alerts.vocabulary import ActionKind, Outcome
from kuzet.audit import verify
from kuzet.domain.errors import DomainError
from kuzet.gateway.models import DeviceCommand
from kuzet.store.models import AlertAction, AuditEntry

from .factories import T0, alert, centre, person


def test_the_queue_is_ordered_by_severity_then_age_and_scoped_to_the_region(
        sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        c = centre(s, "ALA")
        other = centre(s, "SHY")
        a, b = person(s, c, "A-1"), person(s, c, "A-2")
        old_high = alert(s, a, severity="high", start=T0)
        new_critical = alert(s, b, type="strap_tamper", severity="critical", target=None,
                             start=T0 + timedelta(hours=3))
        older_critical = alert(s, a, type="exclusion_entry", severity="critical", target="school",
                               start=T0 + timedelta(hours=1))
        low = alert(s, b, type="battery_critical", severity="low", target=None, start=T0 - timedelta(hours=5))
        foreign = alert(s, person(s, other, "S-1"), severity="critical", start=T0)
        queue = workflow.alert_queue(s, c.principal("operator"), T0 + timedelta(hours=4))
        assert [i.alert.id for i in queue] == [older_critical.id, new_critical.id, old_high.id, low.id]
        assert foreign.id not in {i.alert.id for i in queue}
        with pytest.raises(AccessDenied):
            workflow.alert_queue(s, c.principal("auditor"), T0)
        with pytest.raises(NotVisible):
            workflow.get_alert(s, c.principal("operator"), foreign.id)


def test_an_operator_claims_acknowledges_acts_and_closes_with_an_outcome(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        c = centre(s)
        a = alert(s, person(s, c, "A-1"))
        op = c.principal("operator")
        workflow.claim_alert(s, op, a.id, now=T0 + timedelta(minutes=6))
        assert (a.status, a.assignee_id) == ("claimed", op.user_id)
        with pytest.raises(DomainError, match="already claimed"):
            workflow.claim_alert(s, c.principal("operator2"), a.id, now=T0 + timedelta(minutes=7))
        workflow.acknowledge_alert(s, op, a.id, "seen", now=T0 + timedelta(minutes=8))
        assert a.status == "acknowledged" and a.acknowledged_at == T0 + timedelta(minutes=8)
        workflow.record_action(s, op, a.id, ActionKind.CALL_PERSON, "no answer", now=T0 + timedelta(minutes=9))
        located = workflow.record_action(s, op, a.id, "locate_now", now=T0 + timedelta(minutes=10))
        assert (located.detail["device"], located.detail["command"]) == ("DEV-A-1", "queued")
        command = s.get(DeviceCommand, located.detail["command_id"])  # sent on the device's next connection
        assert command is not None and (command.device_serial, command.kind) == ("DEV-A-1", "locate")
        messaged = workflow.record_action(s, op, a.id, ActionKind.MESSAGE_DEVICE, "Call your officer now",
                                          now=T0 + timedelta(minutes=10))
        sent = s.get(DeviceCommand, messaged.detail["command_id"])
        assert sent is not None and sent.payload == {"text": "Call your officer now"}
        workflow.record_action(s, op, a.id, ActionKind.VISIT, "patrol sent", now=T0 + timedelta(minutes=11))
        workflow.close_alert(s, op, a.id, Outcome.VIOLATION_CONFIRMED, "came home at 23:40",
                             now=T0 + timedelta(minutes=50))
        assert (a.status, a.outcome, a.outcome_note) == ("closed", "violation_confirmed", "came home at 23:40")
        kinds = [x.kind for x in s.execute(select(AlertAction).where(AlertAction.alert_id == a.id)
                                           .order_by(AlertAction.id)).scalars()]
        assert kinds == ["claim", "acknowledge", "call_person", "locate_now", "message_device", "visit", "close"]
        with pytest.raises(DomainError, match="already closed"):
            workflow.record_action(s, op, a.id, ActionKind.VISIT)
        trail = s.execute(select(AuditEntry.action).where(AuditEntry.object_type == "alert",
                                                          AuditEntry.object_id == str(a.id))).scalars().all()
        assert {"claim", "acknowledge", "locate_now", "close"} <= set(trail)
    with sessions() as s:
        assert verify(s).ok


def test_a_critical_alert_cannot_close_without_a_note(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a = alert(s, person(s, c, "A-1"), type="strap_tamper", severity="critical", target=None)
        op = c.principal("operator")
        for note in ("", "   "):
            with pytest.raises(DomainError, match="without a note") as err:
                workflow.close_alert(s, op, a.id, Outcome.FALSE_ALARM, note, now=T0 + timedelta(minutes=9))
            assert err.value.field == "note"
        assert a.status == "new"
        with pytest.raises(DomainError, match="unknown outcome"):
            workflow.close_alert(s, op, a.id, "nothing", "x")
        workflow.close_alert(s, op, a.id, Outcome.TECHNICAL_FAULT, "strap sensor faulty, device swapped",
                             now=T0 + timedelta(minutes=10))
        assert a.outcome == "technical_fault" and a.acknowledged_at == T0 + timedelta(minutes=10)


def test_a_high_alert_may_close_without_a_note(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a = alert(s, person(s, c, "A-1"), severity="high")
        workflow.close_alert(s, c.principal("operator"), a.id, Outcome.AUTHORISED, now=T0 + timedelta(minutes=9))
        assert a.status == "closed"


def test_related_alerts_of_one_person_group_into_one_incident(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a, b = person(s, c, "A-1"), person(s, c, "A-2")
        strap = alert(s, a, type="strap_tamper", severity="critical", target=None, start=T0)
        curfew = alert(s, a, type="curfew_absence", severity="high", start=T0 + timedelta(minutes=20))
        silence = alert(s, a, type="communication_loss", severity="high", target=None,
                        start=T0 + timedelta(minutes=50))
        someone_else = alert(s, b, start=T0 + timedelta(minutes=1))
        first = workflow.group_into_incident(s, strap)
        assert workflow.group_into_incident(s, curfew).id == first.id
        assert workflow.group_into_incident(s, silence).id == first.id
        assert workflow.group_into_incident(s, someone_else).id != first.id
        assert workflow.group_into_incident(s, strap).id == first.id  # idempotent
        assert first.severity == "critical"
        queue = {i.alert.id: i for i in workflow.alert_queue(s, c.principal("operator"), T0 + timedelta(hours=1))}
        assert queue[curfew.id].incident_id == first.id and queue[curfew.id].incident_size == 3
        detail = workflow.alert_detail(s, c.principal("operator"), curfew.id)
        assert {r.id for r in detail.related} == {strap.id, silence.id}

        op = c.principal("operator")
        closed = workflow.close_incident(s, op, first.id, Outcome.VIOLATION_CONFIRMED, "cut the strap and fled",
                                         now=T0 + timedelta(hours=2))
        assert {x.id for x in closed} == {strap.id, curfew.id, silence.id}
        assert first.status == "closed"
        # A day later the same person starts a new incident.
        later = alert(s, a, start=T0 + timedelta(days=1))
        assert workflow.group_into_incident(s, later).id != first.id


def test_an_incident_stays_open_while_its_episodes_go_on_and_a_later_alert_starts_a_new_one(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a = person(s, c, "A-1")
        first = alert(s, a, start=T0)
        inc = workflow.group_into_incident(s, first)
        # Still going on (no end): a later alert of the same person joins the open incident.
        still_open = alert(s, a, type="location_loss", severity="medium", target=None, start=T0 + timedelta(hours=5))
        assert workflow.group_into_incident(s, still_open).id == inc.id
        # Once those episodes have ended long before, a new alert starts a new incident even if they are open.
        first.end, still_open.end = T0 + timedelta(minutes=30), T0 + timedelta(hours=5, minutes=10)
        much_later = alert(s, a, type="strap_tamper", severity="critical", target=None, start=T0 + timedelta(hours=9))
        assert workflow.group_into_incident(s, much_later).id != inc.id


def test_another_operator_may_take_over_a_claim_and_it_is_recorded(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a = alert(s, person(s, c, "A-1"))
        workflow.claim_alert(s, c.principal("operator"), a.id, now=T0)
        workflow.claim_alert(s, c.principal("operator2"), a.id, now=T0 + timedelta(minutes=1), take_over=True)
        assert a.assignee_id == c.users["operator2"].id
        last = s.execute(select(AlertAction).where(AlertAction.alert_id == a.id)
                         .order_by(AlertAction.id.desc())).scalars().first()
        assert last is not None and last.detail == {"previous_assignee": c.users["operator"].id}


def test_a_confirmed_violation_becomes_a_written_warning_then_a_draft_submission_to_court(
        sqlite_sessions: sessionmaker[Session]) -> None:
    from kuzet.casework.models import CourtSubmission, Violation, WrittenWarning

    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a = alert(s, person(s, c, "A-1"))
        officer = c.principal("officer")
        with pytest.raises(DomainError, match="confirmed violation first"):
            workflow.escalate_to_casework(s, officer, a.id, "written_warning")
        workflow.close_alert(s, officer, a.id, Outcome.VIOLATION_CONFIRMED, "out all night",
                             now=T0 + timedelta(hours=9))
        # Casework's rule: a written warning comes before asking the court.
        with pytest.raises(DomainError, match="written warning"), s.begin_nested():
            workflow.escalate_to_casework(s, officer, a.id, "court_submission", now=T0 + timedelta(hours=10))
        warning = workflow.escalate_to_casework(s, officer, a.id, "written_warning", now=T0 + timedelta(hours=10))
        court = workflow.escalate_to_casework(s, officer, a.id, "court_submission", "third curfew breach",
                                              now=T0 + timedelta(hours=11))
        violation = s.execute(select(Violation).where(Violation.alert_id == a.id)).scalar_one()
        assert warning["violation_id"] == court["violation_id"] == violation.id
        assert s.get(WrittenWarning, warning["record_id"]) is not None
        submission = s.get(CourtSubmission, court["record_id"])
        assert submission is not None and submission.status == "draft" and submission.grounds == "third curfew breach"
        kinds = s.execute(select(AlertAction.kind).where(AlertAction.alert_id == a.id)).scalars().all()
        assert kinds[-2:] == ["casework_written_warning", "casework_court_submission"]
