"""The officer UI's pages render for the roles that may see them, in each language, and refuse the others."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .world import PASSWORD, World


def _login(app: FastAPI, username: str) -> TestClient:
    c = TestClient(app)
    r = c.post("/login", data={"username": username, "password": PASSWORD, "next": "/ui/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def test_an_officer_sees_every_page_of_their_own_person(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    pid = world.people["N-A"]
    for path in ["/ui/map", "/ui/people", f"/ui/people/{pid}", f"/ui/people/{pid}/zones",
                 f"/ui/people/{pid}/trail", f"/ui/people/{pid}/trail?purpose=review&from=2026-11-02T10:00"
                 "&to=2026-11-02T12:00", "/ui/alerts", "/ui/alerts?show=all"]:
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        assert "N-A" in r.text or path.endswith("alerts?show=all")
    assert "N-B" not in c.get("/ui/people").text
    assert "S-A" not in c.get("/ui/map").text


def test_pages_of_someone_elses_person_are_not_found(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    for code in ("N-B", "S-A"):
        pid = world.people[code]
        for path in [f"/ui/people/{pid}", f"/ui/people/{pid}/zones", f"/ui/people/{pid}/trail?purpose=curious"]:
            assert c.get(path).status_code == 404, path


@pytest.mark.parametrize("user", ["partner", "analyst", "auditor", "police"])
def test_roles_without_people_access_get_no_people_pages(app: FastAPI, world: World, user: str) -> None:
    c = _login(app, user)
    pid = world.people["N-A"]
    for path in ["/ui/map", "/ui/people", f"/ui/people/{pid}", f"/ui/people/{pid}/trail?purpose=x+y+z",
                 "/ui/alerts"]:
        r = c.get(path)
        assert r.status_code == 403, (user, path, r.status_code)
        assert "43.25" not in r.text


def test_the_auditor_page_shows_the_trail_and_its_verification(app: FastAPI, world: World) -> None:
    c = _login(app, "auditor")
    r = c.get("/ui/audit")
    assert r.status_code == 200 and "officer_n1" in r.text and 'data-testid="audit-verify" class="ok"' in r.text
    assert _login(app, "admin").get("/ui/audit").status_code == 403


def test_a_browser_that_is_not_signed_in_is_sent_to_the_login_page(app: FastAPI) -> None:
    r = TestClient(app).get("/ui/map", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_signing_out_ends_the_session_on_the_server(app: FastAPI) -> None:
    c = _login(app, "officer_n1")
    cookie = c.cookies.get("kuzet_session")
    assert c.post("/ui/logout", follow_redirects=False).status_code == 303
    stale = TestClient(app)
    stale.cookies.set("kuzet_session", cookie)
    assert stale.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(("locale", "word"), [("kk", "Карта"), ("ru", "Карта"), ("en", "Live map")])
def test_the_interface_speaks_the_chosen_language(app: FastAPI, locale: str, word: str) -> None:
    c = _login(app, "supervisor_n1")
    r = c.post("/ui/locale", data={"locale": locale, "next": "/ui/map"})
    assert r.status_code == 200
    assert f'<html lang="{locale}">' in r.text and word in r.text
    c.post("/ui/locale", data={"locale": "en", "next": "/ui/map"})


def test_an_open_redirect_after_sign_in_is_refused(app: FastAPI) -> None:
    c = TestClient(app)
    r = c.post("/login", data={"username": "officer_n1", "password": PASSWORD, "next": "//evil.example/"},
               follow_redirects=False)
    assert r.headers["location"] == "/ui/"


def test_a_cross_site_post_riding_on_the_session_cookie_is_refused(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    alert = world.alerts["N-A"]
    r = c.post(f"/ui/alerts/{alert}/acknowledge", data={"note": "x"}, headers={"Origin": "https://evil.example"},
               follow_redirects=False)
    assert r.status_code == 403
    r = c.post(f"/ui/alerts/{alert}/acknowledge", data={"note": "x"}, headers={"Origin": "http://testserver"},
               follow_redirects=False)
    assert r.status_code == 303


def test_times_are_shown_in_the_users_zone(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    page = c.get(f"/ui/people/{world.people['N-A']}").text
    assert "2026-11-02 11:00" in page  # the alert started at 06:00 UTC; Kazakhstan is UTC+5
    assert "2026-11-02 06:00" not in page


def test_pages_carry_protective_headers(app: FastAPI) -> None:
    r = TestClient(app).get("/login")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_a_user_turns_on_two_factor_sign_in_and_then_needs_the_code(app: FastAPI, world: World) -> None:
    import re

    import pyotp

    c = _login(app, "analyst")
    page = c.post("/ui/account/totp/start").text
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)  # type: ignore[union-attr]
    ticket = re.search(r'name="ticket" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert "totp-on" not in c.post("/ui/account/totp/confirm", data={"ticket": ticket, "code": "12345x"}).text
    assert 'data-testid="totp-on"' in c.post("/ui/account/totp/confirm",
                                             data={"ticket": ticket, "code": pyotp.TOTP(secret).now()}).text
    fresh = TestClient(app)
    r = fresh.post("/login", data={"username": "analyst", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 200 and 'name="totp"' in r.text
    r = fresh.post("/login", data={"username": "analyst", "password": PASSWORD, "totp": pyotp.TOTP(secret).now()},
                   follow_redirects=False)
    assert r.status_code == 303


def test_an_officer_records_a_variation_of_the_order_from_the_persons_page(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    pid = world.people["N-A"]
    r = c.post(f"/ui/people/{pid}/orders", data={
        "category": "parole", "variation": "curfew_changed", "court": "Almaly district court",
        "conditions": "home from 22:00\n\ndo not leave Almaty", "start_date": "2026-11-01"})
    assert r.status_code == 200 and "do not leave Almaty" in r.text and "curfew_changed" in r.text
    bad = c.post(f"/ui/people/{pid}/orders", data={"category": "parole", "variation": "x",
                                                   "start_date": "2026-12-01", "end_date": "2026-11-01"})
    assert "the order ends before it starts" in bad.text
    orders = c.get(f"/api/v1/people/{pid}/orders").json()
    assert [o["version"] for o in orders] == [1, 2] and orders[1]["conditions"] == ["home from 22:00",
                                                                                   "do not leave Almaty"]
    assert _login(app, "operator_n").post(f"/ui/people/{pid}/orders", data={
        "category": "parole", "variation": "x"}).status_code == 403


def test_a_browser_gets_a_readable_page_for_forbidden_and_unknown_records(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    html = {"accept": "text/html"}
    r = c.get(f"/ui/people/{world.people['S-A']}", headers=html)
    assert r.status_code == 404 and 'data-testid="error-page"' in r.text
    r = _login(app, "partner").get("/ui/map", headers=html)
    assert r.status_code == 403 and 'data-testid="error-page"' in r.text
    foreign = world.people["S-A"]
    assert c.get(f"/api/v1/people/{foreign}").json() == {"detail": f"person {foreign} not found"}
