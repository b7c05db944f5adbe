"""Every API endpoint against every role: nothing leaks across regions, units, caseloads or roles."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kuzet.web.registry import all_routes, route_rule

from .world import PEOPLE, USERS, World

SEES: dict[str, set[str]] = {
    "N-A": {"officer_n1", "supervisor_n1", "operator_n", "admin"},
    "N-B": {"officer_n1b", "supervisor_n1", "operator_n", "admin"},
    "S-A": {"officer_s", "operator_s", "admin"},
}
PEOPLE_ROLES_USERS = {u for u, (role, _, _) in USERS.items()
                      if role.value in ("officer", "supervisor", "operator", "administrator")}
EDITORS = {u for u, (role, _, _) in USERS.items() if role.value in ("officer", "supervisor", "administrator")}
_counter = itertools.count()


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {person_id}, {zone_id}, {alert_id}
    body: Callable[[], dict[str, Any]] | None = None
    query: str = ""
    edit: bool = False


def zone_body() -> dict[str, Any]:
    return {"code": f"z{next(_counter)}", "kind": "exclusion",
            "shape": {"type": "Circle", "coordinates": [76.95, 43.25], "radius_m": 50}}


PERSON_ENDPOINTS = [
    Endpoint("GET", "/api/v1/people/{person_id}"),
    Endpoint("PATCH", "/api/v1/people/{person_id}", lambda: {"phone": "+77010000000"}, edit=True),
    Endpoint("GET", "/api/v1/people/{person_id}/orders"),
    Endpoint("POST", "/api/v1/people/{person_id}/orders", lambda: {"category": "parole", "variation": "curfew_changed"},
             edit=True),
    Endpoint("GET", "/api/v1/people/{person_id}/zones"),
    Endpoint("POST", "/api/v1/people/{person_id}/zones", zone_body, edit=True),
    Endpoint("PUT", "/api/v1/people/{person_id}/zones/{zone_id}",
             lambda: {"kind": "inclusion", "shape": {"type": "Circle", "coordinates": [76.93, 43.26],
                                                      "radius_m": 120}}, edit=True),
    Endpoint("PUT", "/api/v1/people/{person_id}/zones/{zone_id}/schedule",
             lambda: {"schedule": [{"days": ["mon"], "start": "21:00", "end": "07:00"}]}, edit=True),
    Endpoint("DELETE", "/api/v1/people/{person_id}/zones/{zone_id}", edit=True),
    Endpoint("GET", "/api/v1/people/{person_id}/trail",
             query="?start=2026-11-02T00:00:00Z&end=2026-11-03T00:00:00Z&purpose=case+review"),
    Endpoint("GET", "/api/v1/people/{person_id}/assignments"),
    Endpoint("POST", "/api/v1/people/{person_id}/zones/what-if", lambda: {"zone": zone_body(), "weeks": 2},
             edit=True),
    Endpoint("GET", "/api/v1/alerts/{alert_id}"),
    Endpoint("POST", "/api/v1/alerts/{alert_id}/acknowledge", lambda: {"note": "seen"}),
]
COLLECTIONS = ["/api/v1/people", "/api/v1/positions", "/api/v1/alerts", "/api/v1/devices"]
AUDITOR_ONLY = ["/api/v1/audit", "/api/v1/audit/verify"]
OTHER_COVERED = {("POST", "/api/v1/auth/token"), ("GET", "/api/v1/me"), ("DELETE", "/api/v1/auth/token"),
                 ("POST", "/api/v1/people")}


def _call(client: TestClient, world: World, user: str, ep: Endpoint, person: str) -> int:
    path = ep.path.format(person_id=world.people[person], zone_id=world.zones[person],
                          alert_id=world.alerts[person]) + ep.query
    body = ep.body() if ep.body else None
    return client.request(ep.method, path, headers=world.auth(user), json=body).status_code


@pytest.mark.parametrize("ep", PERSON_ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_person_endpoints_answer_only_within_scope(client: TestClient, world: World, ep: Endpoint) -> None:
    failures = []
    for user, person in itertools.product(USERS, PEOPLE):
        status = _call(client, world, user, ep, person)
        if user not in PEOPLE_ROLES_USERS or (ep.edit and user not in EDITORS):
            expected = {403}
        elif user in SEES[person]:
            expected = {200, 201}
        else:
            expected = {404}
        if status not in expected:
            failures.append(f"{user} -> {person}: {status}, expected {sorted(expected)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", COLLECTIONS)
def test_collections_list_exactly_what_each_role_may_see(client: TestClient, world: World, path: str) -> None:
    for user in USERS:
        r = client.get(path, headers=world.auth(user))
        if user not in PEOPLE_ROLES_USERS:
            assert r.status_code == 403, (user, r.status_code)
            continue
        assert r.status_code == 200, (user, r.text)
        visible_people = {world.people[p] for p, who in SEES.items() if user in who}
        items = r.json()
        if path == "/api/v1/devices":
            serials = {d["serial"] for d in items}
            people_codes = {p for p in PEOPLE if world.people[p] in visible_people}
            assert {f"DEV-{c}" for c in people_codes} <= serials, (user, serials)
            foreign = {f"DEV-{c}" for c in PEOPLE} - {f"DEV-{c}" for c in people_codes}
            region = USERS[user][1]
            if USERS[user][0].value == "officer":
                assert not (serials & foreign), (user, serials)
            elif region is not None:
                assert not (serials & {f"DEV-{c}" for c in PEOPLE if PEOPLE[c][0] != region}), (user, serials)
            continue
        key = "id" if path == "/api/v1/people" else "person_id"
        got = {item[key] for item in items}
        assert got == visible_people or (path == "/api/v1/alerts" and got <= visible_people), (user, got)


def test_a_partner_never_sees_a_location(client: TestClient, world: World) -> None:
    for path in ["/api/v1/positions", *(f"/api/v1/people/{pid}/trail?start=2026-11-02T00:00:00Z"
                                          f"&end=2026-11-03T00:00:00Z&purpose=curious" for pid in
                                          world.people.values())]:
        r = client.get(path, headers=world.auth("partner"))
        assert r.status_code == 403
        assert "lat" not in r.text and "lon" not in r.text


@pytest.mark.parametrize("path", AUDITOR_ONLY)
def test_only_auditors_read_the_audit_trail(client: TestClient, world: World, path: str) -> None:
    for user in USERS:
        r = client.get(path, headers=world.auth(user))
        assert r.status_code == (200 if user == "auditor" else 403), (user, r.status_code)


def test_without_credentials_every_protected_endpoint_answers_401(app: FastAPI, client: TestClient,
                                                                   world: World) -> None:
    for route in all_routes(app):
        if route_rule(route) in (None, "public") or not getattr(route, "path", "").startswith("/api/"):
            continue
        path = route.path.replace("{person_id}", "1").replace("{zone_id}", "1").replace("{alert_id}", "1")
        for method in route.methods:
            r = client.request(method, path, headers={"Authorization": "Bearer kzt_forged"})
            assert r.status_code == 401, (method, path, r.status_code)


def test_this_table_covers_every_api_endpoint_of_the_officer_application(app: FastAPI) -> None:
    """Other capabilities' endpoints are covered by their own tables; all of them by the 401 test above."""
    covered = {(e.method, e.path) for e in PERSON_ENDPOINTS} | {("GET", p) for p in COLLECTIONS + AUDITOR_ONLY}
    covered |= OTHER_COVERED | {("GET", "/api/v1/stream")}
    served = {(m, r.path) for r in all_routes(app) if getattr(r, "path", "").startswith("/api/")
              and getattr(r.endpoint, "__module__", "").startswith("kuzet.web.") for m in (r.methods or ())}
    assert served <= covered, f"endpoints without an authorisation test: {sorted(served - covered)}"


def test_people_are_registered_only_in_the_editors_own_scope(client: TestClient, world: World) -> None:
    def body(unit: str) -> dict[str, Any]:
        return {"code": f"NEW-{next(_counter)}", "category": "parole", "unit_id": world.units[unit]}

    assert client.post("/api/v1/people", json=body("N1"), headers=world.auth("officer_n1")).status_code == 201
    assert client.post("/api/v1/people", json=body("S1"), headers=world.auth("officer_n1")).status_code == 403
    assert client.post("/api/v1/people", json=body("N2"), headers=world.auth("supervisor_n1")).status_code == 403
    assert client.post("/api/v1/people", json=body("S1"), headers=world.auth("admin")).status_code == 201
    for user in ("operator_n", "partner", "auditor", "analyst", "police"):
        assert client.post("/api/v1/people", json=body("N1"), headers=world.auth(user)).status_code == 403
