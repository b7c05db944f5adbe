"""Registration point for API and UI routers, and the check that every route has an authorisation rule.

A capability adds its module to :data:`ROUTER_MODULES`; the module exposes ``router`` (a FastAPI
``APIRouter``) with full paths (``/api/v1/...`` for JSON, ``/ui/...`` for pages). Every route must either
depend on :func:`kuzet.web.deps.current_principal` / :func:`kuzet.web.deps.require_roles` (directly, via the
router's ``dependencies=``, or through a sub-dependency) or be marked public with
``openapi_extra={"x-kuzet-public": True}``. :func:`unprotected_routes` lists the ones that do neither and
the test suite fails when it is not empty.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from .deps import get_session, rule_of

ROUTER_MODULES: tuple[str, ...] = (
    "kuzet.web.api.auth",
    "kuzet.web.api.people",
    "kuzet.web.api.locations",
    "kuzet.web.api.alerts",
    "kuzet.web.api.devices",
    "kuzet.web.api.audit",
    "kuzet.web.ui.pages",
    "kuzet.web.ui.views",
    "kuzet.web.ui.account",
    "kuzet.devices.api",
    "kuzet.devices.ui",
    "kuzet.alerts.api",
    "kuzet.privacy.api",
    "kuzet.reports.api",
    "kuzet.casework.api",
    "kuzet.casework.ui",
)

PUBLIC_MARK = "x-kuzet-public"
#: Paths the framework itself serves: the OpenAPI document and its viewers (they expose no personal data).
FRAMEWORK_PUBLIC = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
#: Mounted static file trees (vendored Leaflet, CSS, JS): no personal data.
PUBLIC_MOUNTS = frozenset({"/static"})


def include_routers(app: FastAPI, modules: tuple[str, ...] = ROUTER_MODULES) -> None:
    for name in modules:
        router = importlib.import_module(name).router
        if not isinstance(router, APIRouter):
            raise TypeError(f"{name}.router must be a fastapi.APIRouter, got {type(router).__name__}")
        app.include_router(router)
    commit_before_response(app)


def commit_before_response(app: FastAPI) -> int:
    """Make every use of :func:`kuzet.web.deps.get_session` function-scoped.

    FastAPI runs the exit code of a request-scoped ``yield`` dependency (the default) *after* the response
    has been sent, so a client could act on a response whose transaction has not committed yet, or whose
    commit then fails. Function scope commits before the response leaves. Returns how many uses were set.
    """
    count = 0
    seen: set[int] = set()

    def walk(dependant: Any) -> None:
        nonlocal count
        if dependant is None or id(dependant) in seen:
            return
        seen.add(id(dependant))
        if dependant.call is get_session and dependant.scope != "function":
            dependant.scope = "function"
            count += 1
        for sub in dependant.dependencies:
            walk(sub)

    for route in all_routes(app):
        walk(getattr(route, "dependant", None))
        walk(getattr(getattr(route, "original_route", None), "dependant", None))
    return count


def _rules(dependant: Any) -> list[str]:
    found = []
    rule = rule_of(dependant.call) if dependant.call is not None else None
    if rule:
        found.append(rule)
    for sub in dependant.dependencies:
        found.extend(_rules(sub))
    return found


def route_rule(route: Any) -> str | None:
    """The authorisation rule a route declares (``public``, ``signed-in``, ``roles:...``), or ``None``.

    ``route`` is a :class:`fastapi.routing.RouteContext` (routers included in the app, with the router's
    own dependencies merged) or a plain Starlette route.
    """
    original = getattr(route, "original_route", route)
    if isinstance(original, Mount):
        return "public" if original.path in PUBLIC_MOUNTS else None
    extra = getattr(route, "openapi_extra", None)
    if isinstance(extra, dict) and extra.get(PUBLIC_MARK):
        return "public"
    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        rules = _rules(dependant)
        if rules:
            return rules[0]
    path = getattr(route, "path", "")
    return "public" if path in FRAMEWORK_PUBLIC else None


def all_routes(app: FastAPI) -> list[Any]:
    """Every route the app serves, with included routers flattened."""
    return list(iter_route_contexts(app.routes))


def route_label(route: Any) -> str:
    methods = ",".join(sorted(getattr(route, "methods", None) or []))
    return f"{methods} {getattr(route, 'path', route)!s}".strip()


def unprotected_routes(app: FastAPI) -> list[str]:
    """Every route without an authorisation rule, as ``"METHODS path"``."""
    return [route_label(route) for route in all_routes(app) if route_rule(route) is None]
