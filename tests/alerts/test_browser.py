"""In the browser (Debian's Chromium through Playwright): an operator works an alert from arrival to closure.

Reuses the web tests' served application and two-region world. Screenshots go to ``test-artifacts/alerts/``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from kuzet.alerts.notifications import Transports, on_alert_raised, subscribe
from tests.web.test_browser import Site, browser, page, sign_in, site  # noqa: F401 - shared fixtures
from tests.web.world import add_alert

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "alerts"


def test_an_operator_works_an_alert_from_arrival_to_closure(page: Page, site: Site) -> None:  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    world = site.world
    sign_in(page, site, "operator_n")
    page.goto(site.base + "/ui/queue")
    expect(page.get_by_test_id("work-queue")).to_be_visible()

    # A strap-tamper alert arrives (as the monitor writes it and then calls the dispatcher).
    raised = datetime.now(UTC) - timedelta(minutes=7)
    alert_id = add_alert(site.factory, "N-A", world.people["N-A"], world.regions["N"], raised,
                         alert_type="strap_tamper", severity="critical")
    with site.factory() as s, s.begin():
        assert isinstance(s, Session)
        subscribe(s, channel="email", address="duty-north@probation.kz", region_id=world.regions["N"])
        on_alert_raised(s, alert_id, raised, transports=Transports(), send=False)
    page.reload()
    row = page.get_by_test_id(f"queue-row-{alert_id}")
    expect(row).to_contain_text(re.compile("strap tamper", re.IGNORECASE))
    expect(page.get_by_test_id(f"overdue-{alert_id}")).to_be_visible()  # critical: 5 minutes to acknowledge
    first_row = page.locator("[data-testid=work-queue] tbody tr").first
    expect(first_row).to_have_attribute("data-alert-id", str(alert_id))  # most severe first
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

    page.get_by_test_id(f"work-{alert_id}").click()
    expect(page.get_by_test_id("status")).to_have_text("new")
    expect(page.get_by_test_id("deliveries")).to_contain_text("duty-north@probation.kz")  # queued for the worker
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("status")).to_have_text("claimed")
    expect(page.get_by_test_id("assignee")).to_have_text("operator_n")
    page.get_by_test_id("acknowledge").click()
    expect(page.get_by_test_id("status")).to_have_text("acknowledged")

    page.get_by_test_id("action-kind").select_option("call_person")
    page.get_by_test_id("action-note").fill("No answer on the mobile phone")
    page.get_by_test_id("record-action").click()
    page.get_by_test_id("action-kind").select_option("locate_now")
    page.get_by_test_id("record-action").click()
    page.get_by_test_id("action-kind").select_option("visit")
    page.get_by_test_id("action-note").fill("Patrol found him at home, strap cut")
    page.get_by_test_id("record-action").click()
    history = page.get_by_test_id("history")
    expect(history.locator("tr[data-kind=call_person]")).to_contain_text("No answer")
    expect(history.locator("tr[data-kind=locate_now]")).to_contain_text("queued")  # to the device, via the gateway
    expect(history.locator("tr[data-kind=visit]")).to_contain_text("Patrol found him")

    # A critical alert cannot be closed without a note.
    page.get_by_test_id("outcome-select").select_option("violation_confirmed")
    page.get_by_test_id("close").click()
    expect(page.get_by_test_id("error")).to_contain_text("without a note")
    expect(page.get_by_test_id("status")).to_have_text("acknowledged")

    page.get_by_test_id("outcome-select").select_option("violation_confirmed")
    page.get_by_test_id("close-note").fill("Strap cut deliberately; officer informed, police report made")
    page.get_by_test_id("close").click()
    expect(page.get_by_test_id("status")).to_have_text("closed")
    expect(page.get_by_test_id("outcome")).to_have_text("violation confirmed")
    expect(page.get_by_test_id("outcome-note")).to_contain_text("Strap cut deliberately")
    expect(history.locator("tr[data-kind=close]")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "alert-closed.png"), full_page=True)

    page.goto(site.base + "/ui/queue")
    expect(page.get_by_test_id(f"queue-row-{alert_id}")).to_have_count(0)
    page.goto(site.base + "/ui/handover")
    expect(page.get_by_test_id("handover-closed")).to_contain_text("Strap cut deliberately")
    page.get_by_test_id("handover-note").fill("N-A: strap cut, device to be replaced tomorrow")
    page.get_by_test_id("save-note").click()
    expect(page.get_by_test_id("notes")).to_contain_text("device to be replaced tomorrow")
    page.screenshot(path=str(ARTIFACTS / "handover.png"), full_page=True)
