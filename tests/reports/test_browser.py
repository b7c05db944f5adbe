"""In the browser: a supervisor opens the regional dashboard and downloads a table as CSV."""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from kuzet.settings import Settings
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.web.app import create_app

from .world import PASSWORD, ReportWorld, build

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, ReportWorld]]:
    url = f"sqlite:///{tmp_path / 'kuzet.db'}"
    upgrade(url)
    engine = make_engine(url)
    world = build(session_factory(engine))
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
    yield f"http://127.0.0.1:{port}", world
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def test_a_supervisor_opens_the_regional_dashboard_and_downloads_csv(site: tuple[str, ReportWorld]) -> None:
    base, _ = site
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(locale="en-GB", accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(base + "/ui/reports")
        page.fill("input[name=username]", "sup_u1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].primary")
        page.wait_for_url("**/ui/**")
        page.goto(base + "/ui/reports")
        expect(page.locator("h1")).to_contain_text("Unit U1")
        caseload = page.locator("#table-caseload table")
        expect(caseload).to_contain_text("restricted_freedom")
        expect(page.locator("#table-cost")).to_contain_text("prison_cost_same_period_kzt")
        page.screenshot(path=str(ARTIFACTS / "reports-dashboard.png"), full_page=True)
        with page.expect_download() as info:
            page.click("#csv-caseload")
        data = Path(info.value.path()).read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(data)))
        assert rows[0] == ["category", "supervised", "on_em", "not_on_em"]
        total = next(r for r in rows if r and r[0] == "total")
        assert total[1] == "4"  # unit U1: a, c, d and e (b was revoked)
        assert info.value.suggested_filename == "kuzet-caseload.csv"
        context.close()
        browser.close()
