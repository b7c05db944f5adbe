"""The officer application in a real browser (Debian's Chromium, headless, through Playwright).

The app runs under uvicorn on a free port against a SQLite file; the tile server points at a closed local
port, so the page proves it works with no internet: zones, positions and trails are drawn without tiles.
Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.settings import Settings
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.store.models import AlertRecord, ZoneRecord
from kuzet.web.app import create_app

from .world import ALMATY, PASSWORD, World, add_alert, add_fix, build_world

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Site:
    def __init__(self, base: str, factory: sessionmaker[Session], world: World) -> None:
        self.base, self.factory, self.world = base, factory, world


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'kuzet.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    world = build_world(factory, fixes_per_person=5)
    now = datetime.now(UTC)
    for k in range(20):  # a recent stretch of trail for the what-if replay and playback
        add_fix(factory, "N-A", world.people["N-A"], 1000 + k, ALMATY[0] + 0.0004 * k, ALMATY[1],
                now - timedelta(hours=2) + timedelta(minutes=3 * k))
    dead_tiles = f"http://127.0.0.1:{_free_port()}/{{z}}/{{x}}/{{y}}.png"
    app = create_app(Settings(database_url=url, tile_url=dead_tiles, secret_key="browser-test-secret-0123"))
    app.state.stream_interval_s = 0.3
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", factory, world)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def sign_in(page: Page, site: Site, username: str) -> None:
    page.goto(site.base + "/ui/map")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/ui/**")


def test_an_officer_signs_in_and_sees_a_position_move_live(page: Page, site: Site) -> None:
    sign_in(page, site, "officer_n1")
    page.wait_for_url("**/ui/map")
    pid = site.world.people["N-A"]
    item = page.locator(f'#positions li[data-person-id="{pid}"]')
    expect(item).to_be_visible()
    expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "open")
    expect(page.locator(f'#positions li[data-person-id="{site.world.people["S-A"]}"]')).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "01-live-map.png"))
    for step in range(1, 4):
        lon, lat = ALMATY[0] + 0.003 * step, ALMATY[1] + 0.002 * step
        add_fix(site.factory, "N-A", pid, 5000 + step, lon, lat, datetime.now(UTC))
        expect(item).to_have_attribute("data-lat", str(lat), timeout=10_000)
        expect(item).to_have_attribute("data-lon", str(lon))
    marker = page.evaluate(
        f"(() => {{ const m = window.kuzetMarkers[{pid}].dot.getLatLng(); return [m.lat, m.lng]; }})()")
    assert marker == pytest.approx([ALMATY[1] + 0.006, ALMATY[0] + 0.009])
    new_alert = add_alert(site.factory, "N-A", pid, site.world.regions["N"], datetime.now(UTC))
    expect(page.locator(f'#alerts li[data-alert-id="{new_alert}"]')).to_be_visible(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "02-live-map-moved.png"))


def test_an_officer_draws_a_zone_checks_it_against_the_trail_and_saves_it(page: Page, site: Site) -> None:
    sign_in(page, site, "officer_n1")
    pid = site.world.people["N-A"]
    page.goto(f"{site.base}/ui/people/{pid}/zones")
    page.check('input[name="mode"][value="polygon"]')
    box = page.get_by_test_id("zone-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-150, -60), (150, -90), (170, 110), (-130, 120)):
        page.mouse.click(cx + dx, cy + dy)
    page.fill("#code", "market")
    page.fill("#name", "Central market")
    page.select_option("#kind", "exclusion")
    page.fill("#grace", "60")
    page.get_by_test_id("whatif").click()
    result = page.get_by_test_id("whatif-result")
    expect(result).to_have_attribute("data-edited", lambda_number(), timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "03-zone-drawn-what-if.png"))
    page.get_by_test_id("save-zone").click()
    expect(page.locator("#zone-list")).to_contain_text("Central market", timeout=10_000)
    with site.factory() as s:
        zone = s.execute(select(ZoneRecord).where(ZoneRecord.person_id == pid, ZoneRecord.code == "market")
                         ).scalar_one()
        assert zone.kind == "exclusion" and zone.shape["type"] == "Polygon"
        assert len(zone.shape["coordinates"][0]) == 5 and zone.grace_s == 60
    page.screenshot(path=str(ARTIFACTS / "04-zone-saved.png"))


def lambda_number() -> object:
    import re

    return re.compile(r"^\d+$")


def test_an_operator_acknowledges_an_alert_from_the_queue(page: Page, site: Site) -> None:
    sign_in(page, site, "operator_n")
    page.goto(site.base + "/ui/alerts")
    alert_id = site.world.alerts["N-B"]
    row = page.locator(f'tr[data-alert-id="{alert_id}"]')
    expect(row).to_be_visible()
    expect(page.locator(f'tr[data-alert-id="{site.world.alerts["S-A"]}"]')).to_have_count(0)
    row.locator("input[name=note]").fill("called the person, on the way home")
    page.get_by_test_id(f"ack-{alert_id}").click()
    page.goto(site.base + "/ui/alerts?show=all")
    expect(page.locator(f'tr[data-alert-id="{alert_id}"] .status')).to_have_text("acknowledged")
    with site.factory() as s:
        alert = s.get(AlertRecord, alert_id)
        assert alert is not None and alert.status == "acknowledged" and alert.actions[-1].kind == "acknowledge"
    page.screenshot(path=str(ARTIFACTS / "05-alert-acknowledged.png"))


def test_switching_the_language_to_kazakh(page: Page, site: Site) -> None:
    sign_in(page, site, "supervisor_n1")
    page.goto(site.base + "/ui/map")
    page.get_by_test_id("lang-kk").click()
    expect(page.locator("html")).to_have_attribute("lang", "kk")
    expect(page.locator("nav.mainnav")).to_contain_text("Дабылдар")
    expect(page.locator("h1")).to_have_text("Тірі карта")
    page.screenshot(path=str(ARTIFACTS / "06-kazakh.png"))
    page.goto(site.base + "/ui/alerts")
    expect(page.locator("h1")).to_have_text("Дабылдар кезегі")  # the choice is kept on the user
    page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_trail_playback_shows_each_fix_with_its_accuracy(page: Page, site: Site) -> None:
    sign_in(page, site, "officer_n1")
    pid = site.world.people["N-A"]
    page.goto(f"{site.base}/ui/people/{pid}/trail")
    page.fill("input[name=purpose]", "review of the evening route")
    page.click("form[data-testid=trail-form] button[type=submit]")
    current = page.get_by_test_id("trail-current")
    expect(current).to_contain_text("±")
    page.locator("#slider").fill("10")
    expect(current).to_have_attribute("data-index", "10")
    circles = page.locator("#map path.leaflet-interactive")
    assert circles.count() >= 20
    page.screenshot(path=str(ARTIFACTS / "07-trail-playback.png"))
