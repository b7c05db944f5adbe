"""The privacy API: only the police liaison asks crime-scene questions; holds and purge for oversight roles."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.auth.service import create_user, issue_api_token
from kuzet.domain.enums import Role
from kuzet.settings import Settings
from kuzet.store.models import AuditEntry
from kuzet.web.app import create_app

from .factories import SCENE, east_of_scene, fix, organisation, store_and_index, wearer
from .test_matching import END, FITTED, START

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Api = tuple[TestClient, dict[str, dict[str, str]], sessionmaker[Session]]
ROLES = {"police": Role.POLICE_LIAISON, "officer": Role.OFFICER, "auditor": Role.AUDITOR,
         "admin": Role.ADMINISTRATOR, "analyst": Role.ANALYST}


@pytest.fixture
def api(sqlite_url: str, sqlite_sessions: sessionmaker[Session]) -> Iterator[Api]:
    headers: dict[str, dict[str, str]] = {}
    with sqlite_sessions.begin() as session:
        unit = organisation(session)
        for name, role in ROLES.items():
            scoped = role in (Role.OFFICER,)
            user = create_user(session, name, "correct horse battery", role,
                               region_id=unit.region_id if scoped or role is Role.POLICE_LIAISON else None,
                               unit_id=unit.id if scoped else None)
            headers[name] = {"Authorization": f"Bearer {issue_api_token(session, user)}"}
        w = wearer(session, unit, "S-1", FITTED)
        store_and_index(session, [fix(w, START + timedelta(minutes=5), *east_of_scene(100.0), 6.0)])
    app = create_app(Settings(database_url=sqlite_url, secret_key="test-secret-key-0123456789"))
    with TestClient(app) as client:
        yield client, headers, sqlite_sessions


QUESTION = {"place": {"type": "Circle", "coordinates": list(SCENE), "radius_m": 500},
            "start": START.isoformat(), "end": END.isoformat(), "case_reference": "KUI-2026-0412",
            "reason": "street robbery reported at 20:40"}


def test_police_liaison_gets_the_answer_and_it_is_audited(api: Api) -> None:
    client, headers, sessions = api
    response = client.post("/api/v1/privacy/crime-scene-queries", json=QUESTION, headers=headers["police"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["person_code"] for p in body["within"]] == ["S-1"]
    assert body["within"][0]["closest_m"] == pytest.approx(100.0, abs=0.1)
    assert body["algorithm_version"].startswith("kuzet-crime-match/")
    with sessions() as session:
        entry = session.get(AuditEntry, body["audit_id"])
        assert entry is not None and (entry.username, entry.purpose) == ("police", QUESTION["reason"])


@pytest.mark.parametrize("user", ["officer", "auditor", "admin", "analyst"])
def test_other_roles_may_not_ask(api: Api,
                                 user: str) -> None:
    client, headers, sessions = api
    response = client.post("/api/v1/privacy/crime-scene-queries", json=QUESTION, headers=headers[user])
    assert response.status_code == 403
    with sessions() as session:
        assert session.execute(select(AuditEntry).where(AuditEntry.action == "crime_match")).first() is None
        refused = session.execute(select(AuditEntry).where(AuditEntry.action == "crime_match_refused")
                                  ).scalars().all()
    # The attempt itself is in the trail: who tried, with which role, and why it was refused.
    assert [(e.username, e.role, e.object_type) for e in refused] == [(user, ROLES[user].value,
                                                                        "crime_scene_query")]
    assert "police_liaison" in refused[0].detail["why"]


def test_a_question_without_case_reference_or_reason_is_refused_and_audited(
        api: Api) -> None:
    client, headers, sessions = api
    for missing in ("case_reference", "reason"):
        body = {**QUESTION, missing: "  "}
        response = client.post("/api/v1/privacy/crime-scene-queries", json=body, headers=headers["police"])
        assert response.status_code == 422, response.text
    assert client.post("/api/v1/privacy/crime-scene-queries", json=QUESTION).status_code == 401
    with sessions() as session:
        refused = session.execute(select(AuditEntry).where(AuditEntry.action == "crime_match_refused")
                                  .order_by(AuditEntry.id)).scalars().all()
        answered = session.execute(select(AuditEntry).where(AuditEntry.action == "crime_match")).first()
    assert answered is None
    assert [(e.username, e.object_id, e.purpose) for e in refused] == [
        ("police", "", QUESTION["reason"]), ("police", QUESTION["case_reference"], "")]
    assert "case reference" in refused[0].detail["why"] and "reason" in refused[1].detail["why"]
    assert refused[0].detail["place"]["radius_m"] == 500


def test_holds_and_purge_are_for_administrators_and_readable_by_auditors(
        api: Api) -> None:
    client, headers, _ = api
    hold = {"case_reference": "2-1/2026", "reason": "appeal", "person_id": 1}
    assert client.post("/api/v1/privacy/holds", json=hold, headers=headers["auditor"]).status_code == 403
    created = client.post("/api/v1/privacy/holds", json=hold, headers=headers["admin"])
    assert created.status_code == 201, created.text
    assert [h["case_reference"] for h in client.get("/api/v1/privacy/holds", headers=headers["auditor"]).json()] \
        == ["2-1/2026"]
    assert client.get("/api/v1/privacy/holds", headers=headers["police"]).status_code == 403
    assert client.post("/api/v1/privacy/purge", headers=headers["auditor"]).status_code == 403
    ran = client.post("/api/v1/privacy/purge", headers=headers["admin"])
    assert ran.status_code == 200
    log = client.get("/api/v1/privacy/purge-log", headers=headers["auditor"]).json()
    assert {e["category"] for e in log} == {"positions", "alerts", "audit", "documents"}
    assert client.get("/api/v1/privacy/retention", headers=headers["auditor"]).json()["positions"] > 0
    released = client.post(f"/api/v1/privacy/holds/{created.json()['id']}/release", json={"reason": "decided"},
                           headers=headers["admin"])
    assert released.status_code == 200 and released.json()["released_by"] == "admin"
    again = client.post(f"/api/v1/privacy/holds/{created.json()['id']}/release", json={"reason": "decided"},
                        headers=headers["admin"])
    assert again.status_code == 409


def test_an_administrator_answers_a_subject_access_request_with_a_zip(api: Api) -> None:
    client, headers, sessions = api
    body = {"purpose": "request of 2026-11-20, ref SAR-17"}
    url = "/api/v1/privacy/subject-access/S-1"
    for user in ("officer", "auditor", "police", "analyst"):
        assert client.post(url, json=body, headers=headers[user]).status_code == 403
    assert client.post("/api/v1/privacy/subject-access/NOBODY", json=body,
                       headers=headers["admin"]).status_code == 404
    assert client.post(url, json={"purpose": ""}, headers=headers["admin"]).status_code == 422
    response = client.post(url, json=body, headers=headers["admin"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        assert {"records.json", "subject-access.pdf", "bundle/scenario.json", "bundle/reports.ndjson"} <= names
        assert archive.read("subject-access.pdf").startswith(b"%PDF")
        reports = [orjson.loads(line) for line in archive.read("bundle/reports.ndjson").splitlines() if line]
        assert len(reports) == 1 and reports[0]["device"] == "D-S-1"
        assert orjson.loads(archive.read("records.json"))["person"]["code"] == "S-1"
    with sessions() as session:
        entries = session.execute(select(AuditEntry).where(AuditEntry.action == "subject_access_export")
                                  ).scalars().all()
    assert [(e.username, e.purpose) for e in entries] == [("admin", body["purpose"])]
