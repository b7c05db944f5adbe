"""The officer application's scoped reads and audited writes on both stores (SQLite file and PostgreSQL)."""

from __future__ import annotations

import warnings

from sqlalchemy.orm import Session, sessionmaker

from kuzet.settings import Settings
from kuzet.web.app import create_app

from .world import build_world

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def test_scoped_reads_audited_writes_and_the_chain_on_each_backend(db_url: str,
                                                                    sessions: sessionmaker[Session]) -> None:
    world = build_world(sessions, fixes_per_person=10)
    app = create_app(Settings(database_url=db_url, secret_key="backend-test-secret-012345"))
    with TestClient(app) as c:
        officer = world.auth("officer_n1")
        pid = world.people["N-A"]
        assert [p["code"] for p in c.get("/api/v1/people?search=n-a", headers=officer).json()] == ["N-A"]
        positions = c.get("/api/v1/positions", headers=world.auth("operator_n")).json()
        assert sorted(p["code"] for p in positions) == ["N-A", "N-B"]
        assert all(p["open_alerts"] == 1 for p in positions)
        trail = c.get(f"/api/v1/people/{pid}/trail?start=2026-11-02T00:00:00Z&end=2026-11-03T00:00:00%2B05:00"
                      "&purpose=case+review", headers=officer).json()
        assert len(trail) == 10 and trail[0]["time"] < trail[-1]["time"]
        alerts = c.get("/api/v1/alerts?open_only=true", headers=officer).json()
        assert [a["subject_code"] for a in alerts] == ["N-A"]
        acked = c.post(f"/api/v1/alerts/{alerts[0]['id']}/acknowledge", json={"note": "ok"}, headers=officer)
        assert acked.json()["status"] == "acknowledged"
        zone = c.post(f"/api/v1/people/{pid}/zones", headers=officer, json={
            "code": "route", "kind": "inclusion", "shape": {"type": "Corridor", "width_m": 80,
                                                            "coordinates": [[76.92, 43.25], [76.95, 43.26]]},
            "schedule": [{"days": ["mon", "fri"], "start": "08:00", "end": "09:30"}]})
        assert zone.status_code == 201, zone.text
        bad = c.post(f"/api/v1/people/{pid}/zones", headers=officer, json={
            "code": "bad", "kind": "inclusion", "shape": {"type": "Circle", "coordinates": [76.9, 43.2],
                                                          "radius_m": -5}})
        assert bad.status_code == 422 and bad.json()["field"] == "shape.radius_m"
        order = c.post(f"/api/v1/people/{pid}/orders", headers=officer,
                       json={"category": "parole", "variation": "curfew_changed", "conditions": ["home by 22:00"]})
        assert order.json()["version"] == 2
        report = c.get("/api/v1/audit/verify", headers=world.auth("auditor")).json()
        assert report["ok"] and report["entries"] > 10
