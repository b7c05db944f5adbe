"""Officer UI pages: live map, people, a person's page, zone and schedule editor, trail playback, alert queue,
and the auditor's page. Every page gets its data from :mod:`kuzet.web.services` (scoped and audited)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kuzet.access import can_change_plans
from kuzet.audit.reads import AuditQuery
from kuzet.casework.vocabulary import Variation
from kuzet.devices.queries import FITTING_ROLES
from kuzet.domain.enums import AlertType, Category, Role
from kuzet.domain.errors import DomainError
from kuzet.domain.geometry import points_lonlat, shape_from_geojson
from kuzet.reports.service import EVIDENCE_ROLES
from kuzet.store.models import ZoneRecord
from kuzet.web.api.schemas import ID_MAX, AlertOut, FixOut, LivePositionOut
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.rendering import render, request_zone
from kuzet.web.services import alerts as alert_svc
from kuzet.web.services import audit as audit_svc
from kuzet.web.services import devices as device_svc
from kuzet.web.services import locations as location_svc
from kuzet.web.services import people as people_svc

router = APIRouter(include_in_schema=False)
people_roles = require_roles(Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMINISTRATOR)
auditors = require_roles(Role.AUDITOR)
PersonId = Annotated[int, Path(ge=1, le=ID_MAX)]


def zone_view(z: ZoneRecord) -> dict[str, Any]:
    """A zone as the map script draws it: the stored shape plus its outline in [lat, lon] pairs."""
    try:
        outline = [[lat, lon] for lon, lat in points_lonlat(shape_from_geojson(z.shape))]
    except DomainError:
        outline = []
    return {"id": z.id, "code": z.code, "name": z.name, "kind": z.kind, "shape": z.shape, "schedule": z.schedule,
            "grace_s": z.grace_s, "active": z.active, "outline": outline}


@router.get("/ui/map", response_class=HTMLResponse)
def live_map(request: Request, principal: Principal = Depends(people_roles),
             session: Session = Depends(get_session)) -> Response:
    positions = location_svc.live_positions(session, principal, purpose="live map")
    alerts = alert_svc.list_alerts(session, principal, open_only=True, limit=100)
    return render(request, "map.html", {
        "positions": [LivePositionOut.model_validate(p).model_dump(mode="json") for p in positions],
        "alerts": [AlertOut.model_validate(a).model_dump(mode="json") for a in alerts],
        "alert_types": [t.value for t in AlertType],
    })


@router.get("/ui/people", response_class=HTMLResponse)
def people_list(request: Request, q: Annotated[str | None, Query(max_length=100)] = None,
                principal: Principal = Depends(people_roles), session: Session = Depends(get_session)) -> Response:
    people = people_svc.list_people(session, principal, search=q)
    return render(request, "people.html", {"people": people, "q": q or ""})


@router.get("/ui/people/{person_id}", response_class=HTMLResponse)
def person_page(request: Request, person_id: PersonId,
                order_error: Annotated[str | None, Query(max_length=300)] = None,
                principal: Principal = Depends(people_roles), session: Session = Depends(get_session)) -> Response:
    person = people_svc.get_person(session, principal, person_id)
    orders = people_svc.list_orders(session, principal, person_id)
    zones = people_svc.list_zones(session, principal, person_id)
    assignments = device_svc.person_assignments(session, principal, person_id)
    alerts = alert_svc.list_alerts(session, principal, person_id=person_id, limit=100, purpose="case supervision")
    return render(request, "person.html", {
        "person": person, "order": orders[-1] if orders else None, "orders": orders,
        "zones": [zone_view(z) for z in zones], "assignments": assignments, "alerts": alerts,
        "can_edit": can_change_plans(principal), "order_error": order_error,
        "categories": [c.value for c in Category],
        "variations": [v.value for v in Variation if (v is Variation.INITIAL) == (not orders)],
        "can_fit": principal.role in FITTING_ROLES,
        "can_export_evidence": principal.role in EVIDENCE_ROLES,
    })


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip()[:300] for line in text.splitlines() if line.strip())[:50]


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(f"expected YYYY-MM-DD, got {value!r}", field=field) from None


@router.post("/ui/people/{person_id}/orders")
def add_order_version(person_id: PersonId, category: str = Form(...), variation: str = Form(...),
                      court: str = Form(""), case_number: str = Form(""), article: str = Form(""),
                      start_date: str = Form(""), end_date: str = Form(""), conditions: str = Form(""),
                      obligations: str = Form(""), principal: Principal = Depends(people_roles),
                      session: Session = Depends(get_session)) -> Response:
    """Record a variation of the court order from the person's page (a new version; the old one is kept)."""
    try:
        people_svc.add_order_version(session, principal, person_id, people_svc.OrderInput(
            category=category, variation=variation[:40], court=court[:200], case_number=case_number[:64],
            article=article[:64], start_date=_date(start_date, "start_date"), end_date=_date(end_date, "end_date"),
            conditions=_lines(conditions), obligations=_lines(obligations)))
    except DomainError as exc:
        return RedirectResponse(f"/ui/people/{person_id}?{urlencode({'order_error': str(exc)[:300]})}",
                                status_code=303)
    return RedirectResponse(f"/ui/people/{person_id}", status_code=303)


@router.get("/ui/people/{person_id}/zones", response_class=HTMLResponse)
def zone_editor(request: Request, person_id: PersonId, principal: Principal = Depends(people_roles),
                session: Session = Depends(get_session)) -> Response:
    person = people_svc.get_person(session, principal, person_id, purpose="plan change")
    zones = people_svc.list_zones(session, principal, person_id)
    return render(request, "zones.html", {"person": person, "zones": [zone_view(z) for z in zones],
                                          "can_edit": principal.role is not Role.OPERATOR})


def _local(value: str | None, default: datetime, request: Request, principal: Principal) -> datetime:
    """A ``YYYY-MM-DDTHH:MM`` wall-clock time in the user's zone, as UTC."""
    if not value:
        return default
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(f"expected YYYY-MM-DDTHH:MM, got {value!r}", field="from") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=request_zone(request, principal)).astimezone(UTC)


@router.get("/ui/people/{person_id}/trail", response_class=HTMLResponse)
def trail_page(request: Request, person_id: PersonId,
               start: Annotated[str | None, Query(alias="from", max_length=32)] = None,
               end: Annotated[str | None, Query(alias="to", max_length=32)] = None,
               purpose: Annotated[str, Query(max_length=300)] = "",
               principal: Principal = Depends(people_roles), session: Session = Depends(get_session)) -> Response:
    person = people_svc.get_person(session, principal, person_id)
    zones = people_svc.list_zones(session, principal, person_id)
    tz = request_zone(request, principal)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    t1 = _local(end, now, request, principal)
    t0 = _local(start, t1 - timedelta(hours=24), request, principal)
    fixes: list[dict[str, Any]] = []
    error = None
    if purpose:
        try:
            fixes = [FixOut.model_validate(f).model_dump(mode="json")
                     for f in location_svc.trail(session, principal, person_id, t0, t1, purpose=purpose)]
        except DomainError as exc:
            error = str(exc)
    return render(request, "trail.html", {
        "person": person, "zones": [zone_view(z) for z in zones], "fixes": fixes, "purpose": purpose,
        "error": error, "from_local": t0.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "to_local": t1.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
    })


@router.get("/ui/alerts", response_class=HTMLResponse)
def alert_queue(request: Request, show: Annotated[str, Query(max_length=8)] = "open",
                principal: Principal = Depends(people_roles), session: Session = Depends(get_session)) -> Response:
    """The one alert queue: the alert workflow's open alerts (most severe, then oldest first, with the
    acknowledgement deadline, incident and assignee), acknowledged in place or worked on ``/ui/queue/{id}``;
    ``show=all`` adds the closed ones."""
    from kuzet.alerts import workflow

    now = datetime.now(UTC)
    items = workflow.alert_queue(session, principal, now)
    closed = alert_svc.list_alerts(session, principal, status="closed", limit=300) if show == "all" else []
    return render(request, "alerts.html", {"items": items, "closed": closed, "show": show, "now": now})


@router.post("/ui/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, alert_id: Annotated[int, Path(ge=1, le=ID_MAX)], note: str = Form(""),
                next: str = Form("/ui/alerts"),
                principal: Principal = Depends(people_roles), session: Session = Depends(get_session)) -> Response:
    """Acknowledge from the queue through the alert workflow (claims the alert when unclaimed)."""
    from .pages import safe_next

    alert_svc.acknowledge_alert(session, principal, alert_id, note[:2000])
    return RedirectResponse(safe_next(next, "/ui/alerts"), status_code=303)


@router.get("/ui/audit", response_class=HTMLResponse)
def audit_page(request: Request, person_id: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
               username: Annotated[str | None, Query(max_length=64)] = None,
               principal: Principal = Depends(auditors), session: Session = Depends(get_session)) -> Response:
    entries = audit_svc.read_trail(session, principal, AuditQuery(person_id=person_id, username=username or None,
                                                                   limit=300))
    report = audit_svc.verify(session, principal, request.app.state.settings.secret_key)
    return render(request, "audit.html", {"entries": entries, "report": report, "person_id": person_id,
                                          "username": username or ""})


