"""In the browser: an officer registers a person with an order and conditions, adds a programme goal with an
NGO, records a check-in and issues a written warning; the NGO's user sees the goal and never a location."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import SYSTEM
from kuzet.auth.service import create_user
from kuzet.casework.programme import create_partner
from kuzet.domain.enums import Role
from kuzet.settings import Settings
from kuzet.store.db import make_engine, session_factory, transaction
from kuzet.web.app import create_app
from tests.web.world import PASSWORD, World

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NGO = "«Жол» қоғамдық бірлестігі"
ADDRESS = "Алматы, Абай даңғылы 150, пәтер 12"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, world_template: tuple[Path, World]) -> Iterator[tuple[str, sessionmaker[Session], World]]:
    template, world = world_template  # the web tests' two-region world, migrated once per run
    shutil.copyfile(template, tmp_path / "kuzet.db")
    url = f"sqlite:///{tmp_path / 'kuzet.db'}"
    engine = make_engine(url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        ngo = create_partner(s, SYSTEM, "ngo", NGO, region_id=world.regions["N"],
                             services=("employment", "documents"))
        create_user(s, "zhol", PASSWORD, Role.PARTNER, partner_id=ngo.id, locale="ru")
    port = _free_port()
    settings = Settings(database_url=url, secret_key="test-secret-key-0123456789",
                        tile_url=f"http://127.0.0.1:{_free_port()}/{{z}}/{{x}}/{{y}}.png")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", factory, world
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _sign_in(browser: Browser, base: str, username: str, next_path: str) -> Page:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{base}/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    return page


def test_officer_registers_works_the_case_and_the_partner_sees_only_the_goal(
        served: tuple[str, sessionmaker[Session], World], browser: Browser) -> None:
    base, _, _ = served
    page = _sign_in(browser, base, "officer_n1", "/ui/casework")
    page.get_by_test_id("register-link").click()

    form = page.get_by_test_id("register-form")
    page.get_by_test_id("code").fill("B-0001")
    page.get_by_test_id("surname").fill("Нұрланов")
    page.get_by_test_id("given-name").fill("Ерлан")
    page.get_by_test_id("address").fill(ADDRESS)
    page.get_by_test_id("category").select_option("restricted_freedom")
    page.get_by_test_id("released-on").fill("2026-11-27")
    page.get_by_test_id("court").fill("Алмалы аудандық соты")
    page.get_by_test_id("start-date").fill("2026-11-27")
    page.get_by_test_id("end-date").fill("2027-11-26")
    page.get_by_test_id("conditions").fill("be home 22:00-06:00\ndo not leave Almaty")
    page.get_by_test_id("obligations").fill("report to the probation office on Mondays")
    expect(form).to_be_visible()
    page.get_by_test_id("register").click()

    expect(page.get_by_test_id("person-title")).to_contain_text("B-0001")
    orders = page.get_by_test_id("orders")
    expect(orders).to_contain_text("v1")
    expect(orders).to_contain_text("do not leave Almaty")
    expect(orders).to_contain_text("report to the probation office on Mondays")
    # Released on Friday 27 November: Mon 30 Nov, Tue 1 and Wed 2 December.
    expect(page.get_by_test_id("registration")).to_contain_text("2026-12-02")

    page.get_by_test_id("goal-area").select_option("employment")
    page.get_by_test_id("goal-text").fill("Find a job with a registered employer")
    page.get_by_test_id("goal-partner").select_option(label=NGO)
    page.get_by_test_id("add-goal").click()
    expect(page.get_by_test_id("goals")).to_contain_text(NGO)

    page.get_by_test_id("check-in-note").fill("came with his passport")
    page.get_by_test_id("check-in").click()
    expect(page.get_by_test_id("appointments")).to_contain_text("attended and complied")
    expect(page.get_by_test_id("registration")).to_contain_text("arrived on")

    page.get_by_test_id("violation-kind").fill("curfew_absence")
    page.get_by_test_id("violation-at").fill("2026-11-28T23:30")
    page.get_by_test_id("violation-description").fill("not at home at 23:30")
    page.get_by_test_id("record-violation").click()
    page.get_by_test_id("issue-warning").click()
    link = page.get_by_test_id("warning-pdf")
    expect(link).to_contain_text("WW-2026-")
    expect(page.get_by_test_id("violations")).to_contain_text("warned")
    pdf = page.request.get(base + str(link.get_attribute("href")))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF-")
    expect(page.get_by_test_id("timeline")).to_contain_text("written warning")
    person_path = page.url.removeprefix(base)

    partner = _sign_in(browser, base, "zhol", "/ui/partner")
    goals = partner.get_by_test_id("partner-goals")
    expect(goals).to_contain_text("Find a job with a registered employer")
    expect(goals).to_contain_text("B-0001")
    content = partner.content()
    assert ADDRESS not in content and "leaflet" not in content.lower() and "curfew_absence" not in content
    assert partner.locator("#map").count() == 0
    for path in ("/ui/map", person_path, "/api/v1/positions", f"/ui/people/{person_path.rsplit('/', 1)[1]}"):
        response = partner.request.get(base + path)
        assert response.status == 403, (path, response.status)
