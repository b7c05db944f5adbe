"""Storing device reports: idempotent, and stored exactly as the ORM stores them on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from kuzet.domain.enums import Closure, Source
from kuzet.domain.reports import DeviceReport
from kuzet.store.models import DeviceReportRecord
from kuzet.store.reports import report_to_record, store_reports

T = datetime(2026, 1, 1, 1, 2, 3, 456000, tzinfo=UTC)


def _report(seq: int | None, **kw: object) -> DeviceReport:
    base: dict[str, object] = dict(device="D-1", time=T + timedelta(minutes=seq or 0), received=T + timedelta(hours=1),
                                   seq=seq, lat=43.2, lon=76.9, accuracy_m=9.5, source=Source.GPS,
                                   strap=Closure.OPEN, events=("strap_open",), raw=b"\x00\x01", extra={"k": [1, 2]})
    base.update(kw)
    return DeviceReport(**base)  # type: ignore[arg-type]


def test_redelivery_stores_each_report_once(sessions: sessionmaker[Session]) -> None:
    rows = [report_to_record(_report(i), None) for i in range(50)]
    no_seq = report_to_record(_report(None, received=T + timedelta(hours=2)), None)
    with sessions() as s, s.begin():
        assert store_reports(s, [*rows, no_seq]) == 51
    with sessions() as s, s.begin():
        again = report_to_record(_report(None, received=T + timedelta(hours=5)), None)  # a later re-send
        assert store_reports(s, [*rows[10:20], again]) == 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DeviceReportRecord)) == 51


def test_fast_path_stores_what_the_orm_stores(sessions: sessionmaker[Session]) -> None:
    fast = report_to_record(_report(1), None)
    orm = dict(fast, dedup_key="orm-copy")
    with sessions() as s, s.begin():
        store_reports(s, [fast])
        s.add(DeviceReportRecord(**orm))
    with sessions() as s:
        raw = [tuple(r)[2:] for r in s.execute(text("SELECT * FROM device_reports ORDER BY id")).all()]
        assert raw[0] == raw[1]  # byte for byte in the database, not only after loading
        a, b = s.execute(select(DeviceReportRecord).order_by(DeviceReportRecord.id)).scalars().all()
        assert (a.time, a.received, a.events, a.extra, a.raw, a.strap) == (b.time, b.received, b.events, b.extra,
                                                                            b.raw, b.strap)
        assert a.time == T + timedelta(minutes=1)
        # Time comparisons in SQL see the stored values the same way.
        assert s.scalar(select(func.count()).select_from(DeviceReportRecord)
                        .where(DeviceReportRecord.time >= T)) == 2


def test_every_kind_of_value_is_stored_as_the_orm_stores_it(sessions: sessionmaker[Session]) -> None:
    """Empty and filled events and extras, missing values, whole numbers, each charging state."""
    variants = [
        _report(1, events=(), extra={}, strap=None, raw=None),
        _report(2, lat=None, lon=None, accuracy_m=None, source=Source.NONE, events=(), extra={}),
        _report(3, battery_pct=80, speed_kmh=0, charging=True, satellites=7, heading_deg=359.5, altitude_m=-12),
        _report(4, charging=False, extra={"nested": {"a": [1, "б"]}}, events=("case_open", "strap_closed")),
        _report(None, case=Closure.CLOSED, events=()),
    ]
    fast = [report_to_record(r, None, line=i, protocol="kuzet") for i, r in enumerate(variants)]
    with sessions() as s, s.begin():
        assert store_reports(s, fast) == len(fast)
        for row in fast:
            s.add(DeviceReportRecord(**dict(row, dedup_key="orm-" + row["dedup_key"])))
    with sessions() as s:
        raw = {r[1]: tuple(r)[2:] for r in s.execute(text("SELECT * FROM device_reports ORDER BY id")).all()}
    for row in fast:
        assert raw[row["dedup_key"]] == raw["orm-" + row["dedup_key"]]


def test_sqlite_takes_the_spelled_out_row_builder() -> None:
    """The spelled-out builder must recognise SQLite's bind processors (else it silently falls back to the
    general, slower loop); and both builders give the same values."""
    from sqlalchemy import create_engine

    from kuzet.store.reports import _dialect_plan, _row_values, _sqlite_plan, _sqlite_values

    columns, processors = _dialect_plan(create_engine("sqlite://").dialect)
    assert _sqlite_plan(columns, processors) is not None
    rows = [report_to_record(_report(i, events=() if i % 2 else ("strap_open",), extra={} if i % 3 else {"k": i},
                                     raw=None if i % 5 else b"\x01"), None) for i in range(12)]
    assert _sqlite_values(rows, columns, processors) == _row_values(rows, columns, processors)
