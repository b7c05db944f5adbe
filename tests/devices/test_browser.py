"""In the browser: fit a device with the signed fitting form; its first report appears on the device page map
and puts the newly fitted person on the officers' live map, at home."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from kuzet.devices.lifecycle import register_device
from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import DeviceReport
from kuzet.gateway.sink import store_device_reports
from kuzet.settings import Settings
from kuzet.store.db import transaction
from kuzet.store.models import Person
from kuzet.web.app import create_app
from tests.web.world import PASSWORD, World

from .factories import OFFICER

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NEW_HOME = (76.9050, 43.2210)  # lon, lat


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send(factory: sessionmaker[Session], serial: str, seq: int, lon: float, lat: float, at: datetime) -> None:
    """A report from the device, stored as the gateway's :class:`StoreSink` stores it (attributed to the current
    wearer, if any). The sink's coroutine cannot run beside Playwright's event loop, so its write is called."""
    report = DeviceReport(device=serial, time=at, received=at + timedelta(seconds=2), seq=seq, lat=lat, lon=lon,
                          accuracy_m=9.0, source=Source.GPS, satellites=9, battery_pct=96.0, charging=False,
                          strap=Closure.CLOSED, case=Closure.CLOSED)
    with transaction(factory) as s:
        store_device_reports(s, [report], protocol="kuzet")


@pytest.fixture
def served(world_db: tuple[str, sessionmaker[Session], World]) -> Iterator[tuple[str, sessionmaker[Session], int]]:
    """The web tests' world (a copy for this module) with a new bracelet in stock and a person newly placed
    under EM, served by uvicorn on a free port. Yields the base URL, the sessions and the newcomer's id."""
    url, factory, world = world_db
    with transaction(factory) as s:
        register_device(s, OFFICER, serial="BR-0001", type_code="gps_bracelet", unit=world.units["N1"],
                        firmware="2.1.0")
        # No device yet: absent from the live map until fitted.
        newcomer = Person(code="N-NEW", surname="Newcomer", given_name="Given", category="restricted_freedom",
                          region_id=world.regions["N"], unit_id=world.units["N1"],
                          officer_id=world.user_ids["officer_n1"], home_lat=NEW_HOME[1], home_lon=NEW_HOME[0],
                          timezone="Asia/Almaty", extra={})
        s.add(newcomer)
        s.flush()
        newcomer_id = newcomer.id
    port = _free_port()
    # Map tiles from a closed local port: the test never reaches the internet and never waits for it.
    settings = Settings(database_url=url, secret_key="test-secret-key-0123456789",
                        tile_url=f"http://127.0.0.1:{_free_port()}/{{z}}/{{x}}/{{y}}.png")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", factory, newcomer_id
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        context = browser.new_context(locale="en-GB")
        yield context.new_page()
        context.close()
        browser.close()


def test_fit_a_device_to_a_person_and_see_its_first_report_on_the_map(
        served: tuple[str, sessionmaker[Session], int], page: Page) -> None:
    base, factory, person_id = served
    home_lon, home_lat = NEW_HOME

    page.goto(f"{base}/login?next=/ui/map")
    page.fill("input[name=username]", "officer_n1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    expect(page.get_by_test_id("live-map")).to_be_visible()
    expect(page.locator(f"#positions li[data-person-id='{person_id}']")).to_have_count(0)

    page.goto(f"{base}/ui/devices/BR-0001")
    expect(page.get_by_test_id("status")).to_have_text("in stock")

    # The officer closes the strap; the device sends its test report from the person's home.
    sent_at = datetime.now(UTC) - timedelta(minutes=1)
    _send(factory, "BR-0001", 1, home_lon, home_lat, sent_at)

    page.get_by_test_id("fit-link").click()
    page.get_by_test_id("person").select_option(str(person_id))
    for box in page.locator("[data-testid^=check-]").all():
        box.check()
    page.get_by_test_id("wearer-ack").check()
    page.get_by_test_id("officer-name").fill("Officer N1")
    page.get_by_test_id("sign-and-fit").click()

    expect(page.get_by_test_id("status")).to_have_text("fitted")
    expect(page.get_by_test_id("wearer")).to_contain_text("N-NEW")
    expect(page.get_by_test_id("address-check")).to_contain_text("waiting for reports from home")
    expect(page.get_by_test_id("history")).to_contain_text("fit")

    # The first report on the map is the one the device sent from the person's wrist.
    first = page.locator("#map .leaflet-marker-icon.first-report")
    expect(first).to_be_visible()
    expect(first).to_have_attribute("title", sent_at.isoformat())
    rows = page.get_by_test_id("first-reports").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"{home_lat:.5f}, {home_lon:.5f}")

    # The officers' live map now shows the person where the device first reported: at home.
    page.goto(f"{base}/ui/map")
    item = page.locator(f"#positions li[data-person-id='{person_id}']")
    expect(item).to_have_attribute("data-lat", str(home_lat))
    expect(item).to_have_attribute("data-lon", str(home_lon))
    expect(page.locator("#map .leaflet-tooltip", has_text="N-NEW")).to_be_visible()

    # A later report (the sink attributes it to the wearer now) joins the device's map on the next visit.
    _send(factory, "BR-0001", 2, home_lon + 0.0003, home_lat, datetime.now(UTC))
    page.goto(f"{base}/ui/devices/BR-0001")
    expect(page.locator("#map .leaflet-marker-icon.report-marker")).to_have_count(2)
    expect(page.locator("#map .leaflet-marker-icon.first-report")).to_have_count(1)
