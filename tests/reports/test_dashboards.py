"""Every dashboard figure, checked against data built for the test (tests/reports/world.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kuzet.domain.enums import Role
from kuzet.reports.dashboards import (
    CostAssumptions,
    Scope,
    ScopeRefused,
    build_dashboard,
    resolve_scope,
    suppress_small_counts,
)
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import upgrade
from tests.conftest import drop_pg_database, new_pg_database

from .world import END, START, ReportWorld, build


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[sessionmaker[Session], ReportWorld]]:
    """One world per backend for the whole module: the tests only read it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'kuzet.db'}"
    else:
        url = new_pg_database()
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    yield factory, build(factory)
    engine.dispose()
    if request.param == "postgresql":
        drop_pg_database(url)


def _dash(world: tuple[sessionmaker[Session], ReportWorld], scope: Scope):  # type: ignore[no-untyped-def]
    factory, _ = world
    with factory() as session:
        return build_dashboard(session, scope, START, END)


def _rows(table) -> dict:  # type: ignore[no-untyped-def]
    return {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}


def test_caseload_counts_supervised_and_electronically_monitored_people(world) -> None:  # type: ignore[no-untyped-def]
    _, w = world
    rows = _rows(_dash(world, Scope("region", w.regions["R1"], "R1")).tables["caseload"])
    # R1-b was revoked five days before the end: no longer supervised.
    assert rows["restricted_freedom"] == {"category": "restricted_freedom", "supervised": 2, "on_em": 1,
                                          "not_on_em": 1}
    assert rows["parole"]["supervised"] == 2 and rows["parole"]["on_em"] == 1
    assert rows["suspended_sentence"]["on_em"] == 1
    assert rows["total"]["supervised"] == 5 and rows["total"]["on_em"] == 3
    unit = _rows(_dash(world, Scope("unit", w.units["U2"], "U2")).tables["caseload"])
    assert unit["total"]["supervised"] == 1
    country = _rows(_dash(world, Scope("country")).tables["caseload"])
    assert country["total"]["supervised"] == 11 and country["parole"]["on_em"] == 7


def test_alerts_per_wearer_day_by_type_and_outcome(world) -> None:  # type: ignore[no-untyped-def]
    _, w = world
    table = _dash(world, Scope("region", w.regions["R1"], "R1")).tables["alerts"]
    rows = _rows(table)
    # Wearer-days in R1 over the 30 days: a, d, f fitted 10 days; b fitted 10 days, removed after 5.
    assert table.notes == ("wearer-days in the period: 35.0",)
    assert rows["total"]["alerts"] == 7
    assert rows["total"]["per_wearer_day"] == pytest.approx(7 / 35, abs=1e-3)
    assert rows["curfew_absence"]["alerts"] == 2
    assert rows["curfew_absence"]["violation_confirmed"] == 1 and rows["curfew_absence"]["open"] == 1
    assert rows["battery_critical"]["technical_fault"] == 2
    assert rows["total"]["false_alarm"] == 1 and rows["total"]["authorised"] == 1
    assert rows["proximity"]["alerts"] == 0


def test_response_times_use_the_regional_target_before_the_national_one(world) -> None:  # type: ignore[no-untyped-def]
    _, w = world
    rows = _rows(_dash(world, Scope("region", w.regions["R1"], "R1")).tables["response"])
    critical = rows["critical"]
    assert critical["alerts"] == 2 and critical["acknowledged"] == 2
    assert critical["median_min"] == pytest.approx(8.5)
    assert critical["target_min"] == 10.0  # R1's own target, applied before the national 5 min
    assert critical["within_target_pct"] == 50.0
    high = rows["high"]
    # 10 min (within 15), 20 min (late) and one never acknowledged (counts as late).
    assert high["alerts"] == 3 and high["acknowledged"] == 2 and high["within_target_pct"] == pytest.approx(33.3)
    # No target stored for medium: the built-in one hour applies (30 and 45 min: both within).
    assert rows["medium"]["target_min"] == 60.0 and rows["medium"]["within_target_pct"] == 100.0
    assert rows["low"]["alerts"] == 0 and rows["low"]["within_target_pct"] is None


def test_enforcement_counts_violations_warnings_submissions_and_revocations(world) -> None:  # type: ignore[no-untyped-def]
    _, w = world
    rows = dict(_dash(world, Scope("region", w.regions["R1"], "R1")).tables["enforcement"].rows)
    assert rows == {"violations": 2, "written_warnings": 2, "probation_extensions": 0, "submissions_to_court": 1,
                    "court_decisions_granted": 1, "revocations": 1}
    assert dict(_dash(world, Scope("country")).tables["enforcement"].rows)["violations"] == 3


def test_assistance_counts_goals_and_jobs_against_the_akimat_quota(world) -> None:  # type: ignore[no-untyped-def]
    _, w = world
    rows = _rows(_dash(world, Scope("region", w.regions["R1"], "R1")).tables["assistance"])
    assert rows["goals:employment"]["achieved"] == 2
    assert rows["goals:documents"]["open"] == 1
    assert rows["jobs_against_quota"]["open"] == 2 and rows["jobs_against_quota"]["quota_reserved"] == 12
    r2 = _rows(_dash(world, Scope("region", w.regions["R2"], "R2")).tables["assistance"])
    assert r2["jobs_against_quota"]["quota_reserved"] == 0


def test_cost_compares_leases_and_officer_time_with_prison(world) -> None:  # type: ignore[no-untyped-def]
    _, w = world
    assumptions = CostAssumptions()
    factory, _ = world
    with factory() as session:
        rows = dict(build_dashboard(session, Scope("region", w.regions["R1"], "R1"), START, END,
                                    assumptions=assumptions).tables["cost"].rows)
    # Leased a and d: 10 days at 500 KZT each; b (5 days) and f (10 days) at the 450 KZT default.
    assert rows["device_days"] == 35.0
    assert rows["device_lease_kzt"] == 10 * 500 * 2 + 15 * 450
    # Two officers in R1, 30 days of a 350,000 KZT month, 30% of it on monitoring.
    staff = 2 * 350_000 * (30 / 30.4375) * 0.3
    assert rows["officer_em_time_kzt"] == round(staff)
    assert rows["prison_cost_same_period_kzt"] == round(35 / 365.25 * 580_000)
    assert rows["saving_kzt"] == round(35 / 365.25 * 580_000 - (16_750 + staff))


def test_analysts_never_see_counts_below_five(world) -> None:  # type: ignore[no-untyped-def]
    _, w = world
    dash = _dash(world, Scope("region", w.regions["R1"], "R1"))
    caseload = _rows(suppress_small_counts(dash.tables["caseload"]))
    assert caseload["restricted_freedom"]["supervised"] == "<5"
    assert caseload["total"]["supervised"] == 5  # five or more is shown
    alerts = _rows(suppress_small_counts(dash.tables["alerts"]))
    assert alerts["curfew_absence"]["alerts"] == "<5" and alerts["curfew_absence"]["per_wearer_day"] is None
    assert alerts["proximity"]["alerts"] == 0  # a zero reveals no one


def test_scopes_follow_the_callers_role(world) -> None:  # type: ignore[no-untyped-def]
    factory, w = world
    with factory() as session:
        r1, r2, u1 = w.regions["R1"], w.regions["R2"], w.units["U1"]
        assert resolve_scope(session, Role.SUPERVISOR, r1, u1, "unit", u1).id == u1
        for level, scope_id in (("country", None), ("region", r2), ("unit", w.units["V1"]), ("unit", w.units["U2"])):
            with pytest.raises(ScopeRefused):
                resolve_scope(session, Role.SUPERVISOR, r1, u1, level, scope_id)
        with pytest.raises(ScopeRefused):
            resolve_scope(session, Role.ANALYST, None, None, "unit", u1)
        for role in (Role.OFFICER, Role.PARTNER, Role.AUDITOR, Role.POLICE_LIAISON):
            with pytest.raises(ScopeRefused):
                resolve_scope(session, role, r1, u1, "region", r1)
        assert resolve_scope(session, Role.ANALYST, None, None, "country", None).level == "country"
