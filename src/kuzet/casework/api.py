"""Casework over JSON: ``/api/v1/casework/...``.

Handlers translate HTTP into calls of the casework services after the scope checks of
:mod:`kuzet.casework.queries`; they run no SQL of their own. Every route declares its rule with
:func:`kuzet.web.deps.require_roles`. Rule breaks are :class:`kuzet.casework.CaseworkError` (HTTP 422 naming the
field); a record outside the caller's scope is 404. A partner reaches only ``/api/v1/casework/partner/...`` and
the programme actions and labour placements of their own organisation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from kuzet.access.policy import AccessDenied
from kuzet.domain.enums import Role
from kuzet.web.deps import Principal, get_session, require_roles
from kuzet.web.services.people import PersonInput

from . import documents, ending, enforcement, orders, programme, queries, registration, supervision
from .errors import CaseworkError, NoOrderInForce
from .queries import CASE_READERS, CASE_WRITERS, PARTNER_ADMINS

ID_MAX = 2**31 - 1
router = APIRouter(prefix="/api/v1/casework", tags=["casework"])
readers = require_roles(*CASE_READERS)
writers = require_roles(*CASE_WRITERS)
partner_admins = require_roles(*PARTNER_ADMINS)
partners_only = require_roles(Role.PARTNER)
writers_or_partner = require_roles(*CASE_WRITERS, Role.PARTNER)
Id = Annotated[int, Path(ge=1, le=ID_MAX)]
Lang = Annotated[str, Query(pattern="^(kk|ru|kk-ru)$")]


def _now() -> datetime:
    return datetime.now(UTC)


def _today(principal: Principal) -> date:
    """Today in the caller's time zone (deadlines are calendar days where the officer works)."""
    try:
        return datetime.now(ZoneInfo(principal.timezone)).date()
    except (ValueError, KeyError):
        return datetime.now(ZoneInfo("Asia/Almaty")).date()


def _json(row: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ("id", *names)}


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- registration and orders -------------------------------------------------------------------------------
class PersonIn(Strict):
    code: str = Field(min_length=1, max_length=64)
    category: str
    unit_id: int = Field(ge=1, le=ID_MAX)
    surname: str = Field(default="", max_length=100)
    given_name: str = Field(default="", max_length=100)
    patronymic: str = Field(default="", max_length=100)
    birth_date: date | None = None
    iin: str = Field(default="", max_length=12)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=300)
    officer_id: int | None = Field(default=None, ge=1, le=ID_MAX)


class OrderIn(Strict):
    court: str = Field(default="", max_length=200)
    case_number: str = Field(default="", max_length=64)
    article: str = Field(default="", max_length=64)
    start_date: date | None = None
    end_date: date | None = None
    conditions: list[str] = Field(default_factory=list, max_length=50)
    obligations: list[str] = Field(default_factory=list, max_length=50)


class RegistrationIn(Strict):
    person: PersonIn
    order: OrderIn
    released_on: date
    risk_notes: str = Field(default="", max_length=4000)


class VariationIn(Strict):
    variation: str
    effective_from: datetime
    changes: dict[str, Any] = Field(default_factory=dict)


class DayIn(Strict):
    on: date


def _order_json(o: Any) -> dict[str, Any]:
    return _json(o, "person_id", "version", "category", "variation", "effective_from", "status", "court",
                 "case_number", "article", "start_date", "end_date", "conditions", "obligations", "created_by")


@router.post("/registrations", status_code=201)
def register(body: RegistrationIn, principal: Principal = Depends(writers),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    """Register a person with their order (conditions and obligations) and the registration deadlines."""
    reg = registration.register_person(
        session, principal, PersonInput(**body.person.model_dump()),
        orders.OrderTerms(category=body.person.category, **{**body.order.model_dump(),
                                                             "conditions": tuple(body.order.conditions),
                                                             "obligations": tuple(body.order.obligations)}),
        released_on=body.released_on, risk_notes=body.risk_notes)
    return _json(reg, "person_id", "released_on", "due_on", "search_from")


@router.get("/reminders")
def reminders(today: date | None = None, principal: Principal = Depends(readers),
              session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    _, found = queries.caseload(session, principal, today=today or _today(principal))
    return [{"person_id": r.person_id, "kind": r.kind, "due_on": r.due_on, "message": r.message}
            for r in found.values()]


@router.get("/people/{person_id}")
def case_file(person_id: Id, today: date | None = None, principal: Principal = Depends(readers),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    """The case file: orders, registration, appointments, violations and legal steps, programme, end."""
    f = queries.case_file(session, principal, person_id, today=today or _today(principal))
    return {
        "person": {"id": f.person.id, "code": f.person.code, "name": f.person.display_name,
                   "category": f.person.category, "status": f.person.status, "officer_id": f.person.officer_id,
                   "risk_notes": f.person.risk_notes},
        "orders": [_order_json(o) for o in f.orders],
        "registration": f.registration and _json(f.registration, "released_on", "due_on", "search_from",
                                                 "arrived_on", "search_started_on", "court_informed_on"),
        "reminder": f.reminder and {"kind": f.reminder.kind, "due_on": f.reminder.due_on},
        "appointments": [_json(a, "kind", "scheduled_at", "outcome", "absence_reason", "note") for a in f.appointments],
        "notes": [_json(n, "at", "author_id", "text") for n in f.notes],
        "violations": [_json(v, "kind", "source", "alert_id", "order_id", "breach_at", "identified_at", "status",
                             "reasonable_excuse", "authorised_absence", "authority_notified_at") for v in f.violations],
        "warnings": [_json(w, "number", "violation_id", "issued_at") for w in f.warnings],
        "submissions": [_json(s, "number", "kind", "status", "violation_id", "submitted_at") for s in f.submissions],
        "decisions": [_json(d, "submission_id", "decided_on", "outcome", "order_id") for d in f.decisions],
        "needs": [_json(n, "area", "assessment", "assessed_on") for n in f.needs],
        "goals": [_json(g, "area", "text", "partner_id", "due_on", "status", "outcome") for g in f.goals],
        "actions": [_json(a, "goal_id", "text", "partner_id", "due_on", "done_on", "outcome") for a in f.actions],
        "labour": [_json(p, "partner_id", "site", "starts_on", "ends_on") for p in f.labour],
        "end": f.end and _json(f.end, "reason", "ended_at", "devices_recovered"),
    }


@router.get("/people/{person_id}/timeline")
def person_timeline(person_id: Id, principal: Principal = Depends(readers),
                    session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    f = queries.case_file(session, principal, person_id, today=_today(principal), purpose="case timeline")
    return [{"at": e.at, "kind": e.kind, "summary": e.summary, "ref": e.ref} for e in queries.timeline(f)]


@router.get("/people/{person_id}/order-in-force")
def order_at(person_id: Id, at: datetime, principal: Principal = Depends(readers),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    """The order version that explains what happened at ``at``."""
    queries.person_for_reading(session, principal, person_id, purpose="order in force")
    try:
        return _order_json(orders.order_in_force(session, person_id, at))
    except NoOrderInForce as exc:
        raise CaseworkError(str(exc), field="at") from None


@router.post("/people/{person_id}/order-variations", status_code=201)
def vary(person_id: Id, body: VariationIn, principal: Principal = Depends(writers),
         session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    return _order_json(orders.vary_order(session, principal.actor, person_id, body.variation,
                                         effective_from=body.effective_from, changes=body.changes))


@router.post("/people/{person_id}/arrival")
def arrival(person_id: Id, body: DayIn, principal: Principal = Depends(writers),
            session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    reg = registration.record_arrival(session, principal.actor, person_id, body.on)
    return _json(reg, "arrived_on", "due_on")


@router.post("/people/{person_id}/search")
def search(person_id: Id, body: DayIn, principal: Principal = Depends(writers),
           session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    reg = registration.start_search(session, principal.actor, person_id, body.on)
    return _json(reg, "search_started_on", "court_informed_on")


# -- appointments, notes, obligations ------------------------------------------------------------------------
class AppointmentIn(Strict):
    kind: str
    scheduled_at: datetime
    place: str = Field(default="", max_length=300)


class OutcomeIn(Strict):
    outcome: str
    absence_reason: str | None = None
    note: str = Field(default="", max_length=4000)
    at: datetime | None = None


class CheckInIn(Strict):
    at: datetime | None = None
    place: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=4000)


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=8000)


class LabourPlacementIn(Strict):
    partner_id: int = Field(ge=1, le=ID_MAX)
    starts_on: date
    ends_on: date | None = None
    site: str = Field(default="", max_length=300)


class HoursIn(Strict):
    worked_on: date
    hours: float = Field(gt=0, le=24)


class NoticeIn(Strict):
    kind: str
    notified_on: date
    changes_on: date
    detail: str = Field(default="", max_length=4000)
    new_address: str | None = Field(default=None, max_length=300)


class TreatmentIn(Strict):
    kind: str = Field(min_length=1, max_length=100)
    provider: str = Field(default="", max_length=200)
    starts_on: date
    ends_on: date | None = None


_APPT = ("person_id", "kind", "scheduled_at", "outcome", "absence_reason", "note", "closed_at")


@router.post("/people/{person_id}/appointments", status_code=201)
def schedule(person_id: Id, body: AppointmentIn, principal: Principal = Depends(writers),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    appt = supervision.schedule_appointment(session, principal.actor, person_id, body.kind, body.scheduled_at,
                                            place=body.place)
    return _json(appt, *_APPT)


@router.post("/appointments/{appointment_id}/outcome")
def close(appointment_id: Id, body: OutcomeIn, principal: Principal = Depends(writers),
          session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.appointment_for(session, principal, appointment_id)
    appt = supervision.close_appointment(session, principal.actor, appointment_id, body.outcome,
                                         at=body.at or _now(), absence_reason=body.absence_reason, note=body.note)
    return _json(appt, *_APPT)


@router.post("/people/{person_id}/check-ins", status_code=201)
def check_in(person_id: Id, body: CheckInIn, principal: Principal = Depends(writers),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    appt = supervision.record_check_in(session, principal.actor, person_id, at=body.at or _now(), place=body.place,
                                       note=body.note)
    return _json(appt, *_APPT)


@router.post("/people/{person_id}/notes", status_code=201)
def note(person_id: Id, body: NoteIn, principal: Principal = Depends(writers),
         session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    return _json(supervision.add_case_note(session, principal.actor, person_id, body.text, at=_now()), "at", "text")


@router.post("/people/{person_id}/labour-placements", status_code=201)
def labour_placement(person_id: Id, body: LabourPlacementIn, principal: Principal = Depends(writers),
                     session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    row = supervision.place_for_labour(session, principal.actor, person_id, body.partner_id,
                                       starts_on=body.starts_on, ends_on=body.ends_on, site=body.site)
    return _json(row, "person_id", "partner_id", "site", "starts_on", "ends_on")


@router.post("/labour-placements/{placement_id}/hours", status_code=201)
def labour_hours(placement_id: Id, body: HoursIn, principal: Principal = Depends(writers_or_partner),
                 session: Session = Depends(get_session)) -> dict[str, Any]:
    """Hours worked (officers, or the akimat that organises the placement)."""
    placement = queries.placement_for(session, principal, placement_id)
    row = supervision.record_labour_hours(session, principal.actor, placement.id, body.worked_on, body.hours)
    balance = supervision.labour_balance(session, placement.person_id, body.worked_on.year)
    return {**_json(row, "worked_on", "hours"), "year_done_h": balance.done_h, "year_remaining_h": balance.remaining_h}


@router.post("/people/{person_id}/change-notices", status_code=201)
def change_notice(person_id: Id, body: NoticeIn, principal: Principal = Depends(writers),
                  session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    row = supervision.record_change_notice(session, principal.actor, person_id, body.kind,
                                           notified_on=body.notified_on, changes_on=body.changes_on,
                                           detail=body.detail, new_address=body.new_address, at=_now())
    return _json(row, "kind", "notified_on", "changes_on", "in_time", "order_id")


@router.post("/people/{person_id}/treatments", status_code=201)
def treatment(person_id: Id, body: TreatmentIn, principal: Principal = Depends(writers),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    row = supervision.order_treatment(session, principal.actor, person_id, kind=body.kind, provider=body.provider,
                                      starts_on=body.starts_on, ends_on=body.ends_on)
    return _json(row, "kind", "provider", "starts_on", "ends_on", "status")


# -- violations and legal steps ---------------------------------------------------------------------------
class ViolationIn(Strict):
    kind: str = Field(min_length=1, max_length=40)
    breach_at: datetime
    description: str = Field(default="", max_length=4000)
    reasonable_excuse: bool = False
    authorised_absence: bool = False
    out_entire_period: bool = False


class WarningIn(Strict):
    at: datetime | None = None
    acknowledged: bool = True


class SubmissionIn(Strict):
    kind: str = "replace_sentence"
    court: str = Field(default="", max_length=200)
    grounds: str = Field(default="", max_length=8000)


class DecisionIn(Strict):
    outcome: str
    decided_on: date
    note: str = Field(default="", max_length=4000)
    extension_months: int | None = Field(default=None, ge=1, le=12)
    obligations: list[str] = Field(default_factory=list, max_length=20)


class ExtensionIn(Strict):
    months: int = Field(ge=1, le=12)
    violation_id: int | None = Field(default=None, ge=1, le=ID_MAX)


class EndIn(Strict):
    reason: str
    at: datetime | None = None
    note: str = Field(default="", max_length=4000)


_VIOLATION = ("person_id", "kind", "source", "alert_id", "order_id", "breach_at", "identified_at", "status")


@router.post("/people/{person_id}/violations", status_code=201)
def violation(person_id: Id, body: ViolationIn, principal: Principal = Depends(writers),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    row = enforcement.record_violation(session, principal.actor, person_id, identified_at=_now(),
                                       **body.model_dump())
    return _json(row, *_VIOLATION)


@router.post("/alerts/{alert_id}/violation", status_code=201)
def violation_from_alert(alert_id: Id, principal: Principal = Depends(writers),
                         session: Session = Depends(get_session)) -> dict[str, Any]:
    """The violation an alert shows, tied to the order version in force when it started."""
    from kuzet.web.services.alerts import get_alert

    alert = get_alert(session, principal, alert_id)
    if alert.person_id is None:
        raise AccessDenied("the alert has no person")
    queries.person_for_change(session, principal, alert.person_id)
    return _json(enforcement.record_violation_from_alert(session, principal.actor, alert_id), *_VIOLATION)


@router.post("/violations/{violation_id}/warning", status_code=201)
def warning(violation_id: Id, body: WarningIn, principal: Principal = Depends(writers),
            session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.violation_for(session, principal, violation_id)
    row = enforcement.issue_written_warning(session, principal.actor, violation_id, at=body.at,
                                            acknowledged=body.acknowledged)
    return _json(row, "person_id", "violation_id", "number", "issued_at", "acknowledged_at")


@router.post("/violations/{violation_id}/submission", status_code=201)
def submission(violation_id: Id, body: SubmissionIn, principal: Principal = Depends(writers),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.violation_for(session, principal, violation_id)
    row = enforcement.submit_to_court(session, principal.actor, violation_id, kind=body.kind, court=body.court,
                                      grounds=body.grounds)
    return _json(row, "person_id", "violation_id", "number", "kind", "court", "status", "warnings")


@router.post("/submissions/{submission_id}/filing")
def filing(submission_id: Id, principal: Principal = Depends(writers),
           session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.submission_for(session, principal, submission_id, write=True)
    row = enforcement.file_submission(session, principal.actor, submission_id)
    return _json(row, "number", "status", "submitted_at")


@router.post("/submissions/{submission_id}/decision", status_code=201)
def decision(submission_id: Id, body: DecisionIn, principal: Principal = Depends(writers),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.submission_for(session, principal, submission_id, write=True)
    row = enforcement.record_court_decision(session, principal.actor, submission_id, body.outcome,
                                            decided_on=body.decided_on, note=body.note,
                                            extension_months=body.extension_months, obligations=body.obligations)
    return _json(row, "submission_id", "decided_on", "outcome", "order_id")


@router.post("/people/{person_id}/extensions", status_code=201)
def extension(person_id: Id, body: ExtensionIn, principal: Principal = Depends(writers),
              session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    if body.violation_id is not None:
        queries.violation_for(session, principal, body.violation_id)
    row = enforcement.extend_probation(session, principal.actor, person_id, body.months,
                                       violation_id=body.violation_id)
    return _json(row, "months", "previous_end", "new_end", "order_id")


@router.post("/people/{person_id}/end", status_code=201)
def end(person_id: Id, body: EndIn, principal: Principal = Depends(writers),
        session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    row = ending.end_supervision(session, principal.actor, person_id, body.reason, at=body.at or _now(),
                                 note=body.note)
    return _json(row, "reason", "ended_at", "order_id", "devices_recovered")


# -- documents --------------------------------------------------------------------------------------------
@router.get("/warnings/{warning_id}/pdf")
def warning_pdf(warning_id: Id, lang: Lang = "kk-ru", principal: Principal = Depends(readers),
                session: Session = Depends(get_session)) -> Response:
    row = queries.warning_for(session, principal, warning_id)
    return _pdf(documents.written_warning_pdf(session, principal.actor, row.id, lang=lang), row.number)


@router.get("/submissions/{submission_id}/pdf")
def submission_pdf(submission_id: Id, lang: Lang = "kk-ru", principal: Principal = Depends(readers),
                   session: Session = Depends(get_session)) -> Response:
    row = queries.submission_for(session, principal, submission_id)
    return _pdf(documents.court_submission_pdf(session, principal.actor, row.id, lang=lang), row.number)


@router.get("/people/{person_id}/programme/pdf")
def programme_pdf(person_id: Id, lang: Lang = "kk-ru", principal: Principal = Depends(readers),
                  session: Session = Depends(get_session)) -> Response:
    person = queries.person_for_reading(session, principal, person_id, purpose="individual programme")
    return _pdf(documents.individual_programme_pdf(session, principal.actor, person.id, lang=lang),
                f"programme-{person.code}")


# -- the individual programme -------------------------------------------------------------------------------
class NeedIn(Strict):
    area: str
    assessment: str = Field(default="", max_length=4000)
    assessed_on: date | None = None


class GoalIn(Strict):
    area: str
    text: str = Field(min_length=1, max_length=4000)
    partner_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    need_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    due_on: date | None = None


class ActionIn(Strict):
    text: str = Field(min_length=1, max_length=4000)
    partner_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    due_on: date | None = None


class ActionOutcomeIn(Strict):
    done_on: date
    outcome: str = Field(min_length=1, max_length=4000)


class GoalCloseIn(Strict):
    status: str
    outcome: str = Field(default="", max_length=4000)


_GOAL = ("person_id", "area", "text", "partner_id", "need_id", "due_on", "status", "outcome")
_ACTION = ("goal_id", "text", "partner_id", "due_on", "done_on", "outcome")


@router.post("/people/{person_id}/needs", status_code=201)
def need(person_id: Id, body: NeedIn, principal: Principal = Depends(writers),
         session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    row = programme.assess_need(session, principal.actor, person_id, body.area, assessment=body.assessment,
                                assessed_on=body.assessed_on or _today(principal))
    return _json(row, "person_id", "area", "assessment", "assessed_on")


@router.post("/people/{person_id}/goals", status_code=201)
def goal(person_id: Id, body: GoalIn, principal: Principal = Depends(writers),
         session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, person_id)
    row = programme.add_goal(session, principal.actor, person_id, body.area, body.text, partner_id=body.partner_id,
                             need_id=body.need_id, due_on=body.due_on)
    return _json(row, *_GOAL)


@router.post("/goals/{goal_id}/actions", status_code=201)
def action(goal_id: Id, body: ActionIn, principal: Principal = Depends(writers),
           session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.goal_for(session, principal, goal_id)
    row = programme.add_action(session, principal.actor, goal_id, body.text, partner_id=body.partner_id,
                               due_on=body.due_on)
    return _json(row, *_ACTION)


@router.post("/goals/{goal_id}/close")
def close_goal(goal_id: Id, body: GoalCloseIn, principal: Principal = Depends(writers),
               session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.goal_for(session, principal, goal_id)
    return _json(programme.close_goal(session, principal.actor, goal_id, body.status, body.outcome), *_GOAL)


@router.post("/actions/{action_id}/outcome")
def action_outcome(action_id: Id, body: ActionOutcomeIn, principal: Principal = Depends(writers_or_partner),
                   session: Session = Depends(get_session)) -> dict[str, Any]:
    """What came of an action (officers, or the partner the action is assigned to)."""
    queries.action_for(session, principal, action_id)
    row = programme.record_action_outcome(session, principal.actor, action_id, done_on=body.done_on,
                                          outcome=body.outcome)
    return _json(row, *_ACTION)


# -- partners -----------------------------------------------------------------------------------------------
class PartnerIn(Strict):
    kind: str
    name: str = Field(min_length=1, max_length=300)
    region_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    services: list[str] = Field(default_factory=list, max_length=10)
    contact: str = Field(default="", max_length=300)


class ContractIn(Strict):
    number: str = Field(min_length=1, max_length=64)
    starts_on: date
    ends_on: date
    services: list[str] = Field(max_length=10)
    places: int = Field(default=0, ge=0)
    amount_kzt: float = Field(default=0.0, ge=0)


class QuotaIn(Strict):
    year: int = Field(ge=2000, le=2100)
    reserved: int = Field(ge=0)
    share_pct: float = Field(default=0.0, ge=0, le=100)


class VacancyIn(Strict):
    employer: str = Field(min_length=1, max_length=300)
    title: str = Field(min_length=1, max_length=200)


class JobPlacementIn(Strict):
    person_id: int = Field(ge=1, le=ID_MAX)
    starts_on: date


_PARTNER = ("kind", "name", "region_id", "services", "contact")


@router.get("/partners")
def partners(principal: Principal = Depends(readers), session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    return [{**_json(p, *_PARTNER), "quotas": [{"id": q.id, "year": q.year, "reserved": q.reserved,
                                                "placed": placed} for q, placed in quotas]}
            for p, quotas in queries.partners_overview(session, principal)]


@router.post("/partners", status_code=201)
def create_partner(body: PartnerIn, principal: Principal = Depends(partner_admins),
                   session: Session = Depends(get_session)) -> dict[str, Any]:
    row = programme.create_partner(session, principal.actor, body.kind, body.name, region_id=body.region_id,
                                   services=body.services, contact=body.contact)
    return _json(row, *_PARTNER)


@router.post("/partners/{partner_id}/contracts", status_code=201)
def contract(partner_id: Id, body: ContractIn, principal: Principal = Depends(partner_admins),
             session: Session = Depends(get_session)) -> dict[str, Any]:
    row = programme.add_contract(session, principal.actor, partner_id, **body.model_dump())
    return _json(row, "partner_id", "number", "starts_on", "ends_on", "services", "places", "amount_kzt")


@router.put("/partners/{partner_id}/quotas")
def quota(partner_id: Id, body: QuotaIn, principal: Principal = Depends(partner_admins),
          session: Session = Depends(get_session)) -> dict[str, Any]:
    row = programme.set_job_quota(session, principal.actor, partner_id, body.year, reserved=body.reserved,
                                  share_pct=body.share_pct)
    return _json(row, "partner_id", "year", "reserved", "share_pct")


@router.post("/quotas/{quota_id}/vacancies", status_code=201)
def vacancy(quota_id: Id, body: VacancyIn, principal: Principal = Depends(partner_admins),
            session: Session = Depends(get_session)) -> dict[str, Any]:
    row = programme.add_vacancy(session, principal.actor, quota_id, employer=body.employer, title=body.title)
    return _json(row, "quota_id", "employer", "title", "status")


@router.post("/vacancies/{vacancy_id}/placements", status_code=201)
def job_placement(vacancy_id: Id, body: JobPlacementIn, principal: Principal = Depends(writers),
                  session: Session = Depends(get_session)) -> dict[str, Any]:
    queries.person_for_change(session, principal, body.person_id)
    row = programme.place_in_job(session, principal.actor, vacancy_id, body.person_id, starts_on=body.starts_on)
    return _json(row, "vacancy_id", "person_id", "starts_on")


@router.get("/partner/overview")
def partner_overview(year: int | None = None, principal: Principal = Depends(partners_only),
                     session: Session = Depends(get_session)) -> dict[str, Any]:
    """A partner's own goals, actions, job placements, quotas and forced labour; never a location."""
    view = queries.partner_view(session, principal, year=year or _today(principal).year)
    return {
        "partner": _json(view.partner, "kind", "name", "services"),
        "goals": [{"goal_id": g.goal_id, "person_code": g.person_code, "person_name": g.person_name, "area": g.area,
                   "text": g.text, "due_on": g.due_on, "status": g.status,
                   "actions": [{"id": a[0], "text": a[1], "due_on": a[2], "done_on": a[3], "outcome": a[4]}
                               for a in g.actions]} for g in view.goals],
        "jobs": [{"placement_id": j.placement_id, "person_code": j.person_code, "person_name": j.person_name,
                  "employer": j.employer, "title": j.title, "starts_on": j.starts_on} for j in view.jobs],
        "labour": [{"placement_id": lab.placement_id, "person_code": lab.person_code, "person_name": lab.person_name,
                    "site": lab.site, "starts_on": lab.starts_on, "hours_this_year": lab.hours_this_year}
                   for lab in view.labour],
        "quotas": [{"id": q.id, "year": q.year, "reserved": q.reserved, "placed": placed} for q, placed in view.quotas],
    }


@router.get("/calendar")
def calendar(start: datetime, end: datetime, principal: Principal = Depends(readers),
             session: Session = Depends(get_session)) -> list[dict[str, Any]]:
    return [{**_json(a, *_APPT), "person_code": p.code, "person_name": p.display_name}
            for a, p in queries.calendar(session, principal, start, end)]
