"""The casework pages render for the roles that may see them, in each language, and their forms work;
every text is translated into Kazakh, Russian and English."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from kuzet import i18n
from kuzet.audit import SYSTEM
from kuzet.auth.service import create_user, principal_for
from kuzet.casework.orders import OrderTerms
from kuzet.casework.programme import create_partner
from kuzet.casework.registration import register_person
from kuzet.casework.supervision import place_for_labour
from kuzet.casework.vocabulary import (
    AbsenceReason,
    AppointmentKind,
    AppointmentOutcome,
    DecisionOutcome,
    EndReason,
    GoalStatus,
    NeedArea,
    PartnerKind,
    SubmissionKind,
    Variation,
    ViolationSource,
    ViolationStatus,
)
from kuzet.domain.enums import Category, Role
from kuzet.store.models import User
from kuzet.web.services.people import PersonInput
from tests.web.world import PASSWORD, World

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "kuzet" / "casework" / "templates" / "casework"
LITERAL = re.compile(r"""_\((["'])([^"']+)\1\)""")
TIMELINE = ("order", "registration", "arrival", "search", "office_report", "home_visit", "programme", "note",
            "violation", "written_warning", "court_submission", "court_decision", "extension", "change_notice",
            "treatment", "labour", "goal", "action", "end")


def msgids() -> set[str]:
    found = {m.group(2) for path in TEMPLATES.glob("*.html") for m in LITERAL.finditer(path.read_text())}
    found |= {"Casework", "Assistance programmes"}  # navigation
    keyed = {"category": Category, "appointment": AppointmentKind, "outcome": AppointmentOutcome,
             "reason": AbsenceReason, "variation": Variation, "source": ViolationSource,
             "violation": ViolationStatus, "submission": SubmissionKind, "area": NeedArea, "goal": GoalStatus,
             "partner": PartnerKind}
    for prefix, values in keyed.items():
        found |= {f"{prefix}:{v.value}" for v in values}
    found |= {f"person:{s}" for s in ("active", "suspended", "ended")}
    found |= {f"reminder:{k}" for k in ("register_by", "registration_overdue", "start_search")}
    found |= {f"timeline:{k}" for k in TIMELINE}
    found |= {f"decision:{d.value}" for d in DecisionOutcome} | {f"end:{r.value}" for r in EndReason}
    found |= {f"submission-status:{s}" for s in ("draft", "submitted", "decided")}
    return found


@pytest.mark.parametrize("locale", ["kk", "ru", "en"])
def test_every_casework_text_is_translated(locale: str) -> None:
    catalogue = i18n.catalogue(locale)
    missing = sorted(m for m in msgids() if not (catalogue.get(m) and catalogue.get(m).string))  # type: ignore[union-attr]
    assert not missing, f"{locale}: {missing}"


def _login(app: FastAPI, username: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/login", data={"username": username, "password": PASSWORD, "next": "/ui/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def test_an_officer_registers_and_works_a_case_through_the_pages(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    assert c.get("/ui/casework").status_code == 200
    form = c.get("/ui/casework/register")
    assert form.status_code == 200 and f'value="{world.units["N1"]}"' in form.text
    assert f'value="{world.units["S1"]}"' not in form.text
    r = c.post("/ui/casework/register", data={
        "code": "UI-1", "surname": "Ахметов", "given_name": "Болат", "category": "parole",
        "unit_id": str(world.units["N1"]), "released_on": "2026-11-27", "court": "Алматы қалалық соты",
        "start_date": "2026-11-27", "end_date": "2027-11-26", "conditions": "be home 22:00-06:00\ndo not leave Almaty",
        "obligations": "report on Mondays"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = r.headers["location"]
    pid = int(page.rsplit("/", 1)[1])
    text = c.get(page).text
    assert "UI-1" in text and "do not leave Almaty" in text and "2026-12-02" in text  # Fri -> Mon, Tue, Wed
    r = c.post(f"{page}/order-variations", data={"variation": "curfew_changed", "effective_from": "2026-11-01T00:00",
                                                  "conditions": "be home 21:00-06:00", "end_date": "2027-11-26"},
               follow_redirects=True)
    assert "cannot take effect" in r.text  # before version 1
    r = c.post(f"{page}/order-variations", data={"variation": "curfew_changed", "effective_from": "2026-12-01T00:00",
                                                  "conditions": "be home 21:00-06:00\ndo not leave Almaty",
                                                  "obligations": "report on Mondays", "end_date": "2027-11-26"},
               follow_redirects=True)
    assert "v2" in r.text and "be home 21:00-06:00" in r.text and "officer_n1" in r.text
    assert c.post(f"{page}/check-in", data={"note": "first visit"}, follow_redirects=False).status_code == 303
    assert "attended and complied" in c.get(page).text
    r = c.post(f"{page}/violations", data={"kind": "curfew_absence", "breach_at": "2026-11-28T23:30"},
               follow_redirects=True)
    assert r.status_code == 200 and "issue-warning" in r.text
    violation = int(re.search(r"/ui/casework/violations/(\d+)/warning", r.text).group(1))  # type: ignore[union-attr]
    r = c.post(f"/ui/casework/violations/{violation}/warning", follow_redirects=True)
    assert "WW-2026-" in r.text and "warning-pdf" in r.text
    r = c.post(f"/ui/casework/violations/{violation}/submission", data={"kind": "replace_sentence"},
               follow_redirects=True)
    submission = int(re.search(r"/ui/casework/submissions/(\d+)/filing", r.text).group(1))  # type: ignore[union-attr]
    r = c.post(f"/ui/casework/submissions/{submission}/filing", follow_redirects=True)
    assert "decision-form" in r.text
    r = c.post(f"/ui/casework/submissions/{submission}/decision", data={"outcome": "extended", "decided_on": ""},
               follow_redirects=True)
    assert "extension" in r.text and "error" in r.text  # the months are missing
    r = c.post(f"/ui/casework/submissions/{submission}/decision",
               data={"outcome": "extended", "decided_on": "", "extension_months": "2"}, follow_redirects=True)
    assert "2028-01-26" in r.text and "decision-form" not in r.text
    r = c.post(f"{page}/goals", data={"area": "legal", "text": ""}, follow_redirects=True)
    assert r.status_code == 200 and "describe the goal" in r.text
    r = c.post(f"{page}/end", data={"reason": "early_release"}, follow_redirects=True)
    assert 'data-testid="ended"' in r.text and "early release" in r.text
    other = _login(app, "officer_n1b")
    assert other.get(page).status_code == 404
    assert other.post(f"{page}/check-in", data={}).status_code == 404
    assert pid > 0


@pytest.mark.parametrize("locale", ["kk", "ru", "en"])
def test_the_case_file_page_speaks_each_language(app: FastAPI, world: World, locale: str) -> None:
    c = _login(app, "officer_n1")
    c.post("/ui/locale", data={"locale": locale, "next": "/ui/casework"})
    r = c.get(f"/ui/casework/people/{world.people['N-A']}")
    assert r.status_code == 200
    assert i18n.gettext(locale, "Violations and legal steps") in r.text
    assert i18n.gettext(locale, "Individual programme") in r.text


@pytest.mark.parametrize("user", ["partner", "analyst", "auditor", "police"])
def test_roles_without_case_files_get_no_casework_pages(app: FastAPI, world: World, user: str) -> None:
    c = _login(app, user)
    for path in ["/ui/casework", f"/ui/casework/people/{world.people['N-A']}", "/ui/casework/register"]:
        assert c.get(path).status_code == 403, (user, path)


def test_the_akimat_records_forced_labour_on_its_page_within_the_daily_cap(
        app: FastAPI, world: World, factory: sessionmaker[Session]) -> None:
    with factory() as s, s.begin():
        akimat = create_partner(s, SYSTEM, "akimat", "Akimat of Almaty", region_id=world.regions["N"])
        create_user(s, "akimat_ui", PASSWORD, Role.PARTNER, partner_id=akimat.id)
        officer = s.get(User, world.user_ids["officer_n1"])
        assert officer is not None
        reg = register_person(s, principal_for(officer),
                              PersonInput(code="RF-1", category="restricted_freedom", unit_id=world.units["N1"],
                                          home_lat=43.2567, home_lon=76.9286),
                              OrderTerms(category="restricted_freedom"), released_on=date(2026, 11, 2))
        placement = place_for_labour(s, SYSTEM, reg.person_id, akimat.id, starts_on=date(2026, 11, 2), site="park")
        placement_id = placement.id
    c = _login(app, "akimat_ui")
    page = c.get("/ui/partner")
    assert page.status_code == 200 and "park" in page.text and "RF-1" in page.text
    assert "43.2" not in page.text and "76.9" not in page.text  # no coordinates of the person's home
    r = c.post(f"/ui/partner/labour/{placement_id}/hours", data={"worked_on": "2026-11-03", "hours": "3"},
               follow_redirects=True)
    assert r.status_code == 200 and "<td>3.0</td>" in r.text
    r = c.post(f"/ui/partner/labour/{placement_id}/hours", data={"worked_on": "2026-11-03", "hours": "2"},
               follow_redirects=True)
    assert "at most 4 hours a day" in r.text
