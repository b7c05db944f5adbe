"""The fleet API over HTTP, on the web tests' two-region world: rules per role, scope, and refusals as 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from kuzet.store.reports import store_reports
from tests.web.world import World

from .factories import report

GPS_CHECKLIST = ["identity checked", "strap closed and sealed", "test report received", "charging explained",
                 "signed fitting record"]


def _send_test_report(sessions: sessionmaker[Session], serial: str, lon_lat: tuple[float, float]) -> None:
    now = datetime.now(UTC)
    with sessions() as s, s.begin():
        store_reports(s, [report(serial, now - timedelta(minutes=1), lat=lon_lat[1], lon=lon_lat[0])])


def test_register_fit_and_refuse_across_roles_and_scopes(client: TestClient, world: World,
                                                         factory: sessionmaker[Session]) -> None:
    body = {"serial": "API-1", "type": "gps_bracelet", "unit": "N1", "firmware": "2.0.1"}
    assert client.post("/api/v1/devices", json=body, headers=world.auth("officer_n1")).status_code == 403
    assert client.post("/api/v1/devices", json={**body, "unit": "S1"},
                       headers=world.auth("supervisor_n1")).status_code == 404
    assert client.post("/api/v1/devices", json=body, headers=world.auth("supervisor_n1")).status_code == 201

    _send_test_report(factory, "API-1", (76.9286, 43.2567))
    fit = {"person_id": world.people["N-A"], "checklist": dict.fromkeys(GPS_CHECKLIST, True),
           "officer_name": "Officer N1", "wearer_acknowledged": True}
    assert client.post("/api/v1/devices/API-1/fit", json=fit, headers=world.auth("operator_n")).status_code == 403
    assert client.post("/api/v1/devices/API-1/fit", json=fit, headers=world.auth("officer_n1b")).status_code == 404
    assert client.post("/api/v1/devices/API-1/fit", json=fit, headers=world.auth("officer_s")).status_code == 404
    incomplete = {**fit, "checklist": dict.fromkeys(GPS_CHECKLIST[:2], True)}
    r = client.post("/api/v1/devices/API-1/fit", json=incomplete, headers=world.auth("officer_n1"))
    assert r.status_code == 422 and "checklist incomplete" in r.json()["detail"]
    r = client.post("/api/v1/devices/API-1/fit", json=fit, headers=world.auth("officer_n1"))
    assert r.status_code == 200, r.text
    assert r.json()["address_check"] == "pending"

    page = client.get("/api/v1/devices/API-1", headers=world.auth("supervisor_n1")).json()
    assert page["status"] == "fitted" and page["wearer"] == "N-A"
    assert client.get("/api/v1/devices/API-1", headers=world.auth("officer_s")).status_code == 404

    r = client.post("/api/v1/devices/API-1/repair", json={"reason": "x"}, headers=world.auth("supervisor_n1"))
    assert r.status_code == 422 and "it is fitted" in r.json()["detail"]

    first = client.get("/api/v1/devices/API-1/first-reports", headers=world.auth("officer_n1"))
    assert first.status_code == 200 and first.json()["positions"][0]["lat"] == 43.2567
    assert client.get("/api/v1/devices/API-1/first-reports", headers=world.auth("officer_n1b")).status_code == 404
    assert client.get("/api/v1/devices/API-1/first-reports", headers=world.auth("partner")).status_code == 403

    stock_n = client.get("/api/v1/fleet/stock", headers=world.auth("supervisor_n1")).json()
    assert any(r["type"] == "gps_bracelet" and r["counts"] == {"fitted": 1} for r in stock_n)
    stock_s = client.get("/api/v1/fleet/stock", headers=world.auth("officer_s")).json()
    assert all(r["unit"] == "S1" for r in stock_s)
    listed = client.get("/api/v1/fleet/devices?status=fitted", headers=world.auth("operator_s")).json()
    assert {d["serial"] for d in listed} == {"DEV-S-A"}

    r = client.post("/api/v1/devices/API-1/remove", json={"reason": "order ended"},
                    headers=world.auth("officer_n1"))
    assert r.status_code == 200 and r.json()["to"] == "removed"


def test_catalogue_forecast_and_health_rules(client: TestClient, world: World) -> None:
    patch = {"name_en": "GPS ankle tag"}
    assert client.patch("/api/v1/fleet/catalogue/gps_bracelet", json=patch,
                        headers=world.auth("supervisor_n1")).status_code == 403
    assert client.patch("/api/v1/fleet/catalogue/gps_bracelet", json=patch,
                        headers=world.auth("admin")).status_code == 200
    r = client.patch("/api/v1/fleet/catalogue/gps_bracelet", json={"active": False}, headers=world.auth("admin"))
    assert r.status_code == 422 and r.json()["field"] == "active"
    types = client.get("/api/v1/fleet/catalogue", headers=world.auth("officer_n1")).json()
    assert sum(1 for t in types if t["seeded"]) == 7
    assert client.get("/api/v1/fleet/forecast", headers=world.auth("analyst")).status_code == 200
    assert client.get("/api/v1/fleet/forecast", headers=world.auth("partner")).status_code == 403
    assert client.get("/api/v1/fleet/health", headers=world.auth("operator_n")).status_code == 200
    assert client.get("/api/v1/fleet/health", headers=world.auth("auditor")).status_code == 403


def test_an_invoice_over_the_api_is_reconciled_and_the_shelf_device_caught(
        client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    assert client.post("/api/v1/devices", json={"serial": "API-SHELF", "type": "gps_bracelet", "unit": "N2"},
                       headers=admin).status_code == 201
    contract = {"reference": "L-API", "supplier": "Supplier LLP", "daily_rate_tiyn": 300_000,
                "start_date": "2026-01-01"}
    assert client.post("/api/v1/fleet/leases", json=contract, headers=world.auth("supervisor_n1")).status_code == 403
    assert client.post("/api/v1/fleet/leases", json=contract, headers=admin).status_code == 201
    assert client.post("/api/v1/fleet/leases/L-API/devices", json={"serials": ["API-SHELF"]},
                       headers=admin).json() == {"added": 1}
    today = datetime.now(ZoneInfo("Asia/Almaty")).date()
    invoice = {"number": "INV-1", "period_start": today.isoformat(), "period_end": today.isoformat(),
               "lines": [{"device": "API-SHELF", "days_billed": 1, "amount_tiyn": 300_000}]}
    invoice_id = client.post("/api/v1/fleet/leases/L-API/invoices", json=invoice, headers=admin).json()["id"]
    report = client.post(f"/api/v1/fleet/invoices/{invoice_id}/reconcile", headers=world.auth("supervisor_n1"))
    assert report.status_code == 200
    line = report.json()["lines"][0]
    assert line["findings"] == ["billed_while_in_stock"] and line["overbilled_tiyn"] == 300_000
    leases = client.get("/api/v1/fleet/leases", headers=admin).json()
    assert leases[0]["invoices"][0]["status"] == "disputed"


def test_each_lifecycle_endpoint_moves_the_device_and_refuses_the_impossible(
        client: TestClient, world: World) -> None:
    sup = world.auth("supervisor_n1")
    assert client.post("/api/v1/devices", json={"serial": "API-2", "type": "rf_bracelet", "unit": "N1"},
                       headers=sup).status_code == 201
    steps = [("move", {"unit": "N2"}, "in_stock"), ("lost", {"reason": "missing at stock count"}, "lost"),
             ("found", {"note": "in the safe"}, "removed"), ("return-to-stock", {}, "in_stock"),
             ("repair", {"reason": "case cracked"}, "in_repair"), ("write-off", {"reason": "beyond repair"},
                                                                    "written_off")]
    for path, body, status in steps:
        r = client.post(f"/api/v1/devices/API-2/{path}", json=body, headers=sup)
        assert r.status_code == 200 and r.json()["to"] == status, (path, r.text)
    r = client.post("/api/v1/devices/API-2/return-to-stock", json={}, headers=sup)
    assert r.status_code == 422 and "a written-off device never comes back" in r.json()["detail"]
    assert client.post("/api/v1/devices/API-2/move", json={"unit": "S1"}, headers=sup).status_code == 404
    history = client.get("/api/v1/devices/API-2", headers=world.auth("admin")).json()["history"]
    assert [h["action"] for h in history][:2] == ["write_off", "send_to_repair"]
