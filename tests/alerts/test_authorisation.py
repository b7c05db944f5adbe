"""Every alert-workflow endpoint declares who may call it, and refuses everyone else with 403 (or 401)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kuzet.web.registry import all_routes, route_rule
from tests.web.world import USERS, World

WORKERS = {"operator", "officer", "supervisor", "administrator"}
GRANTERS = {"officer", "supervisor", "administrator"}
CONFIG = {"supervisor", "administrator"}

#: (method, path) -> roles allowed. Paths as the router declares them.
TABLE: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/alerts/workflow/queue"): WORKERS,
    ("GET", "/api/v1/alerts/{alert_id}/workflow"): WORKERS,
    ("POST", "/api/v1/alerts/{alert_id}/claim"): WORKERS,
    ("POST", "/api/v1/alerts/{alert_id}/workflow/acknowledge"): WORKERS,
    ("POST", "/api/v1/alerts/{alert_id}/actions"): WORKERS,
    ("POST", "/api/v1/alerts/{alert_id}/close"): WORKERS,
    ("POST", "/api/v1/alerts/{alert_id}/casework"): WORKERS,
    ("GET", "/api/v1/alerts/incidents/{incident_id}"): WORKERS,
    ("GET", "/api/v1/alerts/workflow/handover"): WORKERS,
    ("POST", "/api/v1/alerts/workflow/handover-notes"): WORKERS,
    ("GET", "/api/v1/alerts/workflow/absences/{person_id}"): WORKERS,
    ("POST", "/api/v1/alerts/workflow/absences/{person_id}"): GRANTERS,
    ("DELETE", "/api/v1/alerts/workflow/absences/{person_id}/{absence_id}"): GRANTERS,
    ("PUT", "/api/v1/alerts/workflow/targets"): CONFIG,
    ("PUT", "/api/v1/alerts/workflow/escalation-tree"): CONFIG,
    ("POST", "/api/v1/alerts/workflow/subscriptions"): CONFIG,
    ("GET", "/api/v1/alerts/workflow/deliveries"): CONFIG,
    ("GET", "/ui/queue"): WORKERS,
    ("GET", "/ui/queue/{alert_id}"): WORKERS,
    ("POST", "/ui/queue/{alert_id}/claim"): WORKERS,
    ("POST", "/ui/queue/{alert_id}/acknowledge"): WORKERS,
    ("POST", "/ui/queue/{alert_id}/act"): WORKERS,
    ("POST", "/ui/queue/{alert_id}/close"): WORKERS,
    ("POST", "/ui/queue/{alert_id}/casework"): WORKERS,
    ("GET", "/ui/handover"): WORKERS,
    ("POST", "/ui/handover"): WORKERS,
    ("GET", "/ui/people/{person_id}/absences"): GRANTERS,
    ("POST", "/ui/people/{person_id}/absences"): GRANTERS,
    ("GET", "/ui/alert-settings"): CONFIG,
    ("POST", "/ui/alert-settings/targets"): CONFIG,
    ("POST", "/ui/alert-settings/tree"): CONFIG,
    ("POST", "/ui/alert-settings/subscriptions"): CONFIG,
}


def _ours(application: FastAPI) -> set[tuple[str, str]]:
    return {(m, r.path) for r in all_routes(application)
            if getattr(getattr(r, "endpoint", None), "__module__", "") == "kuzet.alerts.api"
            for m in (r.methods or ())}


def test_this_table_covers_every_alert_workflow_endpoint(app: FastAPI) -> None:
    assert _ours(app) == set(TABLE)
    for route in all_routes(app):
        if getattr(getattr(route, "endpoint", None), "__module__", "") == "kuzet.alerts.api":
            assert route_rule(route) not in (None, "public", "signed-in"), route.path


@pytest.mark.parametrize("key", sorted(TABLE), ids=lambda k: f"{k[0]} {k[1]}")
def test_roles_outside_the_rule_are_refused(client: TestClient, world: World, key: tuple[str, str]) -> None:
    method, template = key
    path = template.format(alert_id=world.alerts["N-A"], person_id=world.people["N-A"], incident_id=1,
                           absence_id=1)
    if template.endswith("/deliveries"):
        path += f"?alert_id={world.alerts['N-A']}"  # a supervisor reads one alert's log at a time
    body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
    for user, (role, _, _) in USERS.items():
        r = client.request(method, path, headers=world.auth(user), json=body, follow_redirects=False)
        if role.value in TABLE[key]:
            assert r.status_code not in (401, 403), (user, r.status_code, r.text[:200])
        else:
            assert r.status_code == 403, (user, r.status_code)
    assert client.request(method, path, json=body, follow_redirects=False).status_code in (401, 303)
