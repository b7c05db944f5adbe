"""The fleet pages render for the roles that may see them, in the caller's language, and refuse the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from kuzet.devices.leasing import InvoiceLineInput, create_contract, lease_devices, record_invoice
from kuzet.devices.lifecycle import register_device
from kuzet.store.db import transaction
from tests.web.world import World

from .factories import OFFICER


def _invoice(sessions: sessionmaker[Session], world: World) -> int:
    today = datetime.now(ZoneInfo("Asia/Almaty")).date()
    with transaction(sessions) as s:
        register_device(s, OFFICER, serial="UI-SHELF", type_code="gps_bracelet", unit=world.units["N1"],
                        at=datetime.now(UTC) - timedelta(days=3))
        create_contract(s, OFFICER, reference="L-UI", supplier="Supplier LLP", daily_rate_tiyn=250_000,
                        start_date=today - timedelta(days=30))
        lease_devices(s, OFFICER, "L-UI", ["UI-SHELF"])
        return record_invoice(s, OFFICER, contract="L-UI", number="INV-UI", period_start=today - timedelta(days=1),
                              period_end=today, lines=[InvoiceLineInput("UI-SHELF", 2, 500_000)]).id


def test_every_fleet_page_renders_and_the_reconciliation_names_the_shelf_device(
        client: TestClient, world: World, factory: sessionmaker[Session]) -> None:
    invoice_id = _invoice(factory, world)
    admin = world.auth("admin")
    for path in ("/ui/devices", "/ui/devices/UI-SHELF", "/ui/devices/UI-SHELF/fit", "/ui/fleet",
                 "/ui/fleet/leases", f"/ui/fleet/invoices/{invoice_id}", "/ui/devices?status=in_stock"):
        r = client.get(path, headers=admin)
        assert r.status_code == 200, (path, r.status_code)
    page = client.get(f"/ui/fleet/invoices/{invoice_id}", headers=admin).text
    assert 'data-testid="line-UI-SHELF"' in page and "billed while in stock" in page
    assert "in stock: 2" in page and "5 000.00" in page
    client.post(f"/ui/fleet/invoices/{invoice_id}/reconcile", headers=admin, follow_redirects=False)
    assert "disputed" in client.get("/ui/fleet/leases", headers=admin).text
    # The world's devices have been silent for weeks: the daily health snapshot lists them as suspect.
    assert client.post("/ui/fleet/snapshot-health", headers=world.auth("supervisor_n1"),
                       follow_redirects=False).status_code == 303
    fleet = client.get("/ui/fleet", headers=world.auth("supervisor_n1")).text
    assert "DEV-N-A" in fleet and "DEV-S-A" not in fleet and "silent" in fleet
    device = client.get("/ui/devices/DEV-N-A", headers=world.auth("supervisor_n1")).text
    assert 'data-testid="health-trend"' in device


def test_fleet_pages_and_steps_refuse_roles_without_access(
        client: TestClient, world: World) -> None:
    assert client.get("/ui/fleet/leases", headers=world.auth("officer_n1")).status_code == 403
    assert client.get("/ui/devices", headers=world.auth("partner")).status_code == 403
    assert client.get("/ui/devices/DEV-N-A", headers=world.auth("officer_s")).status_code == 404
    r = client.post("/ui/devices/DEV-N-A/action", data={"action": "write_off", "text": "x"},
                    headers=world.auth("officer_n1"), follow_redirects=False)
    assert r.status_code == 403 and "may not write off" in r.json()["detail"]
    r = client.post("/ui/devices/DEV-N-A/action", data={"action": "send_to_repair", "text": "x"},
                    headers=world.auth("supervisor_n1"), follow_redirects=False)
    assert "it%20is%20fitted" in r.headers["location"]


def test_an_administrator_edits_a_procedure_on_the_catalogue_page(client: TestClient, world: World) -> None:
    form = {"new": "0", "code": "home_unit", "name_ru": "Стационарное устройство", "name_kk": "Стационарлық құрылғы",
            "name_en": "Home unit", "fitting_checklist": "installed at the registered address\nmains power connected",
            "check_interval_h": "72", "reporting_interval_s": "300", "charging_rule": "mains power",
            "events": ["case_open", "power_off"], "protocols": ["kuzet"], "active": "on"}
    assert client.post("/ui/fleet/catalogue", data=form, headers=world.auth("supervisor_n1"),
                       follow_redirects=False).status_code == 403
    r = client.post("/ui/fleet/catalogue", data=form, headers=world.auth("admin"), follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"]
    types = {t["code"]: t for t in client.get("/api/v1/fleet/catalogue", headers=world.auth("admin")).json()}
    assert types["home_unit"]["procedure"]["check_interval_h"] == 72
    assert types["home_unit"]["procedure"]["fitting_checklist"][1] == "mains power connected"
    bad = client.post("/ui/fleet/catalogue", data={**form, "events": ["teleport"]}, headers=world.auth("admin"),
                      follow_redirects=False)
    assert "unknown%20events" in bad.headers["location"]
    page = client.get("/ui/fleet/catalogue", headers=world.auth("officer_n1")).text
    assert "mains power connected" in page and "<textarea" not in page


def test_an_administrator_records_a_contract_and_an_invoice_on_the_leases_page(
        client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    today = datetime.now(ZoneInfo("Asia/Almaty")).date()
    contract = {"what": "contract", "reference": "L-PAGE", "supplier": "Supplier LLP", "daily_rate": "3500.50",
                "start_date": (today - timedelta(days=60)).isoformat()}
    assert client.post("/ui/fleet/leases", data=contract, headers=world.auth("supervisor_n1"),
                       follow_redirects=False).status_code == 403
    assert client.post("/ui/fleet/leases", data=contract, headers=admin, follow_redirects=False).status_code == 303
    client.post("/ui/fleet/leases", data={"what": "devices", "reference": "L-PAGE", "serials": "DEV-N-A"},
                headers=admin, follow_redirects=False)
    invoice = {"what": "invoice", "reference": "L-PAGE", "number": "P-1", "period_start": today.isoformat(),
               "period_end": today.isoformat(), "lines": "DEV-N-A, 1, 3500.50\nDEV-N-B, 1, 3500.50"}
    r = client.post("/ui/fleet/leases", data=invoice, headers=admin, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/fleet/invoices/")
    page = client.get(r.headers["location"], headers=admin).text
    assert "3 500.50" in page and "not on the contract" in page
    bad = client.post("/ui/fleet/leases", data={**invoice, "number": "P-2", "lines": "DEV-N-A, x, 1"},
                      headers=admin, follow_redirects=False)
    assert "expected%20%27serial%2C%20days%2C%20amount%27" in bad.headers["location"]


def test_the_device_page_leads_to_the_wearer_and_the_stock_page_fits_for_a_person_in_scope(
        client: TestClient, world: World) -> None:
    officer = world.auth("officer_n1")
    page = client.get("/ui/devices/DEV-N-A", headers=officer).text
    assert f'<a href="/ui/people/{world.people["N-A"]}">N-A</a>' in page
    stock = client.get(f"/ui/devices?status=in_stock&fit_for={world.people['N-A']}", headers=officer).text
    assert 'data-testid="fit-for"' in stock and f'name="fit_for" value="{world.people["N-A"]}"' in stock
    assert client.get(f"/ui/devices?fit_for={world.people['S-A']}", headers=officer).status_code == 404
    operator = client.get(f"/ui/devices?fit_for={world.people['N-A']}", headers=world.auth("operator_n"))
    assert operator.status_code == 200 and 'data-testid="fit-for"' not in operator.text  # operators do not fit
