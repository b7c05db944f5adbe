"""Every route declares who may call it: a role rule, "signed in", or an explicit public marker."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from kuzet.settings import Settings
from kuzet.web.app import create_app
from kuzet.web.registry import ROUTER_MODULES, all_routes, include_routers, route_rule, unprotected_routes


def test_every_route_of_the_application_has_an_authorisation_rule(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}"))
    assert len(all_routes(app)) > 10
    assert unprotected_routes(app) == [], "routes without an authorisation rule (add require_roles, " \
        "current_principal, or openapi_extra={'x-kuzet-public': True})"


def test_every_registered_module_exposes_a_router() -> None:
    app = FastAPI()
    include_routers(app, ROUTER_MODULES)
    assert all_routes(app)


def test_a_route_without_a_rule_is_caught() -> None:
    router = APIRouter()

    @router.get("/api/v1/leaky")
    def leaky() -> dict[str, str]:
        return {"secret": "location"}

    app = FastAPI()
    app.include_router(router)
    assert "GET /api/v1/leaky" in unprotected_routes(app)


def test_public_routes_are_only_the_known_ones(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}"))
    public = {getattr(r, "path", "") for r in all_routes(app) if route_rule(r) == "public"}
    allowed = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/healthz", "/", "/static",
               "/api/v1/auth/token", "/login", "/ui/locale"}
    assert public <= allowed, f"new public routes: {sorted(public - allowed)}"
