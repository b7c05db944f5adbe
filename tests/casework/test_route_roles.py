"""Every casework route, API and page, refused to every role that has no business with case files; a partner
reaches only its own overview, its actions' outcomes and its placements' hours."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kuzet.web.registry import all_routes
from tests.web.world import World

PARTNER_ROUTES = {"/api/v1/casework/partner/overview", "/api/v1/casework/actions/{action_id}/outcome",
                  "/api/v1/casework/labour-placements/{placement_id}/hours", "/ui/partner",
                  "/ui/partner/actions/{action_id}/outcome", "/ui/partner/labour/{placement_id}/hours"}


def casework_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in all_routes(app):
        path = getattr(route, "path", "")
        module = getattr(getattr(route, "endpoint", None), "__module__", "")
        if module.startswith("kuzet.casework."):
            found += [(method, path) for method in sorted(route.methods or ())]
    return found


@pytest.mark.parametrize("user", ["auditor", "analyst", "police", "partner"])
def test_roles_without_case_files_are_refused_everywhere_but_the_partners_own_routes(
        app: FastAPI, client: TestClient, world: World, user: str) -> None:
    routes = casework_routes(app)
    assert len(routes) > 40
    wrong = []
    for method, path in routes:
        concrete = re.sub(r"\{[a-z_]+\}", "1", path)
        status = client.request(method, concrete, headers=world.auth(user), json={}).status_code
        allowed = user == "partner" and path in PARTNER_ROUTES
        if (status == 403) == allowed:
            wrong.append(f"{method} {path}: {status}")
    assert not wrong, "\n".join(wrong)


def test_operators_read_case_files_but_change_nothing(app: FastAPI, client: TestClient, world: World) -> None:
    wrong = []
    for method, path in casework_routes(app):
        if method != "POST" and method != "PUT":
            continue
        status = client.request(method, re.sub(r"\{[a-z_]+\}", "1", path), headers=world.auth("operator_n"),
                                json={}).status_code
        if status != 403:
            wrong.append(f"{method} {path}: {status}")
    assert not wrong, "\n".join(wrong)
