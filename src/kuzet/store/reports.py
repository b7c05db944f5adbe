"""Storing device reports idempotently: re-delivery of the same report never makes a second row."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from kuzet.domain.reports import DeviceReport

from .models import DeviceReportRecord


def dedup_key(report: DeviceReport) -> str:
    """Idempotency key: device + seq when the device numbers its reports, else device + time + content hash."""
    if report.seq is not None:
        return f"{report.device}#{report.seq}"
    body = report.to_json()
    body.pop("received", None)
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
    return f"{report.device}@{report.time.isoformat()}@{digest}"


def report_to_record(report: DeviceReport, person_id: int | None, *, line: int | None = None,
                     protocol: str = "") -> dict[str, Any]:
    return {
        "dedup_key": dedup_key(report), "device": report.device, "person_id": person_id, "seq": report.seq,
        "time": report.time, "received": report.received, "lat": report.lat, "lon": report.lon,
        "accuracy_m": report.accuracy_m, "source": report.source.value, "satellites": report.satellites,
        "speed_kmh": report.speed_kmh, "heading_deg": report.heading_deg, "altitude_m": report.altitude_m,
        "battery_pct": report.battery_pct, "charging": report.charging,
        "strap": None if report.strap is None else report.strap.value,
        "case": None if report.case is None else report.case.value,
        "events": list(report.events), "extra": dict(report.extra), "protocol": protocol, "raw": report.raw,
        "line": line,
    }


def store_reports(session: Session, rows: Sequence[dict[str, Any]], chunk: int = 5000) -> int:
    """Insert rows, skipping any whose ``dedup_key`` is already stored. Returns how many were new.

    This is the hot path of the gateway and the monitor. It goes straight to the driver's ``executemany``
    (SQLite: ``INSERT OR IGNORE``; PostgreSQL with psycopg: ``ON CONFLICT DO NOTHING``, run by psycopg in
    pipeline mode) with each column's own SQLAlchemy bind processing, so values are stored exactly as the ORM
    would store them, and the driver's row count gives the new rows. On PostgreSQL the monitor stores 3 times
    as many reports a second this way as through SQLAlchemy's batched ``INSERT ... RETURNING``
    (docs/benchmarks.md), which another PostgreSQL driver still uses. The conflict target is left open because
    on PostgreSQL the unique key is ``(dedup_key, time)`` once the table is partitioned by day (decision 003).
    """
    if not rows:
        return 0
    conn = session.connection()
    new = 0
    if conn.dialect.name == "sqlite" or conn.dialect.driver == "psycopg":
        # psycopg's executemany runs in pipeline mode and sums the rows it inserted: several times faster
        # than one giant multi-VALUES statement, which psycopg must parse anew for every batch
        sqlite = conn.dialect.name == "sqlite"
        columns, processors = _dialect_plan(conn.dialect)
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(("?" if sqlite else "%s") for _ in columns)
        sql = (f"INSERT OR IGNORE INTO device_reports ({names}) VALUES ({marks})" if sqlite else
               f"INSERT INTO device_reports ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING")
        values = (_sqlite_values if sqlite else _row_values)(rows, columns, processors)
        for i in range(0, len(values), chunk):
            new += max(conn.exec_driver_sql(sql, values[i : i + chunk]).rowcount, 0)
        return new
    stmt = pg_insert(DeviceReportRecord).on_conflict_do_nothing()
    for i in range(0, len(rows), chunk):
        new += len(session.execute(stmt.returning(DeviceReportRecord.id), rows[i : i + chunk]).all())
    return new


def _row_values(rows: Sequence[dict[str, Any]], columns: list[str], processors: list[Any]) -> list[tuple[Any, ...]]:
    """Each row as the driver's parameters, through each column's bind processor."""
    plan = list(zip(columns, processors, strict=True))
    return [tuple(proc(row.get(name)) if proc else row.get(name) for name, proc in plan) for row in rows]


_DIALECT_PLANS: dict[str, tuple[list[str], list[Any]]] = {}


def _dialect_plan(dialect: Any) -> tuple[list[str], list[Any]]:
    """Column names (all but the id) and each column's bind processor for this dialect."""
    key = f"{dialect.name}+{dialect.driver}"
    if key not in _DIALECT_PLANS:
        cols = [c for c in DeviceReportRecord.__table__.columns if c.name != "id"]
        _DIALECT_PLANS[key] = ([c.name for c in cols],
                               [c.type.dialect_impl(dialect).bind_processor(dialect) for c in cols])
    return _DIALECT_PLANS[key]


#: The columns of ``device_reports`` in table order, as :func:`_sqlite_values` spells them out.
_SQLITE_COLUMNS = ["dedup_key", "device", "person_id", "seq", "time", "received", "lat", "lon", "accuracy_m",
                   "source", "satellites", "speed_kmh", "heading_deg", "altitude_m", "battery_pct", "charging",
                   "strap", "case", "events", "extra", "protocol", "raw", "line"]


def _sqlite_plan(columns: list[str], processors: list[Any]) -> tuple[Any, ...] | None:
    """The bind processors :func:`_sqlite_values` spells out, or ``None`` if this dialect's plan differs."""
    if columns != _SQLITE_COLUMNS:
        return None
    p = dict(zip(columns, processors, strict=True))
    floats = {p[name] for name in ("lat", "lon", "accuracy_m", "speed_kmh", "heading_deg", "altitude_m",
                                   "battery_pct")}
    plain = {p[name] for name in ("dedup_key", "device", "person_id", "seq", "source", "satellites", "strap",
                                  "case", "protocol", "line")}
    spelled = (p["time"], p["received"], p["lat"], p["charging"], p["events"], p["extra"])
    if len(floats) != 1 or plain != {None} or None in spelled:
        return None
    return (*spelled, p["raw"] or (lambda value: value))


def _sqlite_values(rows: Sequence[dict[str, Any]], columns: list[str], processors: list[Any]) -> list[tuple[Any, ...]]:
    """:func:`_row_values` for SQLite, with the common columns written out.

    No loop over columns per row, and no JSON encoding of the usual empty ``events`` and ``extra``: about 1.4
    times faster than the general loop (about a tenth more reports a second for the monitor on SQLite), which
    serves any other column list or processor. The values are the same either way.
    """
    plan = _sqlite_plan(columns, processors)
    if plan is None:
        return _row_values(rows, columns, processors)
    p_time, p_received, p_float, p_charging, p_events, p_extra, p_raw = plan
    out = []
    for r in rows:
        g = r.get
        events, extra = g("events"), g("extra")
        out.append((
            g("dedup_key"), g("device"), g("person_id"), g("seq"), p_time(g("time")), p_received(g("received")),
            p_float(g("lat")), p_float(g("lon")), p_float(g("accuracy_m")), g("source"), g("satellites"),
            p_float(g("speed_kmh")), p_float(g("heading_deg")), p_float(g("altitude_m")), p_float(g("battery_pct")),
            p_charging(g("charging")), g("strap"), g("case"),
            "[]" if events == [] else p_events(events), "{}" if extra == {} else p_extra(extra),
            g("protocol"), p_raw(g("raw")), g("line")))
    return out
