"""Retention of positions honours the configured period and court holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kuzet.domain.enums import Source
from kuzet.domain.reports import DeviceReport
from kuzet.pipeline.retention import positions_cutoff, purge_positions
from kuzet.settings import Settings
from kuzet.store.db import transaction
from kuzet.store.models import DeviceReportRecord, Person, Region, Unit
from kuzet.store.reports import report_to_record, store_reports

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_positions_older_than_the_retention_period_go_except_those_a_court_holds(
        sessions: sessionmaker[Session]) -> None:
    settings = Settings(retention_days={"positions": 30, "alerts": 1, "audit": 1, "documents": 1})
    cutoff = positions_cutoff(settings, NOW)
    assert cutoff == NOW - timedelta(days=30)
    with transaction(sessions) as s:
        region = Region(code="R", name="R")
        s.add(region)
        s.flush()
        unit = Unit(region_id=region.id, code="U", name="U")
        s.add(unit)
        s.flush()
        held, free = (Person(code=c, category="parole", region_id=region.id, unit_id=unit.id) for c in "HF")
        s.add_all([held, free])
        s.flush()
        rows = []
        for person, device in ((held, "dev-h"), (free, "dev-f"), (None, "dev-pp")):
            for days in (45, 31, 29, 1):
                at = NOW - timedelta(days=days)
                rows.append(report_to_record(DeviceReport(device=device, time=at, received=at, seq=days, lat=43.0,
                                                          lon=76.0, accuracy_m=5, source=Source.GPS),
                                             None if person is None else person.id))
        store_reports(s, rows)
        held_id = held.id
    with transaction(sessions) as s:
        deleted = purge_positions(s, cutoff, {held_id}, chunk=1)
    assert deleted == 4  # two old reports of the free person and two of the unassigned device
    with sessions() as s:
        left = s.execute(select(DeviceReportRecord.device, func.count()).group_by(DeviceReportRecord.device)).all()
    assert dict(left) == {"dev-h": 4, "dev-f": 2, "dev-pp": 2}
