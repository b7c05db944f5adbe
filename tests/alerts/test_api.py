"""The workflow API over HTTP on the web tests' two-region world: the whole life of an alert, rules per role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.alerts.models import AuthorisedAbsence
from tests.web.world import USERS, World, add_alert

WORKERS = {"officer_n1", "officer_n1b", "officer_s", "supervisor_n1", "supervisor_n2", "operator_n", "operator_s",
           "admin"}


def test_an_operator_works_an_alert_from_the_queue_to_closure(client: TestClient, world: World,
                                                              factory: sessionmaker[Session]) -> None:
    op = world.auth("operator_n")
    alert_id = add_alert(factory, "N-A", world.people["N-A"], world.regions["N"], datetime.now(UTC),
                         alert_type="strap_tamper", severity="critical")
    queue = client.get("/api/v1/alerts/workflow/queue", headers=op)
    assert queue.status_code == 200
    rows = queue.json()
    assert rows[0]["id"] == alert_id and rows[0]["severity"] == "critical"
    assert {r["region_id"] for r in rows} == {world.regions["N"]}
    assert rows[0]["incident_id"] is not None

    assert client.post(f"/api/v1/alerts/{alert_id}/claim", headers=op).json()["status"] == "claimed"
    other = client.post(f"/api/v1/alerts/{alert_id}/claim", headers=world.auth("supervisor_n1"))
    assert other.status_code == 422 and "already claimed" in other.json()["detail"]
    ack = client.post(f"/api/v1/alerts/{alert_id}/workflow/acknowledge", json={"note": "on it"}, headers=op)
    assert ack.json()["status"] == "acknowledged" and ack.json()["acknowledged_at"]
    act = client.post(f"/api/v1/alerts/{alert_id}/actions", json={"kind": "call_person", "note": "no answer"},
                      headers=op)
    assert act.status_code == 201
    assert client.post(f"/api/v1/alerts/{alert_id}/actions", json={"kind": "dance"}, headers=op).status_code == 422
    refused = client.post(f"/api/v1/alerts/{alert_id}/close", json={"outcome": "false_alarm"}, headers=op)
    assert refused.status_code == 422 and refused.json()["field"] == "note"
    closed = client.post(f"/api/v1/alerts/{alert_id}/close",
                         json={"outcome": "violation_confirmed", "note": "strap cut, patrol found him at home"},
                         headers=op)
    assert closed.status_code == 200 and closed.json()["outcome"] == "violation_confirmed"
    detail = client.get(f"/api/v1/alerts/{alert_id}/workflow", headers=op).json()
    assert [a["kind"] for a in detail["actions"]] == ["claim", "acknowledge", "call_person", "close"]
    assert alert_id not in {r["id"] for r in client.get("/api/v1/alerts/workflow/queue", headers=op).json()}


def test_workflow_endpoints_answer_only_within_scope(client: TestClient, world: World) -> None:
    alert_id = world.alerts["S-A"]
    for user in USERS:
        status = client.get(f"/api/v1/alerts/{alert_id}/workflow", headers=world.auth(user)).status_code
        if user not in WORKERS:
            assert status == 403, user
        elif user in ("officer_s", "operator_s", "admin"):
            assert status == 200, user
        else:
            assert status == 404, user
    for user in ("auditor", "partner", "analyst", "police"):
        assert client.get("/api/v1/alerts/workflow/queue", headers=world.auth(user)).status_code == 403
    assert client.get("/api/v1/alerts/workflow/queue").status_code == 401


def test_an_officer_grants_an_absence_through_the_api_and_an_operator_may_not(
        client: TestClient, world: World, factory: sessionmaker[Session]) -> None:
    person_id = world.people["N-A"]
    start = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    body = {"start": start.isoformat(), "end": (start + timedelta(hours=6)).isoformat(), "reason": "court",
            "note": "hearing"}
    url = f"/api/v1/alerts/workflow/absences/{person_id}"
    assert client.post(url, json=body, headers=world.auth("operator_n")).status_code == 403
    assert client.post(url, json=body, headers=world.auth("officer_s")).status_code == 404
    granted = client.post(url, json=body, headers=world.auth("officer_n1"))
    assert granted.status_code == 201, granted.text
    listed = client.get(url, headers=world.auth("operator_n")).json()
    assert [a["reason"] for a in listed] == ["court"]
    revoked = client.delete(f"{url}/{granted.json()['id']}", headers=world.auth("supervisor_n1"))
    assert revoked.status_code == 200
    with factory() as s:
        row = s.execute(select(AuthorisedAbsence).where(AuthorisedAbsence.id == granted.json()["id"])).scalar_one()
        assert row.revoked_at is not None


def test_configuration_is_for_supervisors_of_the_region_and_administrators(
        client: TestClient, world: World) -> None:
    target = {"severity": "high", "acknowledge_within_s": 600, "region_id": world.regions["N"]}
    assert client.put("/api/v1/alerts/workflow/targets", json=target,
                      headers=world.auth("operator_n")).status_code == 403
    assert client.put("/api/v1/alerts/workflow/targets", json=target,
                      headers=world.auth("supervisor_n1")).status_code == 200
    assert client.put("/api/v1/alerts/workflow/targets", json={**target, "region_id": world.regions["S"]},
                      headers=world.auth("supervisor_n1")).status_code == 403
    tree = {"region_id": world.regions["N"], "levels": [{"level": 1, "user_id": world.user_ids["supervisor_n1"]},
                                                        {"level": 2, "role": "supervisor"}]}
    assert client.put("/api/v1/alerts/workflow/escalation-tree", json=tree,
                      headers=world.auth("admin")).status_code == 200
    hook = {"channel": "webhook", "address": "https://police.example/hooks/kuzet", "region_id": world.regions["N"]}
    assert client.post("/api/v1/alerts/workflow/subscriptions", json=hook,
                       headers=world.auth("supervisor_n1")).status_code == 201
    assert client.post("/api/v1/alerts/workflow/subscriptions", json={**hook, "address": "ftp://x"},
                       headers=world.auth("admin")).status_code == 422
    assert client.get("/api/v1/alerts/workflow/deliveries", headers=world.auth("admin")).status_code == 200
    assert client.get("/api/v1/alerts/workflow/deliveries", headers=world.auth("supervisor_n1")).status_code == 403


def test_the_handover_and_its_notes(client: TestClient, world: World) -> None:
    op = world.auth("operator_n")
    assert client.post("/api/v1/alerts/workflow/handover-notes", json={"note": "N-B: officer visiting at 08:00"},
                       headers=op).status_code == 201
    h = client.get("/api/v1/alerts/workflow/handover", headers=world.auth("operator_n")).json()
    assert h["notes"][0]["note"] == "N-B: officer visiting at 08:00"
    assert {a["region_id"] for a in h["open"]} <= {world.regions["N"]}
    other = client.get("/api/v1/alerts/workflow/handover", headers=world.auth("operator_s")).json()
    assert all(n["note"] != "N-B: officer visiting at 08:00" for n in other["notes"])


def test_a_supervisor_sets_targets_tree_and_recipients_on_the_settings_page(
        client: TestClient, world: World, factory: sessionmaker[Session]) -> None:
    from kuzet.alerts.escalation import escalation_tree, response_target

    sup = world.auth("supervisor_n1")
    assert client.get("/ui/alert-settings", headers=sup).status_code == 200
    r = client.post("/ui/alert-settings/targets", data={"severity": "critical", "acknowledge_min": "3",
                                                        "close_min": "45"}, headers=sup, follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"]
    r = client.post("/ui/alert-settings/tree", data={"levels": "1 @supervisor_n1\n2 supervisor"}, headers=sup,
                    follow_redirects=False)
    assert "error" not in r.headers["location"]
    bad = client.post("/ui/alert-settings/tree", data={"levels": "1 @nobody"}, headers=sup, follow_redirects=False)
    assert "error=" in bad.headers["location"]
    client.post("/ui/alert-settings/subscriptions", data={"channel": "email", "address": "duty@north.kz",
                                                         "min_severity": "high"}, headers=sup)
    page = client.get("/ui/alert-settings", headers=sup).text
    assert "duty@north.kz" in page
    with factory() as s:
        target = response_target(s, "critical", world.regions["N"])
        assert target.acknowledge_within == timedelta(minutes=3) and target.close_within == timedelta(minutes=45)
        tree = escalation_tree(s, world.regions["N"], None)
        assert [(t.level, t.user_id, t.role) for t in tree] == [(1, world.user_ids["supervisor_n1"], None),
                                                                (2, None, "supervisor")]
    assert client.get("/ui/alert-settings", headers=world.auth("operator_n")).status_code == 403
