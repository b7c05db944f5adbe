"""Positions partitioned by day on PostgreSQL: created ahead, late rows moved in, expired days dropped whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from kuzet.audit import Actor
from kuzet.pipeline.jobs import partitions_job
from kuzet.pipeline.retention import purge_positions
from kuzet.privacy.retention import place_hold, purge
from kuzet.settings import Settings
from kuzet.store import partitions
from kuzet.store.db import make_engine, session_factory
from kuzet.store.migrate import check, downgrade, upgrade
from kuzet.store.models import DeviceReportRecord

from ..conftest import drop_pg_database, new_pg_database
from ..privacy.factories import east_of_scene, fix, organisation, store_and_index, wearer

pytestmark = pytest.mark.postgres

ADMIN = Actor(1, "a.admin", "administrator")
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def pg() -> Iterator[sessionmaker[Session]]:
    url = new_pg_database()
    try:
        upgrade(url)
        engine = make_engine(url)
        yield session_factory(engine)
        engine.dispose()
    finally:
        from kuzet.store.context import engine_for

        engine_for.cache_clear()
        drop_pg_database(url)


def rows_per_table(session: Session) -> dict[str, int]:
    counts = session.execute(text("SELECT tableoid::regclass::text, count(*) FROM device_reports GROUP BY 1"))
    return {name: int(n) for name, n in counts}


def days(session: Session) -> list[date]:
    return [p.day for p in partitions.day_partitions(session.connection())]


def trail(session: Session, code: str, start: datetime, hours: int, every: timedelta) -> list[dict[str, object]]:
    w = wearer(session, organisation(session) if code == "A" else _unit(session), code, start - timedelta(days=1))
    lat, lon = east_of_scene(100.0)
    n = int(timedelta(hours=hours) / every)
    return [fix(w, start + i * every, lat, lon) for i in range(n)]


def _unit(session: Session) -> object:
    from kuzet.store.models import Unit

    return session.execute(select(Unit)).scalars().first()


def test_the_migration_builds_daily_partitions_ahead_and_matches_the_models(pg: sessionmaker[Session]) -> None:
    with pg() as s:
        assert partitions.is_partitioned(s.connection())
        have = days(s)
        today = TODAY.date()
        assert have == [today + timedelta(days=i) for i in range(-1, partitions.AHEAD_DAYS + 1)]
        check(s.get_bind().url.render_as_string(hide_password=False))


def test_reports_go_to_their_day_and_a_day_created_later_takes_its_rows_from_the_default(
        pg: sessionmaker[Session]) -> None:
    old = TODAY - timedelta(days=20)
    with pg.begin() as s:
        rows = trail(s, "A", old + timedelta(hours=22), 4, timedelta(minutes=30))  # across two old days
        rows += trail(s, "B", TODAY + timedelta(hours=1), 2, timedelta(minutes=30))
        assert store_and_index(s, rows) == len(rows)
        # Re-delivery stores nothing new, in a day partition and in the default partition alike.
        from kuzet.store.reports import store_reports

        assert store_reports(s, rows) == 0
    with pg() as s:
        tables = rows_per_table(s)
    assert tables == {partitions.DEFAULT: 8, partitions.partition_name(TODAY.date()): 4}

    with pg.begin() as s:
        made = partitions.ensure_days(s.connection(), [old.date(), (old + timedelta(days=1)).date()])
    assert made == 2
    with pg() as s:
        tables = rows_per_table(s)
        assert s.execute(select(func.count()).select_from(DeviceReportRecord)).scalar() == 12
    assert tables == {partitions.partition_name(old.date()): 4,
                      partitions.partition_name((old + timedelta(days=1)).date()): 4,
                      partitions.partition_name(TODAY.date()): 4}
    # Asking again creates nothing; the periodic job keeps the days ahead.
    with pg.begin() as s:
        assert partitions.ensure_days(s.connection(), [old.date()]) == 0
        assert partitions_job(s, TODAY + timedelta(days=3)) == 3
        assert days(s)[-1] == (TODAY + timedelta(days=3 + partitions.AHEAD_DAYS)).date()


def test_expired_days_are_dropped_whole_unless_a_court_hold_keeps_a_row(pg: sessionmaker[Session]) -> None:
    now = TODAY + timedelta(hours=12)
    cutoff = now - timedelta(days=30)
    with pg.begin() as s:
        # A and B each report every hour over 35 to 25 days ago: six whole expired days, one straddling day.
        start = TODAY - timedelta(days=35)
        a = trail(s, "A", start, 24 * 10, timedelta(hours=1))
        b = trail(s, "B", start, 24 * 10, timedelta(hours=1))
        store_and_index(s, a + b)
        partitions.ensure_days(s.connection(), [(start + timedelta(days=i)).date() for i in range(10)])
        held_id = b[0]["person_id"]
        # The court holds B's trail over one day only: that day's partition must stay.
        place_hold(s, ADMIN, case_reference="2-55/2026", reason="appeal", person_id=held_id,
                   range_start=start + timedelta(days=2), range_end=start + timedelta(days=3))
    expired = [r for r in a + b if r["time"] < cutoff]
    held = [r for r in b if start + timedelta(days=2) <= r["time"] < start + timedelta(days=3)]  # end exclusive
    with pg.begin() as s:
        report = purge(s, now=now, settings=Settings(retention_days={"positions": 30, "alerts": 90,
                                                                      "audit": 365, "documents": 365}), actor=ADMIN)
    positions = next(c for c in report.categories if c.category.value == "positions")
    assert positions.deleted == len(expired) - len([r for r in held if r["time"] < cutoff])
    with pg() as s:
        left = set(days(s))
        kept = s.execute(select(DeviceReportRecord.person_id, DeviceReportRecord.time)
                         .where(DeviceReportRecord.time < cutoff)).all()
        total = s.execute(select(func.count()).select_from(DeviceReportRecord)).scalar()
    dropped = {(start + timedelta(days=i)).date() for i in (0, 1, 3, 4)}
    assert not dropped & left, "whole expired days without a held row are dropped"
    assert (start + timedelta(days=2)).date() in left, "the held day's partition stays"
    assert {(pid, t) for pid, t in kept} == {(r["person_id"], r["time"]) for r in held if r["time"] < cutoff}
    assert total == len(a) + len(b) - positions.deleted


def test_purge_positions_drops_days_and_keeps_protected_people(pg: sessionmaker[Session]) -> None:
    with pg.begin() as s:
        start = TODAY - timedelta(days=12)
        a = trail(s, "A", start, 24 * 4, timedelta(hours=2))
        b = trail(s, "B", start + timedelta(days=2), 24 * 2, timedelta(hours=2))
        store_and_index(s, a + b)
        partitions.ensure_days(s.connection(), [(start + timedelta(days=i)).date() for i in range(4)])
        protected = {int(b[0]["person_id"])}  # type: ignore[call-overload]
        deleted = purge_positions(s, TODAY - timedelta(days=5), protected)
    assert deleted == len(a)
    with pg() as s:
        assert set(days(s)).isdisjoint({(start + timedelta(days=i)).date() for i in (0, 1)})
        assert s.execute(select(func.count()).select_from(DeviceReportRecord)).scalar() == len(b)


def test_downgrade_and_upgrade_keep_every_report() -> None:
    url = new_pg_database()
    try:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        with sessions.begin() as s:
            rows = trail(s, "A", TODAY - timedelta(days=3), 48, timedelta(hours=1))
            store_and_index(s, rows)
        engine.dispose()
        downgrade(url, "pipeline_0001")
        engine = make_engine(url)
        with session_factory(engine)() as s:
            assert not partitions.is_partitioned(s.connection())
            assert s.execute(select(func.count()).select_from(DeviceReportRecord)).scalar() == 48
        engine.dispose()
        upgrade(url)
        check(url)
        engine = make_engine(url)
        with session_factory(engine)() as s:
            assert partitions.is_partitioned(s.connection())
            tables = rows_per_table(s)
        engine.dispose()
        assert sum(tables.values()) == 48
        assert partitions.DEFAULT not in tables  # the days of the existing rows got their partitions
    finally:
        from kuzet.store.context import engine_for

        engine_for.cache_clear()
        drop_pg_database(url)
