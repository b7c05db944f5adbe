"""Reports API and pages: dashboards (JSON, CSV, XLSX, charts) and court evidence packs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from kuzet.access.policy import check_person_access
from kuzet.store.models import AlertRecord
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.rendering import NavItem, add_nav_item, render

from .dashboards import Dashboard, Table
from .evidence import build_evidence_pack, verify_pack
from .exports import CHARTS, chart_png, to_csv, to_xlsx
from .service import DASHBOARD_ROLES, EVIDENCE_ROLES, VERIFY_ROLES, dashboard_for

router = APIRouter()
reader = require_roles(*DASHBOARD_ROLES)
add_nav_item(NavItem("/ui/reports", "Reports and analytics", frozenset(DASHBOARD_ROLES)))


def _table_json(t: Table) -> dict[str, Any]:
    return {"title": t.title, "columns": list(t.columns), "rows": [list(r) for r in t.rows],
            "notes": list(t.notes), "suppressed": t.suppressed}


def _dash_json(d: Dashboard) -> dict[str, Any]:
    return {"scope": {"level": d.scope.level, "id": d.scope.id, "name": d.scope.name},
            "start": d.start.isoformat(), "end": d.end.isoformat(),
            "tables": {k: _table_json(t) for k, t in d.tables.items()}}


def _dashboard(session: Session, principal: Principal, level: str | None, id: int | None,
               start: datetime | None, end: datetime | None) -> Dashboard:
    for value, name in ((start, "start"), (end, "end")):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} must carry a time zone (RFC 3339)")
    if start is not None and end is not None and end <= start:
        raise HTTPException(422, "end must be after start")
    try:
        return dashboard_for(session, principal, level=level, scope_id=id, start=start, end=end)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


LevelQ = Query(None, pattern="^(country|region|unit)$")


@router.get("/api/v1/reports/dashboard", tags=["reports"])
def dashboard_api(level: str | None = LevelQ, id: int | None = None, start: datetime | None = None,
                  end: datetime | None = None, principal: Principal = Depends(reader),
                  session: Session = Depends(get_session)) -> dict[str, Any]:
    """Every dashboard table for a scope and period (default: the caller's own scope, the last 30 days)."""
    return _dash_json(_dashboard(session, principal, level, id, start, end))


@router.get("/api/v1/reports/dashboard.xlsx", tags=["reports"], response_class=Response)
def dashboard_xlsx(level: str | None = LevelQ, id: int | None = None, start: datetime | None = None,
                   end: datetime | None = None, principal: Principal = Depends(reader),
                   session: Session = Depends(get_session)) -> Response:
    dash = _dashboard(session, principal, level, id, start, end)
    return Response(to_xlsx(list(dash.tables.values())),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="kuzet-dashboard.xlsx"'})


@router.get("/api/v1/reports/{key}.csv", tags=["reports"], response_class=Response)
def table_csv(key: str, level: str | None = LevelQ, id: int | None = None, start: datetime | None = None,
              end: datetime | None = None, principal: Principal = Depends(reader),
              session: Session = Depends(get_session)) -> Response:
    dash = _dashboard(session, principal, level, id, start, end)
    if key not in dash.tables:
        raise HTTPException(404, f"no table {key!r}; tables: {', '.join(dash.tables)}")
    return Response(to_csv(dash.tables[key]), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="kuzet-{key}.csv"'})


@router.get("/api/v1/reports/{key}.png", tags=["reports"], response_class=Response)
def table_chart(key: str, level: str | None = LevelQ, id: int | None = None, principal: Principal = Depends(reader),
                session: Session = Depends(get_session)) -> Response:
    if key not in CHARTS:
        raise HTTPException(404, f"no chart for {key!r}")
    dash = _dashboard(session, principal, level, id, None, None)
    return Response(chart_png(dash.tables[key]), media_type="image/png")


@router.get("/api/v1/alerts/{alert_id}/evidence.pdf", tags=["reports"], response_class=Response)
def evidence_pdf(alert_id: int, purpose: str = Query(..., min_length=3, max_length=300),
                 language: str = Query("ru", pattern="^(kk|ru)$"),
                 principal: Principal = Depends(require_roles(*EVIDENCE_ROLES)),
                 session: Session = Depends(get_session)) -> Response:
    """A court evidence pack for an alert, in Kazakh or Russian; the purpose is written to the audit trail."""
    alert = session.get(AlertRecord, alert_id)
    if alert is None or alert.person_id is None:
        raise HTTPException(404, f"alert {alert_id} not found")
    check_person_access(session, principal, alert.person_id)
    pdf = build_evidence_pack(session, principal.actor, alert_id, language=language, purpose=purpose,
                              timezone=principal.timezone, now=datetime.now(UTC))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="evidence-{alert_id}-{language}.pdf"'})


@router.post("/api/v1/evidence/verify", tags=["reports"])
async def evidence_verify(file: UploadFile = File(...), principal: Principal = Depends(require_roles(*VERIFY_ROLES)),
                          session: Session = Depends(get_session)) -> dict[str, Any]:
    """Check an evidence pack against the store: every record it rests on must be unchanged."""
    data = await file.read(20_000_001)
    if len(data) > 20_000_000:
        raise HTTPException(413, "an evidence pack is at most 20 MB")
    try:
        result = verify_pack(session, data)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"ok": result.ok, "checked": result.checked, "problems": result.problems}


@router.get("/ui/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, level: str | None = LevelQ, id: int | None = None,
                 principal: Principal = Depends(reader), session: Session = Depends(get_session)) -> Response:
    dash = _dashboard(session, principal, level, id, None, None)
    query = f"level={dash.scope.level}" + (f"&id={dash.scope.id}" if dash.scope.id is not None else "")
    return render(request, "reports/dashboard.html", {"dash": dash, "query": query, "charts": CHARTS})
