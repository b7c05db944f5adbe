"""The alert workflow over HTTP: JSON endpoints under ``/api/v1/alerts/...`` and the monitoring-centre pages
(``/ui/queue``, ``/ui/queue/{alert_id}``, ``/ui/handover``, ``/ui/people/{person_id}/absences``).

Handlers only translate HTTP to calls of :mod:`kuzet.alerts.workflow`, :mod:`kuzet.alerts.escalation`,
:mod:`kuzet.alerts.absences` and :mod:`kuzet.alerts.notifications`; they run no SQL of their own. Every
route declares its rule with :func:`kuzet.web.deps.require_roles`. Paths are chosen not to collide with the
basic alert list of the web application (``/api/v1/alerts``, ``/api/v1/alerts/{alert_id}``, ``/ui/alerts``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from kuzet.domain.enums import Role, Severity
from kuzet.domain.errors import DomainError
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.rendering import NavItem, add_nav_item, render, request_zone

from . import absences as absence_svc
from . import escalation as escalation_svc
from . import notifications as notify_svc
from . import workflow as svc
from .models import Delivery
from .vocabulary import ABSENCE_ROLES, CONFIG_ROLES, WORKER_ROLES, AbsenceReason, ActionKind, CaseworkStep, Outcome

ID_MAX = 2**31 - 1
router = APIRouter(tags=["alert workflow"])
workers = require_roles(*WORKER_ROLES)
absence_granters = require_roles(*ABSENCE_ROLES)
configurers = require_roles(*CONFIG_ROLES)
AlertId = Annotated[int, Path(ge=1, le=ID_MAX)]

_WORKER_SET = frozenset(WORKER_ROLES)
add_nav_item(NavItem("/ui/handover", "Handover", _WORKER_SET))
add_nav_item(NavItem("/ui/alert-settings", "Alert settings", frozenset(CONFIG_ROLES)))


def _now() -> datetime:
    return datetime.now(UTC)


# -- bodies ---------------------------------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NoteIn(Strict):
    note: str = Field(default="", max_length=4000)


class ClaimIn(Strict):
    take_over: bool = False


class ActionIn(Strict):
    kind: ActionKind
    note: str = Field(default="", max_length=4000)


class CloseIn(Strict):
    outcome: Outcome
    note: str = Field(default="", max_length=4000)


class CaseworkIn(Strict):
    step: CaseworkStep
    note: str = Field(default="", max_length=4000)


class AbsenceIn(Strict):
    start: datetime
    end: datetime
    reason: AbsenceReason
    note: str = Field(default="", max_length=2000)


class TargetIn(Strict):
    severity: Severity
    acknowledge_within_s: float = Field(gt=0, le=7 * 24 * 3600)
    close_within_s: float | None = Field(default=None, gt=0, le=90 * 24 * 3600)
    region_id: int | None = Field(default=None, ge=1, le=ID_MAX)


class LevelIn(Strict):
    level: int = Field(ge=1, le=20)
    user_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    role: Role | None = None


class TreeIn(Strict):
    region_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    unit_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    levels: list[LevelIn] = Field(max_length=50)


class SubscriptionIn(Strict):
    channel: str = Field(max_length=16)
    address: str = Field(max_length=500)
    name: str = Field(default="", max_length=200)
    region_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    min_severity: Severity = Severity.LOW
    alert_types: list[str] = Field(default_factory=list, max_length=20)
    events: list[str] = Field(default_factory=list, max_length=10)
    secret: str = Field(default="", max_length=200)


class HandoverNoteIn(Strict):
    note: str = Field(min_length=1, max_length=8000)


# -- views ------------------------------------------------------------------------------------------------------
def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _alert_json(a: Any) -> dict[str, Any]:
    return {"id": a.id, "person_id": a.person_id, "subject_code": a.subject_code, "region_id": a.region_id,
            "type": a.type, "target": a.target, "severity": a.severity, "start": _iso(a.start), "end": _iso(a.end),
            "raised_at": _iso(a.raised_at), "late": a.late, "confidence": a.confidence, "status": a.status,
            "assignee_id": a.assignee_id, "acknowledged_at": _iso(a.acknowledged_at),
            "closed_at": _iso(a.closed_at), "outcome": a.outcome, "outcome_note": a.outcome_note}


def _queue_json(item: svc.QueueItem) -> dict[str, Any]:
    return {**_alert_json(item.alert), "person_name": item.person_name, "incident_id": item.incident_id,
            "incident_size": item.incident_size, "acknowledge_due": _iso(item.acknowledge_due),
            "overdue": item.overdue, "escalation_level": item.escalation_level, "assignee": item.assignee}


def _detail_json(d: svc.AlertDetail) -> dict[str, Any]:
    return {
        "alert": _alert_json(d.alert), "person_name": d.person_name, "device": d.device,
        "acknowledge_due": _iso(d.acknowledge_due), "close_due": _iso(d.close_due),
        "incident": None if d.incident is None else {
            "id": d.incident.id, "status": d.incident.status, "severity": d.incident.severity,
            "alerts": [d.alert.id, *[r.id for r in d.related]]},
        "related": [_alert_json(r) for r in d.related],
        "actions": [{"id": a.id, "kind": a.kind, "note": a.note, "at": _iso(a.at), "user_id": a.user_id,
                     "user": d.usernames.get(a.user_id or -1, ""), "detail": a.detail} for a in d.actions],
        "escalations": [{"level": e.level, "reason": e.reason, "due_at": _iso(e.due_at), "at": _iso(e.at),
                         "recipients": e.recipients} for e in d.escalations],
    }


def _delivery_json(d: Delivery) -> dict[str, Any]:
    return {"id": d.id, "alert_id": d.alert_id, "channel": d.channel, "recipient": d.recipient, "event": d.event,
            "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
            "payload_hash": d.payload_hash, "idempotency_key": d.idempotency_key,
            "next_attempt_at": _iso(d.next_attempt_at), "sent_at": _iso(d.sent_at)}


# -- API ----------------------------------------------------------------------------------------------------------
@router.get("/api/v1/alerts/workflow/queue")
def api_queue(region_id: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
              principal: Principal = Depends(workers), session: Session = Depends(get_session)
              ) -> list[dict[str, Any]]:
    """Open alerts in scope, most severe first, then oldest first, with their incident and deadline."""
    return [_queue_json(i) for i in svc.alert_queue(session, principal, _now(), region_id=region_id)]


@router.get("/api/v1/alerts/{alert_id}/workflow")
def api_detail(alert_id: AlertId, principal: Principal = Depends(workers),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    """An alert with its actions, incident, related alerts, deadlines and escalations."""
    return _detail_json(svc.alert_detail(session, principal, alert_id))


@router.post("/api/v1/alerts/{alert_id}/claim")
def api_claim(alert_id: AlertId, body: ClaimIn | None = None, principal: Principal = Depends(workers),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    return _alert_json(svc.claim_alert(session, principal, alert_id, take_over=bool(body and body.take_over)))


@router.post("/api/v1/alerts/{alert_id}/workflow/acknowledge")
def api_acknowledge(alert_id: AlertId, body: NoteIn | None = None, principal: Principal = Depends(workers),
                    session: Session = Depends(get_session)) -> dict[str, Any]:
    return _alert_json(svc.acknowledge_alert(session, principal, alert_id, body.note if body else ""))


@router.post("/api/v1/alerts/{alert_id}/actions", status_code=201)
def api_action(alert_id: AlertId, body: ActionIn, principal: Principal = Depends(workers),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    """Record an action (call_person, message_device, locate_now, visit, inform_police, inform_protected_person)."""
    action = svc.record_action(session, principal, alert_id, body.kind, body.note)
    return {"id": action.id, "kind": action.kind, "note": action.note, "at": _iso(action.at),
            "detail": action.detail}


@router.post("/api/v1/alerts/{alert_id}/close")
def api_close(alert_id: AlertId, body: CloseIn, principal: Principal = Depends(workers),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    """Close with an outcome; a critical alert needs a note (422 otherwise)."""
    return _alert_json(svc.close_alert(session, principal, alert_id, body.outcome, body.note))


@router.post("/api/v1/alerts/{alert_id}/casework", status_code=201)
def api_casework(alert_id: AlertId, body: CaseworkIn, principal: Principal = Depends(workers),
                 session: Session = Depends(get_session)) -> dict[str, Any]:
    """Turn a confirmed violation into a written warning or a draft court submission."""
    return svc.escalate_to_casework(session, principal, alert_id, body.step, body.note)


@router.get("/api/v1/alerts/incidents/{incident_id}")
def api_incident(incident_id: Annotated[int, Path(ge=1, le=ID_MAX)], principal: Principal = Depends(workers),
                 session: Session = Depends(get_session)) -> dict[str, Any]:
    alerts = [svc.get_alert(session, principal, a.id) for a in svc.incident_alerts(session, incident_id)]
    if not alerts:
        from kuzet.access import NotVisible

        raise NotVisible(f"incident {incident_id} not found")
    return {"id": incident_id, "alerts": [_alert_json(a) for a in alerts]}


@router.get("/api/v1/alerts/workflow/handover")
def api_handover(hours: Annotated[float, Query(gt=0, le=48)] = 8.0, principal: Principal = Depends(workers),
                 session: Session = Depends(get_session)) -> dict[str, Any]:
    h = escalation_svc.handover_view(session, principal, _now(), shift=timedelta(hours=hours))
    return {"shift_start": _iso(h.shift_start), "now": _iso(h.now), "raised": h.raised,
            "open": [_alert_json(a) for a in h.open_alerts], "overdue": [a.id for a in h.overdue],
            "closed": [_alert_json(a) for a in h.closed],
            "escalations": [{"alert_id": e.alert_id, "level": e.level, "reason": e.reason, "at": _iso(e.at)}
                            for e in h.escalated],
            "notes": [{"id": n.id, "at": _iso(n.at), "author": h.usernames.get(n.author_id or -1, ""),
                       "note": n.note, "open_alerts": n.open_alerts} for n in h.notes]}


@router.post("/api/v1/alerts/workflow/handover-notes", status_code=201)
def api_handover_note(body: HandoverNoteIn, principal: Principal = Depends(workers),
                      session: Session = Depends(get_session)) -> dict[str, Any]:
    row = escalation_svc.write_handover_note(session, principal, body.note, _now())
    return {"id": row.id, "at": _iso(row.at), "open_alerts": row.open_alerts}


@router.get("/api/v1/alerts/workflow/absences/{person_id}")
def api_absences(person_id: Annotated[int, Path(ge=1, le=ID_MAX)], principal: Principal = Depends(workers),
                 session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    return [{"id": a.id, "start": _iso(a.start), "end": _iso(a.end), "reason": a.reason, "note": a.note,
             "granted_by": a.granted_by, "revoked_at": _iso(a.revoked_at)}
            for a in absence_svc.list_absences(session, principal, person_id)]


@router.post("/api/v1/alerts/workflow/absences/{person_id}", status_code=201)
def api_grant_absence(person_id: Annotated[int, Path(ge=1, le=ID_MAX)], body: AbsenceIn,
                      principal: Principal = Depends(absence_granters),
                      session: Session = Depends(get_session)) -> dict[str, Any]:
    """Grant an authorised absence: the person's inclusion zones are lifted for its interval."""
    row = absence_svc.grant_absence(session, principal, person_id, body.start, body.end, body.reason, body.note)
    return {"id": row.id, "start": _iso(row.start), "end": _iso(row.end), "reason": row.reason}


@router.delete("/api/v1/alerts/workflow/absences/{person_id}/{absence_id}")
def api_revoke_absence(person_id: Annotated[int, Path(ge=1, le=ID_MAX)],
                       absence_id: Annotated[int, Path(ge=1, le=ID_MAX)],
                       principal: Principal = Depends(absence_granters),
                       session: Session = Depends(get_session)) -> dict[str, Any]:
    row = absence_svc.revoke_absence(session, principal, absence_id)
    if row.person_id != person_id:
        raise DomainError(f"absence {absence_id} is not person {person_id}'s", field="absence_id")
    return {"id": row.id, "revoked_at": _iso(row.revoked_at)}


@router.put("/api/v1/alerts/workflow/targets")
def api_set_target(body: TargetIn, principal: Principal = Depends(configurers),
                   session: Session = Depends(get_session)) -> dict[str, Any]:
    row = escalation_svc.set_response_target(
        session, principal, body.severity, acknowledge_within=timedelta(seconds=body.acknowledge_within_s),
        close_within=None if body.close_within_s is None else timedelta(seconds=body.close_within_s),
        region_id=body.region_id)
    return {"severity": row.severity, "region_id": row.region_id,
            "acknowledge_within_s": row.acknowledge_within_s, "close_within_s": row.close_within_s}


@router.put("/api/v1/alerts/workflow/escalation-tree")
def api_set_tree(body: TreeIn, principal: Principal = Depends(configurers),
                 session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    rows = escalation_svc.set_escalation_tree(
        session, principal, [escalation_svc.LevelSpec(x.level, x.user_id, x.role) for x in body.levels],
        region_id=body.region_id, unit_id=body.unit_id)
    return [{"level": r.level, "user_id": r.user_id, "role": r.role} for r in rows]


@router.post("/api/v1/alerts/workflow/subscriptions", status_code=201)
def api_subscribe(body: SubscriptionIn, principal: Principal = Depends(configurers),
                  session: Session = Depends(get_session)) -> dict[str, Any]:
    if principal.role is not Role.ADMINISTRATOR and body.region_id != principal.region_id:
        from kuzet.access import AccessDenied

        raise AccessDenied("a supervisor may subscribe recipients for their own region only")
    row = notify_svc.subscribe(session, channel=body.channel, address=body.address, name=body.name,
                               region_id=body.region_id, min_severity=body.min_severity.value,
                               alert_types=body.alert_types, events=body.events, secret=body.secret)
    return {"id": row.id, "channel": row.channel, "address": row.address}


@router.get("/api/v1/alerts/workflow/deliveries")
def api_deliveries(alert_id: Annotated[int | None, Query(ge=1, le=ID_MAX)] = None,
                   principal: Principal = Depends(configurers),
                   session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    """The delivery log (administrators; supervisors for an alert in their scope)."""
    if principal.role is not Role.ADMINISTRATOR:
        if alert_id is None:
            from kuzet.access import AccessDenied

            raise AccessDenied("a supervisor reads the delivery log of one alert at a time")
        svc.get_alert(session, principal, alert_id)
    return [_delivery_json(d) for d in notify_svc.delivery_log(session, alert_id=alert_id)]


# -- UI ------------------------------------------------------------------------------------------------------------
def _back(alert_id: int, error: str | None = None) -> RedirectResponse:
    url = f"/ui/queue/{alert_id}" + (f"?error={quote(error[:300])}" if error else "")
    return RedirectResponse(url, status_code=303)


@router.get("/ui/queue", response_class=HTMLResponse)
def ui_queue(request: Request, principal: Principal = Depends(workers),
             session: Session = Depends(get_session)) -> Response:
    items = svc.alert_queue(session, principal, _now())
    return render(request, "alert_queue.html", {"items": items, "now": _now()})


@router.get("/ui/queue/{alert_id}", response_class=HTMLResponse)
def ui_alert(request: Request, alert_id: AlertId, error: Annotated[str, Query(max_length=300)] = "",
             principal: Principal = Depends(workers), session: Session = Depends(get_session)) -> Response:
    detail = svc.alert_detail(session, principal, alert_id)
    return render(request, "alert_work.html", {
        "d": detail, "a": detail.alert, "error": error, "now": _now(), "outcomes": [o.value for o in Outcome],
        "actions": [k.value for k in ActionKind], "steps": [s.value for s in CaseworkStep]})


@router.post("/ui/queue/{alert_id}/claim")
def ui_claim(alert_id: AlertId, take_over: str = Form(""), principal: Principal = Depends(workers),
             session: Session = Depends(get_session)) -> Response:
    try:
        svc.claim_alert(session, principal, alert_id, take_over=bool(take_over))
    except DomainError as exc:
        return _back(alert_id, exc.message)
    return _back(alert_id)


@router.post("/ui/queue/{alert_id}/acknowledge")
def ui_acknowledge(alert_id: AlertId, note: str = Form(""), principal: Principal = Depends(workers),
                   session: Session = Depends(get_session)) -> Response:
    try:
        svc.acknowledge_alert(session, principal, alert_id, note[:4000])
    except DomainError as exc:
        return _back(alert_id, exc.message)
    return _back(alert_id)


@router.post("/ui/queue/{alert_id}/act")
def ui_act(alert_id: AlertId, kind: str = Form(...), note: str = Form(""), principal: Principal = Depends(workers),
           session: Session = Depends(get_session)) -> Response:
    try:
        svc.record_action(session, principal, alert_id, kind, note[:4000])
    except DomainError as exc:
        return _back(alert_id, exc.message)
    return _back(alert_id)


@router.post("/ui/queue/{alert_id}/close")
def ui_close(alert_id: AlertId, outcome: str = Form(...), note: str = Form(""),
             principal: Principal = Depends(workers), session: Session = Depends(get_session)) -> Response:
    try:
        svc.close_alert(session, principal, alert_id, outcome, note[:4000])
    except DomainError as exc:
        return _back(alert_id, exc.message)
    return _back(alert_id)


@router.post("/ui/queue/{alert_id}/casework")
def ui_casework(alert_id: AlertId, step: str = Form(...), note: str = Form(""),
                principal: Principal = Depends(workers), session: Session = Depends(get_session)) -> Response:
    try:
        svc.escalate_to_casework(session, principal, alert_id, step, note[:4000])
    except DomainError as exc:
        return _back(alert_id, exc.message)
    return _back(alert_id)


@router.get("/ui/handover", response_class=HTMLResponse)
def ui_handover(request: Request, hours: Annotated[float, Query(gt=0, le=48)] = 8.0,
                principal: Principal = Depends(workers), session: Session = Depends(get_session)) -> Response:
    h = escalation_svc.handover_view(session, principal, _now(), shift=timedelta(hours=hours))
    return render(request, "alert_handover.html", {"h": h, "hours": hours})


@router.post("/ui/handover")
def ui_handover_note(note: str = Form(...), principal: Principal = Depends(workers),
                     session: Session = Depends(get_session)) -> Response:
    escalation_svc.write_handover_note(session, principal, note[:8000], _now())
    return RedirectResponse("/ui/handover", status_code=303)


@router.get("/ui/people/{person_id}/absences", response_class=HTMLResponse)
def ui_absences(request: Request, person_id: Annotated[int, Path(ge=1, le=ID_MAX)],
                error: Annotated[str, Query(max_length=300)] = "",
                principal: Principal = Depends(absence_granters),
                session: Session = Depends(get_session)) -> Response:
    rows = absence_svc.list_absences(session, principal, person_id)
    return render(request, "alert_absences.html", {"person_id": person_id, "rows": rows, "error": error,
                                                   "reasons": [r.value for r in AbsenceReason]})


@router.post("/ui/people/{person_id}/absences")
def ui_grant_absence(request: Request, person_id: Annotated[int, Path(ge=1, le=ID_MAX)],
                     start: str = Form(...), end: str = Form(...), reason: str = Form(...), note: str = Form(""),
                     principal: Principal = Depends(absence_granters),
                     session: Session = Depends(get_session)) -> Response:
    tz = request_zone(request, principal)
    try:
        t0 = _local_input(start, tz, "start")
        t1 = _local_input(end, tz, "end")
        absence_svc.grant_absence(session, principal, person_id, t0, t1, reason, note[:2000])
    except DomainError as exc:
        return RedirectResponse(f"/ui/people/{person_id}/absences?error={quote(exc.message[:300])}",
                                status_code=303)
    return RedirectResponse(f"/ui/people/{person_id}/absences", status_code=303)


@router.get("/ui/alert-settings", response_class=HTMLResponse)
def ui_settings(request: Request, error: Annotated[str, Query(max_length=300)] = "",
                principal: Principal = Depends(configurers), session: Session = Depends(get_session)) -> Response:
    """Response targets, the escalation tree and the subscriptions of the caller's region."""
    region_id = principal.region_id
    targets = {sev.value: escalation_svc.response_target(session, sev.value, region_id)
               for sev in sorted(Severity, key=lambda x: -x.rank)}
    tree = escalation_svc.escalation_tree(session, region_id, None)
    return render(request, "alert_settings.html", {
        "targets": targets, "tree": tree, "error": error, "region_id": region_id,
        "subscriptions": notify_svc.list_subscriptions(session, region_id),
        "roles": [r.value for r in (Role.OPERATOR, Role.SUPERVISOR, Role.OFFICER, Role.ADMINISTRATOR)]})


def _settings_back(error: str = "") -> RedirectResponse:
    return RedirectResponse("/ui/alert-settings" + (f"?error={quote(error[:300])}" if error else ""),
                            status_code=303)


@router.post("/ui/alert-settings/targets")
def ui_set_target(severity: str = Form(...), acknowledge_min: float = Form(...), close_min: str = Form(""),
                  principal: Principal = Depends(configurers), session: Session = Depends(get_session)) -> Response:
    try:
        escalation_svc.set_response_target(
            session, principal, severity, acknowledge_within=timedelta(minutes=acknowledge_min),
            close_within=timedelta(minutes=float(close_min)) if close_min.strip() else None,
            region_id=principal.region_id)
    except (DomainError, ValueError) as exc:
        return _settings_back(str(exc))
    return _settings_back()


@router.post("/ui/alert-settings/tree")
def ui_set_tree(levels: str = Form(""), principal: Principal = Depends(configurers),
                session: Session = Depends(get_session)) -> Response:
    """One level a line: ``1 supervisor`` (a role) or ``2 @username`` (a user)."""
    from kuzet.auth.service import find_user

    specs = []
    try:
        for line in levels.splitlines():
            if not line.strip():
                continue
            number, _, who = line.strip().partition(" ")
            who = who.strip()
            if who.startswith("@"):
                user = find_user(session, who[1:])
                if user is None:
                    raise DomainError(f"no user {who[1:]!r}", field="levels")
                specs.append(escalation_svc.LevelSpec(int(number), user_id=user.id))
            else:
                specs.append(escalation_svc.LevelSpec(int(number), role=Role(who)))
        escalation_svc.set_escalation_tree(session, principal, specs, region_id=principal.region_id)
    except (DomainError, ValueError) as exc:
        return _settings_back(str(exc))
    return _settings_back()


@router.post("/ui/alert-settings/subscriptions")
def ui_subscribe(channel: str = Form(...), address: str = Form(...), min_severity: str = Form("low"),
                 name: str = Form(""), principal: Principal = Depends(configurers),
                 session: Session = Depends(get_session)) -> Response:
    try:
        notify_svc.subscribe(session, channel=channel, address=address[:500], name=name[:200],
                             region_id=principal.region_id, min_severity=min_severity)
    except DomainError as exc:
        return _settings_back(exc.message)
    return _settings_back()


def _local_input(value: str, tz: Any, field: str) -> datetime:
    """A ``datetime-local`` form value in the caller's time zone, as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(f"expected a date and time, got {value!r}", field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)
