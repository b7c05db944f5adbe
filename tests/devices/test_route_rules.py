"""Every fleet endpoint and page declares its rule, this table says which roles it admits, and every other role
is refused (the web tests cover the officer application's own endpoints the same way)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kuzet.web.registry import all_routes, route_rule
from tests.web.world import USERS, World

FLEET = {"officer", "supervisor", "operator", "administrator"}
FITTERS = {"officer", "supervisor", "administrator"}
STOCK = {"supervisor", "administrator"}
ADMIN = {"administrator"}
FORECAST = {"supervisor", "administrator", "analyst"}

RULES: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v1/fleet/devices"): FLEET,
    ("POST", "/api/v1/devices"): STOCK,
    ("GET", "/api/v1/devices/{serial}"): FLEET,
    ("POST", "/api/v1/devices/{serial}/fit"): FITTERS,
    ("POST", "/api/v1/devices/{serial}/remove"): FITTERS,
    ("POST", "/api/v1/devices/{serial}/lost"): FITTERS,
    ("POST", "/api/v1/devices/{serial}/found"): FITTERS,
    ("POST", "/api/v1/devices/{serial}/return-to-stock"): STOCK,
    ("POST", "/api/v1/devices/{serial}/repair"): STOCK,
    ("POST", "/api/v1/devices/{serial}/write-off"): STOCK,
    ("POST", "/api/v1/devices/{serial}/move"): STOCK,
    ("GET", "/api/v1/devices/{serial}/health"): FLEET,
    ("GET", "/api/v1/devices/{serial}/first-reports"): FITTERS,
    ("GET", "/api/v1/fleet/stock"): FLEET,
    ("GET", "/api/v1/fleet/health"): FLEET,
    ("GET", "/api/v1/fleet/fittings/mismatches"): FITTERS,
    ("POST", "/api/v1/fleet/fittings/check"): STOCK,
    ("GET", "/api/v1/fleet/forecast"): FORECAST,
    ("GET", "/api/v1/fleet/catalogue"): FLEET,
    ("POST", "/api/v1/fleet/catalogue"): ADMIN,
    ("PATCH", "/api/v1/fleet/catalogue/{code}"): ADMIN,
    ("DELETE", "/api/v1/fleet/catalogue/{code}"): ADMIN,
    ("GET", "/api/v1/fleet/leases"): STOCK,
    ("POST", "/api/v1/fleet/leases"): ADMIN,
    ("POST", "/api/v1/fleet/leases/{reference}/devices"): ADMIN,
    ("POST", "/api/v1/fleet/leases/{reference}/invoices"): ADMIN,
    ("POST", "/api/v1/fleet/invoices/{invoice_id}/reconcile"): STOCK,
    ("GET", "/ui/devices"): FLEET,
    ("POST", "/ui/devices"): STOCK,
    ("GET", "/ui/devices/{serial}"): FLEET,
    ("POST", "/ui/devices/{serial}/action"): FLEET,  # each step then checks its own roles (ACTION_ROLES)
    ("GET", "/ui/devices/{serial}/fit"): FITTERS,
    ("POST", "/ui/devices/{serial}/fit"): FITTERS,
    ("GET", "/ui/fleet"): FLEET,
    ("POST", "/ui/fleet/check-fittings"): STOCK,
    ("POST", "/ui/fleet/snapshot-health"): STOCK,
    ("GET", "/ui/fleet/leases"): STOCK,
    ("POST", "/ui/fleet/leases"): ADMIN,
    ("GET", "/ui/fleet/invoices/{invoice_id}"): STOCK,
    ("POST", "/ui/fleet/invoices/{invoice_id}/reconcile"): STOCK,
    ("GET", "/ui/fleet/catalogue"): FLEET,
    ("POST", "/ui/fleet/catalogue"): ADMIN,
}


def _fleet_routes(app: FastAPI) -> dict[tuple[str, str], object]:
    return {(m, r.path): r for r in all_routes(app)
            if getattr(getattr(r, "endpoint", None), "__module__", "").startswith("kuzet.devices.")
            for m in (r.methods or ())}


def test_the_table_covers_every_fleet_route_and_matches_its_declared_rule(app: FastAPI) -> None:
    routes = _fleet_routes(app)
    assert set(routes) == set(RULES)
    for key, route in routes.items():
        assert route_rule(route) == "roles:" + ",".join(sorted(RULES[key])), key


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_role_outside_the_rule_is_refused(client: TestClient, world: World, user: str) -> None:
    role = USERS[user][0].value
    for (method, path), roles in RULES.items():
        if role in roles:
            continue
        url = (path.replace("{serial}", "DEV-N-A").replace("{code}", "gps_bracelet")
               .replace("{reference}", "L-1").replace("{invoice_id}", "1"))
        r = client.request(method, url, headers=world.auth(user), json={})
        assert r.status_code == 403, (user, method, path, r.status_code)
