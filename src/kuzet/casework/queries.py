"""Reads of casework for a signed-in principal: scope checks, the case file and timeline of a person, the
calendar, and the partner's narrow view. Every read of personal data is written to the audit trail.

Officers, supervisors and administrators work on people in their scope (:mod:`kuzet.access.policy`); a
partner sees only the goals, actions, placements and labour of their own organisation, with the person's
name and code — never an address, a location, a violation or a risk note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kuzet.access.policy import AccessDenied, NotVisible, check_person_access, people_scope
from kuzet.audit.reads import record_read
from kuzet.auth.principal import Principal
from kuzet.domain.enums import Role
from kuzet.store.models import CourtOrder, Person, Unit, User

from .models import (
    Appointment,
    CaseNote,
    ChangeNotice,
    CourtDecision,
    CourtSubmission,
    JobPlacement,
    JobQuota,
    LabourHours,
    LabourPlacement,
    Partner,
    ProbationExtension,
    ProgrammeAction,
    ProgrammeGoal,
    ProgrammeNeed,
    Registration,
    SupervisionEnd,
    Treatment,
    Vacancy,
    Violation,
    WrittenWarning,
)
from .registration import Reminder, registration_reminders

#: Roles that read case files of people in their scope.
CASE_READERS: frozenset[Role] = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR, Role.OPERATOR})
#: Roles that change casework records.
CASE_WRITERS: frozenset[Role] = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR})
#: Roles that administer partners, contracts and quotas.
PARTNER_ADMINS: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR})
PARTNER_ROLES: frozenset[Role] = frozenset({Role.PARTNER})


def person_for_reading(session: Session, principal: Principal, person_id: int, *, purpose: str) -> Person:
    if principal.role not in CASE_READERS:
        raise AccessDenied(f"role {principal.role.value} may not read case files")
    person = check_person_access(session, principal, person_id)
    record_read(session, principal.actor, "case_file", person.id, person_id=person.id, purpose=purpose)
    return person


def person_for_change(session: Session, principal: Principal, person_id: int) -> Person:
    if principal.role not in CASE_WRITERS:
        raise AccessDenied(f"role {principal.role.value} may not change case files")
    return check_person_access(session, principal, person_id)


def _scoped(session: Session, principal: Principal, person_id: int, *, write: bool) -> int:
    if write:
        return person_for_change(session, principal, person_id).id
    if principal.role not in CASE_READERS:
        raise AccessDenied(f"role {principal.role.value} may not read case files")
    return check_person_access(session, principal, person_id).id


def violation_for(session: Session, principal: Principal, violation_id: int, *, write: bool = True) -> Violation:
    violation = session.get(Violation, violation_id)
    if violation is None:
        raise NotVisible(f"violation {violation_id} not found")
    _scoped(session, principal, violation.person_id, write=write)
    return violation


def warning_for(session: Session, principal: Principal, warning_id: int) -> WrittenWarning:
    warning = session.get(WrittenWarning, warning_id)
    if warning is None:
        raise NotVisible(f"written warning {warning_id} not found")
    _scoped(session, principal, warning.person_id, write=False)
    record_read(session, principal.actor, "written_warning", warning.id, person_id=warning.person_id,
                purpose="enforcement document")
    return warning


def submission_for(session: Session, principal: Principal, submission_id: int, *,
                   write: bool = False) -> CourtSubmission:
    submission = session.get(CourtSubmission, submission_id)
    if submission is None:
        raise NotVisible(f"submission {submission_id} not found")
    _scoped(session, principal, submission.person_id, write=write)
    if not write:
        record_read(session, principal.actor, "court_submission", submission.id, person_id=submission.person_id,
                    purpose="enforcement document")
    return submission


def appointment_for(session: Session, principal: Principal, appointment_id: int) -> Appointment:
    appt = session.get(Appointment, appointment_id)
    if appt is None:
        raise NotVisible(f"appointment {appointment_id} not found")
    _scoped(session, principal, appt.person_id, write=True)
    return appt


def goal_for(session: Session, principal: Principal, goal_id: int) -> ProgrammeGoal:
    goal = session.get(ProgrammeGoal, goal_id)
    if goal is None:
        raise NotVisible(f"goal {goal_id} not found")
    _scoped(session, principal, goal.person_id, write=True)
    return goal


def action_for(session: Session, principal: Principal, action_id: int) -> ProgrammeAction:
    action = session.get(ProgrammeAction, action_id)
    if action is None:
        raise NotVisible(f"action {action_id} not found")
    if principal.role is Role.PARTNER:
        if principal.partner_id is None or action.partner_id != principal.partner_id:
            raise NotVisible(f"action {action_id} not found")
        return action
    goal_for(session, principal, action.goal_id)
    return action


def placement_for(session: Session, principal: Principal, placement_id: int) -> LabourPlacement:
    placement = session.get(LabourPlacement, placement_id)
    if placement is None:
        raise NotVisible(f"labour placement {placement_id} not found")
    if principal.role is Role.PARTNER:
        if principal.partner_id is None or placement.partner_id != principal.partner_id:
            raise NotVisible(f"labour placement {placement_id} not found")
        return placement
    _scoped(session, principal, placement.person_id, write=True)
    return placement


# -- the case file -------------------------------------------------------------------------------------------
@dataclass
class CaseFile:
    person: Person
    orders: list[CourtOrder]
    registration: Registration | None
    reminder: Reminder | None
    appointments: list[Appointment]
    notes: list[CaseNote]
    violations: list[Violation]
    warnings: list[WrittenWarning]
    submissions: list[CourtSubmission]
    decisions: list[CourtDecision]
    extensions: list[ProbationExtension]
    notices: list[ChangeNotice]
    treatments: list[Treatment]
    labour: list[LabourPlacement]
    labour_hours: list[LabourHours]
    needs: list[ProgrammeNeed]
    goals: list[ProgrammeGoal]
    actions: list[ProgrammeAction]
    end: SupervisionEnd | None
    partners: dict[int, Partner] = field(default_factory=dict)
    #: Login names of the users who wrote the order versions (id -> username).
    authors: dict[int, str] = field(default_factory=dict)


def _rows(session: Session, model: Any, person_id: int, order_by: Any) -> list[Any]:
    return list(session.execute(select(model).where(model.person_id == person_id).order_by(order_by)).scalars())


def case_file(session: Session, principal: Principal, person_id: int, *, today: date,
              purpose: str = "case supervision") -> CaseFile:
    person = person_for_reading(session, principal, person_id, purpose=purpose)
    pid = person.id
    registration = session.execute(select(Registration).where(Registration.person_id == pid)).scalar_one_or_none()
    reminders = registration_reminders(session, today, [pid])
    goals = _rows(session, ProgrammeGoal, pid, ProgrammeGoal.id)
    actions = list(session.execute(select(ProgrammeAction).where(
        ProgrammeAction.goal_id.in_([g.id for g in goals])).order_by(ProgrammeAction.id)).scalars()) if goals else []
    partners = {p.id: p for p in session.execute(select(Partner)).scalars()}
    order_rows = _rows(session, CourtOrder, pid, CourtOrder.version)
    author_ids = {o.created_by for o in order_rows if o.created_by is not None}
    authors = {u.id: u.username for u in session.execute(select(User).where(User.id.in_(author_ids))).scalars()} \
        if author_ids else {}
    return CaseFile(
        person=person, orders=order_rows, registration=registration, authors=authors,
        reminder=reminders[0] if reminders else None,
        appointments=_rows(session, Appointment, pid, Appointment.scheduled_at),
        notes=_rows(session, CaseNote, pid, CaseNote.at),
        violations=_rows(session, Violation, pid, Violation.breach_at),
        warnings=_rows(session, WrittenWarning, pid, WrittenWarning.issued_at),
        submissions=_rows(session, CourtSubmission, pid, CourtSubmission.created_at),
        decisions=_rows(session, CourtDecision, pid, CourtDecision.decided_on),
        extensions=_rows(session, ProbationExtension, pid, ProbationExtension.id),
        notices=_rows(session, ChangeNotice, pid, ChangeNotice.notified_on),
        treatments=_rows(session, Treatment, pid, Treatment.starts_on),
        labour=_rows(session, LabourPlacement, pid, LabourPlacement.starts_on),
        labour_hours=_rows(session, LabourHours, pid, LabourHours.worked_on),
        needs=_rows(session, ProgrammeNeed, pid, ProgrammeNeed.assessed_on), goals=goals, actions=actions,
        end=session.execute(select(SupervisionEnd).where(SupervisionEnd.person_id == pid)).scalar_one_or_none(),
        partners=partners)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime | date
    kind: str
    summary: str
    ref: int

    @property
    def sort_key(self) -> str:
        return self.at.isoformat() if isinstance(self.at, datetime) else f"{self.at.isoformat()}T00:00:00"


def timeline(file: CaseFile) -> list[TimelineEntry]:
    """Everything in the case file, newest first."""
    entries: list[TimelineEntry] = []
    for o in file.orders:
        entries.append(TimelineEntry(o.effective_from, "order", f"v{o.version} {o.variation} ({o.status})", o.id))
    if file.registration is not None:
        r = file.registration
        entries.append(TimelineEntry(r.released_on, "registration", f"released; register by {r.due_on}", r.id))
        if r.arrived_on:
            entries.append(TimelineEntry(r.arrived_on, "arrival", "arrived at the probation office", r.id))
        if r.search_started_on:
            entries.append(TimelineEntry(r.search_started_on, "search", "search started; court informed", r.id))
    for a in file.appointments:
        entries.append(TimelineEntry(a.scheduled_at, a.kind, a.outcome or "scheduled", a.id))
    for n in file.notes:
        entries.append(TimelineEntry(n.at, "note", n.text[:120], n.id))
    for v in file.violations:
        entries.append(TimelineEntry(v.breach_at, "violation", f"{v.kind} ({v.status})", v.id))
    for w in file.warnings:
        entries.append(TimelineEntry(w.issued_at, "written_warning", w.number, w.id))
    for s in file.submissions:
        entries.append(TimelineEntry(s.submitted_at or s.created_at, "court_submission", f"{s.number} {s.kind} "
                                     f"({s.status})", s.id))
    for d in file.decisions:
        entries.append(TimelineEntry(d.decided_on, "court_decision", d.outcome, d.id))
    for e in file.extensions:
        entries.append(TimelineEntry(e.created_at, "extension", f"+{e.months} months to {e.new_end}", e.id))
    for c in file.notices:
        entries.append(TimelineEntry(c.notified_on, "change_notice", f"{c.kind} from {c.changes_on}"
                                     + ("" if c.in_time else " (late)"), c.id))
    for t in file.treatments:
        entries.append(TimelineEntry(t.starts_on, "treatment", f"{t.kind} ({t.status})", t.id))
    for h in file.labour_hours:
        entries.append(TimelineEntry(h.worked_on, "labour", f"{h.hours:g} h", h.id))
    for g in file.goals:
        entries.append(TimelineEntry(g.created_at, "goal", f"{g.area}: {g.text[:80]} ({g.status})", g.id))
    for act in file.actions:
        if act.done_on:
            entries.append(TimelineEntry(act.done_on, "action", f"{act.text[:80]}: {act.outcome[:80]}", act.id))
    if file.end is not None:
        entries.append(TimelineEntry(file.end.ended_at, "end", file.end.reason, file.end.id))
    return sorted(entries, key=lambda e: e.sort_key, reverse=True)


def caseload(session: Session, principal: Principal, *, today: date) -> tuple[list[Person], dict[int, Reminder]]:
    """The people in the caller's scope and their registration reminders (audited as one list read)."""
    if principal.role not in CASE_READERS:
        raise AccessDenied(f"role {principal.role.value} may not read case files")
    people = list(session.execute(select(Person).where(people_scope(principal))
                                  .order_by(Person.surname, Person.code)).scalars())
    record_read(session, principal.actor, "caseload", "", purpose="case supervision",
                detail={"people": [p.id for p in people][:500]})
    reminders = {r.person_id: r for r in registration_reminders(session, today, [p.id for p in people])}
    return people, reminders


def calendar(session: Session, principal: Principal, start: datetime,
             end: datetime) -> list[tuple[Appointment, Person]]:
    """Appointments and home visits of people in scope between ``start`` and ``end``."""
    if principal.role not in CASE_READERS:
        raise AccessDenied(f"role {principal.role.value} may not read case files")
    rows = session.execute(select(Appointment, Person).join(Person, Person.id == Appointment.person_id)
                           .where(people_scope(principal), Appointment.scheduled_at >= start,
                                  Appointment.scheduled_at < end).order_by(Appointment.scheduled_at)).all()
    record_read(session, principal.actor, "calendar", "", purpose="case supervision",
                detail={"appointments": [a.id for a, _ in rows][:500]})
    return [(a, p) for a, p in rows]


# -- the partner's view --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PartnerGoal:
    """A programme goal as its partner sees it: who, what, when — nothing of the case beyond that."""

    goal_id: int
    person_code: str
    person_name: str
    area: str
    text: str
    due_on: date | None
    status: str
    actions: tuple[tuple[int, str, date | None, date | None, str], ...]


@dataclass(frozen=True, slots=True)
class PartnerJob:
    placement_id: int
    person_code: str
    person_name: str
    employer: str
    title: str
    starts_on: date


@dataclass(frozen=True, slots=True)
class PartnerLabour:
    placement_id: int
    person_code: str
    person_name: str
    site: str
    starts_on: date
    hours_this_year: float


@dataclass(frozen=True, slots=True)
class PartnerView:
    partner: Partner
    goals: tuple[PartnerGoal, ...]
    jobs: tuple[PartnerJob, ...]
    labour: tuple[PartnerLabour, ...]
    quotas: tuple[tuple[JobQuota, int], ...]


def partner_view(session: Session, principal: Principal, *, year: int) -> PartnerView:
    """What a partner organisation's user may see: its goals and actions, its job placements and quotas, the
    forced labour it organises. Each person shown is recorded as read in the audit trail."""
    if principal.role is not Role.PARTNER:
        raise AccessDenied(f"role {principal.role.value} has no partner view")
    partner = session.get(Partner, principal.partner_id) if principal.partner_id is not None else None
    if partner is None:
        raise NotVisible("your account is not linked to a partner organisation")
    people: dict[int, Person] = {}

    def who(person_id: int) -> Person:
        if person_id not in people:
            found = session.get(Person, person_id)
            if found is None:
                raise NotVisible(f"person {person_id} not found")
            people[person_id] = found
        return people[person_id]

    action_rows = list(session.execute(select(ProgrammeAction)
                                       .where(ProgrammeAction.partner_id == partner.id)).scalars())
    goal_ids = {a.goal_id for a in action_rows}
    goals = list(session.execute(select(ProgrammeGoal).where(
        (ProgrammeGoal.partner_id == partner.id) | ProgrammeGoal.id.in_(goal_ids))
        .order_by(ProgrammeGoal.id)).scalars())
    all_actions = list(session.execute(select(ProgrammeAction).where(
        ProgrammeAction.goal_id.in_([g.id for g in goals]))).scalars()) if goals else []
    partner_goals = []
    for g in goals:
        p = who(g.person_id)
        mine = tuple((a.id, a.text, a.due_on, a.done_on, a.outcome) for a in all_actions
                     if a.goal_id == g.id and (a.partner_id == partner.id or g.partner_id == partner.id))
        partner_goals.append(PartnerGoal(g.id, p.code, p.display_name, g.area, g.text, g.due_on, g.status, mine))
    jobs = []
    quotas = []
    for quota in session.execute(select(JobQuota).where(JobQuota.partner_id == partner.id)
                                 .order_by(JobQuota.year)).scalars():
        placed = session.execute(select(JobPlacement, Vacancy).join(Vacancy, Vacancy.id == JobPlacement.vacancy_id)
                                 .where(Vacancy.quota_id == quota.id)).all()
        quotas.append((quota, len(placed)))
        for jp, vac in placed:
            p = who(jp.person_id)
            jobs.append(PartnerJob(jp.id, p.code, p.display_name, vac.employer, vac.title, jp.starts_on))
    labour = []
    for lp in session.execute(select(LabourPlacement).where(LabourPlacement.partner_id == partner.id)).scalars():
        p = who(lp.person_id)
        hours = sum(h.hours for h in session.execute(select(LabourHours).where(
            LabourHours.placement_id == lp.id)).scalars() if h.worked_on.year == year)
        labour.append(PartnerLabour(lp.id, p.code, p.display_name, lp.site, lp.starts_on, float(hours)))
    for pid in people:
        record_read(session, principal.actor, "partner_view", partner.id, person_id=pid, purpose="assistance programme")
    if not people:
        record_read(session, principal.actor, "partner_view", partner.id, purpose="assistance programme")
    return PartnerView(partner, tuple(partner_goals), tuple(jobs), tuple(labour), tuple(quotas))


def partners_overview(session: Session, principal: Principal) -> Sequence[tuple[Partner, list[tuple[JobQuota, int]]]]:
    from .programme import list_partners, placements_against

    if principal.role not in CASE_READERS:
        raise AccessDenied(f"role {principal.role.value} may not list partners")
    out = []
    for partner in list_partners(session):
        quotas = [(q, placements_against(session, q.id)) for q in session.execute(
            select(JobQuota).where(JobQuota.partner_id == partner.id).order_by(JobQuota.year)).scalars()]
        out.append((partner, quotas))
    return out


def units_for_registration(session: Session, principal: Principal) -> list[Unit]:
    """The units in which the caller may register a person."""
    if principal.role not in CASE_WRITERS:
        raise AccessDenied(f"role {principal.role.value} may not register people")
    stmt = select(Unit).order_by(Unit.code)
    if principal.role is Role.OFFICER or (principal.role is Role.SUPERVISOR and principal.unit_id is not None):
        stmt = stmt.where(Unit.id == principal.unit_id)
    elif principal.role is Role.SUPERVISOR:
        stmt = stmt.where(Unit.region_id == principal.region_id)
    return list(session.execute(stmt).scalars())
