"""The reports actions shared by the API, the UI and the CLI: build a dashboard for a caller, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from kuzet.access import AccessDenied
from kuzet.audit import record
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.settings import get_settings

from .dashboards import CostAssumptions, Dashboard, ScopeRefused, build_dashboard, for_role, resolve_scope

DASHBOARD_ROLES = (Role.ADMINISTRATOR, Role.SUPERVISOR, Role.OPERATOR, Role.ANALYST)
EVIDENCE_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
VERIFY_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR, Role.AUDITOR)


def default_scope(principal: Principal) -> tuple[str, int | None]:
    if principal.role is Role.SUPERVISOR and principal.unit_id is not None:
        return "unit", principal.unit_id
    if principal.role in (Role.SUPERVISOR, Role.OPERATOR):
        return "region", principal.region_id
    return "country", None


def dashboard_for(session: Session, principal: Principal, *, level: str | None = None, scope_id: int | None = None,
                  start: datetime | None = None, end: datetime | None = None,
                  now: datetime | None = None) -> Dashboard:
    """The dashboard the caller asked for, within their scope; analysts get suppressed small counts."""
    if level is None:
        level, scope_id = default_scope(principal)
    end = (end or now or datetime.now(UTC)).astimezone(UTC)
    start = (start or end - timedelta(days=30)).astimezone(UTC)
    try:
        scope = resolve_scope(session, principal.role, principal.region_id, principal.unit_id, level, scope_id)
    except ScopeRefused as exc:
        raise AccessDenied(str(exc)) from None
    settings = get_settings()
    dash = build_dashboard(session, scope, start, end, assumptions=CostAssumptions(
        prison_cost_per_year_kzt=float(settings.prison_cost_per_year_kzt)))
    record(session, principal.actor, "read", "dashboard", f"{scope.level}:{scope.id or ''}",
           purpose="statistics", detail={"start": start.isoformat(), "end": end.isoformat()})
    return for_role(dash, principal.role)
