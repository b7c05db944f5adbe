"""The individual programme of social and legal assistance, and the partners who deliver it.

Needs are assessed per area (education, employment, medical, housing, documents, psychological, legal);
goals answer needs and may name the partner responsible; actions carry the work and its outcome. Partners are
akimats (job quotas: vacancies reserved for people on the probation list, placements counted against the
quota) and NGOs (services under state social order contracts). Nothing here stores or returns a location.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuzet.audit import Actor, record

from .errors import CaseworkError
from .models import (
    JobPlacement,
    JobQuota,
    Partner,
    PartnerContract,
    ProgrammeAction,
    ProgrammeGoal,
    ProgrammeNeed,
    Vacancy,
)
from .registration import person_of
from .vocabulary import GoalStatus, NeedArea, PartnerKind


def _area(area: NeedArea | str) -> NeedArea:
    try:
        return NeedArea(area)
    except ValueError:
        raise CaseworkError(f"unknown area {area!r} ({', '.join(a.value for a in NeedArea)})", field="area") from None


# -- partners ---------------------------------------------------------------------------------------------------
def create_partner(session: Session, actor: Actor, kind: PartnerKind | str, name: str, *,
                   region_id: int | None = None, services: Sequence[str] = (), contact: str = "") -> Partner:
    try:
        kind = PartnerKind(kind)
    except ValueError:
        raise CaseworkError(f"unknown partner kind {kind!r} (akimat or ngo)", field="kind") from None
    if not name.strip():
        raise CaseworkError("a partner needs a name", field="name")
    partner = Partner(kind=kind.value, name=name.strip(), region_id=region_id,
                      services=[_area(s).value for s in services], contact=contact)
    session.add(partner)
    session.flush()
    record(session, actor, "create", "partner", partner.id, purpose="partners", detail={"kind": kind.value})
    return partner


def get_partner(session: Session, partner_id: int) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise CaseworkError(f"unknown partner {partner_id}", field="partner_id")
    return partner


def list_partners(session: Session, *, kind: str | None = None) -> Sequence[Partner]:
    stmt = select(Partner).where(Partner.active.is_(True))
    if kind:
        stmt = stmt.where(Partner.kind == kind)
    return session.execute(stmt.order_by(Partner.name)).scalars().all()


def add_contract(session: Session, actor: Actor, partner_id: int, *, number: str, starts_on: date, ends_on: date,
                 services: Sequence[str], places: int = 0, amount_kzt: float = 0.0) -> PartnerContract:
    """A state social order contract of an NGO."""
    partner = get_partner(session, partner_id)
    if partner.kind != PartnerKind.NGO.value:
        raise CaseworkError("state social order contracts are with NGOs", field="partner_id")
    if ends_on < starts_on:
        raise CaseworkError("the contract ends before it starts", field="ends_on")
    contract = PartnerContract(partner_id=partner.id, number=number, starts_on=starts_on, ends_on=ends_on,
                               services=[_area(s).value for s in services], places=places, amount_kzt=amount_kzt)
    session.add(contract)
    partner.services = sorted({*partner.services, *contract.services})
    session.flush()
    record(session, actor, "create", "partner_contract", contract.id, purpose="partners",
           detail={"partner_id": partner.id, "number": number})
    return contract


def set_job_quota(session: Session, actor: Actor, partner_id: int, year: int, *, reserved: int,
                  share_pct: float = 0.0) -> JobQuota:
    partner = get_partner(session, partner_id)
    if partner.kind != PartnerKind.AKIMAT.value:
        raise CaseworkError("job quotas are set with akimats", field="partner_id")
    if reserved < 0:
        raise CaseworkError("reserved jobs cannot be negative", field="reserved")
    quota = session.execute(select(JobQuota).where(JobQuota.partner_id == partner.id, JobQuota.year == year)
                            ).scalar_one_or_none()
    if quota is None:
        quota = JobQuota(partner_id=partner.id, year=year, reserved=reserved, share_pct=share_pct)
        session.add(quota)
    else:
        if reserved < placements_against(session, quota.id):
            raise CaseworkError(f"{placements_against(session, quota.id)} people are already placed against this "
                                f"quota", field="reserved")
        quota.reserved, quota.share_pct = reserved, share_pct
    session.flush()
    record(session, actor, "update", "job_quota", quota.id, purpose="partners",
           detail={"partner_id": partner.id, "year": year, "reserved": reserved})
    return quota


def add_vacancy(session: Session, actor: Actor, quota_id: int, *, employer: str, title: str) -> Vacancy:
    if session.get(JobQuota, quota_id) is None:
        raise CaseworkError(f"unknown quota {quota_id}", field="quota_id")
    vacancy = Vacancy(quota_id=quota_id, employer=employer, title=title)
    session.add(vacancy)
    session.flush()
    record(session, actor, "create", "vacancy", vacancy.id, purpose="partners")
    return vacancy


def placements_against(session: Session, quota_id: int) -> int:
    return int(session.execute(select(func.count(JobPlacement.id)).join(Vacancy, Vacancy.id == JobPlacement.vacancy_id)
                               .where(Vacancy.quota_id == quota_id)).scalar_one())


@dataclass(frozen=True, slots=True)
class QuotaUse:
    quota: JobQuota
    placed: int

    @property
    def free(self) -> int:
        return max(0, self.quota.reserved - self.placed)


def quota_use(session: Session, quota_id: int) -> QuotaUse:
    quota = session.get(JobQuota, quota_id)
    if quota is None:
        raise CaseworkError(f"unknown quota {quota_id}", field="quota_id")
    return QuotaUse(quota, placements_against(session, quota_id))


def place_in_job(session: Session, actor: Actor, vacancy_id: int, person_id: int, *,
                 starts_on: date) -> JobPlacement:
    """Place a person on the probation list in a reserved vacancy, within the akimat's quota for the year."""
    vacancy = session.get(Vacancy, vacancy_id)
    if vacancy is None:
        raise CaseworkError(f"unknown vacancy {vacancy_id}", field="vacancy_id")
    if vacancy.status != "open":
        raise CaseworkError(f"vacancy {vacancy_id} is {vacancy.status}", field="vacancy_id")
    person = person_of(session, person_id)
    if person.status != "active":
        raise CaseworkError(f"{person.code} is not on the probation list ({person.status})", field="person_id")
    use = quota_use(session, vacancy.quota_id)
    if use.quota.year != starts_on.year:
        raise CaseworkError(f"the quota is for {use.quota.year}; the job starts in {starts_on.year}", field="starts_on")
    if use.free == 0:
        raise CaseworkError(f"the quota of {use.quota.reserved} jobs for {use.quota.year} is used up",
                            field="vacancy_id")
    placement = JobPlacement(vacancy_id=vacancy.id, person_id=person.id, starts_on=starts_on)
    vacancy.status = "filled"
    session.add(placement)
    session.flush()
    record(session, actor, "create", "job_placement", placement.id, person_id=person.id, purpose="employment",
           detail={"vacancy_id": vacancy.id})
    return placement


# -- the programme -------------------------------------------------------------------------------------------------
def assess_need(session: Session, actor: Actor, person_id: int, area: NeedArea | str, *, assessment: str,
                assessed_on: date) -> ProgrammeNeed:
    person = person_of(session, person_id)
    need = ProgrammeNeed(person_id=person.id, area=_area(area).value, assessment=assessment, assessed_on=assessed_on)
    session.add(need)
    session.flush()
    record(session, actor, "create", "programme_need", need.id, person_id=person.id, purpose="assistance",
           detail={"area": need.area})
    return need


def _check_partner_serves(session: Session, partner_id: int | None, area: str) -> None:
    if partner_id is None:
        return
    partner = get_partner(session, partner_id)
    if partner.services and area not in partner.services:
        raise CaseworkError(f"{partner.name} does not deliver {area} (it delivers {', '.join(partner.services)})",
                            field="partner_id")


def add_goal(session: Session, actor: Actor, person_id: int, area: NeedArea | str, text: str, *,
             partner_id: int | None = None, need_id: int | None = None, due_on: date | None = None) -> ProgrammeGoal:
    """A goal of the individual programme; the partner responsible (if any) must deliver that area."""
    person = person_of(session, person_id)
    area = _area(area)
    if not text.strip():
        raise CaseworkError("describe the goal", field="text")
    if need_id is not None:
        need = session.get(ProgrammeNeed, need_id)
        if need is None or need.person_id != person.id:
            raise CaseworkError(f"need {need_id} is not this person's", field="need_id")
    _check_partner_serves(session, partner_id, area.value)
    goal = ProgrammeGoal(person_id=person.id, need_id=need_id, area=area.value, text=text.strip(),
                         partner_id=partner_id, due_on=due_on)
    session.add(goal)
    session.flush()
    record(session, actor, "create", "programme_goal", goal.id, person_id=person.id, purpose="assistance",
           detail={"area": area.value, "partner_id": partner_id})
    return goal


def get_goal(session: Session, goal_id: int) -> ProgrammeGoal:
    goal = session.get(ProgrammeGoal, goal_id)
    if goal is None:
        raise CaseworkError(f"unknown goal {goal_id}", field="goal_id")
    return goal


def add_action(session: Session, actor: Actor, goal_id: int, text: str, *, partner_id: int | None = None,
               due_on: date | None = None) -> ProgrammeAction:
    goal = get_goal(session, goal_id)
    if not text.strip():
        raise CaseworkError("describe the action", field="text")
    _check_partner_serves(session, partner_id, goal.area)
    action = ProgrammeAction(goal_id=goal.id, text=text.strip(), partner_id=partner_id if partner_id is not None
                             else goal.partner_id, due_on=due_on, recorded_by=actor.user_id)
    session.add(action)
    session.flush()
    record(session, actor, "create", "programme_action", action.id, person_id=goal.person_id, purpose="assistance")
    return action


def record_action_outcome(session: Session, actor: Actor, action_id: int, *, done_on: date,
                          outcome: str) -> ProgrammeAction:
    action = session.get(ProgrammeAction, action_id)
    if action is None:
        raise CaseworkError(f"unknown action {action_id}", field="action_id")
    if not outcome.strip():
        raise CaseworkError("say what came of it", field="outcome")
    action.done_on, action.outcome = done_on, outcome.strip()
    goal = get_goal(session, action.goal_id)
    record(session, actor, "update", "programme_action", action.id, person_id=goal.person_id, purpose="assistance")
    return action


def close_goal(session: Session, actor: Actor, goal_id: int, status: GoalStatus | str, outcome: str) -> ProgrammeGoal:
    try:
        status = GoalStatus(status)
    except ValueError:
        raise CaseworkError(f"unknown goal status {status!r}", field="status") from None
    if status is GoalStatus.OPEN:
        raise CaseworkError("close a goal as achieved, not achieved or dropped", field="status")
    goal = get_goal(session, goal_id)
    goal.status, goal.outcome = status.value, outcome
    record(session, actor, "update", "programme_goal", goal.id, person_id=goal.person_id, purpose="assistance",
           detail={"status": status.value})
    return goal
