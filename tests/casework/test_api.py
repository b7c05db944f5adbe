"""Casework over HTTP on the web tests' two-region world: who may do what, scope, refusals as 422, and a
partner who sees only their own services and never a location."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import SYSTEM
from kuzet.auth.service import create_user, issue_api_token
from kuzet.casework.programme import create_partner
from kuzet.domain.enums import Role
from kuzet.web.registry import all_routes, route_rule
from tests.web.world import PASSWORD, World

BASE = "/api/v1/casework"


def _registration(world: World, code: str, unit: str = "N1") -> dict[str, object]:
    return {"person": {"code": code, "category": "suspended_sentence", "unit_id": world.units[unit],
                       "surname": "Омарова", "given_name": "Әсем", "address": "Алматы, Сәтпаев 30"},
            "order": {"court": "Алматы қалалық соты", "case_number": "1-77/2026", "start_date": "2026-10-23",
                      "end_date": "2027-11-01", "conditions": ["be home 22:00-06:00"],
                      "obligations": ["report on Mondays"]},
            "released_on": "2026-10-23", "risk_notes": "none"}


def test_every_casework_route_declares_a_role_rule(app: FastAPI) -> None:
    mine = [r for r in all_routes(app) if getattr(r, "path", "").startswith(BASE)]
    assert len(mine) > 30
    assert all((route_rule(r) or "").startswith("roles:") for r in mine)


def test_register_and_work_a_case_within_scope(client: TestClient, world: World) -> None:
    officer = world.auth("officer_n1")
    for user in ("operator_n", "partner", "auditor", "analyst", "police"):
        r = client.post(f"{BASE}/registrations", json=_registration(world, f"X-{user}"), headers=world.auth(user))
        assert r.status_code == 403, (user, r.status_code)
    assert client.post(f"{BASE}/registrations", json=_registration(world, "X-S", "S1"),
                       headers=officer).status_code == 403
    r = client.post(f"{BASE}/registrations", json=_registration(world, "CW-1"), headers=officer)
    assert r.status_code == 201, r.text
    # Republic Day (Sun 25 Oct 2026) carries over to Monday: 27, 28, 29 October.
    assert r.json()["due_on"] == "2026-10-29" and r.json()["search_from"] == "2026-11-06"
    pid = r.json()["person_id"]

    r = client.get(f"{BASE}/reminders?today=2026-11-06", headers=officer)
    assert {"person_id": pid, "kind": "start_search", "due_on": "2026-11-06"}.items() <= \
        next(x for x in r.json() if x["person_id"] == pid).items()
    assert client.get(f"{BASE}/people/{pid}", headers=world.auth("officer_n1b")).status_code == 404
    assert client.get(f"{BASE}/people/{pid}", headers=world.auth("operator_n")).status_code == 200
    assert client.get(f"{BASE}/people/{pid}", headers=world.auth("operator_s")).status_code == 404
    assert client.get(f"{BASE}/people/{pid}", headers=world.auth("partner")).status_code == 403

    r = client.post(f"{BASE}/people/{pid}/check-ins", json={"at": "2026-10-27T04:00:00Z"}, headers=officer)
    assert r.status_code == 201 and r.json()["outcome"] == "attended_complied"
    assert client.post(f"{BASE}/people/{pid}/check-ins", json={}, headers=world.auth("operator_n")).status_code == 403
    r = client.post(f"{BASE}/people/{pid}/appointments", json={"kind": "office_report",
                                                               "scheduled_at": "2026-11-02T04:00:00Z"},
                    headers=officer)
    appt = r.json()["id"]
    r = client.post(f"{BASE}/appointments/{appt}/outcome", json={"outcome": "acceptable_absence"}, headers=officer)
    assert r.status_code == 422 and r.json()["field"] == "absence_reason"
    r = client.post(f"{BASE}/appointments/{appt}/outcome", json={"outcome": "failed_to_attend",
                                                                  "at": "2026-11-02T09:00:00Z"}, headers=officer)
    assert r.status_code == 200
    file = client.get(f"{BASE}/people/{pid}", headers=officer).json()
    assert [v["kind"] for v in file["violations"]] == ["failed_to_attend"]
    violation = file["violations"][0]["id"]
    assert file["violations"][0]["order_id"] == file["orders"][0]["id"]

    r = client.post(f"{BASE}/violations/{violation}/submission", json={}, headers=officer)
    assert r.status_code == 422 and "written warning" in r.json()["detail"]
    assert client.post(f"{BASE}/violations/{violation}/warning", json={},
                       headers=world.auth("officer_n1b")).status_code == 404
    r = client.post(f"{BASE}/violations/{violation}/warning", json={}, headers=officer)
    assert r.status_code == 201, r.text
    warning = r.json()["id"]
    r = client.get(f"{BASE}/warnings/{warning}/pdf?lang=kk", headers=officer)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "ЖАЗБАША ЕСКЕРТУ" in PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert client.get(f"{BASE}/warnings/{warning}/pdf", headers=world.auth("officer_s")).status_code == 404
    assert client.get(f"{BASE}/warnings/{warning}/pdf?lang=de", headers=officer).status_code == 422
    r = client.post(f"{BASE}/violations/{violation}/submission", json={"grounds": "evades reporting"},
                    headers=officer)
    assert r.status_code == 201 and r.json()["warnings"] == [warning]
    sub = r.json()["id"]
    assert client.post(f"{BASE}/submissions/{sub}/filing", headers=officer).status_code == 200
    today = datetime.now(UTC).date()
    r = client.post(f"{BASE}/submissions/{sub}/decision", json={"outcome": "extended", "decided_on": today.isoformat(),
                                                                 "extension_months": 3}, headers=officer)
    assert r.status_code == 201, r.text
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    r = client.get(f"{BASE}/people/{pid}/order-in-force", params={"at": later}, headers=officer)
    assert r.json()["variation"] == "extension" and r.json()["end_date"] == "2028-02-01"
    r = client.get(f"{BASE}/people/{pid}/order-in-force?at=2026-01-01T00:00:00Z", headers=officer)
    assert r.status_code == 422
    kinds = [e["kind"] for e in client.get(f"{BASE}/people/{pid}/timeline", headers=officer).json()]
    assert {"order", "registration", "office_report", "violation", "written_warning", "court_submission",
            "court_decision", "extension"} <= set(kinds)


def test_a_partner_sees_its_own_goals_and_nothing_else(client: TestClient, world: World,
                                                       factory: sessionmaker[Session]) -> None:
    r = client.post(f"{BASE}/partners", json={"kind": "ngo", "name": "Shapagat NGO", "services": ["housing"]},
                    headers=world.auth("officer_n1"))
    assert r.status_code == 403
    r = client.post(f"{BASE}/partners", json={"kind": "ngo", "name": "Shapagat NGO", "services": ["housing"]},
                    headers=world.auth("admin"))
    assert r.status_code == 201
    shapagat = r.json()["id"]
    with factory() as s, s.begin():
        other = create_partner(s, SYSTEM, "ngo", "Other NGO", services=("housing",)).id
        user = create_user(s, "shapagat", PASSWORD, Role.PARTNER, partner_id=shapagat)
        token = {"Authorization": f"Bearer {issue_api_token(s, user)}"}
    officer = world.auth("officer_n1")
    pid = world.people["N-A"]
    r = client.post(f"{BASE}/people/{pid}/goals", json={"area": "housing", "text": "a hostel place",
                                                        "partner_id": shapagat}, headers=officer)
    assert r.status_code == 201, r.text
    goal = r.json()["id"]
    client.post(f"{BASE}/people/{pid}/goals", json={"area": "housing", "text": "not yours", "partner_id": other},
                headers=officer)
    action = client.post(f"{BASE}/goals/{goal}/actions", json={"text": "interview"}, headers=officer).json()["id"]

    r = client.get(f"{BASE}/partner/overview", headers=token)
    assert r.status_code == 200
    body = r.json()
    assert [g["text"] for g in body["goals"]] == ["a hostel place"]
    assert body["goals"][0]["person_code"] == "N-A"
    text = r.text
    for word in ('"lat"', '"lon"', "home_lat", "home_lon", "address", "risk_notes", "violation"):
        assert word not in text
    assert client.post(f"{BASE}/actions/{action}/outcome", json={"done_on": "2026-11-20", "outcome": "place given"},
                       headers=token).status_code == 200
    for path in (f"{BASE}/people/{pid}", f"{BASE}/people/{pid}/timeline", f"{BASE}/partners",
                 f"/api/v1/people/{pid}", "/api/v1/positions", f"{BASE}/people/{pid}/programme/pdf"):
        assert client.get(path, headers=token).status_code == 403, path
    assert client.get(f"{BASE}/partner/overview", headers=officer).status_code == 403
    # The web world's partner belongs to no organisation registered here.
    assert client.get(f"{BASE}/partner/overview", headers=world.auth("partner")).status_code == 404


def test_labour_hours_over_http_respect_the_caps(client: TestClient, world: World) -> None:
    officer = world.auth("officer_n1")
    body = _registration(world, "CW-RF")
    body["person"]["category"] = "restricted_freedom"  # type: ignore[index]
    pid = client.post(f"{BASE}/registrations", json=body, headers=officer).json()["person_id"]
    akimat = client.post(f"{BASE}/partners", json={"kind": "akimat", "name": "Akimat of Almaty"},
                         headers=world.auth("supervisor_n1")).json()["id"]
    placement = client.post(f"{BASE}/people/{pid}/labour-placements",
                            json={"partner_id": akimat, "starts_on": "2026-12-29"}, headers=officer).json()["id"]
    r = client.post(f"{BASE}/labour-placements/{placement}/hours", json={"worked_on": "2026-12-31", "hours": 4},
                    headers=officer)
    assert r.status_code == 201 and r.json()["year_remaining_h"] == 96
    r = client.post(f"{BASE}/labour-placements/{placement}/hours", json={"worked_on": "2026-12-31", "hours": 1},
                    headers=officer)
    assert r.status_code == 422 and "4 hours a day" in r.json()["detail"]
    assert client.post(f"{BASE}/labour-placements/{placement}/hours", json={"worked_on": "2027-01-01", "hours": 4},
                       headers=officer).json()["year_done_h"] == 4
    assert client.post(f"{BASE}/labour-placements/{placement}/hours", json={"worked_on": "2027-01-02", "hours": 1},
                       headers=world.auth("partner")).status_code == 404
