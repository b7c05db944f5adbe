"""The individual programme, partners (NGO contracts, akimat quotas) and what a partner may see."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.access.policy import AccessDenied, NotVisible
from kuzet.auth.service import create_user, principal_for
from kuzet.casework import CaseworkError
from kuzet.casework.programme import (
    add_action,
    add_contract,
    add_goal,
    add_vacancy,
    assess_need,
    close_goal,
    place_in_job,
    quota_use,
    record_action_outcome,
    set_job_quota,
)
from kuzet.casework.queries import PartnerGoal, PartnerJob, PartnerLabour, action_for, case_file, partner_view
from kuzet.casework.supervision import place_for_labour, record_labour_hours
from kuzet.domain.enums import Role
from kuzet.store.models import AuditEntry

from .factories import PASSWORD, akimat, at, ngo, office, register


def test_a_goal_answers_a_need_and_names_a_partner_that_delivers_it(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0300")
        actor = where.officer.actor
        charity = ngo(s, where, services=("documents",))
        need = assess_need(s, actor, person.id, "documents", assessment="no identity card",
                           assessed_on=date(2026, 3, 5))
        with pytest.raises(CaseworkError, match="does not deliver housing"):
            add_goal(s, actor, person.id, "housing", "a room", partner_id=charity.id)
        with pytest.raises(CaseworkError, match="unknown area"):
            add_goal(s, actor, person.id, "luck", "win")
        goal = add_goal(s, actor, person.id, "documents", "restore the identity card", partner_id=charity.id,
                        need_id=need.id, due_on=date(2026, 4, 30))
        action = add_action(s, actor, goal.id, "apply at the public service centre", due_on=date(2026, 3, 20))
        assert action.partner_id == charity.id  # the goal's partner by default
        record_action_outcome(s, actor, action.id, done_on=date(2026, 3, 18), outcome="application accepted")
        close_goal(s, actor, goal.id, "achieved", "card issued 2026-04-10")
        assert (goal.status, action.done_on) == ("achieved", date(2026, 3, 18))
        with pytest.raises(CaseworkError, match="close a goal as"):
            close_goal(s, actor, goal.id, "open", "")


def test_akimat_quota_counts_placements_and_refuses_past_the_reserve(sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        actor = where.officer.actor
        city, charity = akimat(s, where), ngo(s, where)
        with pytest.raises(CaseworkError, match="with akimats"):
            set_job_quota(s, actor, charity.id, 2026, reserved=2)
        with pytest.raises(CaseworkError, match="with NGOs"):
            add_contract(s, actor, city.id, number="1", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
                         services=["housing"])
        contract = add_contract(s, actor, charity.id, number="ГСЗ-17/2026", starts_on=date(2026, 1, 1),
                                ends_on=date(2026, 12, 31), services=["housing"], places=40, amount_kzt=12_500_000)
        assert "housing" in charity.services and contract.places == 40
        quota = set_job_quota(s, actor, city.id, 2026, reserved=1, share_pct=5.0)
        one, two = add_vacancy(s, actor, quota.id, employer="Green City", title="gardener"), \
            add_vacancy(s, actor, quota.id, employer="Tazalyq", title="cleaner")
        first, _ = register(s, where, "S-0301")
        second, _ = register(s, where, "S-0302")
        with pytest.raises(CaseworkError, match="quota is for 2026"):
            place_in_job(s, actor, one.id, first.id, starts_on=date(2027, 1, 4))
        place_in_job(s, actor, one.id, first.id, starts_on=date(2026, 4, 1))
        assert (quota_use(s, quota.id).placed, quota_use(s, quota.id).free) == (1, 0)
        with pytest.raises(CaseworkError, match="is filled"):
            place_in_job(s, actor, one.id, second.id, starts_on=date(2026, 4, 1))
        with pytest.raises(CaseworkError, match="quota of 1 jobs for 2026 is used up"):
            place_in_job(s, actor, two.id, second.id, starts_on=date(2026, 4, 1))
        with pytest.raises(CaseworkError, match="already placed"):
            set_job_quota(s, actor, city.id, 2026, reserved=0)
        set_job_quota(s, actor, city.id, 2026, reserved=2)
        place_in_job(s, actor, two.id, second.id, starts_on=date(2026, 4, 1))


def test_a_partner_sees_its_goals_placements_and_labour_and_never_a_location(
        sqlite_sessions: sessionmaker[Session]) -> None:
    with sqlite_sessions() as s, s.begin():
        where = office(s)
        actor = where.officer.actor
        charity, other, city = ngo(s, where), ngo(s, where, "Another NGO"), akimat(s, where)
        person, _ = register(s, where, "S-0303", category="restricted_freedom")
        person.home_lat, person.home_lon = 43.25, 76.95
        mine = add_goal(s, actor, person.id, "employment", "find a job", partner_id=charity.id)
        theirs = add_goal(s, actor, person.id, "psychological", "counselling", partner_id=other.id)
        their_action = add_action(s, actor, theirs.id, "weekly session")
        quota = set_job_quota(s, actor, city.id, 2026, reserved=3)
        place_in_job(s, actor, add_vacancy(s, actor, quota.id, employer="Tazalyq", title="cleaner").id, person.id,
                     starts_on=date(2026, 4, 1))
        placement = place_for_labour(s, actor, person.id, city.id, starts_on=date(2026, 3, 2), site="park")
        record_labour_hours(s, actor, placement.id, date(2026, 3, 3), 4)

        ngo_user = principal_for(create_user(s, "ngo_user", PASSWORD, Role.PARTNER, partner_id=charity.id))
        view = partner_view(s, ngo_user, year=2026)
        assert [g.goal_id for g in view.goals] == [mine.id] and view.jobs == () and view.labour == ()
        assert view.goals[0].person_code == "S-0303" and view.goals[0].person_name.startswith("Нұрланов")
        city_user = principal_for(create_user(s, "akimat_user", PASSWORD, Role.PARTNER, partner_id=city.id))
        city_view = partner_view(s, city_user, year=2026)
        assert [j.title for j in city_view.jobs] == ["cleaner"] and city_view.goals == ()
        assert [(lab.site, lab.hours_this_year) for lab in city_view.labour] == [("park", 4.0)]
        assert [(q.year, placed) for q, placed in city_view.quotas] == [(2026, 1)]
        # Nothing a partner gets can carry a location or an address.
        for shape in (PartnerGoal, PartnerJob, PartnerLabour):
            assert not {f.name for f in fields(shape)} & {"lat", "lon", "home_lat", "home_lon", "address", "zone"}
        with pytest.raises(NotVisible):
            action_for(s, ngo_user, their_action.id)
        with pytest.raises(AccessDenied):
            case_file(s, ngo_user, person.id, today=date(2026, 4, 1))
        reads = s.execute(select(AuditEntry).where(AuditEntry.username == "ngo_user",
                                                   AuditEntry.action == "read")).scalars().all()
        assert [(r.object_type, r.subject_person_id) for r in reads] == [("partner_view", person.id)]


def test_the_case_file_and_its_timeline_gather_everything(sqlite_sessions: sessionmaker[Session]) -> None:
    from kuzet.casework import issue_written_warning, record_check_in, record_violation
    from kuzet.casework.queries import timeline

    with sqlite_sessions() as s, s.begin():
        where = office(s)
        person, _ = register(s, where, "S-0304", released_on=date(2026, 3, 2), effective_from=at(2026, 3, 1, 19))
        actor = where.officer.actor
        record_check_in(s, actor, person.id, at=at(2026, 3, 3, 5))
        v = record_violation(s, actor, person.id, kind="curfew_absence", breach_at=at(2026, 3, 10, 18))
        issue_written_warning(s, actor, v.id, at=at(2026, 3, 11, 5))
        add_goal(s, actor, person.id, "employment", "find a job", partner_id=ngo(s, where).id)
        file = case_file(s, where.officer, person.id, today=date(2026, 3, 4))
        kinds = [e.kind for e in timeline(file)]
        assert kinds[:3] == ["goal", "written_warning", "violation"]
        assert {"order", "registration", "office_report"} <= set(kinds)
        assert file.reminder is None  # the first check-in recorded the arrival
        assert file.registration is not None and file.registration.arrived_on == date(2026, 3, 3)
