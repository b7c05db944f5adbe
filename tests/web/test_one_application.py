"""One officer application across capabilities: one order-version path, one alert queue, a person's page that
leads to the case file, the fitting and the evidence pack, and a demo whose partner sees its programme."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.settings import Settings
from kuzet.store.models import AlertRecord, CourtOrder, Device, DeviceType
from kuzet.web.app import create_app
from kuzet.web.rendering import NAV_ITEMS

from .world import PASSWORD, T0, World


def _login(app: FastAPI, username: str, password: str = PASSWORD) -> TestClient:
    c = TestClient(app)
    r = c.post("/login", data={"username": username, "password": password, "next": "/ui/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def test_an_order_version_may_not_take_effect_before_the_version_it_follows(app: FastAPI, world: World,
                                                                            factory: sessionmaker[Session]) -> None:
    c = _login(app, "officer_n1b")
    pid = world.people["N-B"]
    early = (T0 - timedelta(days=60)).isoformat()
    r = c.post(f"/api/v1/people/{pid}/orders", json={"category": "parole", "variation": "curfew_changed",
                                                      "effective_from": early})
    assert r.status_code == 422 and r.json()["field"] == "effective_from", r.text
    assert "cannot take effect" in r.json()["detail"]
    r = c.post(f"/api/v1/people/{pid}/orders", json={"category": "suspended_sentence", "variation": "curfew_changed"})
    assert r.status_code == 422 and r.json()["field"] == "category"
    r = c.post(f"/api/v1/people/{pid}/orders", json={"category": "parole", "variation": "moved house"})
    assert r.status_code == 422 and r.json()["field"] == "variation"
    r = c.post(f"/api/v1/people/{pid}/orders", json={"category": "parole", "variation": "new_address",
                                                      "court": "Bostandyk district court",
                                                      "conditions": ["live at the new address"]})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2 and r.json()["variation"] == "new_address"
    with factory() as s:
        v2 = s.execute(select(CourtOrder).where(CourtOrder.person_id == pid, CourtOrder.version == 2)).scalar_one()
        assert v2.created_by == world.user_ids["officer_n1b"]
        assert v2.conditions == ["live at the new address"] and v2.court == "Bostandyk district court"


def test_the_first_order_of_a_new_person_is_the_initial_version(app: FastAPI, world: World) -> None:
    c = _login(app, "officer_n1")
    r = c.post("/api/v1/people", json={"code": "N-NEW", "category": "parole", "unit_id": world.units["N1"],
                                       "surname": "Newcomer"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = c.post(f"/api/v1/people/{pid}/orders", json={"category": "parole", "variation": "curfew_changed"})
    assert r.status_code == 422 and "initial order" in r.json()["detail"]
    r = c.post(f"/api/v1/people/{pid}/orders", json={"category": "parole", "court": "Almaly district court"})
    assert r.status_code == 201 and r.json()["version"] == 1 and r.json()["variation"] == "initial"
    page = c.get(f"/ui/people/{pid}").text
    assert 'value="curfew_changed"' in page and 'value="initial"' not in page  # the form offers variations


def test_the_alert_queue_is_the_workflow_queue_with_acknowledgement_in_place(app: FastAPI, world: World,
                                                                            factory: sessionmaker[Session]) -> None:
    assert [item.path for item in NAV_ITEMS].count("/ui/alerts") == 1
    assert "/ui/queue" not in [item.path for item in NAV_ITEMS]
    c = _login(app, "operator_n")
    page = c.get("/ui/alerts").text
    alert_id = world.alerts["N-A"]
    assert 'data-testid="alert-queue"' in page and f'data-alert-id="{alert_id}"' in page
    assert f'href="/ui/queue/{alert_id}"' in page and "Acknowledge by" in page
    assert f'data-alert-id="{world.alerts["S-A"]}"' not in page
    assert 'href="/ui/queue"' not in page.split("</nav>")[0]
    r = c.post(f"/ui/alerts/{alert_id}/acknowledge", data={"note": "called"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/alerts"
    with factory() as s:
        alert = s.get(AlertRecord, alert_id)
        assert alert is not None and alert.status == "acknowledged"
        assert alert.assignee_id == world.user_ids["operator_n"]  # the workflow claims it for the acknowledger
    other = world.alerts["N-B"]  # the API acknowledges through the same workflow step
    r = _login(app, "officer_n1b").post(f"/api/v1/alerts/{other}/acknowledge", json={"note": "on my way"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    with factory() as s:
        alert = s.get(AlertRecord, other)
        assert alert is not None and alert.assignee_id == world.user_ids["officer_n1b"]
        assert [a.kind for a in alert.actions] == ["acknowledge"]


def test_the_persons_page_leads_to_the_case_file_the_fitting_and_the_evidence_pack(
        app: FastAPI, world: World, factory: sessionmaker[Session]) -> None:
    c = _login(app, "officer_n1")
    r = c.post("/api/v1/people", json={"code": "N-FIT", "category": "parole", "unit_id": world.units["N1"]})
    pid = r.json()["id"]
    with factory() as s, s.begin():
        dtype = s.execute(select(DeviceType).where(DeviceType.code == "test_bracelet")).scalar_one()
        s.add(Device(serial="DEV-STOCK-1", type_id=dtype.id, unit_id=world.units["N1"], status="in_stock"))
    page = c.get(f"/ui/people/{pid}").text
    assert f'href="/ui/casework/people/{pid}"' in page
    fit = f"/ui/devices?status=in_stock&amp;fit_for={pid}"
    assert fit in page
    stock = c.get(fit.replace("&amp;", "&")).text
    assert 'data-testid="fit-for"' in stock and "N-FIT" in stock
    assert f'href="/ui/devices/DEV-STOCK-1/fit?person_id={pid}"' in stock
    form = c.get(f"/ui/devices/DEV-STOCK-1/fit?person_id={pid}").text
    assert f'<option value="{pid}" selected>' in form
    # A person already wearing a device is offered no second fitting; their alerts offer the evidence pack.
    worn = c.get(f"/ui/people/{world.people['N-A']}").text
    assert "fit_for=" not in worn
    alert_id = world.alerts["N-A"]
    assert f'action="/api/v1/alerts/{alert_id}/evidence.pdf"' in worn and 'name="purpose"' in worn
    pdf = c.get(f"/api/v1/alerts/{alert_id}/evidence.pdf", params={"purpose": "court hearing", "language": "kk"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    operator = _login(app, "operator_n").get(f"/ui/people/{world.people['N-A']}").text
    assert "evidence.pdf" not in operator and "fit_for=" not in operator  # neither is an operator's step


def test_the_demo_partner_sees_the_programme_goal_it_delivers(tmp_path: Path) -> None:
    from kuzet.simulator.demo import DEMO_PARTNER_NAME, prepare

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'kuzet.db'}", var_dir=tmp_path,
                        secret_key="test-secret-key-0123456789")
    setup = prepare(settings, wearers=4, start=datetime.now(UTC))
    again = prepare(settings, wearers=4, start=datetime.now(UTC), fresh=False)  # a second run adds nothing
    assert all(pw == "(unchanged)" for _, pw, _ in again.logins)
    password = next(pw for user, pw, _ in setup.logins if user == "partner")
    c = _login(create_app(settings), "partner", password)
    page = c.get("/ui/partner").text
    assert DEMO_PARTNER_NAME in page and "find steady work within three months" in page
    assert page.count("find steady work within three months") == 1
