"""E-mail, SMS and webhooks against real servers on 127.0.0.1: delivery, retry after failure, never twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.alerts import escalation, notifications, workflow
from kuzet.alerts.escalation import LevelSpec
from kuzet.alerts.models import Delivery
from kuzet.alerts.notifications import Transports, deliver_pending, on_alert_raised, subscribe
from kuzet.alerts.vocabulary import Outcome

from .factories import T0, alert, centre, person
from .servers import HttpEndpoint, SmtpInbox, free_port, http_endpoint, smtp_server

SECRET = "webhook-secret-for-tests-0123"


@pytest.fixture
def smtp() -> Iterator[tuple[int, SmtpInbox]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def http() -> Iterator[HttpEndpoint]:
    with http_endpoint() as endpoint:
        yield endpoint


def transports(smtp_port: int, http: HttpEndpoint | None = None) -> Transports:
    return Transports(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_sender="centre@kuzet.kz",
                      sms_gateway_url=f"{http.base}/sms" if http else "", webhook_secret=SECRET, timeout_s=3.0,
                      locale="en")


def deliveries(s: Session) -> list[Delivery]:
    return list(s.execute(select(Delivery).order_by(Delivery.id)).scalars())


def test_an_email_is_retried_after_a_failure_and_never_sent_twice(
        sessions: sessionmaker[Session], smtp: tuple[int, SmtpInbox]) -> None:
    port, inbox = smtp
    t = transports(port)
    inbox.fail_next = 1
    raised = T0 + timedelta(minutes=5)
    with sessions() as s, s.begin():
        c = centre(s)
        subscribe(s, channel="email", address="duty@ala.kz", region_id=c.region.id, min_severity="high")
        subscribe(s, channel="email", address="critical-only@ala.kz", min_severity="critical")
        a = alert(s, person(s, c, "A-1"), severity="high", raised_at=raised)
        queued = on_alert_raised(s, a.id, raised, transports=t)
        assert [(d.recipient, d.status, d.attempts) for d in queued] == [("duty@ala.kz", "pending", 1)]
        assert "451" in queued[0].last_error
        assert queued[0].next_attempt_at == raised + timedelta(seconds=30)
        alert_id = a.id
    assert inbox.messages == []
    with sessions() as s, s.begin():
        assert deliver_pending(s, raised + timedelta(seconds=29), transports=t).sent == 0  # backoff not over
        assert deliver_pending(s, raised + timedelta(seconds=30), transports=t).sent == 1
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert inbox.envelopes[0] == ("centre@kuzet.kz", ["duty@ala.kz"])
    assert "A-1" in message["Subject"] and "curfew" in message["Subject"].lower()
    with sessions() as s, s.begin():
        row = deliveries(s)[0]
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
        assert message["Message-ID"].strip() == f"<{row.idempotency_key}@kuzet>"
        assert message["X-Kuzet-Idempotency-Key"].strip() == row.idempotency_key
        # The monitor calls again (a restart re-raises the same episode): nothing new is queued or sent.
        assert on_alert_raised(s, alert_id, raised + timedelta(minutes=1), transports=t) == []
        assert deliver_pending(s, raised + timedelta(hours=2), transports=t).sent == 0
        assert len(deliveries(s)) == 1
    assert len(inbox.messages) == 1


def test_a_protected_person_is_warned_by_sms_at_once_and_only_once(
        sqlite_sessions: sessionmaker[Session], smtp: tuple[int, SmtpInbox], http: HttpEndpoint) -> None:
    t = transports(smtp[0], http)
    raised = T0 + timedelta(minutes=2)
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        p = person(s, c, "A-1", protected_phone="+77015550101")
        a = alert(s, p, type="proximity", severity="critical", target="P-1", raised_at=raised)
        sent = on_alert_raised(s, a.id, raised, transports=t)
        assert [(d.channel, d.recipient, d.status) for d in sent] == [("sms", "+77015550101", "sent")]
        assert sent[0].sent_at == raised  # at once, in the same call that saw the alert raised
        on_alert_raised(s, a.id, raised + timedelta(seconds=5), transports=t)
        deliver_pending(s, raised + timedelta(hours=1), transports=t)
    assert len(http.received) == 1
    sms = http.received[0]
    assert sms.path == "/sms"
    body = sms.json()
    assert body["to"] == "+77015550101" and "safe place" in body["text"]
    assert body["reference"] == sms.headers["idempotency-key"]
    assert "43." not in body["text"] and "76." not in body["text"]  # no location in the message
    assert "authorization" not in sms.headers  # no token configured, none sent


def test_the_sms_gateway_gets_its_bearer_token(sqlite_sessions: sessionmaker[Session], http: HttpEndpoint) -> None:
    t = Transports(sms_gateway_url=f"{http.base}/sms", sms_gateway_token="gw-token-0123", timeout_s=3.0)
    raised = T0 + timedelta(minutes=2)
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        a = alert(s, person(s, c, "A-1", protected_phone="+77015550101"), type="proximity", severity="critical",
                  target="P-1", raised_at=raised)
        on_alert_raised(s, a.id, raised, transports=t)
    [sms] = http.received
    assert sms.headers["authorization"] == "Bearer gw-token-0123"


def test_an_sms_gateway_failure_is_retried_with_backoff_until_it_answers(
        sqlite_sessions: sessionmaker[Session], http: HttpEndpoint) -> None:
    t = transports(free_port(), http)
    http.fail_with = [503, 502]
    raised = T0 + timedelta(minutes=2)
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        subscribe(s, channel="sms", address="+77010000099", region_id=c.region.id)
        a = alert(s, person(s, c, "A-1"), raised_at=raised)
        [row] = on_alert_raised(s, a.id, raised, transports=t)
        assert (row.status, row.attempts) == ("pending", 1) and "503" in row.last_error
        deliver_pending(s, raised + timedelta(seconds=30), transports=t)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 2, raised + timedelta(seconds=90))
        deliver_pending(s, raised + timedelta(seconds=89), transports=t)
        assert row.attempts == 2
        deliver_pending(s, raised + timedelta(seconds=90), transports=t)
        assert (row.status, row.attempts) == ("sent", 3)
    assert [r.json()["to"] for r in http.received] == ["+77010000099"]


def test_a_webhook_is_signed_over_its_body_with_a_timestamp(
        sqlite_sessions: sessionmaker[Session], http: HttpEndpoint) -> None:
    t = transports(free_port(), http)
    raised = T0 + timedelta(minutes=2)
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        subscribe(s, channel="webhook", address=f"{http.base}/hooks/police", events=["raised", "closed"])
        subscribe(s, channel="webhook", address=f"{http.base}/hooks/own-secret", secret="another-secret-456")
        a = alert(s, person(s, c, "A-1"), type="exclusion_entry", severity="critical", target="school",
                  raised_at=raised)
        on_alert_raised(s, a.id, raised, transports=t)
        workflow.close_alert(s, c.principal("operator"), a.id, Outcome.FALSE_ALARM, "GPS drift by the school",
                             now=raised + timedelta(minutes=3))
        deliver_pending(s, raised + timedelta(minutes=3), transports=t)
    by_path = {(r.path, r.headers["x-kuzet-event"]): r for r in http.received}
    assert set(by_path) == {("/hooks/police", "raised"), ("/hooks/own-secret", "raised"),
                            ("/hooks/police", "closed")}
    hook = by_path[("/hooks/police", "raised")]
    ts, sig = hook.headers["x-kuzet-timestamp"], hook.headers["x-kuzet-signature"]
    assert int(ts) == int(raised.timestamp())
    assert sig.startswith("sha256=")
    assert notifications.verify_webhook_signature(SECRET, ts, sig, hook.body, now=raised)
    assert not notifications.verify_webhook_signature(SECRET, ts, sig, hook.body + b" ", now=raised)
    assert not notifications.verify_webhook_signature("wrong", ts, sig, hook.body, now=raised)
    assert not notifications.verify_webhook_signature(SECRET, ts, sig, hook.body, now=raised + timedelta(hours=1))
    payload = hook.json()
    assert payload["event"] == "raised" and payload["alert"]["subject"] == "A-1"
    assert payload["alert"]["type"] == "exclusion_entry" and payload["idempotency_key"] == \
        hook.headers["idempotency-key"]
    own = by_path[("/hooks/own-secret", "raised")]
    assert notifications.verify_webhook_signature("another-secret-456", own.headers["x-kuzet-timestamp"],
                                                  own.headers["x-kuzet-signature"], own.body, now=raised)
    closed = by_path[("/hooks/police", "closed")].json()
    assert closed["alert"]["outcome"] == "false_alarm"


def test_a_rejected_message_is_given_up_and_a_dead_endpoint_after_the_last_attempt(
        sqlite_sessions: sessionmaker[Session], http: HttpEndpoint) -> None:
    t = Transports(sms_gateway_url=f"{http.base}/sms", webhook_secret=SECRET, timeout_s=2.0, max_attempts=3,
                   smtp_port=free_port())
    http.fail_with = [400]
    raised = T0
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        subscribe(s, channel="sms", address="+77010000098")
        subscribe(s, channel="webhook", address=f"http://127.0.0.1:{free_port()}/nobody-listens")
        a = alert(s, person(s, c, "A-1"), raised_at=raised)
        sms, hook = on_alert_raised(s, a.id, raised, transports=t)
        assert (sms.status, sms.attempts) == ("failed", 1) and "HTTP 400" in sms.last_error
        for minutes in (1, 2, 5):
            deliver_pending(s, raised + timedelta(minutes=minutes), transports=t)
        assert (hook.status, hook.attempts) == ("failed", 3)
        assert "Connect" in hook.last_error


def test_a_missed_acknowledgement_is_mailed_to_the_next_level_of_the_tree(
        sqlite_sessions: sessionmaker[Session], smtp: tuple[int, SmtpInbox]) -> None:
    port, inbox = smtp
    t = transports(port)
    raised = T0 + timedelta(minutes=5)
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        escalation.set_escalation_tree(s, c.principal("chief"), [LevelSpec(1, user_id=c.users["supervisor"].id),
                                                  LevelSpec(2, user_id=c.users["chief"].id)],
                                       region_id=c.region.id)
        a = alert(s, person(s, c, "A-1"), type="strap_tamper", severity="critical", target=None, raised_at=raised)
        alert_id = a.id
        on_alert_raised(s, a.id, raised, transports=t)
        escalation.run_escalations(s, raised + timedelta(minutes=5), transports=t)
        deliver_pending(s, raised + timedelta(minutes=5), transports=t)
    assert [m["To"] for m in inbox.messages] == ["supervisor@ala.kz"]
    assert inbox.messages[0]["Subject"] == "[Kuzet] Escalated: Strap tamper — A-1"
    body = inbox.messages[0].get_content()
    assert "Escalation level 1: not acknowledged in time" in body and f"/ui/queue/{alert_id}" in body


async def test_the_worker_escalates_and_delivers_on_its_own_clock(
        sqlite_sessions: sessionmaker[Session], smtp: tuple[int, SmtpInbox]) -> None:
    import asyncio

    from kuzet.alerts.notifications import run_alert_worker

    port, inbox = smtp
    raised = T0 + timedelta(minutes=5)
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        escalation.set_escalation_tree(s, c.principal("chief"), [LevelSpec(1, user_id=c.users["supervisor"].id)],
                                       region_id=c.region.id)
        a = alert(s, person(s, c, "A-1"), type="strap_tamper", severity="critical", target=None, raised_at=raised)
        on_alert_raised(s, a.id, raised, transports=transports(port), send=False)
    stop = asyncio.Event()
    clock_now = raised + timedelta(minutes=6)
    task = asyncio.create_task(run_alert_worker(sqlite_sessions, stop, clock=lambda: clock_now,
                                                interval=timedelta(milliseconds=50), transports=transports(port)))
    for _ in range(200):
        if inbox.messages:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert [m["To"] for m in inbox.messages] == ["supervisor@ala.kz"]


def test_an_alert_written_without_the_hook_is_announced_by_the_next_pass_and_an_old_one_never(
        sqlite_sessions: sessionmaker[Session], http: HttpEndpoint) -> None:
    t = transports(free_port(), http)
    raised = T0 + timedelta(minutes=2)
    with sqlite_sessions() as s, s.begin():
        c = centre(s)
        p = person(s, c, "A-1", protected_phone="+77015550101")
        fresh = alert(s, p, type="proximity", severity="critical", target="P-1", raised_at=raised)
        imported = alert(s, person(s, c, "A-2", protected_phone="+77015550102"), type="proximity",
                         severity="critical", target="P-1", raised_at=raised - timedelta(days=2))
        # The worker's pass, ten seconds later: group, announce, deliver.
        escalation.run_escalations(s, raised + timedelta(seconds=10), transports=t)
        deliver_pending(s, raised + timedelta(seconds=10), transports=t)
        assert workflow.incident_of(s, fresh.id) is not None and workflow.incident_of(s, imported.id) is not None
        assert [d.recipient for d in deliveries(s)] == ["+77015550101"]
    assert [r.json()["to"] for r in http.received] == ["+77015550101"]
