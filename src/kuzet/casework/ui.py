"""Casework pages: the caseload with registration reminders and the calendar, registering a person with their
order, a person's case file (orders, appointments and check-ins, violations and legal steps, the individual
programme, notes, timeline), partners, and the partner's own page.

Handlers call the same services as :mod:`kuzet.casework.api`, after the same scope checks, and render templates
from ``kuzet/casework/templates/casework``. A refused step is shown on the page with the service's message.
The partner's page never shows an address or a location.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from kuzet.domain.enums import Category, Role
from kuzet.domain.errors import DomainError
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.rendering import NavItem, add_nav_item, render
from kuzet.web.services.people import PersonInput

from . import ending, enforcement, orders, programme, queries, registration, supervision
from .orders import OrderTerms
from .queries import CASE_READERS, CASE_WRITERS, PARTNER_ADMINS
from .vocabulary import (
    AbsenceReason,
    AppointmentKind,
    AppointmentOutcome,
    DecisionOutcome,
    EndReason,
    NeedArea,
    SubmissionKind,
    Variation,
)

#: Variations an officer records from the case page (extensions, revocations and ends have their own steps).
OFFICER_VARIATIONS = ("new_address", "zone_added", "curfew_changed", "device_change", "obligations_changed")

ID_MAX = 2**31 - 1
router = APIRouter(include_in_schema=False)
readers = require_roles(*CASE_READERS)
writers = require_roles(*CASE_WRITERS)
partner_admins = require_roles(*PARTNER_ADMINS)
partners_only = require_roles(Role.PARTNER)
Id = Annotated[int, Path(ge=1, le=ID_MAX)]

add_nav_item(NavItem("/ui/casework", "Casework", frozenset(CASE_READERS)))
add_nav_item(NavItem("/ui/partner", "Assistance programmes", frozenset({Role.PARTNER})))


def _now() -> datetime:
    return datetime.now(UTC)


def _today(principal: Principal) -> date:
    """Today in the caller's time zone (deadlines are calendar days where the officer works)."""
    try:
        return datetime.now(ZoneInfo(principal.timezone)).date()
    except (ValueError, KeyError):
        return datetime.now(ZoneInfo("Asia/Almaty")).date()


def _q(text: str) -> str:
    return quote(text, safe="")


def _back(path: str, error: Exception | None = None) -> RedirectResponse:
    return RedirectResponse(path + (f"?error={_q(str(error))}" if error else ""), status_code=303)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text.strip() else None
    except ValueError:
        raise DomainError(f"not a date: {text!r} (YYYY-MM-DD)", field="date") from None


def _local(text: str, principal: Principal) -> datetime:
    """A ``datetime-local`` form value in the caller's time zone, as UTC."""
    from zoneinfo import ZoneInfo

    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(f"not a date and time: {text!r}", field="at") from None
    return naive.replace(tzinfo=ZoneInfo(principal.timezone)).astimezone(UTC)


@router.get("/ui/casework", response_class=HTMLResponse)
def caseload_page(request: Request, principal: Principal = Depends(readers),
                  session: Session = Depends(get_session)) -> Response:
    today = _today(principal)
    people, reminders = queries.caseload(session, principal, today=today)
    upcoming = queries.calendar(session, principal, _now() - timedelta(days=1), _now() + timedelta(days=14))
    return render(request, "casework/caseload.html", {
        "people": people, "reminders": reminders, "upcoming": upcoming, "today": today,
        "can_write": principal.role in CASE_WRITERS})


@router.get("/ui/casework/register", response_class=HTMLResponse)
def register_form(request: Request, principal: Principal = Depends(writers),
                  session: Session = Depends(get_session)) -> Response:
    return render(request, "casework/register.html", {
        "units": queries.units_for_registration(session, principal), "categories": [c.value for c in Category],
        "error": request.query_params.get("error"), "form": {}})


@router.post("/ui/casework/register", response_class=HTMLResponse)
async def register_submit(request: Request, principal: Principal = Depends(writers),
                          session: Session = Depends(get_session)) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        category = form.get("category", "")
        unit = form.get("unit_id", "")
        if not unit.isdigit():
            raise DomainError("choose the unit", field="unit_id")
        reg = registration.register_person(
            session, principal,
            PersonInput(code=form.get("code", "").strip(), category=category, unit_id=int(unit),
                        surname=form.get("surname", ""), given_name=form.get("given_name", ""),
                        patronymic=form.get("patronymic", ""), iin=form.get("iin", "").strip(),
                        birth_date=_day(form.get("birth_date", "")), address=form.get("address", "")),
            OrderTerms(category=category, court=form.get("court", ""), case_number=form.get("case_number", ""),
                       article=form.get("article", ""), start_date=_day(form.get("start_date", "")),
                       end_date=_day(form.get("end_date", "")), conditions=_lines(form.get("conditions", "")),
                       obligations=_lines(form.get("obligations", ""))),
            released_on=_day(form.get("released_on", "")) or _today(principal), risk_notes=form.get("risk_notes", ""))
    except DomainError as exc:
        session.rollback()
        return render(request, "casework/register.html", {
            "units": queries.units_for_registration(session, principal),
            "categories": [c.value for c in Category], "error": str(exc), "form": form}, status_code=422)
    return RedirectResponse(f"/ui/casework/people/{reg.person_id}", status_code=303)


@router.get("/ui/casework/people/{person_id}", response_class=HTMLResponse)
def case_page(request: Request, person_id: Id, principal: Principal = Depends(readers),
              session: Session = Depends(get_session)) -> Response:
    file = queries.case_file(session, principal, person_id, today=_today(principal))
    return render(request, "casework/person.html", {
        "f": file, "timeline": queries.timeline(file), "error": request.query_params.get("error"),
        "can_write": principal.role in CASE_WRITERS, "ngos": programme.list_partners(session),
        "areas": [a.value for a in NeedArea], "outcomes": [o.value for o in AppointmentOutcome],
        "reasons": [r.value for r in AbsenceReason], "kinds": [k.value for k in AppointmentKind],
        "submission_kinds": [k.value for k in SubmissionKind], "decisions": [d.value for d in DecisionOutcome],
        "end_reasons": [r.value for r in EndReason], "today": _today(principal),
        "variations": [v.value for v in Variation if v.value in OFFICER_VARIATIONS],
        "warned": {w.violation_id: w for w in file.warnings},
        "submitted": {s.violation_id: s for s in file.submissions}})


def _case(person_id: int) -> str:
    return f"/ui/casework/people/{person_id}"


@router.post("/ui/casework/people/{person_id}/order-variations", response_class=HTMLResponse)
def vary(person_id: Id, variation: str = Form(...), effective_from: str = Form(...), conditions: str = Form(""),
         obligations: str = Form(""), end_date: str = Form(""), principal: Principal = Depends(writers),
         session: Session = Depends(get_session)) -> Response:
    """A variation of the order: a new version with the conditions and obligations as now written."""
    queries.person_for_change(session, principal, person_id)
    try:
        changes: dict[str, object] = {"conditions": list(_lines(conditions)), "obligations": list(_lines(obligations))}
        if end_date.strip():
            changes["end_date"] = _day(end_date)
        orders.vary_order(session, principal.actor, person_id, variation,
                          effective_from=_local(effective_from, principal), changes=changes)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/people/{person_id}/check-in", response_class=HTMLResponse)
def check_in(person_id: Id, note: str = Form(""), principal: Principal = Depends(writers),
             session: Session = Depends(get_session)) -> Response:
    queries.person_for_change(session, principal, person_id)
    try:
        supervision.record_check_in(session, principal.actor, person_id, at=_now(), note=note)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/people/{person_id}/appointments", response_class=HTMLResponse)
def schedule(person_id: Id, kind: str = Form(...), scheduled_at: str = Form(...), place: str = Form(""),
             principal: Principal = Depends(writers), session: Session = Depends(get_session)) -> Response:
    queries.person_for_change(session, principal, person_id)
    try:
        supervision.schedule_appointment(session, principal.actor, person_id, kind, _local(scheduled_at, principal),
                                         place=place)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/appointments/{appointment_id}/outcome", response_class=HTMLResponse)
def outcome(appointment_id: Id, outcome: str = Form(...), absence_reason: str = Form(""), note: str = Form(""),
            principal: Principal = Depends(writers), session: Session = Depends(get_session)) -> Response:
    appt = queries.appointment_for(session, principal, appointment_id)
    person_id = appt.person_id
    try:
        supervision.close_appointment(session, principal.actor, appointment_id, outcome, at=_now(),
                                      absence_reason=absence_reason or None, note=note)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/people/{person_id}/notes", response_class=HTMLResponse)
def note(person_id: Id, text: str = Form(""), principal: Principal = Depends(writers),
         session: Session = Depends(get_session)) -> Response:
    queries.person_for_change(session, principal, person_id)
    try:
        supervision.add_case_note(session, principal.actor, person_id, text, at=_now())
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/people/{person_id}/violations", response_class=HTMLResponse)
def violation(person_id: Id, kind: str = Form(...), breach_at: str = Form(...), description: str = Form(""),
              principal: Principal = Depends(writers), session: Session = Depends(get_session)) -> Response:
    queries.person_for_change(session, principal, person_id)
    try:
        enforcement.record_violation(session, principal.actor, person_id, kind=kind,
                                     breach_at=_local(breach_at, principal), identified_at=_now(),
                                     description=description)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/violations/{violation_id}/warning", response_class=HTMLResponse)
def warning(violation_id: Id, principal: Principal = Depends(writers),
            session: Session = Depends(get_session)) -> Response:
    person_id = queries.violation_for(session, principal, violation_id).person_id
    try:
        enforcement.issue_written_warning(session, principal.actor, violation_id)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/violations/{violation_id}/submission", response_class=HTMLResponse)
def submission(violation_id: Id, kind: str = Form("replace_sentence"), grounds: str = Form(""),
               principal: Principal = Depends(writers), session: Session = Depends(get_session)) -> Response:
    person_id = queries.violation_for(session, principal, violation_id).person_id
    try:
        enforcement.submit_to_court(session, principal.actor, violation_id, kind=kind, grounds=grounds)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/submissions/{submission_id}/filing", response_class=HTMLResponse)
def filing(submission_id: Id, principal: Principal = Depends(writers),
           session: Session = Depends(get_session)) -> Response:
    person_id = queries.submission_for(session, principal, submission_id, write=True).person_id
    try:
        enforcement.file_submission(session, principal.actor, submission_id)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/submissions/{submission_id}/decision", response_class=HTMLResponse)
def decision(submission_id: Id, outcome: str = Form(...), decided_on: str = Form(""),
             extension_months: str = Form(""), obligations: str = Form(""), note: str = Form(""),
             principal: Principal = Depends(writers), session: Session = Depends(get_session)) -> Response:
    person_id = queries.submission_for(session, principal, submission_id, write=True).person_id
    try:
        enforcement.record_court_decision(
            session, principal.actor, submission_id, outcome, decided_on=_day(decided_on) or _today(principal),
            note=note, extension_months=int(extension_months) if extension_months.strip().isdigit() else None,
            obligations=_lines(obligations))
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/people/{person_id}/end", response_class=HTMLResponse)
def end(person_id: Id, reason: str = Form(...), note: str = Form(""), principal: Principal = Depends(writers),
        session: Session = Depends(get_session)) -> Response:
    queries.person_for_change(session, principal, person_id)
    try:
        ending.end_supervision(session, principal.actor, person_id, reason, at=_now(), note=note)
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/people/{person_id}/goals", response_class=HTMLResponse)
def goal(person_id: Id, area: str = Form(...), text: str = Form(""), partner_id: str = Form(""),
         due_on: str = Form(""), principal: Principal = Depends(writers),
         session: Session = Depends(get_session)) -> Response:
    queries.person_for_change(session, principal, person_id)
    try:
        programme.add_goal(session, principal.actor, person_id, area, text,
                           partner_id=int(partner_id) if partner_id.isdigit() else None, due_on=_day(due_on))
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.post("/ui/casework/goals/{goal_id}/actions", response_class=HTMLResponse)
def action(goal_id: Id, text: str = Form(""), due_on: str = Form(""), principal: Principal = Depends(writers),
           session: Session = Depends(get_session)) -> Response:
    person_id = queries.goal_for(session, principal, goal_id).person_id
    try:
        programme.add_action(session, principal.actor, goal_id, text, due_on=_day(due_on))
    except DomainError as exc:
        session.rollback()
        return _back(_case(person_id), exc)
    return _back(_case(person_id))


@router.get("/ui/casework/partners", response_class=HTMLResponse)
def partners_page(request: Request, principal: Principal = Depends(readers),
                  session: Session = Depends(get_session)) -> Response:
    return render(request, "casework/partners.html", {
        "partners": queries.partners_overview(session, principal), "areas": [a.value for a in NeedArea],
        "can_admin": principal.role in PARTNER_ADMINS, "error": request.query_params.get("error")})


@router.post("/ui/casework/partners", response_class=HTMLResponse)
async def partner_create(request: Request, principal: Principal = Depends(partner_admins),
                         session: Session = Depends(get_session)) -> Response:
    form = await request.form()
    try:
        programme.create_partner(session, principal.actor, str(form.get("kind") or ""), str(form.get("name") or ""),
                                 region_id=principal.region_id, contact=str(form.get("contact") or ""),
                                 services=[str(s) for s in form.getlist("services")])
    except DomainError as exc:
        session.rollback()
        return _back("/ui/casework/partners", exc)
    return _back("/ui/casework/partners")


@router.get("/ui/partner", response_class=HTMLResponse)
def partner_page(request: Request, principal: Principal = Depends(partners_only),
                 session: Session = Depends(get_session)) -> Response:
    view = queries.partner_view(session, principal, year=_today(principal).year)
    return render(request, "casework/partner.html", {"view": view, "error": request.query_params.get("error")})


@router.post("/ui/partner/actions/{action_id}/outcome", response_class=HTMLResponse)
def partner_action_outcome(action_id: Id, outcome: str = Form(""), principal: Principal = Depends(partners_only),
                           session: Session = Depends(get_session)) -> Response:
    queries.action_for(session, principal, action_id)
    try:
        programme.record_action_outcome(session, principal.actor, action_id, done_on=_today(principal), outcome=outcome)
    except DomainError as exc:
        session.rollback()
        return _back("/ui/partner", exc)
    return _back("/ui/partner")


@router.post("/ui/partner/labour/{placement_id}/hours", response_class=HTMLResponse)
def partner_labour_hours(placement_id: Id, worked_on: str = Form(""), hours: str = Form(""),
                         principal: Principal = Depends(partners_only),
                         session: Session = Depends(get_session)) -> Response:
    """The akimat records the forced labour worked at its own placement."""
    queries.placement_for(session, principal, placement_id)
    try:
        try:
            amount = float(hours)
        except ValueError:
            raise DomainError(f"not a number of hours: {hours!r}", field="hours") from None
        supervision.record_labour_hours(session, principal.actor, placement_id,
                                        _day(worked_on) or _today(principal), amount)
    except DomainError as exc:
        session.rollback()
        return _back("/ui/partner", exc)
    return _back("/ui/partner")
