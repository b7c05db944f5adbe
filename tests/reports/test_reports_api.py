"""The reports API: scopes per role, suppressed statistics for analysts, downloads and evidence packs."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from kuzet.settings import Settings
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from kuzet.store.models import AuditEntry
from kuzet.web.app import create_app

from .world import END, START, ReportWorld, build

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, ReportWorld, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reports-api') / 'kuzet.db'}"
    upgrade(url)
    engine = make_engine(url)
    world = build(session_factory(engine))
    app = create_app(Settings(database_url=url, secret_key="test-secret-key-0123456789"))
    with TestClient(app) as client:
        yield client, world, url
    engine.dispose()


def test_a_supervisor_gets_their_own_unit_by_default_and_no_other(site) -> None:  # type: ignore[no-untyped-def]
    client, w, _ = site
    r = client.get("/api/v1/reports/dashboard", params=PERIOD, headers=w.auth("sup_u1"))
    assert r.status_code == 200
    body = r.json()
    assert body["scope"] == {"level": "unit", "id": w.units["U1"], "name": "Unit U1"}
    total = next(row for row in body["tables"]["caseload"]["rows"] if row[0] == "total")
    assert total[1] == 4  # a, c, d, e (b was revoked)
    for params in ({"level": "country"}, {"level": "region", "id": w.regions["R2"]},
                   {"level": "unit", "id": w.units["V1"]}):
        assert client.get("/api/v1/reports/dashboard", params=params, headers=w.auth("sup_u1")).status_code == 403


@pytest.mark.parametrize("user", ["officer_u1", "partner"])
def test_roles_without_dashboards_are_refused(site, user: str) -> None:  # type: ignore[no-untyped-def]
    client, w, _ = site
    assert client.get("/api/v1/reports/dashboard", headers=w.auth(user)).status_code == 403


def test_an_analyst_sees_the_country_with_small_counts_hidden(site) -> None:  # type: ignore[no-untyped-def]
    client, w, _ = site
    r = client.get("/api/v1/reports/dashboard", params={"level": "region", "id": w.regions["R1"], **PERIOD},
                   headers=w.auth("analyst"))
    caseload = {row[0]: row for row in r.json()["tables"]["caseload"]["rows"]}
    assert caseload["restricted_freedom"][1] == "<5"
    assert r.json()["tables"]["caseload"]["suppressed"] is True
    unit = client.get("/api/v1/reports/dashboard", params={"level": "unit", "id": w.units["U1"]},
                      headers=w.auth("analyst"))
    assert unit.status_code == 403


def test_every_table_downloads_as_csv_and_the_dashboard_as_xlsx(site) -> None:  # type: ignore[no-untyped-def]
    client, w, _ = site
    params = {"level": "region", "id": w.regions["R1"], **PERIOD}
    r = client.get("/api/v1/reports/alerts.csv", params=params, headers=w.auth("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["type", "alerts", "per_wearer_day"]
    assert next(row for row in rows if row[0] == "total")[1] == "7"
    x = client.get("/api/v1/reports/dashboard.xlsx", params=params, headers=w.auth("admin"))
    book = load_workbook(io.BytesIO(x.content))
    assert set(book.sheetnames) == {"caseload", "alerts", "response", "enforcement", "assistance", "cost"}
    assert book["enforcement"]["A2"].value == "violations" and book["enforcement"]["B2"].value == 2
    assert client.get("/api/v1/reports/nothing.csv", params=params, headers=w.auth("admin")).status_code == 404
    png = client.get("/api/v1/reports/alerts.png", params={"level": "country"}, headers=w.auth("admin"))
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_periods_are_clear_errors(site) -> None:  # type: ignore[no-untyped-def]
    client, w, _ = site
    r = client.get("/api/v1/reports/dashboard", params={"start": END.isoformat(), "end": START.isoformat()},
                   headers=w.auth("admin"))
    assert r.status_code == 422 and "after start" in r.text
    r = client.get("/api/v1/reports/dashboard", params={"level": "planet"}, headers=w.auth("admin"))
    assert r.status_code == 422


def test_evidence_pack_needs_a_purpose_and_access_to_the_person(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, w, url = site
    alert = w.alerts[0]  # R1-a, on officer_u1's caseload
    assert client.get(f"/api/v1/alerts/{alert}/evidence.pdf", headers=w.auth("officer_u1")).status_code == 422
    assert client.get(f"/api/v1/alerts/{alert}/evidence.pdf", params={"purpose": "court hearing"},
                      headers=w.auth("officer_v1")).status_code == 404
    assert client.get(f"/api/v1/alerts/{alert}/evidence.pdf", params={"purpose": "court hearing"},
                      headers=w.auth("analyst")).status_code == 403
    r = client.get(f"/api/v1/alerts/{alert}/evidence.pdf", params={"purpose": "court hearing", "language": "kk"},
                   headers=w.auth("officer_u1"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    verified = client.post("/api/v1/evidence/verify", files={"file": ("pack.pdf", r.content, "application/pdf")},
                           headers=w.auth("sup_u1"))
    assert verified.json()["ok"] is True
    bad = client.post("/api/v1/evidence/verify", files={"file": ("x.pdf", b"not a pdf", "application/pdf")},
                      headers=w.auth("sup_u1"))
    assert bad.status_code == 422
    engine = make_engine(url)
    with session_factory(engine)() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "evidence_pack")).scalars().one()
    engine.dispose()
    assert entry.purpose == "court hearing" and entry.username == "officer_u1"
    assert entry.at > datetime.now(UTC) - timedelta(minutes=5)
