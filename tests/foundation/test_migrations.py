"""Migrations build exactly the models, upgrade and downgrade on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import check, downgrade, upgrade
from kuzet.store.models import DeviceType


def test_migrations_match_models_and_round_trip(db_url: str) -> None:
    check(db_url)  # raises when models and migrations differ
    engine = make_engine(db_url)
    assert "device_reports" in inspect(engine).get_table_names()
    downgrade(db_url, "base")
    assert "device_reports" not in inspect(engine).get_table_names()
    upgrade(db_url)
    assert "device_reports" in inspect(engine).get_table_names()
    engine.dispose()


def test_catalogue_is_seeded_with_seven_types_each_with_a_procedure(db_url: str) -> None:
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        types = session.execute(select(DeviceType)).scalars().all()
    engine.dispose()
    assert len(types) == 7
    for t in types:
        for key in ("fitting_checklist", "charging_rule", "reporting_interval_s", "events"):
            assert t.procedure[key], f"{t.code} lacks {key}"


@pytest.mark.parametrize("step", ["0001", "base"])
def test_downgrade_steps_are_reversible(sqlite_url: str, step: str) -> None:
    upgrade(sqlite_url)
    downgrade(sqlite_url, step)
    upgrade(sqlite_url)
    check(sqlite_url)
