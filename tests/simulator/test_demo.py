"""`kuzet demo` end to end: a fresh database, the service, the live fleet over real protocols, and the pages."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    var = tmp_path_factory.mktemp("demo") / "var"
    port = _free_port()
    env = {**os.environ, "KUZET_VAR_DIR": str(var), "KUZET_PORT": str(port), "KUZET_GATEWAY_MQTT": "off",
           "KUZET_DATABASE_URL": f"sqlite:///{var / 'kuzet.db'}", "COLUMNS": "200",
           # Map tiles from a closed local port: the test never waits for the internet.
           "KUZET_TILE_URL": f"http://127.0.0.1:{_free_port()}/{{z}}/{{x}}/{{y}}.png"}
    for name in ("teltonika", "gt06", "h02", "watch", "kuzet_tcp", "osmand"):
        env[f"KUZET_GATEWAY_{name.upper()}_PORT"] = str(_free_port())
    env["KUZET_GATEWAY_KUZET_HTTPS_PORT"] = "off"
    proc = subprocess.Popen([sys.executable, "-m", "kuzet.cli", "demo", "--minutes", "4", "--wearers", "12"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logins: dict[str, str] = {}
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.match(r"\W*(operator|officer|supervisor|admin)\s*\W\s*(\S+)\s*\W", line)
        if match:
            logins[match.group(1)] = match.group(2)
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert {"operator", "officer", "supervisor"} <= set(logins), "the demo prints the logins"
    # Keep reading what the demo prints, so that it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
    yield f"http://127.0.0.1:{port}", logins, var
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_for(db: Path, sql: str, at_least: int = 1, timeout: float = 150.0) -> int:
    """Poll the demo's database until ``sql`` counts ``at_least``; return the last count."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            (n,) = conn.execute(sql).fetchone()
        if n >= at_least:
            break
        time.sleep(2)
    return int(n)


def test_the_demo_comes_alive_with_positions_alerts_and_pages(demo: tuple[str, dict[str, str], Path]) -> None:
    url, logins, var = demo
    db = var / "kuzet.db"
    assert _wait_for(db, "SELECT count(DISTINCT device) FROM device_reports", at_least=10) >= 10
    assert _wait_for(db, "SELECT count(*) FROM alerts WHERE type = 'strap_tamper'") == 1
    protocols = {row[0] for row in sqlite3.connect(db).execute("SELECT DISTINCT protocol FROM device_reports")}
    assert {"teltonika", "osmand"} <= protocols
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_context(locale="en-GB").new_page()
        page.set_default_timeout(20_000)
        page.goto(url + "/ui/map")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", logins["operator"])
        page.click("button[type=submit].primary")
        page.wait_for_url("**/ui/**")
        page.goto(url + "/ui/map")
        expect(page.locator("#positions li[data-person-id]").first).to_be_visible()
        expect(page.get_by_test_id("map-alerts").locator("li[data-alert-id]").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "demo-map.png"), full_page=True)
        page.goto(url + "/ui/alerts")
        expect(page.get_by_test_id("alert-queue").locator("tr[data-alert-id]").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "demo-alerts.png"), full_page=True)
        browser.close()
